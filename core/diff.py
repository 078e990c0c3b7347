"""A line diff of two texts with the changed words marked inside changed lines, for showing
what a revision changed (the item page, a reviewer voting on revision 2 or later).

Pure: text in, rows out. The template ``core/_diff.html`` draws the rows; every piece of text in
them is plain text that the template escapes."""

import difflib
import re
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["equal", "delete", "insert", "skip"]
# Words and the whitespace or punctuation between them, so a marked change never splits a word.
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")


@dataclass(frozen=True)
class Piece:
    text: str
    changed: bool


@dataclass(frozen=True)
class DiffLine:
    kind: Kind
    old_number: int | None  # 1-based line number in the old text (delete, equal)
    new_number: int | None  # 1-based line number in the new text (insert, equal)
    pieces: tuple[Piece, ...] = field(default_factory=tuple)  # the line, changed words marked
    skipped: int = 0  # a "skip" row stands for this many unchanged lines


@dataclass(frozen=True)
class TextDiff:
    lines: tuple[DiffLine, ...]
    added: int
    removed: int

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


def _word_pieces(old: str, new: str) -> tuple[tuple[Piece, ...], tuple[Piece, ...]]:
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    left: list[Piece] = []
    right: list[Piece] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if i2 > i1:
            left.append(Piece("".join(a[i1:i2]), tag != "equal"))
        if j2 > j1:
            right.append(Piece("".join(b[j1:j2]), tag != "equal"))
    return tuple(left), tuple(right)


def text_diff(old: str, new: str, *, context: int = 3) -> TextDiff:
    """The lines of ``new`` compared with ``old``: unchanged lines more than ``context`` lines
    away from a change collapse into one "skip" row; a replaced line is shown as its old and
    new version with the changed words marked."""
    a, b = old.splitlines(), new.splitlines()
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    rows: list[DiffLine] = []
    added = removed = 0
    opcodes = matcher.get_opcodes()
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            first, last = index == 0, index == len(opcodes) - 1
            keep_head = 0 if first else context
            keep_tail = 0 if last else context
            span = i2 - i1
            if span > keep_head + keep_tail + 1:
                for k in range(keep_head):
                    rows.append(_equal(a, i1 + k, j1 + k))
                rows.append(DiffLine("skip", None, None, skipped=span - keep_head - keep_tail))
                for k in range(span - keep_tail, span):
                    rows.append(_equal(a, i1 + k, j1 + k))
            else:
                rows.extend(_equal(a, i1 + k, j1 + k) for k in range(span))
            continue
        removed += i2 - i1
        added += j2 - j1
        if tag == "replace" and i2 - i1 == j2 - j1:
            for k in range(i2 - i1):
                left, right = _word_pieces(a[i1 + k], b[j1 + k])
                rows.append(DiffLine("delete", i1 + k + 1, None, left))
                rows.append(DiffLine("insert", None, j1 + k + 1, right))
            continue
        rows.extend(DiffLine("delete", i + 1, None, (Piece(a[i], True),)) for i in range(i1, i2))
        rows.extend(DiffLine("insert", None, j + 1, (Piece(b[j], True),)) for j in range(j1, j2))
    return TextDiff(lines=tuple(rows), added=added, removed=removed)


def _equal(a: list[str], i: int, j: int) -> DiffLine:
    return DiffLine("equal", i + 1, j + 1, (Piece(a[i], False),))

"""Text normalisation and word n-grams for decontamination and similarity checks.

The normalisation, written down once and used everywhere (references, rewrites, seeds):

1. Unicode NFKC (full-width letters and digits become ASCII, ligatures are split).
2. Case folding (``str.casefold``), so "Return", "RETURN" and "return" are one word.
3. Words are runs of letters, digits and underscores (``\\w``, so ``has_close_elements`` stays
   one word). Everything else, i.e. punctuation, operators, brackets, quotes and all whitespace,
   only separates words and is dropped.
4. Chinese, Japanese and Korean characters are one word each, because those scripts do not put
   spaces between words (a Chinese sentence would otherwise be a single "word").

Word n-grams are then every run of ``n`` consecutive words. Two texts overlap when they share
an n-gram; with n = 10 (the default, as in the CodeArena paper) a short common phrase such as
"write a python function to" never counts, while a pasted benchmark prompt does.
"""

import re
import unicodedata
from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_WORD = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")

DEFAULT_NGRAM = 10
SHINGLE = 3  # word n-gram size for copied-seed and near-duplicate similarity


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def words(text: str) -> list[str]:
    """The normalised words of ``text`` (see the module docstring)."""
    return _WORD.findall(normalise(text))


def ngrams(tokens: Sequence[str], n: int) -> Iterator[tuple[str, ...]]:
    """Every run of ``n`` consecutive tokens, in order. A text shorter than ``n`` has none."""
    return zip(*(tokens[i:] for i in range(n)), strict=False)


def shingles(text: str, n: int = SHINGLE) -> set[tuple[str, ...]]:
    """The set of word n-grams of ``text``; a text shorter than ``n`` words is one shingle."""
    tokens = words(text)
    if 0 < len(tokens) < n:
        return {tuple(tokens)}
    return set(ngrams(tokens, n))


def jaccard(a: AbstractSet[object], b: AbstractSet[object]) -> float:
    if not a and not b:
        return 0.0
    return len(a & b) / len(a | b)

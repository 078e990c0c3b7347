"""Seed files in other tools' formats: the format told from the content, records read as a
stream, and the field mapping (with presets) from a record to a seed record of DESIGN.md.

Formats (``FORMATS``): JSON lines, a JSON array of objects, CSV and TSV with a header row,
Parquet, and a ``.gz`` of any of them; text in UTF-8 with or without a BOM. ``sniff`` looks at
the first bytes only (gzip, zip, Parquet magic numbers; UTF-16/32 byte-order marks or NUL
patterns; other binary; then the first character of the text: ``{`` JSON lines, ``[`` a JSON
array, else a header row whose separator, tab or comma, decides TSV or CSV). Anything else is
refused in one ``UnsupportedFile`` message that names what the file is.

``open_rows`` yields ``Row(number, record, error)`` one at a time: JSON lines and CSV/TSV line
by line (gzip decompressed as a stream), a JSON array element by element, Parquet a batch of
rows at a time; memory holds one record (one batch for Parquet), never the file. ``number`` is
the line of a JSON-lines file, the row of a CSV/TSV file as a spreadsheet numbers it (the header
is row 1), the element of a JSON array or the row of a Parquet file (from 1): ``Detected.unit``
says which. Invalid UTF-8 stops the read with a ValidationFailed naming the byte offset and line.

Limits (settings): a line, or a JSON array's element, longer than
``CURATION_IMPORT_MAX_LINE_BYTES`` is a bad row (its rest skipped unread into memory; in CSV/TSV,
where a row may span lines, it stops the read); a ``.gz`` larger than
``CURATION_IMPORT_MAX_DECOMPRESSED_BYTES`` once decompressed stops the read. Each record is
checked (``record_problems``) before any mapping: a NUL character or a lone UTF-16 surrogate in a
value or key, nesting deeper than 64 levels, an integer beyond 64 bits (however many digits),
NaN or Infinity make it a bad row naming the place (``metadata.tags.0``), never a traceback.

``FieldMapping`` turns a record into a seed record: each target (DESIGN's seed keys and
``task_type``) is read from a source, a key or a dotted path (``data.question``,
``messages.0.content``); a preset (``PRESETS``) gives the defaults, explicit fields override
them. Keys of the record that no target reads go to the seed's ``metadata`` (a key read in part,
such as ``data`` for ``data.question``, keeps its other entries there), except the keys a preset
drops as another tool's bookkeeping (Label Studio's annotations, for instance)."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import gzip
import importlib
import io
import json
import math
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any

from django.conf import settings

from core.errors import ValidationFailed
from core.parsers import (
    BAD_CHARACTER,
    DEFAULT_MAX_DEPTH,
    INT_LIMIT,
    MAX_INT_DIGITS,
    string_problem,
)

FORMATS = ("jsonl", "json", "csv", "tsv", "parquet")
FORMAT_NAMES = {
    "jsonl": "JSON lines",
    "json": "JSON array",
    "csv": "CSV",
    "tsv": "TSV",
    "parquet": "Parquet",
}
UNITS = {"jsonl": "line", "json": "record", "csv": "row", "tsv": "row", "parquet": "row"}
# The seed record keys of DESIGN.md, plus CodeArena's task type (classifies a seed that has no
# subcategory; kept in metadata).
TARGETS = (
    "id",
    "text",
    "title",
    "answer",
    "source_url",
    "cluster",
    "category",
    "subcategory",
    "language",
    "metadata",
    "task_type",
)
_SPACE = re.compile(r"[ \t\n\r]*")
HEAD = 64 * 1024
CHUNK = 1024 * 1024
PARQUET_BATCH = 1000
# A CSV cell may hold a whole question with its code (the csv module's default limit is 128 KiB).
csv.field_size_limit(max(csv.field_size_limit(), 64 * 1024 * 1024))

SUPPORTED = "JSON lines, a JSON array, CSV or TSV with a header row, Parquet, or a .gz of one"


class UnsupportedFile(ValidationFailed):
    """The file is in a format or an encoding the import does not read."""

    def __init__(self, name: str, what: str, advice: str = "") -> None:
        message = (
            f"{name} is {what}, which seed import does not read; it reads {SUPPORTED} (UTF-8)."
        )
        if advice:
            message += f" {advice}"
        super().__init__(message, details={"errors": {"file": [what]}})


@dataclass(frozen=True)
class Detected:
    format: str
    gzip: bool = False
    bom: bool = False

    @property
    def unit(self) -> str:
        return UNITS[self.format]

    def describe(self) -> str:
        text = FORMAT_NAMES[self.format]
        if self.gzip:
            text += ", gzip-compressed"
        if self.bom:
            text += ", UTF-8 with a byte-order mark"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.format,
            "gzip": self.gzip,
            "bom": self.bom,
            "unit": self.unit,
            "description": self.describe(),
        }


@dataclass
class Row:
    number: int  # the line, row (a CSV's header is row 1) or record that people look up
    record: Any = None  # the parsed record (any JSON value); None with an error
    error: str | None = None  # the record could not be read (e.g. invalid JSON on its line)
    index: int = 0  # how many lines, rows or records so far, a CSV's header not counted

    def __post_init__(self) -> None:
        self.index = self.index or self.number


# --- detection -----------------------------------------------------------------------------

_MAGIC = [
    (b"PK\x03\x04", "a zip archive", "Unzip it and upload the file inside."),
    (b"PK\x05\x06", "a zip archive (empty)", ""),
    (b"BZh", "a bzip2 archive", "Decompress it, or compress it with gzip instead."),
    (b"\xfd7zXZ\x00", "an xz archive", "Decompress it, or compress it with gzip instead."),
    (b"(\xb5/\xfd", "a zstd archive", "Decompress it, or compress it with gzip instead."),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "Extract it and upload the file inside."),
    (b"%PDF", "a PDF document", ""),
    (b"\x89PNG", "a PNG image", ""),
    (b"\xff\xd8\xff", "a JPEG image", ""),
    (b"GIF8", "a GIF image", ""),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document", "Save it as CSV (UTF-8)."),
    (b"SQLite format 3\x00", "an SQLite database", ""),
]
_UTF_BOMS = [
    (codecs.BOM_UTF32_LE, "UTF-32 (little-endian, with a byte-order mark)"),
    (codecs.BOM_UTF32_BE, "UTF-32 (big-endian, with a byte-order mark)"),
    (codecs.BOM_UTF16_LE, "UTF-16 (little-endian, with a byte-order mark)"),
    (codecs.BOM_UTF16_BE, "UTF-16 (big-endian, with a byte-order mark)"),
]
_RESAVE = "Save it as UTF-8 and upload it again."


def _nul_encoding(head: bytes) -> str | None:
    """UTF-16/32 without a BOM, told by where the NUL bytes of ASCII text fall."""
    sample = head[: len(head) - len(head) % 4][:4096]
    if len(sample) < 4:
        return None
    quads = [sample[i : i + 4] for i in range(0, len(sample), 4)]

    def share(test: Any) -> float:
        return sum(1 for q in quads if test(q)) / len(quads)

    if share(lambda q: q[1:] == b"\0\0\0" and q[0]) > 0.6:
        return "UTF-32 (little-endian, no byte-order mark)"
    if share(lambda q: q[:3] == b"\0\0\0" and q[3]) > 0.6:
        return "UTF-32 (big-endian, no byte-order mark)"
    pairs = [sample[i : i + 2] for i in range(0, len(sample), 2)]
    le = sum(1 for p in pairs if p[1] == 0 and p[0]) / len(pairs)
    be = sum(1 for p in pairs if p[0] == 0 and p[1]) / len(pairs)
    if le > 0.6:
        return "UTF-16 (little-endian, no byte-order mark)"
    if be > 0.6:
        return "UTF-16 (big-endian, no byte-order mark)"
    return None


def _refuse_encoding(head: bytes, name: str) -> None:
    for bom, what in _UTF_BOMS:
        if head.startswith(bom):
            raise UnsupportedFile(name, f"text in {what}", _RESAVE)
    if b"\0" in head[:4096]:
        encoding = _nul_encoding(head)
        if encoding:
            raise UnsupportedFile(name, f"text in {encoding}", _RESAVE)
        raise UnsupportedFile(name, "a binary file (it contains NUL bytes)")


def _text_format(head: bytes, name: str, *, complete: bool) -> str:
    bom = head.startswith(codecs.BOM_UTF8)
    text = head[3:] if bom else head
    # The head may end inside a character; what comes before must be UTF-8.
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        if complete or exc.start < len(text) - 3:
            line = text[: exc.start].count(b"\n") + 1
            at = exc.start + (3 if bom else 0)
            raise ValidationFailed(
                f"{name} is not UTF-8 ({exc.reason} at byte {at}, line {line}); {_RESAVE}",
                details={"errors": {"file": [f"not UTF-8 at byte {at}"]}},
            ) from exc
        decoded = text[: exc.start].decode("utf-8")
    stripped = decoded.lstrip()
    if not stripped:
        raise ValidationFailed(
            f"{name} has no records (it is empty or only whitespace).",
            details={"errors": {"file": ["no records"]}},
        )
    if stripped[0] == "{":
        return "jsonl"
    if stripped[0] == "[":
        return "json"
    header = stripped.split("\n", 1)[0]
    if "\t" in header and header.count("\t") >= header.count(","):
        return "tsv"
    if "," in header:
        return "csv"
    lowered = name.lower().removesuffix(".gz")
    if lowered.endswith((".csv", ".tsv")):
        return lowered[-3:]
    raise UnsupportedFile(
        name,
        "text that is not JSON and has no comma- or tab-separated header row",
        "Give it a header row (id, text, ...) or convert it to JSON lines.",
    )


def sniff(head: bytes, name: str, *, complete: bool = False) -> Detected:
    """The format of a file from its first bytes (``head``, decompressed when the file is
    gzip: see ``detect``); ``complete`` when ``head`` is the whole file. Raises UnsupportedFile
    naming what the file is, or ValidationFailed for text that is not UTF-8 or empty."""
    if head.startswith(b"PAR1"):
        return Detected("parquet")
    for magic, what, advice in _MAGIC:
        if head.startswith(magic):
            raise UnsupportedFile(name, what, advice)
    _refuse_encoding(head, name)
    fmt = _text_format(head, name, complete=complete)
    return Detected(fmt, bom=head.startswith(codecs.BOM_UTF8))


def _gzip_head(fh: IO[bytes], name: str) -> tuple[bytes, bool]:
    try:
        with gzip.GzipFile(fileobj=fh, mode="rb") as gz:
            head = gz.read(HEAD)
            complete = len(head) < HEAD or not gz.read(1)
    except (OSError, EOFError) as exc:
        if isinstance(exc, EOFError) or "truncated" in str(exc).lower():
            raise UnsupportedFile(name, "a truncated gzip file", "Upload the whole file.") from exc
        raise UnsupportedFile(name, f"a damaged gzip file ({exc})") from exc
    if head.startswith(b"\x1f\x8b"):
        raise UnsupportedFile(name, "gzip inside gzip", "Decompress it once.")
    return head, complete


def detect(fh: IO[bytes], name: str, *, forced: str = "auto") -> Detected:
    """Detect the format of an open binary file (rewound afterwards). ``forced`` (one of
    ``FORMATS``) replaces the guess of the text format; binary and encoding checks still apply."""
    fh.seek(0)
    start = fh.read(HEAD)
    complete = len(start) < HEAD
    fh.seek(0)
    gzipped = start.startswith(b"\x1f\x8b")
    if gzipped:
        head, complete = _gzip_head(fh, name)
        fh.seek(0)
    else:
        head = start
    if forced != "auto":
        if forced not in FORMATS:
            raise ValidationFailed(
                f"Unknown format {forced!r}; one of auto, {', '.join(FORMATS)}.",
                details={"errors": {"format": [f"one of auto, {', '.join(FORMATS)}"]}},
            )
        if forced == "parquet":
            if not head.startswith(b"PAR1"):
                raise UnsupportedFile(name, "not a Parquet file (no PAR1 magic number)")
            return Detected("parquet", gzip=gzipped)
        found = sniff(head, name, complete=complete)  # still refuses binaries and UTF-16
        if found.format == "parquet":
            raise ValidationFailed(
                f"{name} is a Parquet file, not {FORMAT_NAMES[forced]}; choose Parquet or auto.",
                details={"errors": {"format": ["the file is Parquet"]}},
            )
        return Detected(forced, gzip=gzipped, bom=found.bom)
    found = sniff(head, name, complete=complete)
    return Detected(found.format, gzip=gzipped, bom=found.bom)


# --- reading -------------------------------------------------------------------------------


class _Counting(io.RawIOBase):
    """Counts the bytes read through it (the stored file's, compressed or not): progress."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.fh.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n


class _Capped(io.RawIOBase):
    """A decompressed stream that stops, with a message, past ``limit`` bytes."""

    def __init__(self, fh: IO[bytes], limit: int, name: str) -> None:
        self.fh = fh
        self.limit = limit
        self.name = name
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.fh.read(min(len(buffer), self.limit + 1 - self.count) or 1)
        n = len(data)
        self.count += n
        if self.count > self.limit:
            raise ValidationFailed(
                f"{self.name} decompresses to more than {_size(self.limit)} "
                "(CURATION_IMPORT_MAX_DECOMPRESSED_BYTES); nothing was imported. Split it into "
                "smaller files.",
                details={"errors": {"file": [f"larger than {_size(self.limit)} decompressed"]}},
            )
        buffer[:n] = data
        return n


class SeedFile:
    """The rows of an open seed file, read once (``rows``); ``fraction`` is the share of the
    file read so far (for progress bars)."""

    def __init__(self, fh: IO[bytes], name: str, detected: Detected, size: int) -> None:
        self.name = name
        self.detected = detected
        self.size = size
        self._counter = _Counting(fh)
        self._parquet_done = 0.0
        self._consumed = 0  # bytes of (decompressed) text handed on
        self._fh = fh

    def fraction(self) -> float:
        """The share of the file read: rows of a Parquet file, bytes of the stored file (read
        ahead by a buffer when it is gzip), else bytes of text handed on."""
        if self.detected.format == "parquet":
            return self._parquet_done
        done = self._counter.count if self.detected.gzip else self._consumed
        return min(done / self.size, 1.0) if self.size else 1.0

    def _binary(self) -> IO[bytes]:
        raw = io.BufferedReader(self._counter, buffer_size=HEAD)
        if self.detected.gzip:
            unpacked = gzip.GzipFile(fileobj=raw, mode="rb")
            capped = _Capped(unpacked, max_decompressed_bytes(), self.name)  # type: ignore[arg-type]
            return io.BufferedReader(capped, buffer_size=CHUNK)
        return raw

    def _raw_lines(self) -> Iterator[bytes | None]:
        """The file's lines as bytes, each read with a bounded ``readline``: a line longer than
        the cap is None (its rest read and dropped a chunk at a time, never held whole)."""
        limit = max_line_bytes()
        stream = self._binary()
        while True:
            raw = stream.readline(limit + 2)  # the cap, plus room for a line break
            if not raw:
                return
            if len(raw) > limit and len(raw.rstrip(b"\r\n")) > limit:
                skipped = len(raw)
                while not raw.endswith(b"\n"):
                    raw = stream.readline(CHUNK)
                    if not raw:
                        break
                    skipped += len(raw)
                self._consumed += skipped
                yield None
                continue
            yield raw

    def _lines(self, *, too_long: str = "") -> Iterator[str | None]:
        """Decoded lines (with their line breaks), strict UTF-8, the BOM left out; a line over
        the cap is None, or stops the read naming ``too_long`` (e.g. "CSV") when given."""
        offset = 0
        for lineno, raw in enumerate(self._raw_lines(), start=1):
            if raw is None:
                if too_long:
                    limit = _size(max_line_bytes())
                    raise ValidationFailed(
                        f"{self.name}: {too_long} line {lineno} is longer than {limit} "
                        "(CURATION_IMPORT_MAX_LINE_BYTES); nothing was imported.",
                        details={"errors": {"file": [f"line {lineno}: longer than {limit}"]}},
                    )
                offset = self._consumed
                yield None
                continue
            if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
                raw, offset = raw[3:], 3
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                at = offset + exc.start
                where = "after decompressing, " if self.detected.gzip else ""
                raise ValidationFailed(
                    f"{self.name} is not UTF-8 ({where}{exc.reason} at byte {at}, line "
                    f"{lineno}); {_RESAVE}",
                    details={"errors": {"file": [f"not UTF-8 at byte {at}, line {lineno}"]}},
                ) from exc
            offset += len(raw)
            self._consumed = offset
            yield text

    def rows(self) -> Iterator[Row]:
        fmt = self.detected.format
        if fmt == "jsonl":
            return self._jsonl()
        if fmt == "json":
            return self._json_array()
        if fmt in ("csv", "tsv"):
            return self._delimited("\t" if fmt == "tsv" else ",")
        return self._parquet()

    def _jsonl(self) -> Iterator[Row]:
        started = False
        for lineno, text in enumerate(self._lines(), start=1):
            if text is None:
                yield too_long_row(lineno)
                continue
            if not started and text.strip():
                started = True
                if text.strip() == "{":
                    raise ValidationFailed(
                        f"{self.name} is one JSON object spread over several lines (line "
                        f"{lineno} is a lone '{{'), not JSON lines (one record per line) nor a "
                        "JSON array; if it holds a list of records under a key, upload that "
                        "list as a JSON array.",
                        details={"errors": {"file": ["a single pretty-printed JSON object"]}},
                    )
            yield jsonl_row(lineno, text)

    def _text_chunks(self) -> Iterator[str]:
        """The decoded text in chunks (for a JSON array, which may be one long line), strict
        UTF-8, the BOM left out."""
        stream = self._binary()
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        offset = 0
        lines = 1
        first = True
        while True:
            data = stream.read(CHUNK)
            final = not data
            if first and data.startswith(codecs.BOM_UTF8):
                data, offset = data[3:], 3
            first = False
            try:
                text = decoder.decode(data, final)
            except UnicodeDecodeError as exc:
                pending = len(exc.object) - len(data)
                at = offset + exc.start - pending
                line = lines + exc.object[: exc.start].count(b"\n")
                where = "after decompressing, " if self.detected.gzip else ""
                raise ValidationFailed(
                    f"{self.name} is not UTF-8 ({where}{exc.reason} at byte {at}, line "
                    f"{line}); {_RESAVE}",
                    details={"errors": {"file": [f"not UTF-8 at byte {at}, line {line}"]}},
                ) from exc
            offset += len(data)
            self._consumed = offset
            lines += text.count("\n")
            if text:
                yield text
            if final:
                return

    def _json_array(self) -> Iterator[Row]:
        decoder = _DECODER
        limit = max_line_bytes()
        chunks = self._text_chunks()
        buf = ""
        pos = 0
        eof = False
        line = 1  # the line of ``pos``

        def fill(want: int) -> None:
            nonlocal buf, pos, eof
            buf, pos = buf[pos:], 0
            got: list[str] = []
            size = 0
            for piece in chunks:
                got.append(piece)
                size += len(piece)
                if size >= want:
                    break
            else:
                eof = True
            buf += "".join(got)

        def skip_space() -> None:
            nonlocal pos, line
            while True:
                end = _SPACE.match(buf, pos).end()  # type: ignore[union-attr]
                line += buf.count("\n", pos, end)
                pos = end
                if pos < len(buf) or eof:
                    return
                fill(CHUNK)

        def bad(message: str) -> ValidationFailed:
            return ValidationFailed(
                f"{self.name} is not a valid JSON array: {message} (near line {line}). "
                "Nothing after that point can be read.",
                details={"errors": {"file": [f"invalid JSON near line {line}"]}},
            )

        fill(CHUNK)
        skip_space()
        if not buf.startswith("[", pos):
            raise bad("it does not start with '['")
        pos += 1
        number = 0
        want = CHUNK
        after_element = False  # a ',' or the closing ']' comes next
        while True:
            skip_space()
            if pos >= len(buf):
                raise bad("it ends before its closing ']'")
            if buf[pos] == "]":
                pos += 1
                skip_space()
                if pos < len(buf):
                    raise bad("there is more after its closing ']'")
                return
            if after_element:
                if buf[pos] != ",":
                    raise bad(f"a ',' or ']' was expected after element {number}")
                pos += 1
                after_element = False
                continue
            try:
                value, end = decoder.raw_decode(buf, pos)
            except json.JSONDecodeError as exc:
                if not eof:
                    if len(buf) - pos > limit:
                        raise bad(
                            f"element {number + 1} is longer than {_size(limit)} "
                            "(CURATION_IMPORT_MAX_LINE_BYTES)"
                        ) from exc
                    fill(want)  # the element may go on in the next chunk
                    want = min(want * 2, limit + 1)
                    continue
                raise bad(f"element {number + 1}: {exc.msg}") from exc
            except RecursionError as exc:
                raise bad(f"element {number + 1} is nested absurdly deep") from exc
            if end == len(buf) and not eof and isinstance(value, (int, float)):
                fill(want)  # a number may go on in the next chunk
                continue
            want = CHUNK
            number += 1
            line += buf.count("\n", pos, end)
            too_long = end - pos > limit
            pos = end
            after_element = True
            yield too_long_row(number) if too_long else checked(Row(number, value))

    def _delimited(self, delimiter: str) -> Iterator[Row]:
        kind = "TSV" if delimiter == "\t" else "CSV"
        lines = self._lines(too_long=kind)
        reader = csv.reader(lines, delimiter=delimiter, strict=True)  # type: ignore[arg-type]
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ValidationFailed(
                f"{self.name}: the {kind} header row cannot be read ({exc}).",
                details={"errors": {"file": [str(exc)]}},
            ) from exc
        names = [h.strip() or f"column_{i}" for i, h in enumerate(header, start=1)]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValidationFailed(
                f"{self.name}: the {kind} header names {', '.join(map(repr, twice))} more than "
                "once; give each column its own name.",
                details={"errors": {"file": [f"repeated column {n!r}" for n in twice]}},
            )
        row_number = 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ValidationFailed(
                    f"{self.name}: {kind} row {row_number + 1} (line {reader.line_num}) cannot "
                    f"be read ({exc}); nothing after it can be.",
                    details={"errors": {"file": [f"row {row_number + 1}: {exc}"]}},
                ) from exc
            row_number += 1
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue  # a blank line
            if len(cells) > len(names):
                yield Row(
                    row_number,
                    error=f"{len(cells)} fields, but the header row has {len(names)}",
                    index=row_number - 1,
                )
                continue
            # An empty cell is no value.
            record = {n: c for n, c in zip(names, cells, strict=False) if c != ""}
            yield checked(Row(row_number, record, index=row_number - 1))

    def _parquet(self) -> Iterator[Row]:
        # Imported here (only Parquet needs it), by name: pyarrow ships no type information.
        pa = importlib.import_module("pyarrow")
        pq = importlib.import_module("pyarrow.parquet")

        with self._seekable() as fh:
            try:
                parquet = pq.ParquetFile(fh)
            except (pa.ArrowException, OSError) as exc:
                raise ValidationFailed(
                    f"{self.name} cannot be read as Parquet ({exc}).",
                    details={"errors": {"file": [f"not readable as Parquet: {exc}"]}},
                ) from exc
            total = parquet.metadata.num_rows or 1
            number = 0
            for batch in parquet.iter_batches(batch_size=PARQUET_BATCH):
                for record in batch.to_pylist():
                    number += 1
                    yield checked(
                        Row(number, {k: jsonable(v) for k, v in record.items() if v is not None})
                    )
                self._parquet_done = min(number / total, 1.0)

    @contextmanager
    def _seekable(self) -> Iterator[IO[bytes]]:
        if not self.detected.gzip and self._fh.seekable():
            self._fh.seek(0)
            yield self._fh
            return
        with tempfile.TemporaryFile() as tmp:
            shutil.copyfileobj(self._binary(), tmp, CHUNK)
            tmp.seek(0)
            yield tmp


def max_line_bytes() -> int:
    return int(getattr(settings, "CURATION_IMPORT_MAX_LINE_BYTES", 1024 * 1024))


def max_decompressed_bytes() -> int:
    return int(getattr(settings, "CURATION_IMPORT_MAX_DECOMPRESSED_BYTES", 4 * 1024**3))


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale and n % scale == 0:
            return f"{n // scale:,} {unit}"
    return f"{n:,} bytes"


class _TooLong:
    """An integer literal too long to convert (``int`` would refuse past 4,300 digits)."""


_TOO_LONG = _TooLong()


def _parse_int(digits: str) -> int | _TooLong:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        return _TOO_LONG
    return int(digits)


def _parse_constant(name: str) -> Any:
    return float(name)  # NaN, Infinity: refused by ``record_problems``, with a place


_DECODER = json.JSONDecoder(parse_int=_parse_int, parse_constant=_parse_constant)


def loads(text: str) -> Any:
    """``json.loads`` that never crashes on odd input: a long integer becomes a marker that
    ``record_problems`` names; raises JSONDecodeError, or RecursionError when nested absurdly
    deep."""
    return _DECODER.decode(text)


def record_problems(value: Any, *, depth_limit: int = DEFAULT_MAX_DEPTH) -> list[str]:
    """Why a decoded record cannot be stored (each problem with its place, e.g.
    ``metadata.tags.0``), walked without recursion; messages never repeat the input."""
    if _looks_clean(value, depth_limit):
        return []  # the common case, told without building a path for every value
    return _record_problems(value, depth_limit)


_SCALARS = (type(None), bool)


def _looks_clean(value: Any, depth_limit: int) -> bool:
    """True when ``_record_problems`` would find nothing: the same checks, without the places
    (a record that fails here, or holds a value of another type, gets the full walk)."""
    search = BAD_CHARACTER.search
    stack: list[tuple[Any, int]] = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        kind = type(item)
        if kind is str:
            if search(item):
                return False
        elif kind is dict:
            if depth > depth_limit:
                return False
            for key, child in item.items():
                if type(key) is not str or search(key):
                    return False
                push((child, depth + 1))
        elif kind is list:
            if depth > depth_limit:
                return False
            for child in item:
                push((child, depth + 1))
        elif kind is int:
            if item >= INT_LIMIT or item <= -INT_LIMIT:
                return False
        elif kind is float:
            if not math.isfinite(item):
                return False
        elif kind not in _SCALARS:
            return False
    return True


def _record_problems(value: Any, depth_limit: int) -> list[str]:
    problems: list[str] = []
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack and len(problems) < 10:
        item, path, depth = stack.pop()
        shown = path if len(path) <= 80 else f"{path[:40]}...{path[-37:]}"
        where = f"'{shown}' " if path else ""
        if isinstance(item, dict | list) and depth > depth_limit:
            problems.append(f"{where}nested deeper than {depth_limit} levels")
        elif isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    key = str(key)
                problem = string_problem(key)
                if problem:
                    problems.append(f"a key in {where or 'the record '}{problem}")
                    continue
                stack.append((child, f"{path}.{key}" if path else key, depth + 1))
        elif isinstance(item, list):
            stack.extend(
                (child, f"{path}.{i}" if path else str(i), depth + 1)
                for i, child in reversed(list(enumerate(item)))
            )
        elif isinstance(item, str):
            problem = string_problem(item)
            if problem:
                problems.append(f"{where}{problem}")
        elif item is _TOO_LONG or (
            isinstance(item, int) and not isinstance(item, bool) and abs(item) >= INT_LIMIT
        ):
            problems.append(f"{where}holds a number too large (64 bits at most)")
        elif isinstance(item, float) and not math.isfinite(item):
            problems.append(f"{where}holds NaN or Infinity, which JSON storage refuses")
    return problems


def checked(row: Row) -> Row:
    """The row, or a bad row naming every problem of its record (``record_problems``)."""
    if row.error is not None or row.record is _BLANK:
        return row
    problems = record_problems(row.record)
    if problems:
        return Row(row.number, error="; ".join(problems), index=row.index)
    return row


def too_long_row(lineno: int, *, index: int = 0) -> Row:
    return Row(
        lineno,
        error=f"longer than {_size(max_line_bytes())} (CURATION_IMPORT_MAX_LINE_BYTES); "
        "the line was skipped unread",
        index=index,
    )


def jsonl_row(lineno: int, text: str) -> Row:
    """A JSON line as a row: its value, nothing for a blank line, or why it is bad (invalid
    JSON, or a value ``record_problems`` refuses)."""
    stripped = text.rstrip("\r\n")
    if not stripped.strip():
        return Row(lineno, record=_BLANK)
    if len(stripped) > max_line_bytes():
        return too_long_row(lineno)
    try:
        return checked(Row(lineno, loads(stripped)))
    except json.JSONDecodeError as exc:
        return Row(lineno, error=f"invalid JSON ({exc.msg} at column {exc.colno})")
    except RecursionError:
        return Row(lineno, error=f"nested deeper than {DEFAULT_MAX_DEPTH} levels")


class _Blank:
    """The record of a blank line (counted as a line, not a seed)."""


_BLANK = _Blank()


def is_blank(row: Row) -> bool:
    return row.record is _BLANK


def jsonable(value: Any) -> Any:
    """A Parquet value as JSON: dates as ISO text, decimals as text, bytes as UTF-8 text."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, (Decimal, dt.timedelta)):
        return str(value)
    return str(value)


@contextmanager
def open_seed_file(
    fh: IO[bytes], name: str, *, size: int, forced: str = "auto"
) -> Iterator[SeedFile]:
    """The detected seed file over an open binary file."""
    detected = detect(fh, name, forced=forced)
    yield SeedFile(fh, name, detected, size)


def lines_rows(lines: Any) -> Iterator[Row]:
    """Rows of JSON lines given as strings (``seeds_import``'s ``lines``)."""
    for lineno, text in enumerate(lines, start=1):
        yield jsonl_row(lineno, text)


# --- field mapping -------------------------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    name: str
    label: str
    help: str
    short: str  # fits a narrow select box
    # target -> sources tried in order (the first present wins); () = not read from the file.
    fields: dict[str, tuple[str, ...]]
    drop: frozenset[str] = frozenset()  # keys that are another tool's bookkeeping
    repeated_ids: bool = False  # a repeated id is the same task again: keep the first


def _identity() -> dict[str, tuple[str, ...]]:
    return {t: (t,) for t in TARGETS}


PRESETS: dict[str, Preset] = {
    "seeds": Preset(
        name="seeds",
        short="seed records",
        label="Seed records (DESIGN.md)",
        help="keys as DESIGN.md names them (id, text, title, ...); task_type or CodeArena's "
        "meta.parsed.task_type",
        fields={**_identity(), "task_type": ("task_type", "meta.parsed.task_type")},
    ),
    "arena-hard-auto": Preset(
        name="arena-hard-auto",
        short="arena-hard",
        label="arena-hard-auto question file",
        help="data/<benchmark>/question.jsonl: uid -> id, prompt -> text, cluster -> cluster; "
        "arena-hard's own category and subcategory (hard_prompt, coding, ...) are not "
        "CodeArena's and stay in metadata",
        fields={
            **_identity(),
            "id": ("uid",),
            "text": ("prompt",),
            "category": (),
            "subcategory": (),
        },
    ),
    "label-studio": Preset(
        name="label-studio",
        short="LS JSON",
        label="Label Studio JSON export",
        help="an array of tasks: id -> id, data.text, data.question or data.prompt -> text, "
        "other seed keys from data.<key>; annotations, predictions and drafts are dropped",
        fields={
            **{t: (f"data.{t}",) for t in TARGETS},
            "id": ("id",),
            "text": ("data.text", "data.question", "data.prompt"),
        },
        drop=frozenset(
            {
                "annotations",
                "predictions",
                "drafts",
                "completions",
                "total_annotations",
                "cancelled_annotations",
                "total_predictions",
                "comment_count",
                "unresolved_comment_count",
                "last_comment_updated",
                "comment_authors",
                "updated_by",
                "file_upload",
                "inner_id",
                "annotators",
                "is_labeled",
            }
        ),
    ),
    "label-studio-min": Preset(
        name="label-studio-min",
        short="LS JSON-MIN",
        label="Label Studio JSON-MIN export",
        help="flat records (one per annotation): id -> id, text, question or prompt -> text; "
        "a repeated task id is the same task again (the first is kept, the others reported); "
        "annotator, annotation_id, created_at, updated_at, lead_time and agreement are dropped",
        fields={**_identity(), "text": ("text", "question", "prompt")},
        drop=frozenset(
            {"annotator", "annotation_id", "created_at", "updated_at", "lead_time", "agreement"}
        ),
        repeated_ids=True,
    ),
    "huggingface": Preset(
        name="huggingface",
        short="HF datasets",
        label="Hugging Face datasets export",
        help="common column names: question_id, id, task_id, uid or _id -> id; question, "
        "prompt, text, instruction, problem or query -> text; answer, response, output or "
        "solution -> answer; url or link -> source_url; lang or programming_language -> "
        "language",
        fields={
            **_identity(),
            "id": ("question_id", "id", "task_id", "uid", "_id"),
            "text": ("question", "prompt", "text", "instruction", "problem", "query"),
            "answer": ("answer", "response", "output", "solution"),
            "source_url": ("source_url", "url", "link"),
            "language": ("language", "lang", "programming_language"),
        },
    ),
}
DEFAULT_PRESET = "seeds"
_MISSING = object()


def _split(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def get_path(record: Any, parts: tuple[str, ...]) -> Any:
    """The value at a dotted path (list elements by index); _MISSING when absent."""
    value = record
    for part in parts:
        if isinstance(value, dict):
            if part not in value:
                return _MISSING
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def parse_fields(entries: Any) -> dict[str, str]:
    """``target=source`` entries (a list, or text with one per line or comma-separated) as a
    dict; an empty source means the target is not read from the file. ValidationFailed names
    every bad entry (not ``target=source``, an unknown target, a target given twice)."""
    if entries is None:
        return {}
    if isinstance(entries, dict):
        items = [f"{k}={v or ''}" for k, v in entries.items()]
    elif isinstance(entries, str):
        items = [p for line in entries.splitlines() for p in line.split(",")]
    else:
        items = [p for e in entries for p in str(e).splitlines()]
    out: dict[str, str] = {}
    problems: list[str] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        target, sep, source = item.partition("=")
        target, source = target.strip(), source.strip()
        if not sep or not target:
            problems.append(f"{item!r} is not target=source (e.g. id=question_id)")
        elif target not in TARGETS:
            problems.append(f"unknown target {target!r}; targets are {', '.join(TARGETS)}")
        elif target in out:
            problems.append(f"{target!r} is mapped twice")
        else:
            out[target] = source
    if problems:
        raise ValidationFailed(
            "The field mapping is not valid: " + "; ".join(problems) + ".",
            details={"errors": {"fields": problems}},
        )
    return out


@dataclass
class FieldMapping:
    """Where each target of a seed record is read from (see the module's docstring)."""

    preset: Preset
    explicit: dict[str, str] = field(default_factory=dict)
    sources: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    # explicit sources found in at least one record (an explicit source found nowhere is an
    # error once the whole file is read)
    seen: set[str] = field(default_factory=set)

    @classmethod
    def build(cls, *, preset: str | None = None, fields: Any = None) -> FieldMapping:
        name = preset or DEFAULT_PRESET
        if name not in PRESETS:
            raise ValidationFailed(
                f"Unknown preset {name!r}; one of {', '.join(PRESETS)}.",
                details={"errors": {"preset": [f"one of {', '.join(PRESETS)}"]}},
            )
        chosen = PRESETS[name]
        explicit = parse_fields(fields)
        mapping = cls(preset=chosen, explicit=explicit)
        for target in TARGETS:
            paths: tuple[str, ...]
            if target in explicit:
                paths = (explicit[target],) if explicit[target] else ()
            else:
                paths = chosen.fields.get(target, ())
            mapping.sources[target] = tuple(_split(p) for p in paths)
        return mapping

    def options(self) -> dict[str, Any]:
        return {"preset": self.preset.name, "fields": dict(self.explicit)}

    def describe(self, target: str) -> str:
        paths = [".".join(p) for p in self.sources[target]]
        return " or ".join(repr(p) for p in paths) if paths else "nowhere"

    def is_identity(self, target: str) -> bool:
        return self.sources[target] == ((target,),)

    def apply(self, record: dict[str, Any]) -> dict[str, Any]:
        """The seed record of a source record: mapped targets, then the record's keys no target
        read (and no preset drops) merged into ``metadata``."""
        out: dict[str, Any] = {}
        used: dict[str, set[str] | None] = {}  # top key -> read whole (None) or these subkeys
        for target, paths in self.sources.items():
            for parts in paths:
                value = get_path(record, parts)
                if value is _MISSING:
                    continue
                out[target] = value
                top = parts[0]
                if len(parts) == 1:
                    used[top] = None
                elif used.get(top, set()) is not None:
                    used.setdefault(top, set()).add(parts[1])  # type: ignore[union-attr]
                if target in self.explicit:
                    self.seen.add(target)
                break
        extra: dict[str, Any] = {}
        for key, value in record.items():
            if key in self.preset.drop:
                continue
            if key not in used:
                extra[key] = value
            elif used[key] is not None and isinstance(value, dict):
                rest = {k: v for k, v in value.items() if k not in used[key]}  # type: ignore[operator]
                if rest:
                    extra[key] = rest
        if extra:
            out["__extra__"] = extra
        return out

    def unseen(self) -> list[str]:
        """Explicit ``target=source`` entries whose source no record had."""
        return [f"{t}={s}" for t, s in self.explicit.items() if s and t not in self.seen]

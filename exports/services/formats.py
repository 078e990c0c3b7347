"""The files of a release in the formats the evaluation tools read: ``benchmark.jsonl`` (one
sample per line, DESIGN.md's key order, CodeArena's ``meta``, the sample's ``provenance`` last;
a drop-in CodeArena.jsonl),
``benchmark.parquet`` (the same rows), ``questions.jsonl`` (arena-hard-auto's question format),
arena-hard-auto's model-answer lines, JSON documents (stats, manifest), their sha256 / size and
the zip of a whole release, each written a chunk of samples at a time; the same input gives the
same bytes."""

import hashlib
import json
import os
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from annotation.models import Origin
from annotation.tokens import encoding

# arena-hard-auto picks its judge settings (baseline, system prompt) by a question's category
# (JUDGE_SETTINGS in its utils/judge_utils.py: hard_prompt, coding, math, creative_writing,
# arena-hard-v0.1). The default; a release may name its own (ReleaseParameters).
ARENA_HARD_CATEGORY = "coding"
# arena-hard-auto's built-in categories and the baseline each one judges against.
ARENA_HARD_BASELINES = {
    "hard_prompt": "o3-mini-2025-01-31",
    "coding": "o3-mini-2025-01-31",
    "math": "o3-mini-2025-01-31",
    "creative_writing": "gemini-2.0-flash-001",
    "arena-hard-v0.1": "gpt-4-0314",
}


def seed_sample_id(campaign_slug: str, external_id: str) -> str:
    """A stable hex id for a benchmark sample: the same seed keeps its id across releases."""
    return hashlib.sha256(f"{campaign_slug}\x00{external_id}".encode()).hexdigest()[:32]


def dumps_line(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))


def dumps_document(obj: Any) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


# A sample's origin: written by a person, or drafted from a model suggestion the author inserted
# into the released revision (and then edited, submitted and accepted like every other).
HUMAN: str = Origin.HUMAN.value
MODEL_DRAFTED: str = Origin.MODEL_DRAFTED.value
ORIGINS = Origin.choices


@dataclass(frozen=True)
class Provenance:
    """Where a released revision's text came from: ``origin`` (HUMAN or MODEL_DRAFTED); for a
    model-drafted one, the inserted suggestion's model, prompt version and length in characters
    and the character-level edit distance from it to the submitted text (None otherwise)."""

    origin: str = HUMAN
    model: str | None = None
    prompt_version: str | None = None
    edit_distance: int | None = None
    suggestion_chars: int | None = None

    def record(self) -> dict[str, Any]:
        """The sample's ``provenance`` object, keys in this order."""
        return {
            "origin": self.origin,
            "model": self.model,
            "prompt_version": self.prompt_version,
            "edit_distance": self.edit_distance,
            "suggestion_chars": self.suggestion_chars,
        }


def benchmark_row(
    *,
    sample: str,
    text: str,
    category: str,
    subcategory: str,
    difficulty: str,
    programming_languages: list[str],
    natural_language: str,
    question_tokens: int | None,
    seed_id: str,
    votes: dict[str, int],
    responses: dict[str, str],
    task_type: str | None = None,
    baseline: str | None = None,
    provenance: Provenance | None = None,
) -> dict[str, Any]:
    """One ``benchmark.jsonl`` sample: the keys in DESIGN.md's order; then ``meta`` (CodeArena's
    ``{"parsed": {"task_type": [task_type]}}``, when given); then ``baseline`` (the baseline
    model's answer, which CodeArena's judge reads when its two built-in baseline keys are
    absent), when given; then ``<model>_response`` per included model that answered it (never
    null: the caller leaves a key out rather than write no answer); last ``provenance``
    (``Provenance.record``; a person's when not given), so the keys before it keep their
    documented order."""
    record: dict[str, Any] = {
        "id": sample,
        "messages": [{"role": "user", "content": text}],
        "category": category,
        "subcategory": subcategory,
        "difficulty": difficulty,
        "programming_language": programming_languages,
        "language": natural_language,
        "question_tokens": question_tokens,
        "seed_id": seed_id,
        "votes": votes,
    }
    if task_type is not None:
        record["meta"] = {"parsed": {"task_type": [task_type]}}
    if baseline is not None:
        record["baseline"] = baseline
    for model, text_ in responses.items():
        record[f"{model}_response"] = text_
    record["provenance"] = (provenance or Provenance()).record()
    return record


def jsonl_lines(records: Iterable[dict[str, Any]]) -> str:
    """``records`` as jsonl text: one line each, in order."""
    return "".join(dumps_line(rec) + "\n" for rec in records)


def question_record(record: dict[str, Any], *, category: str) -> dict[str, Any]:
    """A benchmark sample as an arena-hard-auto question (``uid``, ``category``,
    ``subcategory``, ``prompt``; its ``load_questions`` reads ``uid``, ``prompt`` and
    ``category``)."""
    return {
        "uid": record["id"],
        "category": category,
        "subcategory": record["subcategory"],
        "prompt": record["messages"][0]["content"],
    }


# --- arena-hard-auto model answers ---------------------------------------------------------
# As its gen_answer.py (lmarena/arena-hard-auto @196f6b82) writes them: uid, ans_id, model,
# messages (the user prompt, then the assistant content as {"answer": text}), tstamp, metadata
# ({"token_len"} | count_markdown_elements(remove_pattern(answer, CODE_FENCE), suffix="")), one
# line per uid, sorted by uid as its reorg_answer_file leaves the file.

CODE_FENCE = re.compile("```([^`]*)```")
SHORTUUID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
# No generation time is known (answers are imported); arena-hard-auto never reads tstamp, and a
# fixed value keeps reruns byte-identical.
ANSWER_TSTAMP = 0.0


def remove_pattern(answer: str, pattern: re.Pattern[str]) -> str:
    """arena-hard-auto's utils/add_markdown_info.py: removes every text a group matched (the
    inside of a code fence; the fences stay)."""
    for block in pattern.findall(answer):
        answer = answer.replace(block, "")
    return answer


def count_markdown_elements(markdown_text: str, suffix: str) -> dict[str, dict[str, int]]:
    """arena-hard-auto's utils/add_markdown_info.py, the same patterns in the same order."""
    return {
        f"header_count{suffix}": {
            "h1": len(re.findall(r"^#{1}\s", markdown_text, re.MULTILINE)),
            "h2": len(re.findall(r"^#{2}\s", markdown_text, re.MULTILINE)),
            "h3": len(re.findall(r"^#{3}\s", markdown_text, re.MULTILINE)),
            "h4": len(re.findall(r"^#{4}\s", markdown_text, re.MULTILINE)),
            "h5": len(re.findall(r"^#{5}\s", markdown_text, re.MULTILINE)),
            "h6": len(re.findall(r"^#{6}\s", markdown_text, re.MULTILINE)),
        },
        f"list_count{suffix}": {
            "ordered": len(re.findall(r"^\s*\d+\.\s", markdown_text, re.MULTILINE)),
            "unordered": len(re.findall(r"^\s*[-*+]\s", markdown_text, re.MULTILINE)),
        },
        f"bold_count{suffix}": {
            "**": len(re.findall(r"\*\*[^*\n]+\*\*", markdown_text)),
            "__": len(re.findall(r"__[^_\n]+__", markdown_text)),
        },
    }


def answer_metadata(answer: str) -> dict[str, Any]:
    """The ``metadata`` gen_answer.py computes: the answer's length in the gpt-4o encoding
    (``tiktoken.encoding_for_model("gpt-4o")``, o200k_base), then the markdown counts of the
    answer without the insides of its code fences. show_result.py's style control reads the
    values by position, so the order is token_len, header_count, list_count, bold_count."""
    token_len = len(encoding("gpt-4o").encode(answer, disallowed_special=()))
    return {"token_len": token_len} | count_markdown_elements(
        remove_pattern(answer, CODE_FENCE), suffix=""
    )


def answer_id(*parts: str) -> str:
    """A 22-character id in shortuuid's alphabet (what gen_answer.py's ``shortuuid.uuid()``
    looks like), derived from ``parts`` so the same answer always gets the same id."""
    number = int.from_bytes(hashlib.sha256("\x00".join(parts).encode("utf-8")).digest())
    chars = []
    for _ in range(22):
        number, digit = divmod(number, len(SHORTUUID_ALPHABET))
        chars.append(SHORTUUID_ALPHABET[digit])
    return "".join(chars)


def answer_record(record: dict[str, Any], *, model: str, text: str, bench: str) -> dict[str, Any]:
    """One line of ``model_answer/<model>.jsonl``: ``model``'s answer ``text`` to the sample
    ``record``."""
    return {
        "uid": record["id"],
        "ans_id": answer_id(bench, model, record["id"], text),
        "model": model,
        "messages": [
            {"role": "user", "content": record["messages"][0]["content"]},
            {"role": "assistant", "content": {"answer": text}},
        ],
        "tstamp": ANSWER_TSTAMP,
        "metadata": answer_metadata(text),
    }


# --- Parquet and zip -------------------------------------------------------------------------

_FIXED_FIELDS = [
    pa.field("id", pa.string()),
    pa.field(
        "messages",
        pa.list_(pa.struct([pa.field("role", pa.string()), pa.field("content", pa.string())])),
    ),
    pa.field("category", pa.string()),
    pa.field("subcategory", pa.string()),
    pa.field("difficulty", pa.string()),
    pa.field("programming_language", pa.list_(pa.string())),
    pa.field("language", pa.string()),
    pa.field("question_tokens", pa.int64()),
    pa.field("seed_id", pa.string()),
    pa.field("votes", pa.struct([pa.field("valid", pa.int64()), pa.field("invalid", pa.int64())])),
]
# The keys every sample has, first and in this order (``benchmark_row``).
FIXED_KEYS = tuple(f.name for f in _FIXED_FIELDS)
_META_FIELD = pa.field(
    "meta",
    pa.struct([pa.field("parsed", pa.struct([pa.field("task_type", pa.list_(pa.string()))]))]),
)
_PROVENANCE_FIELD = pa.field(
    "provenance",
    pa.struct(
        [
            pa.field("origin", pa.string()),
            pa.field("model", pa.string()),
            pa.field("prompt_version", pa.string()),
            pa.field("edit_distance", pa.int64()),
            pa.field("suggestion_chars", pa.int64()),
        ]
    ),
)


def parquet_schema(columns: list[str]) -> pa.Schema:
    """``benchmark.parquet``'s explicit schema for ``columns`` (in file order): nested messages,
    votes, meta and provenance as structs, every answer column a string."""
    fields = []
    fixed = {f.name: f for f in _FIXED_FIELDS}
    for name in columns:
        if name in fixed:
            fields.append(fixed[name])
        elif name == "meta":
            fields.append(_META_FIELD)
        elif name == "provenance":
            fields.append(_PROVENANCE_FIELD)
        else:
            fields.append(pa.field(name, pa.string()))
    return pa.schema(fields)


# How the file is written (no pandas metadata and no statistics: the bytes depend on the rows
# and the pyarrow version only).
_PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "write_statistics": False,
    "store_schema": True,
}
# pyarrow's largest row group (``write_table`` without ``row_group_size``): one row group up to
# this many rows, as a single ``write_table`` of every row writes them.
PARQUET_ROW_GROUP_ROWS = 1024 * 1024


class ParquetRows:
    """``benchmark.parquet`` written as the samples come, a chunk at a time: each chunk becomes
    Arrow columns at once (no Python object per sample is kept), and a row group is written
    once ``row_group_rows`` rows are buffered (and the rest on ``close``). The row groups are
    those of one ``write_table`` of every row (``parquet_schema``, ``_PARQUET_OPTIONS``), so the
    bytes are those of writing all the records at once; only the Arrow columns of one row
    group are held."""

    def __init__(
        self, where: Any, *, columns: list[str], row_group_rows: int = PARQUET_ROW_GROUP_ROWS
    ) -> None:
        self.columns = columns
        self.schema = parquet_schema(columns)
        self.row_group_rows = row_group_rows
        self._writer = pq.ParquetWriter(where, self.schema, **_PARQUET_OPTIONS)
        self._batches: list[pa.RecordBatch] = []
        self._buffered = 0
        self._written = 0

    def add(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        rows = [{name: rec.get(name) for name in self.columns} for rec in records]
        self._batches.append(pa.RecordBatch.from_pylist(rows, schema=self.schema))
        self._buffered += len(rows)
        if self._buffered >= self.row_group_rows:
            self._flush(final=False)

    def _flush(self, *, final: bool) -> None:
        # One contiguous table per row group, as a single write_table would slice it (pages and
        # dictionaries depend on how values reach the column writers, not only on the values).
        table = pa.Table.from_batches(self._batches, schema=self.schema).combine_chunks()
        self._batches = []
        while table.num_rows >= self.row_group_rows or (final and table.num_rows):
            size = min(table.num_rows, self.row_group_rows)
            self._writer.write_table(table.slice(0, size))
            self._written += size
            table = table.slice(size)
        if table.num_rows:
            self._batches = table.combine_chunks().to_batches()
        self._buffered = table.num_rows

    def close(self) -> None:
        if self._batches:
            self._flush(final=True)
        if not self._written:
            # What write_table of no rows writes.
            self._writer.write_table(self.schema.empty_table())
        self._writer.close()


ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _zip_info(name: str, *, folder: str, size: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(f"{folder}/{name}", date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    info.create_system = 3
    # What ZipFile.writestr(..., compresslevel=9) sets; its size decides the zip64 header.
    setattr(info, "_compresslevel", 9)  # noqa: B010 (not in the type stubs)
    info.file_size = size
    return info


ZIP_CHUNK = 1 << 20


def release_zip_write(target: Path, *, source: Path, names: Iterable[str], folder: str) -> None:
    """One download of the whole release: the files ``names`` (under the folder ``source``)
    under ``folder/`` in path order, with a fixed date and mode, so the same files always give
    the same bytes; written to ``target`` a chunk at a time (no file is held whole)."""
    with zipfile.ZipFile(target, "w") as archive:
        for name in sorted(names):
            path = source / name
            info = _zip_info(name, folder=folder, size=path.stat().st_size)
            with open(path, "rb") as src, archive.open(info, "w") as dest:
                while chunk := src.read(ZIP_CHUNK):
                    dest.write(chunk)


class HashedFile:
    """A file written a piece at a time whose sha256 and size (``path_meta``) are known when it
    is closed (after an fsync: the publishing swap moves only whole files)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path, "wb")  # noqa: SIM115 (closed by close())
        self._sha = hashlib.sha256()
        self._bytes = 0

    def write(self, data: bytes) -> None:
        self._fh.write(data)
        self._sha.update(data)
        self._bytes += len(data)

    def close(self) -> dict[str, Any]:
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        return {"sha256": self._sha.hexdigest(), "bytes": self._bytes}


def path_meta(path: Path) -> dict[str, Any]:
    """A file's ``{"sha256", "bytes"}`` (a manifest entry), read from disk in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(ZIP_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return {"sha256": digest.hexdigest(), "bytes": size}

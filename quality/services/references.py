"""Reference corpora: public benchmarks loaded from jsonl / jsonl.gz files."""

import gzip
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.validators import validate_slug
from django.db import transaction
from django.utils import timezone

from core.errors import NotFound, ValidationFailed

from ..models import ReferenceDocument, ReferenceSet
from .decontamination import rewrites_decontaminate_all_campaigns

# Question-like fields of the common benchmark formats (HumanEval/EvalPlus/MultiPL-E "prompt",
# MBPP "text", McEval "instruction", NaturalCodeBench "problem"). All that a record has are
# indexed; solutions and tests are not, since a rewrite is a question.
DEFAULT_FIELDS = ("prompt", "text", "instruction", "problem", "question")
ID_FIELDS = ("task_id", "_id", "name", "id", "uid", "question_id")
MAX_REPORTED = 50
DOC_ID_MAX = 300  # ReferenceDocument.doc_id


class ReferenceImportError(ValidationFailed):
    """The files hold bad lines; ``errors`` names each (file, line, problem)."""

    def __init__(self, errors: list[str]):
        shown = errors[:MAX_REPORTED]
        more = f"\n... and {len(errors) - MAX_REPORTED} more" if len(errors) > MAX_REPORTED else ""
        super().__init__(
            f"{len(errors)} bad line(s), nothing loaded:\n" + "\n".join(shown) + more,
            details={"lines": errors},
        )
        self.errors = errors


@dataclass
class ParsedDocument:
    doc_id: str
    text: str
    line: int


def _open(path: Path) -> Any:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def references_parse(
    paths: Sequence[Path], *, fields: Sequence[str] | None = None, id_field: str | None = None
) -> list[ParsedDocument]:
    """Read every record of every file. The text of a record is its ``fields`` (default: the
    question-like fields it has), joined by blank lines; its id is ``id_field`` (default: the
    first of ``ID_FIELDS`` it has). With several files, ids are prefixed by the file name, since
    translations of one benchmark reuse task ids (MultiPL-E).

    Raises ReferenceImportError naming every bad line (unreadable JSON, no id, no text,
    duplicate id) or a missing file."""
    wanted = list(fields or DEFAULT_FIELDS)
    errors: list[str] = []
    docs: list[ParsedDocument] = []
    seen: dict[str, str] = {}
    for path in paths:
        path = Path(path)
        if not path.is_file():
            errors.append(f"{path}: no such file")
            continue
        prefix = f"{path.name.split('.')[0]}:" if len(paths) > 1 else ""
        try:
            with _open(path) as fh:
                for number, raw in enumerate(fh, start=1):
                    where = f"{path.name} line {number}"
                    if not raw.strip():
                        continue
                    try:
                        record = json.loads(raw)
                    except json.JSONDecodeError as exc:
                        errors.append(f"{where}: not valid JSON ({exc.msg})")
                        continue
                    if not isinstance(record, dict):
                        errors.append(f"{where}: expected a JSON object")
                        continue
                    keys = [id_field] if id_field else [k for k in ID_FIELDS if k in record]
                    raw_id = record.get(keys[0]) if keys else None
                    if raw_id is None or str(raw_id).strip() == "":
                        looked = ", ".join([id_field] if id_field else ID_FIELDS)
                        errors.append(f"{where}: no id (looked for {looked})")
                        continue
                    parts = [record[k] for k in wanted if isinstance(record.get(k), str)]
                    text = "\n\n".join(p for p in parts if p.strip())
                    if not text:
                        errors.append(f"{where}: no text in {', '.join(wanted)}")
                        continue
                    doc_id = f"{prefix}{raw_id}"
                    if len(doc_id) > DOC_ID_MAX:
                        errors.append(f"{where}: id longer than {DOC_ID_MAX} characters")
                        continue
                    if "\x00" in text or "\x00" in doc_id:
                        errors.append(f"{where}: contains a NUL character")
                        continue
                    if doc_id in seen:
                        errors.append(f"{where}: duplicate id {doc_id!r} (first at {seen[doc_id]})")
                        continue
                    seen[doc_id] = where
                    docs.append(ParsedDocument(doc_id=doc_id, text=text, line=number))
        except (OSError, UnicodeDecodeError, EOFError) as exc:
            errors.append(f"{path}: cannot read ({exc})")
    if errors:
        raise ReferenceImportError(errors)
    if not docs:
        raise ReferenceImportError([f"{', '.join(map(str, paths))}: no records"])
    return docs


@dataclass
class ReferenceLoadResult:
    reference_set: ReferenceSet
    replaced: int
    rechecked: int
    contaminated: int


def reference_set_load(
    *,
    name: str,
    paths: Sequence[Path],
    fields: Sequence[str] | None = None,
    id_field: str | None = None,
    actor: Any = None,
    progress: Callable[[str], None] | None = None,
) -> ReferenceLoadResult:
    """Load (or reload) the reference set ``name`` from ``paths``, replacing its documents in
    one transaction, and re-check every submitted rewrite of every campaign against it in the
    same transaction, so hits never point at documents that are gone nor miss new ones.

    Raises ReferenceImportError (bad lines; nothing changes) or ValidationFailed (bad name)."""
    say = progress or (lambda _msg: None)
    try:
        validate_slug(name)
    except Exception as exc:
        raise ValidationFailed(
            f"Reference set name {name!r} must be a slug (letters, digits, - and _)."
        ) from exc
    docs = references_parse(paths, fields=fields, id_field=id_field)
    say(f"parsed {len(docs)} documents from {len(paths)} file(s)")
    sources = [{"file": Path(p).name, "sha256": _file_sha256(Path(p))} for p in paths]
    with transaction.atomic():
        ref, created = ReferenceSet.objects.select_for_update().get_or_create(
            name=name, defaults={"loaded_at": timezone.now()}
        )
        replaced = 0 if created else ref.documents.count()
        # Deleting the old documents deletes their hits too; they are recomputed below.
        ref.documents.all().delete()
        ReferenceDocument.objects.bulk_create(
            [
                ReferenceDocument(reference_set=ref, doc_id=d.doc_id, text=d.text, line=d.line)
                for d in docs
            ],
            batch_size=1000,
        )
        ref.sources = sources
        ref.fields = list(fields or DEFAULT_FIELDS)
        ref.documents_count = len(docs)
        ref.loaded_at = timezone.now()
        ref.loaded_by = actor if getattr(actor, "pk", None) else None
        ref.save(update_fields=["sources", "fields", "documents_count", "loaded_at", "loaded_by"])
        rechecked, contaminated = rewrites_decontaminate_all_campaigns(
            reference_sets=[ref], actor=actor, progress=say
        )
    return ReferenceLoadResult(
        reference_set=ref, replaced=replaced, rechecked=rechecked, contaminated=contaminated
    )


def reference_set_delete(*, name: str) -> int:
    """Remove a reference set and its hits. Raises NotFound."""
    deleted, _ = ReferenceSet.objects.filter(name=name).delete()
    if not deleted:
        raise NotFound(f"No reference set named {name!r}.")
    return deleted

"""Reference corpora: public benchmarks loaded from jsonl / jsonl.gz files."""

import gzip
import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.validators import validate_slug
from django.db import transaction
from django.utils import timezone

from annotation.models import Campaign, Role
from core import access
from core.access import is_operator
from core.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from core.transitions import EventKind, event_record

from ..models import ReferenceDocument, ReferenceSet
from ..selectors_references import (
    REFERENCE_SUFFIXES,
    reference_available,
    reference_set_may_reload,
)
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
                read = 0
                for number, raw in enumerate(fh, start=1):
                    where = f"{path.name} line {number}"
                    read += len(raw)
                    if read > settings.UPLOAD_MAX_BYTES:
                        limit = settings.UPLOAD_MAX_BYTES // (1024 * 1024)
                        errors.append(f"{path.name}: larger than {limit} MB (decompressed)")
                        break
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
    campaign: Campaign | None = None,
    progress: Callable[[str], None] | None = None,
) -> ReferenceLoadResult:
    """Load (or reload) the reference set ``name`` from ``paths``, replacing its documents in
    one transaction, and re-check every submitted rewrite of every campaign against it in the
    same transaction, so hits never point at documents that are gone nor miss new ones.

    Without ``campaign`` this is the operator's load (the ``load_references`` command): a new
    set has no owning campaign. With ``campaign`` it is a load from that campaign's workspace:
    ``actor`` must be one of its curators or an operator; a new set is recorded as loaded for
    that campaign (when the actor is its curator), an existing one may be replaced only by
    whoever ``reference_set_may_reload`` allows, and a ``reference_set.loaded`` event is
    written on ``campaign``.

    Raises ReferenceImportError (bad lines; nothing changes), ValidationFailed (bad name),
    NotFound / NotAllowed (``actor`` is not a curator of ``campaign``) and Conflict (the name
    belongs to a set ``actor`` may not replace; nothing changes)."""
    say = progress or (lambda _msg: None)
    if campaign is not None:
        access.require(actor, campaign, role=Role.CURATOR, missing="No such campaign.")
    try:
        validate_slug(name)
    except Exception as exc:
        raise ValidationFailed(
            f"Reference set name {name!r} must be a slug (letters, digits, - and _).",
            details={"errors": {"name": ["use letters, digits, '-' and '_'"]}},
        ) from exc
    if campaign is not None:
        # Refuse a name taken by someone else's set before reading any file (checked again
        # under the lock below, which is what decides).
        existing = ReferenceSet.objects.select_related("loaded_for").filter(name=name).first()
        if existing is not None and not reference_set_may_reload(actor, existing):
            raise Conflict(_reload_refused(existing), details={"errors": {"name": ["taken"]}})
    docs = references_parse(paths, fields=fields, id_field=id_field)
    say(f"parsed {len(docs)} documents from {len(paths)} file(s)")
    sources = [{"file": Path(p).name, "sha256": _file_sha256(Path(p))} for p in paths]
    with transaction.atomic():
        ref, created = ReferenceSet.objects.select_for_update(no_key=True).get_or_create(
            name=name, defaults={"loaded_at": timezone.now(), "loaded_for": _owner(actor, campaign)}
        )
        if not created and campaign is not None and not reference_set_may_reload(actor, ref):
            raise Conflict(_reload_refused(ref), details={"errors": {"name": ["taken"]}})
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
        if campaign is not None:
            event_record(
                campaign=campaign,
                actor=actor,
                kind=EventKind.REFERENCE_SET_LOADED,
                obj=ref,
                data={
                    "name": ref.name,
                    "documents": ref.documents_count,
                    "files": [source["file"] for source in sources],
                    "sha256": [source["sha256"] for source in sources],
                    "fields": ref.fields,
                    "replaced": replaced,
                    "rechecked": rechecked,
                    "contaminated": contaminated,
                },
            )
    return ReferenceLoadResult(
        reference_set=ref, replaced=replaced, rechecked=rechecked, contaminated=contaminated
    )


def _owner(actor: Any, campaign: Campaign | None) -> Campaign | None:
    """The campaign a new set is loaded for: the workspace's campaign when one of its curators
    loads it; none (a set for every campaign) when an operator or a command does."""
    if campaign is None or is_operator(actor):
        return None
    held = access.roles(actor, campaign)
    return campaign if Role.CURATOR in held else None


def _reload_refused(ref: ReferenceSet) -> str:
    # Another campaign's set is not even named: it is none of this campaign's business.
    if ref.loaded_for_id is None:
        owner = f"A reference set named {ref.name!r} is loaded by an operator: only an operator"
    else:
        owner = "That name is taken by a reference set of another campaign: nobody here"
    return f"{owner} may replace it. Choose another name to load these files as a new set."


def reference_set_upload(
    *,
    campaign: Campaign,
    actor: Any,
    name: str,
    uploads: Sequence[tuple[str, IO[bytes]]],
    fields: Sequence[str] | None = None,
    id_field: str | None = None,
) -> ReferenceLoadResult:
    """Load uploaded files (``(file name, binary stream)`` pairs, each a .jsonl or .jsonl.gz)
    as the reference set ``name`` from ``campaign``'s workspace: they are saved to a temporary
    folder under their own names (so bad lines are named by file and line), parsed and loaded
    with ``reference_set_load``; the folder is removed afterwards.

    Raises ValidationFailed (no file, a file of another kind, two files of one name), and what
    ``reference_set_load`` raises; nothing is loaded on any error."""
    access.require(actor, campaign, role=Role.CURATOR, missing="No such campaign.")
    problems: list[str] = []
    names: list[str] = []
    for raw_name, _stream in uploads:
        file_name = Path(raw_name.replace("\\", "/")).name
        if not file_name.endswith(REFERENCE_SUFFIXES) or file_name.startswith("."):
            problems.append(f"{raw_name or '(no name)'}: not a .jsonl or .jsonl.gz file")
        elif file_name in names:
            problems.append(f"{file_name}: uploaded twice")
        names.append(file_name)
    if not uploads:
        problems.append("no file uploaded")
    if problems:
        raise ValidationFailed(
            "Upload one or more .jsonl or .jsonl.gz files, each once.",
            details={"errors": {"files": problems}},
        )
    with tempfile.TemporaryDirectory(prefix="codearena-references-") as folder:
        paths: list[Path] = []
        for file_name, (_raw, stream) in zip(names, uploads, strict=True):
            path = Path(folder) / file_name
            with path.open("wb") as out:
                shutil.copyfileobj(stream, out, 1 << 20)
            paths.append(path)
        return reference_set_load(
            name=name,
            paths=paths,
            fields=fields or None,
            id_field=id_field or None,
            actor=actor,
            campaign=campaign,
        )


def reference_set_enable(*, campaign: Campaign, actor: Any, name: str) -> ReferenceLoadResult:
    """Load the set ``name`` that ``settings.REFERENCES_DIR`` offers (all its jsonl / jsonl.gz
    files, the default fields and ids) from ``campaign``'s workspace. Enabling a set that is
    loaded already reloads it, under the same rule as any reload.

    Raises NotFound (no such set offered), and what ``reference_set_load`` raises."""
    access.require(actor, campaign, role=Role.CURATOR, missing="No such campaign.")
    available = reference_available(name=name)
    return reference_set_load(
        name=available.name, paths=available.paths, actor=actor, campaign=campaign
    )


def reference_set_delete(*, name: str, actor: Any = None) -> int:
    """Remove a reference set and its hits. Without ``actor`` (a command) or for an operator
    any set; for anyone else only a set ``reference_set_may_reload`` allows them.

    Raises NotFound and NotAllowed."""
    with transaction.atomic():
        ref = ReferenceSet.objects.select_for_update(no_key=True).filter(name=name).first()
        if ref is None:
            raise NotFound(f"No reference set named {name!r}.")
        if actor is not None and not reference_set_may_reload(actor, ref):
            raise NotAllowed(
                f"Only the curators of the campaign that loaded {name!r}, or an operator, may "
                "delete it."
            )
        deleted, _ = ref.delete()
    return deleted

"""Seed files uploaded in the browser or the API, as jobs: checked first (a dry run), imported
on a curator's confirmation, each with progress and a report.

``SeedImport``: checking -> checked | failed (``seed_import_check``, the check job),
checked -> importing (``seed_import_approve``, a curator), checked -> discarded
(``seed_import_discard``: the stored file is deleted), importing -> done | failed
(``seed_import_run``, the import job).

Both jobs read the stored file the same way, as the upload's ``options`` say (format, preset,
field mapping: ``seed_formats``), as a stream of records (strict UTF-8), and validate each with
the rules and messages of ``seeds_import`` (``SeedLines``). Neither holds the seeds: seeds are
streamed, never held. On PostgreSQL (``seed_staging``) each job streams the parsed seeds with
COPY into a staging table and sorts them there with SQL (ids repeated within the file, seeds
already present, duplicate content), so nothing per seed stays in memory and the queries are
constant in the file's size; the import then writes the new seeds with one ``INSERT ...
SELECT`` and moves the job to done in the same transaction, so a job whose worker died left
nothing behind and starts again from the top. Progress is written on a connection of its own
meanwhile, so it shows while that transaction runs. On SQLite seeds are looked up and written a
batch at a time; only ids (duplicate ids are bad lines) and, for the check, content hashes of
seeds to import stay in memory, and the import commits each batch with its progress and its
running report, so a job whose worker died resumes after the last committed batch. Either way
seeds already present (same id) are skipped: importing a file twice imports nothing twice. Jobs
are enqueued by ``annotation.jobs``."""

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core import access
from core.errors import Conflict, DomainError, InvalidTransition, ValidationFailed
from core.transitions import EventKind, event_record, transition

from ..models import Campaign, Role, Seed, SeedImport
from ..vocabulary import Vocabulary
from . import seed_staging
from .seed_formats import (
    FORMATS,
    FieldMapping,
    SeedFile,
    UnsupportedFile,
    detect,
    is_blank,
    open_seed_file,
)
from .seed_staging import Outcome, ProgressAside, Stage
from .seeds import SeedFields, SeedLines, duplicate_id_message, max_reported_errors

# Lists in a report keep this many entries (the counts next to them are complete).
REPORT_CAP = 1000
SAMPLE_ROWS = 20
# Seeds looked up (and, when importing, written) per batch and transaction.
BATCH = 2000
# A job still "checking" or "importing" this long after its worker took it lost that worker;
# a redelivered task may take it over.
STALE_AFTER = timedelta(minutes=30)


@dataclass
class SeedFileTally:
    """What a check found, or what an import did, so far. ``new`` is the number of seeds to
    import (check) or imported (import)."""

    lines: int = 0  # lines (JSON lines), rows (CSV, TSV, Parquet) or records (JSON array)
    seeds: int = 0  # well-formed seed lines
    new: int = 0
    already_present: int = 0
    duplicate_content: int = 0
    bad_lines: int = 0
    repeated: int = 0  # the same task id again, kept once (Label Studio JSON-MIN)
    already_present_ids: list[str] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)  # {line, id, same_as}
    # one per bad line: {line, message (every reason, joined), reasons}
    errors: list[dict[str, Any]] = field(default_factory=list)
    repeats: list[dict[str, Any]] = field(default_factory=list)  # {line, id, first_line}
    sample: list[dict[str, Any]] = field(default_factory=list)
    task_types_classified: int = 0
    task_type_notes: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SeedFileTally":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def bad_line(self, lineno: int, messages: list[str]) -> None:
        self.bad_lines += 1
        if len(self.errors) < max_reported_errors():
            self.errors.append(
                {"line": lineno, "message": "; ".join(messages), "reasons": list(messages)}
            )

    def repeat(self, lineno: int, seed_id: str, first_line: int) -> None:
        self.repeated += 1
        if len(self.repeats) < REPORT_CAP:
            self.repeats.append({"line": lineno, "id": seed_id, "first_line": first_line})

    def note_task_types(self, parser: SeedLines) -> None:
        self.task_types_classified = parser.task_types.classified
        self.task_type_notes = parser.task_types.notes(cap=REPORT_CAP)


def _sample_row(lineno: int, seed: Seed | SeedFields, outcome: str) -> dict[str, Any]:
    sub = seed.subcategory
    return {
        "line": lineno,
        "id": seed.external_id,
        "title": seed.title[:200],
        "text": seed.body[:300],
        "category": sub.category.name if sub is not None else None,
        "subcategory": sub.name if sub is not None else None,
        "outcome": outcome,
    }


class _Sorter:
    """Sorts parsed seeds, in file order and a batch at a time, into already present (the id is
    in the campaign), duplicate content (an existing seed, or an earlier seed of the file that
    is imported, has the same content) and new: the rules of ``seeds_import``. Each batch is
    looked up with two queries. Until ``forget`` it remembers the content of the new seeds (16
    bytes of their hash each), which the check needs and the import does not (its earlier
    batches are in the database)."""

    def __init__(self, campaign: Campaign) -> None:
        self.campaign = campaign
        self.new_content: dict[bytes, str] = {}

    def forget(self) -> None:
        self.new_content.clear()

    def sort(self, batch: list[tuple[int, Seed]], tally: SeedFileTally) -> list[Seed]:
        """The new seeds of ``batch``; the rest counted (and listed) in ``tally``."""
        if not batch:
            return []
        present = set(
            Seed.objects.filter(
                campaign=self.campaign, external_id__in=[s.external_id for _, s in batch]
            ).values_list("external_id", flat=True)
        )
        known = dict(
            Seed.objects.filter(
                campaign=self.campaign, content_hash__in={s.content_hash for _, s in batch}
            ).values_list("content_hash", "external_id")
        )
        new: list[Seed] = []
        for lineno, seed in batch:
            key = bytes.fromhex(seed.content_hash[:32])
            same_as = known.get(seed.content_hash) or self.new_content.get(key)
            if seed.external_id in present:
                outcome = "already_present"
                tally.already_present += 1
                if len(tally.already_present_ids) < REPORT_CAP:
                    tally.already_present_ids.append(seed.external_id)
            elif same_as is not None:
                outcome = "duplicate_content"
                tally.duplicate_content += 1
                if len(tally.duplicates) < REPORT_CAP:
                    tally.duplicates.append(
                        {"line": lineno, "id": seed.external_id, "same_as": same_as}
                    )
            else:
                outcome = "new"
                tally.new += 1
                self.new_content[key] = seed.external_id
                new.append(seed)
            if len(tally.sample) < SAMPLE_ROWS:
                tally.sample.append(_sample_row(lineno, seed, outcome))
        return new


def taxonomy_fingerprint(vocab: Vocabulary) -> str:
    """A digest of the names a seed file is checked against: if it is unchanged, a file that
    checked clean still does."""
    categories = sorted({(c.pk, c.name, c.short_name) for c in vocab.categories.values()})
    subs = sorted(
        {(s.pk, s.name, s.short_name, s.category_id) for s in vocab.subcategories.values()}
    )
    return hashlib.sha256(json.dumps([categories, subs]).encode()).hexdigest()[:16]


def import_options(
    *, format: str = "auto", preset: str | None = None, fields: Any = None
) -> dict[str, Any]:
    """The options of an upload, checked (ValidationFailed names an unknown format, preset or
    target): what ``SeedImport.options`` holds."""
    mapping = FieldMapping.build(preset=preset, fields=fields)
    if format != "auto" and format not in FORMATS:
        raise ValidationFailed(
            f"Unknown format {format!r}; one of auto, {', '.join(FORMATS)}.",
            details={"errors": {"format": [f"one of auto, {', '.join(FORMATS)}"]}},
        )
    return {"format": format, **mapping.options()}


def _mapping(seed_import: SeedImport) -> FieldMapping:
    options = seed_import.options or {}
    return FieldMapping.build(preset=options.get("preset"), fields=options.get("fields"))


@contextmanager
def _seed_file(seed_import: SeedImport) -> Iterator[SeedFile]:
    """The stored file, read as its options say (the same way by the check and the import)."""
    forced = (seed_import.options or {}).get("format", "auto")
    with (
        seed_import.file.open("rb") as fh,
        open_seed_file(
            fh, seed_import.original_name, size=seed_import.size, forced=forced
        ) as seed_file,
    ):
        yield seed_file


def _percent(done: int, total: int) -> int:
    return min(done * 100 // total, 99) if total else 99


_ASIDE: ContextVar[ProgressAside | None] = ContextVar("seed_import_progress", default=None)


def _write_progress(import_id: int, *, status: str, claimed: datetime, **values: Any) -> int:
    """Progress is not a status change: no event, and only while this worker holds the job.
    Inside ``_progress_aside`` it is written on a connection of its own."""
    aside = _ASIDE.get()
    if aside is not None:
        return aside.write(import_id, status=status, claimed=claimed, values=values)
    return SeedImport.objects.filter(pk=import_id, status=status, started_at=claimed).update(
        **values
    )


@contextmanager
def _progress_aside() -> Iterator[None]:
    """Progress written while the job's transaction runs shows at once (``ProgressAside``)."""
    aside = ProgressAside()
    aside.open()
    token = _ASIDE.set(aside)
    try:
        yield
    finally:
        _ASIDE.reset(token)
        aside.close()


def _claim(import_id: int, *, status: str, now: datetime) -> bool:
    """Take the job in ``status`` for this worker: when nobody holds it, or its holder went
    quiet for STALE_AFTER (a redelivered task takes over)."""
    free = Q(started_at__isnull=True) | Q(started_at__lt=now - STALE_AFTER)
    return SeedImport.objects.filter(free, pk=import_id, status=status).update(started_at=now) == 1


def _finish(
    seed_import: SeedImport,
    *,
    to: str,
    kind: EventKind,
    claimed: datetime,
    data: dict[str, Any],
    extra: dict[str, Any],
) -> bool:
    """Move the job this worker holds to ``to`` (with its event); False if it was taken over."""
    try:
        with transaction.atomic():
            transition(
                seed_import,
                to=to,
                allowed=SeedImport.TRANSITIONS,
                kind=kind,
                actor=seed_import.created_by,
                data=data,
                where=Q(started_at=claimed),
                extra={"finished_at": timezone.now(), **extra},
            )
            if to == SeedImport.Status.DONE and data.get("created"):
                # The campaign-level record the command writes too.
                event_record(
                    campaign=seed_import.campaign_id,
                    actor=seed_import.created_by,
                    kind=EventKind.SEEDS_IMPORTED,
                    obj=seed_import.campaign,
                    data={**data, "seed_import": seed_import.pk},
                )
    except InvalidTransition:
        return False
    return True


def _fail(seed_import: SeedImport, exc: Exception, *, claimed: datetime) -> None:
    """Mark the job failed with the error's message (a domain error's, for a person). The
    caller re-raises anything else, for the worker's log."""
    message = exc.message if isinstance(exc, DomainError) else f"internal error: {exc!r}"
    _finish(
        seed_import,
        to=SeedImport.Status.FAILED,
        kind=EventKind.SEED_IMPORT_FAILED,
        claimed=claimed,
        data={"error": message[:1000]},
        extra={"error": message, "message": message[:300]},
    )


def _load(import_id: int) -> SeedImport:
    return SeedImport.objects.select_related("campaign", "created_by").get(pk=import_id)


@transaction.atomic
def seed_import_create(
    *,
    campaign: Campaign,
    actor: Any,
    upload: "File[bytes]",
    skip_bad_lines: bool = False,
    options: dict[str, Any] | None = None,
) -> SeedImport:
    """Store an uploaded seed file (default storage), with its size and sha256 and how it is
    read (``options``, see ``import_options``), as an import in ``checking``, and record the
    upload. The check is enqueued by ``annotation.jobs.seed_import_start``.

    Raises NotFound / NotAllowed (not a curator of the campaign), ValidationFailed for an
    empty file or bad options, and UnsupportedFile (a ValidationFailed) for a file in a
    format or encoding the import does not read (a zip, UTF-16, a binary), told from its first
    bytes; text that turns out not to be UTF-8 further on fails the check instead."""
    access.require(actor, campaign, role=Role.CURATOR, missing="No such campaign.")
    options = import_options(**(options or {}))
    digest = hashlib.sha256()
    size = 0
    for chunk in upload.chunks():
        digest.update(chunk)
        size += len(chunk)
    if size == 0:
        raise ValidationFailed(
            "The file is empty.", details={"errors": {"file": ["the file is empty"]}}
        )
    if size > settings.UPLOAD_MAX_BYTES:
        limit = f"{settings.UPLOAD_MAX_BYTES // (1024 * 1024)} MB"
        raise ValidationFailed(
            f"The file is larger than {limit}; split it into several uploads.",
            details={"errors": {"file": [f"larger than {limit}"]}},
        )
    name = os.path.basename(upload.name or "") or "seeds.jsonl"
    try:
        detect(upload, name, forced=options["format"])
    except UnsupportedFile:
        raise
    except ValidationFailed:
        pass  # e.g. not UTF-8 further on: the check names it, with its byte and line
    upload.seek(0)
    seed_import = SeedImport(
        campaign=campaign,
        original_name=name[:255],
        size=size,
        sha256=digest.hexdigest(),
        skip_bad_lines=skip_bad_lines,
        options=options,
        created_by=actor,
        message="waiting for a worker",
    )
    seed_import.file.save(name, upload, save=False)
    stored = seed_import.file.name
    try:
        seed_import.save()
        event_record(
            campaign=campaign,
            actor=actor,
            kind=EventKind.SEED_IMPORT_UPLOADED,
            obj=seed_import,
            to_state=SeedImport.Status.CHECKING,
            data={
                "file": seed_import.original_name,
                "size": size,
                "sha256": seed_import.sha256,
                "options": options,
            },
        )
    except Exception:
        seed_import.file.storage.delete(stored)
        raise
    return seed_import


def seed_import_check(*, import_id: int) -> SeedImport:
    """The check job (a dry run): read the whole file, validate every line as ``seeds_import``
    does and count what an import would do -> ``checked`` with ``check_report``, or ``failed``
    with the error (a file that is not UTF-8, say). Writes no seed. Idempotent: an import that
    is not waiting for its check is left alone, unless its check went quiet for STALE_AFTER."""
    now = timezone.now()
    if not _claim(import_id, status=SeedImport.Status.CHECKING, now=now):
        return _load(import_id)
    seed_import = _load(import_id)
    try:
        report = _check(seed_import, claimed=now)
    except Exception as exc:
        _fail(seed_import, exc, claimed=now)
        if not isinstance(exc, DomainError):
            raise
    else:
        _finish(
            seed_import,
            to=SeedImport.Status.CHECKED,
            kind=EventKind.SEED_IMPORT_CHECKED,
            claimed=now,
            data={k: report[k] for k in ("lines", "new", "bad_lines")},
            extra={
                "check_report": report,
                "progress": 100,
                "message": _check_message(report),
            },
        )
    seed_import.refresh_from_db()
    return seed_import


def _check_message(report: dict[str, Any]) -> str:
    unit = report["format"]["unit"]
    text = (
        f"{report['format']['description']}, {report['lines']} {unit}s: {report['new']} seeds "
        f"to import, {report['bad_lines']} bad {unit}(s)"
    )
    if report["nothing_to_import"]:
        text = f"nothing to import ({report['nothing_to_import']}); " + text
    return text[:300]


class _Sample:
    """The first SAMPLE_ROWS seeds of the file whose id no earlier seed has (the report's
    sample; their outcomes are read from the staging table). Ids are remembered only until the
    sample is full."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, SeedFields]] = []
        self.ids: set[str] | None = set()

    def offer(self, line: int, fields: SeedFields) -> None:
        if self.ids is None or fields.external_id in self.ids:
            return
        self.ids.add(fields.external_id)
        self.rows.append((line, fields))
        if len(self.rows) >= SAMPLE_ROWS:
            self.ids = None


_OUTCOMES = {
    Outcome.PRESENT: "already_present",
    Outcome.DUPLICATE: "duplicate_content",
    Outcome.NEW: "new",
}


def _tally_staged(
    stage: Stage, parser: SeedLines, tally: SeedFileTally, sample: _Sample, *, staged: int
) -> None:
    """Fill ``tally`` from the sorted staging table: counts, and the capped lists in file
    order, as ``_Sorter`` and ``SeedLines`` fill them one seed at a time."""
    counts = stage.counts()
    repeated = counts[Outcome.REPEATED_ID]
    tally.seeds = staged - repeated
    if parser.repeats_are_tasks:
        tally.repeated = repeated
        tally.repeats = [
            {"line": r.line, "id": r.external_id, "first_line": r.ref_line}
            for r in stage.first(Outcome.REPEATED_ID, REPORT_CAP)
        ]
    elif repeated:
        cap = max_reported_errors()
        extra = []
        for r in stage.first(Outcome.REPEATED_ID, cap):
            message = duplicate_id_message(r.external_id, int(r.ref_line or 0))
            extra.append({"line": r.line, "message": message, "reasons": [message]})
        tally.errors = sorted(tally.errors + extra, key=lambda e: int(e["line"]))[:cap]
        tally.bad_lines += repeated
    tally.new = counts[Outcome.NEW]
    tally.already_present = counts[Outcome.PRESENT]
    tally.already_present_ids = [r.external_id for r in stage.first(Outcome.PRESENT, REPORT_CAP)]
    tally.duplicate_content = counts[Outcome.DUPLICATE]
    tally.duplicates = [
        {"line": r.line, "id": r.external_id, "same_as": r.same_as}
        for r in stage.first(Outcome.DUPLICATE, REPORT_CAP)
    ]
    outcomes = stage.of_lines([line for line, _ in sample.rows])
    tally.sample = [
        _sample_row(line, fields, _OUTCOMES[outcomes[line].kind]) for line, fields in sample.rows
    ]
    tally.note_task_types(parser)


def _check_staged(seed_import: SeedImport, *, claimed: datetime) -> dict[str, Any]:
    """``_check`` as set-based SQL (PostgreSQL): the ids and content hashes streamed with COPY
    into a staging table and sorted there, in one transaction that writes nothing else."""
    vocab = Vocabulary.for_campaign(seed_import.campaign)
    parser = SeedLines(vocab, _mapping(seed_import))
    tally = SeedFileTally()
    sample = _Sample()
    stage = Stage(full=False)
    shown = 0
    with transaction.atomic(), _progress_aside():
        stage.create()
        with _seed_file(seed_import) as seed_file, stage.copying() as write:
            unit = seed_file.detected.unit
            for row in seed_file.rows():
                tally.lines = row.index
                if not is_blank(row):
                    parsed = parser.parse_alone(row)
                    if parsed.errors:
                        tally.bad_line(row.number, parsed.errors)
                    elif parsed.fields is not None:
                        write(row.number, parsed.fields)
                        sample.offer(row.number, parsed.fields)
                shown = _checking_progress(seed_import, seed_file, row.number, shown, claimed)
            detected = seed_file.detected.to_dict()
        parser.check_mapping()
        stage.classify(seed_import.campaign_id)
        _tally_staged(stage, parser, tally, sample, staged=stage.rows)
    return {
        **tally.to_dict(),
        "format": detected,
        "taxonomy": taxonomy_fingerprint(vocab),
        "nothing_to_import": _nothing_to_import(tally, unit),
    }


def _checking_progress(
    seed_import: SeedImport, seed_file: SeedFile, number: int, shown: int, claimed: datetime
) -> int:
    """Write the check's progress when the share of the file read has grown; returns the
    share now shown."""
    percent = _percent(int(seed_file.fraction() * 1000), 1000)
    if percent > shown:
        _write_progress(
            seed_import.pk,
            status=SeedImport.Status.CHECKING,
            claimed=claimed,
            progress=percent,
            message=f"checking: {number} {seed_file.detected.unit}s read",
        )
    return max(percent, shown)


def _check(seed_import: SeedImport, *, claimed: datetime) -> dict[str, Any]:
    if seed_staging.available():
        return _check_staged(seed_import, claimed=claimed)
    vocab = Vocabulary.for_campaign(seed_import.campaign)
    parser = SeedLines(vocab, _mapping(seed_import))
    sorter = _Sorter(seed_import.campaign)
    tally = SeedFileTally()
    batch: list[tuple[int, Seed]] = []
    shown = 0
    with _seed_file(seed_import) as seed_file:
        unit = seed_file.detected.unit
        for row in seed_file.rows():
            tally.lines = row.index
            if not is_blank(row):
                parsed = parser.parse_row(row)
                if parsed.errors:
                    tally.bad_line(row.number, parsed.errors)
                elif parsed.repeated_of is not None:
                    tally.repeat(row.number, parser.row_id(row), parsed.repeated_of)
                elif (seed := parsed.seed) is not None:
                    tally.seeds += 1
                    batch.append((row.number, seed))
            if len(batch) >= BATCH:
                sorter.sort(batch, tally)
                batch = []
            shown = _checking_progress(seed_import, seed_file, row.number, shown, claimed)
        detected = seed_file.detected.to_dict()
    sorter.sort(batch, tally)
    parser.check_mapping()
    tally.note_task_types(parser)
    return {
        **tally.to_dict(),
        "format": detected,
        "taxonomy": taxonomy_fingerprint(vocab),
        "nothing_to_import": _nothing_to_import(tally, unit),
    }


def _nothing_to_import(tally: SeedFileTally, unit: str) -> str | None:
    """Why importing the file would create nothing and find nothing present, or None."""
    if tally.new or tally.already_present:
        return None
    why = []
    if not tally.seeds and not tally.bad_lines and not tally.repeated:
        why.append("the file has no records")
    if tally.bad_lines:
        why.append(f"{tally.bad_lines} of {tally.lines} {unit}s are bad")
    if tally.duplicate_content:
        why.append(f"{tally.duplicate_content} seed(s) repeat the content of others")
    return "; ".join(why) or "no record is a seed"


def _lock_checked(*, import_id: int, actor: Any) -> SeedImport:
    seed_import = (
        SeedImport.objects.select_for_update(no_key=True, of=("self",))
        .select_related("campaign")
        .filter(pk=import_id)
        .first()
    )
    access.require_object(actor, seed_import, role=Role.CURATOR, missing="No such import.")
    assert seed_import is not None  # require_object raised NotFound otherwise
    if seed_import.status != SeedImport.Status.CHECKED:
        raise InvalidTransition(
            f"This import is {seed_import.get_status_display().lower()}; only a checked import "
            "can be confirmed or discarded."
        )
    return seed_import


@transaction.atomic
def seed_import_approve(
    *, import_id: int, actor: Any, skip_bad_lines: bool | None = None
) -> SeedImport:
    """A curator confirms a checked import: checked -> importing (the job is enqueued by
    ``annotation.jobs.seed_import_confirm``). ``skip_bad_lines`` (default: as chosen at the
    upload) must be set when the check found bad lines.

    Raises NotFound / NotAllowed, InvalidTransition (not checked), ValidationFailed (bad lines
    and not skipping them) and Conflict (the taxonomy changed since the check)."""
    seed_import = _lock_checked(import_id=import_id, actor=actor)
    nothing = seed_import.check_report.get("nothing_to_import")
    if nothing:
        raise ValidationFailed(
            f"Nothing to import: {nothing}. Fix the file (or its format, preset and field "
            "mapping) and upload it again.",
            details={"errors": {"file": [f"nothing to import: {nothing}"]}},
        )
    skip = seed_import.skip_bad_lines if skip_bad_lines is None else skip_bad_lines
    bad = int(seed_import.check_report.get("bad_lines", 0))
    if bad and not skip:
        raise ValidationFailed(
            f"The file has {bad} bad line(s), so it cannot be imported as it is. Fix them and "
            "upload the file again, or confirm with bad lines skipped to import the good ones.",
            details={"errors": {"skip_bad_lines": [f"{bad} bad line(s); set it to skip them"]}},
        )
    if seed_import.check_report.get("taxonomy") != taxonomy_fingerprint(
        Vocabulary.for_campaign(seed_import.campaign)
    ):
        raise Conflict(
            "The campaign's categories or subcategories changed since this file was checked; "
            "discard it and upload it again to check it against them."
        )
    transition(
        seed_import,
        to=SeedImport.Status.IMPORTING,
        allowed=SeedImport.TRANSITIONS,
        kind=EventKind.SEED_IMPORT_STARTED,
        actor=actor,
        data={"skip_bad_lines": skip},
        extra={
            "skip_bad_lines": skip,
            "progress": 0,
            "started_at": None,
            "finished_at": None,
            "report": {},
            "message": "waiting for a worker",
        },
    )
    return seed_import


@transaction.atomic
def seed_import_discard(*, import_id: int, actor: Any) -> SeedImport:
    """A curator drops a checked import: checked -> discarded; its stored file is deleted once
    the transaction commits. Raises NotFound / NotAllowed and InvalidTransition (not checked)."""
    seed_import = _lock_checked(import_id=import_id, actor=actor)
    storage, stored = seed_import.file.storage, seed_import.file.name
    transition(
        seed_import,
        to=SeedImport.Status.DISCARDED,
        allowed=SeedImport.TRANSITIONS,
        kind=EventKind.SEED_IMPORT_DISCARDED,
        actor=actor,
        extra={"file": "", "message": "discarded"},
        after_commit=[lambda: storage.delete(stored)] if stored else [],
    )
    return seed_import


class _TakenOver(Exception):
    """Another worker took the job over (this one was thought dead): stop quietly."""


def seed_import_run(*, import_id: int) -> SeedImport:
    """The import job: import a confirmed file's seeds in batches (each batch, its progress and
    the running report in one transaction) -> ``done`` with the final report and the
    ``seeds.imported`` event, or ``failed``. Idempotent: an import that is not waiting for its
    job is left alone, unless its job went quiet for STALE_AFTER, in which case it resumes
    after the last committed batch; seeds whose id is present are never imported twice."""
    now = timezone.now()
    if not _claim(import_id, status=SeedImport.Status.IMPORTING, now=now):
        return _load(import_id)
    seed_import = _load(import_id)
    # A job an earlier version left half done (batches committed) resumes batch by batch.
    staged = seed_staging.available() and not (seed_import.report or {}).get("resume_after")
    try:
        if staged:
            _import_staged(seed_import, claimed=now)  # done in the same transaction
        else:
            _finish_done(seed_import, _import(seed_import, claimed=now), claimed=now)
    except _TakenOver:
        pass
    except Exception as exc:
        _fail(seed_import, exc, claimed=now)
        if not isinstance(exc, DomainError):
            raise
    seed_import.refresh_from_db()
    return seed_import


def _finish_done(seed_import: SeedImport, report: dict[str, Any], *, claimed: datetime) -> bool:
    created = report["new"]
    return _finish(
        seed_import,
        to=SeedImport.Status.DONE,
        kind=EventKind.SEED_IMPORT_DONE,
        claimed=claimed,
        data={
            "created": created,
            "already_present": report["already_present"],
            "duplicate_content": report["duplicate_content"],
            "skipped_bad_lines": report["bad_lines"],
        },
        extra={
            "report": report,
            "progress": 100,
            "message": f"{created} seeds imported",
        },
    )


def _import_staged(seed_import: SeedImport, *, claimed: datetime) -> dict[str, Any]:
    """``_import`` as set-based SQL (PostgreSQL), in one transaction: every parsed seed
    streamed with COPY into a staging table (progress every BATCH seeds, written aside), then,
    holding the job and the campaign, the seeds sorted there, the new ones written with one
    ``INSERT ... SELECT``, and the job moved to done with its report and events. A worker that
    dies leaves nothing; the job is taken over after STALE_AFTER and starts from the top."""
    campaign = seed_import.campaign
    vocab = Vocabulary.for_campaign(campaign)
    if seed_import.check_report.get("taxonomy") != taxonomy_fingerprint(vocab):
        raise Conflict(
            "The campaign's categories or subcategories changed since this file was checked; "
            "upload it again to check it against them."
        )
    parser = SeedLines(vocab, _mapping(seed_import))
    tally = SeedFileTally()
    sample = _Sample()
    stage = Stage(full=True)
    first_bad: tuple[int, list[str]] | None = None
    with transaction.atomic():
        stage.create()
        with (
            _progress_aside(),
            _seed_file(seed_import) as seed_file,
            stage.copying() as write,
        ):
            unit = seed_file.detected.unit

            def progress(lineno: int) -> None:
                _write_progress(
                    seed_import.pk,
                    status=SeedImport.Status.IMPORTING,
                    claimed=claimed,
                    progress=_percent(int(seed_file.fraction() * 1000), 1000),
                    message=f"importing: {lineno} {unit}s read",
                )

            lineno = 0
            for row in seed_file.rows():
                lineno = row.number
                tally.lines = row.index
                if is_blank(row):
                    continue
                parsed = parser.parse_alone(row)
                if parsed.errors:
                    if not seed_import.skip_bad_lines:
                        first_bad = (lineno, parsed.errors)
                        break
                    tally.bad_line(lineno, parsed.errors)
                    continue
                assert parsed.fields is not None
                write(lineno, parsed.fields)
                sample.offer(lineno, parsed.fields)
                if stage.rows % BATCH == 0:
                    progress(lineno)
            if first_bad is None:
                progress(lineno)
        _hold(seed_import, claimed=claimed)
        stage.classify(campaign.pk)
        if not seed_import.skip_bad_lines and not parser.repeats_are_tasks:
            before = first_bad[0] if first_bad else None
            for r in stage.first(Outcome.REPEATED_ID, 1, before=before):
                message = duplicate_id_message(r.external_id, int(r.ref_line or 0))
                first_bad = (r.line, [message])
        if first_bad is not None:
            bad_line, errors = first_bad
            raise ValidationFailed(
                f"{unit.capitalize()} {bad_line} is bad although the check passed "
                f"({'; '.join(errors)}); the import stopped there. Upload the file again to "
                "check it.",
                details={"errors": [f"{unit} {bad_line}: {e}" for e in errors]},
            )
        _tally_staged(stage, parser, tally, sample, staged=stage.rows)
        written = stage.insert_new(campaign.pk) if tally.new else 0
        assert written == tally.new, (written, tally.new)
        report = tally.to_dict()
        if not _finish_done(seed_import, report, claimed=claimed):
            raise _TakenOver
    return report


def _hold(seed_import: SeedImport, *, claimed: datetime) -> None:
    """Lock the job (still this worker's, or _TakenOver) and its campaign until the end of the
    transaction: one importer of a campaign at a time from lookup to insert, so another import
    (or import_seeds) of overlapping seeds sees these as already present instead of colliding
    with them on the unique constraints."""
    held = (
        SeedImport.objects.select_for_update(no_key=True)
        .filter(pk=seed_import.pk, status=SeedImport.Status.IMPORTING, started_at=claimed)
        .exists()
    )
    if not held:
        raise _TakenOver
    Campaign.objects.select_for_update(no_key=True).filter(pk=seed_import.campaign_id).first()


def _import(seed_import: SeedImport, *, claimed: datetime) -> dict[str, Any]:
    campaign = seed_import.campaign
    vocab = Vocabulary.for_campaign(campaign)
    if seed_import.check_report.get("taxonomy") != taxonomy_fingerprint(vocab):
        raise Conflict(
            "The campaign's categories or subcategories changed since this file was checked; "
            "upload it again to check it against them."
        )
    # A resumed job starts after the last batch an earlier attempt committed.
    saved = seed_import.report or {}
    resume_after = int(saved.get("resume_after", 0))
    tally = SeedFileTally.from_dict(saved) if resume_after else SeedFileTally()
    parser = SeedLines(vocab, _mapping(seed_import))
    sorter = _Sorter(campaign)
    batch: list[tuple[int, Seed]] = []

    def commit(lineno: int, fraction: float) -> None:
        with transaction.atomic():
            _hold(seed_import, claimed=claimed)
            Seed.objects.bulk_create(sorter.sort(batch, tally), batch_size=BATCH)
            tally.note_task_types(parser)
            _write_progress(
                seed_import.pk,
                status=SeedImport.Status.IMPORTING,
                claimed=claimed,
                progress=_percent(int(fraction * 1000), 1000),
                message=f"importing: {tally.new} seeds imported, {lineno} {unit}s read",
                report={**tally.to_dict(), "resume_after": lineno},
            )
        # Earlier batches are in the database now, where the next ones look them up.
        sorter.forget()
        batch.clear()

    lineno = 0
    with _seed_file(seed_import) as seed_file:
        unit = seed_file.detected.unit
        for row in seed_file.rows():
            lineno = row.number
            if is_blank(row):
                if lineno > resume_after:
                    tally.lines = row.index
                continue
            parsed = parser.parse_row(row)  # also to learn the ids of earlier lines
            if lineno <= resume_after:
                continue
            tally.lines = row.index
            if parsed.errors:
                if not seed_import.skip_bad_lines:
                    raise ValidationFailed(
                        f"{unit.capitalize()} {lineno} is bad although the check passed "
                        f"({'; '.join(parsed.errors)}); the import stopped there. Upload the "
                        "file again to check it.",
                        details={"errors": [f"{unit} {lineno}: {e}" for e in parsed.errors]},
                    )
                tally.bad_line(lineno, parsed.errors)
                continue
            if parsed.repeated_of is not None:
                tally.repeat(lineno, parser.row_id(row), parsed.repeated_of)
                continue
            seed = parsed.seed
            assert seed is not None
            tally.seeds += 1
            batch.append((lineno, seed))
            if len(batch) >= BATCH:
                commit(lineno, seed_file.fraction())
        if lineno > resume_after:
            commit(lineno, seed_file.fraction())
    return tally.to_dict()


def seed_imports_stale(*, now: datetime | None = None) -> tuple[list[int], list[int]]:
    """Imports whose job went quiet for STALE_AFTER (its worker died, or its task message was
    lost): (waiting for their check, waiting for their import). The periodic sweep enqueues
    them again; a job that is in fact running refuses a second claim, so this is safe."""
    now = now or timezone.now()
    quiet = Q(started_at__lt=now - STALE_AFTER) | Q(
        started_at__isnull=True, created_at__lt=now - STALE_AFTER
    )
    rows = SeedImport.objects.filter(
        quiet, status__in=[SeedImport.Status.CHECKING, SeedImport.Status.IMPORTING]
    ).values_list("pk", "status")
    checking = [pk for pk, status in rows if status == SeedImport.Status.CHECKING]
    importing = [pk for pk, status in rows if status == SeedImport.Status.IMPORTING]
    return checking, importing

import contextlib
import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import connection, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from core.errors import InvalidTransition, ValidationFailed
from core.transitions import EventKind, event_record, transition_many

from ..codearena import levels_for
from ..models import Campaign, Seed
from ..sampling import sampling_quotas
from ..selectors_seeds import sampling_counts
from ..vocabulary import Vocabulary
from . import seed_staging, seeds_bulk
from .assignments import dealing_annotators
from .seed_formats import (
    FieldMapping,
    Row,
    is_blank,
    jsonl_row,
    lines_rows,
    loads,
    record_problems,
)

Progress = Callable[[int], None]

_url = URLValidator(schemes=["http", "https"])
# URLs that ``_url`` accepts, told faster (a host name of ASCII labels, a port, a path of
# printable ASCII; at most 253 characters in all): anything else goes to ``_url``.
_PLAIN_URL = re.compile(
    r"https?://(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
    r"(?::[0-9]{1,5})?(?:[/?#][!-~]*)?\Z",
    re.ASCII,
)


def seed_content_hash(*, title: str, text: str) -> str:
    """sha256 of title and text with case and whitespace folded: the same question pasted twice
    with different spacing is the same seed."""
    # str.split() splits at exactly the characters re's \s matches in a str pattern (both are
    # str.isspace()), and drops them at both ends: re.sub(r"\s+", " ", ...).strip(), faster.
    normal = " ".join(f"{title}\n{text}".split()).casefold()
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()


@dataclass
class LineError:
    """A bad line (or row, or record) with every reason it is bad."""

    line: int
    messages: list[str]

    @property
    def message(self) -> str:
        return "; ".join(self.messages)

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


# The lists of a report (ids already present, duplicates, repeats) keep this many entries in
# file order; the totals next to them count them all, so memory stays flat in the file's size.
REPORT_LIST_CAP = 1000


@dataclass
class SeedImportReport:
    lines: int = 0  # lines of JSON lines, rows of CSV/TSV/Parquet, records of a JSON array
    created: int = 0
    # the first REPORT_LIST_CAP of each, in file order; the *_total fields count them all
    already_present: list[str] = field(default_factory=list)
    duplicate_content: list[tuple[int, str]] = field(default_factory=list)
    # (line, id, first line): the same task again (a Label Studio JSON-MIN export)
    repeated: list[tuple[int, str, int]] = field(default_factory=list)
    already_present_total: int = 0
    duplicate_content_total: int = 0
    repeated_total: int = 0
    # the first CURATION_IMPORT_MAX_REPORTED_ERRORS bad lines; ``bad_lines`` counts them all
    errors: list[LineError] = field(default_factory=list)
    bad_lines: int = 0
    task_types: "TaskTypeTally" = field(default_factory=lambda: TaskTypeTally())
    format: dict[str, Any] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def seeds(self) -> int:
        """Well-formed seeds: created (or to create), already present or duplicate content."""
        return self.created + self.already_present_total + self.duplicate_content_total

    def nothing_imported_because(self) -> str | None:
        """Why an import created nothing and found nothing present, or None if it did not."""
        if self.created or self.already_present_total:
            return None
        why = []
        if not self.lines or (not self.errors and not self.seeds and not self.repeated_total):
            why.append("the file has no records")
        if self.bad_lines:
            why.append(f"{self.bad_lines} of {self.lines} {self.unit}s are bad")
        if self.duplicate_content_total:
            why.append(f"{self.duplicate_content_total} seed(s) repeat the content of others")
        return "; ".join(why) or "no record is a seed"

    def present(self, seed_id: str) -> None:
        self.already_present_total += 1
        if len(self.already_present) < REPORT_LIST_CAP:
            self.already_present.append(seed_id)

    def duplicate(self, line: int, same_as: str) -> None:
        self.duplicate_content_total += 1
        if len(self.duplicate_content) < REPORT_LIST_CAP:
            self.duplicate_content.append((line, same_as))

    def repeat(self, line: int, seed_id: str, first_line: int) -> None:
        self.repeated_total += 1
        if len(self.repeated) < REPORT_LIST_CAP:
            self.repeated.append((line, seed_id, first_line))

    @property
    def unit(self) -> str:
        return str(self.format.get("unit", "line"))

    def bad_line(self, error: "LineError") -> None:
        """Count a bad line; list it while fewer than the cap are listed (memory stays bounded
        however many bad lines a file has)."""
        self.bad_lines += 1
        if len(self.errors) < max_reported_errors():
            self.errors.append(error)

    @property
    def unlisted(self) -> int:
        """Bad lines counted but not listed (past the cap)."""
        return self.bad_lines - len(self.errors)


def max_reported_errors() -> int:
    return int(getattr(settings, "CURATION_IMPORT_MAX_REPORTED_ERRORS", 1000))


class SeedImportError(ValidationFailed):
    """The file has bad lines; nothing was imported. ``report.errors`` names each line."""

    def __init__(self, report: SeedImportReport) -> None:
        self.report = report
        super().__init__(
            f"{report.bad_lines} bad {report.unit}(s) of {report.lines}; nothing was imported."
            + (f" The first {len(report.errors)} are listed." if report.unlisted else ""),
            details={"errors": [str(e) for e in report.errors]},
        )


@dataclass
class TaskTypeTally:
    """What CodeArena task types did: seeds classified by theirs, and the task types that
    could not classify a seed (unknown to CodeArena's map, or leading to a pair the campaign's
    taxonomy does not have), with how many seeds each."""

    classified: int = 0
    unknown: Counter[str] = field(default_factory=Counter)
    not_in_taxonomy: Counter[str] = field(default_factory=Counter)

    def notes(self, cap: int = 1000) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = [
            {"task_type": t, "reason": "unknown", "seeds": n, "pair": None}
            for t, n in self.unknown.most_common()
        ]
        for t, n in self.not_in_taxonomy.most_common():
            pair = levels_for(t)
            rows.append(
                {
                    "task_type": t,
                    "reason": "not_in_taxonomy",
                    "seeds": n,
                    "pair": list(pair) if pair else None,
                }
            )
        return rows[:cap]

    def summary(self) -> str:
        parts = []
        if self.classified:
            parts.append(f"{self.classified} seed(s) classified by their CodeArena task type")
        if self.unknown:
            parts.append(
                f"{sum(self.unknown.values())} seed(s) with a task type CodeArena's map does not "
                "know (kept in metadata, no subcategory)"
            )
        if self.not_in_taxonomy:
            parts.append(
                f"{sum(self.not_in_taxonomy.values())} seed(s) whose task type leads to a "
                "subcategory this campaign's taxonomy does not have (kept in metadata, no "
                "subcategory)"
            )
        return "; ".join(parts)


def _str_field(
    record: dict[str, Any], name: str, errors: list[str], *, max_length: int | None = None
) -> str:
    value = record.get(name)
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and name == "cluster":
        value = str(value)
    if not isinstance(value, str):
        errors.append(f"'{name}' must be a string")
        return ""
    if max_length and len(value) > max_length:
        errors.append(f"'{name}' is longer than {max_length} characters")
    return value


def _first_task_type(value: Any) -> str | None:
    """CodeArena's ``task_type``: a string, or a list whose first element counts (as
    ``judge_models.py`` reads ``task_type[0]``)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _from(mapping: FieldMapping, target: str) -> str:
    if mapping.is_identity(target):
        return ""
    return f"; read from {mapping.describe(target)}"


@dataclass(slots=True)
class SeedFields:
    """A parsed seed's fields, as the ``Seed`` columns name them (lighter than a model
    instance, which is built only where one is needed: ``to_seed``)."""

    external_id: str
    title: str
    body: str
    answer: str
    source_url: str
    cluster: str
    subcategory: Any  # a Subcategory of the campaign, or None
    language_hint: str
    metadata: dict[str, Any]
    content_hash: str

    @property
    def subcategory_id(self) -> int | None:
        return self.subcategory.pk if self.subcategory is not None else None

    def to_seed(self, campaign: Campaign) -> Seed:
        return Seed(
            campaign=campaign,
            external_id=self.external_id,
            title=self.title,
            body=self.body,
            answer=self.answer,
            source_url=self.source_url,
            cluster=self.cluster,
            subcategory=self.subcategory,
            language_hint=self.language_hint,
            metadata=self.metadata,
            content_hash=self.content_hash,
        )


def _parse_seed_record(
    value: Any, vocab: Vocabulary, mapping: FieldMapping, task_types: TaskTypeTally
) -> tuple[SeedFields | None, list[str]]:
    if not isinstance(value, dict):
        return None, ["a seed must be a JSON object"]
    record = mapping.apply(value)
    errors: list[str] = []
    seed_id = record.get("id")
    if (
        isinstance(seed_id, bool)
        or not isinstance(seed_id, (str, int))
        or str(seed_id).strip() == ""
    ):
        errors.append(f"missing 'id' (a non-empty string or integer{_from(mapping, 'id')})")
        seed_id = None
    elif len(str(seed_id)) > 200:
        errors.append("'id' is longer than 200 characters")
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        errors.append(f"missing 'text' (a non-empty string{_from(mapping, 'text')})")
        text = ""
    title = _str_field(record, "title", errors, max_length=500)
    answer = _str_field(record, "answer", errors)
    cluster = _str_field(record, "cluster", errors, max_length=300)
    language = _str_field(record, "language", errors, max_length=64)
    source_url = _str_field(record, "source_url", errors, max_length=1000)
    if source_url and not (len(source_url) <= 253 and _PLAIN_URL.match(source_url)):
        try:
            _url(source_url)
        except ValidationError:
            errors.append(f"'source_url' is not an http(s) URL: {source_url[:80]!r}")
    metadata = record.get("metadata") or {}
    if isinstance(metadata, str) and metadata.lstrip().startswith("{"):
        with contextlib.suppress(json.JSONDecodeError, RecursionError):
            decoded = loads(metadata)  # a CSV cell holding a JSON object
            problems = record_problems(decoded)
            if problems:
                return None, [f"'metadata': {p}" for p in problems]
            metadata = decoded
    if not isinstance(metadata, dict):
        errors.append("'metadata' must be a JSON object")
        metadata = {}
    extra = record.get("__extra__")
    if extra:
        # Keep what the pool carries (e.g. scraper fields) rather than drop it.
        metadata = {**metadata, **extra}
    subcategory = None
    sub_name = _str_field(record, "subcategory", errors)
    cat_name = _str_field(record, "category", errors)
    category = None
    if sub_name:
        subcategory = vocab.subcategory(sub_name)
        if subcategory is None:
            errors.append(f"unknown subcategory {sub_name!r}")
    if cat_name:
        category = vocab.category(cat_name)
        if category is None:
            errors.append(f"unknown category {cat_name!r}")
        elif subcategory is not None and subcategory.category_id != category.pk:
            errors.append(
                f"subcategory {subcategory.name!r} belongs to {subcategory.category.name!r}, "
                f"not {category.name!r}"
            )
    raw_task_type = record.get("task_type")
    if raw_task_type is not None:
        task_type = _first_task_type(raw_task_type)
        if task_type is None:
            errors.append("'task_type' must be a non-empty string or a list of them")
        else:
            metadata = {**metadata, "task_type": raw_task_type}
            if not sub_name and not errors:
                subcategory = _classify(task_type, category, vocab, task_types)
    if errors:
        return None, errors
    return (
        SeedFields(
            external_id=str(seed_id).strip(),
            title=title,
            body=text,
            answer=answer,
            source_url=source_url,
            cluster=cluster,
            subcategory=subcategory,
            language_hint=language,
            metadata=metadata,
            content_hash=seed_content_hash(title=title, text=text),
        ),
        [],
    )


def _classify(task_type: str, category: Any, vocab: Vocabulary, task_types: TaskTypeTally) -> Any:
    """The campaign's subcategory CodeArena's map gives ``task_type`` (its first pair), if the
    taxonomy has that pair (and it agrees with a category the seed names); else None, noted."""
    pair = levels_for(task_type)
    if pair is None:
        task_types.unknown[task_type] += 1
        return None
    sub = vocab.subcategory(pair[1])
    if (
        sub is None
        or sub.category.name.casefold() != pair[0].casefold()
        or (category is not None and sub.category_id != category.pk)
    ):
        task_types.not_in_taxonomy[task_type] += 1
        return None
    task_types.classified += 1
    return sub


@dataclass
class Parsed:
    fields: SeedFields | None
    errors: list[str]
    repeated_of: int | None = None  # the line of the first record of this id (JSON-MIN)
    campaign: Campaign | None = None

    @property
    def seed(self) -> Seed | None:
        """The unsaved seed (a new model instance on every read: read it once)."""
        if self.fields is None:
            return None
        assert self.campaign is not None
        return self.fields.to_seed(self.campaign)


class SeedLines:
    """Validates seed records one at a time, with the rules every import shares (the command,
    an upload's check and its import job): each record mapped (``FieldMapping``) and checked on
    its own (``_parse_seed_record``: the same rules and messages everywhere) and ids unique
    within the file. Keeps only each id's first line number, so memory grows with the ids,
    never with the seeds' text."""

    def __init__(self, vocab: Vocabulary, mapping: FieldMapping | None = None) -> None:
        self.vocab = vocab
        self.mapping = mapping or FieldMapping.build()
        self.first_line_of_id: dict[str, int] = {}
        self.task_types = TaskTypeTally()

    def parse(self, lineno: int, raw: str) -> tuple[Seed | None, list[str]]:
        """The unsaved seed of a non-blank JSON line, or None and every reason it is bad."""
        parsed = self.parse_row(jsonl_row(lineno, raw))
        return parsed.seed, parsed.errors

    def parse_row(self, row: Row) -> Parsed:
        """The unsaved seed of a row, or None with every reason it is bad, or None and the line
        of the first record of its id (a repeated task, for a preset that expects those)."""
        parsed = self.parse_alone(row)
        seed = parsed.fields
        if seed is None:
            return parsed
        earlier = self.first_line_of_id.get(seed.external_id)
        if earlier is not None:
            if self.mapping.preset.repeated_ids:
                return Parsed(None, [], repeated_of=earlier)
            return Parsed(None, [duplicate_id_message(seed.external_id, earlier)])
        self.first_line_of_id[seed.external_id] = row.number
        return parsed

    def parse_alone(self, row: Row) -> Parsed:
        """``parse_row`` without the check that ids are unique within the file (the caller
        checks them elsewhere: the staged import, in the database)."""
        if row.error is not None:
            return Parsed(None, [row.error])
        fields, errors = _parse_seed_record(row.record, self.vocab, self.mapping, self.task_types)
        if fields is None:
            return Parsed(None, errors)
        return Parsed(fields, [], campaign=self.vocab.campaign)

    @property
    def repeats_are_tasks(self) -> bool:
        """A repeated id is the same task again (kept once), not a bad line."""
        return bool(self.mapping.preset.repeated_ids)

    def row_id(self, row: Row) -> str:
        """The seed id a (well-formed) row maps to."""
        record = row.record if isinstance(row.record, dict) else {}
        value = self.mapping.apply(record).get("id")
        return str(value).strip() if value is not None else ""

    def check_mapping(self) -> None:
        """Once the whole file is read: an explicit ``target=source`` whose source no record
        had is an error (a typo in the mapping, not a file of bad lines)."""
        unseen = self.mapping.unseen()
        if unseen:
            raise ValidationFailed(
                "The field mapping reads "
                + ", ".join(repr(u) for u in unseen)
                + ", but no record of the file has "
                + ("that key" if len(unseen) == 1 else "those keys")
                + "; check the names (a nested key is a dotted path such as data.question).",
                details={"errors": {"fields": [f"{u}: in no record" for u in unseen]}},
            )


def duplicate_id_message(seed_id: str, first_line: int) -> str:
    return f"duplicate id {seed_id!r} (first seen on line {first_line})"


def seeds_import(
    *,
    campaign: Campaign,
    lines: Iterable[str] | None = None,
    rows: Iterable[Row] | None = None,
    mapping: FieldMapping | None = None,
    file_format: dict[str, Any] | None = None,
    actor: Any = None,
    dry_run: bool = False,
    skip_bad_lines: bool = False,
    progress: Progress | None = None,
) -> SeedImportReport:
    """Import seeds from JSON lines (``lines``, see DESIGN.md for the record shape) or from
    the rows of a seed file in any format (``rows``, from ``seed_formats``), each record
    mapped by ``mapping`` (default: the keys as DESIGN.md names them).

    Every record is validated first. If any is bad, SeedImportError is raised naming each bad
    line once with all its reasons, and nothing is written (unless ``skip_bad_lines``). An
    explicit mapping source no record has is a ValidationFailed. Seeds whose id is already in
    the campaign are skipped as already present; seeds whose content duplicates an existing or
    earlier seed are reported and skipped. ``dry_run`` validates and reports without writing.
    ``progress`` is called once per row."""
    if (lines is None) == (rows is None):
        raise TypeError("seeds_import takes lines or rows")
    vocab = Vocabulary.for_campaign(campaign)
    report = SeedImportReport(dry_run=dry_run, format=file_format or {})
    parser = SeedLines(vocab, mapping)
    report.task_types = parser.task_types
    stream = rows if rows is not None else lines_rows(lines)
    with transaction.atomic():
        if seed_staging.available():
            created = _seeds_import_staged(
                campaign, stream, parser, report, skip_bad_lines=skip_bad_lines, progress=progress
            )
        else:
            created = _seeds_import_rows(
                campaign, stream, parser, report, skip_bad_lines=skip_bad_lines, progress=progress
            )
        if not created:
            return report
        event_record(
            campaign=campaign,
            actor=actor,
            kind=EventKind.SEEDS_IMPORTED,
            obj=campaign,
            data={
                "created": report.created,
                "already_present": report.already_present_total,
                "duplicate_content": report.duplicate_content_total,
                "skipped_bad_lines": report.bad_lines,
            },
        )
    return report


def _seeds_import_rows(
    campaign: Campaign,
    stream: Iterable[Row],
    parser: SeedLines,
    report: SeedImportReport,
    *,
    skip_bad_lines: bool,
    progress: Progress | None,
) -> bool:
    """``seeds_import`` one seed at a time (SQLite): the parsed seeds are held until the end.
    True once the new seeds are written (in the caller's transaction)."""
    parsed: list[tuple[int, SeedFields]] = []
    first_line_of_id = parser.first_line_of_id
    for row in stream:
        report.lines = row.index
        if progress:
            progress(1)
        if is_blank(row):
            continue
        result = parser.parse_row(row)
        if result.errors:
            report.bad_line(LineError(row.number, result.errors))
        elif result.repeated_of is not None:
            report.repeat(row.number, parser.row_id(row), result.repeated_of)
        elif result.fields is not None:
            parsed.append((row.number, result.fields))
    parser.check_mapping()
    if report.bad_lines and not skip_bad_lines:
        raise SeedImportError(report)

    if not report.dry_run:
        # One importer of this campaign at a time from lookup to insert (a seed-import job
        # of overlapping seeds waits, then sees these as already present).
        Campaign.objects.select_for_update(no_key=True).filter(pk=campaign.pk).first()
    existing_ids = set(
        Seed.objects.filter(campaign=campaign, external_id__in=first_line_of_id).values_list(
            "external_id", flat=True
        )
    )
    known_hashes = dict(
        Seed.objects.filter(
            campaign=campaign, content_hash__in={s.content_hash for _, s in parsed}
        ).values_list("content_hash", "external_id")
    )
    to_create: list[Seed] = []
    for lineno, seed in parsed:
        if seed.external_id in existing_ids:
            report.present(seed.external_id)
            continue
        if seed.content_hash in known_hashes:
            report.duplicate(lineno, known_hashes[seed.content_hash])
            continue
        known_hashes[seed.content_hash] = seed.external_id
        to_create.append(seed.to_seed(campaign))
    report.created = len(to_create)
    if report.dry_run or not to_create:
        return False
    Seed.objects.bulk_create(to_create, batch_size=1000)
    return True


def _seeds_import_staged(
    campaign: Campaign,
    stream: Iterable[Row],
    parser: SeedLines,
    report: SeedImportReport,
    *,
    skip_bad_lines: bool,
    progress: Progress | None,
) -> bool:
    """``seeds_import`` as set-based SQL (PostgreSQL, ``seed_staging``): each parsed seed is
    streamed with COPY into a staging table and dropped; the ids repeated within the file, the
    seeds already present and the duplicate content are found there, and the new seeds written
    with one INSERT ... SELECT, in the caller's transaction. Memory is flat in the file's
    size (the report's lists are capped) and the queries are constant in it. True once the
    new seeds are written."""
    stage = seed_staging.Stage(full=not report.dry_run)
    stage.create()
    with stage.copying() as write:
        for row in stream:
            report.lines = row.index
            if progress:
                progress(1)
            if is_blank(row):
                continue
            result = parser.parse_alone(row)
            if result.errors:
                report.bad_line(LineError(row.number, result.errors))
            elif result.fields is not None:
                write(row.number, result.fields)
    parser.check_mapping()
    if not report.dry_run:
        # One importer of this campaign at a time from lookup to insert (a seed-import job
        # of overlapping seeds waits, then sees these as already present).
        Campaign.objects.select_for_update(no_key=True).filter(pk=campaign.pk).first()
    stage.classify(campaign.pk)
    counts = stage.counts()
    repeated = seed_staging.Outcome.REPEATED_ID
    if parser.repeats_are_tasks:
        report.repeated_total = counts[repeated]
        report.repeated = [
            (r.line, r.external_id, int(r.ref_line or 0))
            for r in stage.first(repeated, REPORT_LIST_CAP)
        ]
    elif counts[repeated]:
        cap = max_reported_errors()
        extra = [
            LineError(r.line, [duplicate_id_message(r.external_id, int(r.ref_line or 0))])
            for r in stage.first(repeated, cap)
        ]
        report.errors = sorted(report.errors + extra, key=lambda e: e.line)[:cap]
        report.bad_lines += counts[repeated]
    if report.bad_lines and not skip_bad_lines:
        raise SeedImportError(report)
    report.already_present_total = counts[seed_staging.Outcome.PRESENT]
    report.already_present = [
        r.external_id for r in stage.first(seed_staging.Outcome.PRESENT, REPORT_LIST_CAP)
    ]
    report.duplicate_content_total = counts[seed_staging.Outcome.DUPLICATE]
    report.duplicate_content = [
        (r.line, r.same_as or "")
        for r in stage.first(seed_staging.Outcome.DUPLICATE, REPORT_LIST_CAP)
    ]
    report.created = counts[seed_staging.Outcome.NEW]
    if report.dry_run or not report.created:
        return False
    written = stage.insert_new(campaign.pk)
    assert written == report.created, (written, report.created)
    return True


@dataclass
class SampleReport:
    size: int
    sampled_now: int
    sampled_total: int
    quotas: dict[str, int]
    available: dict[str, int]
    unclassified: int


@dataclass
class SubcategoryQuota:
    subcategory_id: int
    subcategory: str
    available: int  # seeds it has: already sampled and pooled
    already_sampled: int
    quota: int  # how many it holds once the sample is taken
    shortfall: int  # how far it falls short of an equal share (spread over the others)


@dataclass
class SamplingPlan:
    size: int
    seed: int
    already_sampled: int
    sampled_now: int
    sampled_total: int
    pool_short: int  # how many fewer than ``size`` the pool can give in all
    equal_share: int
    unclassified: int
    subcategories: list[SubcategoryQuota]

    @property
    def quota_of(self) -> dict[int, int]:
        return {q.subcategory_id: q.quota for q in self.subcategories}


def sampling_plan(
    *,
    available: Mapping[int, int],
    already: Mapping[int, int],
    names: Mapping[int, str],
    size: int,
    seed: int,
    unclassified: int = 0,
) -> SamplingPlan:
    """What sampling ``size`` seeds would do, per subcategory (``names``: every subcategory of
    the taxonomy, by id; ``available``: the seeds each has, sampled or pooled; ``already``: the
    sampled ones): the quota (``sampling_quotas``) and the shortfall, i.e. how far a
    subcategory that gives all it has stays below an equal share. Pure: the preview and
    ``seeds_sample`` both take their quotas from here.

    Raises ValidationFailed for a size below 1 and InvalidTransition when ``size`` is smaller
    than what is already sampled (a sample cannot shrink)."""
    if size < 1:
        raise ValidationFailed("--size must be at least 1.", details={"errors": {"size": [">= 1"]}})
    already_total = sum(already.values())
    if size < already_total:
        raise InvalidTransition(
            f"{already_total} seeds are already sampled; a sample cannot shrink. "
            f"Ask for --size {already_total} or more to top it up."
        )
    have = {sub: available.get(sub, 0) for sub in names}
    quotas = sampling_quotas(have, size, minimum={k: v for k, v in already.items() if k in have})
    equal_share = size // len(names) if names else 0
    rows = [
        SubcategoryQuota(
            subcategory_id=sub,
            subcategory=names[sub],
            available=have[sub],
            already_sampled=already.get(sub, 0),
            quota=quotas[sub],
            shortfall=max(equal_share - quotas[sub], 0) if quotas[sub] == have[sub] else 0,
        )
        for sub in sorted(names, key=lambda k: (names[k], k))
    ]
    total = sum(quotas.values())
    return SamplingPlan(
        size=size,
        seed=seed,
        already_sampled=already_total,
        sampled_now=total - already_total,
        sampled_total=total,
        pool_short=size - total,
        equal_share=equal_share,
        unclassified=unclassified,
        subcategories=rows,
    )


def seeds_sample_preview(*, campaign: Campaign, size: int, seed: int = 42) -> SamplingPlan:
    """What ``seeds_sample`` with ``size`` and ``seed`` would do now, writing nothing (the
    caller has checked access). Raises as ``sampling_plan``."""
    counts = sampling_counts(campaign=campaign)
    return sampling_plan(
        available=counts.available,
        already=counts.already,
        names=counts.names,
        size=size,
        seed=seed,
        unclassified=counts.unclassified,
    )


@transaction.atomic
def seeds_sample(
    *, campaign: Campaign, size: int, seed: int = 42, actor: Any = None
) -> SampleReport:
    """Sample ``size`` seeds uniformly across subcategories (see ``sampling_quotas``).

    Seeds already sampled count towards the quotas, so a later, larger run tops the sample up.
    The draw is deterministic for the same pool and ``seed``. Seeds without a subcategory are
    not sampled. Raises InvalidTransition if ``size`` is smaller than what is already sampled.

    Reads counts, never the pool: the draw (``seeds_bulk.sample_draw``) picks positions, and on
    PostgreSQL one statement moves the seeds there, ranks them and appends their events
    (``seeds_bulk.sample_write``); a constant number of queries whatever the pool's size."""
    if size < 1:
        raise ValidationFailed("--size must be at least 1.", details={"errors": {"size": [">= 1"]}})
    # Lock the campaign row so two samplings of one campaign cannot interleave.
    Campaign.objects.select_for_update(no_key=True).get(pk=campaign.pk)
    names: dict[int, str] = {}
    pooled: dict[int, int] = {}
    available: dict[int, int] = {}
    unclassified = 0
    for sub_id, sub_name, pooled_n, total in (
        Seed.objects.filter(campaign=campaign)
        .values_list("subcategory_id", "subcategory__name")
        .annotate(pooled=Count("id", filter=Q(status=Seed.Status.POOLED)), total=Count("id"))
        .order_by()
    ):
        if sub_id is None:
            unclassified += total
            continue
        names[sub_id], pooled[sub_id], available[sub_id] = sub_name, pooled_n, total
    already = {sub: available[sub] - pooled[sub] for sub in names}
    already_total = sum(already.values())
    quotas = sampling_plan(
        available=available, already=already, names=names, size=size, seed=seed
    ).quota_of
    start = Seed.objects.filter(campaign=campaign).aggregate(top=Max("sample_rank"))["top"] or 0
    draw = seeds_bulk.sample_draw(
        names=names,
        pooled=pooled,
        want={sub: quotas[sub] - already[sub] for sub in names},
        seed=seed,
        start=start,
    )
    if connection.vendor == "postgresql":
        seeds_bulk.sample_write(
            campaign_id=campaign.pk,
            actor=actor,
            seed=seed,
            subcategories=draw.subcategories,
            positions=draw.positions,
            ranks=draw.ranks,
            now=timezone.now(),
        )
    else:
        _sample_orm(campaign=campaign, draw=draw, seed=seed, actor=actor)
    sampled_now = len(draw.ranks)
    event_record(
        campaign=campaign,
        actor=actor,
        kind=EventKind.SEEDS_SAMPLED,
        obj=campaign,
        data={"size": size, "seed": seed, "sampled_now": sampled_now},
    )
    return SampleReport(
        size=size,
        sampled_now=sampled_now,
        sampled_total=already_total + sampled_now,
        quotas={names[k]: v for k, v in quotas.items()},
        available={names[k]: v for k, v in available.items()},
        unclassified=unclassified,
    )


def _sample_orm(*, campaign: Campaign, draw: seeds_bulk.SampleDraw, seed: int, actor: Any) -> None:
    """``seeds_bulk.sample_write`` with the ORM, for backends without it (SQLite): the ids of
    the pooled seeds of the subcategories drawn from (ids only), the ranks, the guarded
    transition with its events."""
    ids: dict[int, list[int]] = defaultdict(list)
    for sub_id, pk in (
        Seed.objects.filter(
            campaign=campaign,
            status=Seed.Status.POOLED,
            subcategory_id__in=set(draw.subcategories),
        )
        .order_by("subcategory_id", "external_id")
        .values_list("subcategory_id", "id")
        .iterator(chunk_size=10_000)
    ):
        ids[sub_id].append(pk)
    ranked = [
        ids[sub][position] for sub, position in zip(draw.subcategories, draw.positions, strict=True)
    ]
    rank_of = dict(zip(ranked, draw.ranks, strict=True))
    Seed.objects.bulk_update(
        [Seed(pk=pk, sample_rank=rank) for pk, rank in rank_of.items()],
        ["sample_rank"],
        batch_size=1000,
    )
    transition_many(
        Seed,
        ranked,
        from_state=Seed.Status.POOLED,
        to=Seed.Status.SAMPLED,
        allowed=Seed.TRANSITIONS,
        kind=EventKind.SEED_SAMPLED,
        actor=actor,
        campaign=campaign,
        data=lambda pk: {"seed": seed, "rank": rank_of[pk]},
    )


@dataclass
class AnnotatorShare:
    annotator: str
    seeds: int
    subcategories: dict[str, int]  # subcategory name -> seeds dealt


@dataclass
class DealingPlan:
    seed: int
    seeds: int
    annotators: list[AnnotatorShare]


def seeds_deal_preview(*, campaign: Campaign, seed: int = 42) -> DealingPlan:
    """What ``seeds_assign`` with ``seed`` would deal now, per annotator (count and
    subcategory mix), writing nothing (the caller has checked access). Seeds claimed in the
    meantime are not dealt by the real step. Raises InvalidTransition (as ``seeds_assign``)
    when the campaign has no annotators.

    Counts, never seeds: the deal follows from the groups' sizes (``seeds_bulk.deal_plan``),
    plus the positions of skipped seeds if any; four queries at most, whatever the pool."""
    annotators = dealing_annotators(campaign)
    groups, skipped = seeds_bulk.deal_groups(campaign_id=campaign.pk)
    plan = seeds_bulk.deal_plan(
        groups,
        len(annotators),
        seed=seed,
        refused=seeds_bulk.refusals(skipped, [pk for pk, _ in annotators]),
    )
    return DealingPlan(
        seed=seed,
        seeds=plan.total,
        annotators=[
            AnnotatorShare(annotator=name, seeds=sum(counts.values()), subcategories=counts)
            for (_, name), counts in zip(annotators, plan.mix, strict=True)
        ],
    )

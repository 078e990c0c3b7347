import contextlib
import hashlib
import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction

from core.errors import InvalidTransition, ValidationFailed
from core.transitions import EventKind, event_record, transition_many

from ..codearena import levels_for
from ..models import Campaign, Seed
from ..sampling import sampling_quotas
from ..selectors_seeds import dealing_inputs, sampling_counts
from ..vocabulary import Vocabulary
from .assignments import deal_preview
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


def seed_content_hash(*, title: str, text: str) -> str:
    """sha256 of title and text with case and whitespace folded: the same question pasted twice
    with different spacing is the same seed."""
    normal = re.sub(r"\s+", " ", f"{title}\n{text}").strip().casefold()
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


@dataclass
class SeedImportReport:
    lines: int = 0  # lines of JSON lines, rows of CSV/TSV/Parquet, records of a JSON array
    created: int = 0
    already_present: list[str] = field(default_factory=list)
    duplicate_content: list[tuple[int, str]] = field(default_factory=list)
    # (line, id, first line): the same task again (a Label Studio JSON-MIN export)
    repeated: list[tuple[int, str, int]] = field(default_factory=list)
    # the first CURATION_IMPORT_MAX_REPORTED_ERRORS bad lines; ``bad_lines`` counts them all
    errors: list[LineError] = field(default_factory=list)
    bad_lines: int = 0
    task_types: "TaskTypeTally" = field(default_factory=lambda: TaskTypeTally())
    format: dict[str, Any] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def seeds(self) -> int:
        """Well-formed seeds: created (or to create), already present or duplicate content."""
        return self.created + len(self.already_present) + len(self.duplicate_content)

    def nothing_imported_because(self) -> str | None:
        """Why an import created nothing and found nothing present, or None if it did not."""
        if self.created or self.already_present:
            return None
        why = []
        if not self.lines or (not self.errors and not self.seeds and not self.repeated):
            why.append("the file has no records")
        if self.bad_lines:
            why.append(f"{self.bad_lines} of {self.lines} {self.unit}s are bad")
        if self.duplicate_content:
            why.append(f"{len(self.duplicate_content)} seed(s) repeat the content of others")
        return "; ".join(why) or "no record is a seed"

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


def _parse_seed_record(
    value: Any, vocab: Vocabulary, mapping: FieldMapping, task_types: TaskTypeTally
) -> tuple[Seed | None, list[str]]:
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
    if source_url:
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
        Seed(
            campaign=vocab.campaign,
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
    seed: Seed | None
    errors: list[str]
    repeated_of: int | None = None  # the line of the first record of this id (JSON-MIN)


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
        if row.error is not None:
            return Parsed(None, [row.error])
        seed, errors = _parse_seed_record(row.record, self.vocab, self.mapping, self.task_types)
        if seed is None:
            return Parsed(None, errors)
        earlier = self.first_line_of_id.get(seed.external_id)
        if earlier is not None:
            if self.mapping.preset.repeated_ids:
                return Parsed(None, [], repeated_of=earlier)
            return Parsed(
                None, [f"duplicate id {seed.external_id!r} (first seen on line {earlier})"]
            )
        self.first_line_of_id[seed.external_id] = row.number
        return Parsed(seed, [])

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
    parsed: list[tuple[int, Seed]] = []
    parser = SeedLines(vocab, mapping)
    report.task_types = parser.task_types
    first_line_of_id = parser.first_line_of_id
    for row in rows if rows is not None else lines_rows(lines):
        report.lines = row.index
        if progress:
            progress(1)
        if is_blank(row):
            continue
        result = parser.parse_row(row)
        if result.errors:
            report.bad_line(LineError(row.number, result.errors))
        elif result.repeated_of is not None:
            report.repeated.append((row.number, parser.row_id(row), result.repeated_of))
        elif result.seed is not None:
            parsed.append((row.number, result.seed))
    parser.check_mapping()
    if report.bad_lines and not skip_bad_lines:
        raise SeedImportError(report)

    with transaction.atomic():
        if not dry_run:
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
                report.already_present.append(seed.external_id)
                continue
            if seed.content_hash in known_hashes:
                report.duplicate_content.append((lineno, known_hashes[seed.content_hash]))
                continue
            known_hashes[seed.content_hash] = seed.external_id
            to_create.append(seed)
        report.created = len(to_create)
        if dry_run or not to_create:
            return report
        Seed.objects.bulk_create(to_create, batch_size=1000)
        event_record(
            campaign=campaign,
            actor=actor,
            kind=EventKind.SEEDS_IMPORTED,
            obj=campaign,
            data={
                "created": report.created,
                "already_present": len(report.already_present),
                "duplicate_content": len(report.duplicate_content),
                "skipped_bad_lines": report.bad_lines,
            },
        )
    return report


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
    not sampled. Raises InvalidTransition if ``size`` is smaller than what is already sampled."""
    if size < 1:
        raise ValidationFailed("--size must be at least 1.", details={"errors": {"size": [">= 1"]}})
    # Lock the campaign row so two samplings of one campaign cannot interleave.
    Campaign.objects.select_for_update(no_key=True).get(pk=campaign.pk)
    rows = list(
        Seed.objects.filter(campaign=campaign)
        .values_list("id", "external_id", "status", "subcategory_id", "subcategory__name")
        .order_by("external_id")
    )
    unclassified = sum(1 for r in rows if r[3] is None)
    already = Counter(r[3] for r in rows if r[3] is not None and r[2] != Seed.Status.POOLED)
    pooled: dict[int, list[tuple[int, str]]] = defaultdict(list)
    names: dict[int, str] = {}
    for pk, external_id, status, sub_id, sub_name in rows:
        if sub_id is None:
            continue
        names[sub_id] = sub_name
        if status == Seed.Status.POOLED:
            pooled[sub_id].append((pk, external_id))
    already_total = sum(already.values())
    available = {sub: already[sub] + len(pooled[sub]) for sub in names}
    quotas = sampling_plan(
        available=available, already=already, names=names, size=size, seed=seed
    ).quota_of
    picks: list[list[int]] = []
    for sub_id in sorted(names):
        want = quotas[sub_id] - already[sub_id]
        rng = random.Random(f"{seed}:{names[sub_id]}")
        chosen = rng.sample(pooled[sub_id], want)
        picks.append([pk for pk, _ in chosen])
    # Ranks interleave subcategories so claim-next hands out a mix, not one subcategory at a time.
    order_rng = random.Random(f"{seed}:order")
    start = (
        Seed.objects.filter(campaign=campaign, sample_rank__isnull=False)
        .order_by("-sample_rank")
        .values_list("sample_rank", flat=True)
        .first()
        or 0
    )
    ranked: list[int] = []
    depth = max((len(p) for p in picks), default=0)
    for i in range(depth):
        layer = [p[i] for p in picks if i < len(p)]
        order_rng.shuffle(layer)
        ranked.extend(layer)
    rank_of = {pk: start + n + 1 for n, pk in enumerate(ranked)}
    seeds = list(Seed.objects.filter(pk__in=ranked))
    for s in seeds:
        s.sample_rank = rank_of[s.pk]
    Seed.objects.bulk_update(seeds, ["sample_rank"], batch_size=1000)
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
    event_record(
        campaign=campaign,
        actor=actor,
        kind=EventKind.SEEDS_SAMPLED,
        obj=campaign,
        data={"size": size, "seed": seed, "sampled_now": len(seeds)},
    )
    return SampleReport(
        size=size,
        sampled_now=len(seeds),
        sampled_total=already_total + len(seeds),
        quotas={names[k]: v for k, v in quotas.items()},
        available={names[k]: v for k, v in available.items()},
        unclassified=unclassified,
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
    when the campaign has no annotators."""
    inputs = dealing_inputs(campaign=campaign)
    if not inputs.annotators:
        raise InvalidTransition(
            f"Campaign {campaign.slug!r} has no annotators; add some with add_member first."
        )
    mix = deal_preview(
        inputs.groups,
        inputs.annotators,
        seed=seed,
        refuses=lambda seed_id, username: (seed_id, username) in inputs.skipped,
    )
    return DealingPlan(
        seed=seed,
        seeds=sum(len(g) for g in inputs.groups.values()),
        annotators=[
            AnnotatorShare(annotator=name, seeds=sum(counts.values()), subcategories=counts)
            for name, counts in mix.items()
        ],
    )

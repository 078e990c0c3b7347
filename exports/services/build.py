"""Building a release: token counts, a last decontamination of the accepted rewrites,
selection, then every file written in a staging folder as the samples stream in, published in
a local folder and, for a release job, saved into the releases storage (``publishing``).

One service, ``release_build``, is used by ``export_benchmark`` and by the release job
(``queue.release_start`` -> Celery -> ``job.release_run``). The same database and parameters
give byte-identical ``benchmark.jsonl``, ``questions.jsonl`` and ``stats.json`` (and manifest,
card and figures).

Memory does not grow with the text of the release: selection and the checks read ids and tags
only (``Candidate``, one streamed query); the samples' texts, languages, votes, provenance and
answers are then read a chunk of RELEASE_CHUNK samples at a time, in the order of
benchmark.jsonl, and each chunk is appended to every file (jsonl lines, a row group's Arrow
columns for the parquet file) and counted into stats.json's tallies before the next is read.
The zip is written from the staged files. Queries: a fixed number, plus five per chunk."""

import shutil
import statistics
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.db import connection
from django.db.models import Count
from django.db.models.expressions import RawSQL
from django.db.models.functions import Length

from annotation.codearena import task_type_for
from annotation.models import Campaign, Rewrite, RewriteLanguage, Subcategory
from annotation.services import rewrites_count_missing_tokens
from core.errors import ValidationFailed
from core.transitions import EventKind, event_record
from quality.models import SimilarityFlag
from quality.services import rewrites_decontaminate
from review.models import Ballot, Decision
from review.stats import (
    TagGroup,
    agreement,
    campaign_funnel,
    distributions_of_counts,
    releasable_queryset,
    token_summary,
)

from ..card import dataset_card
from ..figures import release_figures
from ..models import BaselineResponse
from .formats import (
    ARENA_HARD_BASELINES,
    FIXED_KEYS,
    MODEL_DRAFTED,
    HashedFile,
    ParquetRows,
    Provenance,
    answer_record,
    benchmark_row,
    dumps_document,
    jsonl_lines,
    path_meta,
    question_record,
    release_zip_write,
    seed_sample_id,
)
from .publishing import release_files_store, release_staging_open, release_staging_publish
from .selection import Candidate, ReleaseParameters, select_rewrites

Progress = Callable[[int, str], None]

# CodeArena's judge_models.py silently leaves out questions of this many whitespace-separated
# words or more (``len(question.split()) < 1024``); the card names them.
CODEARENA_MAX_WORDS = 1024
# How many samples a refusal names in its message (all of them are in its details).
NAMED_IN_MESSAGE = 20
# How many samples are read, written and forgotten at a time (and the fetch size of streamed
# queries): memory is bounded by a chunk, queries grow by five per chunk.
RELEASE_CHUNK = 2000


@dataclass
class ExportResult:
    out_dir: Path
    files: dict[str, dict[str, Any]]
    total: int
    stats: dict[str, Any]
    # (sample id, rewrite id) in the order of benchmark.jsonl.
    samples: list[tuple[str, int]]


def _among(ids: list[int]) -> Any:
    """``ids`` for an ``__in`` lookup. On PostgreSQL one array parameter (``IN (SELECT
    unnest(...))``): binding thousands of separate parameters costs the driver more than the
    query costs the database."""
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", (ids,))
    return ids


def eligible_candidates(campaign: Campaign) -> list[Candidate]:
    """The campaign's accepted, uncontaminated rewrites (one per seed) as ``Candidate``s, by
    id: one streamed query (and one for the taxonomy), no text."""
    names: dict[str, str] = {}  # one str object per name, shared by the candidates
    taxonomy = {
        pk: (names.setdefault(category, category), names.setdefault(name, name))
        for pk, category, name in Subcategory.objects.filter(campaign=campaign).values_list(
            "pk", "category__name", "name"
        )
    }
    rows = (
        releasable_queryset(campaign)
        .order_by("pk")
        .values_list("pk", "seed_id", "seed__external_id", "subcategory_id", "decided_by_curator")
        .iterator(chunk_size=RELEASE_CHUNK)
    )
    candidates = []
    for pk, seed_id, external_id, subcategory_id, curator in rows:
        # Only a draft may lack a subcategory (a check constraint); these are accepted.
        category, subcategory = taxonomy[subcategory_id]
        candidates.append(Candidate(pk, seed_id, external_id, category, subcategory, curator))
    return candidates


def _provenance(rewrite_ids: list[int]) -> dict[int, Provenance]:
    """The provenance of each model-drafted rewrite among ``rewrite_ids`` (those with an
    inserted suggestion; the others are a person's). One query, whatever the number of
    samples; the suggestion's text is measured by the database, not loaded."""
    rows = (
        Rewrite.objects.filter(pk__in=_among(rewrite_ids), suggestion__isnull=False)
        .annotate(suggestion_chars=Length("suggestion__text"))
        .values_list(
            "pk",
            "suggestion__model",
            "suggestion__prompt_version",
            "suggestion_edit_distance",
            "suggestion_chars",
        )
    )
    return {
        pk: Provenance(
            origin=MODEL_DRAFTED,
            model=model,
            prompt_version=version,
            edit_distance=distance,
            suggestion_chars=chars,
        )
        for pk, model, version, distance, chars in rows
    }


# stats.json's edit-distance buckets of the model-drafted samples: (name, low, high), inclusive.
EDIT_DISTANCE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0", 0, 0),
    ("1-50", 1, 50),
    ("51-200", 51, 200),
    ("201-1000", 201, 1000),
    (">1000", 1001, None),
)


def _spread(values: list[int] | list[float], digits: int) -> dict[str, float | int | None]:
    """min, max, mean and median of ``values``, each rounded to ``digits`` (whole numbers stay
    whole); all None when there are none."""
    if not values:
        return {"min": None, "max": None, "mean": None, "median": None}
    ordered = sorted(values)
    return {
        "min": round(ordered[0], digits),
        "max": round(ordered[-1], digits),
        "mean": round(statistics.fmean(ordered), digits),
        "median": round(statistics.median(ordered), digits),
    }


class ProvenanceTally:
    """stats.json's ``provenance`` counted one sample at a time (``provenance_stats``): counts
    per model and prompt version, and the measured edit distances and ratios as packed
    numbers (8 bytes each), for their medians."""

    def __init__(self) -> None:
        self.total = 0
        self.drafted = 0
        self.by_model: Counter[str] = Counter()
        self.by_version: dict[str, Counter[str]] = defaultdict(Counter)
        self.distances = array("q")
        self.ratios = array("d")

    def add(self, p: Provenance) -> None:
        self.total += 1
        if p.origin != MODEL_DRAFTED:
            return
        self.drafted += 1
        self.by_model[str(p.model)] += 1
        self.by_version[str(p.model)][str(p.prompt_version)] += 1
        if p.edit_distance is not None:
            self.distances.append(p.edit_distance)
            self.ratios.append(p.edit_distance / max(1, p.suggestion_chars or 0))

    def stats(self) -> dict[str, Any]:
        distances = list(self.distances)
        return {
            "human_written": self.total - self.drafted,
            "model_drafted": self.drafted,
            "by_model": dict(sorted(self.by_model.items())),
            "by_prompt_version": {
                model: dict(sorted(versions.items()))
                for model, versions in sorted(self.by_version.items())
            },
            "edit_distance": _spread(distances, 2),
            "edit_ratio": _spread(list(self.ratios), 3),
            "edit_distance_buckets": {
                name: sum(1 for d in distances if low <= d and (high is None or d <= high))
                for name, low, high in EDIT_DISTANCE_BUCKETS
            },
        }


def provenance_stats(provenances: list[Provenance]) -> dict[str, Any]:
    """stats.json's ``provenance``: how many samples a person wrote and how many were drafted
    from a model suggestion (they add up to the total), per model and per (model, prompt
    version), and how far the model-drafted ones were edited: the edit distance in characters
    and its ratio to the suggestion's length (min / max / mean / median; None without
    model-drafted samples) and the distances in buckets (0 = inserted unchanged). A
    model-drafted sample without a recorded distance is counted but not measured."""
    tally = ProvenanceTally()
    for p in provenances:
        tally.add(p)
    return tally.stats()


def _answered(
    campaign: Campaign, chosen: Sequence[Candidate]
) -> tuple[list[str], dict[str, set[int]]]:
    """Imported models (sorted) and, for each, the chosen seeds it answered (ids only; the
    answers are read with their chunk). One streamed pass over the campaign's answers."""
    seeds = {c.seed_id for c in chosen}
    answered: dict[str, set[int]] = {}
    for seed_id, model in (
        BaselineResponse.objects.filter(campaign=campaign)
        .order_by()
        .values_list("seed_id", "model")
        .iterator(chunk_size=RELEASE_CHUNK)
    ):
        got = answered.setdefault(model, set())
        if seed_id in seeds:
            got.add(seed_id)
    return sorted(answered), answered


def _release_quality(campaign: Campaign, chosen_ids: set[int]) -> dict[str, int]:
    """Copied-seed flags and near-duplicate pairs among the chosen rewrites (the campaign's
    flags streamed, filtered here)."""
    copied = 0
    pairs: set[tuple[int, int]] = set()
    for kind, a, b in (
        SimilarityFlag.objects.filter(campaign=campaign)
        .order_by()
        .values_list("kind", "rewrite_id", "other_id")
        .iterator(chunk_size=RELEASE_CHUNK)
    ):
        if a not in chosen_ids:
            continue
        if kind == SimilarityFlag.Kind.COPIED_SEED:
            copied += 1
        elif kind == SimilarityFlag.Kind.NEAR_DUPLICATE and b in chosen_ids:
            pairs.add((min(a, b), max(a, b)))
    return {"copied_seed": copied, "near_duplicate_pairs": len(pairs)}


def _named(candidates: list[Candidate]) -> str:
    shown = ", ".join(c.external_id for c in candidates[:NAMED_IN_MESSAGE])
    more = len(candidates) - NAMED_IN_MESSAGE
    return shown + (f" and {more} more" if more > 0 else "")


@dataclass
class ResponsePlan:
    """Which imported models a release includes and what it does about missing answers."""

    models: list[str]
    # model -> sample ids: models left out (drop_model), keys left out of samples (drop_key).
    dropped_models: dict[str, list[str]]
    dropped_keys: dict[str, list[str]]

    def report(self, params: ReleaseParameters) -> dict[str, Any]:
        return {
            "policy": params.missing_responses,
            "baseline_model": params.baseline_model or None,
            "models": self.models,
            "dropped_models": self.dropped_models,
            "dropped_keys": self.dropped_keys,
        }


def plan_responses(
    *,
    campaign: Campaign,
    params: ReleaseParameters,
    chosen: list[Candidate],
    models: list[str],
    answered: dict[str, set[int]],
) -> ResponsePlan:
    """Apply the release's ``missing_responses`` policy to the imported models. No sample ever
    gets a null or empty answer: a model without an answer for some samples refuses the release
    (ValidationFailed naming the samples, all of them in ``details["missing"]``), unless the
    policy leaves the model out (``drop_model``) or its key out of those samples
    (``drop_key``). The baseline model must answer every sample whatever the policy (both
    tools need the baseline's answer to every question)."""

    def sid(c: Candidate) -> str:
        return seed_sample_id(campaign.slug, c.external_id)

    missing = {model: [c for c in chosen if c.seed_id not in answered[model]] for model in models}
    baseline = params.baseline_model
    if baseline and baseline not in models:
        raise ValidationFailed(
            f"No answers of the baseline model {baseline!r} are imported in {campaign.slug}"
            + (f" (imported: {', '.join(models)})." if models else " (none are imported).")
            + " Import its answers on the Answers page or with import_responses.",
            details={"errors": {"baseline_model": ["no answers imported for this model"]}},
        )
    if baseline and missing[baseline]:
        gaps = missing[baseline]
        raise ValidationFailed(
            f"The baseline model {baseline!r} has no answer for {len(gaps)} of the "
            f"{len(chosen)} samples (seed ids {_named(gaps)}); the judges need the baseline's "
            "answer to every question. Import the missing answers or choose another baseline.",
            details={
                "errors": {"baseline_model": [f"no answer for {len(gaps)} sample(s)"]},
                "missing": {baseline: [sid(c) for c in gaps]},
            },
        )
    incomplete = {model: gaps for model, gaps in missing.items() if gaps}
    if incomplete and params.missing_responses == "refuse":
        parts = [
            f"{model} has no answer for {len(gaps)} of the {len(chosen)} samples (seed ids "
            f"{_named(gaps)})"
            for model, gaps in incomplete.items()
        ]
        raise ValidationFailed(
            "A release never holds a null or empty answer: "
            + "; ".join(parts)
            + ". Import the missing answers, or choose missing_responses drop_model (leave "
            "those models out) or drop_key (leave their key out of those samples).",
            details={
                "errors": {
                    "missing_responses": [
                        f"{model}: no answer for {len(gaps)} sample(s)"
                        for model, gaps in incomplete.items()
                    ]
                },
                "missing": {m: [sid(c) for c in gaps] for m, gaps in incomplete.items()},
            },
        )
    if params.missing_responses == "drop_model":
        return ResponsePlan(
            models=[m for m in models if m not in incomplete],
            dropped_models={m: sorted(sid(c) for c in g) for m, g in incomplete.items()},
            dropped_keys={},
        )
    # drop_key (or nothing missing). A model that answered none of these samples has nothing
    # to include: it is left out rather than shipped as an empty answer file.
    unanswered = {m for m, gaps in incomplete.items() if len(gaps) == len(chosen)}
    return ResponsePlan(
        models=[m for m in models if m not in unanswered],
        dropped_models={m: sorted(sid(c) for c in incomplete[m]) for m in sorted(unanswered)},
        dropped_keys={
            m: sorted(sid(c) for c in g) for m, g in incomplete.items() if m not in unanswered
        },
    )


def plan_task_types(
    *, params: ReleaseParameters, chosen: list[Candidate]
) -> dict[tuple[str, str], str] | None:
    """The CodeArena task type of each (category, subcategory) of the chosen samples
    (``annotation.codearena.task_type_for``: a task type whose first pair in CodeArena's map is
    exactly that pair), or None with ``codearena_meta`` ``omit``. A pair without one (a
    campaign with its own taxonomy) refuses the release, naming the pairs and samples: a
    benchmark.jsonl whose meta CodeArena cannot look up would stop its evaluation."""
    if params.codearena_meta == "omit":
        return None
    looked_up: dict[tuple[str, str], str | None] = {}
    found: dict[tuple[str, str], str] = {}
    unknown: dict[tuple[str, str], list[Candidate]] = defaultdict(list)
    for c in chosen:
        pair = (c.category, c.subcategory)
        if pair not in looked_up:
            looked_up[pair] = task_type_for(*pair)
        task_type = looked_up[pair]
        if task_type is None:
            unknown[pair].append(c)
        else:
            found[pair] = task_type
    if unknown:
        parts = [f"{c} / {s} (seed ids {_named(rs)})" for (c, s), rs in sorted(unknown.items())]
        raise ValidationFailed(
            "CodeArena's task-type map has no task type leading to "
            + "; ".join(parts)
            + ", so its evaluation code could not classify these samples. Release with "
            "codearena_meta 'omit' to write benchmark.jsonl without CodeArena's meta.",
            details={
                "errors": {
                    "codearena_meta": [f"no CodeArena task type for {c} / {s}" for c, s in unknown]
                }
            },
        )
    return found


def release_check(*, campaign: Campaign, parameters: ReleaseParameters) -> None:
    """Refuse, before a job is queued, a release that would be refused once built: bad
    parameters, too few eligible rewrites, missing answers, samples without a CodeArena task
    type. Checked on the rewrites eligible now (the build checks again after its last
    decontamination). Raises ValidationFailed."""
    parameters.validate()
    eligible = eligible_candidates(campaign)
    chosen = select_rewrites(
        eligible,
        size=parameters.size,
        seed=parameters.seed,
        stratify=parameters.stratify,
        allow_smaller=parameters.allow_smaller,
    )
    models, answered = _answered(campaign, chosen)
    plan_responses(
        campaign=campaign, params=parameters, chosen=chosen, models=models, answered=answered
    )
    plan_task_types(params=parameters, chosen=chosen)


def zip_name(campaign: Campaign, params: ReleaseParameters) -> str:
    """The release's zip: every other file under one folder ``<campaign>-<release>/``
    (``job.release_zip_name`` gives the same name for a Release)."""
    return f"{campaign.slug}-{params.name}.zip"


def arena_hard_bench(campaign: Campaign, params: ReleaseParameters) -> str:
    """The benchmark name (folder ``data/<bench>/`` of arena-hard-auto)."""
    return f"{campaign.slug}-{params.name}"


def release_build(
    *,
    campaign: Campaign,
    out_dir: Path,
    parameters: ReleaseParameters | None = None,
    actor: Any = None,
    progress: Progress | None = None,
    store_as: str = "",
) -> ExportResult:
    """Write all release files for the campaign's accepted, uncontaminated rewrites (one per
    seed: only the latest revision can be accepted) into ``out_dir``: ``benchmark.jsonl``,
    ``benchmark.parquet``, ``questions.jsonl``, ``arena-hard-auto/data/<bench>/`` (question
    file and one answer file per included model), ``stats.json``, ``README.md``,
    ``figures/*.svg``, ``manifest.json`` (every file above with its sha256 and size) and
    ``<campaign>-<release>.zip`` (all of them; the one file the manifest does not list).
    With ``store_as`` (the job's ``<campaign>/<release>``) every file is then also saved into
    the releases storage (``storages["releases"]``) under ``<store_as>/<name>``.

    Before selecting, missing token counts are made and the accepted rewrites are checked again
    against every reference set, so a lost background task can never let a contaminated rewrite
    through. ``progress`` gets (percent, message). Raises ValidationFailed for bad parameters,
    too few eligible rewrites (unless ``allow_smaller``), missing answers (``plan_responses``)
    and samples without a CodeArena task type (``plan_task_types``)."""
    params = parameters or ReleaseParameters()
    params.validate()
    say = progress or (lambda _pct, _msg: None)

    counted = rewrites_count_missing_tokens(campaign=campaign)
    say(5, f"counted question tokens of {counted} rewrite(s) that had none")
    accepted_ids = list(
        Rewrite.objects.filter(campaign=campaign, status=Rewrite.Status.ACCEPTED).values_list(
            "pk", flat=True
        )
    )
    check = rewrites_decontaminate(campaign=campaign, rewrite_ids=accepted_ids, actor=actor)
    del accepted_ids
    say(
        30,
        f"decontaminated {check.checked} accepted rewrites against "
        f"{len(check.reference_sets)} reference set(s): {check.contaminated} contaminated",
    )
    eligible = eligible_candidates(campaign)
    n_eligible = len(eligible)
    chosen = select_rewrites(
        eligible,
        size=params.size,
        seed=params.seed,
        stratify=params.stratify,
        allow_smaller=params.allow_smaller,
    )
    del eligible
    say(40, f"selected {len(chosen)} of {n_eligible} eligible rewrites")

    imported, answered = _answered(campaign, chosen)
    plan = plan_responses(
        campaign=campaign, params=params, chosen=chosen, models=imported, answered=answered
    )
    del answered
    models = plan.models
    task_types = plan_task_types(params=params, chosen=chosen)
    # benchmark.jsonl's order: by sample id.
    order = sorted(
        ((seed_sample_id(campaign.slug, c.external_id), c) for c in chosen), key=lambda x: x[0]
    )
    total = len(order)
    curator_decided = sum(1 for c in chosen if c.decided_by_curator)
    chosen_ids = {c.pk for c in chosen}
    del chosen

    staging = release_staging_open(out_dir)
    try:
        files, stats = _release_write(
            staging,
            campaign=campaign,
            params=params,
            order=order,
            models=models,
            task_types=task_types,
            say=say,
            quality={
                "reference_sets": check.reference_sets,
                "ngram": check.n,
                **_release_quality(campaign, chosen_ids),
            },
            plan=plan,
            released_curator_decided=curator_decided,
            eligible=n_eligible,
        )
        release_staging_publish(out_dir, staging, written=files)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if store_as:
        say(85, f"published {len(files)} files")
        release_files_store(source=Path(out_dir), names=files, prefix=store_as)
        say(100, f"stored {len(files)} files")
        where = {"stored_as": store_as}
    else:
        say(100, f"published {len(files)} files")
        where = {"out_dir": str(out_dir)}
    event_record(
        campaign=campaign,
        actor=actor,
        kind=EventKind.RELEASE_BUILT,
        obj=campaign,
        data={**where, "total": total, **stats["parameters"]},
    )
    return ExportResult(
        out_dir=Path(out_dir),
        files=files,
        total=total,
        stats=stats,
        samples=[(sample, c.pk) for sample, c in order],
    )


@dataclass
class _Tally:
    """stats.json's counts over the samples, added a chunk at a time."""

    models: list[str]

    def __post_init__(self) -> None:
        self.groups: Counter[TagGroup] = Counter()
        self.languages: Counter[str] = Counter()
        self.question_tokens = array("q")
        self.response_tokens = {model: array("q") for model in self.models}
        self.provenance = ProvenanceTally()
        self.long_questions: list[str] = []


def _chunk_records(
    campaign: Campaign,
    part: list[tuple[str, Candidate]],
    *,
    models: list[str],
    baseline: str,
    task_types: dict[tuple[str, str], str] | None,
    tally: _Tally,
) -> list[dict[str, Any]]:
    """The benchmark.jsonl records of ``part`` (sample id, candidate), in its order, read in
    five queries, and counted into ``tally``."""
    pks = [c.pk for _, c in part]
    rows: dict[int, tuple[str, str, str, int | None]] = {
        pk: (text, difficulty, natural, tokens)
        for pk, text, difficulty, natural, tokens in Rewrite.objects.filter(
            pk__in=_among(pks)
        ).values_list("pk", "text", "difficulty", "natural_language", "question_tokens")
    }
    languages: dict[int, list[str]] = defaultdict(list)
    for rewrite_id, name in (
        RewriteLanguage.objects.filter(rewrite_id__in=_among(pks))
        .order_by("rewrite_id", "position")
        .values_list("rewrite_id", "language__name")
    ):
        languages[rewrite_id].append(name)
    votes: dict[int, dict[str, int]] = defaultdict(lambda: {"valid": 0, "invalid": 0})
    for rewrite_id, decision, n in (
        Ballot.objects.filter(rewrite_id__in=_among(pks), status=Ballot.Status.CAST)
        .order_by()
        .values_list("rewrite_id", "decision")
        .annotate(n=Count("pk"))
    ):
        votes[rewrite_id]["valid" if decision == Decision.VALID else "invalid"] += n
    provenance = _provenance(pks)
    answers: dict[tuple[int, str], tuple[str, int | None]] = {}
    if models:
        answers = {
            (seed_id, model): (text, tokens)
            for seed_id, model, text, tokens in BaselineResponse.objects.filter(
                campaign=campaign,
                seed_id__in=_among([c.seed_id for _, c in part]),
                model__in=models,
            ).values_list("seed_id", "model", "text", "tokens")
        }
    records = []
    for sample, c in part:
        text, difficulty, natural_language, question_tokens = rows[c.pk]
        langs = languages.get(c.pk, [])
        prov = provenance.get(c.pk)
        record = benchmark_row(
            sample=sample,
            text=text,
            category=c.category,
            subcategory=c.subcategory,
            difficulty=difficulty,
            programming_languages=langs,
            natural_language=natural_language,
            question_tokens=question_tokens,
            seed_id=c.external_id,
            votes=votes.get(c.pk, {"valid": 0, "invalid": 0}),
            responses={m: answers[(c.seed_id, m)][0] for m in models if (c.seed_id, m) in answers},
            task_type=None if task_types is None else task_types[(c.category, c.subcategory)],
            baseline=answers[(c.seed_id, baseline)][0] if baseline else None,
            provenance=prov,
        )
        records.append(record)
        tally.groups[(c.category, c.subcategory, difficulty, natural_language)] += 1
        tally.languages.update(langs)
        if question_tokens is not None:
            tally.question_tokens.append(question_tokens)
        for model in models:
            tokens = answers.get((c.seed_id, model), (None, None))[1]
            if tokens is not None:
                tally.response_tokens[model].append(tokens)
        tally.provenance.add(prov or Provenance())
        if len(text.split()) >= CODEARENA_MAX_WORDS:
            tally.long_questions.append(sample)
    return records


def _release_write(
    staging: Path,
    *,
    campaign: Campaign,
    params: ReleaseParameters,
    order: list[tuple[str, Candidate]],
    models: list[str],
    task_types: dict[tuple[str, str], str] | None,
    say: Progress,
    quality: dict[str, Any],
    plan: ResponsePlan,
    released_curator_decided: int,
    eligible: int,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Write every file of the release into ``staging``, the samples a chunk at a time.
    Returns {file: sha256 and size} in the manifest's order (then manifest.json and the zip)
    and stats.json's content."""
    total = len(order)
    baseline = params.baseline_model
    category = params.arena_hard_category
    bench = arena_hard_bench(campaign, params)
    arena = f"arena-hard-auto/data/{bench}"
    # benchmark.parquet's columns: every key of benchmark.jsonl, in its order.
    columns = list(FIXED_KEYS) if total else []
    columns += ["meta"] * (task_types is not None) + ["baseline"] * bool(baseline)
    columns += [f"{model}_response" for model in models]
    columns += ["provenance"] if total else []

    answer_names = {model: f"{arena}/model_answer/{model}.jsonl" for model in models}
    texts = {
        name: HashedFile(staging / name)
        for name in ["benchmark.jsonl", "questions.jsonl", f"{arena}/question.jsonl"]
        + list(answer_names.values())
    }
    parquet = ParquetRows(staging / "benchmark.parquet", columns=columns)
    tally = _Tally(models)
    for start in range(0, total, RELEASE_CHUNK):
        records = _chunk_records(
            campaign,
            order[start : start + RELEASE_CHUNK],
            models=models,
            baseline=baseline,
            task_types=task_types,
            tally=tally,
        )
        texts["benchmark.jsonl"].write(jsonl_lines(records).encode("utf-8"))
        questions = jsonl_lines(question_record(rec, category=category) for rec in records)
        texts["questions.jsonl"].write(questions.encode("utf-8"))
        texts[f"{arena}/question.jsonl"].write(questions.encode("utf-8"))
        for model, name in answer_names.items():
            key = f"{model}_response"
            lines = jsonl_lines(
                answer_record(rec, model=model, text=rec[key], bench=bench)
                for rec in records
                if key in rec
            )
            texts[name].write(lines.encode("utf-8"))
        parquet.add(records)
        del records
    parquet.close()
    metas = {name: f.close() for name, f in texts.items()}
    metas["benchmark.parquet"] = path_meta(staging / "benchmark.parquet")
    say(55, f"wrote {total} samples")

    funnel = campaign_funnel(campaign)
    funnel["released"] = total
    funnel["released_curator_decided"] = released_curator_decided
    stats = {
        "campaign": campaign.slug,
        "release": params.name,
        "total": total,
        **distributions_of_counts(
            tally.groups, tally.languages, token_summary(tally.question_tokens)
        ),
        "response_tokens": {model: token_summary(tally.response_tokens[model]) for model in models},
        "funnel": funnel,
        "agreement": agreement(campaign),
        "quality": {"contaminated_excluded": funnel["contaminated"], **quality},
        "provenance": tally.provenance.stats(),
        "responses": plan.report(params),
        "codearena": {
            "task_types": [
                {"category": c, "subcategory": s, "task_type": t}
                for (c, s), t in sorted((task_types or {}).items())
            ],
            "meta": "omitted" if task_types is None else "written",
            "long_questions": sorted(tally.long_questions),
        },
        "arena_hard": {
            "bench": bench,
            "category": category,
            "baseline": baseline or ARENA_HARD_BASELINES.get(category),
            "baseline_shipped": bool(baseline),
            "builtin_baseline": ARENA_HARD_BASELINES.get(category),
            "models": models,
        },
        "tokenizer": campaign.tokenizer,
        "parameters": {**asdict(params), "eligible": eligible},
    }
    say(65, "computed statistics")

    figures = release_figures(stats)
    small: dict[str, bytes] = {
        "stats.json": dumps_document(stats),
        "README.md": dataset_card(campaign=campaign, stats=stats, figures=sorted(figures)).encode(
            "utf-8"
        ),
        **{f"figures/{name}": data for name, data in sorted(figures.items())},
    }
    for name, data in small.items():
        out = HashedFile(staging / name)
        out.write(data)
        metas[name] = out.close()
    # The manifest's order: the samples' files, the answer files, then the others.
    listed = [
        "benchmark.jsonl",
        "benchmark.parquet",
        "questions.jsonl",
        f"{arena}/question.jsonl",
        *answer_names.values(),
        *small,
    ]
    files = {name: metas[name] for name in listed}
    manifest = {
        "campaign": campaign.slug,
        "release": params.name,
        "parameters": stats["parameters"],
        "tokenizer": campaign.tokenizer,
        "counts": {
            "samples": total,
            "eligible": eligible,
            "accepted": funnel["accepted"],
            "contaminated": funnel["contaminated"],
            "models": models,
        },
        "files": dict(files),
    }
    out = HashedFile(staging / "manifest.json")
    out.write(dumps_document(manifest))
    files["manifest.json"] = out.close()
    # The whole release as one download; not in the manifest (the manifest is inside it).
    zipped = zip_name(campaign, params)
    release_zip_write(
        staging / zipped, source=staging, names=list(files), folder=f"{campaign.slug}-{params.name}"
    )
    files[zipped] = path_meta(staging / zipped)
    say(80, "written dataset card, figures, manifest and zip")
    return files, stats

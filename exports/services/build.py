"""Building a release: token counts, a last decontamination of the accepted rewrites,
selection, every file prepared in memory, then published in a local folder and, for a release
job, saved into the releases storage (``publishing``).

One service, ``release_build``, is used by ``export_benchmark`` and by the release job
(``queue.release_start`` -> Celery -> ``job.release_run``). The same database and parameters
give byte-identical ``benchmark.jsonl``, ``questions.jsonl`` and ``stats.json`` (and manifest,
card and figures)."""

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.db.models.functions import Length

from annotation.codearena import task_type_for
from annotation.models import Campaign, Rewrite
from annotation.services import rewrites_count_missing_tokens
from core.errors import ValidationFailed
from core.transitions import EventKind, event_record
from quality.models import SimilarityFlag
from quality.services import rewrites_decontaminate
from review.models import Ballot, Decision
from review.stats import (
    accepted_rewrites,
    agreement,
    campaign_funnel,
    distributions,
    token_summary,
)

from ..card import dataset_card
from ..figures import release_figures
from ..models import BaselineResponse
from .formats import (
    ARENA_HARD_BASELINES,
    MODEL_DRAFTED,
    Provenance,
    arena_hard_answers,
    arena_hard_questions,
    benchmark_parquet,
    benchmark_record,
    dumps_document,
    file_meta,
    jsonl,
    release_zip,
    sample_id,
)
from .publishing import release_files_publish, release_files_store
from .selection import ReleaseParameters, select_rewrites

Progress = Callable[[int, str], None]

# CodeArena's judge_models.py silently leaves out questions of this many whitespace-separated
# words or more (``len(question.split()) < 1024``); the card names them.
CODEARENA_MAX_WORDS = 1024
# How many samples a refusal names in its message (all of them are in its details).
NAMED_IN_MESSAGE = 20


@dataclass
class ExportResult:
    out_dir: Path
    files: dict[str, dict[str, Any]]
    total: int
    stats: dict[str, Any]
    # (sample id, rewrite id) in the order of benchmark.jsonl.
    samples: list[tuple[str, int]]


def _vote_counts(rewrite_ids: list[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = defaultdict(lambda: {"valid": 0, "invalid": 0})
    for rewrite_id, decision in Ballot.objects.filter(
        rewrite_id__in=rewrite_ids, status=Ballot.Status.CAST
    ).values_list("rewrite_id", "decision"):
        counts[rewrite_id]["valid" if decision == Decision.VALID else "invalid"] += 1
    return dict(counts)


def _provenance(rewrite_ids: list[int]) -> dict[int, Provenance]:
    """The provenance of each model-drafted rewrite among ``rewrite_ids`` (those with an
    inserted suggestion; the others are a person's). One query, whatever the number of
    samples; the suggestion's text is measured by the database, not loaded."""
    rows = (
        Rewrite.objects.filter(pk__in=rewrite_ids, suggestion__isnull=False)
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


def provenance_stats(provenances: list[Provenance]) -> dict[str, Any]:
    """stats.json's ``provenance``: how many samples a person wrote and how many were drafted
    from a model suggestion (they add up to the total), per model and per (model, prompt
    version), and how far the model-drafted ones were edited: the edit distance in characters
    and its ratio to the suggestion's length (min / max / mean / median; None without
    model-drafted samples) and the distances in buckets (0 = inserted unchanged). A
    model-drafted sample without a recorded distance is counted but not measured."""
    drafted = [p for p in provenances if p.origin == MODEL_DRAFTED]
    by_model = Counter(str(p.model) for p in drafted)
    by_version: dict[str, Counter[str]] = defaultdict(Counter)
    for p in drafted:
        by_version[str(p.model)][str(p.prompt_version)] += 1
    measured = [p for p in drafted if p.edit_distance is not None]
    distances = [p.edit_distance for p in measured if p.edit_distance is not None]
    ratios = [(p.edit_distance or 0) / max(1, p.suggestion_chars or 0) for p in measured]
    return {
        "human_written": len(provenances) - len(drafted),
        "model_drafted": len(drafted),
        "by_model": dict(sorted(by_model.items())),
        "by_prompt_version": {
            model: dict(sorted(versions.items())) for model, versions in sorted(by_version.items())
        },
        "edit_distance": _spread(distances, 2),
        "edit_ratio": _spread(ratios, 3),
        "edit_distance_buckets": {
            name: sum(1 for d in distances if low <= d and (high is None or d <= high))
            for name, low, high in EDIT_DISTANCE_BUCKETS
        },
    }


def _responses(
    campaign: Campaign, seed_ids: list[int]
) -> tuple[list[str], dict[tuple[int, str], tuple[str, int | None]]]:
    """Imported models (sorted) and {(seed_id, model): (text, tokens)} for the chosen seeds."""
    models = sorted(
        BaselineResponse.objects.filter(campaign=campaign)
        .values_list("model", flat=True)
        .order_by("model")  # without the model's default ordering, which DISTINCT would see
        .distinct()
    )
    found = {
        (seed_id, model): (text, tokens)
        for seed_id, model, text, tokens in BaselineResponse.objects.filter(
            campaign=campaign, seed_id__in=seed_ids
        ).values_list("seed_id", "model", "text", "tokens")
    }
    return models, found


def _release_quality(campaign: Campaign, chosen_ids: set[int]) -> dict[str, int]:
    flags = SimilarityFlag.objects.filter(campaign=campaign, rewrite_id__in=chosen_ids)
    copied = flags.filter(kind=SimilarityFlag.Kind.COPIED_SEED).count()
    pairs = {
        (min(a, b), max(a, b))
        for a, b in flags.filter(kind=SimilarityFlag.Kind.NEAR_DUPLICATE).values_list(
            "rewrite_id", "other_id"
        )
        if a in chosen_ids and b in chosen_ids
    }
    return {"copied_seed": copied, "near_duplicate_pairs": len(pairs)}


def _named(rewrites: list[Rewrite]) -> str:
    shown = ", ".join(r.seed.external_id for r in rewrites[:NAMED_IN_MESSAGE])
    more = len(rewrites) - NAMED_IN_MESSAGE
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
    chosen: list[Rewrite],
    models: list[str],
    responses: dict[tuple[int, str], tuple[str, int | None]],
) -> ResponsePlan:
    """Apply the release's ``missing_responses`` policy to the imported models. No sample ever
    gets a null or empty answer: a model without an answer for some samples refuses the release
    (ValidationFailed naming the samples, all of them in ``details["missing"]``), unless the
    policy leaves the model out (``drop_model``) or its key out of those samples
    (``drop_key``). The baseline model must answer every sample whatever the policy (both
    tools need the baseline's answer to every question)."""
    ids = {r.pk: sample_id(campaign, r) for r in chosen}
    missing = {
        model: [r for r in chosen if (r.seed_id, model) not in responses] for model in models
    }
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
                "missing": {baseline: [ids[r.pk] for r in gaps]},
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
                "missing": {m: [ids[r.pk] for r in gaps] for m, gaps in incomplete.items()},
            },
        )
    if params.missing_responses == "drop_model":
        return ResponsePlan(
            models=[m for m in models if m not in incomplete],
            dropped_models={m: sorted(ids[r.pk] for r in g) for m, g in incomplete.items()},
            dropped_keys={},
        )
    # drop_key (or nothing missing). A model that answered none of these samples has nothing
    # to include: it is left out rather than shipped as an empty answer file.
    unanswered = {m for m, gaps in incomplete.items() if len(gaps) == len(chosen)}
    return ResponsePlan(
        models=[m for m in models if m not in unanswered],
        dropped_models={m: sorted(ids[r.pk] for r in incomplete[m]) for m in sorted(unanswered)},
        dropped_keys={
            m: sorted(ids[r.pk] for r in g) for m, g in incomplete.items() if m not in unanswered
        },
    )


def plan_task_types(
    *, params: ReleaseParameters, chosen: list[Rewrite]
) -> dict[tuple[str, str], str] | None:
    """The CodeArena task type of each (category, subcategory) of the chosen samples
    (``annotation.codearena.task_type_for``: a task type whose first pair in CodeArena's map is
    exactly that pair), or None with ``codearena_meta`` ``omit``. A pair without one (a
    campaign with its own taxonomy) refuses the release, naming the pairs and samples: a
    benchmark.jsonl whose meta CodeArena cannot look up would stop its evaluation."""
    if params.codearena_meta == "omit":
        return None
    found: dict[tuple[str, str], str] = {}
    unknown: dict[tuple[str, str], list[Rewrite]] = defaultdict(list)
    for r in chosen:
        assert r.subcategory is not None  # accepted rewrites have one
        pair = (r.subcategory.category.name, r.subcategory.name)
        task_type = task_type_for(*pair)
        if task_type is None:
            unknown[pair].append(r)
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
    eligible = accepted_rewrites(campaign, releasable_only=True)
    chosen = select_rewrites(
        eligible,
        size=parameters.size,
        seed=parameters.seed,
        stratify=parameters.stratify,
        allow_smaller=parameters.allow_smaller,
    )
    models, responses = _responses(campaign, [r.seed_id for r in chosen])
    plan_responses(
        campaign=campaign, params=parameters, chosen=chosen, models=models, responses=responses
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
    say(
        30,
        f"decontaminated {check.checked} accepted rewrites against "
        f"{len(check.reference_sets)} reference set(s): {check.contaminated} contaminated",
    )
    eligible = accepted_rewrites(campaign, releasable_only=True)
    chosen = select_rewrites(
        eligible,
        size=params.size,
        seed=params.seed,
        stratify=params.stratify,
        allow_smaller=params.allow_smaller,
    )
    say(40, f"selected {len(chosen)} of {len(eligible)} eligible rewrites")

    votes = _vote_counts([r.pk for r in chosen])
    provenance = _provenance([r.pk for r in chosen])
    imported, responses = _responses(campaign, [r.seed_id for r in chosen])
    plan = plan_responses(
        campaign=campaign, params=params, chosen=chosen, models=imported, responses=responses
    )
    models = plan.models
    task_types = plan_task_types(params=params, chosen=chosen)
    rewrite_of = {sample_id(campaign, r): r.pk for r in chosen}

    def answers_to(r: Rewrite) -> dict[str, str]:
        return {m: responses[(r.seed_id, m)][0] for m in models if (r.seed_id, m) in responses}

    def task_type(r: Rewrite) -> str | None:
        if task_types is None:
            return None
        assert r.subcategory is not None
        return task_types[(r.subcategory.category.name, r.subcategory.name)]

    baseline = params.baseline_model
    records = [
        benchmark_record(
            campaign,
            r,
            votes=votes.get(r.pk, {"valid": 0, "invalid": 0}),
            responses=answers_to(r),
            task_type=task_type(r),
            baseline=responses[(r.seed_id, baseline)][0] if baseline else None,
            provenance=provenance.get(r.pk),
        )
        for r in chosen
    ]
    records.sort(key=lambda rec: rec["id"])
    # benchmark.parquet's columns: every key of benchmark.jsonl, in its order.
    columns = list(records[0])[:10] if records else []
    columns += ["meta"] * (task_types is not None) + ["baseline"] * bool(baseline)
    columns += [f"{model}_response" for model in models]
    columns += ["provenance"] if records else []
    benchmark = jsonl(records)
    parquet = benchmark_parquet(records, columns=columns)
    category = params.arena_hard_category
    questions = arena_hard_questions(records, category=category)
    bench = arena_hard_bench(campaign, params)
    answer_files = {
        f"arena-hard-auto/data/{bench}/model_answer/{model}.jsonl": arena_hard_answers(
            records,
            model=model,
            answers={
                rec["id"]: rec[f"{model}_response"] for rec in records if f"{model}_response" in rec
            },
            bench=bench,
        )
        for model in models
    }
    say(55, f"wrote {len(records)} samples")

    funnel = campaign_funnel(campaign)
    funnel["released"] = len(records)
    funnel["released_curator_decided"] = sum(1 for r in chosen if r.decided_by_curator)
    stats = {
        "campaign": campaign.slug,
        "release": params.name,
        "total": len(records),
        **distributions(chosen),
        "response_tokens": {
            model: token_summary(responses.get((r.seed_id, model), (None, None))[1] for r in chosen)
            for model in models
        },
        "funnel": funnel,
        "agreement": agreement(campaign),
        "quality": {
            "contaminated_excluded": funnel["contaminated"],
            "reference_sets": check.reference_sets,
            "ngram": check.n,
            **_release_quality(campaign, {r.pk for r in chosen}),
        },
        "provenance": provenance_stats([provenance.get(r.pk, Provenance()) for r in chosen]),
        "responses": plan.report(params),
        "codearena": {
            "task_types": [
                {"category": c, "subcategory": s, "task_type": t}
                for (c, s), t in sorted((task_types or {}).items())
            ],
            "meta": "omitted" if task_types is None else "written",
            "long_questions": sorted(
                rec["id"]
                for rec in records
                if len(rec["messages"][0]["content"].split()) >= CODEARENA_MAX_WORDS
            ),
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
        "parameters": {**asdict(params), "eligible": len(eligible)},
    }
    stats_bytes = dumps_document(stats)
    say(65, "computed statistics")

    figures = release_figures(stats)
    card = dataset_card(campaign=campaign, stats=stats, figures=sorted(figures)).encode("utf-8")
    files: dict[str, bytes] = {
        "benchmark.jsonl": benchmark,
        "benchmark.parquet": parquet,
        "questions.jsonl": questions,
        f"arena-hard-auto/data/{bench}/question.jsonl": questions,
        **answer_files,
        "stats.json": stats_bytes,
        "README.md": card,
        **{f"figures/{name}": data for name, data in sorted(figures.items())},
    }
    manifest = {
        "campaign": campaign.slug,
        "release": params.name,
        "parameters": stats["parameters"],
        "tokenizer": campaign.tokenizer,
        "counts": {
            "samples": len(records),
            "eligible": len(eligible),
            "accepted": funnel["accepted"],
            "contaminated": funnel["contaminated"],
            "models": models,
        },
        "files": {name: file_meta(data) for name, data in files.items()},
    }
    files["manifest.json"] = dumps_document(manifest)
    # The whole release as one download; not in the manifest (the manifest is inside it).
    folder = f"{campaign.slug}-{params.name}"
    files[zip_name(campaign, params)] = release_zip(files, folder=folder)
    say(80, "written dataset card, figures, manifest and zip")

    written = release_files_publish(Path(out_dir), files)
    if store_as:
        say(85, f"published {len(written)} files")
        release_files_store(source=Path(out_dir), names=written, prefix=store_as)
        say(100, f"stored {len(written)} files")
        where = {"stored_as": store_as}
    else:
        say(100, f"published {len(written)} files")
        where = {"out_dir": str(out_dir)}
    event_record(
        campaign=campaign,
        actor=actor,
        kind=EventKind.RELEASE_BUILT,
        obj=campaign,
        data={**where, "total": len(records), **stats["parameters"]},
    )
    return ExportResult(
        out_dir=Path(out_dir),
        files=written,
        total=len(records),
        stats=stats,
        samples=[(rec["id"], rewrite_of[rec["id"]]) for rec in records],
    )

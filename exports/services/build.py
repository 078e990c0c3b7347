"""Building a release: token counts, a last decontamination of the accepted rewrites,
selection, every file prepared in memory, then published (``publishing``).

One service, ``release_build``, is used by ``export_benchmark`` and by the release job
(``queue.release_start`` -> Celery -> ``job.release_run``). The same database and parameters
give byte-identical ``benchmark.jsonl``, ``questions.jsonl`` and ``stats.json`` (and manifest,
card and figures)."""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from annotation.models import Campaign, Rewrite
from annotation.services import rewrites_count_missing_tokens
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
    arena_hard_questions,
    benchmark_record,
    dumps_document,
    file_meta,
    jsonl,
    sample_id,
)
from .publishing import release_files_publish
from .selection import ReleaseParameters, select_rewrites

Progress = Callable[[int, str], None]


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


def release_build(
    *,
    campaign: Campaign,
    out_dir: Path,
    parameters: ReleaseParameters | None = None,
    actor: Any = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Write all release files for the campaign's accepted, uncontaminated rewrites (one per
    seed: only the latest revision can be accepted) into ``out_dir``: ``benchmark.jsonl``,
    ``questions.jsonl``, ``stats.json``, ``README.md``, ``figures/*.svg``, ``manifest.json``.

    Before selecting, missing token counts are made and the accepted rewrites are checked again
    against every reference set, so a lost background task can never let a contaminated rewrite
    through. ``progress`` gets (percent, message). Raises ValidationFailed for bad parameters or
    too few eligible rewrites (unless ``allow_smaller``)."""
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
    models, responses = _responses(campaign, [r.seed_id for r in chosen])
    rewrite_of = {sample_id(campaign, r): r.pk for r in chosen}
    records = [
        benchmark_record(
            campaign,
            r,
            votes=votes.get(r.pk, {"valid": 0, "invalid": 0}),
            responses={m: responses.get((r.seed_id, m), (None, None))[0] for m in models},
        )
        for r in chosen
    ]
    records.sort(key=lambda rec: rec["id"])
    benchmark = jsonl(records)
    questions = arena_hard_questions(records)
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
        "tokenizer": campaign.tokenizer,
        "parameters": {**asdict(params), "eligible": len(eligible)},
    }
    stats_bytes = dumps_document(stats)
    say(65, "computed statistics")

    figures = release_figures(stats)
    card = dataset_card(campaign=campaign, stats=stats, figures=sorted(figures)).encode("utf-8")
    files: dict[str, bytes] = {
        "benchmark.jsonl": benchmark,
        "questions.jsonl": questions,
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
    say(80, "written dataset card, figures and manifest")

    written = release_files_publish(Path(out_dir), files)
    say(100, f"published {len(written)} files")
    event_record(
        campaign=campaign,
        actor=actor,
        kind=EventKind.RELEASE_BUILT,
        obj=campaign,
        data={"out_dir": str(out_dir), "total": len(records), **stats["parameters"]},
    )
    return ExportResult(
        out_dir=Path(out_dir),
        files=written,
        total=len(records),
        stats=stats,
        samples=[(rec["id"], rewrite_of[rec["id"]]) for rec in records],
    )

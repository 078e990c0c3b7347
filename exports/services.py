"""Benchmark export: select accepted rewrites and write the release files atomically.

Files are written to a temporary name in the output folder and renamed into place, so a crash
never leaves a half-written file. The same database and parameters give byte-identical files."""

import hashlib
import json
import os
import random
import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from annotation.errors import ValidationFailed
from annotation.models import Campaign, Rewrite
from annotation.sampling import sampling_quotas
from annotation.services import event_record, rewrites_count_missing_tokens
from review.models import Ballot, Decision
from review.stats import accepted_rewrites, agreement, campaign_funnel, distributions

STRATIFY = ("subcategory", "category", "none")


def sample_id(campaign: Campaign, rewrite: Rewrite) -> str:
    """A stable hex id for a benchmark sample: the same seed keeps its id across releases."""
    return hashlib.sha256(f"{campaign.slug}\x00{rewrite.seed.external_id}".encode()).hexdigest()[
        :32
    ]


def select_rewrites(
    rewrites: list[Rewrite], *, size: int | None, seed: int, stratify: str, allow_smaller: bool
) -> list[Rewrite]:
    """A deterministic subset of ``rewrites`` of ``size`` (all when None), spread over strata as
    ``sampling_quotas`` spreads seeds. Raises ValidationFailed if fewer are eligible than asked
    for, unless ``allow_smaller``."""
    if stratify not in STRATIFY:
        raise ValidationFailed(f"--stratify must be one of {', '.join(STRATIFY)}.")
    if size is None:
        return rewrites
    if size < 1:
        raise ValidationFailed("--size must be at least 1.")
    if len(rewrites) < size and not allow_smaller:
        raise ValidationFailed(
            f"Only {len(rewrites)} accepted rewrites are eligible, fewer than --size {size}. "
            "Accept more rewrites, lower --size, or pass --allow-smaller."
        )

    def stratum(r: Rewrite) -> str:
        if stratify == "subcategory":
            return r.subcategory.name
        if stratify == "category":
            return r.subcategory.category.name
        return ""

    groups: dict[str, list[Rewrite]] = defaultdict(list)
    for r in sorted(rewrites, key=lambda r: r.seed.external_id):
        groups[stratum(r)].append(r)
    quotas = sampling_quotas({k: len(v) for k, v in groups.items()}, size)
    chosen: list[Rewrite] = []
    for key in sorted(groups):
        rng = random.Random(f"{seed}:{key}")
        chosen.extend(rng.sample(groups[key], quotas[key]))
    return chosen


@dataclass
class ExportResult:
    out_dir: Path
    files: dict[str, dict[str, Any]]
    total: int
    stats: dict[str, Any]


def _write_atomic(path: Path, data: bytes) -> dict[str, Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def _dumps_line(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))


def benchmark_export(
    *,
    campaign: Campaign,
    out_dir: Path,
    size: int | None = None,
    seed: int = 42,
    stratify: str = "subcategory",
    allow_smaller: bool = False,
    actor: Any = None,
    progress: Callable[[str], None] | None = None,
) -> ExportResult:
    """Write ``benchmark.jsonl`` and ``stats.json`` for the campaign's accepted rewrites (one
    per seed: only the latest revision can be accepted) into ``out_dir``.

    Raises ValidationFailed for bad parameters or too few eligible rewrites."""
    say = progress or (lambda _msg: None)
    # A token count whose task failed or never ran is made now, so no sample ships without one.
    counted = rewrites_count_missing_tokens(campaign=campaign)
    if counted:
        say(f"counted question tokens of {counted} rewrite(s) that had none")
    say("selecting accepted rewrites")
    eligible = accepted_rewrites(campaign)
    chosen = select_rewrites(
        eligible, size=size, seed=seed, stratify=stratify, allow_smaller=allow_smaller
    )
    records = []
    votes = _vote_counts([r.pk for r in chosen])
    for r in chosen:
        records.append(
            {
                "id": sample_id(campaign, r),
                "messages": [{"role": "user", "content": r.text}],
                "category": r.subcategory.category.name,
                "subcategory": r.subcategory.name,
                "difficulty": r.difficulty,
                "programming_language": [link.language.name for link in r.language_links.all()],
                "language": r.natural_language,
                "question_tokens": r.question_tokens,
                "seed_id": r.seed.external_id,
                "votes": votes.get(r.pk, {"valid": 0, "invalid": 0}),
            }
        )
    records.sort(key=lambda rec: rec["id"])
    say(f"writing {len(records)} samples")
    benchmark = "".join(_dumps_line(rec) + "\n" for rec in records).encode("utf-8")
    funnel = campaign_funnel(campaign)
    funnel["released"] = len(records)
    stats = {
        "campaign": campaign.slug,
        "total": len(records),
        **distributions(chosen),
        "funnel": funnel,
        "agreement": agreement(campaign),
        "tokenizer": campaign.tokenizer,
        "parameters": {
            "size": size,
            "seed": seed,
            "stratify": stratify,
            "allow_smaller": allow_smaller,
            "eligible": len(eligible),
        },
    }
    stats_bytes = (json.dumps(stats, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    out_dir = Path(out_dir)
    files = {
        "benchmark.jsonl": _write_atomic(out_dir / "benchmark.jsonl", benchmark),
        "stats.json": _write_atomic(out_dir / "stats.json", stats_bytes),
    }
    event_record(
        campaign=campaign,
        actor=actor,
        kind="benchmark.exported",
        obj=campaign,
        data={
            "out_dir": str(out_dir),
            "total": len(records),
            **stats["parameters"],
            "files": files,
        },
    )
    return ExportResult(out_dir=out_dir, files=files, total=len(records), stats=stats)


def _vote_counts(rewrite_ids: list[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = defaultdict(lambda: {"valid": 0, "invalid": 0})
    for rewrite_id, decision in Ballot.objects.filter(
        rewrite_id__in=rewrite_ids, status=Ballot.Status.CAST
    ).values_list("rewrite_id", "decision"):
        counts[rewrite_id]["valid" if decision == Decision.VALID else "invalid"] += 1
    return dict(counts)

"""Benchmark releases: select accepted, uncontaminated rewrites and write the release files.

One service, ``release_build``, is used by ``export_benchmark`` and by the release job
(``release_start`` -> Celery -> ``release_run``). Every file is prepared in memory, written to a
staging folder beside the output folder and moved into place, so a crash or a kill never leaves
a half-written file in the output folder. The same database and parameters give byte-identical
``benchmark.jsonl``, ``questions.jsonl`` and ``stats.json`` (and manifest, card and figures)."""

import hashlib
import json
import os
import random
import re
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from annotation.errors import DomainError, InvalidTransition, NotFound, ValidationFailed
from annotation.models import Campaign, Rewrite, Role
from annotation.sampling import sampling_quotas
from annotation.services import event_record, require_role, rewrites_count_missing_tokens
from review.models import Ballot, Decision
from review.stats import (
    accepted_rewrites,
    agreement,
    campaign_funnel,
    distributions,
    releasable_queryset,
    token_summary,
)

from ..card import dataset_card
from ..figures import release_figures
from ..models import BaselineResponse, Release, SimilarityFlag
from .quality import rewrites_decontaminate

STRATIFY = ("subcategory", "category", "none")
# arena-hard-auto picks its judge settings (baseline, system prompt) by a question's category,
# one of hard_prompt / coding / math / creative_writing; every question here is a coding one.
ARENA_HARD_CATEGORY = "coding"
# A release job still "running" this long after it started lost its worker; a redelivered task
# may take it over.
RUNNING_STALE_AFTER = timedelta(minutes=30)
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
Progress = Callable[[int, str], None]


def sample_id(campaign: Campaign, rewrite: Rewrite) -> str:
    """A stable hex id for a benchmark sample: the same seed keeps its id across releases."""
    return seed_sample_id(campaign.slug, rewrite.seed.external_id)


def seed_sample_id(campaign_slug: str, external_id: str) -> str:
    return hashlib.sha256(f"{campaign_slug}\x00{external_id}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class ReleaseParameters:
    name: str = "dev"
    size: int | None = None
    seed: int = 42
    stratify: str = "subcategory"
    allow_smaller: bool = False

    def validate(self) -> None:
        errors: dict[str, list[str]] = {}
        if not NAME_PATTERN.match(self.name):
            errors["name"] = [
                "use letters, digits, '.', '_' or '-' (at most 100, not starting with '.')"
            ]
        if self.stratify not in STRATIFY:
            errors["stratify"] = [f"must be one of {', '.join(STRATIFY)}"]
        if self.size is not None and self.size < 1:
            errors["size"] = ["must be at least 1"]
        if errors:
            raise ValidationFailed(
                "The release parameters are invalid.", details={"errors": errors}
            )


def select_rewrites(
    rewrites: list[Rewrite], *, size: int | None, seed: int, stratify: str, allow_smaller: bool
) -> list[Rewrite]:
    """A deterministic subset of ``rewrites`` of ``size`` (all when None), spread over strata as
    ``sampling_quotas`` spreads seeds; the parameters were checked by
    ``ReleaseParameters.validate``. Raises ValidationFailed if fewer are eligible than asked
    for, unless ``allow_smaller``."""
    if size is None:
        return rewrites
    if len(rewrites) < size and not allow_smaller:
        raise ValidationFailed(
            f"Only {len(rewrites)} accepted, uncontaminated rewrites are eligible, fewer than "
            f"--size {size}. Accept more rewrites, lower --size, or pass --allow-smaller."
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


def _dumps_line(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))


def _dumps_document(obj: Any) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _file_meta(data: bytes) -> dict[str, Any]:
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


STALE_STAGING_SECONDS = 3600


def release_files_publish(out_dir: Path, files: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    """Write ``files`` (relative path -> bytes) into ``out_dir`` so that no reader ever sees a
    partial file or a mix of two releases: everything is written and fsynced in a staging
    folder beside ``out_dir``, which is then renamed to ``out_dir``; an existing ``out_dir`` is
    first renamed aside (``.<name>.previous-*``) and removed once the new one is in place. A
    kill between those two renames leaves no ``out_dir`` and the previous release aside. A
    staging folder left by a killed run is removed by the next run once it is an hour old."""
    out_dir = Path(out_dir).absolute()
    parent = out_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    for stale in parent.glob(f".{out_dir.name}.staging-*"):
        if time.time() - stale.stat().st_mtime > STALE_STAGING_SECONDS:
            shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out_dir.name}.staging-"))
    try:
        for rel, data in files.items():
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        staging.chmod(0o755)
        if not out_dir.exists():
            os.rename(staging, out_dir)
        else:
            # Swap whole folders, so the files of two releases never sit side by side (a new
            # benchmark.jsonl beside an old manifest.json). Entries the new release does not
            # write (a team's own notes, say) are carried over afterwards.
            aside = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out_dir.name}.previous-"))
            aside.rmdir()
            os.rename(out_dir, aside)
            os.rename(staging, out_dir)
            written = {Path(rel).parts[0] for rel in files}
            for entry in sorted(aside.iterdir()):
                if entry.name not in written:
                    os.rename(entry, out_dir / entry.name)
            shutil.rmtree(aside, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {rel: _file_meta(data) for rel, data in files.items()}


def _vote_counts(rewrite_ids: list[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = defaultdict(lambda: {"valid": 0, "invalid": 0})
    for rewrite_id, decision in Ballot.objects.filter(
        rewrite_id__in=rewrite_ids, status=Ballot.Status.CAST
    ).values_list("rewrite_id", "decision"):
        counts[rewrite_id]["valid" if decision == Decision.VALID else "invalid"] += 1
    return dict(counts)


def _responses(campaign: Campaign, seed_ids: list[int]) -> tuple[list[str], dict]:
    """Imported models (sorted) and {(seed_id, model): (text, tokens)} for the chosen seeds."""
    models = sorted(
        BaselineResponse.objects.filter(campaign=campaign)
        .values_list("model", flat=True)
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
    records = []
    for r in chosen:
        record = {
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
        for model in models:
            record[f"{model}_response"] = responses.get((r.seed_id, model), (None, None))[0]
        records.append(record)
    records.sort(key=lambda rec: rec["id"])
    benchmark = "".join(_dumps_line(rec) + "\n" for rec in records).encode("utf-8")
    questions = "".join(
        _dumps_line(
            {
                "uid": rec["id"],
                "category": ARENA_HARD_CATEGORY,
                "subcategory": rec["subcategory"],
                "prompt": rec["messages"][0]["content"],
            }
        )
        + "\n"
        for rec in records
    ).encode("utf-8")
    say(55, f"wrote {len(records)} samples")

    funnel = campaign_funnel(campaign)
    funnel["released"] = len(records)
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
    stats_bytes = _dumps_document(stats)
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
        "files": {name: _file_meta(data) for name, data in files.items()},
    }
    files["manifest.json"] = _dumps_document(manifest)
    say(80, "written dataset card, figures and manifest")

    written = release_files_publish(Path(out_dir), files)
    say(100, f"published {len(written)} files")
    event_record(
        campaign=campaign,
        actor=actor,
        kind="release.built",
        obj=campaign,
        data={"out_dir": str(out_dir), "total": len(records), **stats["parameters"]},
    )
    return ExportResult(out_dir=Path(out_dir), files=written, total=len(records), stats=stats)


def release_dir(release: Release) -> Path:
    return Path(settings.RELEASES_DIR) / release.campaign.slug / release.name


def release_start(*, campaign: Campaign, actor: Any, parameters: ReleaseParameters) -> Release:
    """Queue a release job (curators only) and start it once the transaction commits.

    Raises NotAllowed (not a curator), ValidationFailed (bad parameters, too few eligible
    rewrites) and Conflict (the name is taken)."""
    from annotation.errors import Conflict

    from ..tasks import run_release

    require_role(campaign=campaign, actor=actor, role=Role.CURATOR)
    parameters.validate()
    if parameters.size is not None and not parameters.allow_smaller:
        eligible = releasable_queryset(campaign).count()
        if eligible < parameters.size:
            raise ValidationFailed(
                f"Only {eligible} accepted, uncontaminated rewrites are eligible, fewer than size "
                f"{parameters.size}. Accept more rewrites, lower the size, or allow a smaller "
                "release.",
                details={"errors": {"size": [f"at most {eligible} are eligible"]}},
            )
    taken = Conflict(
        f"A release named {parameters.name!r} already exists in {campaign.slug}; "
        "choose another name."
    )
    with transaction.atomic():
        if Release.objects.filter(campaign=campaign, name=parameters.name).exists():
            raise taken
        try:
            with transaction.atomic():
                release = Release.objects.create(
                    campaign=campaign,
                    name=parameters.name,
                    parameters=asdict(parameters),
                    created_by=actor,
                    message="waiting for a worker",
                )
        except IntegrityError as exc:  # the same name, started at the same moment
            raise taken from exc
        event_record(
            campaign=campaign,
            actor=actor,
            kind="release.queued",
            obj=release,
            to_state=Release.Status.QUEUED,
            data=asdict(parameters),
        )
        run_release.delay_on_commit(release.pk)
    return release


def _release_progress(release_id: int, percent: int, message: str) -> None:
    Release.objects.filter(pk=release_id, status=Release.Status.RUNNING).update(
        progress=min(percent, 100), message=message[:300]
    )


def _release_move(
    release: Release, *, to_state: str, data: dict[str, Any] | None = None, **fields: Any
) -> bool:
    """Move a running release to ``to_state`` (a guarded update and its event, in one
    transaction). False if it is no longer running (another worker took it over)."""
    with transaction.atomic():
        moved = Release.objects.filter(pk=release.pk, status=Release.Status.RUNNING).update(
            status=to_state, finished_at=timezone.now(), **fields
        )
        if moved:
            event_record(
                campaign=release.campaign,
                actor=release.created_by,
                kind=f"release.{to_state}",
                obj=release,
                from_state=Release.Status.RUNNING,
                to_state=to_state,
                data=data,
            )
    return bool(moved)


def release_run(*, release_id: int) -> Release:
    """Build a queued release (the Celery job). Idempotent: a release that is not queued is
    left alone, unless it has been "running" for RUNNING_STALE_AFTER (its worker died and the
    task was redelivered), in which case it is built again. A domain error (e.g. too few
    eligible rewrites) marks the release failed with its message; any other error does too, and
    is re-raised for the worker's log."""
    now = timezone.now()
    release = Release.objects.select_related("campaign", "created_by").get(pk=release_id)
    stale = Q(status=Release.Status.RUNNING, started_at__lt=now - RUNNING_STALE_AFTER)
    with transaction.atomic():
        started = Release.objects.filter(
            Q(status=Release.Status.QUEUED) | stale, pk=release_id
        ).update(status=Release.Status.RUNNING, started_at=now, progress=0, message="starting")
        if started:
            event_record(
                campaign=release.campaign,
                actor=release.created_by,
                kind="release.started",
                obj=release,
                from_state=release.status,
                to_state=Release.Status.RUNNING,
            )
    if not started:
        return release
    params = {k: v for k, v in release.parameters.items() if k in ReleaseParameters.__annotations__}
    try:
        result = release_build(
            campaign=release.campaign,
            out_dir=release_dir(release),
            parameters=ReleaseParameters(**params),
            actor=release.created_by,
            progress=lambda pct, msg: _release_progress(release_id, pct, msg),
        )
    except Exception as exc:
        message = exc.message if isinstance(exc, DomainError) else f"internal error: {exc!r}"
        _release_move(
            release, to_state=Release.Status.FAILED, data={"error": message}, error=message
        )
        if not isinstance(exc, DomainError):
            raise
    else:
        _release_move(
            release,
            to_state=Release.Status.DONE,
            data={"total": result.total},
            progress=100,
            message=f"{result.total} samples",
            files=result.files,
            stats=result.stats,
        )
    release.refresh_from_db()
    return release


def release_file_path(*, release: Release, name: str) -> Path:
    """The path of one file of a finished release. Raises NotFound for a name the release did
    not write (which also rules out any path outside the release folder) and
    InvalidTransition while the release is not done."""
    if release.status != Release.Status.DONE:
        raise InvalidTransition(f"Release {release.name!r} is {release.status}; wait until done.")
    if name not in release.files:
        raise NotFound(f"Release {release.name!r} has no file {name!r}.")
    path = release_dir(release) / name
    if not path.is_file():
        raise NotFound(f"The file {name!r} of release {release.name!r} is missing on disk.")
    return path

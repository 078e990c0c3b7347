"""The release job run by a worker: queued -> running -> done | failed, with its progress, and
the files of a finished release. Never enqueues anything (``queue`` does), so tasks can call it
without an import cycle."""

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.errors import DomainError, InvalidTransition, NotFound
from core.transitions import EventKind, transition

from ..models import Release, ReleaseSample
from .build import release_build
from .selection import ReleaseParameters

# A release job still "running" this long after it started lost its worker; a redelivered task
# may take it over.
RUNNING_STALE_AFTER = timedelta(minutes=30)


def release_dir(release: Release) -> Path:
    return Path(settings.RELEASES_DIR) / release.campaign.slug / release.name


def _release_progress(release_id: int, percent: int, message: str) -> None:
    # Progress is not a status change: no event, and only while the job runs.
    Release.objects.filter(pk=release_id, status=Release.Status.RUNNING).update(
        progress=min(percent, 100), message=message[:300]
    )


def _release_finish(
    release: Release,
    *,
    to_state: str,
    data: dict[str, Any],
    samples: Sequence[tuple[str, int]] = (),
    **fields: Any,
) -> bool:
    """Move a running release to done or failed (a guarded update and its event, in one
    transaction), recording a finished release's ``samples`` (sample id, rewrite id) with it.
    False if it is no longer running (another worker took it over)."""
    kind = EventKind.RELEASE_DONE if to_state == Release.Status.DONE else EventKind.RELEASE_FAILED
    try:
        with transaction.atomic():
            transition(
                release,
                to=to_state,
                allowed=Release.TRANSITIONS,
                kind=kind,
                actor=release.created_by,
                data=data,
                extra={"finished_at": timezone.now(), **fields},
            )
            ReleaseSample.objects.bulk_create(
                ReleaseSample(
                    release=release,
                    campaign_id=release.campaign_id,
                    rewrite_id=rewrite_id,
                    sample_id=sample,
                    position=position,
                )
                for position, (sample, rewrite_id) in enumerate(samples, start=1)
            )
    except InvalidTransition:
        return False
    return True


def release_run(*, release_id: int) -> Release:
    """Build a queued release (the Celery job). Idempotent: a release that is not queued is
    left alone, unless it has been "running" for RUNNING_STALE_AFTER (its worker died and the
    task was redelivered), in which case it is built again. A domain error (e.g. too few
    eligible rewrites) marks the release failed with its message; any other error does too, and
    is re-raised for the worker's log."""
    now = timezone.now()
    release = Release.objects.select_related("campaign", "created_by").get(pk=release_id)
    stale = Q(status=Release.Status.QUEUED) | Q(started_at__lt=now - RUNNING_STALE_AFTER)
    try:
        with transaction.atomic():
            transition(
                release,
                to=Release.Status.RUNNING,
                allowed=Release.TRANSITIONS,
                kind=EventKind.RELEASE_STARTED,
                actor=release.created_by,
                where=stale,
                extra={"started_at": now, "progress": 0, "message": "starting"},
            )
    except InvalidTransition:
        # Done, failed, or running in a live worker: leave it alone.
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
        _release_finish(
            release, to_state=Release.Status.FAILED, data={"error": message}, error=message
        )
        if not isinstance(exc, DomainError):
            raise
    else:
        _release_finish(
            release,
            to_state=Release.Status.DONE,
            data={"total": result.total},
            progress=100,
            message=f"{result.total} samples",
            files=result.files,
            stats=result.stats,
            samples=result.samples,
        )
    release.refresh_from_db()
    return release


def release_zip_name(release: Release) -> str:
    """The file name of a release's zip (``build.zip_name``): ``<campaign>-<release>.zip``."""
    return f"{release.campaign.slug}-{release.name}.zip"


def release_zip_path(*, release: Release) -> Path:
    """The zip of a finished release (every file of it under one folder). Raises NotFound for a
    release built before releases had one, InvalidTransition while it is not done."""
    return release_file_path(release=release, name=release_zip_name(release))


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

"""The release job run by a worker: queued -> running -> done | failed, with its progress, and
the files of a finished release. Never enqueues anything (``jobs`` and ``tasks`` do), so tasks
can call it without an import cycle.

A job survives a dead worker (see "Jobs" in exports/README.md): a pool child killed mid-build
has its message redelivered (``task_reject_on_worker_lost``), and the redelivered task, seeing
its own task id on a running release, builds it again from the start (a build writes its
files from scratch, so the result is byte-identical); a release whose worker went quiet
(no progress for RUNNING_STALE_AFTER) or whose message never reached a worker (queued for
QUEUED_STALE_AFTER) is enqueued again by the sweep (``releases_requeue_stale``); after
MAX_ATTEMPTS starts it is failed with the reason instead of being tried forever.

Where the files go: a build writes them in a temporary folder of the worker, saves each into
the releases storage (``storages["releases"]``: RELEASES_DIR, or an S3 bucket) under
``<campaign>/<release>/<name>``, and only then moves the release to done; nothing serves the
files of a release that is not done, so nobody downloads a half-stored release."""

import shutil
import tempfile
import time
from collections.abc import Sequence
from contextlib import suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.storage import storages
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.errors import DomainError, InvalidTransition, NotFound
from core.storage import storage_stream
from core.transitions import EventKind, transition

from ..models import Release, ReleaseSample
from .build import release_build
from .selection import ReleaseParameters

# A release job still "running" with no progress for this long lost its worker (a build
# reports progress between its steps; no step of a large release takes minutes); a task may
# take it over. Its soft time limit (CURATION_JOB_TIME_LIMIT) bounds a live build anyway.
RUNNING_STALE_AFTER = timedelta(minutes=15)
# A release still "queued" this long after it was handed to the broker never reached a worker
# (the enqueue failed while the broker was down, or the broker lost the message): enqueue again.
QUEUED_STALE_AFTER = timedelta(minutes=10)
# How many times a worker may start building a release before it is failed: a build that kills
# its worker every time (out of memory) is not redelivered forever.
MAX_ATTEMPTS = 3
# How many ReleaseSample rows a finished release inserts at a time.
SAMPLE_BATCH = 5000


def _staging_root() -> Path:
    """The folder of this machine's temporary folders for building releases, without those
    older than the job's time limit (CURATION_JOB_TIME_LIMIT): their builds are over, and a
    worker killed mid-build (e.g. by the OOM killer) never removes its own."""
    root = Path(tempfile.gettempdir()) / "codearena-release-staging"
    root.mkdir(exist_ok=True)
    limit = int(getattr(settings, "CURATION_JOB_TIME_LIMIT", 3600))
    for leftover in root.iterdir():
        with suppress(FileNotFoundError):
            if time.time() - leftover.stat().st_mtime > limit + 60:
                shutil.rmtree(leftover, ignore_errors=True)
    return root


def release_storage_prefix(release: Release) -> str:
    """Where a release's files live in the releases storage: ``<campaign>/<release>``."""
    return f"{release.campaign.slug}/{release.name}"


def _release_progress(release_id: int, percent: int, message: str) -> None:
    # Progress is not a status change: no event, and only while the job runs. It is also the
    # job's heartbeat.
    Release.objects.filter(pk=release_id, status=Release.Status.RUNNING).update(
        progress=min(percent, 100), message=message[:300], heartbeat_at=timezone.now()
    )
    # A test hook (config/settings/test.py only): slow the build down so that a test can kill
    # its worker mid-build.
    delay = getattr(settings, "CURATION_JOB_TEST_DELAY", 0)
    if delay:
        time.sleep(delay)


def _release_finish(
    release: Release,
    *,
    to_state: str,
    data: dict[str, Any],
    samples: Sequence[tuple[str, int]] = (),
    where: Q | None = None,
    **fields: Any,
) -> bool:
    """Move a running release to done or failed (a guarded update and its event, in one
    transaction), recording a finished release's ``samples`` (sample id, rewrite id) with it.
    False if it is no longer running (or ``where`` no longer holds: another worker took it
    over)."""
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
                where=where,
                extra={"finished_at": timezone.now(), **fields},
            )
            # In batches: bulk_create makes a list of every object it is given.
            for start in range(0, len(samples), SAMPLE_BATCH):
                ReleaseSample.objects.bulk_create(
                    ReleaseSample(
                        release=release,
                        campaign_id=release.campaign_id,
                        rewrite_id=rewrite_id,
                        sample_id=sample,
                        position=position,
                    )
                    for position, (sample, rewrite_id) in enumerate(
                        samples[start : start + SAMPLE_BATCH], start=start + 1
                    )
                )
    except InvalidTransition:
        return False
    return True


def _lost(now: datetime) -> Q:
    """Running releases whose worker is gone: no heartbeat for RUNNING_STALE_AFTER."""
    deadline = now - RUNNING_STALE_AFTER
    return Q(status=Release.Status.RUNNING) & (
        Q(heartbeat_at__lt=deadline) | Q(heartbeat_at__isnull=True, started_at__lt=deadline)
    )


def _gave_up(release: Release) -> str:
    limit = int(getattr(settings, "CURATION_JOB_TIME_LIMIT", 3600)) // 60
    return (
        f"Gave up after {release.attempts} attempts: the worker building this release stopped "
        f"each time (killed, out of memory, or past the {limit}-minute time limit). Check the "
        "worker's log, then start it again under another name."
    )


def release_fail_exhausted(release: Release) -> bool:
    """Fail a running release that used its MAX_ATTEMPTS, with the reason. False if it moved
    meanwhile."""
    message = _gave_up(release)
    return _release_finish(
        release,
        to_state=Release.Status.FAILED,
        data={"error": message, "attempts": release.attempts},
        where=Q(attempts=release.attempts),
        error=message,
    )


def release_run(*, release_id: int, task_id: str = "") -> Release:
    """Build a queued release (the Celery job, ``task_id`` its Celery task id). Idempotent: a
    release that is not queued is left alone, unless it is running and lost its worker, i.e.
    this very task was redelivered (its earlier delivery died mid-build) or it reported no
    progress for RUNNING_STALE_AFTER; then it is built again from the start, as attempt
    ``attempts + 1``, or failed with the reason once MAX_ATTEMPTS were used. A domain error
    (e.g. too few eligible rewrites) marks the release failed with its message; any other error
    does too, and is re-raised for the worker's log."""
    now = timezone.now()
    release = Release.objects.select_related("campaign", "created_by").get(pk=release_id)
    takeover = Q(status=Release.Status.QUEUED) | _lost(now)
    if task_id:
        takeover |= Q(status=Release.Status.RUNNING, task_id=task_id)
    if not Release.objects.filter(takeover, pk=release_id).exists():
        return release  # done, failed, or running in a live worker: leave it alone
    if release.status == Release.Status.RUNNING and release.attempts >= MAX_ATTEMPTS:
        release_fail_exhausted(release)
        release.refresh_from_db()
        return release
    attempt = release.attempts + 1
    try:
        with transaction.atomic():
            transition(
                release,
                to=Release.Status.RUNNING,
                allowed=Release.TRANSITIONS,
                kind=EventKind.RELEASE_STARTED,
                actor=release.created_by,
                where=takeover & Q(attempts=release.attempts),
                data={"attempt": attempt},
                extra={
                    "started_at": now,
                    "heartbeat_at": now,
                    "progress": 0,
                    "message": "starting" if attempt == 1 else f"restarting (attempt {attempt})",
                    "attempts": attempt,
                    "task_id": task_id,
                },
            )
    except InvalidTransition:
        return release  # another worker took it first
    own = Q(task_id=task_id, attempts=attempt)
    params = {k: v for k, v in release.parameters.items() if k in ReleaseParameters.__annotations__}
    try:
        # Built in a folder of this worker, then stored; the folder goes once it is stored.
        with tempfile.TemporaryDirectory(prefix=f"{release_id}-", dir=_staging_root()) as staging:
            result = release_build(
                campaign=release.campaign,
                out_dir=Path(staging) / release.name,
                parameters=ReleaseParameters(**params),
                actor=release.created_by,
                progress=lambda pct, msg: _release_progress(release_id, pct, msg),
                store_as=release_storage_prefix(release),
            )
    except Exception as exc:
        if isinstance(exc, DomainError):
            message = exc.message
        elif isinstance(exc, SoftTimeLimitExceeded):
            limit = int(getattr(settings, "CURATION_JOB_TIME_LIMIT", 3600)) // 60
            message = (
                f"The build took longer than the {limit}-minute time limit "
                "(CURATION_JOB_TIME_LIMIT); raise it or build a smaller release."
            )
        else:
            message = f"internal error: {exc!r}"
        _release_finish(
            release,
            to_state=Release.Status.FAILED,
            data={"error": message},
            where=own,
            error=message,
        )
        if not isinstance(exc, DomainError | SoftTimeLimitExceeded):
            raise
    else:
        _release_finish(
            release,
            to_state=Release.Status.DONE,
            data={"total": result.total},
            where=own,
            progress=100,
            message=f"{result.total} samples",
            files=result.files,
            stats=result.stats,
            samples=result.samples,
        )
    release.refresh_from_db()
    return release


def release_enqueue_failed(*, release_id: int, error: str) -> None:
    """Record that the broker refused a release's job (it stays queued or running; the sweep
    enqueues it again once QUEUED_STALE_AFTER passed)."""
    Release.objects.filter(
        pk=release_id, status__in=[Release.Status.QUEUED, Release.Status.RUNNING]
    ).update(message=f"enqueue failed, will retry: {error}"[:300])


def releases_requeue_stale(*, now: datetime | None = None) -> list[int]:
    """The sweep (a beat task): releases whose job is lost, i.e. queued and handed to the broker
    more than QUEUED_STALE_AFTER ago (the enqueue failed or the message was lost), or running
    with no progress for RUNNING_STALE_AFTER (the worker died) and not handed to the broker
    again since. Those that used MAX_ATTEMPTS are failed with the reason; the others are marked
    enqueued now, and their ids returned for the caller to enqueue."""
    now = now or timezone.now()
    not_recently_enqueued = Q(enqueued_at__lt=now - QUEUED_STALE_AFTER) | Q(
        enqueued_at__isnull=True, created_at__lt=now - QUEUED_STALE_AFTER
    )
    stale = (Q(status=Release.Status.QUEUED) | _lost(now)) & not_recently_enqueued
    requeue: list[int] = []
    for release in Release.objects.filter(stale).select_related("campaign", "created_by"):
        if release.status == Release.Status.RUNNING and release.attempts >= MAX_ATTEMPTS:
            release_fail_exhausted(release)
            continue
        message = (
            "waiting for a worker (enqueued again)"
            if release.status == Release.Status.QUEUED
            else f"its worker stopped after attempt {release.attempts}; enqueued again"
        )
        updated = (
            Release.objects.filter(stale, pk=release.pk)
            .filter(attempts=release.attempts)
            .update(enqueued_at=now, message=message)
        )
        if updated:
            requeue.append(release.pk)
    return requeue


def release_zip_name(release: Release) -> str:
    """The file name of a release's zip (``build.zip_name``): ``<campaign>-<release>.zip``."""
    return f"{release.campaign.slug}-{release.name}.zip"


def release_zip_open(*, release: Release) -> tuple[IO[bytes], int]:
    """The zip of a finished release (every file of it under one folder), opened for reading
    in chunks, and its size. Raises NotFound for a release built before releases had one,
    InvalidTransition while it is not done."""
    return release_file_open(release=release, name=release_zip_name(release))


def release_file_open(*, release: Release, name: str) -> tuple[IO[bytes], int]:
    """One file of a finished release, opened from the releases storage for reading in chunks
    (an S3 object is streamed, never read whole), and its size; the caller closes it. Raises
    NotFound for a name the release did not write (which also rules out any name outside the
    release's folder) or a file missing from the storage, and InvalidTransition while the
    release is not done."""
    if release.status != Release.Status.DONE:
        raise InvalidTransition(f"Release {release.name!r} is {release.status}; wait until done.")
    if name not in release.files:
        raise NotFound(f"Release {release.name!r} has no file {name!r}.")
    try:
        return storage_stream(storages["releases"], f"{release_storage_prefix(release)}/{name}")
    except FileNotFoundError:
        raise NotFound(
            f"The file {name!r} of release {release.name!r} is missing from its storage."
        ) from None

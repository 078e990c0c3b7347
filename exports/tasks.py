"""Celery tasks: take ids, call one service, safe to run twice."""

from typing import Any

from celery import shared_task

from core.jobs import broker_error_text, enqueue

from .services.job import release_enqueue_failed, release_run, releases_requeue_stale


@shared_task(name="exports.tasks.run_release", bind=True)
def run_release(self: Any, release_id: int) -> str:
    # The task id tells a redelivered message (its worker died mid-build) from a duplicate.
    return release_run(release_id=release_id, task_id=self.request.id or "").status


def record_enqueue_failure(release_id: int) -> Any:
    """The ``on_failure`` of enqueueing ``run_release(release_id)``: note it on the release."""

    def record(exc: Exception) -> None:
        release_enqueue_failed(release_id=release_id, error=broker_error_text(exc))

    return record


@shared_task(name="exports.tasks.requeue_stale_releases")
def requeue_stale_releases() -> int:
    """The sweep (beat, every 2 minutes): enqueue again the releases whose job was lost, fail
    those that used their attempts; returns how many were enqueued."""
    ids = releases_requeue_stale()
    for release_id in ids:
        enqueue(run_release, release_id, on_failure=record_enqueue_failure(release_id))
    return len(ids)

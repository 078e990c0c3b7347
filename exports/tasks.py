"""Celery tasks: take ids, call one service, safe to run twice."""

from celery import shared_task

from .services.job import release_run


@shared_task(name="exports.tasks.run_release")
def run_release(release_id: int) -> str:
    return release_run(release_id=release_id).status

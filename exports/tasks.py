"""Celery tasks: take ids, call one service, safe to run twice."""

from typing import Any

from celery import shared_task

from .services.quality import rewrite_quality_check
from .services.releases import release_run


@shared_task(name="exports.tasks.check_rewrite_quality", autoretry_for=(OSError,), max_retries=3)
def check_rewrite_quality(rewrite_id: int) -> dict[str, Any]:
    """Decontamination, copied-seed and near-duplicate checks of a newly submitted rewrite."""
    return rewrite_quality_check(rewrite_id=rewrite_id)


@shared_task(name="exports.tasks.run_release")
def run_release(release_id: int) -> str:
    return release_run(release_id=release_id).status

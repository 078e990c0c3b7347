"""Celery tasks: take ids, call one service, safe to run twice."""

from typing import Any

from celery import shared_task
from django.db import IntegrityError, OperationalError

from .services.checks import rewrite_quality_check


@shared_task(
    name="quality.tasks.check_rewrite_quality",
    # A lock timeout or a reload racing the check rolls the check back whole; run it again.
    autoretry_for=(OSError, IntegrityError, OperationalError),
    retry_backoff=True,
    max_retries=5,
)
def check_rewrite_quality(rewrite_id: int) -> dict[str, Any]:
    """Decontamination, copied-seed and near-duplicate checks of a newly submitted rewrite."""
    return rewrite_quality_check(rewrite_id=rewrite_id)


@shared_task(
    name="exports.tasks.check_rewrite_quality",
    autoretry_for=(OSError, IntegrityError, OperationalError),
    retry_backoff=True,
    max_retries=5,
)
def check_rewrite_quality_old_name(rewrite_id: int) -> dict[str, Any]:
    """The same task under the name it had before the quality app existed, so messages a
    broker still holds from before the deploy run instead of being dropped as unregistered.
    Nothing enqueues it any more; remove it once no such message can be left."""
    return rewrite_quality_check(rewrite_id=rewrite_id)

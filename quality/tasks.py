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

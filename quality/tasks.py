"""Celery tasks: take ids, call one service, safe to run twice."""

from typing import Any

from celery import shared_task
from django.db import IntegrityError, OperationalError

from annotation.models import Campaign
from core.jobs import broker_error_text, enqueue

from .services.checks import (
    rewrite_check_enqueue_failed,
    rewrite_quality_check,
    rewrites_unchecked,
)
from .services.similarity import similarity_index_build


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


def record_enqueue_failure(rewrite_id: int) -> Any:
    """The ``on_failure`` of enqueueing ``check_rewrite_quality(rewrite_id)``."""

    def record(exc: Exception) -> None:
        rewrite_check_enqueue_failed(rewrite_id=rewrite_id, error=broker_error_text(exc))

    return record


@shared_task(name="quality.tasks.requeue_unchecked_rewrites")
def requeue_unchecked_rewrites() -> int:
    """The sweep (beat, every 5 minutes): enqueue the checks of submitted rewrites that never
    finished, fail those that used their attempts; returns how many were enqueued."""
    ids = rewrites_unchecked()
    for rewrite_id in ids:
        enqueue(check_rewrite_quality, rewrite_id, on_failure=record_enqueue_failure(rewrite_id))
    return len(ids)


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


@shared_task(
    name="quality.tasks.build_similarity_index",
    autoretry_for=(OSError, IntegrityError, OperationalError),
    retry_backoff=True,
    max_retries=5,
)
def build_similarity_index(campaign_id: int) -> int:
    """Index a campaign's rewrites for near-duplicate lookups (after a deploy, or a change of
    its duplicate threshold); safe to run twice. Returns how many rewrites were indexed."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    return 0 if campaign is None else similarity_index_build(campaign=campaign)

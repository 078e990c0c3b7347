"""Reads that start background jobs: the curator's statistics, served from their snapshot and
recomputed by a task when the campaign changed.

They sit above ``tasks`` (which call the computation), so the one direction
services <- tasks <- jobs holds without an import cycle."""

import logging

from celery import current_app
from django.utils import timezone

from annotation.models import Campaign
from core.jobs import BROKER_ERRORS

from .dashboard.snapshot import (
    ServedStats,
    refresh_delay,
    served,
    snapshot_cancel_request,
    snapshot_get,
    snapshot_is_stale,
    snapshot_request_refresh,
    stats_snapshot_refresh,
)
from .tasks import refresh_stats_snapshot

logger = logging.getLogger(__name__)


def curator_stats(*, campaign: Campaign) -> ServedStats:
    """The campaign's ``campaign_overview`` for the stats API and the dashboard, from its stored
    snapshot: two or three small queries whatever the campaign's size.

    - No snapshot yet (the campaign's first look): computed now, once (a second curator asking
      meanwhile waits for it rather than computing it again).
    - The campaign changed since (``snapshot_is_stale``): the snapshot is served marked stale
      and one recomputation is queued, ``CURATION_STATS_MIN_INTERVAL`` seconds after the last
      at the earliest. With in-process Celery (tests, the embedded default) it has run by the
      time this returns, so the figures served are fresh.
    - If the broker refuses the task, the stale figures are served and a later read retries."""
    now = timezone.now()
    snapshot = snapshot_get(campaign.pk)
    if snapshot is None:
        snapshot = stats_snapshot_refresh(campaign_id=campaign.pk, wait=True)
        assert snapshot is not None  # the campaign exists: the caller holds it
        return served(snapshot, stale=False)
    if not snapshot_is_stale(snapshot, now=now):
        return served(snapshot, stale=False)
    if snapshot_request_refresh(snapshot, now=now):
        if current_app.conf.task_always_eager:
            # The task's own answer: True once it stored new figures; False when another
            # computation held the campaign (its request is cancelled: the figures stay stale).
            result = refresh_stats_snapshot.apply_async((campaign.pk,))
            fresh = snapshot_get(campaign.pk) if result.successful() and result.result else None
            if fresh is not None:
                return served(fresh, stale=False)
            snapshot_cancel_request(campaign.pk)  # it failed (errors not propagated): retry later
        else:
            try:
                refresh_stats_snapshot.apply_async(
                    (campaign.pk,), countdown=refresh_delay(snapshot, now=now)
                )
            except BROKER_ERRORS as exc:
                logger.warning(
                    "could not enqueue the statistics of campaign %s (%s: %s); served as of %s",
                    campaign.pk,
                    type(exc).__name__,
                    exc,
                    snapshot.computed_at.isoformat(),
                )
                snapshot_cancel_request(campaign.pk)
    return served(snapshot, stale=True)

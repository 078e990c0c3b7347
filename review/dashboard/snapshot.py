"""The curator statistics' snapshot: ``campaign_overview`` computed once and served many times.

A curator's stats API call and dashboard page read the stored ``StatsSnapshot`` (a handful of
small queries, whatever the campaign's size) instead of aggregating a million seeds and
hundreds of thousands of ballots on the request path. ``stats_snapshot_refresh`` computes it
(the task ``review.tasks.refresh_stats_snapshot``; the first time, the request that found none):

- in one REPEATABLE READ, read-only transaction on PostgreSQL, so every figure is counted over
  the same state and the totals add up, with ``work_mem`` raised so the per-panel groupings
  do not spill to disk;
- one computation at a time per campaign (a PostgreSQL advisory lock); a second one finding
  the lock taken gives up at once.

Staleness costs the annotators nothing: every transition already writes an audit ``Event``
(claims, submits, votes, decisions, imports, samplings...), so a snapshot is stale when the
campaign has an event newer than the newest one the computation saw (``event_watermark``): one
read of the events' primary key, then a short range scan of the events written since. What
changes without an event (token counts and contamination flags written by background jobs, an
event that committed after a newer one was seen) is caught by ``max_age``.

Settings (seconds): ``CURATION_STATS_MIN_INTERVAL`` (10) at least between two recomputations
of a campaign (and at least ten times what the last one took: 30 s at a million seeds), and
``CURATION_STATS_MAX_AGE`` (600) after which a snapshot is recomputed even without an event."""

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from annotation.models import Campaign, Event

from ..models import StatsSnapshot

# The shape of the stored overview: raise it when ``campaign_overview`` changes its keys, so
# that snapshots written before are computed again instead of served.
SNAPSHOT_FORMAT = 1
# More events than this (of every campaign) since the snapshot: stale, without looking at them.
SCAN_LIMIT = 10_000
# A recompute queued this long ago and never finished (a lost worker) may be queued again.
LOST_AFTER = timedelta(minutes=15)
# The advisory lock's first key: this module's computations (the second is the campaign's id).
LOCK_CLASS = 0x53544154  # "STAT"
# Between two computations of a campaign, at least this many times what the last one took.
DUTY_FACTOR = 10
# Memory for the sorts and hashes of one computation (the default 4MB spills to disk at 1M).
WORK_MEM = "64MB"


def min_interval() -> float:
    return float(getattr(settings, "CURATION_STATS_MIN_INTERVAL", 10))


def max_age() -> float:
    return float(getattr(settings, "CURATION_STATS_MAX_AGE", 600))


@dataclass(frozen=True)
class ServedStats:
    """A campaign's ``campaign_overview`` as of ``computed_at``; ``stale``: the campaign changed
    since and a recomputation is queued (the figures are the last ones computed)."""

    overview: dict[str, Any]
    computed_at: datetime
    compute_seconds: float
    stale: bool

    def freshness(self, *, now: datetime | None = None) -> dict[str, Any]:
        """What the stats API reports as ``snapshot``."""
        age = ((now or timezone.now()) - self.computed_at).total_seconds()
        return {
            "computed_at": self.computed_at,
            "age_seconds": round(max(age, 0.0), 1),
            "stale": self.stale,
            "compute_seconds": round(self.compute_seconds, 3),
        }


def served(snapshot: StatsSnapshot, *, stale: bool) -> ServedStats:
    return ServedStats(
        overview=json.loads(snapshot.data),
        computed_at=snapshot.computed_at,
        compute_seconds=snapshot.compute_seconds,
        stale=stale,
    )


def newest_event_id() -> int:
    """The newest audit event of every campaign (the primary key's last entry: one index read)."""
    return Event.objects.aggregate(newest=Max("id"))["newest"] or 0


def snapshot_get(campaign_id: int) -> StatsSnapshot | None:
    """The campaign's snapshot, if it has one of the current shape."""
    return StatsSnapshot.objects.filter(campaign_id=campaign_id, format=SNAPSHOT_FORMAT).first()


def snapshot_is_stale(snapshot: StatsSnapshot, *, now: datetime | None = None) -> bool:
    """True when ``snapshot`` is older than ``max_age`` or its campaign has an event newer than
    its watermark. One or two queries, neither proportional to the campaign."""
    if ((now or timezone.now()) - snapshot.computed_at).total_seconds() > max_age():
        return True
    newest = newest_event_id()
    if newest <= snapshot.event_watermark:
        return False
    if newest - snapshot.event_watermark > SCAN_LIMIT:
        return True
    return Event.objects.filter(
        id__gt=snapshot.event_watermark, id__lte=newest, campaign_id=snapshot.campaign_id
    ).exists()


def snapshot_request_refresh(snapshot: StatsSnapshot, *, now: datetime | None = None) -> bool:
    """Mark ``snapshot`` as having a recomputation queued. True for the one caller that marked
    it (and must queue it); False when one is queued already (and not lost)."""
    now = now or timezone.now()
    return bool(
        StatsSnapshot.objects.filter(campaign_id=snapshot.campaign_id)
        .filter(Q(requested_at__isnull=True) | Q(requested_at__lt=now - LOST_AFTER))
        .update(requested_at=now)
    )


def snapshot_cancel_request(campaign_id: int) -> None:
    """The queued recomputation will not run (the broker refused it, or another computation
    held the lock): a later read may queue one again."""
    StatsSnapshot.objects.filter(campaign_id=campaign_id).update(requested_at=None)


def refresh_delay(snapshot: StatsSnapshot, *, now: datetime | None = None) -> float:
    """Seconds until the campaign may be recomputed again: ``min_interval`` after the last
    computation began, and never sooner than ``DUTY_FACTOR`` times what it took, so that the
    computations of a busy, watched campaign use at most a tenth of one database core."""
    since = ((now or timezone.now()) - snapshot.computed_at).total_seconds()
    interval = max(min_interval(), DUTY_FACTOR * snapshot.compute_seconds)
    return max(interval - since, 0.0)


@contextmanager
def _one_at_a_time(campaign_id: int, *, wait: bool) -> Iterator[bool]:
    """Hold the campaign's computation lock (PostgreSQL: a session advisory lock); yields False
    when ``wait`` is off and another computation holds it. Elsewhere (SQLite: one process)
    there is no lock."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_CLASS, campaign_id])
            locked = True
        else:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, campaign_id])
            locked = bool(cursor.fetchone()[0])
    try:
        yield locked
    finally:
        if locked:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, campaign_id])


@contextmanager
def _consistent_read() -> Iterator[None]:
    """A transaction whose reads all see one state: REPEATABLE READ and read only on PostgreSQL
    (with more ``work_mem``), unless already inside a transaction (a test's)."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cursor.execute("SELECT set_config('work_mem', %s, true)", [WORK_MEM])
        yield


def _store(
    campaign_id: int, *, data: str, computed_at: datetime, seconds: float, watermark: int
) -> StatsSnapshot:
    snapshot, _created = StatsSnapshot.objects.update_or_create(
        campaign_id=campaign_id,
        defaults={
            "data": data,
            "computed_at": computed_at,
            "compute_seconds": seconds,
            "event_watermark": watermark,
            "format": SNAPSHOT_FORMAT,
            "requested_at": None,
        },
    )
    return snapshot


def stats_snapshot_refresh(*, campaign_id: int, wait: bool = False) -> StatsSnapshot | None:
    """Compute the campaign's ``campaign_overview`` and store it as its snapshot; returns it.

    With ``wait`` (a request that found no snapshot), wait for a computation running elsewhere
    and return its snapshot instead of computing again. Without (the task), give up when one
    is running: None (its request is cancelled, so a later read queues one again). None too
    when the campaign no longer exists."""
    # Imported here: the package's __init__ builds the overview from this package's modules.
    from . import campaign_overview

    with _one_at_a_time(campaign_id, wait=wait) as locked:
        if not locked:
            snapshot_cancel_request(campaign_id)
            return None
        if wait and (existing := snapshot_get(campaign_id)) is not None:
            return existing
        started = time.perf_counter()
        with _consistent_read():
            # The first read fixes the transaction's view: the watermark and the figures agree.
            watermark = newest_event_id()
            computed_at = timezone.now()
            campaign = Campaign.objects.filter(pk=campaign_id).first()
            if campaign is None:
                return None
            data = json.dumps(campaign_overview(campaign), cls=DjangoJSONEncoder)
        return _store(
            campaign_id,
            data=data,
            computed_at=computed_at,
            seconds=time.perf_counter() - started,
            watermark=watermark,
        )

"""The stored snapshot of a campaign's curator statistics (``review.dashboard.snapshot``)."""

from django.db import models

from annotation.models import Campaign


class StatsSnapshot(models.Model):
    """``review.dashboard.campaign_overview`` of one campaign, computed by a task (the first
    time by the request that found none) and served to the stats API and the dashboard, so a
    curator's page costs a few small queries whatever the campaign's size.

    It is stale once the campaign has an audit event newer than ``event_watermark`` (every
    transition writes one: a claim, a submit, a vote, a decision, an import, a sampling...) or
    once it is older than ``CURATION_STATS_MAX_AGE`` (what changes without an event: token
    counts, contamination flags). A stale snapshot is still served, marked so, while one
    recompute is queued (``requested_at``), at most one every ``CURATION_STATS_MIN_INTERVAL``
    seconds."""

    campaign = models.OneToOneField(
        Campaign, on_delete=models.CASCADE, primary_key=True, related_name="stats_snapshot"
    )
    # The overview as JSON text: key order matters (distributions are ordered by count), and
    # PostgreSQL's jsonb would not keep it.
    data = models.TextField()
    # When the database was read (the figures are as of then), and how long the computation took.
    computed_at = models.DateTimeField()
    compute_seconds = models.FloatField(default=0.0)
    # The newest audit event (of any campaign) the computation could see.
    event_watermark = models.BigIntegerField(default=0)
    # The shape of ``data`` (``review.dashboard.snapshot.SNAPSHOT_FORMAT``): a snapshot of
    # another shape (written before an upgrade) is computed again.
    format = models.PositiveSmallIntegerField(default=1)
    # A recompute was queued at this time and has not finished yet.
    requested_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"stats of campaign {self.campaign_id} as of {self.computed_at:%Y-%m-%d %H:%M:%S}"

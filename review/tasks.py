from celery import shared_task

from .dashboard.snapshot import stats_snapshot_refresh
from .services import panels_fill_waiting


@shared_task(name="review.tasks.fill_waiting_panels")
def fill_waiting_panels() -> int:
    return panels_fill_waiting()


@shared_task(name="review.tasks.refresh_stats_snapshot")
def refresh_stats_snapshot(campaign_id: int) -> bool:
    """Recompute the campaign's curator statistics (``review.dashboard.snapshot``); False when
    another computation of it was running (or the campaign is gone)."""
    return stats_snapshot_refresh(campaign_id=campaign_id) is not None

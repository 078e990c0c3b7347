"""The curator dashboard: ``queries`` read (a fixed number of queries), ``metrics`` compute
(pure), ``presentation`` draws. ``campaign_overview`` is what the stats API returns and the
dashboard page draws."""

from typing import Any

from annotation.models import Campaign

from ..stats import campaign_stats
from . import metrics
from .metrics import kappa_matrix
from .presentation import FUNNEL_STAGES, annotator_options, dashboard_charts, funnel_rows
from .queries import (
    RevisionLoop,
    activity_by_day,
    coverage_counts,
    panel_agreement,
    revision_loop,
)

__all__ = [
    "FUNNEL_STAGES",
    "RevisionLoop",
    "annotator_options",
    "campaign_overview",
    "coverage",
    "dashboard_charts",
    "funnel_rows",
    "kappa_matrix",
    "progress",
    "reviewer_agreement",
    "revision_loop",
]


def coverage(campaign: Campaign) -> dict[str, Any]:
    subcategories, pool, work = coverage_counts(campaign)
    return metrics.coverage(
        size=campaign.target_release_size, subcategories=subcategories, pool=pool, work=work
    )


def reviewer_agreement(campaign: Campaign) -> dict[str, Any]:
    counts = panel_agreement(campaign)
    return metrics.reviewer_agreement(
        with_outcome=counts.with_outcome, pairs=counts.pairs, split_ids=counts.split_ids
    )


def progress(campaign: Campaign) -> list[dict[str, Any]]:
    submitted, decided = activity_by_day(campaign)
    return metrics.progress(submitted, decided)


def campaign_overview(campaign: Campaign) -> dict[str, Any]:
    """``campaign_stats`` plus what the curator watches while the campaign runs: pairwise Cohen's
    kappa, each reviewer's agreement with the outcome and the split panels (under
    ``agreement``), ``coverage`` and ``progress``. The stats API returns it and the dashboard
    draws it; a fixed number of queries."""
    stats = campaign_stats(campaign)
    reviewers = reviewer_agreement(campaign)
    stats["agreement"] = {
        **stats["agreement"],
        "reviewers": reviewers["reviewers"],
        "pairwise_cohen_kappa": reviewers["pairs"],
        "reviewer_agreement_with_outcome": reviewers["with_outcome"],
        "split_rewrites": reviewers["split_ids"],
    }
    stats["coverage"] = coverage(campaign)
    stats["progress"] = progress(campaign)
    return stats

"""Reads behind the curator dashboard: coverage against the release target, reviewer agreement
(pairwise Cohen's kappa, agreement with the outcome, split panels), progress over time and the
revision loop. Every function runs a fixed number of queries whatever the campaign's size, so the
page stays fast at 2,000 seeds and 8,000 ballots (asserted in ``tests/test_review_pages.py``)."""

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from django.db.models import Count, Prefetch, Q
from django.db.models.functions import TruncDate

from annotation.models import Campaign, Membership, Rewrite, Role, Seed, Subcategory
from annotation.sampling import sampling_quotas
from annotation.selectors import language_links_prefetch
from core.charts import bar_chart, stacked_bar_chart
from quality.selectors import is_contaminated

from .agreement import cohen_kappa
from .consensus import Outcome, consensus
from .models import Ballot, Decision
from .stats import DECIDED, campaign_stats

REVISION_LIST_LIMIT = 100
SPLIT_LIST_LIMIT = 100
PROGRESS_CHART_DAYS = 30


def coverage(campaign: Campaign) -> dict[str, Any]:
    """Releasable (accepted, uncontaminated) rewrites against the target per subcategory and
    category. The target spreads ``campaign.target_release_size`` over the taxonomy's
    subcategories the way a release stratified by subcategory spreads it when every subcategory
    has enough (``sampling_quotas``: equal shares). ``gap`` is what is still missing;
    ``in_progress`` counts seeds being rewritten and ``seeds_left`` the pooled or sampled seeds
    nobody has claimed yet, so a gap larger than those plus the rewrites in review means the
    subcategory needs new seeds (otherwise a release gives what it has and spreads the
    shortfall over the others). Three queries."""
    subcategories = list(
        Subcategory.objects.filter(campaign=campaign)
        .select_related("category")
        .order_by("category__position", "category__name", "position", "name")
    )
    pool = {
        row["subcategory_id"]: row
        for row in Seed.objects.filter(campaign=campaign, subcategory__isnull=False)
        .values("subcategory_id")
        .annotate(
            seeds=Count("pk"),
            seeds_left=Count("pk", filter=Q(status__in=[Seed.Status.POOLED, Seed.Status.SAMPLED])),
            # Claimed or dealt and being rewritten (or revised after a return).
            in_progress=Count("pk", filter=Q(status=Seed.Status.ASSIGNED)),
        )
        .order_by()
    }
    work = {
        row["subcategory_id"]: row
        for row in Rewrite.objects.filter(campaign=campaign, subcategory__isnull=False)
        .annotate(contaminated=is_contaminated())
        .values("subcategory_id")
        .annotate(
            accepted=Count("pk", filter=Q(status=Rewrite.Status.ACCEPTED)),
            releasable=Count("pk", filter=Q(status=Rewrite.Status.ACCEPTED, contaminated=False)),
            in_review=Count("pk", filter=Q(status=Rewrite.Status.SUBMITTED)),
        )
        .order_by()
    }
    size = campaign.target_release_size
    # With enough accepted rewrites everywhere, a release stratified by subcategory takes equal
    # shares (the remainder to the first subcategories in name order, as ``sampling_quotas``
    # breaks ties): that is the target each subcategory should reach.
    available = {s.name: size for s in subcategories}
    targets = sampling_quotas(available, size) if available else {}
    rows = []
    by_category: dict[str, dict[str, Any]] = {}
    for sub in subcategories:
        p, w = pool.get(sub.pk, {}), work.get(sub.pk, {})
        row = {
            "category": sub.category.name,
            "subcategory": sub.name,
            "target": targets.get(sub.name, 0),
            "accepted": w.get("accepted", 0),
            "releasable": w.get("releasable", 0),
            "in_review": w.get("in_review", 0),
            "seeds": p.get("seeds", 0),
            "in_progress": p.get("in_progress", 0),
            "seeds_left": p.get("seeds_left", 0),
        }
        row["gap"] = max(row["target"] - row["releasable"], 0)
        # Even if everything in review is accepted and every seed being rewritten or not yet
        # claimed ends up accepted, the target is not reached: the curator needs more seeds.
        row["needs_seeds"] = row["gap"] > row["in_review"] + row["in_progress"] + row["seeds_left"]
        rows.append(row)
        cat = by_category.setdefault(
            sub.category.name,
            {"category": sub.category.name, "target": 0, "releasable": 0, "accepted": 0, "gap": 0},
        )
        for key in ("target", "releasable", "accepted", "gap"):
            cat[key] += row[key]
    return {
        "target_release_size": size,
        "target_total": sum(targets.values()),
        "releasable_total": sum(r["releasable"] for r in rows),
        "gap_total": sum(r["gap"] for r in rows),
        "subcategories": rows,
        "categories": list(by_category.values()),
    }


def _outcome(status: str, valid: int, invalid: int, campaign: Campaign) -> Outcome | None:
    if status in DECIDED:
        return Outcome(status)
    # A returned revision was rejected or had no consensus; its votes say which.
    return consensus(
        valid=valid,
        invalid=invalid,
        panel_size=campaign.panel_size,
        threshold=campaign.accept_threshold,
        early=True,
    )


def reviewer_agreement(campaign: Campaign) -> dict[str, Any]:
    """Over the cast votes on decided (or returned) revisions, in one query: for every pair of
    reviewers who voted on the same revisions, Cohen's kappa and their raw agreement; for every
    reviewer, how often their vote matched the panel's outcome (accepted = valid, rejected =
    invalid; no-consensus panels count for neither); and the ids of split panels (a full panel
    with as many valid as invalid votes)."""
    votes: dict[int, dict[str, str]] = defaultdict(dict)
    status_of: dict[int, str] = {}
    for rewrite_id, status, reviewer, decision in (
        Ballot.objects.filter(
            campaign=campaign,
            status=Ballot.Status.CAST,
            rewrite__status__in=[*DECIDED, Rewrite.Status.RETURNED],
        )
        .values_list("rewrite_id", "rewrite__status", "reviewer__username", "decision")
        .order_by("rewrite_id", "id")
    ):
        votes[rewrite_id][reviewer] = decision
        status_of[rewrite_id] = status
    matched: Counter = Counter()
    counted: Counter = Counter()
    splits = []
    for rewrite_id, panel in votes.items():
        valid = sum(1 for d in panel.values() if d == Decision.VALID)
        invalid = len(panel) - valid
        if len(panel) == campaign.panel_size and valid == invalid:
            splits.append(rewrite_id)
        outcome = _outcome(status_of[rewrite_id], valid, invalid, campaign)
        if outcome in (Outcome.ACCEPTED, Outcome.REJECTED):
            expected = Decision.VALID if outcome == Outcome.ACCEPTED else Decision.INVALID
            for reviewer, decision in panel.items():
                counted[reviewer] += 1
                matched[reviewer] += decision == expected
    reviewers = sorted({r for panel in votes.values() for r in panel})
    pairs = []
    for a, b in combinations(reviewers, 2):
        shared = [(p[a], p[b]) for p in votes.values() if a in p and b in p]
        kappa = cohen_kappa(shared)
        pairs.append(
            {
                "a": a,
                "b": b,
                "shared": len(shared),
                "agreement": round(sum(x == y for x, y in shared) / len(shared), 4)
                if shared
                else None,
                "cohen_kappa": None if kappa is None else round(kappa, 4),
            }
        )
    with_outcome = {
        r: {
            "decided_votes": counted[r],
            "matched": matched[r],
            "rate": round(matched[r] / counted[r], 4) if counted[r] else None,
        }
        for r in reviewers
    }
    return {
        "reviewers": reviewers,
        "pairs": pairs,
        "with_outcome": with_outcome,
        "split_ids": sorted(splits),
    }


def kappa_matrix(agreement: dict[str, Any]) -> list[dict[str, Any]]:
    """The pairwise kappas (``campaign_overview``'s agreement) as rows of a symmetric matrix."""
    lookup = {}
    for pair in agreement["pairwise_cohen_kappa"]:
        lookup[(pair["a"], pair["b"])] = lookup[(pair["b"], pair["a"])] = pair
    return [
        {
            "reviewer": a,
            "cells": [None if a == b else lookup.get((a, b)) for b in agreement["reviewers"]],
        }
        for a in agreement["reviewers"]
    ]


def progress(campaign: Campaign) -> list[dict[str, Any]]:
    """Per day with activity: revisions submitted and decisions by outcome, with the running
    total of accepted rewrites. Two queries."""
    days: dict[Any, Counter] = defaultdict(Counter)
    for row in (
        Rewrite.objects.filter(campaign=campaign, submitted_at__isnull=False)
        .annotate(day=TruncDate("submitted_at"))
        .values("day")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        days[row["day"]]["submitted"] += row["n"]
    for row in (
        Rewrite.objects.filter(campaign=campaign, decided_at__isnull=False)
        .annotate(day=TruncDate("decided_at"))
        .values("day", "status")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        # A returned revision was decided first; its decision counts as not accepted.
        outcome = row["status"] if row["status"] in DECIDED else "returned"
        days[row["day"]][outcome] += row["n"]
    out = []
    accepted_to_date = 0
    for day in sorted(days):
        counts = days[day]
        accepted_to_date += counts[Rewrite.Status.ACCEPTED]
        out.append(
            {
                "day": day.isoformat(),
                "submitted": counts["submitted"],
                "accepted": counts[Rewrite.Status.ACCEPTED],
                "rejected": counts[Rewrite.Status.REJECTED],
                "no_consensus": counts[Rewrite.Status.NO_CONSENSUS],
                "returned": counts["returned"],
                "accepted_to_date": accepted_to_date,
            }
        )
    return out


@dataclass
class RevisionLoop:
    """Rewrites waiting for the curator (rejected or no consensus), oldest decision first, and
    returned rewrites waiting for their author, each list cut at a limit with its full count."""

    # Sequence: the rewrites carry the prefetched ``cast_ballots`` (an annotated Rewrite type).
    decided: Sequence[Rewrite]
    decided_total: int
    awaiting_author: list[Rewrite]
    awaiting_author_total: int
    splits: Sequence[Rewrite]
    annotators: list[Any]


def revision_loop(campaign: Campaign, *, split_ids: list[int]) -> RevisionLoop:
    """Seven queries: the two lists with their counts, their ballots with reviewers, the split
    panels and the annotators a rewrite can be reassigned to."""
    ballots = Prefetch(
        "ballots",
        queryset=Ballot.objects.filter(status=Ballot.Status.CAST)
        .select_related("reviewer")
        .order_by("cast_at", "id"),
        to_attr="cast_ballots",
    )
    base = Rewrite.objects.filter(campaign=campaign).select_related(
        "seed", "author", "subcategory__category"
    )
    waiting = base.filter(status__in=[Rewrite.Status.REJECTED, Rewrite.Status.NO_CONSENSUS])
    decided = list(
        waiting.prefetch_related(ballots, language_links_prefetch()).order_by("decided_at", "id")[
            :REVISION_LIST_LIMIT
        ]
    )
    awaiting_qs = base.filter(status=Rewrite.Status.DRAFT, revision__gt=1).select_related(
        "assignment__annotator"
    )
    awaiting = list(awaiting_qs.order_by("created_at", "id")[:REVISION_LIST_LIMIT])
    splits = list(
        base.filter(pk__in=split_ids[-SPLIT_LIST_LIMIT:]).prefetch_related(ballots).order_by("-id")
    )
    annotators = [
        m.user
        for m in Membership.objects.filter(campaign=campaign, role=Role.ANNOTATOR)
        .select_related("user")
        .order_by("user__username")
    ]
    return RevisionLoop(
        decided=decided,
        decided_total=waiting.count(),
        awaiting_author=awaiting,
        awaiting_author_total=awaiting_qs.count(),
        splits=splits,
        annotators=annotators,
    )


# The funnel's stages in the order work flows through them: label, key, and the explanation shown
# on the dashboard.
FUNNEL_STAGES = (
    ("Seeds pooled", "seeds", "imported into the campaign"),
    ("Sampled", "sampled", "drawn into the sample to annotate"),
    ("Assigned", "assigned", "claimed by or dealt to an annotator"),
    ("Rejected by annotators", "rejected_by_annotators", "seeds judged unsuitable"),
    ("Rewritten", "rewritten", "seeds with a submitted rewrite"),
    ("Waiting for votes", "waiting_for_votes", "revisions under review"),
    ("Accepted", "accepted", "at least the threshold of valid votes"),
    ("Rejected", "rejected", "at least the threshold of invalid votes"),
    ("No consensus", "no_consensus", "neither side reached the threshold"),
    ("Returned", "returned", "revisions sent back for a new revision"),
    ("Contaminated", "contaminated", "accepted but overlapping a public benchmark"),
    ("Releasable", "releasable", "accepted and uncontaminated"),
)


def funnel_rows(funnel: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {"label": label, "key": key, "value": funnel[key], "help": help_text}
        for label, key, help_text in FUNNEL_STAGES
    ]


def dashboard_charts(stats: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every dashboard chart of a ``campaign_overview``: its title, the exact numbers it draws
    (``data``, with ``series`` for stacked charts, as ``chart_table_csv`` takes them) and the
    SVG."""
    charts: dict[str, dict[str, Any]] = {}
    coverage, progress = stats["coverage"], stats["progress"]

    def add(name: str, title: str, data: Any, series: list[str] | None = None, **kw: Any) -> None:
        svg = (
            stacked_bar_chart(data, series=series, title=title)
            if series
            else bar_chart(data, title=title, **kw)
        )
        charts[name] = {"title": title, "data": data, "series": series, "svg": svg}

    funnel = stats["funnel"]
    add(
        "funnel",
        "Campaign funnel",
        {label: funnel[key] for label, key, _ in FUNNEL_STAGES},
        x_label="seeds or rewrites",
    )
    add(
        "coverage",
        f"Releasable rewrites against the target of {coverage['target_release_size']}",
        {
            c["category"]: {"releasable": c["releasable"], "missing": c["gap"]}
            for c in coverage["categories"]
        },
        series=["releasable", "missing"],
    )
    add("categories", "Accepted rewrites by category", stats["categories"], x_label="rewrites")
    add(
        "difficulty",
        "Difficulty by category (accepted)",
        stats["difficulty_by_category"],
        series=["easy", "medium", "hard"],
    )
    add(
        "languages",
        "Programming languages (accepted)",
        stats["programming_languages"],
        x_label="rewrites",
        max_bars=20,
    )
    recent = progress[-PROGRESS_CHART_DAYS:]
    add(
        "progress",
        f"Decisions per day (last {PROGRESS_CHART_DAYS} active days)",
        {
            day["day"]: {
                "accepted": day["accepted"],
                "rejected": day["rejected"],
                "no consensus": day["no_consensus"],
                "returned": day["returned"],
            }
            for day in recent
        },
        series=["accepted", "rejected", "no consensus", "returned"],
    )
    return charts


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

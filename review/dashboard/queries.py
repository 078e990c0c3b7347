"""The dashboard's reads: a fixed number of queries whatever the campaign's size, so the page
stays fast at 2,000 seeds and 8,000 ballots (asserted in ``tests/test_review_pages.py``). The
numbers are turned into metrics by ``metrics`` (pure) and drawn by ``presentation``."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F, Prefetch, Q
from django.db.models.functions import Coalesce, TruncDate

from annotation.models import Campaign, Membership, Rewrite, Role, Seed, Subcategory
from annotation.selectors import language_links_prefetch
from quality.selectors import is_contaminated

from ..models import Ballot
from ..stats import PANEL_DONE

REVISION_LIST_LIMIT = 100
CLOSED_LIST_LIMIT = 20
SPLIT_LIST_LIMIT = 100


def coverage_counts(
    campaign: Campaign,
) -> tuple[list[tuple[int, str, str]], dict[int, dict[str, int]], dict[int, dict[str, int]]]:
    """For ``metrics.coverage``, in three queries: the taxonomy's subcategories as (id,
    category, name) in order; per subcategory the seeds (all, pooled or sampled nobody claimed
    yet, being rewritten); and the rewrites (accepted, releasable, in review)."""
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
    return (
        [(s.pk, s.category.name, s.name) for s in subcategories],
        pool,
        work,
    )


def panel_votes(
    campaign: Campaign,
) -> tuple[dict[int, dict[str, str]], dict[int, str], dict[int, tuple[int, int]]]:
    """The cast votes on revisions whose panel finished (decided, then perhaps returned or
    closed), in one query: ({rewrite id: {reviewer: decision}}, {rewrite id: status}, {rewrite
    id: (panel size, threshold) its panel opened with}). A revision a curator adjudicated
    counts with the panel's own outcome, no consensus: the curator's decision is not a vote."""
    votes: dict[int, dict[str, str]] = {}
    status_of: dict[int, str] = {}
    rule_of: dict[int, tuple[int, int]] = {}
    for rewrite_id, status, by_curator, reviewer, decision, size, threshold in (
        Ballot.objects.filter(
            campaign=campaign,
            status=Ballot.Status.CAST,
            rewrite__status__in=PANEL_DONE,
        )
        .annotate(
            size=Coalesce(F("rewrite__panel_size"), F("campaign__panel_size")),
            threshold=Coalesce(F("rewrite__accept_threshold"), F("campaign__accept_threshold")),
        )
        .values_list(
            "rewrite_id",
            "rewrite__status",
            "rewrite__decided_by_curator",
            "reviewer__username",
            "decision",
            "size",
            "threshold",
        )
        .order_by("rewrite_id", "id")
    ):
        votes.setdefault(rewrite_id, {})[reviewer] = decision
        status_of[rewrite_id] = Rewrite.Status.NO_CONSENSUS if by_curator else status
        rule_of[rewrite_id] = (size, threshold)
    return votes, status_of, rule_of


def activity_by_day(campaign: Campaign) -> tuple[list[tuple[Any, int]], list[tuple[Any, str, int]]]:
    """Two queries: (day, revisions submitted) and (day, status, revisions decided)."""
    submitted = [
        (row["day"], row["n"])
        for row in Rewrite.objects.filter(campaign=campaign, submitted_at__isnull=False)
        .annotate(day=TruncDate("submitted_at"))
        .values("day")
        .annotate(n=Count("pk"))
        .order_by()
    ]
    decided = [
        (row["day"], row["status"], row["n"])
        for row in Rewrite.objects.filter(campaign=campaign, decided_at__isnull=False)
        .annotate(day=TruncDate("decided_at"))
        .values("day", "status")
        .annotate(n=Count("pk"))
        .order_by()
    ]
    return submitted, decided


@dataclass
class RevisionLoop:
    """Rewrites waiting for the curator (rejected or no consensus), oldest decision first,
    returned rewrites waiting for their author, and the curator's recently closed rewrites,
    each list cut at a limit with its full count."""

    # Sequence: the rewrites carry the prefetched ``cast_ballots`` (an annotated Rewrite type).
    decided: Sequence[Rewrite]
    decided_total: int
    awaiting_author: list[Rewrite]
    awaiting_author_total: int
    splits: Sequence[Rewrite]
    annotators: list[Any]
    closed: list[Rewrite]
    closed_total: int


def revision_loop(campaign: Campaign, *, split_ids: list[int]) -> RevisionLoop:
    """Nine queries: the three lists with their counts, their ballots with reviewers, the split
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
    closed_qs = base.filter(status=Rewrite.Status.CLOSED)
    closed = list(closed_qs.order_by("-updated_at", "-id")[:CLOSED_LIST_LIMIT])
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
        closed=closed,
        closed_total=closed_qs.count(),
    )

"""The dashboard's reads: a fixed number of queries whatever the campaign's size, so the page
stays fast at 2,000 seeds and 8,000 ballots (asserted in ``tests/test_review_pages.py``). The
numbers are turned into metrics by ``metrics`` (pure) and drawn by ``presentation``."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, CharField, Count, F, Prefetch, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce, TruncDate

from annotation.models import Campaign, Membership, Rewrite, Role, Seed, Subcategory
from annotation.selectors import language_links_prefetch
from quality.selectors import is_contaminated

from ..models import Ballot, Decision
from ..stats import PANEL_DONE, select_from

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


# A pair of reviewers' contingency table: {(decision of a, decision of b): shared revisions}.
Contingency = dict[tuple[str, str], int]


@dataclass
class PanelAgreement:
    """What ``metrics.reviewer_agreement`` needs, counted by the database over the revisions
    whose panel voted to the end (decided, then perhaps returned or closed)."""

    # Every reviewer who cast a vote on one: (votes on a panel with an outcome, votes that
    # matched it).
    with_outcome: dict[str, tuple[int, int]]
    # {(a, b): contingency} for reviewers a < b (by username) who voted on the same revisions.
    pairs: dict[tuple[str, str], Contingency]
    # Full panels split evenly, by id.
    split_ids: list[int]


def _cast_on_finished_panels(campaign: Campaign) -> QuerySet[Ballot]:
    return Ballot.objects.filter(
        campaign=campaign, status=Ballot.Status.CAST, rewrite__status__in=PANEL_DONE
    ).order_by()


def _panel_counts(rewrites: QuerySet[Rewrite]) -> QuerySet[Any]:
    """``rewrites`` with their panel's cast votes counted (``n_valid``, ``n_invalid``,
    ``n_cast``) and the size and threshold it opened with (``n_seats``, ``n_needed``)."""
    cast = Q(ballots__status=Ballot.Status.CAST)
    return rewrites.annotate(
        n_valid=Count("ballots", filter=cast & Q(ballots__decision=Decision.VALID)),
        n_invalid=Count("ballots", filter=cast & Q(ballots__decision=Decision.INVALID)),
        n_cast=Count("ballots", filter=cast),
        n_seats=Coalesce(F("panel_size"), F("campaign__panel_size")),
        n_needed=Coalesce(F("accept_threshold"), F("campaign__accept_threshold")),
    ).order_by()


def panel_agreement(campaign: Campaign) -> PanelAgreement:
    """Four queries, whatever the campaign's size:

    - per reviewer, the votes cast on panels with an outcome and those that matched it: a
      revision accepted by its panel expects 'valid', rejected 'invalid'; a revision a curator
      adjudicated counts with its panel's own outcome, no consensus (the curator's decision is
      not a vote), and a no-consensus one expects nothing;
    - the same for returned and closed revisions, whose outcome their votes tell (the side that
      reached the threshold, as ``consensus`` with early decision gives it, if any): counted
      per revision first, so only these few revisions are grouped by revision;
    - per pair of reviewers and pair of decisions, the revisions both voted on (the ballots
      joined to themselves on the revision);
    - the full panels with as many valid as invalid votes.

    Each panel keeps the size and threshold it opened with."""
    by_panel = Q(rewrite__decided_by_curator=False)
    expects_valid = by_panel & Q(rewrite__status=Rewrite.Status.ACCEPTED)
    expects_invalid = by_panel & Q(rewrite__status=Rewrite.Status.REJECTED)
    name_of: dict[int, str] = {}
    with_outcome: dict[str, tuple[int, int]] = {}
    for voter, name, counted, matched in (
        _cast_on_finished_panels(campaign)
        .values_list("reviewer_id", "reviewer__username")
        .annotate(
            counted=Count("pk", filter=expects_valid | expects_invalid),
            matched=Count(
                "pk",
                filter=(expects_valid & Q(decision=Decision.VALID))
                | (expects_invalid & Q(decision=Decision.INVALID)),
            ),
        )
    ):
        name_of[voter] = name
        with_outcome[name] = (counted, matched)
    reopened = [Rewrite.Status.RETURNED, Rewrite.Status.CLOSED]
    outcomes = (
        _panel_counts(
            Rewrite.objects.filter(campaign=campaign, status__in=reopened, decided_by_curator=False)
        )
        .annotate(
            expected=Case(
                When(n_valid__gte=F("n_needed"), then=Value(Decision.VALID)),
                When(n_invalid__gte=F("n_needed"), then=Value(Decision.INVALID)),
                default=None,
                output_field=CharField(),
            )
        )
        .values("id", "expected")
    )
    votes = (
        Ballot.objects.filter(
            campaign=campaign,
            status=Ballot.Status.CAST,
            rewrite__status__in=reopened,
            rewrite__decided_by_curator=False,
        )
        .order_by()
        .values("decision", panel=F("rewrite_id"), voter=F("reviewer_id"))
    )
    for voter, counted, matched in select_from(
        "SELECT votes.voter, COUNT(outcomes.expected),"
        " SUM(CASE WHEN votes.decision = outcomes.expected THEN 1 ELSE 0 END)"
        " FROM {votes} votes JOIN {outcomes} outcomes ON outcomes.id = votes.panel"
        " GROUP BY votes.voter",
        votes=votes,
        outcomes=outcomes,
    ):
        if voter in name_of:  # else: a panel that finished between the two queries
            before = with_outcome[name_of[voter]]
            with_outcome[name_of[voter]] = (before[0] + counted, before[1] + matched)
    pairs: dict[tuple[str, str], Contingency] = defaultdict(dict)
    # Each pair once (the lower id first); ordered by username here, as the metrics list them.
    for first, second, decision_first, decision_second, n in (
        _cast_on_finished_panels(campaign)
        .filter(
            rewrite__ballots__status=Ballot.Status.CAST,
            rewrite__ballots__reviewer_id__gt=F("reviewer_id"),
        )
        .values_list(
            "reviewer_id", "rewrite__ballots__reviewer_id", "decision", "rewrite__ballots__decision"
        )
        .annotate(n=Count("pk"))
    ):
        if first not in name_of or second not in name_of:
            continue  # a panel that finished between the two queries
        (a, decision_a), (b, decision_b) = sorted(
            [(name_of[first], decision_first), (name_of[second], decision_second)]
        )
        pairs[(a, b)][(decision_a, decision_b)] = n
    split_ids = list(
        _panel_counts(Rewrite.objects.filter(campaign=campaign, status__in=PANEL_DONE))
        .filter(n_cast=F("n_seats"), n_valid=F("n_invalid"))
        .order_by("id")
        .values_list("id", flat=True)
    )
    return PanelAgreement(with_outcome=with_outcome, pairs=dict(pairs), split_ids=split_ids)


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


# What the revision loop shows of a vote (the rest of the ballot and of its reviewer is not read).
VOTE_FIELDS = (
    "rewrite_id",
    "status",
    "decision",
    "reasons",
    "comment",
    "cast_at",
    "reviewer__id",
    "reviewer__username",
)


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
    """Ten queries: the three lists with their counts (the first one's ids first), their ballots
    with reviewers, the split panels and the annotators a rewrite can be reassigned to."""
    ballots = Prefetch(
        "ballots",
        queryset=Ballot.objects.filter(status=Ballot.Status.CAST)
        .select_related("reviewer")
        .only(*VOTE_FIELDS)
        .order_by("cast_at", "id"),
        to_attr="cast_ballots",
    )
    # The lists show a seed's id, not its text: its long columns stay in the database.
    base = (
        Rewrite.objects.filter(campaign=campaign)
        .select_related("seed", "author", "subcategory__category")
        .defer("seed__body", "seed__answer", "seed__metadata")
    )
    waiting = base.filter(status__in=[Rewrite.Status.REJECTED, Rewrite.Status.NO_CONSENSUS])
    # The oldest ids first, then those rows with their seeds: sorting every waiting revision
    # (25,000 at a million seeds) with its text and its seed's takes three times as long.
    oldest = list(
        waiting.order_by("decided_at", "id").values_list("id", flat=True)[:REVISION_LIST_LIMIT]
    )
    decided = list(
        waiting.filter(pk__in=oldest)
        .prefetch_related(ballots, language_links_prefetch())
        .order_by("decided_at", "id")
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

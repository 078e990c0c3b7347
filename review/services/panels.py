"""Review panels: who reviews a submitted rewrite."""

from typing import Any

from django.db import transaction
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from annotation.models import Campaign, Membership, Rewrite, Role
from core.transitions import EventKind, events_record_created, transition_many

from ..models import Ballot


# No savepoint when nested (a submit, a sweep): an error rolls the caller's whole transaction
# back anyway, and a savepoint costs two round trips.
@transaction.atomic(savepoint=False)
def panel_fill(*, rewrite_id: int, actor: Any = None) -> list[Ballot]:
    """Open ballots for a submitted rewrite until its panel is full, for the least-loaded
    reviewers of the campaign (fewest pending ballots; ties by user id) other than the authors
    of any of its revisions and those already on the panel (cast or pending; a ballot closed
    because its reviewer left frees the seat). If too few reviewers exist the rewrite waits;
    calling this again later (``panels_fill_waiting``) completes the panel. Idempotent."""
    rewrite = (
        Rewrite.objects.select_for_update(no_key=True, of=("self",))
        .select_related("campaign")
        .filter(pk=rewrite_id)
        .first()
    )
    if rewrite is None or rewrite.status != Rewrite.Status.SUBMITTED:
        return []
    campaign = rewrite.campaign
    seats = list(rewrite.ballots.order_by().values_list("reviewer_id", "status"))
    seated = {reviewer for reviewer, status in seats if status != Ballot.Status.CLOSED}
    ever_seated = {reviewer for reviewer, _status in seats}
    need = (rewrite.panel_size or campaign.panel_size) - len(seated)
    if need <= 0:
        return []
    # Nobody who wrote any revision of this rewrite reviews it: after a reassignment the text
    # under review may still be largely the first author's.
    authors = set(
        Rewrite.objects.filter(assignment_id=rewrite.assignment_id).values_list(
            "author_id", flat=True
        )
    )
    candidates = (
        Membership.objects.filter(campaign=campaign, role=Role.REVIEWER)
        .exclude(user_id__in=authors | {rewrite.author_id})
        .exclude(user_id__in=ever_seated)
        .annotate(load=Coalesce(pending_load(campaign_id=campaign.pk), Value(0)))
        .order_by("load", "user_id")
        .values_list("user_id", flat=True)[:need]
    )
    # One INSERT for the whole panel (PostgreSQL and SQLite both return the new ids).
    ballots = Ballot.objects.bulk_create(
        [Ballot(campaign=campaign, rewrite=rewrite, reviewer_id=user_id) for user_id in candidates]
    )
    events_record_created(
        ballots,
        kind=EventKind.BALLOT_OPENED,
        actor=actor,
        campaign=campaign,
        to_state=Ballot.Status.PENDING,
        data=lambda b: {"rewrite": rewrite.pk},
    )
    return ballots


def pending_load(*, campaign_id: int) -> Subquery:
    """An expression on a membership: how many pending ballots its user holds in the campaign.
    Counted per reviewer from the partial index of pending ballots (``ballot_pending_queue``),
    so a panel's choice reads the candidates' open ballots only, never the campaign's (or
    every campaign's) cast ones."""
    return Subquery(
        Ballot.objects.filter(
            campaign_id=campaign_id, reviewer_id=OuterRef("user_id"), status=Ballot.Status.PENDING
        )
        .order_by()
        .values("reviewer_id")
        .annotate(n=Count("pk"))
        .values("n"),
        output_field=IntegerField(),
    )


def rewrites_waiting_for_reviewers(*, campaign: Campaign | None = None) -> list[int]:
    """Submitted rewrites whose panel has fewer open or cast seats than the panel size."""
    rewrites = Rewrite.objects.filter(status=Rewrite.Status.SUBMITTED)
    if campaign is not None:
        rewrites = rewrites.filter(campaign=campaign)
    return list(
        rewrites.annotate(seats=Count("ballots", filter=~Q(ballots__status=Ballot.Status.CLOSED)))
        .filter(seats__lt=Coalesce(F("panel_size"), F("campaign__panel_size")))
        .order_by("pk")  # lock order: concurrent sweeps wait for each other, never deadlock
        .values_list("pk", flat=True)
    )


def ballots_of_departed_close(*, campaign: Campaign | None = None) -> int:
    """Close pending ballots whose reviewer no longer holds the reviewer role and refill those
    panels. ``membership_remove`` closes them itself; a panel filled at the very moment the
    reviewer was removed (it read the membership before the removal committed) can still seat
    them, and this sweep repairs that. Returns how many were closed."""
    departed = Ballot.objects.filter(status=Ballot.Status.PENDING).exclude(
        Exists(
            Membership.objects.filter(
                campaign_id=OuterRef("campaign_id"),
                user_id=OuterRef("reviewer_id"),
                role=Role.REVIEWER,
            )
        )
    )
    if campaign is not None:
        departed = departed.filter(campaign=campaign)
    closed = 0
    for rewrite_id, reviewer_id in departed.order_by("rewrite_id").values_list(
        "rewrite_id", "reviewer_id"
    ):
        with transaction.atomic():
            rewrite = Rewrite.objects.select_for_update(no_key=True).get(pk=rewrite_id)
            closed += len(
                ballots_close(
                    rewrite=rewrite,
                    actor=None,
                    reviewer_id=reviewer_id,
                    data={"rewrite": rewrite_id, "reason": "reviewer removed"},
                )
            )
            panel_fill(rewrite_id=rewrite_id)
    return closed


def panels_fill_waiting(*, campaign: Campaign | None = None) -> int:
    """Close the ballots of reviewers who left (``ballots_of_departed_close``), then complete
    the panels of submitted rewrites that are waiting for reviewers; returns how many ballots
    were opened."""
    ballots_of_departed_close(campaign=campaign)
    return sum(
        len(panel_fill(rewrite_id=pk)) for pk in rewrites_waiting_for_reviewers(campaign=campaign)
    )


def ballots_close(
    *, rewrite: Rewrite, actor: Any, data: dict[str, Any], reviewer_id: int | None = None
) -> list[int]:
    """Close the rewrite's pending ballots (of one reviewer, or all): their votes are no longer
    needed. The caller holds the rewrite's lock. Returns the closed ids."""
    pending = rewrite.ballots.filter(status=Ballot.Status.PENDING)
    if reviewer_id is not None:
        pending = pending.filter(reviewer_id=reviewer_id)
    return transition_many(
        Ballot,
        list(pending.order_by("pk").values_list("pk", flat=True)),
        from_state=Ballot.Status.PENDING,
        to=Ballot.Status.CLOSED,
        allowed=Ballot.TRANSITIONS,
        kind=EventKind.BALLOT_CLOSED,
        actor=actor,
        campaign=rewrite.campaign_id,
        data=lambda _pk: data,
    )

"""Review panels: who reviews a submitted rewrite."""

from typing import Any

from django.db import transaction
from django.db.models import Count, F, Q

from annotation.models import Campaign, Membership, Rewrite, Role
from core.transitions import EventKind, events_record_created

from ..models import Ballot


@transaction.atomic
def panel_fill(*, rewrite_id: int, actor: Any = None) -> list[Ballot]:
    """Open ballots for a submitted rewrite until its panel is full, for the least-loaded
    reviewers of the campaign (fewest pending ballots; ties by user id) other than the authors
    of any of its revisions and those already on the panel (cast or pending; a ballot closed
    because its reviewer left frees the seat). If too few reviewers exist the rewrite waits;
    calling this again later (``panels_fill_waiting``) completes the panel. Idempotent."""
    rewrite = (
        Rewrite.objects.select_for_update(of=("self",))
        .select_related("campaign")
        .filter(pk=rewrite_id)
        .first()
    )
    if rewrite is None or rewrite.status != Rewrite.Status.SUBMITTED:
        return []
    campaign = rewrite.campaign
    seated = set(
        rewrite.ballots.exclude(status=Ballot.Status.CLOSED).values_list("reviewer_id", flat=True)
    )
    ever_seated = set(rewrite.ballots.values_list("reviewer_id", flat=True))
    need = campaign.panel_size - len(seated)
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
        .annotate(
            load=Count(
                "user__ballots",
                filter=Q(
                    user__ballots__status=Ballot.Status.PENDING,
                    user__ballots__campaign=campaign,
                ),
            )
        )
        .order_by("load", "user_id")
        .values_list("user_id", flat=True)[:need]
    )
    ballots = [
        Ballot.objects.create(campaign=campaign, rewrite=rewrite, reviewer_id=user_id)
        for user_id in candidates
    ]
    events_record_created(
        ballots,
        kind=EventKind.BALLOT_OPENED,
        actor=actor,
        campaign=campaign,
        to_state=Ballot.Status.PENDING,
        data=lambda b: {"rewrite": rewrite.pk},
    )
    return ballots


def rewrites_waiting_for_reviewers(*, campaign: Campaign | None = None) -> list[int]:
    """Submitted rewrites whose panel has fewer open or cast seats than the panel size."""
    rewrites = Rewrite.objects.filter(status=Rewrite.Status.SUBMITTED)
    if campaign is not None:
        rewrites = rewrites.filter(campaign=campaign)
    return list(
        rewrites.annotate(seats=Count("ballots", filter=~Q(ballots__status=Ballot.Status.CLOSED)))
        .filter(seats__lt=F("campaign__panel_size"))
        .values_list("pk", flat=True)
    )


def panels_fill_waiting(*, campaign: Campaign | None = None) -> int:
    """Complete the panels of submitted rewrites that are waiting for reviewers; returns how
    many ballots were opened."""
    return sum(
        len(panel_fill(rewrite_id=pk)) for pk in rewrites_waiting_for_reviewers(campaign=campaign)
    )

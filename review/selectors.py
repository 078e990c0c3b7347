"""Reads of the review app, scoped to the actor's memberships and role."""

from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet

from annotation.models import Campaign, Rewrite, RewriteLanguage, Role
from annotation.selectors import campaign_for_member, language_links_prefetch
from core import access
from quality.selectors import quality_flags_prefetch

from .models import Ballot


def _ballots_base() -> QuerySet[Ballot]:
    return Ballot.objects.select_related(
        "campaign",
        "rewrite__seed__subcategory__category",
        "rewrite__subcategory__category",
        "rewrite__author",
        # A revision 2 or later shows its reviewers the diff to the one before.
        "rewrite__previous",
        # Whether its quality checks ran (flags may still be missing): quality.check_state.
        "rewrite__quality_check",
    ).prefetch_related(
        Prefetch(
            "rewrite__language_links",
            queryset=RewriteLanguage.objects.select_related("language").order_by("position"),
        ),
        *quality_flags_prefetch("rewrite__"),
    )


def ballots_for_reviewer(
    *, user: Any, slug: str, status: str | None = Ballot.Status.PENDING
) -> QuerySet[Ballot]:
    """The reviewer's ballots in campaign ``slug``, oldest first. NotFound for non-members,
    NotAllowed for members who are not reviewers."""
    campaign = campaign_for_member(user=user, slug=slug, role=Role.REVIEWER)
    qs = _ballots_base().filter(campaign=campaign, reviewer_id=user.pk)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("created_at", "id")


def ballot_for_reviewer(*, user: Any, ballot_id: int) -> Ballot:
    """One of the reviewer's own ballots. NotFound if it is not theirs (or not in their
    campaigns); NotAllowed if they are in the campaign without the reviewer role."""
    ballot = _ballots_base().filter(pk=ballot_id).first()
    return access.require_object(
        user,
        ballot,
        role=Role.REVIEWER,
        owner_field="reviewer_id",
        missing="No such ballot.",
    )


def rewrite_for_curator(*, user: Any, rewrite_id: int) -> Rewrite:
    """A rewrite of a campaign where ``user`` is a curator. NotFound if it does not exist or is
    outside their campaigns; NotAllowed for members without the curator role."""
    rewrite = Rewrite.objects.select_related("campaign").filter(pk=rewrite_id).first()
    return access.require_object(
        user,
        rewrite,
        role=Role.CURATOR,
        missing="No such rewrite.",
    )


def rewrites_for_curator(
    *, user: Any, slug: str, status: str | None = None
) -> tuple[Campaign, QuerySet[Rewrite]]:
    campaign = campaign_for_member(user=user, slug=slug, role=Role.CURATOR)
    qs = (
        Rewrite.objects.filter(campaign=campaign)
        .select_related("campaign", "author", "seed", "subcategory__category", "quality_check")
        .prefetch_related(
            language_links_prefetch(),
            Prefetch(
                "ballots",
                queryset=Ballot.objects.select_related("reviewer").order_by("id"),
            ),
            *quality_flags_prefetch(),
        )
        .order_by("id")
    )
    if status:
        qs = qs.filter(status=status)
    return campaign, qs


def panel_votes_for(*, ballots: list[Ballot]) -> dict[int, list[Ballot]]:
    """For each cast ballot among ``ballots``, the cast votes of its panel (one query). Pending
    ballots get nothing: votes stay hidden until the reviewer has voted."""
    cast = [b for b in ballots if b.status == Ballot.Status.CAST]
    if not cast:
        return {}
    by_rewrite: dict[int, list[Ballot]] = {}
    for vote in (
        Ballot.objects.filter(
            rewrite_id__in={b.rewrite_id for b in cast}, status=Ballot.Status.CAST
        )
        .select_related("reviewer")
        .order_by("cast_at", "id")
    ):
        by_rewrite.setdefault(vote.rewrite_id, []).append(vote)
    return {b.pk: by_rewrite.get(b.rewrite_id, []) for b in cast}


def rewrite_submitted(*, rewrite_id: int) -> Rewrite:
    """A rewrite with what its submit response shows (tags, languages, panel seats)."""
    return (
        Rewrite.objects.select_related("campaign", "subcategory__category")
        .prefetch_related(language_links_prefetch(), "ballots")
        .get(pk=rewrite_id)
    )


def reviewer_counts(*, user: Any, campaign: Campaign) -> dict[str, int]:
    """The reviewer's ballots in ``campaign`` by status (one query)."""
    counts = Ballot.objects.filter(campaign=campaign, reviewer_id=user.pk).aggregate(
        pending=Count("pk", filter=Q(status=Ballot.Status.PENDING)),
        cast=Count("pk", filter=Q(status=Ballot.Status.CAST)),
        closed=Count("pk", filter=Q(status=Ballot.Status.CLOSED)),
    )
    return {k: v or 0 for k, v in counts.items()}


def next_pending_ballot_id(
    *, user: Any, campaign: Campaign, exclude: int | None = None
) -> int | None:
    """The reviewer's oldest pending ballot in ``campaign`` (other than ``exclude``)."""
    qs = Ballot.objects.filter(
        campaign=campaign, reviewer_id=user.pk, status=Ballot.Status.PENDING
    ).order_by("created_at", "id")
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    return qs.values_list("pk", flat=True).first()


def ballots_cast_recently(*, user: Any, campaign: Campaign, limit: int = 10) -> list[Ballot]:
    """The reviewer's most recent votes in ``campaign``, newest first, with the rewrite's state."""
    return list(
        Ballot.objects.filter(campaign=campaign, reviewer_id=user.pk, status=Ballot.Status.CAST)
        .select_related("rewrite__seed", "rewrite__subcategory")
        .order_by("-cast_at", "-id")[:limit]
    )


def pending_ballots(*, user: Any, campaign: Campaign) -> int:
    return Ballot.objects.filter(
        campaign=campaign, reviewer_id=user.pk, status=Ballot.Status.PENDING
    ).count()

"""Reads of the review app, scoped to the actor's memberships and role."""

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Count, Prefetch, Q, QuerySet

from annotation.models import Campaign, Rewrite, RewriteLanguage, Role
from annotation.selectors import campaign_for_member, language_links_prefetch
from core import access
from core.errors import InvalidTransition, NotFound
from quality.selectors import quality_flags_prefetch

from .models import Ballot, ReviewHint


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
        # Whether the model's view of it may be shown, and whether it was asked (hint_state).
        "campaign__assist_settings",
        "rewrite__review_hint",
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


# --- the model's view of a rewrite (reviewer hint) ------------------------------------------

HINT_OFF = "Reviewer hints are off in this campaign's settings."
HINT_AFTER_VOTE = "The model's view is shown after you vote, so it cannot anchor your vote."


@dataclass(frozen=True)
class HintState:
    """What a ballot's reviewer may do with the model's view of its rewrite: ``available``
    (the campaign offers hints), ``visible`` (they may read it now: they voted, the ballot is
    closed, or the campaign shows it before the vote), ``ready`` (it was asked already, by
    anyone on the panel); ``hint`` only when visible and ready."""

    available: bool
    visible: bool
    ready: bool
    hint: ReviewHint | None


def _related(obj: Any, name: str) -> Any:
    """A reverse one-to-one that may be missing (None), loaded by select_related or not."""
    try:
        return getattr(obj, name)
    except ObjectDoesNotExist:
        return None


def hint_state(ballot: Ballot) -> HintState:
    """The hint state of ``ballot`` (no query for a ballot from ``_ballots_base``)."""
    config = _related(ballot.campaign, "assist_settings")
    available = bool(config and config.enabled and config.reviewer_hint)
    visible = available and (
        ballot.status != Ballot.Status.PENDING or bool(config and config.hint_before_vote)
    )
    stored = _related(ballot.rewrite, "review_hint")
    # Before the reviewer may read it, "ready" is not told either: it would say that another
    # reviewer of the panel has voted (only they can ask).
    ready = visible and stored is not None and stored.status == ReviewHint.Status.READY
    return HintState(
        available=available,
        visible=visible,
        ready=ready,
        hint=stored if visible and ready else None,
    )


def hint_require_visible(state: HintState) -> None:
    """Raise InvalidTransition when the reviewer may not read (or ask for) the hint now: the
    campaign offers none, or it is shown only after their vote."""
    if not state.available:
        raise InvalidTransition(HINT_OFF)
    if not state.visible:
        raise InvalidTransition(HINT_AFTER_VOTE, details={"reason": "after_vote"})


def review_hint_for_reviewer(*, user: Any, ballot_id: int) -> ReviewHint:
    """The model's view of the rewrite of the reviewer's own ballot, once it was asked.

    Raises NotFound (not their ballot, or not asked yet), NotAllowed (not a reviewer) and
    InvalidTransition (hints off, or not before their vote)."""
    state = hint_state(ballot_for_reviewer(user=user, ballot_id=ballot_id))
    hint_require_visible(state)
    if state.hint is None:
        raise NotFound(
            "The model has not been asked about this rewrite yet.",
            details={"reason": "not_asked"},
        )
    return state.hint

"""Reads of the review app, scoped to the actor's memberships and role."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Count, Prefetch, Q, QuerySet
from django.db.models.functions import Left

from annotation.models import Campaign, Rewrite, RewriteLanguage, Role
from annotation.selectors import campaign_for_member, language_links_prefetch
from core import access
from core.errors import InvalidTransition, NotFound, ValidationFailed
from quality.selectors import is_contaminated, quality_flags_prefetch

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


def ballot_access_for_reviewer(*, user: Any, ballot_id: int) -> Ballot:
    """``ballot_for_reviewer``'s check alone (the ballot with its campaign, nothing else): for
    a request that checks access before it reads the body. One query."""
    ballot = (
        Ballot.objects.select_related("campaign")
        .only("id", "status", "reviewer_id", "rewrite_id", "campaign")
        .filter(pk=ballot_id)
        .first()
    )
    return access.require_object(
        user, ballot, role=Role.REVIEWER, owner_field="reviewer_id", missing="No such ballot."
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
    """The reviewer's ballots in ``campaign`` by status (one query). Grouped by status and
    counting rows, not ids, so that PostgreSQL reads the (reviewer, campaign, status) index
    alone (an index-only scan, once VACUUM has marked the pages all-visible) instead of
    fetching every ballot of the reviewer from the table."""
    counts = dict.fromkeys(("pending", "cast", "closed"), 0)
    by_status = (
        Ballot.objects.filter(reviewer_id=user.pk, campaign=campaign)
        .order_by()
        .values_list("status")
        .annotate(n=Count("*"))
    )
    for status, n in by_status:
        if status in counts:
            counts[str(status)] = n
    return counts


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
    """The reviewer's most recent votes in ``campaign``, newest first (the partial index
    ``ballot_cast_recent`` serves it), with the rewrite's state and subcategory and the start
    of its text (``text_head``), never the whole text or the seed. One query."""
    return list(
        Ballot.objects.filter(campaign=campaign, reviewer_id=user.pk, status=Ballot.Status.CAST)
        .select_related("rewrite__subcategory")
        .only(
            "id",
            "campaign_id",
            "reviewer_id",
            "status",
            "decision",
            "cast_at",
            "created_at",
            "rewrite_id",
            "rewrite__id",
            "rewrite__status",
            "rewrite__subcategory_id",
            "rewrite__subcategory__id",
            "rewrite__subcategory__name",
        )
        .annotate(text_head=Left("rewrite__text", TEXT_SHOWN + 1))
        .order_by("-cast_at", "-id")[:limit]
    )


# --- the reviewer's queue, a page at a time (keyset on created_at, id) -----------------------

QUEUE_PAGE_SIZE = 50
TEXT_SHOWN = 90  # list pages show a rewrite's text cut to this many characters
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BadCursor(ValidationFailed):
    """A page link that is not one this list made."""


@dataclass(frozen=True)
class QueueCursor:
    """A position in a reviewer's list ordered by (created_at, id): the row's creation time
    and id, and which way to read from it (``backwards``: the page before)."""

    created_at: datetime
    id: int
    backwards: bool = False

    def encode(self) -> str:
        micros = (self.created_at - _EPOCH) // timedelta(microseconds=1)
        return f"{'b' if self.backwards else 'a'}{micros}_{self.id}"

    @classmethod
    def decode(cls, token: str) -> "QueueCursor":
        """Read a cursor made by ``encode``; BadCursor (400, naming ``cursor``) otherwise."""
        try:
            if token[:1] not in ("a", "b") or not token.isascii():
                raise ValueError
            micros, pk = (int(part) for part in token[1:].split("_"))
            if not 0 < pk < 2**63:
                raise ValueError
            created_at = _EPOCH + timedelta(microseconds=micros)
        except (ValueError, OverflowError):
            raise BadCursor(
                "This page link is not valid; start from the first page.",
                details={"errors": {"cursor": ["not a cursor of this list"]}},
            ) from None
        return cls(created_at=created_at, id=pk, backwards=token[0] == "b")


@dataclass
class QueuePage:
    rows: list[Ballot]
    next: str | None
    previous: str | None


def queue_page(qs: QuerySet[Ballot], *, cursor: QueueCursor | None, size: int) -> QueuePage:
    """The page of ``qs`` in (created_at, id) order after ``cursor`` (or before it, read
    backwards), with the cursors of the pages around it: one query, which an index on the
    filter's columns then (created_at, id) reads from the cursor on, whichever page it is."""
    backwards = bool(cursor and cursor.backwards)
    ordered = qs.order_by(*(("-created_at", "-id") if backwards else ("created_at", "id")))
    if cursor is not None:
        beyond, reach = ("lt", "lte") if backwards else ("gt", "gte")
        ordered = ordered.filter(
            Q(**{f"created_at__{reach}": cursor.created_at})
            & (
                Q(**{f"created_at__{beyond}": cursor.created_at})
                | Q(**{f"id__{beyond}": cursor.id})
            )
        )
    found = list(ordered[: size + 1])
    more = len(found) > size
    rows = found[:size]
    if backwards:
        rows.reverse()

    def make(ballot: Ballot, back: bool) -> str:
        return QueueCursor(created_at=ballot.created_at, id=ballot.pk, backwards=back).encode()

    has_next = more if not backwards else cursor is not None
    has_previous = more if backwards else cursor is not None
    return QueuePage(
        rows=rows,
        next=make(rows[-1], False) if rows and has_next else None,
        previous=make(rows[0], True) if rows and has_previous else None,
    )


def pending_ballots_page(
    *, user: Any, campaign: Campaign, cursor: QueueCursor | None, size: int = QUEUE_PAGE_SIZE
) -> QueuePage:
    """A page of the reviewer's pending ballots, oldest first (the partial index
    ``ballot_pending_queue`` serves it), with what the ballots page lists and no more: the
    revision's tags, the start of its text (``text_head``), whether it is contaminated and its
    similarity flags; never a seed or a whole text. Constant queries for any page."""
    qs = (
        Ballot.objects.filter(campaign=campaign, reviewer_id=user.pk, status=Ballot.Status.PENDING)
        .select_related("rewrite__subcategory")
        .only(
            "id",
            "campaign_id",
            "reviewer_id",
            "status",
            "created_at",
            "rewrite_id",
            "rewrite__id",
            "rewrite__status",
            "rewrite__revision",
            "rewrite__difficulty",
            "rewrite__question_tokens",
            "rewrite__subcategory_id",
            "rewrite__subcategory__id",
            "rewrite__subcategory__name",
        )
        .annotate(
            text_head=Left("rewrite__text", TEXT_SHOWN + 1),
            contaminated=is_contaminated("rewrite__"),
        )
        .prefetch_related(
            Prefetch(
                "rewrite__language_links",
                queryset=RewriteLanguage.objects.select_related("language").order_by("position"),
            ),
            # The similarity flags (the contamination hits are the ``contaminated`` flag).
            *(
                prefetch
                for prefetch in quality_flags_prefetch("rewrite__")
                if prefetch.prefetch_through.endswith("similarity_flags")
            ),
        )
    )
    return queue_page(qs, cursor=cursor, size=size)


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

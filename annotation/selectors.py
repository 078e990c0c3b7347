"""Reads of the annotation app, always scoped to the actor's memberships."""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Case, Count, F, Prefetch, Q, QuerySet, When
from django.db.models.functions import Left

from core import access
from core.errors import NotFound, ValidationFailed

from .detect import guess_natural_language
from .models import Assignment, Campaign, Membership, Rewrite, RewriteLanguage, Role
from .rendering import fence_languages, render_markdown
from .tokens import count_tokens
from .vocabulary import Vocabulary


@dataclass
class CampaignMembership:
    campaign: Campaign
    roles: list[str]


def campaigns_for_user(*, user: Any) -> list[CampaignMembership]:
    """The campaigns ``user`` belongs to, each with the user's roles (one query)."""
    by_campaign: dict[int, CampaignMembership] = {}
    memberships = Membership.objects.filter(user_id=user.pk)
    if (only := access.only_campaign_id()) is not None:  # a curator viewing as this user
        memberships = memberships.filter(campaign_id=only)
    for m in memberships.select_related("campaign").order_by("campaign__slug", "role"):
        entry = by_campaign.setdefault(m.campaign_id, CampaignMembership(m.campaign, []))
        entry.roles.append(m.role)
    return list(by_campaign.values())


def campaign_for_member(*, user: Any, slug: str, role: str | None = None) -> Campaign:
    """The campaign ``slug`` if ``user`` is a member (NotFound otherwise) holding ``role`` when
    one is given (NotAllowed otherwise)."""
    campaign = Campaign.objects.filter(slug=slug).first()
    access.require(user, campaign, role=role, missing="No such campaign.")
    assert campaign is not None  # require() raised NotFound otherwise
    return campaign


def campaign_for_claim(*, slug: str) -> Campaign:
    """The campaign ``slug`` for claim-next, whose service checks the actor's role itself
    (``assignment_claim_next``); NotFound when there is no such campaign, with the message a
    non-member gets."""
    campaign = Campaign.objects.filter(slug=slug).first()
    if campaign is None:
        raise NotFound("No such campaign.")
    return campaign


def assignment_claimed(assignment: Assignment, *, campaign: Campaign) -> Assignment:
    """A just-claimed assignment as ``assignment_for_user`` loads it, in one query: its seed
    with subcategory and category; a new assignment has no revisions yet."""
    claimed = (
        Assignment.objects.select_related("seed__subcategory__category").filter(pk=assignment.pk)
    ).get()
    claimed.campaign = campaign
    claimed.revisions = []  # type: ignore[attr-defined]  # as revisions_prefetch() sets it
    return claimed


def revisions_prefetch() -> Prefetch:
    """Rewrites of an assignment, newest revision first, with tags, as ``.revisions``."""
    return Prefetch(
        "rewrites",
        queryset=Rewrite.objects.order_by("-revision")
        .select_related("subcategory__category", "suggestion")
        .prefetch_related(language_links_prefetch()),
        to_attr="revisions",
    )


def language_links_prefetch() -> Prefetch:
    return Prefetch(
        "language_links",
        queryset=RewriteLanguage.objects.select_related("language").order_by("position"),
    )


def _assignments_base() -> QuerySet[Assignment]:
    return Assignment.objects.select_related(
        "campaign", "seed__subcategory__category"
    ).prefetch_related(revisions_prefetch())


def assignments_for_annotator(
    *, user: Any, campaign: Campaign, status: str | None = None
) -> QuerySet[Assignment]:
    qs = _assignments_base().filter(campaign=campaign, annotator_id=user.pk)
    if status:
        qs = qs.filter(status=status)
    # Active work first, then the rest, each oldest first.
    active_first = Case(When(status=Assignment.Status.ACTIVE, then=0), default=1)
    return qs.order_by(active_first, "id")


def assignment_for_user(*, user: Any, assignment_id: int) -> Assignment:
    """An assignment as its annotator, or a curator of its campaign, sees it. NotFound if it
    does not exist, is outside the user's campaigns or is another annotator's; NotAllowed for a
    member who is neither annotator nor curator."""
    assignment = _assignments_base().filter(pk=assignment_id).first()
    return access.require_object(
        user,
        assignment,
        role=Role.ANNOTATOR,
        owner_field="annotator_id",
        or_role=Role.CURATOR,
        missing="No such assignment.",
    )


def newest_revision(*, assignment_id: int) -> Rewrite | None:
    """The newest revision of an assignment with what ``DraftOut`` shows (tags, languages, the
    suggestion), as ``revisions_prefetch`` loads it: two queries, no seed."""
    return (
        Rewrite.objects.filter(assignment_id=assignment_id)
        .select_related("subcategory__category", "suggestion")
        .prefetch_related(language_links_prefetch())
        .order_by("-revision")
        .first()
    )


def current_revision(assignment: Assignment) -> Rewrite | None:
    """The newest revision of a prefetched assignment (``revisions_prefetch``)."""
    revisions = getattr(assignment, "revisions", None)
    if revisions is None:
        return assignment.rewrites.order_by("-revision").first()
    return revisions[0] if revisions else None


def rewrite_language_names(rewrite: Rewrite) -> list[str]:
    return [link.language.name for link in rewrite.language_links.all()]


def text_preview(*, campaign: Campaign, text: str) -> dict[str, Any]:
    """What the annotate page shows while the annotator types: the sanitized HTML (the same
    renderer as every page), the question's token count with the campaign's tokenizer, and
    suggestions for the programming languages (from code fences, mapped to the campaign's
    vocabulary) and the natural language."""
    suggested: dict[str, None] = {}
    tags = fence_languages(text)
    # The vocabulary costs three queries; most keystrokes' texts have no code fence.
    vocab = Vocabulary.for_campaign(campaign) if tags else None
    for tag in tags:
        assert vocab is not None  # loaded whenever there is a tag
        language = vocab.language(tag)
        if language is not None:
            suggested.setdefault(language.name, None)
    return {
        "html": render_markdown(text),
        "question_tokens": count_tokens(text, campaign.tokenizer),
        "tokenizer": campaign.tokenizer,
        "suggested_languages": list(suggested),
        "suggested_natural_language": guess_natural_language(text),
    }


def annotator_counts(*, user: Any, campaign: Campaign) -> dict[str, int]:
    """The annotator's totals in a campaign, for the queue page (two queries)."""
    decided = [
        Rewrite.Status.ACCEPTED,
        Rewrite.Status.REJECTED,
        Rewrite.Status.NO_CONSENSUS,
        Rewrite.Status.CLOSED,
    ]
    rewrites = Rewrite.objects.filter(campaign=campaign, author_id=user.pk).aggregate(
        submitted=Count("pk", filter=~Q(status=Rewrite.Status.DRAFT)),
        waiting=Count("pk", filter=Q(status=Rewrite.Status.SUBMITTED)),
        decided=Count("pk", filter=Q(status__in=[*decided, Rewrite.Status.RETURNED])),
        accepted=Count("pk", filter=Q(status=Rewrite.Status.ACCEPTED)),
    )
    passed_on = Assignment.objects.filter(campaign=campaign, annotator_id=user.pk).aggregate(
        rejected_seeds=Count("pk", filter=Q(status=Assignment.Status.REJECTED)),
        skipped=Count("pk", filter=Q(status=Assignment.Status.SKIPPED)),
    )
    return {**rewrites, **passed_on}


# --- the queue page: a page of open assignments at a time ----------------------------------

QUEUE_PAGE_SIZE = 50
TITLE_SHOWN = 80  # the queue shows a seed's title cut to this many characters


@dataclass
class KeysetPage:
    """One page of rows in id order and the ids to read the pages around it from: ``after``
    (the next page: rows with a larger id) and ``before`` (the previous one)."""

    rows: list[Any]
    after: int | None
    before: int | None


def keyset_by_id(
    qs: QuerySet[Any], *, after: int | None, before: int | None, size: int
) -> KeysetPage:
    """The page of ``qs`` in id order that follows id ``after`` (or precedes id ``before``; the
    first page when neither), read by an index on the filter's columns and id: one query, the
    same work on any page of any list."""
    if before is not None and after is None:
        found = list(qs.filter(pk__lt=before).order_by("-pk")[: size + 1])
        more = len(found) > size
        rows = found[:size][::-1]
        return KeysetPage(
            rows=rows,
            after=rows[-1].pk if rows else None,
            before=rows[0].pk if rows and more else None,
        )
    if after is not None:
        qs = qs.filter(pk__gt=after)
    found = list(qs.order_by("pk")[: size + 1])
    rows = found[:size]
    return KeysetPage(
        rows=rows,
        after=rows[-1].pk if rows and len(found) > size else None,
        before=rows[0].pk if rows and after is not None else None,
    )


def open_assignments_page(
    *, user: Any, campaign: Campaign, after: int | None, before: int | None
) -> KeysetPage:
    """A page of the annotator's active assignments, oldest first (``keyset_by_id``; the
    partial index ``assignment_active_queue`` serves it), with what the queue shows and no
    more: the seed's title cut short (``seed_title``), its subcategory, and the current
    revision's number, version, status and feedback (``.revisions``, newest first). Never a
    seed's or a rewrite's body. Two queries."""
    qs = (
        Assignment.objects.filter(
            campaign=campaign, annotator_id=user.pk, status=Assignment.Status.ACTIVE
        )
        .select_related("seed__subcategory")
        .only(
            "id",
            "campaign_id",
            "annotator_id",
            "status",
            "lease_expires_at",
            "created_at",
            "seed_id",
            "seed__id",
            "seed__external_id",
            "seed__subcategory_id",
            "seed__subcategory__id",
            "seed__subcategory__name",
        )
        .annotate(seed_title=Left("seed__title", TITLE_SHOWN + 1))
        .prefetch_related(
            Prefetch(
                "rewrites",
                queryset=Rewrite.objects.only(
                    "id", "assignment_id", "revision", "version", "status", "feedback"
                ).order_by("-revision"),
                to_attr="revisions",
            )
        )
    )
    return keyset_by_id(qs, after=after, before=before, size=QUEUE_PAGE_SIZE)


def returned_for_revision(
    *, user: Any, campaign: Campaign, limit: int = 50
) -> list[dict[str, Any]]:
    """The open revisions on the annotator's active assignments that continue a rewrite
    returned for revision (they carry its feedback), oldest assignment first: the queue's
    "Returned to you" list, as rows of ``assignment_id``, ``title`` (the seed's, cut short)
    and ``rewrite``. One query."""
    found = (
        Rewrite.objects.filter(
            campaign=campaign,
            assignment__annotator_id=user.pk,
            assignment__status=Assignment.Status.ACTIVE,
            status=Rewrite.Status.DRAFT,
            previous__isnull=False,
        )
        .only("id", "assignment_id", "seed_id", "revision", "version", "status", "feedback")
        .annotate(seed_title=Left("seed__title", TITLE_SHOWN + 1), seed_ref=F("seed__external_id"))
        .order_by("assignment_id")[:limit]
    )
    return [
        {
            "assignment_id": rewrite.assignment_id,
            "title": vars(rewrite)["seed_title"] or vars(rewrite)["seed_ref"],
            "rewrite": rewrite,
        }
        for rewrite in found
        if rewrite.feedback
    ]


def queue_counts(*, user: Any, campaign: Campaign) -> dict[str, int]:
    """How many assignments the annotator has open, and how many of them continue a rewrite
    returned for revision (one query)."""
    return Assignment.objects.filter(
        campaign=campaign, annotator_id=user.pk, status=Assignment.Status.ACTIVE
    ).aggregate(
        open=Count("pk", distinct=True),
        returned=Count(
            "rewrites",
            filter=Q(rewrites__status=Rewrite.Status.DRAFT, rewrites__previous__isnull=False),
        ),
    )


def assignment_for_annotator(*, user: Any, assignment_id: int) -> Assignment:
    """The annotator's own assignment (any status), with seed, vocabulary and revisions loaded.
    NotFound for anyone else's (a curator too: the annotate page is the annotator's);
    NotAllowed for a member who is not an annotator."""
    assignment = _assignments_base().filter(pk=assignment_id).first()
    return access.require_object(
        user,
        assignment,
        role=Role.ANNOTATOR,
        owner_field="annotator_id",
        missing="No such assignment.",
    )


def annotator_named(*, campaign: Campaign, username: str) -> Any:
    """The annotator of ``campaign`` called ``username``. Raises ValidationFailed (naming the
    field ``annotator``) for anyone else, without saying whether such a user exists elsewhere."""
    user = (
        get_user_model()
        .objects.filter(
            username=username,
            memberships__campaign=campaign,
            memberships__role=Role.ANNOTATOR,
        )
        .first()
    )
    if user is None:
        raise ValidationFailed(
            "The assignment cannot go to that annotator.",
            details={
                "errors": {"annotator": [f"{username!r} is not an annotator of this campaign"]}
            },
        )
    return user


def assignment_for_curator(*, user: Any, assignment_id: int) -> Assignment:
    """An assignment of a campaign where ``user`` is a curator. NotFound if it does not exist or
    is outside their campaigns; NotAllowed if they are a member without the curator role."""
    assignment = (
        Assignment.objects.select_related("campaign", "annotator", "seed")
        .filter(pk=assignment_id)
        .first()
    )
    return access.require_object(
        user,
        assignment,
        role=Role.CURATOR,
        missing="No such assignment.",
    )


# --- the annotator's own work ("My work") ----------------------------------------------------

# The tabs of My work: which revisions (past draft) each shows. "skipped" and "rejected_seeds"
# list assignments instead (``assignments_passed_on``).
MY_WORK_TABS: dict[str, tuple[str, list[str]]] = {
    "all": ("All revisions", []),
    "in_review": ("In review", [Rewrite.Status.SUBMITTED]),
    "accepted": ("Accepted", [Rewrite.Status.ACCEPTED]),
    "returned": ("Returned to you", [Rewrite.Status.RETURNED]),
    "decided": (
        "Rejected, no consensus or closed",
        [Rewrite.Status.REJECTED, Rewrite.Status.NO_CONSENSUS, Rewrite.Status.CLOSED],
    ),
}
PASSED_ON_TABS: dict[str, tuple[str, str]] = {
    "skipped": ("Skipped seeds", Assignment.Status.SKIPPED),
    "rejected_seeds": ("Seeds you rejected", Assignment.Status.REJECTED),
}


def rewrites_for_author(
    *, user: Any, campaign: Campaign, statuses: list[str] | None = None
) -> QuerySet[Rewrite]:
    """The revisions ``user`` wrote and submitted in ``campaign`` (every status past draft, or
    ``statuses``), newest submission first, with the seed, tags and the next revision (where a
    returned one's feedback lives) loaded: a constant number of queries for any page size. The
    caller has checked that ``user`` is an annotator of the campaign."""
    qs = Rewrite.objects.filter(campaign=campaign, author_id=user.pk).exclude(
        status=Rewrite.Status.DRAFT
    )
    if statuses:
        qs = qs.filter(status__in=statuses)
    return (
        qs.select_related("seed", "subcategory__category", "next_revision", "assignment")
        .prefetch_related(language_links_prefetch())
        .order_by(F("submitted_at").desc(nulls_last=True), "-id")
    )


def my_work_counts(*, user: Any, campaign: Campaign) -> dict[str, int]:
    """How many entries each tab of My work holds (two queries)."""
    by_status = dict.fromkeys(Rewrite.Status.values, 0)
    for row in (
        Rewrite.objects.filter(campaign=campaign, author_id=user.pk)
        .exclude(status=Rewrite.Status.DRAFT)
        .values("status")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        by_status[row["status"]] = row["n"]
    counts = {
        tab: sum(by_status[s] for s in statuses) if statuses else 0
        for tab, (_label, statuses) in MY_WORK_TABS.items()
    }
    counts["all"] = sum(n for status, n in by_status.items() if status != Rewrite.Status.DRAFT)
    passed = Assignment.objects.filter(campaign=campaign, annotator_id=user.pk).aggregate(
        **{
            tab: Count("pk", filter=Q(status=status))
            for tab, (_label, status) in PASSED_ON_TABS.items()
        }
    )
    return {**counts, **passed}


def assignments_passed_on(*, user: Any, campaign: Campaign, status: str) -> QuerySet[Assignment]:
    """The annotator's skipped (or rejected) seeds in ``campaign``, newest first."""
    return (
        Assignment.objects.filter(campaign=campaign, annotator_id=user.pk, status=status)
        .select_related("seed__subcategory")
        .order_by("-updated_at", "-id")
    )


def next_revision_of(rewrite: Rewrite) -> Rewrite | None:
    """The revision that continued ``rewrite`` after it was returned (loaded with
    ``select_related("next_revision")``), or None."""
    try:
        return rewrite.next_revision
    except ObjectDoesNotExist:
        return None


def feedback_received(rewrite: Rewrite) -> dict[str, Any] | None:
    """The feedback a returned revision got: the curator's note and the reviewers' comments and
    reasons, as the next revision carries them (never who voted what). None otherwise."""
    if rewrite.status != Rewrite.Status.RETURNED:
        return None
    following = next_revision_of(rewrite)
    return (following.feedback or None) if following is not None else None


def continue_assignment_id(rewrite: Rewrite, *, user: Any) -> int | None:
    """The assignment to open to continue a returned revision: its next revision is an open
    draft of ``user``'s on an active assignment. None otherwise."""
    following = next_revision_of(rewrite)
    if (
        following is not None
        and following.status == Rewrite.Status.DRAFT
        and following.author_id == user.pk
        and rewrite.assignment.status == Assignment.Status.ACTIVE
        and rewrite.assignment.annotator_id == user.pk
    ):
        return rewrite.assignment_id
    return None


def rewrite_outcome(rewrite: Rewrite) -> str:
    """What became of a revision, in words for its author (no votes, no voters)."""
    by = "a curator" if rewrite.decided_by_curator else "the reviewers"
    status = rewrite.status
    if status == Rewrite.Status.DRAFT:
        return "Draft, not submitted"
    if status == Rewrite.Status.SUBMITTED:
        return "In review: the reviewers have not decided yet"
    if status == Rewrite.Status.ACCEPTED:
        return f"Accepted by {by}"
    if status == Rewrite.Status.REJECTED:
        return f"Rejected by {by}"
    if status == Rewrite.Status.NO_CONSENSUS:
        return "No consensus among the reviewers; a curator decides what happens next"
    if status == Rewrite.Status.RETURNED:
        following = next_revision_of(rewrite)
        if following is None:
            return "Returned for revision"
        return f"Returned for revision; continued as revision {following.revision}"
    if status == Rewrite.Status.CLOSED:
        return "Closed by a curator (final; it will not be released)"
    return rewrite.get_status_display()


def rewrite_for_author(*, user: Any, rewrite_id: int) -> Rewrite:
    """A revision as its author reads it (seed, tags, the assignment, the next and previous
    revisions). NotFound for anyone else's revision or outside the user's campaigns (a curator
    too: the page is the author's); NotAllowed for a member who is not an annotator."""
    rewrite = (
        Rewrite.objects.select_related(
            "campaign",
            "assignment",
            "seed__subcategory__category",
            "subcategory__category",
            "next_revision",
            "previous",
        )
        .prefetch_related(language_links_prefetch())
        .filter(pk=rewrite_id)
        .first()
    )
    return access.require_object(
        user, rewrite, role=Role.ANNOTATOR, owner_field="author_id", missing="No such rewrite."
    )


def revisions_by_author(*, rewrite: Rewrite, user: Any) -> list[Rewrite]:
    """Every revision of ``rewrite``'s assignment that ``user`` wrote, in order (id, revision,
    status only)."""
    return list(
        Rewrite.objects.filter(assignment_id=rewrite.assignment_id, author_id=user.pk)
        .only("id", "revision", "status", "assignment_id", "author_id")
        .order_by("revision")
    )

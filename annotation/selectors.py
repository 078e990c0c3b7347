"""Reads of the annotation app, always scoped to the actor's memberships."""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Case, Count, Prefetch, Q, QuerySet, When

from core import access
from core.errors import ValidationFailed

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
    for m in (
        Membership.objects.filter(user_id=user.pk)
        .select_related("campaign")
        .order_by("campaign__slug", "role")
    ):
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


def revisions_prefetch() -> Prefetch:
    """Rewrites of an assignment, newest revision first, with tags, as ``.revisions``."""
    return Prefetch(
        "rewrites",
        queryset=Rewrite.objects.order_by("-revision")
        .select_related("subcategory__category")
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
    """The annotator's totals in a campaign, for the queue page (one query)."""
    decided = [Rewrite.Status.ACCEPTED, Rewrite.Status.REJECTED, Rewrite.Status.NO_CONSENSUS]
    rewrites = Rewrite.objects.filter(campaign=campaign, author_id=user.pk).aggregate(
        submitted=Count("pk", filter=~Q(status=Rewrite.Status.DRAFT)),
        waiting=Count("pk", filter=Q(status=Rewrite.Status.SUBMITTED)),
        decided=Count("pk", filter=Q(status__in=[*decided, Rewrite.Status.RETURNED])),
        accepted=Count("pk", filter=Q(status=Rewrite.Status.ACCEPTED)),
    )
    rejected = Assignment.objects.filter(
        campaign=campaign, annotator_id=user.pk, status=Assignment.Status.REJECTED
    ).count()
    return {**rewrites, "rejected_seeds": rejected}


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

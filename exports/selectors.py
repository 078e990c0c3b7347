"""Reads of the exports app, scoped to the actor's memberships and role."""

from typing import Any

from django.db.models import QuerySet

from annotation.errors import NotAllowed, NotFound
from annotation.models import Campaign, Role
from annotation.selectors import campaign_for_member, user_roles

from .models import ReferenceSet, Release


def releases_for_curator(*, user: Any, slug: str) -> tuple[Campaign, QuerySet[Release]]:
    """The campaign's releases, newest first. NotFound for non-members, NotAllowed for members
    who are not curators."""
    campaign = campaign_for_member(user=user, slug=slug, role=Role.CURATOR)
    qs = (
        Release.objects.filter(campaign=campaign)
        .select_related("campaign", "created_by")
        .defer("stats")
        .order_by("-created_at", "-id")
    )
    return campaign, qs


def release_for_curator(*, user: Any, release_id: int) -> Release:
    """One release of a campaign where ``user`` is a curator. NotFound if it does not exist or
    the user is not a member of its campaign; NotAllowed for members who are not curators."""
    release = Release.objects.select_related("campaign", "created_by").filter(pk=release_id).first()
    if release is None:
        raise NotFound("No such release.")
    roles = user_roles(user=user, campaign=release.campaign)
    if not roles:
        raise NotFound("No such release.")
    if Role.CURATOR not in roles:
        raise NotAllowed("Only curators can see and build releases.")
    return release


def reference_sets() -> QuerySet[ReferenceSet]:
    """All loaded reference sets (they are global: every campaign is checked against all)."""
    return ReferenceSet.objects.order_by("name")


def quality_check_sizes(*, campaign: Campaign) -> tuple[int, int]:
    """How many rewrites a campaign-wide check looks at: (decontaminated: every submitted
    revision, similarity-checked: the current ones)."""
    from .services.quality import CHECKED, CURRENT

    qs = campaign.rewrites.all()
    return qs.filter(status__in=CHECKED).count(), qs.filter(status__in=CURRENT).count()

"""Reads of the exports app, scoped to the actor's memberships and role."""

from typing import Any

from django.db.models import QuerySet

from annotation.models import Campaign, Role
from annotation.selectors import campaign_for_member
from core import access

from .models import BaselineResponse, Release


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
    return access.require_object(
        user,
        release,
        role=Role.CURATOR,
        missing="No such release.",
    )


def response_models(*, campaign: Campaign) -> list[str]:
    """The models with answers imported in ``campaign``, sorted (one query)."""
    return list(
        BaselineResponse.objects.filter(campaign=campaign)
        .order_by("model")
        .values_list("model", flat=True)
        .distinct()
    )

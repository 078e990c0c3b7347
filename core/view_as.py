"""View as: a curator looks at their campaign as one of its members sees it, read-only.

Starting (a POST from the people page) checks that the actor is a curator of the campaign (an
operator is one everywhere) and that the member belongs to it, records a ``view_as.started``
event and keeps ``{campaign, member}`` in the session. From then on ``AccessScopeMiddleware``
(``core.access``) serves every safe request (GET, HEAD) of that session as the member, narrowed
to that campaign (the member's other campaigns are missing, 404), with a banner on every page
(``core/_view_as_banner.html``), and refuses every other request with 403, except stopping
(``view_as.ended``) and logging out (which ends it too). Requests authenticated by an API token
are never affected: view-as is a feature of the session's pages.

The campaign and user models are reached as core reaches them everywhere: through the
membership model named by ``settings.CURATION_MEMBERSHIP_MODEL``."""

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from . import access
from .errors import NotFound, ValidationFailed
from .http import error_page
from .transitions import EventKind, event_record

SESSION_KEY = "curation_view_as"
REFUSAL = (
    "You are viewing as {member} (read-only): nothing can be changed from here. "
    "Stop viewing to act as yourself."
)


def _campaign_model() -> Any:
    return access._membership_model()._meta.get_field("campaign").related_model


def _viewer_roles() -> frozenset[str]:
    """The roles that may view as a member: the curator's (the operators' roles)."""
    return frozenset(settings.CURATION_OPERATOR_ROLES)


def _may_view(viewer: Any, campaign: Any) -> bool:
    return bool(access.roles(viewer, campaign) & _viewer_roles())


def _is_member(member: Any, campaign: Any) -> bool:
    """A membership of the campaign (an operator's implied roles do not count)."""
    return campaign.pk in access.roles_by_campaign(member)


@transaction.atomic
def view_as_start(*, actor: Any, campaign: Any, member: Any) -> Any:
    """Record that ``actor`` starts viewing ``campaign`` as ``member``; returns the Event.

    Raises NotFound (not a member of the campaign, or the campaign is not the actor's),
    NotAllowed (the actor is not a curator of it) and ValidationFailed (themselves)."""
    access.require(actor, campaign, role=sorted(_viewer_roles())[0], missing="No such campaign.")
    if member is None or not _is_member(member, campaign):
        raise NotFound("No such member of this campaign.")
    if member.pk == actor.pk:
        raise ValidationFailed(
            "You see your own pages already.",
            details={"errors": {"username": ["choose another member"]}},
        )
    return event_record(
        campaign=campaign,
        actor=actor,
        kind=EventKind.VIEW_AS_STARTED,
        obj=member,
        data={"member": member.pk},
    )


@transaction.atomic
def view_as_end(*, viewer: Any, campaign: Any, member: Any, reason: str) -> Any:
    """Record that ``viewer`` stopped viewing ``campaign`` as ``member`` (``reason``: "stop",
    "logout" or "revoked" when they may no longer); returns the Event."""
    return event_record(
        campaign=campaign,
        actor=viewer,
        kind=EventKind.VIEW_AS_ENDED,
        obj=member,
        data={"member": member.pk, "reason": reason},
    )


def current(request: HttpRequest) -> access.Viewing | None:
    """The session's view-as, if one is on and still allowed (else it ends here). None for a
    request that carries its own credentials (an API token)."""
    session = getattr(request, "session", None)
    if session is None or "HTTP_AUTHORIZATION" in request.META:
        return None
    state = session.get(SESSION_KEY)
    if not state:
        return None
    viewer = request.user
    if not getattr(viewer, "is_authenticated", False):
        session.pop(SESSION_KEY, None)
        return None
    campaign = _campaign_model().objects.filter(pk=state.get("campaign")).first()
    member = get_user_model().objects.filter(pk=state.get("member"), is_active=True).first()
    if campaign is None or member is None:
        session.pop(SESSION_KEY, None)
        return None
    if not _may_view(viewer, campaign) or not _is_member(member, campaign):
        session.pop(SESSION_KEY, None)
        view_as_end(viewer=viewer, campaign=campaign, member=member, reason="revoked")
        return None
    return access.Viewing(viewer=viewer, member=member, campaign=campaign)


def passes_through(request: HttpRequest, viewing: access.Viewing) -> bool:
    """Stopping and logging out run as the viewer themselves; logging out ends the view."""
    if request.method != "POST":
        return False
    if request.path == reverse("view-as-stop"):
        return True
    if request.path == reverse("account_logout"):
        request.session.pop(SESSION_KEY, None)
        view_as_end(
            viewer=viewing.viewer, campaign=viewing.campaign, member=viewing.member, reason="logout"
        )
        return True
    return False


def refused(request: HttpRequest, viewing: access.Viewing) -> HttpResponse:
    """403 for any change while viewing: JSON under /api/, the error page elsewhere."""
    message = REFUSAL.format(member=viewing.member.get_username())
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message, "code": "view_as_read_only"}, status=403)
    return error_page(request, status_code=403, message=message, problems=[])


@login_required
@require_POST
def start_page(request: HttpRequest, slug: str) -> HttpResponse:
    """POST ``username``: view campaign ``slug`` as that member, from its home page."""
    campaign = _campaign_model().objects.filter(slug=slug).first()
    username = request.POST.get("username", "").strip()
    member = get_user_model().objects.filter(username=username, is_active=True).first()
    if campaign is None:
        raise NotFound("No such campaign.")
    view_as_start(actor=request.user, campaign=campaign, member=member)
    assert member is not None  # view_as_start raised NotFound otherwise
    request.session[SESSION_KEY] = {"campaign": campaign.pk, "member": member.pk}
    return redirect("/")


@login_required
@require_POST
def stop_page(request: HttpRequest) -> HttpResponse:
    """Stop viewing as a member; back to the campaign's people page."""
    state = request.session.pop(SESSION_KEY, None)
    if not state:
        return redirect("/")
    campaign = _campaign_model().objects.filter(pk=state.get("campaign")).first()
    member = get_user_model().objects.filter(pk=state.get("member")).first()
    if campaign is None or member is None:
        return redirect("/")
    view_as_end(viewer=request.user, campaign=campaign, member=member, reason="stop")
    try:
        return redirect(reverse("people-page", kwargs={"slug": campaign.slug}))
    except NoReverseMatch:  # pragma: no cover - the people page is part of the project
        return redirect("/")

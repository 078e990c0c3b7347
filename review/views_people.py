"""Pages of the people workspace: the curator's people page (members, roles, open work,
invitations) and the invitee's accept page. Forms post with CSRF and redirect after success; a
refused change re-renders the page with the service's message and status, keeping what was
typed."""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from annotation.models import Campaign, Role
from annotation.selectors import campaign_for_member
from core.errors import Conflict, DomainError, InvalidTransition, ValidationFailed
from core.http import error_problems, status_for
from core.labels import label

from . import selectors_people
from .selectors_people import InvitationExpired, member_named
from .services.invitations import (
    invitation_accept,
    invitation_create,
    invitation_link,
    invitation_revoke,
)
from .services.members import membership_add, membership_remove, membership_role_change

# The fields each form of the people page posts (``action`` names the form).
FORM_FIELDS: dict[str, list[str]] = {
    "add": ["username_or_email", "role"],
    "invite": ["email", "role"],
    "role": ["username", "from_role", "to_role"],
    "remove": ["username", "role", "reassign_to"],
    "revoke": ["invitation"],
}


def _role_word(role: str) -> str:
    return label(role, "role").lower()


def _add(request: HttpRequest, campaign: Campaign, form: dict[str, str]) -> str:
    user = selectors_people.user_by_username_or_email(value=form["username_or_email"])
    membership_add(campaign=campaign, user=user, role=form["role"], actor=request.user)
    return f"{user.get_username()} is a {_role_word(form['role'])} of {campaign.name}."


def _invite(request: HttpRequest, campaign: Campaign, form: dict[str, str]) -> str:
    sent = invitation_create(
        campaign=campaign,
        actor=request.user,
        email=form["email"],
        role=form["role"],
        base_url=request.build_absolute_uri("/"),
    )
    return (
        f"Invitation sent to {sent.invitation.email} as {_role_word(sent.invitation.role)}; its "
        "link is also listed under Pending invitations, to copy."
    )


def _role(request: HttpRequest, campaign: Campaign, form: dict[str, str]) -> str:
    user = member_named(campaign=campaign, username=form["username"])
    membership_role_change(
        campaign=campaign,
        user=user,
        from_role=form["from_role"],
        to_role=form["to_role"],
        actor=request.user,
    )
    return (
        f"{user.get_username()} is now a {_role_word(form['to_role'])} "
        f"(no longer a {_role_word(form['from_role'])})."
    )


def _remove(request: HttpRequest, campaign: Campaign, form: dict[str, str]) -> str:
    user = member_named(campaign=campaign, username=form["username"])
    reassign_to = None
    if form["reassign_to"]:
        reassign_to = member_named(
            campaign=campaign,
            username=form["reassign_to"],
            field="reassign_to",
            role=Role.ANNOTATOR,
        )
    moved = membership_remove(
        campaign=campaign, user=user, role=form["role"], actor=request.user, reassign_to=reassign_to
    )
    work = ", ".join(f"{n} {label(what).lower()}" for what, n in moved.items() if n)
    return f"{user.get_username()} is no longer a {_role_word(form['role'])}." + (
        f" ({work})" if work else ""
    )


def _revoke(request: HttpRequest, campaign: Campaign, form: dict[str, str]) -> str:
    try:
        invitation_id = int(form["invitation"])
    except ValueError as exc:
        raise ValidationFailed(
            "Which invitation?", details={"errors": {"invitation": ["an invitation id"]}}
        ) from exc
    found = selectors_people.invitation_for_curator(user=request.user, invitation_id=invitation_id)
    if found.campaign_id != campaign.pk:
        raise ValidationFailed(
            "That invitation is of another campaign.",
            details={"errors": {"invitation": ["not an invitation of this campaign"]}},
        )
    invitation = invitation_revoke(invitation_id=invitation_id, actor=request.user)
    return f"The invitation of {invitation.email} as {_role_word(invitation.role)} is revoked."


ACTIONS: dict[str, Callable[[HttpRequest, Campaign, dict[str, str]], str]] = {
    "add": _add,
    "invite": _invite,
    "role": _role,
    "remove": _remove,
    "revoke": _revoke,
}


@login_required
@require_http_methods(["GET", "POST"])
def people_page(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the members with their roles, last activity and open work, the forms to add,
    invite, change a role and remove, and the pending invitations with their links. POST (one
    form, named by ``action``): do it through the membership or invitation services, then back
    here; a refusal (the last curator, a pending invitation, a bad field...) re-renders the page
    with the service's message and status."""
    campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
    action = ""
    form: dict[str, str] = {}
    problem: DomainError | None = None
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in ACTIONS:
            raise ValidationFailed(
                "Unknown form.", details={"errors": {"action": [f"one of {', '.join(ACTIONS)}"]}}
            )
        form = {field: request.POST.get(field, "").strip() for field in FORM_FIELDS[action]}
        try:
            done = ACTIONS[action](request, campaign, form)
        except (ValidationFailed, Conflict, InvalidTransition) as exc:
            problem, status = exc, status_for(exc)
        else:
            messages.success(request, done)
            return redirect("people-page", slug=campaign.slug)
    people = selectors_people.people(campaign=campaign)
    base_url = request.build_absolute_uri("/")
    now = timezone.now()
    invitations = [
        {
            "invitation": invitation,
            "link": invitation_link(invitation=invitation, base_url=base_url),
            "expired": invitation.expires_at <= now,
        }
        for invitation in selectors_people.invitations_pending(campaign=campaign)
    ]
    return render(
        request,
        "review/people.html",
        {
            "campaign": campaign,
            "people": people,
            "annotators": [p.username for p in people if Role.ANNOTATOR in p.roles],
            "roles": Role.choices,
            "invitations": invitations,
            "invitation_days": settings.INVITATION_DAYS,
            "action": action,
            "form": form,
            "problem": problem.message if problem else "",
            "problems": error_problems(problem) if problem else [],
        },
        status=status,
    )


def _allauth_backend() -> str:
    """The allauth backend (log in by username or email), else the first one configured."""
    backends = list(settings.AUTHENTICATION_BACKENDS)
    return next((b for b in backends if b.startswith("allauth.")), backends[0])


def _refused(request: HttpRequest, exc: DomainError) -> HttpResponse:
    status = status_for(exc)
    return render(request, "review/invitation_accept.html", {"refused": exc.message}, status=status)


@never_cache
@sensitive_post_parameters("password", "password2")
@require_http_methods(["GET", "POST"])
def invitation_accept_page(request: HttpRequest, token: str) -> HttpResponse:
    """Anyone holding the link. GET: the campaign and role, and the form for a new account
    (username, password twice); or, for someone logged in with the invited email, a button to
    join; or, when the invited email already has an account, a request to log in first. POST:
    accept (a new account is logged in), then to the home page. Forged links are refused with
    400, used or revoked ones with 409, expired ones with 410."""
    try:
        invitation = selectors_people.invitation_for_token(token=token)
    except (ValidationFailed, Conflict, InvitationExpired) as exc:
        return _refused(request, exc)
    user: Any = request.user
    if user.is_authenticated:
        mode = "join" if (user.email or "").lower() == invitation.email else "other_user"
    elif selectors_people.account_for_email(email=invitation.email) is not None:
        mode = "log_in"
    else:
        mode = "create"
    errors: dict[str, list[str]] = {}
    problem = ""
    status = 200
    username = ""
    if request.method == "POST" and mode in {"join", "create"}:
        username = request.POST.get("username", "").strip()
        password = request.POST.get("password", "")
        if mode == "create" and password != request.POST.get("password2", ""):
            errors["password2"] = ["the two passwords differ"]
            status = 400
        else:
            try:
                accepted = invitation_accept(
                    token=token, username=username, password=password, actor=user
                )
            except DomainError as exc:
                field_errors = exc.details.get("errors")
                if not isinstance(field_errors, dict) or "token" in field_errors:
                    return _refused(request, exc)
                errors, problem, status = field_errors, exc.message, status_for(exc)
            else:
                if accepted.account_created:
                    login(request, accepted.user, backend=_allauth_backend())
                messages.success(
                    request,
                    f"Welcome to {invitation.campaign.name}: you are a {invitation.role} there.",
                )
                return redirect("/")
    return render(
        request,
        "review/invitation_accept.html",
        {
            "invitation": invitation,
            "campaign": invitation.campaign,
            "mode": mode,
            "username": username,
            "errors": errors,
            "problem": problem,
            "token": token,
        },
        status=status,
    )

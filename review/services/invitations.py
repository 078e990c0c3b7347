"""Invitations by email: a curator invites someone to a campaign with a role; the invitee opens a
single-use, expiring, signed link, sets a username and password (or, with an account already,
accepts while logged in) and becomes a member through ``membership_add``. Sign-up stays closed
otherwise.

States (``Invitation.TRANSITIONS``)::

    pending -> accepted   invitation_accept (once: the link is single-use)
    pending -> revoked    invitation_revoke (a curator), or invitation_create replacing an
                          expired invitation for the same email and role

A link is ``/invitations/<token>/`` where the token signs the invitation's id and its random
nonce (``selectors_people.invitation_token``): an altered token fails the signature and a token
of another invitation carries another nonce."""

from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import urljoin

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import get_random_string

from annotation.models import Campaign, Membership, Role
from core import access
from core.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from core.transitions import EventKind, event_record, transition

from ..models import Invitation
from ..selectors_people import (
    account_for_email,
    email_holds_role,
    invitation_check,
    invitation_token,
    invitation_token_read,
)
from .members import membership_add

NONCE_LENGTH = 43  # ~256 bits from a 62-character alphabet


@dataclass(frozen=True)
class InvitationSent:
    invitation: Invitation
    link: str  # absolute; the curator may copy it instead of relying on the email


@dataclass(frozen=True)
class InvitationAccepted:
    invitation: Invitation
    user: Any
    membership: Membership
    account_created: bool


def invitation_link(*, invitation: Invitation, base_url: str) -> str:
    """The absolute link of ``invitation`` under ``base_url`` (the site's root, e.g.
    ``request.build_absolute_uri("/")``)."""
    path = reverse("invitation-accept-page", kwargs={"token": invitation_token(invitation)})
    return urljoin(base_url, path)


def _require_curator(actor: Any, campaign: Campaign | None, operator: bool) -> None:
    if not operator:
        access.require(actor, campaign, role=Role.CURATOR, missing="No such campaign.")


def _send_invitation_email(*, invitation_id: int, link: str) -> None:
    invitation = Invitation.objects.select_related("campaign", "created_by").get(pk=invitation_id)
    context = {
        "invitation": invitation,
        "campaign": invitation.campaign,
        "link": link,
        "inviter": invitation.created_by.get_username() if invitation.created_by else "",
        "role": invitation.get_role_display().lower(),
    }
    subject = " ".join(render_to_string("review/invitation_email_subject.txt", context).split())
    send_mail(
        subject,
        render_to_string("review/invitation_email.txt", context),
        None,  # DEFAULT_FROM_EMAIL
        [invitation.email],
        html_message=render_to_string("review/invitation_email.html", context),
    )


@transaction.atomic
def invitation_create(
    *,
    campaign: Campaign,
    actor: Any,
    email: str,
    role: str,
    base_url: str,
    operator: bool = False,
) -> InvitationSent:
    """Invite ``email`` to ``campaign`` as ``role``: a pending invitation with a random nonce,
    valid for ``settings.INVITATION_DAYS`` days, and (once committed) an email with its link.
    A pending invitation for the same email and role that has expired is revoked and replaced.

    Raises NotFound / NotAllowed unless ``actor`` is a curator of the campaign (or
    ``operator``), ValidationFailed naming each bad field (``email``, ``role``), Conflict when
    that email already holds the role or has a pending invitation for it. Nothing is written
    when any is raised; a failure to send the email is logged, and the link still works."""
    _require_curator(actor, campaign, operator)
    email = email.strip().lower()
    errors: dict[str, list[str]] = {}
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = ["enter a valid email address"]
    if role not in Role.values:
        errors["role"] = [f"one of {', '.join(Role.values)}"]
    if errors:
        raise ValidationFailed(
            "The invitation cannot be sent as asked.", details={"errors": errors}
        )
    if email_holds_role(campaign=campaign, email=email, role=role):
        raise Conflict(f"The account of {email} is already a {role} of {campaign.slug!r}.")
    now = timezone.now()
    existing = (
        Invitation.objects.select_for_update(no_key=True)
        .filter(campaign=campaign, email=email, role=role, status=Invitation.Status.PENDING)
        .first()
    )
    if existing is not None and existing.expires_at > now:
        raise Conflict(
            f"{email} already has a pending invitation as {role} (it expires "
            f"{existing.expires_at:%Y-%m-%d}); revoke it first to send a new one.",
            details={"invitation": existing.pk},
        )
    if existing is not None:
        transition(
            existing,
            to=Invitation.Status.REVOKED,
            allowed=Invitation.TRANSITIONS,
            kind=EventKind.INVITATION_REVOKED,
            actor=actor,
            extra={"revoked_at": now},
            data={"email": email, "role": role, "reason": "expired; replaced"},
        )
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                campaign=campaign,
                email=email,
                role=role,
                nonce=get_random_string(NONCE_LENGTH),
                expires_at=now + timedelta(days=settings.INVITATION_DAYS),
                created_by=actor if getattr(actor, "pk", None) else None,
            )
    except IntegrityError as exc:  # a concurrent invitation for the same email and role
        raise Conflict(f"{email} already has a pending invitation as {role}.") from exc
    event_record(
        campaign=campaign,
        actor=actor,
        kind=EventKind.INVITATION_CREATED,
        obj=invitation,
        to_state=Invitation.Status.PENDING,
        data={"email": email, "role": role, "expires_at": invitation.expires_at.isoformat()},
    )
    link = invitation_link(invitation=invitation, base_url=base_url)
    transaction.on_commit(
        partial(_send_invitation_email, invitation_id=invitation.pk, link=link), robust=True
    )
    return InvitationSent(invitation=invitation, link=link)


@transaction.atomic
def invitation_revoke(*, invitation_id: int, actor: Any, operator: bool = False) -> Invitation:
    """Withdraw a pending invitation: its link stops working.

    Raises NotFound / NotAllowed unless ``actor`` is a curator of its campaign (or
    ``operator``), InvalidTransition when it was already accepted or revoked."""
    found = Invitation.objects.select_related("campaign").filter(pk=invitation_id).first()
    if found is None:
        raise NotFound("No such invitation.")
    _require_curator(actor, found.campaign, operator)
    invitation = Invitation.objects.select_for_update(no_key=True).get(pk=invitation_id)
    transition(
        invitation,
        to=Invitation.Status.REVOKED,
        allowed=Invitation.TRANSITIONS,
        kind=EventKind.INVITATION_REVOKED,
        actor=actor,
        extra={"revoked_at": timezone.now()},
        data={"email": invitation.email, "role": invitation.role},
    )
    invitation.campaign = found.campaign
    return invitation


def _account_create(*, username: str, password: str, email: str) -> Any:
    """A new account for an invitee; ValidationFailed names every bad field (``username``;
    ``password``: each of AUTH_PASSWORD_VALIDATORS that refuses it)."""
    user_model = get_user_model()
    username = username.strip()
    errors: dict[str, list[str]] = {}
    if not username:
        errors["username"] = ["choose a username"]
    else:
        try:
            user_model.username_validator(username)
            if len(username) > 150:
                raise ValidationError("150 characters or fewer")
        except ValidationError as exc:
            errors["username"] = list(exc.messages)
        else:
            if user_model.objects.filter(username__iexact=username).exists():
                errors["username"] = ["this username is taken; choose another"]
    if not password:
        errors["password"] = ["choose a password"]
    else:
        try:
            validate_password(password, user=user_model(username=username, email=email))
        except ValidationError as exc:
            errors["password"] = list(exc.messages)
    if errors:
        raise ValidationFailed(
            "The account cannot be created as asked.", details={"errors": errors}
        )
    try:
        with transaction.atomic():
            return user_model.objects.create_user(username=username, email=email, password=password)
    except IntegrityError as exc:  # taken meanwhile
        raise ValidationFailed(
            "The account cannot be created as asked.",
            details={"errors": {"username": ["this username is taken; choose another"]}},
        ) from exc


@transaction.atomic
def invitation_accept(
    *, token: str, username: str = "", password: str = "", actor: Any = None
) -> InvitationAccepted:
    """Use an invitation link: anonymous invitees get a new account (``username``,
    ``password``, the invited email); someone logged in (``actor``) whose account uses the
    invited email joins with that account (no password is set). Either way the membership is
    added with ``membership_add`` (its event, a new reviewer fills waiting panels) and the
    invitation becomes accepted, so the link works once.

    Raises ValidationFailed for a forged or altered link (field ``token``) or a bad username or
    password (each named), Conflict for a used or revoked link or, anonymously, an email that
    already has an account (log in first), InvitationExpired past its expiry, NotAllowed when
    ``actor`` is someone else. Nothing is written when any is raised."""
    invitation_id, nonce = invitation_token_read(token)
    invitation = invitation_check(
        Invitation.objects.select_for_update(no_key=True).filter(pk=invitation_id).first(),
        nonce,
    )
    if getattr(actor, "is_authenticated", False):
        if (actor.email or "").strip().lower() != invitation.email:
            raise NotAllowed(
                f"This invitation was sent to {invitation.email}, and you are logged in as "
                f"{actor.get_username()}. Log out, then open the link again."
            )
        user, created = actor, False
    else:
        if account_for_email(email=invitation.email) is not None:
            raise Conflict(
                f"An account already uses {invitation.email}: log in with it, then open this "
                "link again to join the campaign."
            )
        user = _account_create(username=username, password=password, email=invitation.email)
        created = True
    campaign = Campaign.objects.get(pk=invitation.campaign_id)
    membership = membership_add(
        campaign=campaign, user=user, role=invitation.role, actor=user, operator=True
    )
    transition(
        invitation,
        to=Invitation.Status.ACCEPTED,
        allowed=Invitation.TRANSITIONS,
        kind=EventKind.INVITATION_ACCEPTED,
        actor=user,
        extra={"accepted_by": user, "accepted_at": timezone.now()},
        data={
            "email": invitation.email,
            "role": invitation.role,
            "user": user.get_username(),
            "account_created": created,
        },
    )
    invitation.campaign = campaign
    return InvitationAccepted(
        invitation=invitation, user=user, membership=membership, account_created=created
    )

"""Reads of the people workspace: a campaign's members with their roles, last activity and open
work (a fixed number of queries at any size), its invitations, and the signed invitation links
(what a link carries and whether it can still be used)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core import signing
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotation.models import Assignment, Campaign, Event, Membership, Role
from core import access
from core.errors import Conflict, Gone, ValidationFailed

from .models import Ballot, Invitation

# The salt of invitation links: a token signed for anything else never opens an invitation.
INVITATION_SALT = "codearena.invitation"
ROLE_ORDER: dict[str, int] = {
    str(role): i for i, role in enumerate([Role.CURATOR, Role.REVIEWER, Role.ANNOTATOR])
}


class InvitationExpired(Gone):
    """The invitation link is genuine but past its expiry date (410 Gone)."""

    code = "invitation_expired"


@dataclass(frozen=True)
class Person:
    """A member of a campaign as the people page and the members API show them."""

    id: int
    username: str
    email: str
    roles: list[str]
    joined_at: datetime
    last_activity_at: datetime | None
    last_activity: str  # the EventKind value of their newest event in the campaign, or ""
    active_assignments: int
    pending_ballots: int


def _count(queryset: QuerySet[Any], field: str) -> Coalesce:
    """``queryset``'s row count per ``field`` = the outer row, as a correlated subquery."""
    return Coalesce(
        Subquery(
            queryset.filter(**{field: OuterRef("pk")})
            .order_by()
            .values(field)
            .annotate(n=Count("pk"))
            .values("n")[:1],
            output_field=IntegerField(),
        ),
        0,
    )


def members_queryset(*, campaign: Campaign) -> QuerySet[Any]:
    """The users holding a role in ``campaign``, by username, each annotated with their newest
    event in the campaign (``last_activity_at``, ``last_activity``), their active assignments and
    pending ballots, and their memberships there (``campaign_memberships``): two queries for any
    number of members (one with a page of them). Turn a row into a ``Person`` with
    ``person_of``. The caller has checked access."""
    newest = Event.objects.filter(campaign=campaign, actor=OuterRef("pk")).order_by("-id")
    return (
        get_user_model()
        .objects.filter(
            pk__in=Membership.objects.filter(campaign=campaign).values("user_id"),
        )
        .annotate(
            last_activity_at=Subquery(newest.values("created_at")[:1]),
            last_activity=Subquery(newest.values("kind")[:1]),
            active_assignments=_count(
                Assignment.objects.filter(campaign=campaign, status=Assignment.Status.ACTIVE),
                "annotator",
            ),
            pending_ballots=_count(
                Ballot.objects.filter(campaign=campaign, status=Ballot.Status.PENDING),
                "reviewer",
            ),
        )
        .prefetch_related(
            Prefetch(
                "memberships",
                queryset=Membership.objects.filter(campaign=campaign).order_by("created_at"),
                to_attr="campaign_memberships",
            )
        )
        .order_by("username")
    )


def person_of(user: Any) -> Person:
    """A row of ``members_queryset`` as a ``Person``."""
    memberships = user.campaign_memberships
    return Person(
        id=user.pk,
        username=user.get_username(),
        email=user.email,
        roles=sorted((m.role for m in memberships), key=ROLE_ORDER.__getitem__),
        joined_at=min(m.created_at for m in memberships),
        last_activity_at=user.last_activity_at,
        last_activity=user.last_activity or "",
        active_assignments=user.active_assignments,
        pending_ballots=user.pending_ballots,
    )


def people(*, campaign: Campaign) -> list[Person]:
    """Every member of ``campaign`` (two queries)."""
    return [person_of(user) for user in members_queryset(campaign=campaign)]


def person(*, campaign: Campaign, user_id: int) -> Person | None:
    """One member of ``campaign`` (None when they hold no role there any more)."""
    user = members_queryset(campaign=campaign).filter(pk=user_id).first()
    return person_of(user) if user is not None else None


def user_by_username_or_email(*, value: str, field: str = "username_or_email") -> Any:
    """The one user whose username is ``value`` or, failing that, whose email is ``value``
    (case-insensitively). Raises ValidationFailed naming ``field`` when there is none or the
    email is shared by several accounts."""
    users = get_user_model().objects
    value = value.strip()
    user = users.filter(username=value).first() or users.filter(username__iexact=value).first()
    if user is not None:
        return user
    if value:
        by_email = list(users.filter(email__iexact=value)[:2])
        if len(by_email) == 1:
            return by_email[0]
        if by_email:
            raise ValidationFailed(
                "Several accounts use that email address.",
                details={"errors": {field: ["several accounts use this email; give a username"]}},
            )
    raise ValidationFailed(
        "There is no account with that username or email.",
        details={"errors": {field: [f"no account called {value!r}; invite them by email instead"]}},
    )


def member_named(
    *, campaign: Campaign, username: str, field: str = "username", role: str | None = None
) -> Any:
    """The member of ``campaign`` called ``username`` (holding ``role`` when given). Raises
    ValidationFailed naming ``field`` for anyone else, without saying whether such a user
    exists elsewhere."""
    memberships = Membership.objects.filter(campaign=campaign)
    if role is not None:
        memberships = memberships.filter(role=role)
    user = (
        get_user_model()
        .objects.filter(username=username, pk__in=memberships.values("user_id"))
        .first()
    )
    if user is None:
        what = f"an {role}" if role == Role.ANNOTATOR else f"a {role}" if role else "a member"
        raise ValidationFailed(
            f"{username!r} is not {what} of this campaign.",
            details={"errors": {field: [f"{username!r} is not {what} of this campaign"]}},
        )
    return user


# -- invitations ----------------------------------------------------------------------------------


def invitations_pending(*, campaign: Campaign) -> QuerySet[Invitation]:
    """The campaign's pending invitations (expired ones too, until revoked or replaced), newest
    first, with who sent them; one query."""
    return (
        Invitation.objects.filter(campaign=campaign, status=Invitation.Status.PENDING)
        .select_related("campaign", "created_by")
        .order_by("-created_at", "-id")
    )


def invitation_for_curator(*, user: Any, invitation_id: int) -> Invitation:
    """An invitation of a campaign where ``user`` is a curator. NotFound if it does not exist or
    is outside their campaigns; NotAllowed for a member who is not a curator."""
    invitation = (
        Invitation.objects.select_related("campaign", "created_by").filter(pk=invitation_id).first()
    )
    return access.require_object(user, invitation, role=Role.CURATOR, missing="No such invitation.")


def invitation_token(invitation: Invitation) -> str:
    """The signed token of ``invitation``'s link: its id and its nonce. Altering either breaks
    the signature; a token of another invitation carries another nonce."""
    return signing.dumps({"i": invitation.pk, "n": invitation.nonce}, salt=INVITATION_SALT)


def _forged() -> ValidationFailed:
    return ValidationFailed(
        "This invitation link is not valid: it was altered or cut short. Copy the whole link "
        "from the email, or ask the curator for a new invitation.",
        details={"errors": {"token": ["not a valid invitation link"]}},
    )


def invitation_token_read(token: str) -> tuple[int, str]:
    """(invitation id, nonce) of a genuine token. Raises ValidationFailed (field ``token``) for
    a forged, altered or truncated one."""
    try:
        payload = signing.loads(token, salt=INVITATION_SALT)
    except signing.BadSignature as exc:
        raise _forged() from exc
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("i"), int)
        or not isinstance(payload.get("n"), str)
    ):
        raise _forged()
    return payload["i"], payload["n"]


def invitation_check(invitation: Invitation | None, nonce: str) -> Invitation:
    """``invitation`` if a link carrying ``nonce`` may still be used for it. Raises
    ValidationFailed (no such invitation, or another nonce: forged), Conflict (already used or
    revoked) or InvitationExpired."""
    if invitation is None or invitation.nonce != nonce:
        raise _forged()
    if invitation.status == Invitation.Status.ACCEPTED:
        raise Conflict(
            "This invitation has already been used. Log in with the account it created, or "
            "ask the curator for a new invitation."
        )
    if invitation.status == Invitation.Status.REVOKED:
        raise Conflict("This invitation was withdrawn by the campaign's curators.")
    if invitation.expires_at <= timezone.now():
        raise InvitationExpired(
            f"This invitation expired on {invitation.expires_at:%Y-%m-%d %H:%M} UTC. Ask the "
            "curator for a new one."
        )
    return invitation


def invitation_for_token(*, token: str) -> Invitation:
    """The invitation a link opens, with its campaign, if it can still be used. Raises as
    ``invitation_check`` does."""
    invitation_id, nonce = invitation_token_read(token)
    invitation = Invitation.objects.select_related("campaign").filter(pk=invitation_id).first()
    return invitation_check(invitation, nonce)


def account_for_email(*, email: str) -> Any:
    """The existing account using ``email`` (case-insensitively), or None."""
    return get_user_model().objects.filter(email__iexact=email).order_by("pk").first()


def email_holds_role(*, campaign: Campaign, email: str, role: str) -> bool:
    """Whether an account using ``email`` already holds ``role`` in ``campaign``."""
    return Membership.objects.filter(
        Q(user__email__iexact=email), campaign=campaign, role=role
    ).exists()

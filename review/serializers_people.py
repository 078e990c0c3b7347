"""Inputs and typed outputs of the people workspace's API (members and invitations)."""

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from annotation.models import Role

from .models import Invitation
from .services.invitations import invitation_link


@extend_schema_field({"$ref": "#/components/schemas/RoleEnum"})
class RoleRefField(serializers.ChoiceField):
    """A role by name under another field name than ``role`` (``from_role``, ``to_role``, the
    items of ``roles``): in the schema it refers to the ``RoleEnum`` of the ``role`` fields,
    so one set of roles has one name (drf-spectacular names an enum after its field)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Role.choices, **kwargs)


# -- inputs ---------------------------------------------------------------------------------------


class MemberAddIn(serializers.Serializer):
    username_or_email = serializers.CharField(max_length=254)
    role = serializers.ChoiceField(choices=Role.choices)


class MemberRoleIn(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    from_role = RoleRefField()
    to_role = RoleRefField()


class MemberRemoveIn(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)
    reassign_to = serializers.CharField(
        max_length=150,
        required=False,
        allow_blank=True,
        default="",
        help_text="Removing an annotator: give all their active assignments to this annotator "
        "(otherwise drafts go to the least-loaded annotator and untouched seeds to the pool)",
    )


class InvitationCreateIn(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationAcceptIn(serializers.Serializer):
    token = serializers.CharField(max_length=1000)
    username = serializers.CharField(
        max_length=150,
        required=False,
        allow_blank=True,
        default="",
        help_text="For a new account (not needed when accepting while logged in)",
    )
    password = serializers.CharField(
        max_length=4096,
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text="For a new account; checked by the site's password validators",
    )


# -- outputs --------------------------------------------------------------------------------------


class MemberOut(serializers.Serializer):
    """A member of the campaign (``selectors_people.Person``)."""

    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField()
    roles = serializers.ListField(child=RoleRefField())
    joined_at = serializers.DateTimeField(help_text="Their first role in this campaign")
    last_activity_at = serializers.DateTimeField(
        allow_null=True, help_text="Their newest event in this campaign"
    )
    last_activity = serializers.CharField(help_text="The kind of that event ('' if none)")
    active_assignments = serializers.IntegerField()
    pending_ballots = serializers.IntegerField()


class WorkMovedOut(serializers.Serializer):
    ballots_closed = serializers.IntegerField()
    ballots_reopened = serializers.IntegerField()
    assignments_reassigned = serializers.IntegerField()
    assignments_released = serializers.IntegerField()


MOVED_FIELDS = [
    "ballots_closed",
    "ballots_reopened",
    "assignments_reassigned",
    "assignments_released",
]


class MemberRemovedOut(serializers.Serializer):
    username = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)
    moved = WorkMovedOut(help_text="What happened to their work in flight")
    member = MemberOut(allow_null=True, help_text="Their remaining roles (null: none left)")


def moved_out(moved: dict[str, int]) -> dict[str, int]:
    return {field: moved.get(field, 0) for field in MOVED_FIELDS}


class InvitationOut(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices)
    status = serializers.ChoiceField(choices=Invitation.Status.choices)
    campaign = serializers.CharField(source="campaign.slug")
    invited_by = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    expired = serializers.SerializerMethodField()
    link = serializers.SerializerMethodField()

    def get_invited_by(self, invitation: Invitation) -> str:
        return invitation.created_by.get_username() if invitation.created_by else ""

    def get_expired(self, invitation: Invitation) -> bool:
        return (
            invitation.status == Invitation.Status.PENDING
            and invitation.expires_at <= (self.context["now"])
        )

    def get_link(self, invitation: Invitation) -> str:
        """The absolute link to copy ('' once the invitation is no longer pending)."""
        if invitation.status != Invitation.Status.PENDING:
            return ""
        return invitation_link(invitation=invitation, base_url=self.context["base_url"])


class InvitationAcceptedOut(serializers.Serializer):
    username = serializers.CharField()
    campaign = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)
    account_created = serializers.BooleanField()


def invitation_context(request: Any) -> dict[str, Any]:
    """What ``InvitationOut`` needs: the site's root for the links, and now."""
    return {"base_url": request.build_absolute_uri("/"), "now": timezone.now()}

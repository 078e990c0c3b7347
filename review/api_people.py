"""People API: a campaign's members (list, add, change a role, remove) and its invitations
(list, create, revoke, accept). Curators only, except accepting an invitation, which the
invitee does anonymously (or logged in with the invited email). Each view checks access, parses
its input, calls one service and renders the result."""

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from annotation.models import Campaign, Role
from annotation.selectors import campaign_for_member
from core.http import REFUSALS, parse

from . import selectors_people
from .models import Invitation
from .selectors_people import member_named, person, person_of
from .serializers_people import (
    InvitationAcceptedOut,
    InvitationAcceptIn,
    InvitationCreateIn,
    InvitationOut,
    MemberAddIn,
    MemberOut,
    MemberRemovedOut,
    MemberRemoveIn,
    MemberRoleIn,
    invitation_context,
    moved_out,
)
from .services.invitations import invitation_accept, invitation_create, invitation_revoke
from .services.members import membership_add, membership_remove, membership_role_change

NOT_CURATOR = REFUSALS
BAD_INPUT = {400: OpenApiResponse(description="Every bad field named in 'errors'")}


def _curated(request: Request, slug: str) -> Campaign:
    return campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)


def _member_out(campaign: Campaign, user_id: int) -> dict[str, Any] | None:
    found = person(campaign=campaign, user_id=user_id)
    return MemberOut(found).data if found is not None else None


class CampaignMemberListView(ListAPIView):
    """A campaign's members with their roles, last activity and open work (curator)."""

    serializer_class = MemberOut
    filter_backends: list[type] = []

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return get_user_model().objects.none()
        campaign = _curated(self.request, self.kwargs["slug"])
        return selectors_people.members_queryset(campaign=campaign)

    @extend_schema(
        summary="Members with their roles, last activity and open work (curator)",
        responses={200: MemberOut(many=True), **NOT_CURATOR},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None  # the view has a pagination_class
        return self.get_paginated_response(MemberOut([person_of(u) for u in page], many=True).data)

    @extend_schema(
        summary="Add an existing user with a role (curator)",
        request=MemberAddIn,
        responses={
            201: MemberOut,
            200: OpenApiResponse(MemberOut, description="They already held the role"),
            **BAD_INPUT,
            **NOT_CURATOR,
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = _curated(request, slug)
        data = parse(MemberAddIn, request.data)
        user = selectors_people.user_by_username_or_email(value=data["username_or_email"])
        before = person(campaign=campaign, user_id=user.pk)
        membership_add(campaign=campaign, user=user, role=data["role"], actor=request.user)
        held = before is not None and data["role"] in before.roles
        return Response(
            _member_out(campaign, user.pk),
            status=status.HTTP_200_OK if held else status.HTTP_201_CREATED,
        )


class MemberRoleView(APIView):
    @extend_schema(
        summary="Change a member's role (curator); their work under the old role is handed on",
        request=MemberRoleIn,
        responses={
            200: MemberOut,
            **BAD_INPUT,
            **NOT_CURATOR,
            409: OpenApiResponse(description="The last curator cannot stop being one"),
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = _curated(request, slug)
        data = parse(MemberRoleIn, request.data)
        user = member_named(campaign=campaign, username=data["username"])
        membership_role_change(
            campaign=campaign,
            user=user,
            from_role=data["from_role"],
            to_role=data["to_role"],
            actor=request.user,
        )
        return Response(_member_out(campaign, user.pk))


class MemberRemoveView(APIView):
    @extend_schema(
        summary="Take a role from a member (curator); their work is handed on, history kept",
        request=MemberRemoveIn,
        responses={
            200: MemberRemovedOut,
            **BAD_INPUT,
            **NOT_CURATOR,
            409: OpenApiResponse(description="The last curator cannot be removed"),
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = _curated(request, slug)
        data = parse(MemberRemoveIn, request.data)
        user = member_named(campaign=campaign, username=data["username"])
        reassign_to = None
        if data["reassign_to"]:
            reassign_to = member_named(
                campaign=campaign,
                username=data["reassign_to"],
                field="reassign_to",
                role=Role.ANNOTATOR,
            )
        moved = membership_remove(
            campaign=campaign,
            user=user,
            role=data["role"],
            actor=request.user,
            reassign_to=reassign_to,
        )
        return Response(
            MemberRemovedOut(
                {
                    "username": user.get_username(),
                    "role": data["role"],
                    "moved": moved_out(moved),
                    "member": person(campaign=campaign, user_id=user.pk),
                }
            ).data
        )


class CampaignInvitationListView(ListAPIView):
    """A campaign's pending invitations, newest first, with their links (curator)."""

    serializer_class = InvitationOut
    filter_backends: list[type] = []

    def get_queryset(self) -> QuerySet[Invitation]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Invitation.objects.none()
        campaign = _curated(self.request, self.kwargs["slug"])
        return selectors_people.invitations_pending(campaign=campaign)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), **invitation_context(self.request)}

    @extend_schema(
        summary="Pending invitations with their links (curator)",
        responses={200: InvitationOut(many=True), **NOT_CURATOR},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Invite someone by email with a role (curator); the link is in the response",
        request=InvitationCreateIn,
        responses={
            201: InvitationOut,
            **BAD_INPUT,
            **NOT_CURATOR,
            409: OpenApiResponse(
                description="They already hold the role or have a pending invitation for it"
            ),
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = _curated(request, slug)
        data = parse(InvitationCreateIn, request.data)
        sent = invitation_create(
            campaign=campaign,
            actor=request.user,
            email=data["email"],
            role=data["role"],
            base_url=request.build_absolute_uri("/"),
        )
        return Response(
            InvitationOut(sent.invitation, context=invitation_context(request)).data,
            status=status.HTTP_201_CREATED,
        )


class InvitationRevokeView(APIView):
    @extend_schema(
        summary="Revoke a pending invitation (curator): its link stops working",
        request=None,
        responses={
            200: InvitationOut,
            403: OpenApiResponse(description="A member without the curator role"),
            404: OpenApiResponse(description="No such invitation, or not a member of its campaign"),
            409: OpenApiResponse(description="Already accepted or revoked"),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        selectors_people.invitation_for_curator(user=request.user, invitation_id=pk)
        invitation = invitation_revoke(invitation_id=pk, actor=request.user)
        return Response(InvitationOut(invitation, context=invitation_context(request)).data)


class InvitationAcceptView(APIView):
    """Accept an invitation: anyone holding the link; throttled like the token endpoint."""

    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth-token"

    @extend_schema(
        summary="Accept an invitation: a new account (username, password), or join while "
        "logged in with the invited email",
        request=InvitationAcceptIn,
        responses={
            201: InvitationAcceptedOut,
            400: OpenApiResponse(
                description="A forged or altered link ('token'), or a bad username or password "
                "(every failed password rule under 'errors.password')"
            ),
            403: OpenApiResponse(description="Logged in as someone the invitation is not for"),
            409: OpenApiResponse(
                description="The link was used or revoked, or the email has an account already "
                "(log in, then accept)"
            ),
            410: OpenApiResponse(description="The link has expired"),
            429: OpenApiResponse(description="Too many attempts; try again later"),
        },
    )
    def post(self, request: Request) -> Response:
        data = parse(InvitationAcceptIn, request.data)
        accepted = invitation_accept(
            token=data["token"],
            username=data["username"],
            password=data["password"],
            actor=request.user,
        )
        return Response(
            InvitationAcceptedOut(
                {
                    "username": accepted.user.get_username(),
                    "campaign": accepted.invitation.campaign.slug,
                    "role": accepted.invitation.role,
                    "account_created": accepted.account_created,
                }
            ).data,
            status=status.HTTP_201_CREATED,
        )

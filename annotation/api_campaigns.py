"""Curator workspace API, campaign part: create a campaign, read and change its settings, write
and read its guidelines (versions with diffs), mark them read. Each view parses input, calls
one service or selector, renders typed output."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.http import NOT_ALLOWED_RESPONSE, NOT_FOUND_RESPONSE, parse
from core.parsers import StrictJSONParser

from . import selectors_campaigns as campaigns
from .models import GuidelinesVersion, Role
from .selectors import campaign_for_member
from .serializers_campaigns import (
    CampaignCreateIn,
    CampaignSettingsIn,
    CampaignSettingsOut,
    GuidelinesIn,
    GuidelinesOut,
    GuidelinesReadOut,
    GuidelinesVersionDetailOut,
    GuidelinesVersionOut,
    campaign_create_arguments,
)
from .services.campaigns import campaign_create, campaign_settings_update
from .services.guidelines import guidelines_mark_read, guidelines_save

NOT_MEMBER = NOT_FOUND_RESPONSE
NOT_CURATOR = NOT_ALLOWED_RESPONSE


class CampaignCreateView(APIView):
    parser_classes = [StrictJSONParser, MultiPartParser, FormParser]

    @extend_schema(
        request={"application/json": CampaignCreateIn, "multipart/form-data": CampaignCreateIn},
        responses={
            201: CampaignSettingsOut,
            400: OpenApiResponse(description="Every bad field (and taxonomy problem) named"),
            403: OpenApiResponse(description="You lack the create_campaign permission"),
            409: OpenApiResponse(description="The slug is taken"),
        },
        summary="Create a campaign; you become its curator (needs create_campaign)",
    )
    def post(self, request: Request) -> Response:
        data = parse(CampaignCreateIn, request.data)
        campaign = campaign_create(actor=request.user, **campaign_create_arguments(data))
        return Response(
            CampaignSettingsOut(campaigns.campaign_settings(campaign)).data,
            status=status.HTTP_201_CREATED,
        )


class CampaignSettingsView(APIView):
    @extend_schema(
        responses={200: CampaignSettingsOut, 403: NOT_CURATOR, 404: NOT_MEMBER},
        summary="The campaign's settings and which are locked (curator)",
    )
    def get(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
        return Response(CampaignSettingsOut(campaigns.campaign_settings(campaign)).data)

    @extend_schema(
        request=CampaignSettingsIn,
        responses={
            200: CampaignSettingsOut,
            400: OpenApiResponse(description="Every bad field named"),
            403: NOT_CURATOR,
            404: NOT_MEMBER,
            409: OpenApiResponse(description="The tokenizer is locked (rewrites submitted)"),
        },
        summary="Change settings (curator); panel size and threshold apply to new panels",
    )
    def patch(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
        data = parse(CampaignSettingsIn, request.data)
        campaign = campaign_settings_update(campaign=campaign, actor=request.user, **data)
        return Response(CampaignSettingsOut(campaigns.campaign_settings(campaign)).data)


def _guidelines(campaign: Any, user: Any) -> dict[str, Any]:
    return {
        "campaign": campaign,
        "newest": campaigns.guidelines_versions(campaign).first(),
        "unread": campaigns.guidelines_unread(campaign=campaign, user=user),
    }


class GuidelinesView(APIView):
    @extend_schema(
        responses={200: GuidelinesOut, 404: NOT_MEMBER},
        summary="The campaign's guidelines and whether they changed since you read them",
    )
    def get(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_member(user=request.user, slug=slug)
        return Response(GuidelinesOut(_guidelines(campaign, request.user)).data)

    @extend_schema(
        request=GuidelinesIn,
        responses={
            201: GuidelinesOut,
            200: OpenApiResponse(GuidelinesOut, description="Same text: no new version"),
            400: OpenApiResponse(description="Too long"),
            403: NOT_CURATOR,
            404: NOT_MEMBER,
        },
        summary="Save the guidelines as a new version (curator)",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
        data = parse(GuidelinesIn, request.data)
        version = guidelines_save(campaign=campaign, actor=request.user, text=data["text"])
        return Response(
            GuidelinesOut(_guidelines(campaign, request.user)).data,
            status=status.HTTP_201_CREATED if version else status.HTTP_200_OK,
        )


class GuidelinesVersionListView(ListAPIView):
    """The guidelines' versions, newest first (curator)."""

    serializer_class = GuidelinesVersionOut
    filter_backends: list[type] = []

    def get_queryset(self) -> QuerySet[GuidelinesVersion]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return GuidelinesVersion.objects.none()
        campaign = campaign_for_member(
            user=self.request.user, slug=self.kwargs["slug"], role=Role.CURATOR
        )
        return campaigns.guidelines_versions(campaign)

    @extend_schema(
        responses={200: GuidelinesVersionOut(many=True), 403: NOT_CURATOR, 404: NOT_MEMBER},
        summary="The guidelines' versions, newest first (curator)",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class GuidelinesVersionView(APIView):
    @extend_schema(
        responses={
            200: GuidelinesVersionDetailOut,
            403: NOT_CURATOR,
            404: OpenApiResponse(description="No such campaign or version"),
        },
        summary="One guidelines version with its diff to the previous one (curator)",
    )
    def get(self, request: Request, slug: str, number: int) -> Response:
        campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
        item = campaigns.guidelines_version(campaign=campaign, number=number)
        return Response(GuidelinesVersionDetailOut(item).data)


class GuidelinesReadView(APIView):
    @extend_schema(
        request=None,
        responses={200: GuidelinesReadOut, 404: NOT_MEMBER},
        summary="Mark the newest guidelines as read by me",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_member(user=request.user, slug=slug)
        read = guidelines_mark_read(campaign=campaign, actor=request.user)
        return Response(GuidelinesReadOut({"version": read.version, "unread": False}).data)

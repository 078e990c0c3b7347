"""Curator workspace API, campaign part: create a campaign, read and change its settings, write
and read its guidelines (versions with diffs), mark them read; its model assistance settings,
prompt versions, usage and a connection test. Each view parses input, calls
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

from . import selectors_assist
from . import selectors_campaigns as campaigns
from .models import GuidelinesVersion, Role
from .selectors import campaign_for_member
from .serializers_campaigns import (
    AssistPromptIn,
    AssistPromptsOut,
    AssistSettingsIn,
    AssistSettingsOut,
    AssistTestOut,
    AssistUsageOut,
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
from .services.assist_settings import (
    assist_connection_test,
    assist_prompt_save,
    assist_settings_update,
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


# --- model assistance (curators) ------------------------------------------------------------


def _assist_prompts(campaign: Any) -> dict[str, Any]:
    return {"prompts": selectors_assist.assist_prompts(campaign)}


class AssistSettingsView(APIView):
    @extend_schema(
        responses={200: AssistSettingsOut, 403: NOT_CURATOR, 404: NOT_MEMBER},
        summary="The campaign's model assistance settings (curator; never the key)",
    )
    def get(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
        return Response(AssistSettingsOut(selectors_assist.assist_settings_current(campaign)).data)

    @extend_schema(
        request=AssistSettingsIn,
        responses={
            200: AssistSettingsOut,
            400: OpenApiResponse(description="Every bad field named in 'errors'"),
            403: NOT_CURATOR,
            404: NOT_MEMBER,
        },
        summary="Change model assistance settings (curator); only the fields sent change",
    )
    def put(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
        data = parse(AssistSettingsIn, request.data)
        assist_settings_update(campaign=campaign, actor=request.user, changes=data)
        return Response(AssistSettingsOut(selectors_assist.assist_settings_current(campaign)).data)


class AssistPromptsView(APIView):
    @extend_schema(
        responses={200: AssistPromptsOut, 403: NOT_CURATOR, 404: NOT_MEMBER},
        summary="The prompts per purpose: the one in use, the built-in, the saved versions",
    )
    def get(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
        return Response(AssistPromptsOut(_assist_prompts(campaign)).data)

    @extend_schema(
        request=AssistPromptIn,
        responses={
            201: AssistPromptsOut,
            200: OpenApiResponse(AssistPromptsOut, description="Same text: no new version"),
            400: OpenApiResponse(description="Unknown purpose, empty or too long text"),
            403: NOT_CURATOR,
            404: NOT_MEMBER,
        },
        summary="Save a prompt as a new version (curator); the built-in text resets it",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
        data = parse(AssistPromptIn, request.data)
        before = selectors_assist.assist_prompt_newest_number(campaign, data["purpose"])
        saved = assist_prompt_save(
            campaign=campaign, actor=request.user, purpose=data["purpose"], text=data["text"]
        )
        created = saved is not None and saved.number > before
        return Response(
            AssistPromptsOut(_assist_prompts(campaign)).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class AssistUsageView(APIView):
    @extend_schema(
        responses={200: AssistUsageOut, 403: NOT_CURATOR, 404: NOT_MEMBER},
        summary="Model usage: calls, failures, tokens in/out, latency; the last 20 calls",
    )
    def get(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
        return Response(AssistUsageOut(selectors_assist.assist_usage(campaign)).data)


class AssistTestView(APIView):
    @extend_schema(
        request=None,
        responses={
            200: AssistTestOut,
            403: NOT_CURATOR,
            404: NOT_MEMBER,
            409: OpenApiResponse(description="Model assistance is off"),
        },
        summary="Send a tiny prompt to the campaign's endpoint and report how it answered",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
        result = assist_connection_test(campaign=campaign, actor=request.user)
        return Response(AssistTestOut(result).data)

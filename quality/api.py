"""The curator workspace's references API: the loaded reference sets (global, seen from a
campaign), uploading a new set, and enabling a set the deployment offers. Curators of the
campaign and operators only. Each view parses input, calls one selector or service, renders."""

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import Role
from annotation.selectors import campaign_for_member
from core.http import REFUSALS as CORE_REFUSALS
from core.http import parse

from .models import ReferenceSet
from .selectors_references import (
    AvailableReferenceSet,
    reference_set_for_campaign,
    reference_sets_for_campaign,
    references_available,
)
from .serializers import (
    AvailableReferenceSetOut,
    ReferenceSetLoadOut,
    ReferenceSetOut,
    ReferenceSetUploadIn,
)
from .services.references import ReferenceLoadResult, reference_set_enable, reference_set_upload

REFUSALS = CORE_REFUSALS


def _load_response(request: Request, campaign: Any, result: ReferenceLoadResult) -> Response:
    ref = reference_set_for_campaign(campaign=campaign, name=result.reference_set.name)
    body = {
        "reference_set": ref,
        "replaced": result.replaced,
        "rechecked": result.rechecked,
        "contaminated_all_campaigns": result.contaminated,
    }
    return Response(
        ReferenceSetLoadOut(body, context={"user": request.user}).data,
        status=status.HTTP_201_CREATED,
    )


class CampaignReferenceSetListView(ListAPIView):
    """Every loaded reference set, seen from the campaign (GET); upload a new set (POST)."""

    serializer_class = ReferenceSetOut
    filter_backends: list[type] = []
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return ReferenceSet.objects.none()
        campaign = campaign_for_member(
            user=self.request.user, slug=self.kwargs["slug"], role=Role.CURATOR
        )
        return reference_sets_for_campaign(campaign=campaign)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "user": self.request.user}

    @extend_schema(
        summary="Reference sets, with what each contaminates in this campaign (curator)",
        responses={200: ReferenceSetOut(many=True), **REFUSALS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Upload a reference benchmark (jsonl / jsonl.gz) and re-check all rewrites",
        request={"multipart/form-data": ReferenceSetUploadIn},
        responses={
            201: ReferenceSetLoadOut,
            400: OpenApiResponse(
                description="Bad fields, or bad lines (each named); nothing loaded"
            ),
            **REFUSALS,
            409: OpenApiResponse(
                description="The name belongs to a set you may not replace (loaded for another "
                "campaign, or by an operator)"
            ),
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
        data = parse(ReferenceSetUploadIn, request.data)
        result = reference_set_upload(
            campaign=campaign,
            actor=request.user,
            name=data["name"],
            uploads=[(f.name or "", f) for f in data["files"]],
            fields=data["fields"],
            id_field=data["id_field"],
        )
        return _load_response(request, campaign, result)


class ReferenceSetAvailableView(ListAPIView):
    """The sets this deployment offers (folders of REFERENCES_DIR), loaded or not."""

    serializer_class = AvailableReferenceSetOut
    filter_backends: list[type] = []

    def get_queryset(self) -> list[AvailableReferenceSet]:  # type: ignore[override]
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return []
        campaign_for_member(user=self.request.user, slug=self.kwargs["slug"], role=Role.CURATOR)
        return references_available()

    @extend_schema(
        summary="Reference sets this deployment offers to enable (curator)",
        responses={200: AvailableReferenceSetOut(many=True), **REFUSALS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class ReferenceSetEnableView(APIView):
    @extend_schema(
        summary="Enable (load) a reference set this deployment offers, re-checking all rewrites",
        request=None,
        responses={
            201: ReferenceSetLoadOut,
            400: OpenApiResponse(description="Bad lines in the offered files; nothing loaded"),
            403: REFUSALS[403],
            404: OpenApiResponse(description="No such campaign, or no such set offered"),
            409: OpenApiResponse(
                description="Loaded already, by another campaign or an operator: you may not "
                "reload it"
            ),
        },
    )
    def post(self, request: Request, slug: str, name: str) -> Response:
        campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
        result = reference_set_enable(campaign=campaign, actor=request.user, name=name)
        return _load_response(request, campaign, result)

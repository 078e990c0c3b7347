"""Annotator-facing API: campaigns, assignments, claim-next, drafts, seed rejection.
Each view parses input, calls one selector or service, renders output."""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from . import selectors, services
from .api_common import Pagination
from .models import Assignment, Role
from .serializers import (
    AssignmentOut,
    CampaignOut,
    DraftIn,
    DraftOut,
    PreviewIn,
    PreviewOut,
    ReassignIn,
    RejectIn,
)


class TokenView(ObtainAuthToken):
    """Exchange a username and password for an API token; throttled per client address."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth-token"


class CampaignListView(APIView):
    @extend_schema(responses=CampaignOut(many=True), summary="Campaigns I belong to")
    def get(self, request: Request) -> Response:
        memberships = selectors.campaigns_for_user(user=request.user)
        paginator = Pagination()
        page = paginator.paginate_queryset(memberships, request, view=self)
        return paginator.get_paginated_response(CampaignOut(page, many=True).data)


class CampaignAssignmentListView(APIView):
    @extend_schema(
        responses=AssignmentOut(many=True),
        parameters=[OpenApiParameter("status", enum=Assignment.Status.values)],
        summary="My assignments in a campaign",
    )
    def get(self, request: Request, slug: str) -> Response:
        campaign = selectors.campaign_for_member(user=request.user, slug=slug, role=Role.ANNOTATOR)
        status_filter = request.query_params.get("status") or None
        if status_filter and status_filter not in Assignment.Status.values:
            return Response(
                {
                    "detail": f"Unknown status {status_filter!r}; use one of "
                    f"{', '.join(Assignment.Status.values)}.",
                    "code": "invalid_request",
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        qs = selectors.assignments_for_annotator(
            user=request.user, campaign=campaign, status=status_filter
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(AssignmentOut(page, many=True).data)


class ClaimNextView(APIView):
    @extend_schema(
        request=None,
        responses={201: AssignmentOut, 204: OpenApiResponse(description="Nothing left to claim")},
        summary="Claim the next seed",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = selectors.campaign_for_member(user=request.user, slug=slug, role=Role.ANNOTATOR)
        assignment = services.assignment_claim_next(campaign=campaign, actor=request.user)
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(
            AssignmentOut(_reload(request, assignment.pk)).data, status=status.HTTP_201_CREATED
        )


def _reload(request: Request, assignment_id: int) -> Assignment:
    return selectors.assignment_for_user(user=request.user, assignment_id=assignment_id)


class AssignmentDetailView(APIView):
    @extend_schema(responses=AssignmentOut, summary="A seed and my current draft")
    def get(self, request: Request, pk: int) -> Response:
        return Response(AssignmentOut(_reload(request, pk)).data)


class DraftSaveView(APIView):
    @extend_schema(
        request=DraftIn,
        responses={200: DraftOut, 409: OpenApiResponse(description="Stale version")},
        summary="Save my draft (optimistic versioning)",
    )
    def put(self, request: Request, pk: int) -> Response:
        data = _parse(DraftIn, request.data)
        checklist: dict[str, Any] = data.pop("checklist", None) or {}
        version = data.pop("version")
        draft = services.draft_save(
            assignment_id=pk,
            actor=request.user,
            data=services.DraftInput(**data, checklist=checklist),
            version=version,
        )
        assignment = _reload(request, pk)
        return Response(DraftOut(selectors.current_revision(assignment) or draft).data)


class RejectSeedView(APIView):
    @extend_schema(
        request=RejectIn, responses=AssignmentOut, summary="Reject the seed as unsuitable"
    )
    def post(self, request: Request, pk: int) -> Response:
        data = _parse(RejectIn, request.data)
        services.assignment_reject_seed(
            assignment_id=pk, actor=request.user, reason=data["reason"], note=data["note"]
        )
        return Response(AssignmentOut(_reload(request, pk)).data)


class ReassignView(APIView):
    @extend_schema(
        request=ReassignIn,
        responses={200: dict, 400: OpenApiResponse(description="Not an annotator of the campaign")},
        summary="Hand an active assignment (and its draft) to another annotator (curator)",
    )
    def post(self, request: Request, pk: int) -> Response:
        assignment = selectors.assignment_for_curator(user=request.user, assignment_id=pk)
        data = _parse(ReassignIn, request.data)
        annotator = selectors.annotator_named(
            campaign=assignment.campaign, username=data["annotator"]
        )
        assignment = services.assignment_reassign(
            assignment_id=pk, actor=request.user, annotator=annotator, note=data["note"]
        )
        return Response(
            {
                "id": assignment.pk,
                "status": assignment.status,
                "annotator": annotator.get_username(),
                "seed": assignment.seed_id,
            }
        )


class PreviewView(APIView):
    @extend_schema(
        request=PreviewIn,
        responses=PreviewOut,
        summary="Render a text as the pages do, count its tokens, suggest its tags",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = selectors.campaign_for_member(user=request.user, slug=slug)
        data = _parse(PreviewIn, request.data)
        return Response(selectors.text_preview(campaign=campaign, text=data["text"]))


def _parse(serializer_class: type, data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)

"""Annotator-facing API: campaigns, assignments, claim-next, drafts, seed rejection, skipping,
the annotator's submitted revisions.
Each view parses input, calls one selector or service, renders output."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.http import REFUSALS, parse
from core.parsers import StrictJSONParser

from . import selectors, services
from .auth import ClientAddressRateThrottle, lockout_body, lockout_minutes
from .filters import AssignmentFilter
from .models import Assignment, Rewrite, Role, Seed
from .serializers import (
    AssignmentOut,
    CampaignOut,
    DraftIn,
    DraftOut,
    MyRewriteOut,
    PreviewIn,
    PreviewOut,
    ReassignIn,
    ReassignOut,
    RejectIn,
    SkipIn,
)


class TokenView(ObtainAuthToken):
    """Exchange a username and password for an API token; throttled per client address (the one
    the trusted proxies vouch for), and refused with 429 while the address or the account is
    locked out after too many wrong passwords (django-axes; see annotation.auth)."""

    throttle_classes = [ClientAddressRateThrottle]
    throttle_scope = "auth-token"
    # ObtainAuthToken names DRF's own JSONParser; the API's limits hold here too (core.parsers).
    parser_classes = [StrictJSONParser, FormParser, MultiPartParser]

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            response = super().post(request, *args, **kwargs)
        except ValidationError:
            # django-axes marks the (DRF) request it refused; the check never saw the password.
            if getattr(request, "axes_locked_out", False):
                return Response(
                    lockout_body(),
                    status=status.HTTP_429_TOO_MANY_REQUESTS,
                    headers={
                        "Retry-After": str(lockout_minutes() * 60),
                        "Cache-Control": "private, no-store",
                    },
                )
            raise
        response["Cache-Control"] = "no-store"  # the body is a credential
        return response


class CampaignListView(ListAPIView):
    """The campaigns I belong to, each with my roles."""

    serializer_class = CampaignOut
    filter_backends: list[type] = []

    def get_queryset(self) -> Any:
        return selectors.campaigns_for_user(user=self.request.user)

    @extend_schema(summary="Campaigns I belong to")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class CampaignAssignmentListView(ListAPIView):
    """My assignments in a campaign: active ones first, then the rest, each oldest first."""

    serializer_class = AssignmentOut
    filterset_class = AssignmentFilter

    def get_queryset(self) -> QuerySet[Assignment]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Assignment.objects.none()
        campaign = selectors.campaign_for_member(
            user=self.request.user, slug=self.kwargs["slug"], role=Role.ANNOTATOR
        )
        return selectors.assignments_for_annotator(user=self.request.user, campaign=campaign)

    @extend_schema(summary="My assignments in a campaign")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class ClaimNextView(APIView):
    @extend_schema(
        request=None,
        responses={201: AssignmentOut, 204: OpenApiResponse(description="Nothing left to claim")},
        summary="Claim the next seed",
    )
    def post(self, request: Request, slug: str) -> Response:
        # The service checks the role itself (in its claim statement on PostgreSQL, from the
        # request's memberships otherwise) and refuses as ``campaign_for_member`` would: no
        # separate membership read on the way in.
        campaign = selectors.campaign_for_claim(slug=slug)
        assignment = services.assignment_claim_next(campaign=campaign, actor=request.user)
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        if not _loaded_for_response(assignment):  # the ORM path (SQLite) loads less
            assignment = selectors.assignment_claimed(assignment, campaign=campaign)
        return Response(AssignmentOut(assignment).data, status=status.HTTP_201_CREATED)


def _loaded_for_response(assignment: Assignment) -> bool:
    """Whether the claim came back with what ``AssignmentOut`` reads (the claim statement
    returns the seed with its subcategory and category, and no revisions yet)."""
    return (
        hasattr(assignment, "revisions")
        and Assignment.seed.is_cached(assignment)
        and Seed.subcategory.is_cached(assignment.seed)
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
        # Access first: a stranger gets the same 404 whatever the body holds.
        selectors.assignment_for_annotator(user=request.user, assignment_id=pk)
        data = parse(DraftIn, request.data)
        checklist: dict[str, Any] = data.pop("checklist", None) or {}
        version = data.pop("version")
        draft = services.draft_save(
            assignment_id=pk,
            actor=request.user,
            data=services.DraftInput(**data, checklist=checklist),
            version=version,
        )
        return Response(DraftOut(selectors.newest_revision(assignment_id=pk) or draft).data)


class RejectSeedView(APIView):
    @extend_schema(
        request=RejectIn, responses=AssignmentOut, summary="Reject the seed as unsuitable"
    )
    def post(self, request: Request, pk: int) -> Response:
        selectors.assignment_for_annotator(user=request.user, assignment_id=pk)
        data = parse(RejectIn, request.data)
        services.assignment_reject_seed(
            assignment_id=pk, actor=request.user, reason=data["reason"], note=data["note"]
        )
        return Response(AssignmentOut(_reload(request, pk)).data)


class SkipSeedView(APIView):
    @extend_schema(
        request=SkipIn,
        responses={
            200: AssignmentOut,
            400: OpenApiResponse(description="The reason is longer than 300 characters"),
            **REFUSALS,
            409: OpenApiResponse(
                description="Not active, or a rewrite returned for revision (revise it, or a "
                "curator reassigns it)"
            ),
        },
        summary="Skip the seed: back to the pool for someone else, never offered to me again",
    )
    def post(self, request: Request, pk: int) -> Response:
        selectors.assignment_for_annotator(user=request.user, assignment_id=pk)
        data = parse(SkipIn, request.data)
        services.assignment_skip(assignment_id=pk, actor=request.user, reason=data["reason"])
        return Response(AssignmentOut(_reload(request, pk)).data)


class MyRewriteListView(ListAPIView):
    """The revisions I submitted in a campaign, newest first, with their status and outcome."""

    serializer_class = MyRewriteOut
    filter_backends: list[type] = []

    def get_queryset(self) -> QuerySet[Rewrite]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Rewrite.objects.none()
        campaign = selectors.campaign_for_member(
            user=self.request.user, slug=self.kwargs["slug"], role=Role.ANNOTATOR
        )
        return selectors.rewrites_for_author(user=self.request.user, campaign=campaign)

    @extend_schema(
        summary="My submitted revisions: status, outcome, and the feedback of returned ones",
        responses={200: MyRewriteOut(many=True), **REFUSALS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class ReassignView(APIView):
    @extend_schema(
        request=ReassignIn,
        responses={
            200: ReassignOut,
            400: OpenApiResponse(description="Not an annotator of the campaign"),
        },
        summary="Hand an active assignment (and its draft) to another annotator (curator)",
    )
    def post(self, request: Request, pk: int) -> Response:
        assignment = selectors.assignment_for_curator(user=request.user, assignment_id=pk)
        data = parse(ReassignIn, request.data)
        annotator = selectors.annotator_named(
            campaign=assignment.campaign, username=data["annotator"]
        )
        assignment = services.assignment_reassign(
            assignment_id=pk, actor=request.user, annotator=annotator, note=data["note"]
        )
        return Response(
            ReassignOut(
                {
                    "id": assignment.pk,
                    "status": assignment.status,
                    "annotator": annotator.get_username(),
                    "seed": assignment.seed_id,
                }
            ).data
        )


class PreviewView(APIView):
    @extend_schema(
        request=PreviewIn,
        responses=PreviewOut,
        summary="Render a text as the pages do, count its tokens, suggest its tags",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = selectors.campaign_for_member(user=request.user, slug=slug)
        data = parse(PreviewIn, request.data)
        return Response(selectors.text_preview(campaign=campaign, text=data["text"]))

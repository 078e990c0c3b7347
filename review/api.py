"""Review API: submitting for review, ballots and votes, the curator's rewrites, returning a
rewrite, campaign statistics. Each view parses input, calls one selector or service, renders."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api import _parse
from annotation.api_common import Pagination
from annotation.models import Rewrite, Role
from annotation.selectors import annotator_named, campaign_for_member

from . import dashboard, selectors, services
from .models import Ballot
from .serializers import (
    BallotOut,
    CuratorRewriteOut,
    ReturnIn,
    SubmittedRewriteOut,
    VoteIn,
    rewrite_out,
)


class SubmitView(APIView):
    @extend_schema(
        request=None,
        responses={
            200: SubmittedRewriteOut,
            400: OpenApiResponse(description="Every missing field named in 'errors'"),
        },
        summary="Submit my rewrite for review",
    )
    def post(self, request: Request, pk: int) -> Response:
        rewrite = services.submission_open(assignment_id=pk, actor=request.user)
        return Response(
            SubmittedRewriteOut(selectors.rewrite_submitted(rewrite_id=rewrite.pk)).data
        )


class CampaignBallotListView(APIView):
    @extend_schema(
        responses=BallotOut(many=True),
        parameters=[OpenApiParameter("status", enum=[*Ballot.Status.values, "all"])],
        summary="My ballots (pending by default), oldest first",
    )
    def get(self, request: Request, slug: str) -> Response:
        wanted = request.query_params.get("status", Ballot.Status.PENDING)
        if wanted not in [*Ballot.Status.values, "all"]:
            raise serializers.ValidationError(
                {"status": [f"use one of {', '.join(Ballot.Status.values)} or 'all'"]}
            )
        qs = selectors.ballots_for_reviewer(
            user=request.user, slug=slug, status=None if wanted == "all" else wanted
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        panels = selectors.panel_votes_for(ballots=page)
        return paginator.get_paginated_response(
            BallotOut(page, many=True, context={"panel": panels}).data
        )


class BallotDetailView(APIView):
    @extend_schema(responses=BallotOut, summary="A ballot: rewrite, seed, flags (votes once voted)")
    def get(self, request: Request, pk: int) -> Response:
        ballot = selectors.ballot_for_reviewer(user=request.user, ballot_id=pk)
        panels = selectors.panel_votes_for(ballots=[ballot])
        return Response(BallotOut(ballot, context={"panel": panels}).data)


class VoteView(APIView):
    @extend_schema(
        request=VoteIn,
        responses={200: BallotOut, 409: OpenApiResponse(description="Already voted")},
        summary="Cast my vote (final)",
    )
    def post(self, request: Request, pk: int) -> Response:
        selectors.ballot_for_reviewer(user=request.user, ballot_id=pk)
        data = _parse(VoteIn, request.data)
        services.ballot_cast(ballot_id=pk, actor=request.user, **data)
        ballot = selectors.ballot_for_reviewer(user=request.user, ballot_id=pk)
        panels = selectors.panel_votes_for(ballots=[ballot])
        return Response(BallotOut(ballot, context={"panel": panels}).data)


class CampaignRewriteListView(APIView):
    @extend_schema(
        responses=CuratorRewriteOut(many=True),
        parameters=[OpenApiParameter("status", enum=Rewrite.Status.values)],
        summary="Rewrites of a campaign with their votes (curator)",
    )
    def get(self, request: Request, slug: str) -> Response:
        wanted = request.query_params.get("status") or None
        if wanted and wanted not in Rewrite.Status.values:
            raise serializers.ValidationError(
                {"status": [f"use one of {', '.join(Rewrite.Status.values)}"]}
            )
        _campaign, qs = selectors.rewrites_for_curator(user=request.user, slug=slug, status=wanted)
        paginator = Pagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(
            CuratorRewriteOut(page, many=True, context={"viewer_id": request.user.pk}).data
        )


class ReturnView(APIView):
    @extend_schema(
        request=ReturnIn, responses={201: dict}, summary="Return a rewrite to its author"
    )
    def post(self, request: Request, pk: int) -> Response:
        data = _parse(ReturnIn, request.data)
        annotator = None
        if data["annotator"]:
            rewrite = selectors.rewrite_for_curator(user=request.user, rewrite_id=pk)
            annotator = annotator_named(campaign=rewrite.campaign, username=data["annotator"])
        new = services.rewrite_return(
            rewrite_id=pk, actor=request.user, note=data["note"], annotator=annotator
        )
        return Response(
            {
                "returned": pk,
                "new_revision": rewrite_out(new),
                "author": new.author.get_username(),
                "feedback": new.feedback,
            },
            status=status.HTTP_201_CREATED,
        )


class CampaignStatsView(APIView):
    @extend_schema(
        responses={200: dict},
        summary="Funnel, distributions, agreement, people, coverage and progress (curator)",
    )
    def get(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
        stats = dashboard.campaign_overview(campaign)
        return Response(stats)

"""Review API: submitting for review, ballots and votes, the curator's rewrites, returning a
rewrite, campaign statistics. Each view parses input, calls one selector or service, renders."""

from typing import Any

from django.db.models import QuerySet
from django.utils.http import http_date
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from annotation.models import Rewrite, Role
from annotation.selectors import annotator_named, campaign_for_member
from core.http import Pagination, parse

from . import selectors, services
from .filters import BallotFilter, RewriteFilter
from .jobs import curator_stats
from .models import Ballot
from .serializers import (
    BallotOut,
    CampaignStatsOut,
    CuratorRewriteOut,
    HintOut,
    ReturnIn,
    ReturnOut,
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
        rewrite = services.rewrite_submit(assignment_id=pk, actor=request.user)
        return Response(
            SubmittedRewriteOut(selectors.rewrite_submitted(rewrite_id=rewrite.pk)).data
        )


class BallotPagination(Pagination):
    """The API's pages (``count``, ``next``, ``previous``, ``results``; ``page_size`` up to
    500), read by keyset: ``next`` and ``previous`` carry a ``cursor`` (the last or first
    ballot's creation time and id), so every page costs the same however deep. ``?page=N``
    still reads page N the old way (by offset) for clients that count pages."""

    cursor_query_param = "cursor"
    keyset: selectors.QueuePage | None = None  # the page read by cursor; None: by number

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        if request.query_params.get(self.page_query_param) and not request.query_params.get(
            self.cursor_query_param
        ):
            self.keyset = None
            return super().paginate_queryset(queryset, request, view)
        self.request = request
        size = self.get_page_size(request)
        token = request.query_params.get(self.cursor_query_param)
        cursor = selectors.QueueCursor.decode(token) if token else None
        self.count = queryset.order_by().count()
        self.keyset = selectors.queue_page(queryset, cursor=cursor, size=size)
        return self.keyset.rows

    def _link(self, token: str | None) -> str | None:
        if token is None or self.request is None:
            return None
        url = remove_query_param(self.request.build_absolute_uri(), self.page_query_param)
        return replace_query_param(url, self.cursor_query_param, token)

    def get_next_link(self) -> str | None:
        if self.keyset is None:
            return super().get_next_link()
        return self._link(self.keyset.next)

    def get_previous_link(self) -> str | None:
        if self.keyset is None:
            return super().get_previous_link()
        return self._link(self.keyset.previous)

    def get_paginated_response(self, data: Any) -> Response:
        if self.keyset is None:
            return super().get_paginated_response(data)
        return Response(
            {
                "count": self.count,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            *super().get_schema_operation_parameters(view),
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "The page after (or before) a ballot, from a page's "
                "'next' or 'previous' link",
                "schema": {"type": "string"},
            },
        ]


class CampaignBallotListView(ListAPIView):
    """My ballots in a campaign (pending by default), oldest first."""

    serializer_class = BallotOut
    filterset_class = BallotFilter
    pagination_class = BallotPagination

    def get_queryset(self) -> QuerySet[Ballot]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Ballot.objects.none()
        return selectors.ballots_for_reviewer(
            user=self.request.user, slug=self.kwargs["slug"], status=None
        )

    @extend_schema(summary="My ballots (pending by default), oldest first")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        assert page is not None  # the view has a pagination_class
        panels = selectors.panel_votes_for(ballots=page)
        return self.get_paginated_response(
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
        selectors.ballot_access_for_reviewer(user=request.user, ballot_id=pk)
        data = parse(VoteIn, request.data)
        services.ballot_cast(ballot_id=pk, actor=request.user, **data)
        ballot = selectors.ballot_for_reviewer(user=request.user, ballot_id=pk)
        panels = selectors.panel_votes_for(ballots=[ballot])
        return Response(BallotOut(ballot, context={"panel": panels}).data)


class BallotHintView(APIView):
    @extend_schema(
        responses={
            200: HintOut,
            403: OpenApiResponse(description="You are not a reviewer of the campaign"),
            404: OpenApiResponse(description="No such ballot of yours, or not asked yet"),
            409: OpenApiResponse(description="Hints are off, or shown only after your vote"),
        },
        summary="The model's view of the rewrite, once asked (an opinion, not a vote)",
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(
            HintOut(selectors.review_hint_for_reviewer(user=request.user, ballot_id=pk)).data
        )

    @extend_schema(
        request=None,
        responses={
            200: HintOut,
            403: OpenApiResponse(description="You are not a reviewer of the campaign"),
            404: OpenApiResponse(description="No such ballot of yours"),
            409: OpenApiResponse(description="Hints are off, or shown only after your vote"),
            429: OpenApiResponse(description="A rate limit; see Retry-After"),
            503: OpenApiResponse(
                description="The model endpoint failed or its answer was unusable ('reason')"
            ),
        },
        summary="Ask the model for its view of the rewrite (stored and shared by the panel)",
    )
    def post(self, request: Request, pk: int) -> Response:
        hint = services.review_hint_get_or_ask(ballot_id=pk, actor=request.user)
        return Response(HintOut(hint).data)


class CampaignRewriteListView(ListAPIView):
    """Rewrites of a campaign with their votes (curator), oldest first."""

    serializer_class = CuratorRewriteOut
    filterset_class = RewriteFilter

    def get_queryset(self) -> QuerySet[Rewrite]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Rewrite.objects.none()
        _campaign, qs = selectors.rewrites_for_curator(
            user=self.request.user, slug=self.kwargs["slug"]
        )
        return qs

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "viewer_id": self.request.user.pk}

    @extend_schema(summary="Rewrites of a campaign with their votes (curator)")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class ReturnView(APIView):
    @extend_schema(
        request=ReturnIn, responses={201: ReturnOut}, summary="Return a rewrite to its author"
    )
    def post(self, request: Request, pk: int) -> Response:
        # Access first, whatever the body: a stranger gets the same 404 ("No such rewrite.") for
        # a rewrite of another campaign as for a missing one.
        rewrite = selectors.rewrite_for_curator(user=request.user, rewrite_id=pk)
        data = parse(ReturnIn, request.data)
        annotator = None
        if data["annotator"]:
            annotator = annotator_named(campaign=rewrite.campaign, username=data["annotator"])
        new = services.rewrite_return(
            rewrite_id=pk, actor=request.user, note=data["note"], annotator=annotator
        )
        return Response(
            ReturnOut(
                {
                    "returned": pk,
                    "new_revision": rewrite_out(new),
                    "author": new.author.get_username(),
                    "feedback": new.feedback,
                }
            ).data,
            status=status.HTTP_201_CREATED,
        )


class CampaignStatsView(APIView):
    @extend_schema(
        responses=CampaignStatsOut,
        summary="Funnel, distributions, agreement, people, coverage and progress (curator)",
    )
    def get(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
        stats = curator_stats(campaign=campaign)
        return Response(
            CampaignStatsOut({**stats.overview, "snapshot": stats.freshness()}).data,
            headers={"Last-Modified": http_date(stats.computed_at.timestamp())},
        )

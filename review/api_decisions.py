"""Curator decisions API: close, adjudicate and reopen a rewrite. Each view parses the input,
calls one service and returns the rewrite as its curator sees it."""

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.http import REFUSALS, parse

from . import selectors, services
from .serializers_decisions import AdjudicateIn, CloseIn, DecidedRewriteOut, ReopenIn


def _decided(request: Request, rewrite: Any) -> Response:
    _campaign, rewrites = selectors.rewrites_for_curator(
        user=request.user, slug=rewrite.campaign.slug
    )
    return Response(
        DecidedRewriteOut(rewrites.get(pk=rewrite.pk), context={"viewer_id": request.user.pk}).data
    )


class RewriteCloseView(APIView):
    @extend_schema(
        request=CloseIn,
        responses={
            200: DecidedRewriteOut,
            400: OpenApiResponse(description="The note is too long ('errors' names it)"),
            **REFUSALS,
            409: OpenApiResponse(
                description="Not rejected or no consensus (the message names its status)"
            ),
        },
        summary="Close a rejected or no-consensus rewrite (curator): final, never released",
    )
    def post(self, request: Request, pk: int) -> Response:
        selectors.rewrite_for_curator(user=request.user, rewrite_id=pk)
        data = parse(CloseIn, request.data)
        rewrite = services.rewrite_close(rewrite_id=pk, actor=request.user, note=data["note"])
        return _decided(request, rewrite)


class RewriteAdjudicateView(APIView):
    @extend_schema(
        request=AdjudicateIn,
        responses={
            200: DecidedRewriteOut,
            400: OpenApiResponse(description="Decision or reason missing or invalid ('errors')"),
            403: OpenApiResponse(
                description="Not a curator of the campaign, or acceptance while the campaign "
                "does not let curators accept (curator_may_accept off)"
            ),
            404: REFUSALS[404],
            409: OpenApiResponse(
                description="Not no consensus (the message names its status), or the seed "
                "already has an accepted revision"
            ),
        },
        summary="Accept or reject a no-consensus rewrite with a reason (curator)",
    )
    def post(self, request: Request, pk: int) -> Response:
        selectors.rewrite_for_curator(user=request.user, rewrite_id=pk)
        data = parse(AdjudicateIn, request.data)
        rewrite = services.rewrite_adjudicate(
            rewrite_id=pk, actor=request.user, decision=data["decision"], reason=data["reason"]
        )
        return _decided(request, rewrite)


class RewriteReopenView(APIView):
    @extend_schema(
        request=ReopenIn,
        responses={
            200: DecidedRewriteOut,
            400: OpenApiResponse(description="The note is too long ('errors' names it)"),
            **REFUSALS,
            409: OpenApiResponse(description="Not closed (the message names its status)"),
        },
        summary="Reopen a closed rewrite: back to rejected or no consensus (curator)",
    )
    def post(self, request: Request, pk: int) -> Response:
        selectors.rewrite_for_curator(user=request.user, rewrite_id=pk)
        data = parse(ReopenIn, request.data)
        rewrite = services.rewrite_reopen(rewrite_id=pk, actor=request.user, note=data["note"])
        return _decided(request, rewrite)

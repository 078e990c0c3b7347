"""The item page's API: one seed's whole history (curators and operators)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .selectors_items import item_history
from .serializers_items import ItemOut


class ItemDetailView(APIView):
    @extend_schema(
        responses={
            200: ItemOut,
            403: OpenApiResponse(description="You are a member without the curator role"),
            404: OpenApiResponse(description="No such campaign for you, or no such seed in it"),
        },
        summary="One seed's whole history: revisions with diffs, flags, votes, notes, events",
    )
    def get(self, request: Request, slug: str, seed_id: int) -> Response:
        item = item_history(user=request.user, slug=slug, seed_id=seed_id)
        return Response(ItemOut(item).data)

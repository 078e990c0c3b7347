"""The data browser's API (curators): one list per kind of row with filters, full-text search,
sorting and keyset pagination; exports of the filtered rows as CSV or JSON lines (streamed);
bulk actions on a selection. Each view parses, calls one selector or service, renders."""

from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from annotation.selectors import annotator_named
from core.http import REFUSALS, parse
from core.openapi import AutoSchema

from . import downloads, filters, selectors, services
from .serializers import BULK_ACTIONS, PAGE_OUT, BrowseBulkIn, BrowseBulkOut, row_out

PAGE_PARAMETERS = [
    OpenApiParameter(
        "cursor",
        OpenApiTypes.STR,
        description="Where the page starts: the 'next' or 'previous' link of another page "
        "carries it (keyset pagination; valid for the sort it was made with)",
    ),
    OpenApiParameter(
        "page_size",
        {"type": "integer", "minimum": 1, "maximum": selectors.MAX_PAGE_SIZE},
        description=f"Rows per page, 1 to {selectors.MAX_PAGE_SIZE} "
        f"(default {selectors.DEFAULT_PAGE_SIZE})",
    ),
]
BAD_FILTER = OpenApiResponse(
    description="A filter value, the sort, the cursor or page_size is invalid; 'errors' names each"
)


class FilteredSchema(AutoSchema):
    """Documents the view's filters on every operation (drf-spectacular documents them on list
    views only; these pages of rows, exports and bulk actions all take them)."""

    def get_filter_backends(self) -> list[Any]:
        return list(getattr(self.view, "filter_backends", []))


class BrowseView(GenericAPIView):
    """What the views of one kind share: the filter (documented from its FilterSet) and the
    campaign's rows of that kind."""

    kind = ""
    filter_backends = [DjangoFilterBackend]
    pagination_class = None
    schema = FilteredSchema()

    def get_queryset(self) -> QuerySet[Any]:
        model = selectors.model_of(self.kind)
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return model._default_manager.none()
        campaign = selectors.browse_campaign(user=self.request.user, slug=self.kwargs["slug"])
        return selectors.rows(campaign=campaign, kind=self.kind)


def _list_view(kind: str) -> type[BrowseView]:
    def get(self: BrowseView, request: Request, slug: str, **kwargs: Any) -> Response:
        campaign = selectors.browse_campaign(user=request.user, slug=slug)
        query = filters.list_query(campaign=campaign, kind=kind, params=request.query_params)
        page, count, capped = filters.list_page(query)
        url = request.build_absolute_uri()

        def link(token: str | None) -> str | None:
            return replace_query_param(url, "cursor", token) if token else None

        return Response(
            {
                "count": count,
                "count_capped": capped,
                "next": link(page.next),
                "previous": link(page.previous),
                "results": [row_out(kind, row) for row in page.rows],
            }
        )

    get = extend_schema(
        parameters=PAGE_PARAMETERS,
        responses={200: PAGE_OUT[kind], 400: BAD_FILTER, **REFUSALS},
        summary=f"Browse the campaign's {kind} (curator): filter, search, sort, page by cursor",
    )(get)
    return type(
        f"Browse{kind.capitalize()}ListView",
        (BrowseView,),
        {
            "kind": kind,
            "filterset_class": filters.FILTERS[kind],
            "get": get,
            "__doc__": f"The campaign's {kind}, filtered, searched, sorted, one page at a time.",
        },
    )


class PassthroughRenderer(BaseRenderer):
    """Lets a client ask for the export's media type (the body is streamed by the view; an
    error is rendered as JSON text)."""

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> Any:
        return JSONRenderer().render(data)


class CSVRenderer(PassthroughRenderer):
    media_type = "text/csv"
    format = "csv"


class JSONLinesRenderer(PassthroughRenderer):
    media_type = "application/x-ndjson"
    format = "jsonl"


def _export_view(kind: str, fmt: str) -> type[BrowseView]:
    media = downloads.MEDIA_TYPES[fmt]

    def get(self: BrowseView, request: Request, slug: str, **kwargs: Any) -> StreamingHttpResponse:
        campaign = selectors.browse_campaign(user=request.user, slug=slug)
        params = request.query_params.copy()
        for name in filters.PAGE_PARAMS:
            params.pop(name, None)
        query = filters.list_query(campaign=campaign, kind=kind, params=params, export=True)
        return downloads.streamed(query, campaign=campaign, fmt=fmt)

    get = extend_schema(
        parameters=[OpenApiParameter("format", exclude=True)],
        responses={(200, media): OpenApiTypes.STR, 400: BAD_FILTER, **REFUSALS},
        summary=f"Export the filtered {kind} as {fmt.upper()} (curator; streamed, every row)",
    )(get)
    return type(
        f"Browse{kind.capitalize()}{fmt.capitalize()}ExportView",
        (BrowseView,),
        {
            "kind": kind,
            "filterset_class": filters.FILTERS[kind],
            "renderer_classes": [JSONRenderer, CSVRenderer if fmt == "csv" else JSONLinesRenderer],
            "get": get,
            "__doc__": f"Every {kind[:-1]} matching the filter, as {fmt}, in the sort order.",
        },
    )


def _bulk_view(kind: str) -> type[BrowseView]:
    actions = " or ".join(BULK_ACTIONS[kind])

    def post(self: BrowseView, request: Request, slug: str, **kwargs: Any) -> Response:
        campaign = selectors.browse_campaign(user=request.user, slug=slug)
        data = parse(BrowseBulkIn, request.data)
        ids = data["ids"]
        if data["all_matching"]:
            ids = filters.bulk_selection(campaign=campaign, kind=kind, params=request.query_params)
        else:
            # The filter does not choose the rows here, but a bad value in it is still a 400:
            # the request says something the server cannot read.
            filters.filtered(campaign=campaign, kind=kind, params=request.query_params)
        annotator = None
        if data["action"] == "reassign":
            annotator = annotator_named(campaign=campaign, username=data["annotator"].strip())
        result = services.browse_bulk(
            campaign=campaign,
            actor=request.user,
            kind=kind,
            action=data["action"],
            ids=ids,
            note=data["note"],
            annotator=annotator,
        )
        return Response(
            BrowseBulkOut(
                {"action": result.action, "changed": result.changed, "skipped": result.skipped}
            ).data
        )

    post = extend_schema(
        request=BrowseBulkIn,
        responses={
            200: BrowseBulkOut,
            400: OpenApiResponse(
                description="Invalid input, an action these rows do not have, or more rows "
                f"than {services.BULK_LIMIT}"
            ),
            409: OpenApiResponse(description="A row changed meanwhile; nothing was changed"),
            **REFUSALS,
        },
        summary=f"Bulk action on {kind} (curator): {actions}; the selection is ids or every "
        "row matching the filter (query parameters)",
    )(post)
    return type(
        f"Browse{kind.capitalize()}BulkView",
        (BrowseView,),
        {
            "kind": kind,
            "filterset_class": filters.FILTERS[kind],
            "post": post,
            "__doc__": f"A bulk action on selected {kind}; skipped rows come with the reason.",
        },
    )


LIST_VIEWS = {kind: _list_view(kind) for kind in selectors.KINDS}
EXPORT_VIEWS = {
    (kind, fmt): _export_view(kind, fmt) for kind in selectors.KINDS for fmt in ("csv", "jsonl")
}
BULK_VIEWS = {kind: _bulk_view(kind) for kind in ("seeds", "assignments", "rewrites")}

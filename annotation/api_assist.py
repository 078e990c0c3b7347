"""Model-assisted curation API: an annotator's draft suggestions.

``POST /api/v1/assignments/{id}/suggestion/`` asks the campaign's model for a suggested rewrite
and tags (201 with the stored suggestion); with ``?stream=1`` (or ``Accept:
application/x-ndjson``) the answer streams as JSON lines (200). ``GET`` reads the latest one
(204 when there is none yet). Each view parses input, calls one selector or service, renders
output."""

import json
from collections.abc import Generator, Iterator
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.http import REFUSALS, status_for

from . import selectors_assist, services
from .serializers_assist import DraftSuggestionEventOut, DraftSuggestionOut, ModelUnavailableOut

NDJSON = "application/x-ndjson"
STREAM_VALUES = {"1", "true", "yes"}


class JSONLinesRenderer(BaseRenderer):
    """Lets a client ask for the stream by its media type (the body is streamed by the view;
    an error before streaming is rendered as one JSON object)."""

    media_type = NDJSON
    format = "ndjson"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> Any:
        return JSONRenderer().render(data)


def _event(event: services.DraftEvent) -> dict[str, Any]:
    if event.error is not None:
        error = event.error
        body: dict[str, Any] = {
            "detail": error.message,
            "code": error.code,
            "reason": str(error.details.get("reason", "")),
            "status": status_for(error),
        }
        if error.details.get("retry_after") is not None:
            body["retry_after"] = error.details["retry_after"]
        return {"error": body}
    if event.suggestion is not None:
        return {"suggestion": DraftSuggestionOut(event.suggestion).data}
    return {"delta": event.delta}


class _JSONLines:
    """The events as JSON lines; closing it (the response does, also when the client left
    early) closes the stream."""

    def __init__(self, events: services.DraftStream) -> None:
        self._events = events
        self._lines: Generator[bytes, None, None] | None = None

    def __iter__(self) -> Iterator[bytes]:
        if self._lines is None:
            self._lines = self._render()
        return self._lines

    def _render(self) -> Generator[bytes, None, None]:
        for event in self._events:
            yield json.dumps(_event(event), ensure_ascii=False).encode() + b"\n"

    def close(self) -> None:
        if self._lines is not None:
            self._lines.close()
        self._events.close()


def _wants_stream(request: Request) -> bool:
    asked = str(request.query_params.get("stream", "")).strip().lower()
    return asked in STREAM_VALUES or NDJSON in request.headers.get("Accept", "")


ERRORS: dict[Any, OpenApiResponse] = {
    **REFUSALS,
    409: OpenApiResponse(
        description="The assignment is not active, or model assistance or draft suggestions "
        "are off in the campaign's settings"
    ),
    429: OpenApiResponse(
        description="The campaign's limit of model calls (per minute or at once) or the "
        "endpoint's own rate limit; Retry-After says when to try again"
    ),
    (503, "application/json"): OpenApiResponse(
        response=ModelUnavailableOut,
        description="The model endpoint is not configured, unreachable, timed out, refused the "
        "key or gave an unusable answer (reason); the failed call is recorded",
    ),
}
NO_FORMAT = OpenApiParameter("format", exclude=True)


class DraftSuggestionView(APIView):
    def get_renderers(self) -> list[BaseRenderer]:
        # Asking may stream (JSON lines); everything else answers JSON.
        if self.request is not None and self.request.method == "POST":
            return [JSONRenderer(), JSONLinesRenderer()]
        return [JSONRenderer()]

    @extend_schema(
        responses={
            200: DraftSuggestionOut,
            204: OpenApiResponse(description="No suggestion was asked for yet"),
            **REFUSALS,
        },
        summary="The latest model suggestion for my assignment",
    )
    def get(self, request: Request, pk: int) -> Response:
        assignment = selectors_assist.assignment_for_suggestion(user=request.user, assignment_id=pk)
        suggestion = selectors_assist.draft_suggestion_latest(assignment)
        if suggestion is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(DraftSuggestionOut(suggestion).data)

    @extend_schema(
        request=None,
        parameters=[
            NO_FORMAT,
            OpenApiParameter(
                "stream",
                OpenApiTypes.BOOL,
                description="Stream the answer as JSON lines (application/x-ndjson): "
                '{"delta": text} pieces of the question as it arrives, then '
                '{"suggestion": ...} or {"error": {"detail", "code", "reason", "status"}}',
            ),
        ],
        responses={
            (201, "application/json"): DraftSuggestionOut,
            (200, NDJSON): DraftSuggestionEventOut,
            **ERRORS,
        },
        summary="Ask the campaign's model to suggest a rewrite and tags for my seed",
    )
    def post(self, request: Request, pk: int) -> Response | StreamingHttpResponse:
        # Access first: a stranger gets the same 404 whatever the campaign's settings are.
        selectors_assist.assignment_for_suggestion(user=request.user, assignment_id=pk)
        if not _wants_stream(request):
            suggestion = services.draft_suggest(assignment_id=pk, actor=request.user)
            return Response(DraftSuggestionOut(suggestion).data, status=status.HTTP_201_CREATED)
        events = services.draft_suggest(assignment_id=pk, actor=request.user, stream=True)
        response = StreamingHttpResponse(_JSONLines(events), content_type=NDJSON)
        response["Cache-Control"] = "private, no-store"
        response["X-Accel-Buffering"] = "no"  # nginx: pass each line on as it comes
        return response

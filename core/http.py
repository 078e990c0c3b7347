"""The one mapping from domain errors to responses, and what every API view shares.

``STATUS_OF`` is the only table of statuses: the API's exception handler renders a domain error
as JSON (``{"detail", "code", ...details}``) and ``DomainErrorMiddleware`` renders it for the
pages as an error page in the site's layout, with the same status and the same message."""

from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import (
    Conflict,
    DomainError,
    Gone,
    InvalidTransition,
    NotAllowed,
    NotFound,
    StaleVersion,
    ValidationFailed,
)

STATUS_OF: dict[type[DomainError], int] = {
    NotFound: status.HTTP_404_NOT_FOUND,
    NotAllowed: status.HTTP_403_FORBIDDEN,
    InvalidTransition: status.HTTP_409_CONFLICT,
    StaleVersion: status.HTTP_409_CONFLICT,
    Conflict: status.HTTP_409_CONFLICT,
    ValidationFailed: status.HTTP_400_BAD_REQUEST,
    Gone: status.HTTP_410_GONE,
}
TITLE_OF: dict[int, str] = {
    400: "That cannot be done as asked",
    403: "Your role does not allow this",
    404: "Not found",
    409: "That cannot be done now",
    410: "This link has expired",
}


def status_for(exc: DomainError) -> int:
    """The HTTP status of a domain error (400 for a subclass the table does not name)."""
    return next(
        (code for cls, code in STATUS_OF.items() if isinstance(exc, cls)),
        status.HTTP_400_BAD_REQUEST,
    )


def error_problems(exc: DomainError) -> list[str]:
    """The field-by-field problems of a ValidationFailed, as sentences."""
    errors = exc.details.get("errors")
    if isinstance(errors, dict):
        return [f"{field}: {message}" for field, msgs in errors.items() for message in msgs]
    if isinstance(errors, list):
        return [str(e) for e in errors]
    return []


def error_message(exc: DomainError) -> str:
    """The message and every problem, in one line, for a flash message."""
    return " ".join([exc.message, *error_problems(exc)])


# How the access rule's refusals read in the OpenAPI schema of every endpoint.
NOT_FOUND_RESPONSE = OpenApiResponse(
    description="No such object, or it belongs to a campaign you are not a member of"
)
NOT_ALLOWED_RESPONSE = OpenApiResponse(
    description="You are a member of the campaign without the role this needs"
)
REFUSALS = {403: NOT_ALLOWED_RESPONSE, 404: NOT_FOUND_RESPONSE}


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def parse(serializer_class: type[serializers.Serializer[Any]], data: Any) -> dict[str, Any]:
    """Validate request data with an input serializer; a DRF ValidationError (400, each field
    named) otherwise."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Domain errors become ``{"detail", "code", ...details}`` with the status of ``STATUS_OF``;
    DRF's own errors keep their status and gain a ``code``; validation errors name each field."""
    if isinstance(exc, DomainError):
        return Response(
            {"detail": exc.message, "code": exc.code, **exc.details}, status=status_for(exc)
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "detail": "The request is invalid; see 'errors' for each field.",
            "code": "invalid_request",
            "errors": response.data,
        }
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data["code"] = getattr(response.data["detail"], "code", "error")
    return response


def error_page(
    request: HttpRequest, *, status_code: int, message: str, problems: list[str]
) -> HttpResponse:
    return render(
        request,
        "error.html",
        {
            "status_code": status_code,
            "title": TITLE_OF.get(status_code, "Something went wrong"),
            "message": message,
            "problems": problems,
        },
        status=status_code,
    )


class DomainErrorMiddleware:
    """A domain error that escapes a page view becomes the error page with its status."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if isinstance(exc, DomainError):
            return error_page(
                request,
                status_code=status_for(exc),
                message=exc.message,
                problems=error_problems(exc),
            )
        return None


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: Django's own 404s (unknown URLs) in the same layout."""
    return error_page(request, status_code=404, message="There is no such page.", problems=[])


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler403, e.g. a failed CSRF check is not this: that one has its own view."""
    message = (
        str(exception)
        if isinstance(exception, PermissionDenied) and str(exception)
        else ("You are not allowed to do this.")
    )
    return error_page(request, status_code=403, message=message, problems=[])

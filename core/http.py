"""The one mapping from domain errors to responses, and what every API view shares.

``STATUS_OF`` is the only table of statuses: the API's exception handler renders a domain error
as JSON (``{"detail", "code", ...details}``) and ``DomainErrorMiddleware`` renders it for the
pages as an error page in the site's layout, with the same status and the same message."""

import re
import sys
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.exceptions import ErrorDetail
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
    Throttled,
    Unavailable,
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
    Throttled: status.HTTP_429_TOO_MANY_REQUESTS,
    Unavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
}
TITLE_OF: dict[int, str] = {
    400: "That cannot be done as asked",
    403: "Your role does not allow this",
    404: "Not found",
    409: "That cannot be done now",
    410: "This link has expired",
    429: "Too many requests: try again shortly",
    503: "A service this needs did not answer",
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
    """Pages of 50; ``page_size`` asks for more, capped at 500. A ``page_size`` that is not a
    whole number of at least 1 is a 400 naming it (DRF would quietly use the default); a page
    past the end or not a number is DRF's 404 "Invalid page."."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    last_page_strings = ()  # the schema says a page is a number; "last" is not one

    def get_page_size(self, request: Any) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None or raw == "":
            return self.page_size
        if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
            raise exceptions.ValidationError(
                {
                    self.page_size_query_param: [
                        "a whole number of at least 1 (more than 500 count as 500)"
                    ]
                }
            )
        return min(int(raw), self.max_page_size)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
            elif parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = (
                    f"Results per page (default {self.page_size}; more than "
                    f"{self.max_page_size} count as {self.max_page_size})"
                )
        return parameters


# What a JSON value must be for each kind of field: DRF would read 5 as "5" for a text field,
# "5" and 5.0 as 5 for a number, 0 and "yes" as false for a flag. JSON says what it means, so a
# JSON body is taken as typed (a form's values are all text and keep DRF's reading).
_JSON_TYPES: list[tuple[type[serializers.Field[Any, Any, Any, Any]], tuple[type, ...], str]] = [
    (serializers.BooleanField, (bool,), "true or false"),
    (serializers.IntegerField, (int,), "a whole number"),
    (serializers.FloatField, (int, float), "a number"),
    (serializers.MultipleChoiceField, (list,), "a list"),
    (serializers.CharField, (str,), "a string"),
    (serializers.ChoiceField, (str,), "a string"),
    (serializers.ListField, (list,), "a list"),
]


def _json_type_problem(field: Any, value: Any) -> str | None:
    if value is None:
        return None  # null: the field's own allow_null decides
    for kind, types, wanted in _JSON_TYPES:
        if isinstance(field, kind):
            if isinstance(value, bool) and bool not in types:
                return f"must be {wanted}"
            return None if isinstance(value, types) else f"must be {wanted}"
    return None


def json_type_errors(serializer: serializers.Serializer[Any], data: Any) -> dict[str, Any]:
    """The fields of a JSON object whose value has the wrong JSON type (a list's items too)."""
    if not isinstance(data, dict):
        return {}
    errors: dict[str, Any] = {}
    for name, field in serializer.fields.items():
        if field.read_only or name not in data:
            continue
        value = data[name]
        problem = _json_type_problem(field, value)
        if problem:
            errors[name] = [problem]
        elif isinstance(field, serializers.ListField) and isinstance(value, list):
            items = {
                str(i): [p]
                for i, item in enumerate(value)
                if (p := _json_type_problem(field.child, item))
            }
            if items:
                errors[name] = items
    return errors


def parse(serializer_class: type[serializers.Serializer[Any]], data: Any) -> dict[str, Any]:
    """Validate request data with an input serializer; a DRF ValidationError (400, each field
    named) otherwise. A JSON body must be an object, each value of its field's JSON type."""
    serializer = serializer_class(data=data)
    if not hasattr(data, "getlist"):  # JSON (a form's QueryDict has getlist)
        if not isinstance(data, dict):
            raise exceptions.ValidationError(
                {"non_field_errors": ["the body must be a JSON object"]}
            )
        errors = json_type_errors(serializer, data)
        if errors:
            raise exceptions.ValidationError(errors)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


_SURROGATE = re.compile("[\ud800-\udfff]")


def encodable(value: Any) -> Any:
    """``value`` with every lone surrogate (which no encoding can write) replaced by U+FFFD, in
    keys and strings at any depth; ErrorDetail keeps its code. An error message that quotes its
    input (DRF's '"x" is not a valid choice.') can then always be rendered."""
    if isinstance(value, str):
        if not _SURROGATE.search(value):
            return value
        cleaned = _SURROGATE.sub("\ufffd", value)
        if isinstance(value, ErrorDetail):
            return ErrorDetail(cleaned, code=value.code)
        return cleaned
    if isinstance(value, dict):
        return {encodable(k): encodable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encodable(v) for v in value]
    return value


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Domain errors become ``{"detail", "code", ...details}`` with the status of ``STATUS_OF``;
    DRF's own errors keep their status and gain a ``code``; validation errors name each field.
    Whatever the input was, the body is encodable (see ``encodable``)."""
    if isinstance(exc, DomainError):
        domain = Response(
            encodable({"detail": exc.message, "code": exc.code, **exc.details}),
            status=status_for(exc),
        )
        retry_after = exc.details.get("retry_after")
        if isinstance(retry_after, int | float) and retry_after > 0:
            domain["Retry-After"] = str(max(1, round(retry_after)))
        return domain
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
    response.data = encodable(response.data)
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
    """handler404: Django's own 404s (unknown URLs) in the same layout; under /api/ the API's
    JSON error (an id that is not a number, say, matches no URL)."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return error_page(request, status_code=404, message="There is no such page.", problems=[])


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler403, e.g. a failed CSRF check is not this: that one has its own view."""
    message = (
        str(exception)
        if isinstance(exception, PermissionDenied) and str(exception)
        else ("You are not allowed to do this.")
    )
    return error_page(request, status_code=403, message=message, problems=[])


# The database went away (a PostgreSQL restart, a failover): a 503 the client may retry, not a
# 500 that looks like a bug. Django calls handler500 for every exception no view or middleware
# handled, with the exception still in sys.exc_info().
DATABASE_UNAVAILABLE = "The database is unavailable for a moment; try again in a few seconds."
RETRY_AFTER_SECONDS = 5


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: JSON under /api/, a plain page elsewhere (no template, no database: the
    error may be the database itself); 503 with Retry-After when the database is down."""
    exc = sys.exc_info()[1]
    unavailable = isinstance(exc, OperationalError | InterfaceError)
    status_code = 503 if unavailable else 500
    message = DATABASE_UNAVAILABLE if unavailable else "Something went wrong on our side."
    response: HttpResponse
    if request.path.startswith("/api/"):
        code = "unavailable" if unavailable else "server_error"
        response = JsonResponse({"detail": message, "code": code}, status=status_code)
    else:
        response = HttpResponse(
            f"<!doctype html><title>{status_code}</title><h1>{message}</h1>",
            status=status_code,
        )
    if unavailable:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response

"""What every API view shares: pagination and turning domain errors into JSON people can act on."""

from typing import Any

from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import (
    Conflict,
    DomainError,
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
}


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Domain errors become ``{"detail", "code", ...details}`` with the matching status; DRF's
    own errors keep their status and gain a ``code``; validation errors name each field."""
    if isinstance(exc, DomainError):
        code = next(
            (s for cls, s in STATUS_OF.items() if isinstance(exc, cls)),
            status.HTTP_400_BAD_REQUEST,
        )
        return Response({"detail": exc.message, "code": exc.code, **exc.details}, status=code)
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

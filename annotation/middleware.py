"""Domain errors raised in server-rendered pages become Django's 404 and 403 responses (the API
maps them itself, in ``api_common.exception_handler``)."""

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from .errors import NotAllowed, NotFound


class DomainErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> None:
        if isinstance(exc, NotFound):
            raise Http404(exc.message) from exc
        if isinstance(exc, NotAllowed):
            raise PermissionDenied(exc.message) from exc

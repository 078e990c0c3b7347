"""``Cache-Control: private, no-store`` on every response to an authenticated request.

Pages, API JSON, CSV/JSONL exports and release downloads carry one person's view of a campaign;
no shared cache (a proxy, a CDN) and no browser history may keep them. A response that already
says how it may be cached (a view that set ``Cache-Control`` itself) is left alone, and so are
static files (served by the web server or WhiteNoise before Django's views, and the same for
everyone).
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase


class PrivateCacheMiddleware:
    """Place after ``AuthenticationMiddleware``. DRF authenticates a token inside the view and
    sets the user on the underlying request, so API calls count as authenticated here too; a
    request that sent an ``Authorization`` header is treated the same even if it failed."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.static_prefix = "/" + settings.STATIC_URL.lstrip("/") if settings.STATIC_URL else None

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if response.has_header("Cache-Control"):
            return response
        if self.static_prefix and request.path.startswith(self.static_prefix):
            return response
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated) or "HTTP_AUTHORIZATION" in request.META:
            response["Cache-Control"] = "private, no-store"
        return response

"""The item page: one seed with every revision, flag, vote, note and event."""

from django.http import HttpRequest, HttpResponse

from core.errors import NotFound


def item_page(request: HttpRequest, slug: str, seed_id: int) -> HttpResponse:
    raise NotFound("The item page is not built yet.")

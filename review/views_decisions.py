"""Curator decisions on a decided rewrite: close, adjudicate, reopen (pages)."""

from django.http import HttpRequest, HttpResponse

from core.errors import NotFound


def rewrite_close_page(request: HttpRequest, pk: int) -> HttpResponse:
    raise NotFound("Not built yet.")


def rewrite_adjudicate_page(request: HttpRequest, pk: int) -> HttpResponse:
    raise NotFound("Not built yet.")


def rewrite_reopen_page(request: HttpRequest, pk: int) -> HttpResponse:
    raise NotFound("Not built yet.")

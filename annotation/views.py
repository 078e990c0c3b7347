"""Server-rendered pages. The annotator, reviewer and curator UIs build on this."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from . import selectors


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """A member's campaigns with their roles."""
    return render(
        request,
        "annotation/home.html",
        {"memberships": selectors.campaigns_for_user(user=request.user)},
    )

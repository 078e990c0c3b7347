"""Curator decisions on a rewrite the panel could not settle, as pages: close, adjudicate,
reopen. GET shows the rewrite (its text, its votes and their tally) with the form; POST (CSRF)
calls the service and goes back to a safe ``next`` (the dashboard by default) with a message.
A refused decision shows the same page again with the service's message and its status."""

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from annotation.models import Rewrite
from core.errors import DomainError
from core.http import error_problems, status_for

from . import selectors, services
from .models import Ballot, Decision


@dataclass(frozen=True)
class Action:
    name: str  # "close", "adjudicate", "reopen"
    title: str
    allowed_from: frozenset[str]
    refused: str  # why the action does not apply, with {state}


CLOSE = Action(
    "close",
    "Close this rewrite",
    services.CLOSABLE,
    "Only a rejected or no-consensus rewrite can be closed; this one is {state}.",
)
ADJUDICATE = Action(
    "adjudicate",
    "Adjudicate this rewrite",
    frozenset({Rewrite.Status.NO_CONSENSUS}),
    "Only a rewrite whose panel reached no consensus can be adjudicated; this one is {state}.",
)
REOPEN = Action(
    "reopen",
    "Reopen this rewrite",
    frozenset({Rewrite.Status.CLOSED}),
    "Only a closed rewrite can be reopened; this one is {state}.",
)


def _next_url(request: HttpRequest, rewrite: Rewrite) -> str:
    """Where to go after the decision: ``next`` when it stays on this site, else the
    dashboard's revision loop."""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return reverse("dashboard-page", kwargs={"slug": rewrite.campaign.slug}) + "#revision-loop"


def _run(action: Action, request: HttpRequest, pk: int) -> tuple[Rewrite, str]:
    """Call the action's service with the posted form; returns the rewrite and the message."""
    post = request.POST
    if action is CLOSE:
        rewrite = services.rewrite_close(
            rewrite_id=pk, actor=request.user, note=post.get("note", "")
        )
        return rewrite, f"Closed revision {rewrite.revision} of seed {rewrite.seed.external_id}."
    if action is ADJUDICATE:
        rewrite = services.rewrite_adjudicate(
            rewrite_id=pk,
            actor=request.user,
            decision=post.get("decision", ""),
            reason=post.get("reason", ""),
        )
        return (
            rewrite,
            f"Revision {rewrite.revision} of seed {rewrite.seed.external_id} is now "
            f"{rewrite.get_status_display().lower()} (your decision).",
        )
    rewrite = services.rewrite_reopen(rewrite_id=pk, actor=request.user, note=post.get("note", ""))
    return (
        rewrite,
        f"Reopened revision {rewrite.revision} of seed {rewrite.seed.external_id}: it is "
        f"{rewrite.get_status_display().lower()} again, waiting for your decision.",
    )


def _page(action: Action, request: HttpRequest, pk: int) -> HttpResponse:
    # Access first (NotFound / NotAllowed become the error page), then the full rewrite.
    found = selectors.rewrite_for_curator(user=request.user, rewrite_id=pk)
    error: DomainError | None = None
    if request.method == "POST":
        try:
            _rewrite, message = _run(action, request, pk)
        except DomainError as exc:
            error = exc
        else:
            messages.success(request, message)
            return redirect(_next_url(request, found))
    _campaign, rewrites = selectors.rewrites_for_curator(
        user=request.user, slug=found.campaign.slug
    )
    rewrite = rewrites.get(pk=pk)
    campaign = rewrite.campaign
    # Votes only once the panel has decided: a curator may sit on a panel still voting, and
    # nobody sees a panel's votes before casting their own.
    decided = rewrite.status not in (Rewrite.Status.DRAFT, Rewrite.Status.SUBMITTED)
    cast = [b for b in rewrite.ballots.all() if b.status == Ballot.Status.CAST and decided]
    applies = rewrite.status in action.allowed_from
    context: dict[str, Any] = {
        "action": action.name,
        "title": action.title,
        "campaign": campaign,
        "rewrite": rewrite,
        "votes": cast,
        "panel_decided": decided,
        "tally": {
            "valid": sum(1 for b in cast if b.decision == Decision.VALID),
            "invalid": sum(1 for b in cast if b.decision == Decision.INVALID),
            "panel_size": rewrite.panel_size or campaign.panel_size,
        },
        "applies": applies,
        "refused": ""
        if applies
        else action.refused.format(state=rewrite.get_status_display().lower()),
        "may_accept": campaign.curator_may_accept,
        "next": _next_url(request, rewrite),
        "form": {key: request.POST.get(key, "") for key in ("note", "decision", "reason")},
        "error": error.message if error else "",
        "problems": error_problems(error) if error else [],
        "field_errors": (error.details.get("errors") or {}) if error else {},
    }
    return render(
        request,
        "review/decide.html",
        context,
        status=status_for(error) if error else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def rewrite_close_page(request: HttpRequest, pk: int) -> HttpResponse:
    """Close a rejected or no-consensus rewrite (curators): final, out of the to-decide list,
    never released; an optional note."""
    return _page(CLOSE, request, pk)


@login_required
@require_http_methods(["GET", "POST"])
def rewrite_adjudicate_page(request: HttpRequest, pk: int) -> HttpResponse:
    """Settle a no-consensus rewrite as accepted or rejected with a required reason (curators;
    accepting only where the campaign lets curators accept)."""
    return _page(ADJUDICATE, request, pk)


@login_required
@require_http_methods(["GET", "POST"])
def rewrite_reopen_page(request: HttpRequest, pk: int) -> HttpResponse:
    """Reopen a closed rewrite: back to rejected or no consensus, waiting for a decision."""
    return _page(REOPEN, request, pk)

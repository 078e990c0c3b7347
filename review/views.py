"""Server-rendered pages of the review app: the reviewer's ballot queue and vote page, and the
curator's dashboard with its revision loop. Views read through selectors and write through
services, like the API; forms post with CSRF and redirect after success."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from annotation.models import Role
from annotation.rendering import render_markdown, render_seed
from annotation.selectors import (
    annotator_named,
    assignment_for_curator,
    campaign_for_member,
    rewrite_language_names,
)
from annotation.services import assignment_reassign
from core.charts import chart_table_csv
from core.errors import DomainError, ValidationFailed
from core.http import error_message, status_for
from core.labels import label
from quality.selectors import similarity_flags

from . import dashboard, selectors, services
from .jobs import curator_stats
from .models import Ballot, Decision, VoteReason
from .serializers import (
    HintOut,
    VoteIn,
    contamination_out,
    flags_out,
    quality_check_out,
    revision_context,
    rewrite_out,
)
from .services.hints import HINT_LABEL

HINT_ITEMS = (("clear", "Clear"), ("ethical", "No ethical issue"), ("solvable", "Solvable"))


@login_required
def ballots_page(request: HttpRequest, slug: str) -> HttpResponse:
    """The reviewer's pending ballots, oldest first, a page at a time (``?cursor=`` from the
    page's links), and the ones they cast most recently."""
    campaign = campaign_for_member(user=request.user, slug=slug, role=Role.REVIEWER)
    token = request.GET.get("cursor", "")
    try:
        cursor = selectors.QueueCursor.decode(token) if token else None
    except selectors.BadCursor:
        cursor = None  # a stale or mangled link: the first page
    page = selectors.pending_ballots_page(user=request.user, campaign=campaign, cursor=cursor)
    recent = selectors.ballots_cast_recently(user=request.user, campaign=campaign)
    return render(
        request,
        "review/ballots.html",
        {
            "campaign": campaign,
            "pending": [
                (
                    b,
                    {
                        "revision": b.rewrite.revision,
                        "subcategory": b.rewrite.subcategory.name if b.rewrite.subcategory else "",
                        "difficulty": b.rewrite.difficulty,
                        "programming_languages": rewrite_language_names(b.rewrite),
                        "question_tokens": b.rewrite.question_tokens,
                    },
                    vars(b)["contaminated"],
                    similarity_flags(b.rewrite)[:1],
                )
                for b in page.rows
            ],
            "page": page,
            "recent": recent,
            "counts": selectors.reviewer_counts(user=request.user, campaign=campaign),
        },
    )


@login_required
def ballot_next_page(request: HttpRequest, slug: str) -> HttpResponse:
    """Open the oldest pending ballot, or go back to the queue when none is left."""
    campaign = campaign_for_member(user=request.user, slug=slug, role=Role.REVIEWER)
    ballot_id = selectors.next_pending_ballot_id(user=request.user, campaign=campaign)
    if ballot_id is None:
        messages.info(request, "No ballot is waiting for your vote. Thank you.")
        return redirect("ballots-page", slug=campaign.slug)
    return redirect("vote-page", pk=ballot_id)


@login_required
@require_http_methods(["GET", "POST"])
def vote_page(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the rewrite beside its seed, its tags, flags and the vote form; once voted, the tally
    so far, every vote and the author. POST: cast the vote (final), then show the tally."""
    ballot = selectors.ballot_for_reviewer(user=request.user, ballot_id=pk)
    errors: dict[str, list[str]] = {}
    problem = ""
    status = 200
    form = {"decision": "", "reasons": [], "comment": ""}
    if request.method == "POST":
        form = {
            "decision": request.POST.get("decision", ""),
            "reasons": request.POST.getlist("reasons"),
            "comment": request.POST.get("comment", ""),
        }
        parsed = VoteIn(data=form)
        try:
            if not parsed.is_valid():
                raise ValidationFailed(
                    "The vote is incomplete.",
                    details={"errors": {k: [str(m) for m in v] for k, v in parsed.errors.items()}},
                )
            result = services.ballot_cast(ballot_id=pk, actor=request.user, **parsed.validated_data)
        except DomainError as exc:
            status = status_for(exc)
            if status in (403, 404):
                raise  # not theirs (any more): the error page
            # The form stays, with the same status the API gives (400 incomplete, 409 voted).
            errors = exc.details.get("errors", {}) if isinstance(exc, ValidationFailed) else {}
            problem = exc.message
        else:
            decided = (
                f" The panel decided: {label(result.outcome, 'rewrite_status').lower()}."
                if result.outcome
                else ""
            )
            vote = label(result.ballot.decision, Decision).lower()
            messages.success(request, f"Your vote is recorded: {vote}.{decided}")
            return redirect("vote-page", pk=pk)
        ballot = selectors.ballot_for_reviewer(user=request.user, ballot_id=pk)
    context = _vote_context(request, ballot)
    context.update(errors=errors, error_message=problem, form=form)
    return render(request, "review/vote.html", context, status=status)


def _vote_context(request: HttpRequest, ballot: Ballot) -> dict[str, Any]:
    rewrite = ballot.rewrite
    voted = ballot.status == Ballot.Status.CAST
    panel = selectors.panel_votes_for(ballots=[ballot]).get(ballot.pk, []) if voted else []
    return {
        "ballot": ballot,
        "campaign": ballot.campaign,
        "rewrite": rewrite,
        "tags": rewrite_out(rewrite),
        "seed": rewrite.seed,
        "rewrite_html": render_markdown(rewrite.text),
        "seed_html": render_seed(rewrite.seed.body),
        "answer_html": render_seed(rewrite.seed.answer),
        "guidelines_html": render_markdown(ballot.campaign.guidelines),
        "contamination": contamination_out(rewrite),
        "flags": flags_out(rewrite),
        **quality_check_out(rewrite),
        # Revision 2 or later: what changed since the revision before and the curator's note
        # when it was returned; never that revision's voters or their votes.
        "revision_context": revision_context(rewrite),
        "voted": voted,
        # Blind review: the tally, the other votes and the author only once this reviewer voted.
        "panel": panel,
        "tally": {
            "valid": sum(1 for b in panel if b.decision == Decision.VALID),
            "invalid": sum(1 for b in panel if b.decision == Decision.INVALID),
            # Once decided, the ballots not cast were closed and will never be.
            "pending": (rewrite.panel_size or ballot.campaign.panel_size) - len(panel)
            if rewrite.status == rewrite.Status.SUBMITTED
            else 0,
        }
        if voted
        else None,
        "author": rewrite.author.get_username() if voted else None,
        "reasons": VoteReason.choices,
        "next_id": selectors.next_pending_ballot_id(
            user=request.user, campaign=ballot.campaign, exclude=ballot.pk
        ),
        # Only the pending ones (their partial index), not every ballot the reviewer ever had.
        "pending_count": selectors.pending_ballots(user=request.user, campaign=ballot.campaign),
        "hint": _hint_context(ballot),
    }


def _hint_context(ballot: Ballot) -> dict[str, Any]:
    """The model's view panel: shown when the campaign offers hints; its content only once the
    reviewer may read it (after their vote, unless the campaign shows it before) and it was
    asked; otherwise the page's script asks for it (POST ``url``)."""
    state = selectors.hint_state(ballot)
    hint = HintOut(state.hint).data if state.hint is not None else None
    return {
        "available": state.available,
        "visible": state.visible,
        "label": HINT_LABEL,
        "url": reverse("ballot-hint", kwargs={"pk": ballot.pk}),
        "hint": hint,
        "items": [
            {"key": key, "label": text, **hint[key]} if hint else {"key": key, "label": text}
            for key, text in HINT_ITEMS
        ],
    }


@login_required
def dashboard_page(request: HttpRequest, slug: str) -> HttpResponse:
    """The curator's view of the whole campaign: funnel, coverage, people, agreement, the
    revision loop and charts (each with its numbers)."""
    campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
    served = curator_stats(campaign=campaign)
    stats = served.overview
    agreement = stats["agreement"]
    loop = dashboard.revision_loop(campaign, split_ids=agreement["split_rewrites"])
    # Each row with the annotators it may go to (all but its author, or its annotator).
    options = dashboard.annotator_options(loop.annotators)
    decided_rows = [(r, options(r.author_id)) for r in loop.decided]
    awaiting_rows = [(r, options(r.assignment.annotator_id)) for r in loop.awaiting_author]
    reviewers = {r["username"]: r for r in stats["people"]["reviewers"]}
    for name, row in agreement["reviewer_agreement_with_outcome"].items():
        # A reviewer who has left the campaign still appears with the votes they cast.
        reviewers.setdefault(name, {"username": name, "pending": 0, "cast": 0, "closed": 0})
        reviewers[name]["with_outcome"] = row
    charts = {
        chart_id: {
            **chart,
            "id": chart_id,
            "svg": mark_safe(chart["svg"]),  # noqa: S308 - every label is escaped by core.charts
        }
        for chart_id, chart in dashboard.dashboard_charts(stats).items()
    }
    return render(
        request,
        "review/dashboard.html",
        {
            "campaign": campaign,
            "funnel": dashboard.funnel_rows(stats["funnel"]),
            "stats": stats,
            "coverage": stats["coverage"],
            "agreement": agreement,
            "kappa_matrix": dashboard.kappa_matrix(agreement),
            "reviewers": sorted(reviewers.values(), key=lambda r: r["username"]),
            "progress": stats["progress"],
            "charts": charts,
            "loop": loop,
            "decided_rows": decided_rows,
            "awaiting_rows": awaiting_rows,
            "split_count": len(agreement["split_rewrites"]),
            "snapshot": served.freshness(),
        },
    )


@login_required
def dashboard_chart_csv(request: HttpRequest, slug: str, chart: str) -> HttpResponse:
    """The numbers behind one dashboard chart, as CSV."""
    campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
    charts = dashboard.dashboard_charts(curator_stats(campaign=campaign).overview)
    if chart not in charts:
        return HttpResponse(
            f"No chart {chart!r}; use one of {', '.join(charts)}.",
            status=404,
            content_type="text/plain; charset=utf-8",
        )
    spec = charts[chart]
    response = HttpResponse(
        chart_table_csv(spec["data"], series=spec["series"]),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{campaign.slug}-{chart}.csv"'
    return response


@login_required
@require_POST
def rewrite_return_page(request: HttpRequest, pk: int) -> HttpResponse:
    """Return a rejected or no-consensus rewrite to its author (or, when an annotator is chosen,
    to that annotator) with the curator's note; back to the dashboard's revision loop."""
    rewrite = selectors.rewrite_for_curator(user=request.user, rewrite_id=pk)
    target = request.POST.get("annotator", "")  # empty: back to the author
    try:
        annotator = annotator_named(campaign=rewrite.campaign, username=target) if target else None
        new = services.rewrite_return(
            rewrite_id=pk,
            actor=request.user,
            note=request.POST.get("note", ""),
            annotator=annotator,
        )
    except DomainError as exc:
        messages.error(request, error_message(exc))
    else:
        messages.success(
            request,
            f"Returned to {new.author.get_username()} as revision {new.revision}.",
        )
    return _back(request, rewrite.campaign)


@login_required
@require_POST
def assignment_reassign_page(request: HttpRequest, pk: int) -> HttpResponse:
    """Hand an active assignment, with its draft, to another annotator."""
    assignment = assignment_for_curator(user=request.user, assignment_id=pk)
    try:
        annotator = annotator_named(
            campaign=assignment.campaign, username=request.POST.get("annotator", "")
        )
        assignment_reassign(
            assignment_id=pk,
            actor=request.user,
            annotator=annotator,
            note=request.POST.get("note", ""),
        )
    except DomainError as exc:
        messages.error(request, error_message(exc))
    else:
        messages.success(request, f"Reassigned to {annotator.get_username()}.")
    return _back(request, assignment.campaign)


def _back(request: HttpRequest, campaign: Any) -> HttpResponse:
    """Back to ``next`` when it stays on this site (the item page posts it), else to the
    dashboard's revision loop."""
    wanted = request.POST.get("next", "")
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(wanted)
    return redirect(reverse("dashboard-page", kwargs={"slug": campaign.slug}) + "#revision-loop")

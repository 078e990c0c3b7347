"""Server-rendered pages: a member's campaigns, the annotator's queue and the annotate page.
Each view reads through selectors and writes through services, like the API; the annotate page
saves, submits and rejects through the API with the session (CSRF enforced)."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from . import selectors, services
from .models import Assignment, Difficulty, RejectReason, Role
from .rendering import render_markdown
from .serializers import EMPTY_DRAFT, DraftOut
from .services.rewrites import CHECKLIST_ITEMS
from .vocabulary import Vocabulary

CHECKLIST_TEXT = {
    "clear": "The question is clear: a developer knows exactly what is asked.",
    "ethical": "No ethical issue: nothing harmful, private or offensive is asked or revealed.",
    "solvable": "Solvable: everything needed to answer is in the question itself.",
}
NATURAL_LANGUAGES = [
    ("en", "English"),
    ("zh", "Chinese"),
    ("es", "Spanish"),
    ("fr", "French"),
    ("de", "German"),
    ("pt", "Portuguese"),
    ("it", "Italian"),
    ("ru", "Russian"),
    ("ja", "Japanese"),
    ("ko", "Korean"),
    ("ar", "Arabic"),
]


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """A member's campaigns with their roles. Someone who only annotates (or only reviews), in
    one campaign, goes straight to their queue (or ballots)."""
    memberships = selectors.campaigns_for_user(user=request.user)
    if len(memberships) == 1 and memberships[0].roles == [Role.ANNOTATOR]:
        return redirect("queue", slug=memberships[0].campaign.slug)
    if len(memberships) == 1 and memberships[0].roles == [Role.REVIEWER]:
        return redirect("ballots-page", slug=memberships[0].campaign.slug)
    return render(request, "annotation/home.html", {"memberships": memberships})


@login_required
def queue_page(request: HttpRequest, slug: str) -> HttpResponse:
    """The annotator's active assignments (drafts and returned rewrites first), totals, and
    the "next seed" button."""
    campaign = selectors.campaign_for_member(user=request.user, slug=slug, role=Role.ANNOTATOR)
    now = timezone.now()
    rows: list[dict[str, Any]] = []
    for assignment in selectors.assignments_for_annotator(
        user=request.user, campaign=campaign, status=Assignment.Status.ACTIVE
    ):
        rewrite = selectors.current_revision(assignment)
        rows.append(
            {
                "assignment": assignment,
                "rewrite": rewrite,
                "returned": bool(rewrite and rewrite.feedback),
                "age": now - assignment.created_at,
                "lease_left": assignment.lease_expires_at - now
                if assignment.lease_expires_at
                else None,
            }
        )
    rows.sort(key=lambda r: (not r["returned"], r["rewrite"] is None, r["assignment"].pk))
    return render(
        request,
        "annotation/queue.html",
        {
            "campaign": campaign,
            "rows": rows,
            "returned": [r for r in rows if r["returned"]],
            "counts": selectors.annotator_counts(user=request.user, campaign=campaign),
        },
    )


@login_required
@require_POST
def claim_next_page(request: HttpRequest, slug: str) -> HttpResponse:
    """Claim the next seed and open it; back to the queue when nothing is left."""
    campaign = selectors.campaign_for_member(user=request.user, slug=slug, role=Role.ANNOTATOR)
    assignment = services.assignment_claim_next(campaign=campaign, actor=request.user)
    if assignment is None:
        messages.info(request, "No seed is left to claim in this campaign. Well done.")
        return redirect("queue", slug=campaign.slug)
    return redirect("annotate", pk=assignment.pk)


@login_required
def annotate_page(request: HttpRequest, pk: int) -> HttpResponse:
    """Seed and rewrite side by side. The page carries the draft and vocabulary as JSON for
    the annotate page's modules (static/js/annotate/), which autosave through the draft API."""
    assignment = selectors.assignment_for_annotator(user=request.user, assignment_id=pk)
    campaign = assignment.campaign
    seed = assignment.seed
    rewrite = selectors.current_revision(assignment)
    draft: dict[str, Any] = DraftOut(rewrite).data if rewrite else dict(EMPTY_DRAFT)
    if not draft["subcategory"] and seed.subcategory is not None:
        draft["subcategory"] = seed.subcategory.name  # pre-filled from the seed, changeable
    vocab = Vocabulary.for_campaign(campaign)
    subcategories: dict[str, list[str]] = {}
    for sub in sorted(
        {s.pk: s for s in vocab.subcategories.values()}.values(),
        key=lambda s: (s.category.position, s.category.name, s.position, s.name),
    ):
        subcategories.setdefault(sub.category.name, []).append(sub.name)
    languages = sorted({lang.pk: lang for lang in vocab.languages.values()}.values(), key=str)
    editable = assignment.status == Assignment.Status.ACTIVE and (
        rewrite is None or rewrite.status == rewrite.Status.DRAFT
    )
    config = {
        "assignment": assignment.pk,
        "campaign": campaign.slug,
        "editable": editable,
        "draft": draft,
        "languages": [{"name": lang.name, "aliases": lang.aliases} for lang in languages],
        "checklist": list(CHECKLIST_ITEMS),
        "urls": {
            "draft": f"/api/v1/assignments/{assignment.pk}/draft/",
            "submit": f"/api/v1/assignments/{assignment.pk}/submit/",
            "reject": f"/api/v1/assignments/{assignment.pk}/reject/",
            "preview": f"/api/v1/campaigns/{campaign.slug}/preview/",
            "next": f"/campaigns/{campaign.slug}/next/",
            "queue": f"/campaigns/{campaign.slug}/queue/",
        },
    }
    return render(
        request,
        "annotation/annotate.html",
        {
            "assignment": assignment,
            "campaign": campaign,
            "seed": seed,
            "rewrite": rewrite,
            "feedback": rewrite.feedback if rewrite else None,
            "seed_html": render_markdown(seed.body),
            "answer_html": render_markdown(seed.answer),
            "preview_html": render_markdown(draft["text"]),
            "guidelines_html": render_markdown(campaign.guidelines),
            "subcategories": subcategories,
            "difficulties": Difficulty.choices,
            "natural_languages": NATURAL_LANGUAGES,
            "checklist": [(item, CHECKLIST_TEXT[item]) for item in CHECKLIST_ITEMS],
            "reject_reasons": RejectReason.choices,
            "editable": editable,
            "config": config,
        },
    )

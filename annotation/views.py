"""Server-rendered pages: a member's campaigns, the annotator's queue, the annotate page, and
the annotator's own work (My work, a submitted revision read-only). Each view reads through
selectors and writes through services, like the API; the annotate page saves, submits, rejects
and skips through the API with the session (CSRF enforced)."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.diff import text_diff
from core.errors import NotAllowed, NotFound

from . import selectors, selectors_assist, services
from .models import Assignment, Difficulty, RejectReason, Rewrite, Role
from .rendering import render_markdown, render_seed
from .serializers import EMPTY_DRAFT, DraftOut
from .serializers_assist import DraftSuggestionOut
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
    """The annotator's open assignments, a page at a time (oldest first; ``?after=`` and
    ``?before=`` an id read the next and previous pages), the ones returned for revision on
    top, totals, and the "next seed" button."""
    campaign = selectors.campaign_for_member(user=request.user, slug=slug, role=Role.ANNOTATOR)
    now = timezone.now()
    page = selectors.open_assignments_page(
        user=request.user,
        campaign=campaign,
        after=_id_param(request, "after"),
        before=_id_param(request, "before"),
    )
    rows: list[dict[str, Any]] = []
    for assignment in page.rows:
        rewrite = selectors.current_revision(assignment)
        rows.append(
            {
                "assignment": assignment,
                "title": vars(assignment)["seed_title"] or assignment.seed.external_id,
                "rewrite": rewrite,
                "returned": bool(rewrite and rewrite.feedback),
                "age": now - assignment.created_at,
                "lease_left": assignment.lease_expires_at - now
                if assignment.lease_expires_at
                else None,
            }
        )
    returned = selectors.returned_for_revision(user=request.user, campaign=campaign)
    return render(
        request,
        "annotation/queue.html",
        {
            "campaign": campaign,
            "rows": rows,
            "page": page,
            "returned": returned,
            "queue": selectors.queue_counts(user=request.user, campaign=campaign),
            "counts": selectors.annotator_counts(user=request.user, campaign=campaign),
        },
    )


def _id_param(request: HttpRequest, name: str) -> int | None:
    """A page link's id (``?after=`` / ``?before=``); None when absent or not an id."""
    raw = request.GET.get(name, "")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) < 2**63 else None


@login_required
@require_POST
def claim_next_page(request: HttpRequest, slug: str) -> HttpResponse:
    """*Next seed*: the annotator's oldest untouched open seed, else a newly claimed one; back
    to the queue, saying why, when there is neither. The annotate page posts here after a
    submit, skip or rejection with ``done`` (that assignment's id), and the next page confirms
    what happened to it."""
    campaign = selectors.campaign_for_member(user=request.user, slug=slug, role=Role.ANNOTATOR)
    _confirm_done(request, request.POST.get("done", ""))
    found = services.assignment_open_next(campaign=campaign, actor=request.user)
    if found.assignment is None:
        messages.info(request, found.message)
        return redirect("queue", slug=campaign.slug)
    return redirect("annotate", pk=found.assignment.pk)


def _confirm_done(request: HttpRequest, done: str) -> None:
    """A message confirming what the annotator just did with assignment ``done``, read back
    from the database (nothing for an id that is not theirs)."""
    if not done.isdigit():
        return
    try:
        assignment = selectors.assignment_for_annotator(user=request.user, assignment_id=int(done))
    except (NotFound, NotAllowed):
        return
    seed = assignment.seed
    name = f"\u201c{seed.title or seed.external_id}\u201d"
    rewrite = selectors.current_revision(assignment)
    if assignment.status == Assignment.Status.SUBMITTED and rewrite is not None:
        messages.success(
            request, f"Submitted revision {rewrite.revision} of {name} for review. Thank you!"
        )
    elif assignment.status == Assignment.Status.SKIPPED:
        messages.success(request, f"Skipped {name}: it went back to the pool for someone else.")
    elif assignment.status == Assignment.Status.REJECTED:
        messages.success(
            request, f"Rejected the seed {name} ({assignment.get_reject_reason_display()})."
        )


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
    # The model suggestion panel: offered when the campaign allows it (no model is called here);
    # the latest suggestion is shown again after a reload.
    assist = selectors_assist.draft_suggestions_offered(campaign) if editable else None
    latest = selectors_assist.draft_suggestion_latest(assignment) if assist is not None else None
    config = {
        "assignment": assignment.pk,
        "campaign": campaign.slug,
        "seed": seed.title or seed.external_id,
        "editable": editable,
        "draft": draft,
        "languages": [{"name": lang.name, "aliases": lang.aliases} for lang in languages],
        "checklist": list(CHECKLIST_ITEMS),
        "urls": {
            "draft": f"/api/v1/assignments/{assignment.pk}/draft/",
            "submit": f"/api/v1/assignments/{assignment.pk}/submit/",
            "reject": f"/api/v1/assignments/{assignment.pk}/reject/",
            "skip": f"/api/v1/assignments/{assignment.pk}/skip/",
            "preview": f"/api/v1/campaigns/{campaign.slug}/preview/",
            "next": f"/campaigns/{campaign.slug}/next/",
            "queue": f"/campaigns/{campaign.slug}/queue/",
            "suggestion": f"/api/v1/assignments/{assignment.pk}/suggestion/",
        },
        "assist": {
            "model": assist.model,
            "stream": assist.stream,
            "suggestion": DraftSuggestionOut(latest).data if latest is not None else None,
        }
        if assist is not None
        else None,
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
            "seed_html": render_seed(seed.body),
            "answer_html": render_seed(seed.answer),
            "preview_html": render_markdown(draft["text"]),
            "guidelines_html": render_markdown(campaign.guidelines),
            "subcategories": subcategories,
            "difficulties": Difficulty.choices,
            "natural_languages": NATURAL_LANGUAGES,
            "checklist": [(item, CHECKLIST_TEXT[item]) for item in CHECKLIST_ITEMS],
            "reject_reasons": RejectReason.choices,
            "editable": editable,
            # A rewrite returned for revision is revised (or reassigned), never skipped.
            "skippable": editable and (rewrite is None or rewrite.revision == 1),
            "skip_reason_max": services.SKIP_REASON_MAX,
            "config": config,
            "assist": config["assist"],
        },
    )


@login_required
def my_work_page(request: HttpRequest, slug: str) -> HttpResponse:
    """The annotator's own work in a campaign, by tab: every submitted revision, in review,
    accepted, returned to them (with the feedback and a link to the new revision), decided
    otherwise; and the seeds they skipped or rejected. Paginated."""
    campaign = selectors.campaign_for_member(user=request.user, slug=slug, role=Role.ANNOTATOR)
    tab = request.GET.get("tab", "all")
    if tab not in selectors.MY_WORK_TABS and tab not in selectors.PASSED_ON_TABS:
        tab = "all"
    counts = selectors.my_work_counts(user=request.user, campaign=campaign)
    tabs = [
        {"key": key, "label": label, "count": counts[key]}
        for key, label in [
            *((k, v[0]) for k, v in selectors.MY_WORK_TABS.items()),
            *((k, v[0]) for k, v in selectors.PASSED_ON_TABS.items()),
        ]
    ]
    rows: list[dict[str, Any]] = []
    passed_on = tab in selectors.PASSED_ON_TABS
    page: Page[Any]
    if passed_on:
        page = Paginator(
            selectors.assignments_passed_on(
                user=request.user, campaign=campaign, status=selectors.PASSED_ON_TABS[tab][1]
            ),
            50,
        ).get_page(request.GET.get("page"))
        rows = [{"assignment": a} for a in page.object_list]
    else:
        page = Paginator(
            selectors.rewrites_for_author(
                user=request.user, campaign=campaign, statuses=selectors.MY_WORK_TABS[tab][1]
            ),
            50,
        ).get_page(request.GET.get("page"))
        for rewrite in page.object_list:
            rows.append(
                {
                    "rewrite": rewrite,
                    "outcome": selectors.rewrite_outcome(rewrite),
                    "feedback": selectors.feedback_received(rewrite),
                    "continue_id": selectors.continue_assignment_id(rewrite, user=request.user),
                    "languages": selectors.rewrite_language_names(rewrite),
                }
            )
    return render(
        request,
        "annotation/my_work.html",
        {
            "campaign": campaign,
            "tab": tab,
            "tab_label": dict((t["key"], t["label"]) for t in tabs)[tab],
            "tabs": tabs,
            "rows": rows,
            "page": page,
            "passed_on": passed_on,
        },
    )


@login_required
def my_rewrite_page(request: HttpRequest, pk: int) -> HttpResponse:
    """One of the annotator's revisions, read-only: the rewrite rendered, the seed, tags,
    status and outcome, the feedback it got (returned) or answered (revision 2 or later), and
    what it changed from the previous revision. The author's only: anyone else gets 404."""
    rewrite = selectors.rewrite_for_author(user=request.user, rewrite_id=pk)
    previous = rewrite.previous
    return render(
        request,
        "annotation/my_rewrite.html",
        {
            "campaign": rewrite.campaign,
            "rewrite": rewrite,
            "seed": rewrite.seed,
            "rewrite_html": render_markdown(rewrite.text),
            "seed_html": render_seed(rewrite.seed.body),
            "languages": selectors.rewrite_language_names(rewrite),
            "outcome": selectors.rewrite_outcome(rewrite),
            "feedback": selectors.feedback_received(rewrite),
            "answered": rewrite.feedback or None,
            "continue_id": selectors.continue_assignment_id(rewrite, user=request.user),
            "editing": rewrite.status == Rewrite.Status.DRAFT
            and rewrite.assignment.status == Assignment.Status.ACTIVE
            and rewrite.assignment.annotator_id == request.user.pk,
            "revisions": selectors.revisions_by_author(rewrite=rewrite, user=request.user),
            "diff": text_diff(previous.text, rewrite.text) if previous is not None else None,
            "diff_caption": f"Changes from revision {previous.revision}" if previous else "",
            "previous": previous,
        },
    )

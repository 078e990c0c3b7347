"""The data browser's pages (curators): a tab per kind of row with its count, a GET filter form
(the filter lives in the URL, and every link keeps it), the sorted table one page at a time by
cursor, CSV and JSON-lines downloads of the filtered rows, and a bulk form (selected rows, or
every row of the filter) that posts, then comes back to the same filtered list."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.timezone import localtime
from django.views.decorators.http import require_GET, require_POST

from annotation.models import Assignment, Rewrite, Seed
from annotation.selectors import annotator_named
from core.errors import DomainError, ValidationFailed
from core.http import error_message

from . import downloads, filters, selectors, services
from .serializers import BULK_ACTIONS, row_out, seed_id_of

ONE = {"seeds": "seed", "assignments": "assignment", "rewrites": "rewrite", "samples": "sample"}
LABELS = {
    "seeds": "Seeds",
    "assignments": "Assignments",
    "rewrites": "Rewrites",
    "samples": "Released samples",
}
STATUSES = {
    "seeds": Seed.Status.choices,
    "assignments": Assignment.Status.choices,
    "rewrites": Rewrite.Status.choices,
    "samples": [],
}
SORT_LABELS = {
    "id": "id",
    "external_id": "external id",
    "created": "created",
    "updated": "updated",
    "status": "status",
    "lease": "lease end",
    "submitted": "submitted",
    "decided": "decided",
    "revision": "revision",
    "position": "position in the release",
    "sample_id": "sample id",
}
PAGE_SIZES = [25, 50, 100, 200, 500]
ACTION_LABELS = {
    "return": "Return for revision (rejected or no consensus)",
    "reassign": "Reassign to another annotator (active)",
    "release": "Put back in the pool (active, nothing written yet)",
}


@login_required
@require_GET
def browse_page(request: HttpRequest, slug: str) -> HttpResponse:
    """The data browser, on its first tab (seeds)."""
    return browse_kind_page(request, slug=slug, kind="seeds")


def _query_string(params: QueryDict, **changes: str | None) -> str:
    out = params.copy()
    for name, value in changes.items():
        out.pop(name, None)
        if value:
            out[name] = value
    encoded = out.urlencode()
    return f"?{encoded}" if encoded else ""


def _tabs(request: HttpRequest, campaign: Any, kind: str) -> list[dict[str, Any]]:
    """Each kind's tab: its count under the filters that carry over (one query each)."""
    carried = filters.tab_params(request.GET)
    tabs = []
    for other in selectors.KINDS:
        params = request.GET if other == kind else carried
        try:
            _rows, count, capped = selectors.counted(
                filters.filtered(campaign=campaign, kind=other, params=params),
                searching=bool(params.get("q", "").strip()),
            )
        except ValidationFailed:
            count, capped = None, False
        url = reverse("browse-kind-page", kwargs={"slug": campaign.slug, "kind": other})
        tabs.append(
            {
                "kind": other,
                "label": LABELS[other],
                "count": count,
                "capped": capped,
                "url": url + _query_string(params),
                "current": other == kind,
            }
        )
    return tabs


def _page_sizes(current: str) -> list[int]:
    """The form's choices, with a size given in the URL (the API's 1 to 500) among them."""
    sizes = set(PAGE_SIZES)
    if current.isdigit() and 1 <= int(current) <= selectors.MAX_PAGE_SIZE:
        sizes.add(int(current))
    return sorted(sizes)


DATE_KEYS = ("created_at", "lease_expires_at", "submitted_at", "decided_at")


def _row(kind: str, row: Any) -> dict[str, Any]:
    data = row_out(kind, row)
    when = {
        key: localtime(value).strftime("%Y-%m-%d %H:%M")
        for key in DATE_KEYS
        if (value := _path(row, kind, key)) is not None
    }
    return {"data": data, "seed_id": seed_id_of(kind, row), "pk": row.pk, "when": when}


def _path(row: Any, kind: str, key: str) -> Any:
    source = row.rewrite if kind == "samples" else row
    return getattr(source, key, None)


@login_required
@require_GET
def browse_kind_page(request: HttpRequest, slug: str, kind: str) -> HttpResponse:
    campaign = selectors.browse_campaign(user=request.user, slug=slug)
    params = request.GET
    problem = ""
    problems: list[str] = []
    rows: list[dict[str, Any]] = []
    page = None
    count: int | None = None
    capped = False
    status = 200
    try:
        query = filters.list_query(campaign=campaign, kind=kind, params=params)
        page, count, capped = filters.list_page(query)
        rows = [_row(kind, row) for row in page.rows]
    except ValidationFailed as exc:
        status = 400
        problem = exc.message
        errors = exc.details.get("errors", {})
        problems = [f"{name}: {'; '.join(msgs)}" for name, msgs in errors.items()]
    here = reverse("browse-kind-page", kwargs={"slug": campaign.slug, "kind": kind})
    export_params = _query_string(params, cursor=None, page_size=None)
    context = {
        "campaign": campaign,
        "kind": kind,
        "label": LABELS[kind],
        "noun": ONE[kind] if count == 1 else LABELS[kind].lower(),
        "tabs": _tabs(request, campaign, kind),
        "rows": rows,
        "count": count,
        "capped": capped,
        "problem": problem,
        "problems": problems,
        "f": {
            name: params.get(name, "")
            for name in (
                "q",
                "category",
                "subcategory",
                "annotator",
                "reviewer",
                "difficulty",
                "programming_language",
                "natural_language",
                "provenance",
                "release",
                "started",
                "sort",
                "page_size",
                "created_after",
                "created_before",
                "submitted_after",
                "submitted_before",
                "decided_after",
                "decided_before",
            )
        },
        "f_status": params.getlist("status"),
        "f_outcome": params.getlist("outcome"),
        "f_flags": params.getlist("flags"),
        "statuses": STATUSES[kind],
        "outcomes": filters.OUTCOME_CHOICES,
        "flag_choices": filters.FLAG_CHOICES,
        "sorts": [
            (value, ("↓ " if value.startswith("-") else "↑ ") + SORT_LABELS[value.lstrip("-")])
            for value in selectors.sort_choices(kind)
        ],
        "page_sizes": _page_sizes(params.get("page_size", "")),
        "choices": selectors.filter_choices(campaign=campaign),
        "next_url": here + _query_string(params, cursor=page.next) if page and page.next else "",
        "previous_url": here + _query_string(params, cursor=page.previous)
        if page and page.previous
        else "",
        "first_url": here + _query_string(params, cursor=None) if page and page.previous else "",
        "csv_url": reverse(
            "browse-export-page", kwargs={"slug": campaign.slug, "kind": kind, "fmt": "csv"}
        )
        + export_params,
        "jsonl_url": reverse(
            "browse-export-page", kwargs={"slug": campaign.slug, "kind": kind, "fmt": "jsonl"}
        )
        + export_params,
        "reset_url": here,
        "bulk_actions": [(a, ACTION_LABELS[a]) for a in BULK_ACTIONS.get(kind, [])],
        "bulk_url": reverse("browse-bulk-page", kwargs={"slug": campaign.slug, "kind": kind})
        if kind in BULK_ACTIONS
        else "",
        "bulk_limit": services.BULK_LIMIT,
        "filters_qs": _query_string(params, cursor=None).lstrip("?"),
        "this_page_qs": params.urlencode(),
    }
    return render(request, "browser/browse.html", context, status=status)


@login_required
@require_GET
def browse_export_page(
    request: HttpRequest, slug: str, kind: str, fmt: str
) -> StreamingHttpResponse:
    """Every row matching the filter, as CSV or JSON lines (streamed)."""
    campaign = selectors.browse_campaign(user=request.user, slug=slug)
    params = request.GET.copy()
    for name in filters.PAGE_PARAMS:
        params.pop(name, None)
    query = filters.list_query(campaign=campaign, kind=kind, params=params, export=True)
    return downloads.streamed(query, campaign=campaign, fmt=fmt)


@login_required
@require_POST
def browse_bulk_page(request: HttpRequest, slug: str, kind: str) -> HttpResponse:
    """Run a bulk action from the page's form, then go back to the same filtered page with a
    message saying what changed and what was skipped, and why."""
    campaign = selectors.browse_campaign(user=request.user, slug=slug)
    filter_params = QueryDict(request.POST.get("filters", ""))
    back = reverse("browse-kind-page", kwargs={"slug": campaign.slug, "kind": kind})
    back += "?" + request.POST.get("page", "") if request.POST.get("page") else ""
    action = request.POST.get("action", "")
    try:
        if request.POST.get("scope") == "all":
            ids = filters.bulk_selection(campaign=campaign, kind=kind, params=filter_params)
        else:
            try:
                ids = [int(pk) for pk in request.POST.getlist("ids")]
            except ValueError:
                ids = []
            if not ids:
                raise ValidationFailed(
                    "Select rows first (tick their boxes), or choose every row of the filter."
                )
        annotator = None
        if action == "reassign":
            username = request.POST.get("annotator", "").strip()
            if not username:
                raise ValidationFailed("Choose the annotator who gets the assignments.")
            annotator = annotator_named(campaign=campaign, username=username)
        result = services.browse_bulk(
            campaign=campaign,
            actor=request.user,
            kind=kind,
            action=action,
            ids=ids,
            note=request.POST.get("note", "").strip(),
            annotator=annotator,
        )
    except DomainError as exc:
        if isinstance(exc, ValidationFailed) or exc.code in ("invalid_transition", "conflict"):
            messages.error(request, f"Nothing was changed. {error_message(exc)}")
            return redirect(back)
        raise
    verb = {"return": "returned", "reassign": "reassigned", "release": "put back in the pool"}
    done = len(result.changed)
    messages.success(
        request, f"{done} {kind if done != 1 else kind[:-1]} {verb.get(result.action, 'changed')}."
    )
    if result.skipped:
        shown = result.skipped[:20]
        details = "; ".join(f"#{s['id']}: {s['reason']}" for s in shown)
        more = (
            f" (and {len(result.skipped) - len(shown)} more)"
            if len(shown) < len(result.skipped)
            else ""
        )
        messages.warning(request, f"{len(result.skipped)} skipped: {details}{more}.")
    return redirect(back)

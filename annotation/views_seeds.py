"""Curator pages of the seed workspace: the seeds of a campaign and their uploads, one upload's
check report (confirm or discard), sampling and dealing, each previewed before it is committed.
Forms work without JavaScript (POST, CSRF, redirect after success); JavaScript only follows a
running job's progress. Non-members get 404 and members without the curator role 403 (domain
errors escape to ``core.http.DomainErrorMiddleware``); bad input re-renders the form with the
API's status and what was typed."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse

from core.errors import DomainError, NotAllowed, NotFound, ValidationFailed
from core.http import error_message, status_for

from . import jobs, selectors_assist, selectors_seeds
from .models import AssistPurpose, Role, SeedImport, SeedSuggestion, Subcategory
from .selectors import campaign_for_member
from .serializers_seeds import FORMAT_CHOICES, DealingIn, SamplingIn, SeedImportIn
from .services.assignments import seeds_assign
from .services.assist import endpoint_for
from .services.assist_seeds import (
    SuggestionDecisions,
    seed_suggestions_accept,
    seed_suggestions_dismiss,
    seeds_classify_by_hand,
)
from .services.seed_formats import PRESETS, TARGETS
from .services.seed_imports import seed_import_discard
from .services.seeds import seeds_deal_preview, seeds_sample, seeds_sample_preview

RUNNING = (SeedImport.Status.CHECKING, SeedImport.Status.IMPORTING)


def _field_errors(errors: Any) -> list[str]:
    return [f"{name}: {' '.join(str(m) for m in msgs)}" for name, msgs in errors.items()]


def _fail(exc: DomainError) -> tuple[str, int]:
    """A domain error a form shows (and its status); access errors escape to the error page."""
    if isinstance(exc, (NotFound, NotAllowed)):
        raise exc
    return error_message(exc), status_for(exc)


@login_required
def seeds_page(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: seed counts by status and subcategory, the upload form, the uploads. POST: upload a
    file (it is checked by a job) and go to its report."""
    campaign, imports = selectors_seeds.seed_imports_for_curator(user=request.user, slug=slug)
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        data: dict[str, Any] = {"file": request.FILES.get("file")}
        for name in ("skip_bad_lines", "format", "preset"):
            if request.POST.get(name):
                data[name] = request.POST[name]
        # The form's mapping is one text box, one target=source per line.
        data["fields"] = [request.POST.get("fields", "")]
        form = SeedImportIn(data=data)
        if form.is_valid():
            valid = form.validated_data
            try:
                seed_import = jobs.seed_import_start(
                    campaign=campaign,
                    actor=request.user,
                    upload=valid["file"],
                    skip_bad_lines=valid["skip_bad_lines"],
                    options={
                        "format": valid["format"],
                        "preset": valid["preset"],
                        "fields": valid["fields"],
                    },
                )
            except DomainError as exc:
                message, status = _fail(exc)
                errors = [message]
            else:
                messages.success(request, f"{seed_import.original_name} uploaded; checking it.")
                return redirect("seed-import-page", pk=seed_import.pk)
        else:
            errors, status = _field_errors(form.errors), 400
    return render(
        request,
        "annotation/seeds.html",
        {
            "campaign": campaign,
            "counts": selectors_seeds.seed_counts(campaign=campaign),
            "classification": selectors_assist.seed_classification_overview(campaign=campaign),
            "imports": imports[:50],
            "errors": errors,
            "skip_bad_lines": request.POST.get("skip_bad_lines")
            if request.method == "POST"
            else "",
            "formats": FORMAT_CHOICES,
            "presets": PRESETS.values(),
            "targets": TARGETS,
            "chosen": {
                "format": request.POST.get("format", "auto"),
                "preset": request.POST.get("preset", "seeds"),
                "fields": request.POST.get("fields", ""),
            },
        },
        status=status,
    )


@login_required
def seed_import_page(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: an upload's check report (bad lines, duplicates, sample rows), its progress while a
    job runs, the import's report once done. POST ``action=confirm`` (with ``skip_bad_lines``)
    or ``action=discard``."""
    seed_import = selectors_seeds.seed_import_for_curator(user=request.user, import_id=pk)
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "confirm":
                # An unticked box sends nothing: not skipping.
                jobs.seed_import_confirm(
                    import_id=pk,
                    actor=request.user,
                    skip_bad_lines=request.POST.get("skip_bad_lines") == "true",
                )
                messages.success(request, "Import confirmed; the seeds are being imported.")
                return redirect("seed-import-page", pk=pk)
            if action == "discard":
                seed_import_discard(import_id=pk, actor=request.user)
                messages.success(request, f"{seed_import.original_name} discarded.")
                return redirect("seeds-page", slug=seed_import.campaign.slug)
            errors, status = ["action: must be 'confirm' or 'discard'"], 400
        except DomainError as exc:
            message, status = _fail(exc)
            errors = [message]
        seed_import = selectors_seeds.seed_import_for_curator(user=request.user, import_id=pk)
    return render(
        request,
        "annotation/seeds_import.html",
        {
            "campaign": seed_import.campaign,
            "seed_import": seed_import,
            "check": seed_import.check_report or None,
            "report": seed_import.report or None,
            "running": seed_import.status in RUNNING,
            "options": seed_import.options or {},
            "unit": ((seed_import.check_report or {}).get("format") or {}).get("unit", "line"),
            "errors": errors,
        },
        status=status,
    )


def _sampling_form(data: QueryDict) -> SamplingIn:
    form = SamplingIn(data={k: v for k, v in data.items() if k in ("size", "seed")})
    form.is_valid()
    return form


@login_required
def seeds_sample_page(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the form; with ``size`` (and ``seed``) the preview per subcategory (quota, shortfall)
    and a confirm button. POST: sample (``seeds_sample``) and go back to the seeds."""
    campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
    data = request.POST if request.method == "POST" else request.GET
    errors: list[str] = []
    status = 200
    plan = None
    if "size" in data:
        form = _sampling_form(data)
        if form.errors:
            errors, status = _field_errors(form.errors), 400
        else:
            size, seed = form.validated_data["size"], form.validated_data["seed"]
            try:
                if request.method == "POST":
                    report = seeds_sample(
                        campaign=campaign, size=size, seed=seed, actor=request.user
                    )
                    messages.success(
                        request,
                        f"Sampled {report.sampled_now} seeds; {report.sampled_total} in all.",
                    )
                    return redirect("seeds-page", slug=campaign.slug)
                plan = seeds_sample_preview(campaign=campaign, size=size, seed=seed)
            except DomainError as exc:
                message, status = _fail(exc)
                errors = [message]
    return render(
        request,
        "annotation/seeds_sample.html",
        {
            "campaign": campaign,
            "plan": plan,
            "errors": errors,
            "size": data.get("size", 2000),
            "seed": data.get("seed", 42),
        },
        status=status,
    )


@login_required
def seeds_deal_page(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: per annotator, the seeds and subcategory mix dealing would give (``seed`` from the
    query, 42 by default). POST: deal (``seeds_assign``) and go back to the seeds."""
    campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
    data = request.POST if request.method == "POST" else request.GET
    errors: list[str] = []
    status = 200
    plan = None
    form = DealingIn(data={k: v for k, v in data.items() if k == "seed"})
    if not form.is_valid():
        errors, status = _field_errors(form.errors), 400
    else:
        seed = form.validated_data["seed"]
        try:
            if request.method == "POST":
                report = seeds_assign(campaign=campaign, seed=seed, actor=request.user)
                messages.success(
                    request,
                    f"Dealt {report.assigned} seeds to {len(report.per_annotator)} annotators.",
                )
                return redirect("seeds-page", slug=campaign.slug)
            plan = seeds_deal_preview(campaign=campaign, seed=seed)
        except DomainError as exc:
            message, status = _fail(exc)
            errors = [message]
    subcategories = (
        sorted({name for a in plan.annotators for name in a.subcategories}) if plan else []
    )
    return render(
        request,
        "annotation/seeds_deal.html",
        {
            "campaign": campaign,
            "plan": plan,
            "subcategories": subcategories,
            "rows": [
                (a, [a.subcategories.get(name, 0) for name in subcategories])
                for a in (plan.annotators if plan else [])
            ],
            "errors": errors,
            "seed": data.get("seed", 42),
        },
        status=status,
    )


# --- model classification of seeds ----------------------------------------------------------

SUGGESTIONS_PER_PAGE = 50
SUGGESTION_ACTIONS = ("start", "accept", "dismiss", "accept_all")


def _ids(values: list[str]) -> list[int] | None:
    """The ticked suggestion ids of a form, or None when one is not a number."""
    try:
        return [int(v) for v in values]
    except ValueError:
        return None


def _chosen_instead(request: HttpRequest, ids: list[int]) -> dict[int, int]:
    """The row's subcategory select (``subcategory-<suggestion id>``) of each accepted row:
    the one the curator chose, which the service applies where it differs from the model's."""
    chosen: dict[int, int] = {}
    for pk in ids:
        value = request.POST.get(f"subcategory-{pk}", "")
        if value.isdigit():
            chosen[pk] = int(value)
    return chosen


def _decision_message(outcome: SuggestionDecisions, *, accepting: bool) -> str:
    if accepting:
        parts = [f"{outcome.accepted} suggestion{pluralize(outcome.accepted)} accepted"]
        if outcome.already_classified:
            parts.append(
                f"{outcome.dismissed} dismissed: the seed already had a subcategory "
                f"({', '.join(outcome.already_classified[:5])}"
                f"{'…' if len(outcome.already_classified) > 5 else ''})"
            )
    else:
        parts = [f"{outcome.dismissed} suggestion{pluralize(outcome.dismissed)} dismissed"]
    if outcome.skipped:
        parts.append(f"{outcome.skipped} already decided on")
    return "; ".join(parts) + "."


def _classification_post(request: HttpRequest, campaign: Any) -> str:
    """Run the form's action; returns the message to flash. Raises DomainError."""
    action = request.POST.get("action", "")
    by_hand = request.POST.get("classify_one", "")
    if by_hand:
        # A seed the model left without a suggestion, placed by the curator (its row's select).
        seed_id = int(by_hand) if by_hand.isdigit() else 0
        value = request.POST.get(f"seed-subcategory-{seed_id}", "")
        if not value.isdigit():
            raise ValidationFailed(
                "Choose a subcategory for the seed first.",
                details={"errors": {"subcategory": ["choose a subcategory"]}},
            )
        seeds_classify_by_hand(campaign=campaign, actor=request.user, choices={seed_id: int(value)})
        return "The seed's subcategory is set."
    one_accept, one_dismiss = request.POST.get("accept_one"), request.POST.get("dismiss_one")
    if one_accept or one_dismiss:
        ids = _ids([one_accept or one_dismiss or ""])
        action = "accept" if one_accept else "dismiss"
    else:
        ids = _ids(request.POST.getlist("ids"))
    if action not in SUGGESTION_ACTIONS:
        raise ValidationFailed(
            "Unknown action.",
            details={"errors": {"action": [f"one of {', '.join(SUGGESTION_ACTIONS)}"]}},
        )
    if action == "start":
        job = jobs.seed_classification_start(campaign=campaign, actor=request.user)
        return f"Classification of {job.total} seed{pluralize(job.total)} started."
    if ids is None:
        raise ValidationFailed(
            "A suggestion id is not a number.", details={"errors": {"ids": ["whole numbers"]}}
        )
    everything = action == "accept_all"
    if action in ("accept", "accept_all"):
        outcome = seed_suggestions_accept(
            campaign=campaign,
            actor=request.user,
            ids=ids,
            all_suggested=everything,
            subcategories=None if everything else _chosen_instead(request, ids),
        )
        return _decision_message(outcome, accepting=True)
    outcome = seed_suggestions_dismiss(campaign=campaign, actor=request.user, ids=ids)
    return _decision_message(outcome, accepting=False)


@login_required
def seeds_classify_page(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: model classification of the seeds without a subcategory: what is left to classify,
    the running (or last) job's progress, the suggestions waiting for a decision (50 a page,
    by subcategory if asked) and the seeds the last job left unclassified or failed on.
    POST ``action``: ``start`` a job; ``accept`` / ``dismiss`` the ticked ``ids`` (each
    accepted row with its ``subcategory-<id>`` select); ``accept_all``; ``accept_one`` /
    ``dismiss_one`` = a suggestion id (the row buttons); or ``classify_one`` = a seed id the
    model left unplaced, with its ``seed-subcategory-<seed id>`` select."""
    subcategory = request.GET.get("subcategory", "").strip()
    campaign, suggestions = selectors_assist.seed_suggestions_for_curator(
        user=request.user,
        slug=slug,
        status=SeedSuggestion.Status.SUGGESTED,
        subcategory=subcategory or None,
    )
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        try:
            message = _classification_post(request, campaign)
        except DomainError as exc:
            message, status = _fail(exc)
            errors = [message]
        else:
            messages.success(request, message)
            here = reverse("seeds-classify-page", kwargs={"slug": campaign.slug})
            query = request.GET.urlencode()
            return redirect(f"{here}?{query}" if query else here)
    overview = selectors_assist.seed_classification_overview(campaign=campaign)
    problem = ""
    if overview.enabled:
        try:
            endpoint_for(campaign, purpose=AssistPurpose.CLASSIFY)
        except DomainError as exc:
            problem = exc.message
    page = Paginator(suggestions, SUGGESTIONS_PER_PAGE).get_page(request.GET.get("page"))
    left: Any = None
    if overview.job is not None:
        _campaign, left_qs = selectors_assist.seed_suggestions_for_curator(
            user=request.user, slug=slug, job_id=overview.job.pk
        )
        left = Paginator(
            left_qs.filter(
                status__in=[SeedSuggestion.Status.UNCLASSIFIED, SeedSuggestion.Status.FAILED]
            ),
            SUGGESTIONS_PER_PAGE,
        ).get_page(request.GET.get("left_page"))
    return render(
        request,
        "annotation/seeds_classify.html",
        {
            "campaign": campaign,
            "overview": overview,
            "problem": problem,
            "page": page,
            "left": left,
            "subcategory": subcategory,
            # A list: every row's select reads it (one query).
            "subcategories": list(
                Subcategory.objects.filter(campaign=campaign)
                .select_related("category")
                .order_by("category__position", "position", "name")
            ),
            "errors": errors,
            "query": request.GET.urlencode(),
        },
        status=status,
    )

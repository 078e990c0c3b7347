"""Curator pages of the exports app: the campaign's releases (start one, follow its progress,
download its files) and the reference sets it is checked against."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.errors import DomainError
from core.http import error_problems, status_for
from quality.selectors import reference_sets
from review.stats import campaign_funnel

from . import jobs, selectors, services
from .serializers import ReleaseIn
from .services.job import MAX_ATTEMPTS


@login_required
def releases_page(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the releases, eligible counts and reference sets. POST: start a release job.
    Non-members get 404, members without the curator role 403 (the domain errors' mapping)."""
    campaign, releases = selectors.releases_for_curator(user=request.user, slug=slug)
    form_error = ""
    field_errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        form = ReleaseIn(data=request.POST)
        if form.is_valid():
            try:
                release = jobs.release_start(
                    campaign=campaign,
                    actor=request.user,
                    parameters=services.ReleaseParameters(**form.validated_data),
                )
            except DomainError as exc:
                # The same status the API gives (409 for a name that is taken, 400 for too few
                # eligible rewrites), with the form kept.
                form_error = " ".join([exc.message, *error_problems(exc)])
                status = status_for(exc)
            else:
                messages.success(request, f"Release {release.name!r} started.")
                return redirect("releases-page", slug=campaign.slug)
        else:
            field_errors = {k: [str(m) for m in v] for k, v in form.errors.items()}
            status = 400
    return render(
        request,
        "exports/releases.html",
        {
            "campaign": campaign,
            "releases": releases[:50],
            "funnel": campaign_funnel(campaign),
            "reference_sets": reference_sets(),
            "stratify_choices": services.STRATIFY,
            "missing_choices": services.MISSING_RESPONSES,
            "codearena_meta_choices": services.CODEARENA_META,
            "arena_hard_categories": list(services.ARENA_HARD_BASELINES),
            "models": selectors.response_models(campaign=campaign),
            "form_error": form_error,
            "field_errors": field_errors,
            "max_attempts": MAX_ATTEMPTS,
            "form_data": request.POST if request.method == "POST" else {},
        },
        status=status,
    )

"""The curator workspace's references page: the loaded reference sets (what each holds and
contaminates in this campaign), uploading a new set, and enabling the sets the deployment
offers. Curators of the campaign and operators; others get the error page (404 / 403)."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from annotation.models import Campaign, Role
from annotation.selectors import campaign_for_member
from core.errors import Conflict, ValidationFailed
from core.http import error_problems, status_for

from .selectors_references import (
    reference_set_may_reload,
    reference_sets_for_campaign,
    references_available,
    references_dir,
)
from .serializers import ReferenceSetUploadIn
from .services.references import (
    DEFAULT_FIELDS,
    ID_FIELDS,
    ReferenceLoadResult,
    reference_set_enable,
    reference_set_upload,
)


def _loaded_message(result: ReferenceLoadResult) -> str:
    ref = result.reference_set
    replaced = f", replacing {result.replaced}" if result.replaced else ""
    return (
        f"Loaded {ref.documents_count} documents into {ref.name!r}{replaced}; re-checked "
        f"{result.rechecked} rewrites of every campaign, {result.contaminated} overlap it."
    )


@login_required
@require_http_methods(["GET", "POST"])
def references_page(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the sets and the upload and enable forms. POST ``action=upload`` (multipart: name,
    files, fields, id_field) or ``action=enable`` (``set``): load, then redirect; a refused
    load re-renders the page with the API's status and the problems, keeping what was typed
    (files must be chosen again: browsers never refill a file input)."""
    campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
    status = 200
    upload_errors: list[str] = []
    enable_errors: list[str] = []
    if request.method == "POST":
        action = request.POST.get("action", "upload")
        result: ReferenceLoadResult | None = None
        try:
            result = _load(request, campaign, action)
        except (ValidationFailed, Conflict) as exc:
            # NotFound / NotAllowed escape to the error page; these keep the form.
            problems = [exc.message, *error_problems(exc)]
            # Bad lines come as a list of their own (file, line, why): name every one.
            lines = exc.details.get("lines")
            if isinstance(lines, list) and lines:
                problems = [f"{len(lines)} bad line(s), nothing loaded:", *map(str, lines)]
            if action == "enable":
                enable_errors = problems
            else:
                upload_errors = problems
            status = status_for(exc)
        if result is not None:
            messages.success(request, _loaded_message(result))
            return redirect("references-page", slug=campaign.slug)
    sets = list(reference_sets_for_campaign(campaign=campaign))
    for ref in sets:
        ref.may_reload = reference_set_may_reload(request.user, ref)  # type: ignore[attr-defined]
    return render(
        request,
        "quality/references.html",
        {
            "campaign": campaign,
            "reference_sets": sets,
            "available": references_available(),
            "references_dir": references_dir(),
            "default_fields": DEFAULT_FIELDS,
            "id_fields": ID_FIELDS,
            "upload_errors": upload_errors,
            "enable_errors": enable_errors,
            "form_data": request.POST if request.method == "POST" else {},
        },
        status=status,
    )


def _load(request: HttpRequest, campaign: Campaign, action: str) -> ReferenceLoadResult:
    """Enable an offered set, or load the uploaded files (the API's input serializer checks
    the form: every bad field named)."""
    if action == "enable":
        return reference_set_enable(
            campaign=campaign, actor=request.user, name=request.POST.get("set", "")
        )
    form = ReferenceSetUploadIn(
        data={
            "name": request.POST.get("name", ""),
            "files": request.FILES.getlist("files"),
            "fields": request.POST.getlist("fields"),
            "id_field": request.POST.get("id_field", ""),
        }
    )
    if not form.is_valid():
        raise ValidationFailed(
            "The form is incomplete.",
            details={"errors": {k: _messages(v) for k, v in form.errors.items()}},
        )
    data = form.validated_data
    return reference_set_upload(
        campaign=campaign,
        actor=request.user,
        name=data["name"],
        uploads=[(f.name or "", f) for f in data["files"]],
        fields=data["fields"],
        id_field=data["id_field"],
    )


def _messages(problems: Any) -> list[str]:
    """DRF error details, flattened (a list field's errors are keyed by item)."""
    if isinstance(problems, dict):
        return [m for value in problems.values() for m in _messages(value)]
    if isinstance(problems, list):
        return [m for value in problems for m in _messages(value)]
    return [str(problems)]

"""The curator workspace's answers page: per-model coverage of the accepted rewrites by
baseline answers, and uploading a model's answers file (optionally checked first). Curators of
the campaign and operators; others get the error page (404 / 403)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from annotation.models import Role
from annotation.selectors import campaign_for_member
from core.errors import Conflict, ValidationFailed
from core.http import error_problems, status_for

from .serializers_answers import ResponsesUploadIn
from .services.responses import ResponseImportReport, responses_coverage, responses_upload


@login_required
@require_http_methods(["GET", "POST"])
def answers_page(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: coverage per model and the upload form. POST (multipart: model, file, dry_run):
    a dry run shows its report on the page (import nothing); an import redirects with its
    summary. Bad input re-renders the form with the API's status, every bad line named and the
    model name kept (the file must be chosen again)."""
    campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
    status = 200
    problems: list[str] = []
    report: ResponseImportReport | None = None
    if request.method == "POST":
        form = ResponsesUploadIn(
            data={
                "model": request.POST.get("model", ""),
                "file": request.FILES.get("file"),
                "dry_run": request.POST.get("dry_run", "false"),
            }
        )
        if not form.is_valid():
            problems = [
                f"{name}: {' '.join(str(m) for m in errors)}"
                for name, errors in form.errors.items()
            ]
            status = 400
        else:
            data = form.validated_data
            try:
                report = responses_upload(
                    campaign=campaign,
                    actor=request.user,
                    model=data["model"],
                    stream=data["file"],
                    file_name=data["file"].name or "",
                    dry_run=data["dry_run"],
                )
            except (ValidationFailed, Conflict) as exc:
                # NotFound / NotAllowed escape to the error page; these keep the form.
                lines = exc.details.get("lines")
                if isinstance(lines, list) and lines:
                    problems = [f"{len(lines)} bad line(s), nothing imported:", *map(str, lines)]
                else:
                    problems = [exc.message, *error_problems(exc)]
                status = status_for(exc)
            else:
                if not report.dry_run:
                    messages.success(
                        request,
                        f"Imported {report.imported} answers of {data['model']} "
                        f"({report.replaced} replaced).",
                    )
                    return redirect("answers-page", slug=campaign.slug)
    return render(
        request,
        "exports/answers.html",
        {
            "campaign": campaign,
            "coverage": responses_coverage(campaign=campaign),
            "problems": problems,
            "report": report,
            "form_data": request.POST if request.method == "POST" else {},
        },
        status=status,
    )

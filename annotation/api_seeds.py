"""Seed workspace API (curators of the campaign): upload a seed file (checked by a job, then
imported by a job on confirmation), follow it, confirm or discard it; sample and deal, each with
a preview first. Each view parses input, calls one selector or service, renders."""

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.http import NOT_ALLOWED_RESPONSE, NOT_FOUND_RESPONSE, parse
from core.parsers import StrictJSONParser

from . import jobs, selectors_assist, selectors_seeds
from .models import Role, SeedClassificationJob, SeedImport, SeedSuggestion
from .selectors import campaign_for_member
from .serializers_seeds import (
    DealingIn,
    DealingPlanOut,
    DealOut,
    SampleOut,
    SamplingIn,
    SamplingPlanOut,
    SeedClassificationJobOut,
    SeedImportConfirmIn,
    SeedImportIn,
    SeedImportOut,
    SeedSuggestionAcceptIn,
    SeedSuggestionDecisionIn,
    SeedSuggestionDecisionOut,
    SeedSuggestionOut,
)
from .services.assignments import seeds_assign
from .services.assist_seeds import seed_suggestions_accept, seed_suggestions_dismiss
from .services.seed_imports import seed_import_discard
from .services.seeds import seeds_deal_preview, seeds_sample, seeds_sample_preview

NOT_FOUND = NOT_FOUND_RESPONSE
NOT_CURATOR = NOT_ALLOWED_RESPONSE


class SeedImportFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=SeedImport.Status.choices, help_text="Only imports in this status."
    )

    class Meta:
        model = SeedImport
        fields = ["status"]


def _detail(request: Request, import_id: int, code: int = status.HTTP_200_OK) -> Response:
    # Read back what the job left (with an in-process task queue it has already run).
    seed_import = selectors_seeds.seed_import_for_curator(user=request.user, import_id=import_id)
    return Response(
        SeedImportOut(seed_import, context={"request": request, "with_reports": True}).data,
        status=code,
    )


class CampaignSeedImportListView(ListAPIView):
    """The campaign's seed imports, newest first (curator); POST uploads a file."""

    serializer_class = SeedImportOut
    filterset_class = SeedImportFilter
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self) -> QuerySet[SeedImport]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return SeedImport.objects.none()
        _campaign, qs = selectors_seeds.seed_imports_for_curator(
            user=self.request.user, slug=self.kwargs["slug"]
        )
        return qs

    @extend_schema(
        summary="The campaign's seed imports (curator)",
        responses={
            200: SeedImportOut(many=True),
            400: OpenApiResponse(description="A bad filter value"),
            403: NOT_CURATOR,
            404: NOT_FOUND,
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": SeedImportIn},
        responses={
            202: SeedImportOut,
            400: OpenApiResponse(
                description="No file, an empty one, a format or encoding the import does not "
                "read (a zip, UTF-16, a binary), or a bad preset or field mapping"
            ),
            403: NOT_CURATOR,
            404: NOT_FOUND,
        },
        summary="Upload a seed file: it is checked by a job (a dry run) before any import",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
        data = parse(SeedImportIn, request.data)
        seed_import = jobs.seed_import_start(
            campaign=campaign,
            actor=request.user,
            upload=data["file"],
            skip_bad_lines=data["skip_bad_lines"],
            options={"format": data["format"], "preset": data["preset"], "fields": data["fields"]},
        )
        return _detail(request, seed_import.pk, status.HTTP_202_ACCEPTED)


class SeedImportDetailView(APIView):
    @extend_schema(
        responses={200: SeedImportOut, 403: NOT_CURATOR, 404: NOT_FOUND},
        summary="A seed import: status, progress, the check's report and the import's",
    )
    def get(self, request: Request, pk: int) -> Response:
        return _detail(request, pk)


class SeedImportConfirmView(APIView):
    parser_classes = [StrictJSONParser, FormParser, MultiPartParser]

    @extend_schema(
        request=SeedImportConfirmIn,
        responses={
            202: SeedImportOut,
            400: OpenApiResponse(description="The file has bad lines and they are not skipped"),
            403: NOT_CURATOR,
            404: NOT_FOUND,
            409: OpenApiResponse(description="Not checked, or the taxonomy changed since"),
        },
        summary="Confirm a checked import: the seeds are imported by a job",
    )
    def post(self, request: Request, pk: int) -> Response:
        data = parse(SeedImportConfirmIn, request.data)
        jobs.seed_import_confirm(
            import_id=pk, actor=request.user, skip_bad_lines=data["skip_bad_lines"]
        )
        return _detail(request, pk, status.HTTP_202_ACCEPTED)


class SeedImportDiscardView(APIView):
    @extend_schema(
        request=None,
        responses={
            200: SeedImportOut,
            403: NOT_CURATOR,
            404: NOT_FOUND,
            409: OpenApiResponse(description="Not checked (importing, done, ...)"),
        },
        summary="Discard a checked import (its file is deleted)",
    )
    def post(self, request: Request, pk: int) -> Response:
        seed_import_discard(import_id=pk, actor=request.user)
        return _detail(request, pk)


SAMPLING_409 = OpenApiResponse(description="The size is below what is already sampled")


class SamplingPreviewView(APIView):
    @extend_schema(
        request=SamplingIn,
        responses={
            200: SamplingPlanOut,
            400: OpenApiResponse(description="Bad size or seed"),
            403: NOT_CURATOR,
            404: NOT_FOUND,
            409: SAMPLING_409,
        },
        summary="Preview a sampling: quota and shortfall per subcategory (writes nothing)",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
        data = parse(SamplingIn, request.data)
        plan = seeds_sample_preview(campaign=campaign, size=data["size"], seed=data["seed"])
        return Response(SamplingPlanOut(plan).data)


class SamplingView(APIView):
    @extend_schema(
        request=SamplingIn,
        responses={
            200: SampleOut,
            400: OpenApiResponse(description="Bad size or seed"),
            403: NOT_CURATOR,
            404: NOT_FOUND,
            409: SAMPLING_409,
        },
        summary="Sample seeds uniformly across subcategories (tops an earlier sample up)",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
        data = parse(SamplingIn, request.data)
        report = seeds_sample(
            campaign=campaign, size=data["size"], seed=data["seed"], actor=request.user
        )
        return Response(SampleOut(report).data)


DEALING_409 = OpenApiResponse(description="The campaign has no annotators")


class DealingPreviewView(APIView):
    @extend_schema(
        request=DealingIn,
        responses={
            200: DealingPlanOut,
            400: OpenApiResponse(description="Bad seed"),
            403: NOT_CURATOR,
            404: NOT_FOUND,
            409: DEALING_409,
        },
        summary="Preview dealing: seeds and subcategory mix per annotator (writes nothing)",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
        data = parse(DealingIn, request.data)
        return Response(
            DealingPlanOut(seeds_deal_preview(campaign=campaign, seed=data["seed"])).data
        )


class DealingView(APIView):
    @extend_schema(
        request=DealingIn,
        responses={
            200: DealOut,
            400: OpenApiResponse(description="Bad seed"),
            403: NOT_CURATOR,
            404: NOT_FOUND,
            409: DEALING_409,
        },
        summary="Deal every sampled, unassigned seed to the annotators (same mix for each)",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
        data = parse(DealingIn, request.data)
        report = seeds_assign(campaign=campaign, seed=data["seed"], actor=request.user)
        return Response(DealOut(report).data)


# --- model classification of seeds ----------------------------------------------------------


def _job_detail(request: Request, job_id: int, code: int = status.HTTP_200_OK) -> Response:
    # Read back what the job left (with an in-process task queue it has already run).
    job = selectors_assist.classification_job_for_curator(user=request.user, job_id=job_id)
    return Response(SeedClassificationJobOut(job, context={"request": request}).data, status=code)


class CampaignSeedClassificationListView(ListAPIView):
    """The campaign's classification jobs, newest first (curator); POST starts one."""

    serializer_class = SeedClassificationJobOut
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[SeedClassificationJob]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return SeedClassificationJob.objects.none()
        _campaign, qs = selectors_assist.classification_jobs_for_curator(
            user=self.request.user, slug=self.kwargs["slug"]
        )
        return qs

    @extend_schema(
        summary="The campaign's seed classification jobs, newest first (curator)",
        responses={200: SeedClassificationJobOut(many=True), 403: NOT_CURATOR, 404: NOT_FOUND},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=None,
        responses={
            202: SeedClassificationJobOut,
            400: OpenApiResponse(description="Every seed has a subcategory (or a suggestion)"),
            403: NOT_CURATOR,
            404: NOT_FOUND,
            409: OpenApiResponse(
                description="Model assistance is off, or a classification job is already "
                "queued or running (it is named)"
            ),
            503: OpenApiResponse(
                description="Model assistance is on but not configured (no URL or model, the "
                "key's variable unset)"
            ),
        },
        summary="Classify the seeds without a subcategory with the campaign's model (a job)",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
        job = jobs.seed_classification_start(campaign=campaign, actor=request.user)
        return _job_detail(request, job.pk, status.HTTP_202_ACCEPTED)


class SeedClassificationDetailView(APIView):
    @extend_schema(
        responses={200: SeedClassificationJobOut, 403: NOT_CURATOR, 404: NOT_FOUND},
        summary="A seed classification job: status, progress and counts",
    )
    def get(self, request: Request, pk: int) -> Response:
        return _job_detail(request, pk)


class SeedSuggestionFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=SeedSuggestion.Status.choices, help_text="Only suggestions in this status."
    )
    subcategory = django_filters.CharFilter(
        method="by_subcategory",
        help_text="Only suggestions of this subcategory (full or short name, any case).",
    )
    job = django_filters.NumberFilter(
        field_name="job_id", help_text="Only the suggestions of this classification job."
    )

    class Meta:
        model = SeedSuggestion
        fields = ["status", "subcategory", "job"]

    def by_subcategory(
        self, queryset: QuerySet[SeedSuggestion], name: str, value: str
    ) -> QuerySet[SeedSuggestion]:
        value = value.strip()
        return queryset.filter(
            Q(subcategory__name__iexact=value) | Q(subcategory__short_name__iexact=value)
        )


class CampaignSeedSuggestionListView(ListAPIView):
    """The model's suggested subcategories for the campaign's seeds, oldest first (curator)."""

    serializer_class = SeedSuggestionOut
    filterset_class = SeedSuggestionFilter

    def get_queryset(self) -> QuerySet[SeedSuggestion]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return SeedSuggestion.objects.none()
        _campaign, qs = selectors_assist.seed_suggestions_for_curator(
            user=self.request.user, slug=self.kwargs["slug"]
        )
        return qs

    @extend_schema(
        summary="The model's suggested subcategories for seeds (curator)",
        responses={
            200: SeedSuggestionOut(many=True),
            400: OpenApiResponse(description="A bad filter value"),
            403: NOT_CURATOR,
            404: NOT_FOUND,
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


DECISION_RESPONSES = {
    200: SeedSuggestionDecisionOut,
    400: OpenApiResponse(
        description="Neither ids nor all, or both; a subcategory chosen for a suggestion not "
        "accepted, or outside the campaign's taxonomy (nothing changes)"
    ),
    403: NOT_CURATOR,
    404: OpenApiResponse(
        description="No such campaign, or an id that is not a suggestion of it (nothing changes)"
    ),
    409: OpenApiResponse(description="Every chosen suggestion was already decided on"),
}


class SeedSuggestionAcceptView(APIView):
    @extend_schema(
        request=SeedSuggestionAcceptIn,
        responses=DECISION_RESPONSES,
        summary="Accept suggestions: each seed takes its suggested subcategory, or the one "
        "chosen instead",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
        data = parse(SeedSuggestionAcceptIn, request.data)
        outcome = seed_suggestions_accept(
            campaign=campaign,
            actor=request.user,
            ids=data["ids"],
            all_suggested=data["all"],
            subcategories=data["subcategories"],
        )
        return Response(SeedSuggestionDecisionOut(outcome).data)


class SeedSuggestionDismissView(APIView):
    @extend_schema(
        request=SeedSuggestionDecisionIn,
        responses=DECISION_RESPONSES,
        summary="Dismiss suggestions: the seeds keep no subcategory",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
        data = parse(SeedSuggestionDecisionIn, request.data)
        outcome = seed_suggestions_dismiss(
            campaign=campaign, actor=request.user, ids=data["ids"], all_suggested=data["all"]
        )
        return Response(SeedSuggestionDecisionOut(outcome).data)

"""The curator workspace's answers API: per-model coverage of the accepted rewrites by baseline
answers (GET) and uploading a model's answers file (POST). Curators of the campaign and
operators only."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import Role
from annotation.selectors import campaign_for_member
from core.http import parse

from .serializers_answers import ResponseCoverageOut, ResponseImportReportOut, ResponsesUploadIn
from .services.responses import responses_coverage, responses_upload

REFUSALS = {
    403: OpenApiResponse(description="Not a curator of this campaign"),
    404: OpenApiResponse(description="No such campaign (or not a member)"),
}


class CampaignResponsesView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="Per-model coverage of the accepted rewrites by baseline answers (curator)",
        responses={200: ResponseCoverageOut, **REFUSALS},
    )
    def get(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
        return Response(ResponseCoverageOut(responses_coverage(campaign=campaign)).data)

    @extend_schema(
        summary="Upload a model's baseline answers (curator); dry_run checks only",
        request={"multipart/form-data": ResponsesUploadIn},
        responses={
            201: ResponseImportReportOut,
            200: OpenApiResponse(ResponseImportReportOut, description="A dry run's report"),
            400: OpenApiResponse(
                description="Bad fields, or bad lines (each named in 'lines'); nothing imported"
            ),
            **REFUSALS,
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_member(user=request.user, slug=slug, role=Role.CURATOR)
        data = parse(ResponsesUploadIn, request.data)
        upload = data["file"]
        report = responses_upload(
            campaign=campaign,
            actor=request.user,
            model=data["model"],
            stream=upload,
            file_name=upload.name or "",
            dry_run=data["dry_run"],
        )
        return Response(
            ResponseImportReportOut(report, context={"model": data["model"]}).data,
            status=status.HTTP_200_OK if report.dry_run else status.HTTP_201_CREATED,
        )

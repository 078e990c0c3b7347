"""Release API: start a release job, follow its progress, download its files (curators only).
Each view parses input, calls one selector or service, renders."""

from typing import IO, Any

from django.db.models import QuerySet
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.http import parse

from . import jobs, selectors, services
from .models import Release
from .serializers import ReleaseIn, ReleaseOut


class CampaignReleaseListView(ListAPIView):
    """The campaign's releases, newest first (curator); POST starts one."""

    serializer_class = ReleaseOut
    filter_backends: list[type] = []

    def get_queryset(self) -> QuerySet[Release]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Release.objects.none()
        _campaign, qs = selectors.releases_for_curator(
            user=self.request.user, slug=self.kwargs["slug"]
        )
        return qs

    @extend_schema(summary="The campaign's releases (curator)")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=ReleaseIn,
        responses={
            202: ReleaseOut,
            400: OpenApiResponse(description="Bad parameters or too few eligible rewrites"),
            409: OpenApiResponse(description="The name is taken"),
        },
        summary="Start a release job (curator)",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign, _qs = selectors.releases_for_curator(user=request.user, slug=slug)
        data = parse(ReleaseIn, request.data)
        release = jobs.release_start(
            campaign=campaign, actor=request.user, parameters=services.ReleaseParameters(**data)
        )
        # With an in-process task queue the job has already run; read what it left.
        release = selectors.release_for_curator(user=request.user, release_id=release.pk)
        return Response(
            ReleaseOut(release, context={"request": request}).data,
            status=status.HTTP_202_ACCEPTED,
        )


class ReleaseDetailView(APIView):
    @extend_schema(responses=ReleaseOut, summary="A release: status, progress, files, stats")
    def get(self, request: Request, pk: int) -> Response:
        release = selectors.release_for_curator(user=request.user, release_id=pk)
        return Response(ReleaseOut(release, context={"request": request, "with_stats": True}).data)


# The content type of each kind of release file, fixed here rather than guessed from the
# machine's mime.types (which may not know .jsonl or .parquet).
RELEASE_FILE_TYPES = {
    ".jsonl": "application/x-ndjson",
    ".json": "application/json",
    ".md": "text/markdown; charset=utf-8",
    ".parquet": "application/vnd.apache.parquet",
    ".svg": "image/svg+xml",
    ".zip": "application/zip",
}
NOT_DONE_RESPONSE = OpenApiResponse(description="The release is not done yet")


class ReleaseFileResponse(FileResponse):
    """A release file sent in 64 KiB chunks as it is read from the releases storage (a local
    file, or an S3 object's HTTP body), with its size as Content-Length."""

    block_size = 64 * 1024

    def __init__(self, stream: IO[bytes], *, size: int, filename: str, content_type: str):
        super().__init__(stream, as_attachment=True, filename=filename, content_type=content_type)
        self["Content-Length"] = str(size)


def release_file_type(name: str) -> str:
    return next(
        (kind for suffix, kind in RELEASE_FILE_TYPES.items() if name.endswith(suffix)),
        "application/octet-stream",
    )


class ReleaseFileView(APIView):
    @extend_schema(
        responses={
            (200, "application/x-ndjson"): OpenApiResponse(
                bytes, description="benchmark.jsonl, questions.jsonl, arena-hard-auto files"
            ),
            (200, "application/json"): OpenApiResponse(
                # Two documents: stats.json (as in the release's detail) and manifest.json.
                {"description": "stats.json or manifest.json"},
                description="stats.json or manifest.json",
            ),
            (200, "text/markdown"): OpenApiResponse(bytes, description="README.md (the card)"),
            (200, "application/vnd.apache.parquet"): OpenApiResponse(
                bytes, description="benchmark.parquet"
            ),
            (200, "application/zip"): OpenApiResponse(
                bytes, description="the whole release as one zip (as download.zip)"
            ),
            (200, "image/svg+xml"): OpenApiResponse(
                OpenApiTypes.STR, description="figures/*.svg (the card's charts)"
            ),
            409: NOT_DONE_RESPONSE,
        },
        summary="Download one file of a finished release",
    )
    def get(self, request: Request, pk: int, name: str) -> FileResponse:
        release = selectors.release_for_curator(user=request.user, release_id=pk)
        stream, size = services.release_file_open(release=release, name=name)
        return ReleaseFileResponse(
            stream,
            size=size,
            filename=f"{release.campaign.slug}-{release.name}-{name.replace('/', '-')}",
            content_type=release_file_type(name),
        )


class ReleaseDownloadView(APIView):
    @extend_schema(
        responses={(200, "application/zip"): bytes, 409: NOT_DONE_RESPONSE},
        summary="Download a finished release as one zip (curator)",
    )
    def get(self, request: Request, pk: int) -> FileResponse:
        release = selectors.release_for_curator(user=request.user, release_id=pk)
        stream, size = services.release_zip_open(release=release)
        return ReleaseFileResponse(
            stream,
            size=size,
            filename=services.release_zip_name(release),
            content_type="application/zip",
        )

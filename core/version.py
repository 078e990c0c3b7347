"""``GET /api/v1/version/``: the running version (config/__init__.py, through
``settings.CURATION_VERSION``) and the API's major version. Anonymous: the version is shown in
every page's footer anyway, and a deployment script or a monitor reads it without a token."""

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .openapi import AutoSchema

API_VERSION = "1"


class VersionOut(serializers.Serializer[Any]):
    version = serializers.CharField(help_text="The platform's version (semantic versioning)")
    api = serializers.CharField(help_text="The API's major version (the /api/v<api>/ prefix)")


class PublicSchema(AutoSchema):
    """The API's schema for an endpoint without authentication or permissions: it never answers
    401 or 403, so those are not documented."""

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is not None:
            for code in ("401", "403"):
                operation["responses"].pop(code, None)
        return operation


class VersionView(APIView):
    """The running version. No authentication: a token or session sent along is ignored."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    schema = PublicSchema()

    @extend_schema(summary="The platform's version", responses=VersionOut, auth=[])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response({"version": settings.CURATION_VERSION, "api": API_VERSION})

"""Input and output shapes of the exports API (input validation apart from output)."""

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from .models import Release
from .services.selection import NAME_PATTERN, STRATIFY


class ReleaseIn(serializers.Serializer):
    name = serializers.RegexField(
        NAME_PATTERN,
        max_length=100,
        error_messages={"invalid": "use letters, digits, '.', '_' or '-', not starting with '.'"},
    )
    size = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    seed = serializers.IntegerField(required=False, default=42)
    stratify = serializers.ChoiceField(choices=STRATIFY, required=False, default="subcategory")
    allow_smaller = serializers.BooleanField(required=False, default=False)


class ReleaseOut(serializers.Serializer):
    """A release job: status and progress while it runs, its files (with download links) and
    statistics once done. ``stats`` is left out of lists."""

    def to_representation(self, release: Release) -> dict[str, Any]:
        request = self.context.get("request")
        files = []
        if release.status == Release.Status.DONE:
            for name, meta in release.files.items():
                url = reverse("release-file", kwargs={"pk": release.pk, "name": name})
                files.append(
                    {
                        "name": name,
                        "bytes": meta["bytes"],
                        "sha256": meta["sha256"],
                        "url": request.build_absolute_uri(url) if request else url,
                    }
                )
        dt = serializers.DateTimeField()
        out = {
            "id": release.pk,
            "campaign": release.campaign.slug,
            "name": release.name,
            "status": release.status,
            "progress": release.progress,
            "message": release.message,
            "error": release.error or None,
            "parameters": release.parameters,
            "files": files,
            "created_by": release.created_by.get_username() if release.created_by else None,
            "created_at": dt.to_representation(release.created_at),
            "started_at": dt.to_representation(release.started_at) if release.started_at else None,
            "finished_at": dt.to_representation(release.finished_at)
            if release.finished_at
            else None,
        }
        if self.context.get("with_stats"):
            out["stats"] = release.stats or None
        return out

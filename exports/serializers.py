"""Input and output shapes of the exports API (input validation apart from output)."""

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from review.serializers import AgreementOut, DistributionsOut, FunnelOut, TokenSummaryOut

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


class ReleaseParametersOut(serializers.Serializer):
    name = serializers.CharField()
    size = serializers.IntegerField(allow_null=True)
    seed = serializers.IntegerField()
    stratify = serializers.ChoiceField(choices=STRATIFY)
    allow_smaller = serializers.BooleanField()


class ReleaseFileOut(serializers.Serializer):
    name = serializers.CharField(help_text="Path inside the release, e.g. figures/categories.svg")
    bytes = serializers.IntegerField()
    sha256 = serializers.CharField()
    url = serializers.CharField(help_text="Download link")


class ReleaseFunnelOut(FunnelOut):
    released = serializers.IntegerField()
    released_curator_decided = serializers.IntegerField(
        help_text="Of the released samples, those a curator accepted (no consensus adjudicated)"
    )


class ReleaseQualityOut(serializers.Serializer):
    contaminated_excluded = serializers.IntegerField()
    reference_sets = serializers.ListField(child=serializers.CharField())
    ngram = serializers.IntegerField()
    copied_seed = serializers.IntegerField()
    near_duplicate_pairs = serializers.IntegerField()


class ReleaseStatsParametersOut(ReleaseParametersOut):
    eligible = serializers.IntegerField()


class ReleaseStatsOut(DistributionsOut):
    """The release's ``stats.json``."""

    campaign = serializers.CharField()
    release = serializers.CharField()
    total = serializers.IntegerField()
    response_tokens = serializers.DictField(child=TokenSummaryOut(), help_text="model -> tokens")
    funnel = ReleaseFunnelOut()
    agreement = AgreementOut()
    quality = ReleaseQualityOut()
    tokenizer = serializers.CharField()
    parameters = ReleaseStatsParametersOut()


class ReleaseOut(serializers.Serializer):
    """A release job: status and progress while it runs, its files (with download links) and
    statistics once done. ``stats`` is left out of lists."""

    id = serializers.IntegerField()
    campaign = serializers.CharField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=Release.Status.choices)
    progress = serializers.IntegerField(help_text="Percent done")
    message = serializers.CharField()
    error = serializers.CharField(allow_null=True)
    parameters = ReleaseParametersOut()
    files = ReleaseFileOut(many=True)
    created_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    stats = ReleaseStatsOut(allow_null=True, required=False, help_text="In a release's detail")

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

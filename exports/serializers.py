"""Input and output shapes of the exports API (input validation apart from output)."""

from dataclasses import asdict
from typing import Any

from django.urls import reverse
from rest_framework import serializers

from review.serializers import AgreementOut, DistributionsOut, FunnelOut, TokenSummaryOut

from .models import Release
from .services.job import MAX_ATTEMPTS, release_zip_name
from .services.selection import (
    CATEGORY_PATTERN,
    CODEARENA_META,
    LICENSE_PATTERN,
    MISSING_RESPONSES,
    NAME_PATTERN,
    STRATIFY,
    ReleaseParameters,
)

MISSING_RESPONSES_HELP = (
    "A model without an answer for some samples: refuse the release naming them (refuse), "
    "leave the model out (drop_model), or leave its key out of those samples (drop_key)."
)


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
    missing_responses = serializers.ChoiceField(
        choices=MISSING_RESPONSES,
        required=False,
        default="refuse",
        help_text=MISSING_RESPONSES_HELP,
    )
    baseline_model = serializers.RegexField(
        NAME_PATTERN,
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="The judges' baseline: written as each sample's `baseline` and named in "
        "arena-hard-auto's settings entry; it must have answered every sample.",
        error_messages={"invalid": "a model name: letters, digits, '.', '_' or '-'"},
    )
    arena_hard_category = serializers.RegexField(
        CATEGORY_PATTERN,
        max_length=64,
        required=False,
        default="coding",
        help_text="The questions' category for arena-hard-auto (the key of its JUDGE_SETTINGS).",
        error_messages={"invalid": "use letters, digits, '.', '_' or '-'"},
    )
    codearena_meta = serializers.ChoiceField(
        choices=CODEARENA_META,
        required=False,
        default="require",
        help_text="require: every sample gets CodeArena's meta.parsed.task_type (refused when "
        "a pair has none); omit: none does.",
    )
    license = serializers.RegexField(
        LICENSE_PATTERN,
        max_length=64,
        required=False,
        default="unknown",
        help_text="A Hugging Face license id (apache-2.0, cc-by-4.0, other, unknown, ...).",
        error_messages={"invalid": "a Hugging Face license id in lower case, e.g. apache-2.0"},
    )
    license_name = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default="", help_text="With license other"
    )
    license_link = serializers.CharField(
        max_length=300,
        required=False,
        allow_blank=True,
        default="",
        help_text="With license other: a URL or a file name such as LICENSE",
    )


class ReleaseParametersOut(serializers.Serializer):
    name = serializers.CharField()
    size = serializers.IntegerField(allow_null=True)
    seed = serializers.IntegerField()
    stratify = serializers.ChoiceField(choices=STRATIFY)
    allow_smaller = serializers.BooleanField()
    missing_responses = serializers.ChoiceField(choices=MISSING_RESPONSES)
    baseline_model = serializers.CharField(allow_blank=True)
    arena_hard_category = serializers.CharField()
    codearena_meta = serializers.ChoiceField(choices=CODEARENA_META)
    license = serializers.CharField()
    license_name = serializers.CharField(allow_blank=True)
    license_link = serializers.CharField(allow_blank=True)


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


class ReleaseResponsesOut(serializers.Serializer):
    policy = serializers.CharField(help_text="The release's missing_responses parameter")
    baseline_model = serializers.CharField(allow_null=True)
    models = serializers.ListField(child=serializers.CharField(), help_text="Included models")
    dropped_models = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Model left out -> the sample ids it has no answer for",
    )
    dropped_keys = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Model -> the sample ids whose <model>_response key is left out",
    )


class CodeArenaTaskTypeOut(serializers.Serializer):
    category = serializers.CharField()
    subcategory = serializers.CharField()
    task_type = serializers.CharField()


class ReleaseCodeArenaOut(serializers.Serializer):
    task_types = CodeArenaTaskTypeOut(many=True)
    meta = serializers.ChoiceField(choices=["written", "omitted"])
    long_questions = serializers.ListField(
        child=serializers.CharField(),
        help_text="Sample ids of questions of 1024 words or more, which CodeArena's judge skips",
    )


class ReleaseArenaHardOut(serializers.Serializer):
    bench = serializers.CharField(help_text="arena-hard-auto/data/<bench>/")
    category = serializers.CharField()
    baseline = serializers.CharField(allow_null=True)
    baseline_shipped = serializers.BooleanField()
    builtin_baseline = serializers.CharField(allow_null=True)
    models = serializers.ListField(child=serializers.CharField())


class SpreadOut(serializers.Serializer):
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    mean = serializers.FloatField(allow_null=True)
    median = serializers.FloatField(allow_null=True)


class ReleaseProvenanceOut(serializers.Serializer):
    """Who wrote the released samples: a person, or a model suggestion the author inserted and
    edited. ``human_written + model_drafted == total``."""

    human_written = serializers.IntegerField()
    model_drafted = serializers.IntegerField()
    by_model = serializers.DictField(
        child=serializers.IntegerField(), help_text="model -> model-drafted samples"
    )
    by_prompt_version = serializers.DictField(
        child=serializers.DictField(child=serializers.IntegerField()),
        help_text="model -> prompt version -> model-drafted samples",
    )
    edit_distance = SpreadOut(
        help_text="Characters changed from the suggestion (Levenshtein), over the model-drafted "
        "samples; null without any"
    )
    edit_ratio = SpreadOut(help_text="Edit distance / the suggestion's length, 3 decimals")
    edit_distance_buckets = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="0 (inserted unchanged), 1-50, 51-200, 201-1000, >1000 -> samples",
    )


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
    responses = ReleaseResponsesOut(required=False, help_text="Missing answers (newer releases)")
    codearena = ReleaseCodeArenaOut(required=False)
    arena_hard = ReleaseArenaHardOut(required=False)
    provenance = ReleaseProvenanceOut(required=False, help_text="Newer releases")


class ReleaseOut(serializers.Serializer):
    """A release job: status and progress while it runs, its files (with download links) and
    statistics once done. ``stats`` is left out of lists."""

    id = serializers.IntegerField()
    campaign = serializers.CharField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=Release.Status.choices)
    progress = serializers.IntegerField(help_text="Percent done")
    message = serializers.CharField(
        help_text="What the job is doing, or why it waits (e.g. 'enqueue failed, will retry')"
    )
    error = serializers.CharField(
        allow_null=True, help_text="Why it failed (e.g. gave up after its attempts), once failed"
    )
    attempts = serializers.IntegerField(
        help_text="How many times a worker started building it (more than one: a worker died "
        "and the job was taken over); it fails after max_attempts"
    )
    max_attempts = serializers.IntegerField()
    parameters = ReleaseParametersOut()
    files = ReleaseFileOut(many=True)
    created_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    download_url = serializers.CharField(
        allow_null=True, help_text="The whole release as one zip, once done (null before)"
    )
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
        download = None
        if release.status == Release.Status.DONE and release_zip_name(release) in release.files:
            download = reverse("release-download", kwargs={"pk": release.pk})
            download = request.build_absolute_uri(download) if request else download
        dt = serializers.DateTimeField()
        out = {
            "id": release.pk,
            "campaign": release.campaign.slug,
            "name": release.name,
            "status": release.status,
            "progress": release.progress,
            "message": release.message,
            "error": release.error or None,
            "attempts": release.attempts,
            "max_attempts": MAX_ATTEMPTS,
            # Releases started before a parameter existed were built with its default.
            "parameters": {**asdict(ReleaseParameters()), **release.parameters},
            "files": files,
            "download_url": download,
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

"""Input and output shapes of the seed workspace API (uploads, checks and imports, sampling and
dealing with their previews). Inputs are validated apart from outputs; every output is typed."""

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from .models import SeedClassificationJob, SeedImport, SeedSuggestion
from .services.seed_formats import FORMAT_NAMES, PRESETS, TARGETS

FORMAT_CHOICES = [("auto", "told from the content"), *FORMAT_NAMES.items()]
PRESET_CHOICES = [(p.name, p.label) for p in PRESETS.values()]

OUTCOMES = [
    ("new", "imported (or to import)"),
    ("already_present", "already present (same id)"),
    ("duplicate_content", "duplicate content"),
]


class SeedImportIn(serializers.Serializer):
    file = serializers.FileField(
        allow_empty_file=False,
        help_text="A seed file in UTF-8: JSON lines, a JSON array, CSV or TSV with a header "
        "row, Parquet, or a .gz of one (see annotation/README.md).",
    )
    skip_bad_lines = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Import the good lines of a file with bad lines (can be changed on confirming).",
    )
    format = serializers.ChoiceField(
        choices=FORMAT_CHOICES,
        required=False,
        default="auto",
        help_text="The file's format; auto (the default) tells it from the content.",
    )
    preset = serializers.ChoiceField(
        choices=PRESET_CHOICES,
        required=False,
        default="seeds",
        help_text="The default field mapping: "
        + "; ".join(f"{p.name}: {p.help}" for p in PRESETS.values()),
    )
    fields = serializers.ListField(  # type: ignore[assignment]
        child=serializers.CharField(allow_blank=True, max_length=4000),
        required=False,
        default=list,
        help_text="target=source entries overriding the preset (repeat the field, or one per "
        f"line); targets: {', '.join(TARGETS)}; a source is a key or a dotted path such as "
        "data.question; an empty source reads the target from nowhere.",
    )


class SeedImportConfirmIn(serializers.Serializer):
    skip_bad_lines = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Skip bad lines; needed when the check found some (default: as at the upload).",
    )


class SamplingIn(serializers.Serializer):
    size = serializers.IntegerField(
        min_value=1, max_value=10_000_000, help_text="Seeds in the sample, in all."
    )
    seed = serializers.IntegerField(required=False, default=42, help_text="Random seed.")


class DealingIn(serializers.Serializer):
    seed = serializers.IntegerField(required=False, default=42, help_text="Random seed.")


class LineErrorOut(serializers.Serializer):
    line = serializers.IntegerField(help_text="Line, row or record number (see format.unit)")
    message = serializers.CharField(help_text="Every reason, joined")
    reasons = serializers.ListField(child=serializers.CharField(), default=list)


class RepeatOut(serializers.Serializer):
    line = serializers.IntegerField()
    id = serializers.CharField()
    first_line = serializers.IntegerField(help_text="Where the kept record of this id is")


class TaskTypeNoteOut(serializers.Serializer):
    task_type = serializers.CharField()
    reason = serializers.ChoiceField(
        choices=[
            ("unknown", "not in CodeArena's task-type map"),
            ("not_in_taxonomy", "its (category, subcategory) is not in this taxonomy"),
        ]
    )
    seeds = serializers.IntegerField()
    pair = serializers.ListField(
        child=serializers.CharField(),
        allow_null=True,
        help_text="The (category, subcategory) CodeArena's map gives it",
    )


class FileFormatOut(serializers.Serializer):
    name = serializers.ChoiceField(choices=list(FORMAT_NAMES.items()))
    gzip = serializers.BooleanField()
    bom = serializers.BooleanField(help_text="UTF-8 with a byte-order mark")
    unit = serializers.ChoiceField(
        choices=[("line", "line"), ("row", "row"), ("record", "record")],
        help_text="What the report's numbers count",
    )
    description = serializers.CharField()


class SeedImportOptionsOut(serializers.Serializer):
    format = serializers.ChoiceField(choices=FORMAT_CHOICES, default="auto")
    preset = serializers.ChoiceField(choices=PRESET_CHOICES, default="seeds")
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.CharField(allow_blank=True),
        default=dict,
        help_text="target -> source, over the preset's",
    )


class DuplicateOut(serializers.Serializer):
    line = serializers.IntegerField()
    id = serializers.CharField()
    same_as = serializers.CharField(help_text="The id of the seed with the same content")


class SampleRowOut(serializers.Serializer):
    line = serializers.IntegerField()
    id = serializers.CharField()
    title = serializers.CharField(allow_blank=True)
    text = serializers.CharField(help_text="The first 300 characters")
    category = serializers.CharField(allow_null=True)
    subcategory = serializers.CharField(allow_null=True)
    outcome = serializers.ChoiceField(choices=OUTCOMES)


class SeedFileReportOut(serializers.Serializer):
    """What a check found (``new``: seeds an import would create, bad lines skipped) or what an
    import did (``new``: seeds created). Lists keep their first 1,000 entries; the counts are
    complete."""

    lines = serializers.IntegerField()
    seeds = serializers.IntegerField(help_text="Well-formed seed lines")
    new = serializers.IntegerField()
    already_present = serializers.IntegerField(help_text="Seeds whose id is in the campaign")
    duplicate_content = serializers.IntegerField()
    bad_lines = serializers.IntegerField()
    repeated = serializers.IntegerField(
        default=0, help_text="Records repeating a task id, kept once (Label Studio JSON-MIN)"
    )
    already_present_ids = serializers.ListField(child=serializers.CharField())
    duplicates = DuplicateOut(many=True)
    # The key of seeds_import's report; a declared field, so the "errors" property stays.
    errors = LineErrorOut(many=True, help_text="Each bad line once, with all its reasons")  # type: ignore[assignment]
    repeats = RepeatOut(many=True, default=list)
    sample = SampleRowOut(many=True, help_text="The first 20 seeds, as parsed")
    task_types_classified = serializers.IntegerField(
        default=0, help_text="Seeds given a subcategory by their CodeArena task type"
    )
    task_type_notes = TaskTypeNoteOut(
        many=True, default=list, help_text="Task types that could not classify their seeds"
    )
    format = FileFormatOut(
        allow_null=True, default=None, help_text="The format the check read (check only)"
    )
    nothing_to_import = serializers.CharField(
        allow_null=True, default=None, help_text="Why the file would import nothing (check)"
    )


class SeedImportOut(serializers.Serializer):
    """An uploaded seed file: its check (a dry run) and its import, each a job with progress.
    Lists leave the reports out."""

    id = serializers.IntegerField()
    campaign = serializers.CharField()
    file_name = serializers.CharField()
    size = serializers.IntegerField(help_text="Bytes")
    sha256 = serializers.CharField()
    status = serializers.ChoiceField(choices=SeedImport.Status.choices)
    progress = serializers.IntegerField(help_text="Percent of the current job done")
    message = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_null=True)
    skip_bad_lines = serializers.BooleanField()
    options = SeedImportOptionsOut(help_text="How the file is read: format, preset, mapping")
    created_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    url = serializers.CharField(help_text="This import in the API")
    check_report = SeedFileReportOut(
        allow_null=True, required=False, help_text="Once checked (in an import's detail)"
    )
    report = SeedFileReportOut(
        allow_null=True,
        required=False,
        help_text="While importing (so far) and once done (in an import's detail)",
    )

    def to_representation(self, seed_import: SeedImport) -> dict[str, Any]:
        request = self.context.get("request")
        url = reverse("seed-import-detail", kwargs={"pk": seed_import.pk})
        dt = serializers.DateTimeField()
        out: dict[str, Any] = {
            "id": seed_import.pk,
            "campaign": seed_import.campaign.slug,
            "file_name": seed_import.original_name,
            "size": seed_import.size,
            "sha256": seed_import.sha256,
            "status": seed_import.status,
            "progress": seed_import.progress,
            "message": seed_import.message,
            "error": seed_import.error or None,
            "skip_bad_lines": seed_import.skip_bad_lines,
            "options": SeedImportOptionsOut(seed_import.options or {}).data,
            "created_by": seed_import.created_by.get_username() if seed_import.created_by else None,
            "created_at": dt.to_representation(seed_import.created_at),
            "started_at": dt.to_representation(seed_import.started_at)
            if seed_import.started_at
            else None,
            "finished_at": dt.to_representation(seed_import.finished_at)
            if seed_import.finished_at
            else None,
            "url": request.build_absolute_uri(url) if request else url,
        }
        if self.context.get("with_reports"):
            out["check_report"] = (
                SeedFileReportOut(seed_import.check_report).data
                if seed_import.check_report
                else None
            )
            out["report"] = (
                SeedFileReportOut(seed_import.report).data if seed_import.report else None
            )
        return out


class SubcategoryQuotaOut(serializers.Serializer):
    subcategory = serializers.CharField()
    available = serializers.IntegerField(help_text="Seeds it has, sampled or pooled")
    already_sampled = serializers.IntegerField()
    quota = serializers.IntegerField(help_text="Seeds it holds once the sample is taken")
    shortfall = serializers.IntegerField(
        help_text="How far it falls short of an equal share (spread over the others)"
    )


class SamplingPlanOut(serializers.Serializer):
    size = serializers.IntegerField()
    seed = serializers.IntegerField()
    already_sampled = serializers.IntegerField()
    sampled_now = serializers.IntegerField(help_text="Seeds the sampling would add")
    sampled_total = serializers.IntegerField()
    pool_short = serializers.IntegerField(help_text="How many fewer than size the pool has")
    equal_share = serializers.IntegerField()
    unclassified = serializers.IntegerField(help_text="Seeds without a subcategory (never sampled)")
    subcategories = SubcategoryQuotaOut(many=True)


class SampleOut(serializers.Serializer):
    size = serializers.IntegerField()
    sampled_now = serializers.IntegerField()
    sampled_total = serializers.IntegerField()
    unclassified = serializers.IntegerField()
    quotas = serializers.DictField(child=serializers.IntegerField(), help_text="subcategory ->")
    available = serializers.DictField(child=serializers.IntegerField(), help_text="subcategory ->")


class AnnotatorShareOut(serializers.Serializer):
    annotator = serializers.CharField()
    seeds = serializers.IntegerField()
    subcategories = serializers.DictField(
        child=serializers.IntegerField(), help_text="subcategory -> seeds dealt"
    )


class DealingPlanOut(serializers.Serializer):
    seed = serializers.IntegerField()
    seeds = serializers.IntegerField(help_text="Sampled, unassigned seeds to deal")
    annotators = AnnotatorShareOut(many=True)


class DealOut(serializers.Serializer):
    assigned = serializers.IntegerField()
    per_annotator = serializers.DictField(
        child=serializers.IntegerField(), help_text="annotator -> seeds dealt"
    )


# --- model classification of seeds -----------------------------------------------------------


class SeedClassificationJobOut(serializers.Serializer):
    """A job asking the campaign's model for the subcategory of every seed without one."""

    id = serializers.IntegerField()
    campaign = serializers.CharField()
    status = serializers.ChoiceField(choices=SeedClassificationJob.Status.choices)
    progress = serializers.IntegerField(help_text="Percent done")
    total = serializers.IntegerField(help_text="Seeds the job asks about")
    done_count = serializers.IntegerField(help_text="Seeds asked about so far")
    classified = serializers.IntegerField(help_text="Seeds given a suggested subcategory")
    unclassified = serializers.IntegerField(
        help_text="Seeds whose answers named no subcategory of the taxonomy, twice"
    )
    failed = serializers.IntegerField(help_text="Seeds whose model call failed")
    message = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_null=True)
    model = serializers.CharField(allow_blank=True)
    prompt_version = serializers.CharField(allow_blank=True)
    created_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    url = serializers.CharField(help_text="This job in the API")

    def to_representation(self, job: SeedClassificationJob) -> dict[str, Any]:
        request = self.context.get("request")
        url = reverse("seed-classification-detail", kwargs={"pk": job.pk})
        dt = serializers.DateTimeField()
        return {
            "id": job.pk,
            "campaign": job.campaign.slug,
            "status": job.status,
            "progress": job.progress,
            "total": job.total,
            "done_count": job.done_count,
            "classified": job.classified,
            "unclassified": job.unclassified,
            "failed": job.failed,
            "message": job.message,
            "error": job.error or None,
            "model": job.model,
            "prompt_version": job.prompt_version,
            "created_by": job.created_by.get_username() if job.created_by else None,
            "created_at": dt.to_representation(job.created_at),
            "started_at": dt.to_representation(job.started_at) if job.started_at else None,
            "finished_at": dt.to_representation(job.finished_at) if job.finished_at else None,
            "url": request.build_absolute_uri(url) if request else url,
        }


class SuggestedSeedOut(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    title = serializers.CharField(allow_blank=True)
    snippet = serializers.CharField(allow_blank=True, help_text="The text's first 200 characters")
    subcategory = serializers.CharField(
        allow_null=True, help_text="The seed's subcategory now (set once a suggestion is accepted)"
    )


class SeedSuggestionOut(serializers.Serializer):
    """The model's suggested subcategory for a seed, or why it has none."""

    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=SeedSuggestion.Status.choices)
    seed = SuggestedSeedOut()
    category = serializers.CharField(allow_null=True)
    subcategory = serializers.CharField(allow_null=True)
    model = serializers.CharField()
    prompt_version = serializers.CharField()
    raw_answer = serializers.CharField(
        allow_blank=True, help_text="The model's last answer, when it named no subcategory"
    )
    error = serializers.CharField(allow_blank=True, help_text="Why the call failed")
    job = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    decided_by = serializers.CharField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, suggestion: SeedSuggestion) -> dict[str, Any]:
        seed = suggestion.seed
        sub = suggestion.subcategory
        dt = serializers.DateTimeField()
        return {
            "id": suggestion.pk,
            "status": suggestion.status,
            "seed": {
                "id": seed.pk,
                "external_id": seed.external_id,
                "title": seed.title,
                # Annotated by the selector: a page never reads whole seed texts.
                "snippet": getattr(suggestion, "seed_snippet", "") or "",
                "subcategory": seed.subcategory.name if seed.subcategory else None,
            },
            "category": sub.category.name if sub is not None else None,
            "subcategory": sub.name if sub is not None else None,
            "model": suggestion.model,
            "prompt_version": suggestion.prompt_version,
            "raw_answer": suggestion.raw_answer,
            "error": suggestion.error,
            "job": suggestion.job_id,
            "created_at": dt.to_representation(suggestion.created_at),
            "decided_by": suggestion.decided_by.get_username() if suggestion.decided_by else None,
            "decided_at": dt.to_representation(suggestion.decided_at)
            if suggestion.decided_at
            else None,
        }


class SeedSuggestionDecisionIn(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        default=list,
        max_length=5000,
        help_text="The suggestions to decide on (at most 5,000)",
    )
    all = serializers.BooleanField(
        required=False, default=False, help_text="Every suggestion waiting for a decision"
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["all"] and attrs["ids"]:
            raise serializers.ValidationError({"ids": ["send either ids or all: true, not both"]})
        if not attrs["all"] and not attrs["ids"]:
            raise serializers.ValidationError({"ids": ["choose at least one, or send all: true"]})
        return attrs


class SeedSuggestionAcceptIn(SeedSuggestionDecisionIn):
    subcategories = serializers.DictField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        default=dict,
        help_text=(
            "Suggestion id -> subcategory id: accept these suggestions with the subcategory "
            "the curator chose instead of the model's (each an id among those accepted)"
        ),
    )

    def validate_subcategories(self, value: dict[str, int]) -> dict[int, int]:
        out: dict[int, int] = {}
        for key, sub in value.items():
            if not str(key).isdigit() or int(key) < 1:
                raise serializers.ValidationError(f"{key!r} is not a suggestion id")
            out[int(key)] = sub
        return out


class SeedSuggestionDecisionOut(serializers.Serializer):
    accepted = serializers.IntegerField()
    dismissed = serializers.IntegerField(
        help_text="Dismissed: as asked, or (accepting) because the seed got a subcategory meanwhile"
    )
    skipped = serializers.IntegerField(help_text="Chosen but no longer waiting for a decision")
    already_classified = serializers.ListField(
        child=serializers.CharField(),
        help_text="External ids of the seeds that had a subcategory already (first 100)",
    )

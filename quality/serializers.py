"""Output shapes of the quality flags, nested in the review app's ballot and rewrite outputs,
and the input and output shapes of the curator workspace's references API."""

from typing import Any

from rest_framework import serializers

from .models import ContaminationHit, ReferenceSet, SimilarityFlag
from .selectors_references import AvailableReferenceSet, reference_set_may_reload


class ContaminationHitOut(serializers.Serializer):
    """A public benchmark document the rewrite shares word n-grams with."""

    reference_set = serializers.CharField()
    document_id = serializers.CharField()
    ngram = serializers.CharField(help_text="The first shared n-gram, as normalised words.")
    n = serializers.IntegerField()
    overlap = serializers.IntegerField(help_text="How many of the rewrite's n-grams it shares.")

    def to_representation(self, hit: ContaminationHit) -> dict[str, Any]:
        return {
            "reference_set": hit.document.reference_set.name,
            "document_id": hit.document.doc_id,
            "ngram": hit.ngram,
            "n": hit.n,
            "overlap": hit.overlap,
        }


QUALITY_CHECK_STATES = [
    ("", "Not submitted"),
    ("pending", "Pending"),
    ("done", "Done"),
    ("failed", "Failed"),
]


class QualityCheckField(serializers.ChoiceField):
    """Whether a rewrite's quality checks ran (quality.selectors.check_state)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "help_text",
            "Whether decontamination and similarity checks ran on it; while pending its flags "
            "may be incomplete",
        )
        super().__init__(choices=QUALITY_CHECK_STATES, **kwargs)


class SimilarityFlagOut(serializers.Serializer):
    """Copies its seed, or nearly duplicates another seed's rewrite."""

    kind = serializers.ChoiceField(choices=SimilarityFlag.Kind.choices)
    score = serializers.FloatField(help_text="Word 3-gram Jaccard similarity.")
    other_rewrite = serializers.IntegerField(allow_null=True)
    other_seed = serializers.CharField(allow_null=True)

    def to_representation(self, flag: SimilarityFlag) -> dict[str, Any]:
        return {
            "kind": flag.kind,
            "score": flag.score,
            "other_rewrite": flag.other_id,
            "other_seed": flag.other.seed.external_id if flag.other is not None else None,
        }


# --- the curator workspace's references (input apart from output) -----------------------------


def _split_names(values: list[str]) -> list[str]:
    """Field names as a list; each value may itself hold several, separated by commas or
    spaces (the page's one text box)."""
    return [name for value in values for name in value.replace(",", " ").split() if name]


class ReferenceSetUploadIn(serializers.Serializer):
    """A reference benchmark uploaded from a campaign's workspace (multipart)."""

    name = serializers.SlugField(max_length=100, help_text="The set's name, e.g. humaneval")
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=False),
        min_length=1,
        help_text="One or more .jsonl or .jsonl.gz files (repeat the field)",
    )
    # DRF's metaclass takes declared fields off the class, so "fields" does not shadow
    # Serializer.fields at run time; the stubs cannot know.
    fields = serializers.ListField(  # type: ignore[assignment]
        child=serializers.CharField(max_length=200),
        required=False,
        default=list,
        help_text="Record fields to index (repeatable, or comma-separated); default: the "
        "question-like fields a record has (prompt, text, instruction, problem, question)",
    )
    id_field = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="Record field holding the document id; default: the first of task_id, _id, "
        "name, id, uid, question_id a record has",
    )

    def validate_fields(self, value: list[str]) -> list[str]:
        return _split_names(value)

    def validate_id_field(self, value: str) -> str:
        return value.strip()


class ReferenceSourceOut(serializers.Serializer):
    file = serializers.CharField()
    sha256 = serializers.CharField()


class ReferenceSetOut(serializers.Serializer):
    """A loaded reference set, as a campaign's curators see it: what it holds, who loaded it
    (for which campaign: its curators may reload it), when rewrites were last checked against
    it and how many of this campaign's rewrites it contaminates."""

    name = serializers.CharField()
    documents = serializers.IntegerField()
    files = ReferenceSourceOut(many=True)
    fields = serializers.ListField(child=serializers.CharField())  # type: ignore[assignment]
    loaded_at = serializers.DateTimeField()
    loaded_by = serializers.CharField(allow_null=True, help_text="Username; null for a command")
    loaded_for = serializers.CharField(
        allow_null=True,
        help_text="Slug of the campaign whose curator loaded it; null when an operator did",
    )
    checked_at = serializers.DateTimeField(allow_null=True)
    contaminated = serializers.IntegerField(
        help_text="This campaign's rewrites (any revision) sharing an n-gram with it"
    )
    contaminated_accepted = serializers.IntegerField(help_text="Of those, the accepted ones")
    may_reload = serializers.BooleanField(help_text="Whether you may reload (replace) it")

    def to_representation(self, ref: ReferenceSet) -> dict[str, Any]:
        user = self.context.get("user")
        return {
            "name": ref.name,
            "documents": ref.documents_count,
            "files": [
                {"file": str(s.get("file", "")), "sha256": str(s.get("sha256", ""))}
                for s in ref.sources
                if isinstance(s, dict)
            ],
            "fields": [str(f) for f in ref.fields],
            "loaded_at": serializers.DateTimeField().to_representation(ref.loaded_at),
            "loaded_by": ref.loaded_by.get_username() if ref.loaded_by is not None else None,
            "loaded_for": ref.loaded_for.slug if ref.loaded_for is not None else None,
            "checked_at": (
                serializers.DateTimeField().to_representation(ref.checked_at)
                if ref.checked_at is not None
                else None
            ),
            "contaminated": getattr(ref, "contaminated", 0),
            "contaminated_accepted": getattr(ref, "contaminated_accepted", 0),
            "may_reload": reference_set_may_reload(user, ref),
        }


class ReferenceSetLoadOut(serializers.Serializer):
    """The outcome of a load: the set, and the re-check of every campaign's rewrites."""

    reference_set = ReferenceSetOut()
    replaced = serializers.IntegerField(help_text="Documents of the set it replaced")
    rechecked = serializers.IntegerField(help_text="Rewrites re-checked (every campaign)")
    contaminated_all_campaigns = serializers.IntegerField(
        help_text="Rewrites of every campaign that share an n-gram with it"
    )


class AvailableFileOut(serializers.Serializer):
    name = serializers.CharField()
    bytes = serializers.IntegerField()


class AvailableReferenceSetOut(serializers.Serializer):
    """A set this deployment offers (a folder of REFERENCES_DIR) and whether it is loaded."""

    name = serializers.CharField()
    files = AvailableFileOut(many=True)
    loaded = serializers.BooleanField()
    loaded_at = serializers.DateTimeField(allow_null=True)
    checked_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, available: AvailableReferenceSet) -> dict[str, Any]:
        loaded = available.loaded
        stamp = serializers.DateTimeField()
        return {
            "name": available.name,
            "files": [{"name": f.name, "bytes": f.bytes} for f in available.files],
            "loaded": loaded is not None,
            "loaded_at": stamp.to_representation(loaded.loaded_at) if loaded else None,
            "checked_at": (
                stamp.to_representation(loaded.checked_at)
                if loaded is not None and loaded.checked_at is not None
                else None
            ),
        }

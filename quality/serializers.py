"""Output shapes of the quality flags, nested in the review app's ballot and rewrite outputs."""

from typing import Any

from rest_framework import serializers

from .models import ContaminationHit, SimilarityFlag


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

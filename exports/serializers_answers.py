"""Input and output shapes of the curator workspace's answers API (baseline responses)."""

from typing import Any

from rest_framework import serializers

from review.serializers import TokenSummaryOut

from .services.responses import MODEL_NAME, ResponseCoverage, ResponseImportReport


class ResponsesUploadIn(serializers.Serializer):
    """A model's answers file (multipart), imported with the rules of ``import_responses``."""

    model = serializers.RegexField(
        MODEL_NAME.pattern,
        max_length=100,
        help_text="Model name; the release exports its answers as <model>_response",
        error_messages={"invalid": "use letters, digits, '.', '_' or '-' (starting with one)"},
    )
    file = serializers.FileField(
        allow_empty_file=False,
        help_text="JSON lines keyed by seed_id, or id / uid / question_id (a release sample id "
        "or a seed id); the answer in response / answer / output / completion / text or the "
        "last assistant message (arena-hard-auto model answers as they are); .gz accepted",
    )
    dry_run = serializers.BooleanField(
        required=False, default=False, help_text="Check the file and report; import nothing"
    )


class ResponseImportReportOut(serializers.Serializer):
    model = serializers.CharField()
    lines = serializers.IntegerField(help_text="Lines read")
    imported = serializers.IntegerField(help_text="Answers imported (would be, in a dry run)")
    replaced = serializers.IntegerField(help_text="Earlier answers of the model replaced")
    dry_run = serializers.BooleanField()

    def to_representation(self, report: ResponseImportReport) -> dict[str, Any]:
        return {
            "model": self.context["model"],
            "lines": report.lines,
            "imported": report.imported,
            "replaced": report.replaced,
            "dry_run": report.dry_run,
        }


class MissingAnswerOut(serializers.Serializer):
    seed_id = serializers.CharField(help_text="The seed's id in the seed file")
    rewrite_id = serializers.IntegerField()


class ModelCoverageOut(serializers.Serializer):
    model = serializers.CharField()
    answered = serializers.IntegerField(help_text="Accepted rewrites with an answer")
    accepted = serializers.IntegerField()
    coverage = serializers.FloatField(allow_null=True, help_text="answered / accepted")
    responses = serializers.IntegerField(help_text="Answers imported for this campaign")
    outside_accepted = serializers.IntegerField(
        help_text="Answers to seeds without an accepted rewrite (not released)"
    )
    imported_at = serializers.DateTimeField(allow_null=True)
    tokens = TokenSummaryOut()
    missing = MissingAnswerOut(many=True, help_text="The first 20 accepted rewrites without one")
    missing_count = serializers.IntegerField()


class ResponseCoverageOut(serializers.Serializer):
    """Per model, how many of the campaign's accepted rewrites have a baseline answer."""

    accepted = serializers.IntegerField(help_text="Accepted rewrites of the campaign")
    models = ModelCoverageOut(many=True)

    def to_representation(self, coverage: ResponseCoverage) -> dict[str, Any]:
        stamp = serializers.DateTimeField()
        return {
            "accepted": coverage.accepted,
            "models": [
                {
                    "model": m.model,
                    "answered": m.answered,
                    "accepted": m.accepted,
                    "coverage": m.coverage,
                    "responses": m.responses,
                    "outside_accepted": m.outside_accepted,
                    "imported_at": (
                        stamp.to_representation(m.imported_at) if m.imported_at else None
                    ),
                    "tokens": m.tokens,
                    "missing": [
                        {"seed_id": x.seed_id, "rewrite_id": x.rewrite_id} for x in m.missing
                    ],
                    "missing_count": m.missing_count,
                }
                for m in coverage.models
            ],
        }

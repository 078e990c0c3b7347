"""Input parsing and output rendering for model-assisted curation (draft suggestions)."""

from typing import Any

from rest_framework import serializers

from .models import DraftSuggestion


class DraftSuggestionOut(serializers.Serializer):
    """A model's suggested rewrite and tags for an assignment's seed. Tags are names in the
    campaign's vocabulary (suggested languages outside it are dropped)."""

    id = serializers.IntegerField()
    text = serializers.CharField(help_text="The suggested question, in markdown")
    difficulty = serializers.CharField(help_text="easy, medium, hard, or empty if none was given")
    programming_languages = serializers.ListField(child=serializers.CharField())
    model = serializers.CharField()
    prompt_version = serializers.CharField(help_text="builtin-v1 or campaign-v<n>")
    created_at = serializers.DateTimeField()
    tokens_in = serializers.IntegerField(allow_null=True)
    tokens_out = serializers.IntegerField(allow_null=True)

    def to_representation(self, suggestion: DraftSuggestion) -> dict[str, Any]:
        call = suggestion.call  # select_related by the selector and the service
        return {
            "id": suggestion.pk,
            "text": suggestion.text,
            "difficulty": suggestion.difficulty,
            "programming_languages": list(suggestion.programming_languages or []),
            "model": suggestion.model,
            "prompt_version": suggestion.prompt_version,
            "created_at": serializers.DateTimeField().to_representation(suggestion.created_at),
            "tokens_in": call.tokens_in if call is not None else None,
            "tokens_out": call.tokens_out if call is not None else None,
        }


class ModelUnavailableOut(serializers.Serializer):
    """The campaign's model could not help (503); nothing was changed."""

    detail = serializers.CharField()
    code = serializers.CharField()
    reason = serializers.ChoiceField(
        choices=["not_configured", "unreachable", "timeout", "endpoint_error", "auth", "malformed"]
    )


class DraftSuggestionErrorOut(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    reason = serializers.CharField(help_text="unreachable, timeout, malformed, ... or empty")
    status = serializers.IntegerField(help_text="The HTTP status it would have had")


class DraftSuggestionEventOut(serializers.Serializer):
    """One line of the streamed answer (``application/x-ndjson``): ``delta`` pieces of the
    question as it arrives, then one ``suggestion`` (stored) or ``error``."""

    delta = serializers.CharField(required=False)
    suggestion = DraftSuggestionOut(required=False)
    error = DraftSuggestionErrorOut(required=False)

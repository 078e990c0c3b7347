"""Input parsing and typed output of the campaign and guidelines endpoints (inputs separate from
outputs; the campaign-new and settings pages parse their forms with the same inputs)."""

from typing import Any

from django.conf import settings
from rest_framework import serializers

from .models import AssistPurpose, CallPurpose, ModelCall
from .rendering import render_markdown
from .selectors_campaigns import VersionWithDiff
from .services.assist_settings import (
    ASSIST_FIELDS,
    CONCURRENCY_MAX,
    OUTPUT_TOKENS_MAX,
    PROMPT_MAX_CHARS,
    RATE_LIMIT_MAX,
    TIMEOUT_MAX_SECONDS,
    api_key_is_set,
)
from .services.campaigns import (
    MAX_LEASE_MINUTES,
    MAX_PANEL_SIZE,
    TAXONOMY_MAX_BYTES,
)
from .services.guidelines import GUIDELINES_MAX_CHARS
from .vocabulary import BUILTIN_TAXONOMIES

TAXONOMY_CHOICES = [*sorted(BUILTIN_TAXONOMIES), "none", "upload"]


class CampaignCreateIn(serializers.Serializer):
    slug = serializers.CharField(max_length=64, help_text="Letters, digits, '-' and '_'.")
    name = serializers.CharField(max_length=200)
    taxonomy = serializers.ChoiceField(
        choices=TAXONOMY_CHOICES,
        default="codearena",
        help_text="A built-in taxonomy, 'none' (empty) or 'upload' (taxonomy_file or "
        "taxonomy_json, in the shape of the built-in one).",
    )
    taxonomy_file = serializers.FileField(
        required=False, allow_null=True, help_text="Taxonomy JSON file (multipart upload)."
    )
    taxonomy_json = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=TAXONOMY_MAX_BYTES,
        trim_whitespace=False,
        help_text="The taxonomy JSON as text (instead of a file).",
    )
    panel_size = serializers.IntegerField(default=4, min_value=1, max_value=MAX_PANEL_SIZE)
    accept_threshold = serializers.IntegerField(default=3, min_value=1, max_value=MAX_PANEL_SIZE)
    target_release_size = serializers.IntegerField(default=397, min_value=1)
    lease_minutes = serializers.IntegerField(
        default=24 * 60, min_value=1, max_value=MAX_LEASE_MINUTES
    )
    max_active_assignments = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, default=None
    )
    tokenizer = serializers.CharField(
        required=False, allow_blank=True, max_length=64, help_text="tiktoken encoding name."
    )
    early_decision = serializers.BooleanField(default=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["taxonomy"] == "upload" and not (
            attrs.get("taxonomy_file") or attrs.get("taxonomy_json")
        ):
            raise serializers.ValidationError(
                {"taxonomy_file": ["Upload a taxonomy JSON file (or send taxonomy_json)."]}
            )
        return attrs


def campaign_create_arguments(data: dict[str, Any]) -> dict[str, Any]:
    """CampaignCreateIn's validated data as ``campaign_create`` arguments (an uploaded
    taxonomy as its bytes, which the service parses and checks)."""
    choice = data.pop("taxonomy")
    upload = data.pop("taxonomy_file", None)
    text = data.pop("taxonomy_json", "")
    if choice == "upload":
        # The file's bytes: the service parses and checks them with every other field.
        # One byte more than the limit is enough to refuse a larger file without reading it all.
        taxonomy: Any = upload.read(TAXONOMY_MAX_BYTES + 1) if upload else text.encode("utf-8")
    else:
        taxonomy = None if choice == "none" else choice
    return {**data, "taxonomy": taxonomy, "tokenizer": data.get("tokenizer") or None}


class CampaignSettingsIn(serializers.Serializer):
    """Every field optional: only those sent change."""

    name = serializers.CharField(required=False, max_length=200)
    panel_size = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PANEL_SIZE)
    accept_threshold = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_PANEL_SIZE
    )
    target_release_size = serializers.IntegerField(required=False, min_value=1)
    lease_minutes = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_LEASE_MINUTES
    )
    max_active_assignments = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    early_decision = serializers.BooleanField(required=False)
    curator_may_accept = serializers.BooleanField(
        required=False,
        help_text="Curators may adjudicate a no-consensus rewrite as accepted (rejecting it is "
        "always allowed)",
    )
    tokenizer = serializers.CharField(required=False, max_length=64)


class LockedSettingOut(serializers.Serializer):
    field = serializers.CharField()
    reason = serializers.CharField()


class CampaignSettingsOut(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    tokenizer = serializers.CharField()
    panel_size = serializers.IntegerField()
    accept_threshold = serializers.IntegerField()
    target_release_size = serializers.IntegerField()
    lease_minutes = serializers.IntegerField()
    max_active_assignments = serializers.IntegerField(allow_null=True)
    early_decision = serializers.BooleanField()
    curator_may_accept = serializers.BooleanField(
        help_text="Curators may adjudicate a no-consensus rewrite as accepted."
    )
    contamination_ngram = serializers.IntegerField(help_text="Changed by quality's settings.")
    guidelines_version = serializers.IntegerField(help_text="0 while there are no guidelines.")
    created_at = serializers.DateTimeField()
    categories = serializers.IntegerField()
    subcategories = serializers.IntegerField()
    programming_languages = serializers.IntegerField()
    locked = LockedSettingOut(many=True, help_text="Settings that cannot change now, and why.")


class GuidelinesIn(serializers.Serializer):
    text = serializers.CharField(
        allow_blank=True, trim_whitespace=False, max_length=GUIDELINES_MAX_CHARS
    )


class GuidelinesOut(serializers.Serializer):
    version = serializers.IntegerField(help_text="The newest version; 0 while there is none.")
    text = serializers.CharField()
    html = serializers.CharField(help_text="Sanitized HTML, as the pages show it.")
    unread = serializers.BooleanField(help_text="The guidelines changed since you last read them.")
    updated_at = serializers.DateTimeField(allow_null=True)
    author = serializers.CharField(allow_null=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        campaign, newest, unread = instance["campaign"], instance["newest"], instance["unread"]
        return {
            "version": newest.number if newest else 0,
            "text": campaign.guidelines,
            "html": render_markdown(campaign.guidelines),
            "unread": unread,
            "updated_at": serializers.DateTimeField().to_representation(newest.created_at)
            if newest
            else None,
            "author": _username(newest.author) if newest else None,
        }


def _username(user: Any) -> str | None:
    return user.get_username() if user is not None else None


class GuidelinesVersionOut(serializers.Serializer):
    number = serializers.IntegerField()
    author = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    chars = serializers.IntegerField()

    def to_representation(self, version: Any) -> dict[str, Any]:
        return {
            "number": version.number,
            "author": _username(version.author),
            "created_at": serializers.DateTimeField().to_representation(version.created_at),
            "chars": len(version.text),
        }


class GuidelinesVersionDetailOut(GuidelinesVersionOut):
    text = serializers.CharField()
    html = serializers.CharField()
    previous = serializers.IntegerField(allow_null=True, help_text="The version before, if any.")
    diff = serializers.CharField(help_text="Unified diff from the previous version.")
    added = serializers.IntegerField(help_text="Lines added since the previous version.")
    removed = serializers.IntegerField(help_text="Lines removed since the previous version.")

    def to_representation(self, item: VersionWithDiff) -> dict[str, Any]:
        return {
            **super().to_representation(item.version),
            "text": item.version.text,
            "html": render_markdown(item.version.text),
            "previous": item.previous.number if item.previous else None,
            "diff": item.diff,
            "added": item.added,
            "removed": item.removed,
        }


class GuidelinesReadOut(serializers.Serializer):
    version = serializers.IntegerField(help_text="The version you have now read.")
    unread = serializers.BooleanField()


# --- model assistance (curators) ------------------------------------------------------------


class AssistSettingsIn(serializers.Serializer):
    """Every field optional: only those sent change. Ranges are checked by the service, which
    names every bad field at once."""

    enabled = serializers.BooleanField(
        required=False, help_text="Model assistance on; needs base_url and model."
    )
    base_url = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="An OpenAI-compatible API base, e.g. https://api.openai.com/v1, "
        "http://localhost:11434/v1 (Ollama), http://localhost:1234/v1 (LM Studio), a vLLM "
        "server's /v1. A pasted .../chat/completions is trimmed.",
    )
    model = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    api_key_env = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="The NAME of the server's environment variable that holds the key (it must "
        f"be {settings.CURATION_MODEL_KEY_PREFIX} or start with "
        f"{settings.CURATION_MODEL_KEY_PREFIX}_); empty for an endpoint without a key. "
        "The key itself is never sent nor stored.",
    )
    timeout_seconds = serializers.FloatField(
        required=False, help_text=f"Above 0, at most {TIMEOUT_MAX_SECONDS}."
    )
    concurrency = serializers.IntegerField(
        required=False, help_text=f"Calls at once for this campaign, 1 to {CONCURRENCY_MAX}."
    )
    rate_limit_per_minute = serializers.IntegerField(
        required=False, help_text=f"Calls per minute for this campaign, 1 to {RATE_LIMIT_MAX}."
    )
    max_output_tokens = serializers.IntegerField(
        required=False, help_text=f"1 to {OUTPUT_TOKENS_MAX}."
    )
    stream = serializers.BooleanField(required=False)
    suggest_drafts = serializers.BooleanField(required=False)
    reviewer_hint = serializers.BooleanField(required=False)
    hint_before_vote = serializers.BooleanField(
        required=False,
        help_text="Reviewers may read the hint before voting (it can anchor a blind vote).",
    )


class AssistSettingsOut(serializers.Serializer):
    """The settings; the API key appears only as the name of its variable and whether that
    variable is set on this server."""

    enabled = serializers.BooleanField()
    base_url = serializers.CharField()
    model = serializers.CharField()
    api_key_env = serializers.CharField()
    api_key_set = serializers.BooleanField(
        help_text="Whether api_key_env is set on this server (the key is never shown)."
    )
    api_key_prefix = serializers.CharField(help_text="api_key_env must be this or start with it_")
    allowed_hosts = serializers.ListField(
        child=serializers.CharField(), help_text="Hosts an endpoint may be on; empty: any."
    )
    timeout_seconds = serializers.FloatField()
    concurrency = serializers.IntegerField()
    rate_limit_per_minute = serializers.IntegerField()
    max_output_tokens = serializers.IntegerField()
    stream = serializers.BooleanField()
    suggest_drafts = serializers.BooleanField()
    reviewer_hint = serializers.BooleanField()
    hint_before_vote = serializers.BooleanField()
    updated_at = serializers.DateTimeField(allow_null=True)
    updated_by = serializers.CharField(allow_null=True)

    def to_representation(self, config: Any) -> dict[str, Any]:
        return {
            **{key: getattr(config, key) for key in ASSIST_FIELDS},
            "api_key_set": api_key_is_set(config.api_key_env),
            "api_key_prefix": settings.CURATION_MODEL_KEY_PREFIX,
            "allowed_hosts": list(settings.CURATION_MODEL_ALLOWED_HOSTS),
            "updated_at": serializers.DateTimeField().to_representation(config.updated_at)
            if config.pk and config.updated_at
            else None,
            "updated_by": _username(config.updated_by) if config.pk else None,
        }


class AssistPromptIn(serializers.Serializer):
    purpose = serializers.ChoiceField(choices=AssistPurpose.choices)
    text = serializers.CharField(
        trim_whitespace=False,
        max_length=PROMPT_MAX_CHARS,
        help_text="The instructions; the answer format is fixed and always appended. Send "
        "the built-in text to go back to it.",
    )


class AssistPromptVersionOut(serializers.Serializer):
    number = serializers.IntegerField()
    version = serializers.CharField(help_text="As model calls record it: campaign-v<number>")
    text = serializers.CharField()
    author = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    chars = serializers.IntegerField()
    is_builtin_text = serializers.BooleanField()


class AssistPromptInUseOut(serializers.Serializer):
    version = serializers.CharField(help_text="builtin-v1 or campaign-v<n>")
    number = serializers.IntegerField(help_text="0: the built-in prompt")
    text = serializers.CharField()
    author = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField(allow_null=True)
    is_builtin_text = serializers.BooleanField()


class AssistBuiltinPromptOut(serializers.Serializer):
    version = serializers.CharField()
    text = serializers.CharField()


class AssistPromptOut(serializers.Serializer):
    purpose = serializers.ChoiceField(choices=AssistPurpose.choices)
    # A field named like Field.label: the metaclass takes it out of the class (mypy cannot see).
    label = serializers.CharField()  # type: ignore[assignment]
    in_use = AssistPromptInUseOut()
    builtin = AssistBuiltinPromptOut()
    versions = AssistPromptVersionOut(many=True, help_text="Saved versions, newest first")


class AssistPromptsOut(serializers.Serializer):
    prompts = AssistPromptOut(many=True)


class AssistUsageWindowOut(serializers.Serializer):
    calls = serializers.IntegerField()
    failed = serializers.IntegerField()
    tokens_in = serializers.IntegerField()
    tokens_out = serializers.IntegerField()
    estimated = serializers.IntegerField(
        help_text="Calls whose tokens the campaign's tokenizer estimated (no usage reported)"
    )
    mean_duration_ms = serializers.IntegerField(
        allow_null=True, help_text="Mean latency of answered calls; null without any"
    )


class AssistUsageRowOut(serializers.Serializer):
    purpose = serializers.ChoiceField(choices=CallPurpose.choices)
    purpose_label = serializers.CharField()
    model = serializers.CharField()
    all_time = AssistUsageWindowOut()
    last_30_days = AssistUsageWindowOut()


class AssistUsageTotalsOut(serializers.Serializer):
    all_time = AssistUsageWindowOut()
    last_30_days = AssistUsageWindowOut()


class ModelCallOut(serializers.Serializer):
    id = serializers.IntegerField()
    purpose = serializers.ChoiceField(choices=CallPurpose.choices)
    model = serializers.CharField()
    prompt_version = serializers.CharField()
    status = serializers.ChoiceField(choices=ModelCall.Status.choices)
    error_code = serializers.CharField()
    error = serializers.CharField()
    tokens_in = serializers.IntegerField()
    tokens_out = serializers.IntegerField()
    tokens_estimated = serializers.BooleanField()
    streamed = serializers.BooleanField()
    duration_ms = serializers.IntegerField()
    actor = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()

    def to_representation(self, call: Any) -> dict[str, Any]:
        return {
            "id": call.pk,
            "purpose": call.purpose,
            "model": call.model,
            "prompt_version": call.prompt_version,
            "status": call.status,
            "error_code": call.error_code,
            "error": call.error,
            "tokens_in": call.tokens_in,
            "tokens_out": call.tokens_out,
            "tokens_estimated": call.tokens_estimated,
            "streamed": call.streamed,
            "duration_ms": call.duration_ms,
            "actor": _username(call.actor),
            "created_at": serializers.DateTimeField().to_representation(call.created_at),
        }


class AssistUsageOut(serializers.Serializer):
    days = serializers.IntegerField(help_text="The recent window: last_30_days")
    since = serializers.DateTimeField()
    rows = AssistUsageRowOut(many=True, help_text="Per purpose and model")
    totals = AssistUsageTotalsOut()
    recent = ModelCallOut(many=True, help_text="The last 20 calls, newest first")


class AssistTestOut(serializers.Serializer):
    ok = serializers.BooleanField()
    model = serializers.CharField()
    latency_ms = serializers.IntegerField()
    reason = serializers.CharField(help_text="Empty when ok; else unreachable, timeout, auth, ...")
    message = serializers.CharField()
    follows_instructions = serializers.BooleanField(
        help_text='The model answered as asked (the single word "ok"); one that does not will '
        "often break the answer formats of suggestions and classifications"
    )

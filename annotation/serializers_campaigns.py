"""Input parsing and typed output of the campaign and guidelines endpoints (inputs separate from
outputs; the campaign-new and settings pages parse their forms with the same inputs)."""

from typing import Any

from rest_framework import serializers

from .rendering import render_markdown
from .selectors_campaigns import VersionWithDiff
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

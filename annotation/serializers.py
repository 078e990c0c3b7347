"""Input parsing and output rendering for the annotation API. Inputs are separate from outputs."""

from typing import Any

from rest_framework import serializers

from .models import Assignment, Difficulty, Origin, RejectReason, Rewrite, Seed
from .selectors import (
    continue_assignment_id,
    current_revision,
    feedback_received,
    rewrite_language_names,
    rewrite_outcome,
)
from .services.assignments import SKIP_REASON_MAX
from .services.rewrites import CHECKLIST_ITEMS


class CampaignOut(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())
    role = serializers.CharField(
        help_text="The highest of the roles: curator > reviewer > annotator"
    )
    guidelines = serializers.CharField()
    tokenizer = serializers.CharField()
    panel_size = serializers.IntegerField()
    accept_threshold = serializers.IntegerField()
    target_release_size = serializers.IntegerField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        campaign = instance.campaign
        order = ["curator", "reviewer", "annotator"]
        return {
            "slug": campaign.slug,
            "name": campaign.name,
            "roles": instance.roles,
            "role": next(r for r in order if r in instance.roles),
            "guidelines": campaign.guidelines,
            "tokenizer": campaign.tokenizer,
            "panel_size": campaign.panel_size,
            "accept_threshold": campaign.accept_threshold,
            "target_release_size": campaign.target_release_size,
        }


class SeedOut(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    title = serializers.CharField()
    text = serializers.CharField()
    answer = serializers.CharField()
    source_url = serializers.CharField()
    cluster = serializers.CharField()
    subcategory = serializers.CharField(allow_null=True)
    category = serializers.CharField(allow_null=True)

    def to_representation(self, seed: Seed) -> dict[str, Any]:
        sub = seed.subcategory
        return {
            "id": seed.pk,
            "external_id": seed.external_id,
            "title": seed.title,
            "text": seed.body,
            "answer": seed.answer,
            "source_url": seed.source_url,
            "cluster": seed.cluster,
            "subcategory": sub.name if sub else None,
            "category": sub.category.name if sub else None,
        }


class ChecklistSerializer(serializers.Serializer):
    clear = serializers.BooleanField(default=False)
    ethical = serializers.BooleanField(default=False, help_text="No ethical issue")
    solvable = serializers.BooleanField(default=False)


def rewrite_tags(rewrite: Rewrite) -> dict[str, Any]:
    return {
        "text": rewrite.text,
        "difficulty": rewrite.difficulty,
        "programming_languages": rewrite_language_names(rewrite),
        "natural_language": rewrite.natural_language,
        "subcategory": rewrite.subcategory.name if rewrite.subcategory is not None else "",
        "category": rewrite.subcategory.category.name if rewrite.subcategory is not None else "",
        "checklist": rewrite.checklist,
    }


def rewrite_provenance(rewrite: Rewrite) -> dict[str, Any]:
    """Where a revision's text came from: a model suggestion the author inserted (its model
    and prompt version) or not, and, once submitted, the edit distance from that suggestion.
    Reads ``rewrite.suggestion`` (``select_related`` it for lists)."""
    suggestion = rewrite.suggestion if rewrite.suggestion_id is not None else None
    return {
        "origin": Origin.MODEL_DRAFTED if suggestion is not None else Origin.HUMAN,
        "model": suggestion.model if suggestion is not None else None,
        "prompt_version": suggestion.prompt_version if suggestion is not None else None,
        "edit_distance": rewrite.suggestion_edit_distance,
    }


NO_PROVENANCE = {
    "origin": Origin.HUMAN,
    "model": None,
    "prompt_version": None,
    "edit_distance": None,
}

EMPTY_DRAFT = {
    "text": "",
    "difficulty": "",
    "programming_languages": [],
    "natural_language": "",
    "subcategory": "",
    "category": "",
    "checklist": dict.fromkeys(CHECKLIST_ITEMS, False),
    "version": 0,
    "revision": 1,
    "status": "draft",
    "question_tokens": None,
    "suggestion": None,
    "provenance": NO_PROVENANCE,
}


class RewriteTagsOut(serializers.Serializer):
    """A revision's text and tags, vocabulary values by name (``rewrite_tags``)."""

    text = serializers.CharField()
    difficulty = serializers.CharField(help_text="easy, medium, hard, or empty in a draft")
    programming_languages = serializers.ListField(child=serializers.CharField())
    natural_language = serializers.CharField()
    subcategory = serializers.CharField()
    category = serializers.CharField()
    revision = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Rewrite.Status.choices)
    question_tokens = serializers.IntegerField(allow_null=True)


class ProvenanceOut(serializers.Serializer):
    origin = serializers.ChoiceField(
        choices=Origin.choices,
        help_text="model_drafted: the author inserted a model's suggestion into this revision "
        "(or the one it continues); human: written by a person. The words releases and the "
        "data browser use.",
    )
    model = serializers.CharField(allow_null=True, help_text="The model that suggested it")
    prompt_version = serializers.CharField(allow_null=True, help_text="builtin-v1 or campaign-v<n>")
    edit_distance = serializers.IntegerField(
        allow_null=True,
        help_text="Characters changed from the suggestion to the submitted text (Levenshtein); "
        "null until submitted",
    )


class DraftOut(RewriteTagsOut):
    checklist = ChecklistSerializer()
    version = serializers.IntegerField()
    suggestion = serializers.IntegerField(
        allow_null=True, help_text="The model suggestion inserted into this draft, if any"
    )
    provenance = ProvenanceOut(read_only=True)

    def to_representation(self, rewrite: Rewrite) -> dict[str, Any]:
        return {
            **rewrite_tags(rewrite),
            "version": rewrite.version,
            "revision": rewrite.revision,
            "status": rewrite.status,
            "question_tokens": rewrite.question_tokens,
            "suggestion": rewrite.suggestion_id,
            "provenance": rewrite_provenance(rewrite),
        }


class FeedbackOut(serializers.Serializer):
    """Why a rewrite came back: the panel's outcome, the curator's note, the reviewers' comments
    (sorted, without who wrote them) and their reasons."""

    outcome = serializers.CharField()
    note = serializers.CharField()
    returned_at = serializers.DateTimeField()
    comments = serializers.ListField(child=serializers.CharField())
    reasons = serializers.ListField(child=serializers.CharField())


class AssignmentOut(serializers.Serializer):
    id = serializers.IntegerField()
    campaign = serializers.CharField()
    status = serializers.CharField()
    lease_expires_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    seed = SeedOut()
    draft = DraftOut()
    feedback = FeedbackOut(allow_null=True)
    reject_reason = serializers.CharField()
    reject_note = serializers.CharField()
    skip_reason = serializers.CharField(help_text="Why the annotator skipped it (may be empty)")

    def to_representation(self, assignment: Assignment) -> dict[str, Any]:
        rewrite = current_revision(assignment)
        return {
            "id": assignment.pk,
            "campaign": assignment.campaign.slug,
            "status": assignment.status,
            "lease_expires_at": serializers.DateTimeField().to_representation(
                assignment.lease_expires_at
            )
            if assignment.lease_expires_at
            else None,
            "created_at": serializers.DateTimeField().to_representation(assignment.created_at),
            "seed": SeedOut(assignment.seed).data,
            # A serializer given None renders its defaults, not to_representation: spell it out.
            "draft": DraftOut(rewrite).data if rewrite else dict(EMPTY_DRAFT),
            "feedback": (rewrite.feedback or None) if rewrite else None,
            "reject_reason": assignment.reject_reason,
            "reject_note": assignment.reject_note,
            "skip_reason": assignment.skip_reason,
        }


class DraftIn(serializers.Serializer):
    text = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=100_000)
    difficulty = serializers.CharField(
        allow_blank=True,
        required=False,
        default="",
        help_text=f"One of {', '.join(Difficulty.values)}, or empty while undecided.",
    )
    programming_languages = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, default=list, max_length=20
    )
    natural_language = serializers.CharField(allow_blank=True, required=False, default="")
    subcategory = serializers.CharField(allow_blank=True, required=False, default="")
    checklist = ChecklistSerializer(required=False)
    suggestion = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="The id of the model suggestion of this assignment you inserted. Null or "
        "left out, the stored one stays: only another suggestion of this assignment replaces "
        "it.",
    )
    version = serializers.IntegerField(
        min_value=0, help_text="The version you read (0 when there is no draft yet)."
    )


class RejectIn(serializers.Serializer):
    reason = serializers.ChoiceField(choices=RejectReason.choices)
    note = serializers.CharField(allow_blank=True, required=False, default="", max_length=5000)


class SkipIn(serializers.Serializer):
    reason = serializers.CharField(
        allow_blank=True,
        required=False,
        default="",
        max_length=SKIP_REASON_MAX,
        help_text="Optional: why you pass this seed on (kept with the assignment).",
    )


class MySeedOut(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    title = serializers.CharField()


class MyRewriteTagsOut(serializers.Serializer):
    difficulty = serializers.CharField(help_text="easy, medium or hard")
    programming_languages = serializers.ListField(child=serializers.CharField())
    natural_language = serializers.CharField()
    subcategory = serializers.CharField()
    category = serializers.CharField()


class MyRewriteOut(serializers.Serializer):
    """One of the annotator's submitted revisions, as its author sees it: status and outcome,
    and for a returned one the feedback it got (never ballots, never who voted what)."""

    id = serializers.IntegerField()
    assignment = serializers.IntegerField()
    seed = MySeedOut()
    revision = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Rewrite.Status.choices)
    outcome = serializers.CharField(help_text="What became of the revision, in words")
    decided_by_curator = serializers.BooleanField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    text = serializers.CharField()
    tags = MyRewriteTagsOut()
    question_tokens = serializers.IntegerField(allow_null=True)
    feedback = FeedbackOut(allow_null=True, help_text="Why it was returned (returned ones only)")
    continue_assignment = serializers.IntegerField(
        allow_null=True,
        help_text="The assignment where you continue its new revision, while that is open",
    )

    def to_representation(self, rewrite: Rewrite) -> dict[str, Any]:
        user = self.context["request"].user
        seed = rewrite.seed
        feedback = feedback_received(rewrite)
        when = serializers.DateTimeField()
        sub = rewrite.subcategory
        return {
            "id": rewrite.pk,
            "assignment": rewrite.assignment_id,
            "seed": {"id": seed.pk, "external_id": seed.external_id, "title": seed.title},
            "revision": rewrite.revision,
            "status": rewrite.status,
            "outcome": rewrite_outcome(rewrite),
            "decided_by_curator": rewrite.decided_by_curator,
            "submitted_at": when.to_representation(rewrite.submitted_at)
            if rewrite.submitted_at
            else None,
            "decided_at": when.to_representation(rewrite.decided_at)
            if rewrite.decided_at
            else None,
            "text": rewrite.text,
            "tags": {
                "difficulty": rewrite.difficulty,
                "programming_languages": rewrite_language_names(rewrite),
                "natural_language": rewrite.natural_language,
                "subcategory": sub.name if sub is not None else "",
                "category": sub.category.name if sub is not None else "",
            },
            "question_tokens": rewrite.question_tokens,
            # Only the documented keys of the feedback, whatever else it may come to hold.
            "feedback": FeedbackOut(feedback).data if feedback else None,
            "continue_assignment": continue_assignment_id(rewrite, user=user),
        }


class ReassignIn(serializers.Serializer):
    annotator = serializers.CharField(max_length=150, help_text="Username of the new annotator")
    note = serializers.CharField(allow_blank=True, required=False, default="", max_length=5000)


class ReassignOut(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    annotator = serializers.CharField(help_text="Username of the annotator who holds it now")
    seed = serializers.IntegerField()


class PreviewIn(serializers.Serializer):
    text = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=100_000)


class PreviewOut(serializers.Serializer):
    html = serializers.CharField(help_text="Sanitized HTML of the markdown text.")
    question_tokens = serializers.IntegerField()
    tokenizer = serializers.CharField()
    suggested_languages = serializers.ListField(child=serializers.CharField())
    suggested_natural_language = serializers.CharField(allow_null=True)

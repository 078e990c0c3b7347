"""Output shapes of the item page's API (``ItemOut``): every key typed for the OpenAPI schema."""

from typing import Any

from rest_framework import serializers

from annotation.models import Assignment, Difficulty, RejectReason, Rewrite, Seed
from annotation.selectors import rewrite_language_names
from annotation.serializers import ChecklistSerializer, FeedbackOut, ProvenanceOut, SeedOut
from quality.models import SimilarityFlag
from quality.serializers import ContaminationHitOut, QualityCheckField
from review.models import Ballot, Decision, VoteReason
from review.serializers import TextDiffOut

from .selectors_items import (
    ASSIGNMENT_ACTIONS,
    REVISION_ACTIONS,
    ItemHistory,
    Note,
    RevisionHistory,
    TimelineEntry,
    Vote,
    state_label,
)

_STAMP = serializers.DateTimeField()


def _stamp(value: Any) -> str | None:
    return _STAMP.to_representation(value) if value is not None else None


def _choices(actions: dict[str, tuple[str, ...]]) -> list[str]:
    return sorted({a for names in actions.values() for a in names})


class ItemSeedOut(SeedOut):
    """The assignment's seed representation, with the seed's state and import details."""

    status = serializers.ChoiceField(choices=Seed.Status.choices)
    language_hint = serializers.CharField()
    created_at = serializers.DateTimeField()

    def to_representation(self, seed: Seed) -> dict[str, Any]:
        return {
            **super().to_representation(seed),
            "status": seed.status,
            "language_hint": seed.language_hint,
            "created_at": _stamp(seed.created_at),
        }


class ItemAssignmentOut(serializers.Serializer):
    id = serializers.IntegerField()
    annotator = serializers.CharField()
    status = serializers.ChoiceField(choices=Assignment.Status.choices)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    lease_expires_at = serializers.DateTimeField(allow_null=True)
    reject_reason = serializers.ChoiceField(
        choices=[("", "None"), *RejectReason.choices], help_text="Empty unless rejected"
    )
    reject_note = serializers.CharField()
    skip_reason = serializers.CharField()
    actions = serializers.ListField(
        child=serializers.ChoiceField(choices=_choices(ASSIGNMENT_ACTIONS)),
        help_text="What a curator may do with it now",
    )

    def to_representation(self, assignment: Assignment) -> dict[str, Any]:
        return {
            "id": assignment.pk,
            "annotator": assignment.annotator.get_username(),
            "status": assignment.status,
            "created_at": _stamp(assignment.created_at),
            "updated_at": _stamp(assignment.updated_at),
            "lease_expires_at": _stamp(assignment.lease_expires_at),
            "reject_reason": assignment.reject_reason,
            "reject_note": assignment.reject_note,
            "skip_reason": assignment.skip_reason,
            "actions": list(self.context.get("actions", {}).get(assignment.pk, ())),
        }


class ItemSimilarityOut(serializers.Serializer):
    kind = serializers.ChoiceField(choices=SimilarityFlag.Kind.choices)
    score = serializers.FloatField(help_text="Word 3-gram Jaccard similarity")
    other_rewrite = serializers.IntegerField(allow_null=True)
    other_seed = serializers.IntegerField(
        allow_null=True, help_text="The other rewrite's seed (its item page)"
    )
    other_seed_external_id = serializers.CharField(allow_null=True)

    def to_representation(self, flag: SimilarityFlag) -> dict[str, Any]:
        other = flag.other
        return {
            "kind": flag.kind,
            "score": flag.score,
            "other_rewrite": flag.other_id,
            "other_seed": other.seed.pk if other is not None else None,
            "other_seed_external_id": other.seed.external_id if other is not None else None,
        }


class VoteReasonOut(serializers.Serializer):
    code = serializers.ChoiceField(choices=VoteReason.choices)
    # DRF's metaclass takes declared fields off the class, so "label" does not shadow
    # Field.label at run time; the stubs cannot know (likewise below).
    label = serializers.CharField()  # type: ignore[assignment]


class ItemVoteOut(serializers.Serializer):
    ballot = serializers.IntegerField()
    reviewer = serializers.CharField()
    status = serializers.ChoiceField(choices=Ballot.Status.choices)
    decision = serializers.ChoiceField(
        choices=[("", "Not cast"), *Decision.choices], help_text="Empty unless cast"
    )
    reasons = VoteReasonOut(many=True)
    comment = serializers.CharField()
    opened_at = serializers.DateTimeField()
    cast_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, vote: Vote) -> dict[str, Any]:
        ballot = vote.ballot
        codes = [r for r in ballot.reasons if isinstance(r, str)]
        return {
            "ballot": ballot.pk,
            "reviewer": ballot.reviewer.get_username(),
            "status": ballot.status,
            "decision": ballot.decision,
            "reasons": [
                {"code": code, "label": label}
                for code, label in zip(codes, vote.reason_labels, strict=True)
            ],
            "comment": ballot.comment,
            "opened_at": _stamp(ballot.created_at),
            "cast_at": _stamp(ballot.cast_at),
        }


class ItemTallyOut(serializers.Serializer):
    valid = serializers.IntegerField()
    invalid = serializers.IntegerField()
    pending = serializers.IntegerField()
    closed = serializers.IntegerField()
    panel_size = serializers.IntegerField()


class ItemProvenanceOut(ProvenanceOut):
    """Where a revision's text came from, in the shape of a release's ``provenance``."""

    suggestion_chars = serializers.IntegerField(
        allow_null=True, help_text="The suggestion's length in characters"
    )


class ItemRevisionOut(serializers.Serializer):
    id = serializers.IntegerField()
    assignment = serializers.IntegerField()
    revision = serializers.IntegerField()
    previous = serializers.IntegerField(allow_null=True, help_text="The revision before (id)")
    author = serializers.CharField()
    status = serializers.ChoiceField(choices=Rewrite.Status.choices)
    status_label = serializers.CharField()
    decided_by_curator = serializers.BooleanField()
    curator_note = serializers.CharField(help_text="The curator's reason or note on a decision")
    closed_from = serializers.CharField(help_text="The status a closed revision had; else empty")
    text = serializers.CharField()
    difficulty = serializers.ChoiceField(choices=[("", "None"), *Difficulty.choices])
    programming_languages = serializers.ListField(
        child=serializers.CharField(), help_text="In the annotator's order (the first is main)"
    )
    natural_language = serializers.CharField()
    subcategory = serializers.CharField(allow_null=True)
    category = serializers.CharField(allow_null=True)
    checklist = ChecklistSerializer()
    provenance = ItemProvenanceOut()
    question_tokens = serializers.IntegerField(allow_null=True)
    tokenizer = serializers.CharField()
    created_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    feedback = FeedbackOut(
        allow_null=True, help_text="What this revision came back with (the curator's note ...)"
    )
    return_note = serializers.CharField(
        allow_null=True, help_text="The note given when this revision was returned"
    )
    diff = TextDiffOut(allow_null=True, help_text="Changes from the previous revision")
    contamination = ContaminationHitOut(many=True)
    flags = ItemSimilarityOut(many=True)
    tally = ItemTallyOut()
    votes_hidden = serializers.BooleanField(
        help_text="You sit on this panel and have not voted: the other votes stay hidden"
    )
    quality_check = QualityCheckField()
    quality_check_error = serializers.CharField(help_text="Why the last check failed, if it did")
    votes = ItemVoteOut(many=True)
    actions = serializers.ListField(
        child=serializers.ChoiceField(choices=_choices(REVISION_ACTIONS)),
        help_text="What a curator may do with it now",
    )

    def to_representation(self, history: RevisionHistory) -> dict[str, Any]:
        rewrite = history.rewrite
        sub = rewrite.subcategory
        feedback = rewrite.feedback if isinstance(rewrite.feedback, dict) else {}
        return {
            "id": rewrite.pk,
            "assignment": rewrite.assignment_id,
            "revision": rewrite.revision,
            "previous": rewrite.previous_id,
            "author": rewrite.author.get_username(),
            "status": rewrite.status,
            "status_label": state_label("rewrite", rewrite.status),
            "decided_by_curator": rewrite.decided_by_curator,
            "curator_note": rewrite.curator_note,
            "closed_from": rewrite.closed_from,
            "text": rewrite.text,
            "difficulty": rewrite.difficulty,
            "programming_languages": rewrite_language_names(rewrite),
            "natural_language": rewrite.natural_language,
            "subcategory": sub.name if sub else None,
            "category": sub.category.name if sub else None,
            "checklist": rewrite.checklist,
            "provenance": history.provenance.record(),
            "question_tokens": rewrite.question_tokens,
            "tokenizer": rewrite.tokenizer,
            "created_at": _stamp(rewrite.created_at),
            "submitted_at": _stamp(rewrite.submitted_at),
            "decided_at": _stamp(rewrite.decided_at),
            "feedback": FeedbackOut(feedback).data if feedback else None,
            "return_note": history.return_note,
            "diff": TextDiffOut(history.diff).data if history.diff is not None else None,
            "contamination": [ContaminationHitOut(h).data for h in history.contamination],
            "flags": [ItemSimilarityOut(f).data for f in history.flags],
            "tally": history.tally,
            "votes_hidden": history.votes_hidden,
            "quality_check": history.check_state,
            "quality_check_error": history.check_error,
            "votes": [ItemVoteOut(v).data for v in history.votes],
            "actions": list(history.actions),
        }


class ItemNoteOut(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=[
            ("return", "Returned for revision"),
            ("decision", "Curator's decision"),
            ("reject", "Seed rejected by the annotator"),
            ("skip", "Seed skipped by the annotator"),
        ]
    )
    label = serializers.CharField()  # type: ignore[assignment]
    text = serializers.CharField()
    by = serializers.CharField(allow_null=True)
    at = serializers.DateTimeField(allow_null=True)
    revision = serializers.IntegerField(allow_null=True)
    assignment = serializers.IntegerField(allow_null=True)

    def to_representation(self, note: Note) -> dict[str, Any]:
        return {
            "kind": note.kind,
            "label": note.label,
            "text": note.text,
            "by": note.by,
            "at": _stamp(note.at),
            "revision": note.revision,
            "assignment": note.assignment,
        }


class ItemEventOut(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    actor = serializers.CharField(allow_null=True, help_text="Null for the system")
    kind = serializers.CharField(help_text="A core.transitions.EventKind value")
    label = serializers.CharField()  # type: ignore[assignment]
    object_type = serializers.ChoiceField(choices=["seed", "assignment", "rewrite", "ballot"])
    object_id = serializers.IntegerField()
    subject = serializers.CharField(help_text="What it is about, in words")
    from_state = serializers.CharField()
    to_state = serializers.CharField()
    from_label = serializers.CharField()
    to_label = serializers.CharField()
    note = serializers.CharField(help_text="The note or reason given with it, if any")

    def to_representation(self, entry: TimelineEntry) -> dict[str, Any]:
        event = entry.event
        return {
            "id": event.pk,
            "at": _stamp(event.created_at),
            "actor": event.actor.get_username() if event.actor is not None else None,
            "kind": event.kind,
            "label": entry.label,
            "object_type": event.object_type,
            "object_id": event.object_id,
            "subject": entry.subject,
            "from_state": event.from_state,
            "to_state": event.to_state,
            "from_label": entry.from_label,
            "to_label": entry.to_label,
            "note": entry.note,
        }


class ItemOut(serializers.Serializer):
    """One seed's whole history, for the campaign's curators: the seed, every assignment,
    every revision (diff to the one before, tags, flags with evidence, votes), the notes, and
    the event timeline (oldest first)."""

    campaign = serializers.CharField()
    curator_may_accept = serializers.BooleanField(
        help_text="Whether adjudicating may accept (the campaign's setting)"
    )
    seed = ItemSeedOut()
    assignments = ItemAssignmentOut(many=True)
    revisions = ItemRevisionOut(many=True)
    notes = ItemNoteOut(many=True)
    timeline = ItemEventOut(many=True)

    def to_representation(self, item: ItemHistory) -> dict[str, Any]:
        return {
            "campaign": item.campaign.slug,
            "curator_may_accept": item.campaign.curator_may_accept,
            "seed": ItemSeedOut(item.seed).data,
            "assignments": [
                ItemAssignmentOut(a, context={"actions": item.assignment_actions}).data
                for a in item.assignments
            ],
            "revisions": [ItemRevisionOut(r).data for r in item.revisions],
            "notes": [ItemNoteOut(n).data for n in item.notes],
            "timeline": [ItemEventOut(e).data for e in item.timeline],
        }

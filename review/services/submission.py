"""Submitting a rewrite: the one service that does the whole job."""

from typing import Any

from django.db import transaction
from django.utils import timezone
from rapidfuzz.distance import Levenshtein

from annotation.models import Assignment, DraftSuggestion, Rewrite, Seed
from annotation.services import (
    assignment_lock_own_active,
    rewrite_lock_open_draft,
    rewrite_missing_fields,
)
from annotation.tasks import count_rewrite_tokens
from core.errors import ValidationFailed
from core.jobs import enqueue_on_commit
from core.transitions import EventKind, transition
from quality.tasks import check_rewrite_quality, record_enqueue_failure

from .panels import panel_fill


@transaction.atomic
def rewrite_submit(*, assignment_id: int, actor: Any) -> Rewrite:
    """Submit the annotator's draft for review, all in one transaction: the rewrite draft ->
    submitted, its assignment active -> submitted, the seed assigned -> done, and the review
    panel opened (``panel_fill``). A rewrite that started from a model suggestion records its
    character-level edit distance from the suggestion's text. Once committed, the question's
    tokens are counted and the quality checks (decontamination, copied seed, near duplicates)
    run as tasks.

    Raises NotFound / NotAllowed (not the actor's assignment), InvalidTransition (nothing to
    submit, or not active) and ValidationFailed naming every missing field; nothing changes
    when any is raised."""
    assignment = assignment_lock_own_active(assignment_id=assignment_id, actor=actor)
    draft = rewrite_lock_open_draft(assignment)
    missing = rewrite_missing_fields(draft)
    if missing:
        raise ValidationFailed(
            "The rewrite is not complete: " + ", ".join(missing) + ".",
            details={"errors": missing},
        )
    assert draft is not None  # a missing draft is missing every field
    provenance: dict[str, Any] = {"suggestion_edit_distance": None}
    if draft.suggestion_id is not None:
        suggested = DraftSuggestion.objects.values_list("text", flat=True).get(
            pk=draft.suggestion_id
        )
        provenance["suggestion_edit_distance"] = Levenshtein.distance(suggested, draft.text)
    transition(
        assignment,
        to=Assignment.Status.SUBMITTED,
        allowed=Assignment.TRANSITIONS,
        kind=EventKind.ASSIGNMENT_SUBMITTED,
        actor=actor,
        data={"rewrite": draft.pk},
    )
    transition(
        draft,
        to=Rewrite.Status.SUBMITTED,
        allowed=Rewrite.TRANSITIONS,
        kind=EventKind.REWRITE_SUBMITTED,
        actor=actor,
        extra={
            "submitted_at": timezone.now(),
            "tokenizer": assignment.campaign.tokenizer,
            # The panel keeps the rule it opens with, whatever the campaign changes later.
            "panel_size": assignment.campaign.panel_size,
            "accept_threshold": assignment.campaign.accept_threshold,
            **provenance,
        },
        data={"revision": draft.revision, "assignment": assignment.pk},
    )
    transition(
        assignment.seed,
        to=Seed.Status.DONE,
        allowed=Seed.TRANSITIONS,
        kind=EventKind.SEED_DONE,
        actor=actor,
        data={"assignment": assignment.pk, "rewrite": draft.pk},
    )
    panel_fill(rewrite_id=draft.pk)
    # Once committed, whatever the broker says: a refused check is recorded as pending and
    # enqueued by the quality sweep, uncounted tokens by the token sweep.
    enqueue_on_commit(count_rewrite_tokens, draft.pk)
    enqueue_on_commit(check_rewrite_quality, draft.pk, on_failure=record_enqueue_failure(draft.pk))
    return draft

"""Submitting a rewrite: the one service that does the whole job."""

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models.functions import Length
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

# The edit distance is measured up to this many characters: a larger one is recorded as
# EDIT_DISTANCE_MAX + 1 ("more than the cap"), so a submit never spends more than a fraction
# of a second on it, whatever the lengths of the texts.
EDIT_DISTANCE_MAX = 50_000
# A revision without an inserted suggestion is recorded as drafted from the nearest of its
# assignment's suggestions when the edit distance is at most this share of the longer text
# (a normalized similarity of at least 0.5).
NEAR_SUGGESTION_SHARE = 0.5


def suggestion_edit_distance(suggested: str, text: str) -> int:
    """The character-level Levenshtein distance from ``suggested`` to ``text``, capped: a
    distance above ``EDIT_DISTANCE_MAX`` is ``EDIT_DISTANCE_MAX + 1``."""
    return Levenshtein.distance(suggested, text, score_cutoff=EDIT_DISTANCE_MAX)


def near_suggestion_bound(suggestion_chars: int, text_chars: int) -> int:
    """The largest edit distance at which a text counts as drafted from a suggestion it was not
    recorded with: half the longer of the two (normalized similarity >= 0.5)."""
    return int(NEAR_SUGGESTION_SHARE * max(suggestion_chars, text_chars))


@dataclass(frozen=True)
class Provenance:
    """What a draft is recorded with at submit: the suggestion it was drafted from (None: a
    person's) and the edit distance from it; ``matched`` when the suggestion was not inserted
    but found near the text."""

    suggestion_id: int | None = None
    distance: int | None = None
    matched: bool = False


def _nearest_suggestion(assignment_id: int, text: str) -> tuple[int, int] | None:
    """The (id, edit distance) of the assignment's suggestion nearest to ``text`` among those
    within ``near_suggestion_bound``, or None. Only suggestions of at least half and at most
    twice the text's length can be that near (the distance is at least the difference in
    length), so only those are read; each is measured with a cutoff (the bound, or the best
    distance so far), so a far one costs little. On a tie the latest suggestion wins."""
    chars = len(text)
    candidates = (
        DraftSuggestion.objects.filter(assignment_id=assignment_id)
        .annotate(chars=Length("text"))
        .filter(chars__gte=(chars + 1) // 2, chars__lte=2 * chars)
        .order_by("-id")
        .values_list("pk", "text")
    )
    best: tuple[int, int] | None = None
    for pk, suggested in candidates:
        bound = near_suggestion_bound(len(suggested), chars)
        cutoff = min(bound, EDIT_DISTANCE_MAX)
        if best is not None:
            cutoff = min(cutoff, best[1])
        distance = Levenshtein.distance(suggested, text, score_cutoff=cutoff)
        if distance <= cutoff and (best is None or distance < best[1]):
            best = (pk, distance)
    return best


def _measure(*, text: str, inserted: int | None, assignment_id: int) -> Provenance:
    """The provenance of a draft: its inserted suggestion and the distance from it, or else
    the nearest of the assignment's suggestions, if near enough."""
    if inserted is not None:
        suggested = DraftSuggestion.objects.values_list("text", flat=True).get(pk=inserted)
        return Provenance(inserted, suggestion_edit_distance(suggested, text))
    nearest = _nearest_suggestion(assignment_id, text)
    if nearest is None:
        return Provenance()
    return Provenance(*nearest, matched=True)


@transaction.atomic
def rewrite_submit(*, assignment_id: int, actor: Any) -> Rewrite:
    """Submit the annotator's draft for review, all in one transaction: the rewrite draft ->
    submitted, its assignment active -> submitted, the seed assigned -> done, and the review
    panel opened (``panel_fill``). Once committed, the question's tokens are counted and the
    quality checks (decontamination, copied seed, near duplicates) run as tasks.

    Provenance: a revision records the model suggestion it was drafted from and the
    character-level edit distance from that suggestion's text to the submitted text.
    - A revision with an inserted suggestion (``Rewrite.suggestion``, kept by every later save
      and by the next revision of a returned one) is measured against it.
    - A revision without one is compared with every suggestion of its assignment (those the
      annotate page could have shown): when the nearest is within half the longer text
      (edit distance <= 0.5 * max(len(suggestion), len(text)), a normalized similarity of at
      least 0.5) the revision records it as its suggestion, as if it had been inserted (a
      copied and pasted suggestion is a model's text all the same); the event says
      ``suggestion_matched``. Otherwise it is a person's: no suggestion, no distance.
    - Distances are measured up to ``EDIT_DISTANCE_MAX`` characters; a larger one is recorded
      as ``EDIT_DISTANCE_MAX + 1`` (0.1 s at the API's 100,000-character limit: measured under
      the locks, which hold only the actor's own assignment and draft). A text no suggestion
      is near within the cap is a person's.

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
    measured = _measure(text=draft.text, inserted=draft.suggestion_id, assignment_id=assignment.pk)
    event_data: dict[str, Any] = {"revision": draft.revision, "assignment": assignment.pk}
    if measured.matched:
        event_data["suggestion_matched"] = measured.suggestion_id
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
            "suggestion_id": measured.suggestion_id,
            "suggestion_edit_distance": measured.distance,
        },
        data=event_data,
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

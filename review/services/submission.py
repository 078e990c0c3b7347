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
    """What a draft is recorded with at submit, measured for one state of it (``rewrite_id``,
    ``version``, ``text``, the ``inserted`` suggestion): the suggestion it was drafted from
    (None: a person's) and the edit distance from that suggestion; ``matched`` when the
    suggestion was not inserted but found near the text."""

    rewrite_id: int
    version: int
    text: str
    inserted: int | None
    suggestion_id: int | None
    distance: int | None
    matched: bool = False

    def measures(self, draft: Rewrite) -> bool:
        return (self.rewrite_id, self.version, self.inserted, self.text) == (
            draft.pk,
            draft.version,
            draft.suggestion_id,
            draft.text,
        )


def _nearest_suggestion(assignment_id: int, text: str) -> tuple[int, int] | None:
    """The (id, edit distance) of the assignment's suggestion nearest to ``text`` among those
    within ``near_suggestion_bound``, or None. Only suggestions of at least half and at most
    twice the text's length can be that near (the distance is at least the difference in
    length), so only those are read; each is measured with a cutoff (the bound, or the best
    distance so far), so a far one costs little. On a tie the latest suggestion wins. A
    distance past ``EDIT_DISTANCE_MAX`` cannot be told apart from a larger one: a suggestion
    whose bound is over the cap and whose distance is too counts as near (at the cap + 1), so
    a text is never called a person's for want of measuring it."""
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
        elif best is None and bound > EDIT_DISTANCE_MAX and distance > EDIT_DISTANCE_MAX:
            best = (pk, EDIT_DISTANCE_MAX + 1)
    return best


def _measure(
    *, rewrite_id: int, version: int, text: str, inserted: int | None, assignment_id: int
) -> Provenance:
    """The provenance of a draft in the given state: its inserted suggestion and the distance
    from it, or else the nearest of the assignment's suggestions, if near enough."""
    suggestion_id, distance, matched = inserted, None, False
    if inserted is not None:
        suggested = DraftSuggestion.objects.values_list("text", flat=True).get(pk=inserted)
        distance = suggestion_edit_distance(suggested, text)
    else:
        nearest = _nearest_suggestion(assignment_id, text)
        if nearest is not None:
            (suggestion_id, distance), matched = nearest, True
    return Provenance(
        rewrite_id=rewrite_id,
        version=version,
        text=text,
        inserted=inserted,
        suggestion_id=suggestion_id,
        distance=distance,
        matched=matched,
    )


def _measure_unlocked(*, assignment_id: int, actor: Any) -> Provenance | None:
    """The provenance of the actor's draft of ``assignment_id`` as it is now, read without
    locks (None without a draft); submit checks under its locks that it still holds."""
    row = (
        Rewrite.objects.filter(
            assignment_id=assignment_id,
            assignment__annotator_id=getattr(actor, "pk", None),
            status=Rewrite.Status.DRAFT,
        )
        .values_list("pk", "version", "text", "suggestion_id")
        .first()
    )
    if row is None:
        return None
    pk, version, text, inserted = row
    return _measure(
        rewrite_id=pk, version=version, text=text, inserted=inserted, assignment_id=assignment_id
    )


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
      as ``EDIT_DISTANCE_MAX + 1``.
    The measuring is done before any row is locked (and again under the locks only if the
    draft changed in between).

    Raises NotFound / NotAllowed (not the actor's assignment), InvalidTransition (nothing to
    submit, or not active) and ValidationFailed naming every missing field; nothing changes
    when any is raised."""
    measured = _measure_unlocked(assignment_id=assignment_id, actor=actor)
    return _submit(assignment_id=assignment_id, actor=actor, measured=measured)


@transaction.atomic
def _submit(*, assignment_id: int, actor: Any, measured: Provenance | None) -> Rewrite:
    assignment = assignment_lock_own_active(assignment_id=assignment_id, actor=actor)
    draft = rewrite_lock_open_draft(assignment)
    missing = rewrite_missing_fields(draft)
    if missing:
        raise ValidationFailed(
            "The rewrite is not complete: " + ", ".join(missing) + ".",
            details={"errors": missing},
        )
    assert draft is not None  # a missing draft is missing every field
    if measured is None or not measured.measures(draft):
        # Saved again since it was measured: measure what is being submitted.
        measured = _measure(
            rewrite_id=draft.pk,
            version=draft.version,
            text=draft.text,
            inserted=draft.suggestion_id,
            assignment_id=assignment.pk,
        )
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

"""Curator decisions on a rewrite the panel could not settle: close it, adjudicate a no-consensus
one, reopen a closed one. Each is one transaction with one Event; see review/README.md."""

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation.models import Rewrite, Role, Seed
from annotation.tasks import count_rewrite_tokens
from core import access
from core.errors import Conflict, InvalidTransition, NotAllowed, ValidationFailed
from core.jobs import enqueue_on_commit
from core.transitions import EventKind, transition

CLOSABLE: frozenset[str] = frozenset({Rewrite.Status.REJECTED, Rewrite.Status.NO_CONSENSUS})
ADJUDICABLE: frozenset[str] = frozenset({Rewrite.Status.NO_CONSENSUS})
# What a curator may decide a no-consensus rewrite to be.
ADJUDICATIONS: tuple[str, ...] = (Rewrite.Status.ACCEPTED, Rewrite.Status.REJECTED)
NOTE_MAX_CHARS = 5000


def _lock_for_curator(*, rewrite_id: int, actor: Any) -> Rewrite:
    """The rewrite, locked, with its campaign; NotFound / NotAllowed unless ``actor`` curates
    its campaign."""
    rewrite = (
        Rewrite.objects.select_for_update(no_key=True, of=("self",))
        .select_related("campaign")
        .filter(pk=rewrite_id)
        .first()
    )
    return access.require_object(actor, rewrite, role=Role.CURATOR, missing="No such rewrite.")


def _state(rewrite: Rewrite) -> str:
    return str(rewrite.get_status_display()).lower()


def _note(note: str, field: str) -> str:
    note = (note or "").strip()
    if len(note) > NOTE_MAX_CHARS:
        raise ValidationFailed(
            f"The {field} is too long.",
            details={"errors": {field: [f"at most {NOTE_MAX_CHARS} characters"]}},
        )
    return note


@transaction.atomic
def rewrite_close(*, rewrite_id: int, actor: Any, note: str = "") -> Rewrite:
    """A curator ends a rejected or no-consensus rewrite: it becomes closed, a final state that
    leaves the to-decide list and is never released (``rewrite_reopen`` undoes it). The status
    it had is kept in ``closed_from``, a non-blank ``note`` in ``curator_note``. Its seed stays
    done and its assignment submitted. One REWRITE_CLOSED event.

    Raises NotFound (no such rewrite, or not in the actor's campaigns), NotAllowed (not a
    curator), InvalidTransition (not rejected or no consensus) and ValidationFailed (note too
    long); nothing changes when any is raised."""
    rewrite = _lock_for_curator(rewrite_id=rewrite_id, actor=actor)
    note = _note(note, "note")
    if rewrite.status not in CLOSABLE:
        raise InvalidTransition(
            f"Only a rejected or no-consensus rewrite can be closed; this one is {_state(rewrite)}."
        )
    old = rewrite.status
    extra: dict[str, Any] = {"closed_from": old}
    if note:
        extra["curator_note"] = note
    transition(
        rewrite,
        to=Rewrite.Status.CLOSED,
        allowed=Rewrite.TRANSITIONS,
        kind=EventKind.REWRITE_CLOSED,
        actor=actor,
        extra=extra,
        data={"note": note, "closed_from": old},
    )
    return rewrite


@transaction.atomic
def rewrite_adjudicate(*, rewrite_id: int, actor: Any, decision: str, reason: str) -> Rewrite:
    """A curator settles a no-consensus rewrite as ``accepted`` or ``rejected``, with a
    required ``reason``: ``decided_by_curator`` is set, the reason kept in ``curator_note``,
    ``decided_at`` is now. An accepted one is then like one a panel accepted: releasable unless
    contaminated, in the stats and the release (one accepted revision per seed, which the
    database also enforces; its seed row is locked for the check). Its question tokens, if the
    background count was lost, are counted after commit (the release counts them too). One
    REWRITE_ADJUDICATED event with the decision and the reason.

    Raises NotFound, NotAllowed (not a curator, or acceptance when the campaign's
    ``curator_may_accept`` is off), ValidationFailed (unknown decision, missing reason),
    InvalidTransition (not no consensus) and Conflict (the seed already has an accepted
    revision); nothing changes when any is raised."""
    rewrite = _lock_for_curator(rewrite_id=rewrite_id, actor=actor)
    errors: dict[str, list[str]] = {}
    if decision not in ADJUDICATIONS:
        errors["decision"] = ["must be 'accepted' or 'rejected'"]
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = ["say why you decide this rewrite; the reason is kept with it"]
    elif len(reason) > NOTE_MAX_CHARS:
        errors["reason"] = [f"at most {NOTE_MAX_CHARS} characters"]
    if errors:
        raise ValidationFailed("The decision is incomplete.", details={"errors": errors})
    if rewrite.status not in ADJUDICABLE:
        raise InvalidTransition(
            f"Only a rewrite whose panel reached no consensus can be adjudicated; this one is "
            f"{_state(rewrite)}."
        )
    if decision == Rewrite.Status.ACCEPTED:
        if not rewrite.campaign.curator_may_accept:
            raise NotAllowed(
                "This campaign does not let curators accept a rewrite: only a reviewer panel's "
                "quorum accepts. Reject it, close it or return it for revision (or a curator "
                "changes the campaign setting 'Curators may accept').",
                details={"setting": "curator_may_accept"},
            )
        Seed.objects.select_for_update(no_key=True).filter(pk=rewrite.seed_id).first()
        other = (
            Rewrite.objects.filter(seed_id=rewrite.seed_id, status=Rewrite.Status.ACCEPTED)
            .exclude(pk=rewrite.pk)
            .values_list("pk", flat=True)
            .first()
        )
        if other is not None:
            raise Conflict(
                "Another revision of this seed is already accepted; a seed has one accepted "
                "rewrite.",
                details={"accepted": other},
            )
    try:
        with transaction.atomic():
            transition(
                rewrite,
                to=decision,
                allowed=Rewrite.TRANSITIONS,
                kind=EventKind.REWRITE_ADJUDICATED,
                actor=actor,
                extra={
                    "decided_by_curator": True,
                    "curator_note": reason,
                    "decided_at": timezone.now(),
                },
                data={"decision": decision, "reason": reason},
            )
    except IntegrityError:
        # The one-accepted-per-seed constraint: another revision was accepted meanwhile.
        raise Conflict(
            "Another revision of this seed was accepted meanwhile; a seed has one accepted "
            "rewrite. Reload the page."
        ) from None
    if decision == Rewrite.Status.ACCEPTED and rewrite.question_tokens is None:
        enqueue_on_commit(count_rewrite_tokens, rewrite.pk)  # swept if the broker is down
    return rewrite


@transaction.atomic
def rewrite_reopen(*, rewrite_id: int, actor: Any, note: str = "") -> Rewrite:
    """A curator reopens a closed rewrite: it goes back to the status it was closed from
    (rejected or no consensus, so back in the to-decide list) and ``closed_from`` is cleared; a
    non-blank ``note`` replaces ``curator_note``. One REWRITE_REOPENED event.

    Raises NotFound, NotAllowed (not a curator), InvalidTransition (not closed) and
    ValidationFailed (note too long); nothing changes when any is raised."""
    rewrite = _lock_for_curator(rewrite_id=rewrite_id, actor=actor)
    note = _note(note, "note")
    if rewrite.status != Rewrite.Status.CLOSED:
        raise InvalidTransition(
            f"Only a closed rewrite can be reopened; this one is {_state(rewrite)}."
        )
    back = rewrite.closed_from
    if back not in CLOSABLE:
        # Cannot happen through rewrite_close; a row edited by hand says so rather than guess.
        raise InvalidTransition(
            "This closed rewrite does not record the status it was closed from; it cannot be "
            "reopened."
        )
    extra: dict[str, Any] = {"closed_from": ""}
    if note:
        extra["curator_note"] = note
    transition(
        rewrite,
        to=back,
        allowed=Rewrite.TRANSITIONS,
        kind=EventKind.REWRITE_REOPENED,
        actor=actor,
        extra=extra,
        data={"note": note, "reopened_to": back},
    )
    return rewrite

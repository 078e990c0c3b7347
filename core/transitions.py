"""The one way a status changes: an explicit map of allowed transitions, a guarded conditional
update, an audit ``Event`` of a typed kind, and side effects after commit.

Every service moves objects with ``transition`` (one object) or ``transition_many`` (a bulk step
such as dealing 2,000 seeds), inside its own ``transaction.atomic`` block, after it has locked
what it read. The guarded update (``UPDATE ... WHERE pk = %s AND status = <old>``) is the last
line of defence: if another transaction moved the row first, nothing is written and
``InvalidTransition`` rolls the whole operation back.

Events are rows of the model named by ``settings.CURATION_EVENT_MODEL`` (core sits below the app
that defines campaigns and their audit log, as ``AUTH_USER_MODEL`` sits below auth).

Every event is also logged at INFO on ``curation.events`` once its transaction commits (a
rolled-back change is never logged as done): its kind, object type and id(s), from and to
state, campaign id and actor id; a bulk step logs one line with the count and the first ids.
Of the event's ``data`` only numbers are logged: the rest may be a person's text (a note, a
comment, an email address, an error quoting input)."""

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from . import logs
from .errors import InvalidTransition

Transitions = Mapping[str, frozenset[str]]

events_logger = logging.getLogger("curation.events")
LOGGED_IDS = 5  # a bulk step's line names its first few ids


class EventKind(models.TextChoices):
    """Every kind of audit event. The values are stored; never rename one."""

    CAMPAIGN_CREATED = "campaign.created"
    CAMPAIGN_NGRAM_CHANGED = "campaign.ngram_changed"
    CAMPAIGN_SETTINGS_CHANGED = "campaign.settings_changed"
    GUIDELINES_SAVED = "guidelines.saved"
    INVITATION_CREATED = "invitation.created"
    INVITATION_ACCEPTED = "invitation.accepted"
    INVITATION_REVOKED = "invitation.revoked"
    SEED_IMPORT_UPLOADED = "seed_import.uploaded"
    SEED_IMPORT_CHECKED = "seed_import.checked"
    SEED_IMPORT_STARTED = "seed_import.started"
    SEED_IMPORT_DONE = "seed_import.done"
    SEED_IMPORT_FAILED = "seed_import.failed"
    SEED_IMPORT_DISCARDED = "seed_import.discarded"
    REFERENCE_SET_LOADED = "reference_set.loaded"
    MEMBERSHIP_ADDED = "membership.added"
    MEMBERSHIP_ROLE_CHANGED = "membership.role_changed"
    MEMBERSHIP_REMOVED = "membership.removed"
    SEEDS_IMPORTED = "seeds.imported"
    SEEDS_SAMPLED = "seeds.sampled"
    SEED_SAMPLED = "seed.sampled"
    SEED_ASSIGNED = "seed.assigned"
    SEED_DONE = "seed.done"
    SEED_REOPENED = "seed.reopened"
    SEED_BACK_TO_POOL = "seed.back_to_pool"
    ASSIGNMENT_DEALT = "assignment.dealt"
    ASSIGNMENT_CLAIMED = "assignment.claimed"
    ASSIGNMENT_LEASE_EXPIRED = "assignment.lease_expired"
    ASSIGNMENT_SEED_REJECTED = "assignment.seed_rejected"
    ASSIGNMENT_SUBMITTED = "assignment.submitted"
    ASSIGNMENT_REOPENED = "assignment.reopened"
    ASSIGNMENT_REASSIGNED = "assignment.reassigned"
    ASSIGNMENT_RELEASED = "assignment.released"
    ASSIGNMENT_SKIPPED = "assignment.skipped"
    REWRITE_DRAFT_STARTED = "rewrite.draft_started"
    REWRITE_SUBMITTED = "rewrite.submitted"
    REWRITE_ACCEPTED = "rewrite.accepted"
    REWRITE_REJECTED = "rewrite.rejected"
    REWRITE_NO_CONSENSUS = "rewrite.no_consensus"
    REWRITE_RETURNED = "rewrite.returned"
    REWRITE_ADJUDICATED = "rewrite.adjudicated"
    REWRITE_CLOSED = "rewrite.closed"
    REWRITE_REOPENED = "rewrite.reopened"
    BALLOT_OPENED = "ballot.opened"
    BALLOT_CAST = "ballot.cast"
    BALLOT_CLOSED = "ballot.closed"
    REWRITES_DECONTAMINATED = "rewrites.decontaminated"
    REWRITES_SIMILARITY_CHECKED = "rewrites.similarity_checked"
    RESPONSES_IMPORTED = "responses.imported"
    RELEASE_QUEUED = "release.queued"
    RELEASE_STARTED = "release.started"
    RELEASE_DONE = "release.done"
    RELEASE_FAILED = "release.failed"
    RELEASE_BUILT = "release.built"
    # Model-assisted curation (annotation.services.assist): the campaign's model settings and
    # prompts, seed classification jobs, and a curator's decision on a suggested subcategory.
    ASSIST_SETTINGS_CHANGED = "assist.settings_changed"
    ASSIST_PROMPT_SAVED = "assist.prompt_saved"
    SEED_CLASSIFICATION_QUEUED = "seed_classification.queued"
    SEED_CLASSIFICATION_STARTED = "seed_classification.started"
    SEED_CLASSIFICATION_DONE = "seed_classification.done"
    SEED_CLASSIFICATION_FAILED = "seed_classification.failed"
    SEED_SUGGESTION_ACCEPTED = "seed_suggestion.accepted"
    SEED_SUGGESTION_DISMISSED = "seed_suggestion.dismissed"
    SEED_CLASSIFIED = "seed.classified"  # a curator set a seed's subcategory by hand
    # A curator looked at the campaign as one of its members would (core.view_as): read-only.
    VIEW_AS_STARTED = "view_as.started"
    VIEW_AS_ENDED = "view_as.ended"


def _event_model() -> Any:
    return apps.get_model(settings.CURATION_EVENT_MODEL)


def _actor(actor: Any) -> Any:
    return actor if getattr(actor, "pk", None) else None


def _campaign_id(campaign: Any) -> int:
    return campaign if isinstance(campaign, int) else campaign.pk


def event_record(
    *,
    campaign: Any,
    actor: Any,
    kind: EventKind,
    obj: models.Model,
    from_state: str = "",
    to_state: str = "",
    data: dict[str, Any] | None = None,
) -> Any:
    """Append one audit row for something that is not a status change (an import, a campaign
    setting) or that creates an object in its first state. Call inside the transaction of the
    change it records."""
    event = _event_model().objects.create(
        campaign_id=_campaign_id(campaign),
        actor=_actor(actor),
        kind=EventKind(kind).value,
        object_type=obj._meta.model_name,
        object_id=obj.pk,
        from_state=from_state,
        to_state=to_state,
        data=data or {},
    )
    log_on_commit(
        kind=event.kind,
        object_type=event.object_type,
        ids=[obj.pk],
        from_state=from_state,
        to_state=to_state,
        campaign_id=event.campaign_id,
        actor_id=event.actor_id,
        data=data or {},
    )
    return event


def event_log_written(
    *,
    campaign: Any,
    actor: Any,
    kind: EventKind,
    object_type: str,
    object_id: int,
    from_state: str = "",
    to_state: str = "",
    data: Mapping[str, Any] | None = None,
) -> None:
    """Log, once the transaction commits, an event its service appended with SQL of its own
    (claim-next writes its claim and both events in one statement): the line ``event_record``
    would have logged. Outside a transaction (one statement in autocommit) it logs at once."""
    log_on_commit(
        kind=EventKind(kind).value,
        object_type=object_type,
        ids=[object_id],
        from_state=from_state,
        to_state=to_state,
        campaign_id=_campaign_id(campaign),
        actor_id=getattr(_actor(actor), "pk", None),
        data=data or {},
    )


def _numbers(data: Mapping[str, Any]) -> dict[str, Any]:
    """The numeric entries of an event's data (ids, counts, versions): safe to log."""
    return {k: v for k, v in data.items() if isinstance(v, int | float)}


def log_on_commit(
    *,
    kind: str,
    object_type: str,
    ids: Sequence[int],
    from_state: str,
    to_state: str,
    campaign_id: int,
    actor_id: int | None,
    data: Mapping[str, Any],
    count: int | None = None,
) -> None:
    """Log the event(s) once the transaction commits, with the context of now (the request or
    task that made the change), whenever the callback runs. ``count`` is how many objects
    changed when ``ids`` holds only the first few of them (a bulk step); else ``len(ids)``."""
    n = len(ids) if count is None else count
    fields: dict[str, Any] = {
        **logs.context(),
        "kind": kind,
        "object_type": object_type,
        "from_state": from_state,
        "to_state": to_state,
        "campaign_id": campaign_id,
        "actor_id": actor_id,
    }
    arrow = f"{from_state or '-'}->{to_state or '-'}"
    if n == 1:
        fields["object_id"] = ids[0]
        if numbers := _numbers(data):
            fields["data"] = numbers
        message, args = "%s %s %s %s", (kind, object_type, ids[0], arrow)
    else:
        fields["count"] = n
        fields["object_ids"] = list(ids[:LOGGED_IDS])
        message, args = "%s %s x%d %s", (kind, object_type, n, arrow)
    transaction.on_commit(lambda: events_logger.info(message, *args, extra=fields), robust=True)


def _require_atomic() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("transitions run inside the service's transaction.atomic block")


def _values(
    model: type[models.Model], field: str, to: str, extra: Mapping[str, Any]
) -> dict[str, Any]:
    values = {field: to, **extra}
    # update() skips auto_now; keep "updated_at" truthful.
    for f in model._meta.concrete_fields:
        if getattr(f, "auto_now", False) and f.name not in values:
            values[f.name] = timezone.now()
    return values


def _label(model: type[models.Model], field: str, state: str) -> str:
    status_field = model._meta.get_field(field)
    assert isinstance(status_field, models.Field)  # a concrete column, never a relation
    choices = dict(status_field.flatchoices)
    return str(choices.get(state, state)).lower()


def transition(
    obj: models.Model,
    *,
    to: str,
    allowed: Transitions,
    kind: EventKind,
    actor: Any,
    campaign: Any = None,
    field: str = "status",
    data: dict[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    where: Q | None = None,
    after_commit: Sequence[Callable[[], Any]] = (),
) -> Any:
    """Move ``obj`` from its current ``field`` value to ``to``, write ``extra`` fields with it,
    append an Event of ``kind`` and run ``after_commit`` callbacks once the transaction commits.
    ``campaign`` defaults to ``obj.campaign_id``; ``where`` adds a condition to the guard.

    Raises InvalidTransition when the map does not allow the move or the row is no longer in
    the state ``obj`` says (another transaction moved it first). Returns the Event."""
    _require_atomic()
    model = type(obj)
    old = getattr(obj, field)
    if to not in allowed.get(old, frozenset()):
        raise InvalidTransition(
            f"This {model._meta.verbose_name} is {_label(model, field, old)}; it cannot become "
            f"{_label(model, field, to)}."
        )
    values = _values(model, field, to, extra or {})
    guard = model._default_manager.filter(pk=obj.pk, **{field: old})
    if where is not None:
        guard = guard.filter(where)
    if guard.update(**values) != 1:
        raise InvalidTransition(
            f"This {model._meta.verbose_name} changed meanwhile (it is no longer "
            f"{_label(model, field, old)}); reload and try again."
        )
    for name, value in values.items():
        setattr(obj, name, value)
    if campaign is None:
        # Every workflow model has a campaign; ``models.Model`` cannot say so.
        campaign = obj.campaign_id  # type: ignore[attr-defined]
    event = event_record(
        campaign=campaign,
        actor=actor,
        kind=kind,
        obj=obj,
        from_state=old,
        to_state=to,
        data=data,
    )
    for callback in after_commit:
        transaction.on_commit(callback)
    return event


def transition_many(
    model: type[models.Model],
    pks: Iterable[int],
    *,
    from_state: str,
    to: str,
    allowed: Transitions,
    kind: EventKind,
    actor: Any,
    campaign: Any,
    field: str = "status",
    data: Callable[[int], dict[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> list[int]:
    """Move every row of ``pks`` that is in ``from_state`` to ``to`` in one guarded update and
    append one Event per moved row (``data(pk)`` its data), in bulk. The caller has locked the
    rows; rows already elsewhere are left alone. Returns the moved ids.

    Raises InvalidTransition when the map does not allow the move, or when a row changed
    between the read and the update."""
    _require_atomic()
    if to not in allowed.get(from_state, frozenset()):
        raise InvalidTransition(
            f"A {model._meta.verbose_name} that is {_label(model, field, from_state)} cannot "
            f"become {_label(model, field, to)}."
        )
    manager = model._default_manager
    wanted = list(dict.fromkeys(pks))
    found: set[int] = set()
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start : start + 1000]
        found.update(
            manager.filter(pk__in=chunk, **{field: from_state}).values_list("pk", flat=True)
        )
    ids = [pk for pk in wanted if pk in found]  # events in the caller's order
    moved = 0
    values = _values(model, field, to, extra or {})
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        moved += manager.filter(pk__in=chunk, **{field: from_state}).update(**values)
    if moved != len(ids):
        raise InvalidTransition(
            f"Some {model._meta.verbose_name_plural} changed meanwhile; nothing was changed. "
            "Try again."
        )
    _events_bulk(
        kind=kind,
        actor=actor,
        campaign=campaign,
        object_type=str(model._meta.model_name),
        rows=[(pk, from_state, to, data(pk) if data else {}) for pk in ids],
    )
    return ids


def events_record_created(
    objs: Sequence[models.Model],
    *,
    kind: EventKind,
    actor: Any,
    campaign: Any,
    to_state: str,
    data: Callable[[Any], dict[str, Any]] | None = None,
) -> None:
    """Append, in bulk, the Event of each newly created object (dealt assignments, say) in its
    first state ``to_state``."""
    _require_atomic()
    _events_bulk(
        kind=kind,
        actor=actor,
        campaign=campaign,
        object_type=str(objs[0]._meta.model_name) if objs else "",
        rows=[(obj.pk, "", to_state, data(obj) if data else {}) for obj in objs],
    )


def _events_bulk(
    *,
    kind: EventKind,
    actor: Any,
    campaign: Any,
    object_type: str,
    rows: list[tuple[int, str, str, dict[str, Any]]],
) -> None:
    """Append one Event per (object id, from state, to state, data) row, in bulk, and log them
    in one line per (from state, to state) after commit."""
    event_model = _event_model()
    event_model.objects.bulk_create(
        [
            event_model(
                campaign_id=_campaign_id(campaign),
                actor=_actor(actor),
                kind=EventKind(kind).value,
                object_type=object_type,
                object_id=pk,
                from_state=from_state,
                to_state=to_state,
                data=data,
            )
            for pk, from_state, to_state, data in rows
        ],
        batch_size=1000,
    )
    moves: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]] = {}
    for pk, from_state, to_state, data in rows:
        moves.setdefault((from_state, to_state), []).append((pk, data))
    for (from_state, to_state), moved in moves.items():
        log_on_commit(
            kind=EventKind(kind).value,
            object_type=object_type,
            ids=[pk for pk, _data in moved],
            from_state=from_state,
            to_state=to_state,
            campaign_id=_campaign_id(campaign),
            actor_id=getattr(_actor(actor), "pk", None),
            data=moved[0][1],
        )

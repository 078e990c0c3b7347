"""Assignments: dealing, claiming, lease expiry, seed rejection, skipping, reassignment."""

import functools
import json
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, models, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from core import access, logs
from core.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from core.transitions import (
    EventKind,
    event_log_written,
    event_record,
    events_record_created,
    transition,
    transition_many,
)

from ..models import (
    Assignment,
    Campaign,
    Category,
    Event,
    Membership,
    RejectReason,
    Rewrite,
    Role,
    Seed,
    Subcategory,
)
from . import seeds_bulk


def lease_end(campaign: Campaign, now: datetime) -> datetime:
    """When a lease taken or renewed at ``now`` runs out."""
    return now + timedelta(minutes=campaign.lease_minutes)


@dataclass
class AssignReport:
    assigned: int
    per_annotator: dict[str, int]


def deal_order(
    groups: dict[str, list[Any]],
    annotators: list[Any],
    *,
    seed: int,
    refuses: Callable[[Any, Any], bool] | None = None,
) -> list[tuple[Any, Any]]:
    """(item, annotator) pairs: each group (a subcategory's seeds, in name order) is shuffled
    with ``seed`` and dealt round-robin, the rotation carried from one group to the next, so
    every annotator gets the same mix and totals differ by at most one. With ``refuses`` (an
    annotator who skipped a seed is never dealt it again), an item goes to the next annotator
    in the rotation who does not refuse it, and is left out when all of them do. Pure."""
    rng = random.Random(f"{seed}:assign")
    offset = 0
    pairs = []
    for name in sorted(groups):
        group = list(groups[name])
        rng.shuffle(group)
        for i, item in enumerate(group):
            for step in range(len(annotators)):
                annotator = annotators[(offset + i + step) % len(annotators)]
                if refuses is None or not refuses(item, annotator):
                    pairs.append((item, annotator))
                    break
        offset += len(group)
    return pairs


def deal_preview(
    groups: dict[str, list[Any]],
    annotators: list[Any],
    *,
    seed: int,
    refuses: Callable[[Any, Any], bool] | None = None,
) -> dict[Any, dict[str, int]]:
    """Per annotator, how many items of each group ``deal_order`` deals them (every annotator
    listed, groups in name order; items are hashable and unique, e.g. seed ids). Pure: what
    ``seeds_assign`` with the same inputs (and the same ``refuses``) does."""
    mix: dict[Any, dict[str, int]] = {a: {} for a in annotators}
    name_of = {item: name for name, items in groups.items() for item in items}
    for item, annotator in deal_order(groups, annotators, seed=seed, refuses=refuses):
        name = name_of[item]
        mix[annotator][name] = mix[annotator].get(name, 0) + 1
    return {a: dict(sorted(counts.items())) for a, counts in mix.items()}


def dealing_annotators(campaign: Campaign) -> list[tuple[int, str]]:
    """The campaign's annotators as (user id, username), by username: whom a deal deals to.
    Raises InvalidTransition when it has none."""
    annotators = list(
        Membership.objects.filter(campaign=campaign, role=Role.ANNOTATOR)
        .order_by("user__username")
        .values_list("user_id", "user__username")
    )
    if not annotators:
        raise InvalidTransition(
            f"Campaign {campaign.slug!r} has no annotators; add some with add_member first."
        )
    return annotators


@transaction.atomic
def seeds_assign(
    *, campaign: Campaign, seed: int = 42, actor: Any = None, lease_hours: float | None = None
) -> AssignReport:
    """Deal every sampled, unassigned seed to the campaign's annotators (``deal_order``). Dealt
    assignments hold no lease unless ``lease_hours`` is given. Seeds being claimed at the same
    moment are skipped. A seed is never dealt to an annotator who skipped it (it goes to the
    next one in the rotation; a seed every annotator skipped stays in the pool). Each seed
    moves sampled -> assigned and each assignment is created active, with their events.

    The deal is ``deal_order``'s, computed from the groups' sizes (``seeds_bulk.deal_plan``:
    one integer per seed in Python); on PostgreSQL the seeds are locked into a temporary
    table and moved, and the assignments and events inserted, by set-based statements
    (``seeds_bulk.deal_lock`` / ``deal_write``): a constant number of queries whatever the
    pool's size.

    Raises InvalidTransition if the campaign has no annotators."""
    annotators = dealing_annotators(campaign)
    now = timezone.now()
    lease = now + timedelta(hours=lease_hours) if lease_hours else None
    user_ids = [pk for pk, _ in annotators]
    if connection.vendor == "postgresql":
        groups, skipped = seeds_bulk.deal_lock(campaign_id=campaign.pk)
        plan = seeds_bulk.deal_plan(
            groups,
            len(annotators),
            seed=seed,
            refused=seeds_bulk.refusals(skipped, user_ids),
            order=True,
        )
        assigned = seeds_bulk.deal_write(
            campaign_id=campaign.pk,
            actor=actor,
            offsets=plan.offsets,
            order=plan.order,
            overrides=plan.overrides,
            annotators=annotators,
            lease=lease,
            now=now,
        )
    else:
        plan, assigned = _seeds_assign_orm(
            campaign=campaign, seed=seed, actor=actor, annotators=annotators, lease=lease
        )
    per_annotator = {
        name: sum(counts.values()) for (_, name), counts in zip(annotators, plan.mix, strict=True)
    }
    return AssignReport(assigned=assigned, per_annotator=per_annotator)


def _seeds_assign_orm(
    *,
    campaign: Campaign,
    seed: int,
    actor: Any,
    annotators: list[tuple[int, str]],
    lease: datetime | None,
) -> tuple["seeds_bulk.DealPlan", int]:
    """``seeds_assign`` with the ORM, for backends without the set-based statements (SQLite):
    the sampled seeds' ids are read and locked, dealt by the same plan, moved by the guarded
    transition and given their assignments, with the same events in the same order."""
    ids: dict[int, list[int]] = defaultdict(list)
    names: dict[int, str] = {}
    for pk, sub_id, sub_name in (
        Seed.objects.select_for_update(no_key=True, skip_locked=True, of=("self",))
        .filter(campaign=campaign, status=Seed.Status.SAMPLED)
        .order_by("sample_rank", "id")
        .values_list("id", "subcategory_id", "subcategory__name")
    ):
        key = sub_id or 0
        ids[key].append(pk)
        names[key] = sub_name or ""
    where = {pk: (key, n) for key, group in ids.items() for n, pk in enumerate(group)}
    skipped = [
        (*where[seed_id], who)
        for seed_id, who in Assignment.objects.filter(
            campaign=campaign, status=Assignment.Status.SKIPPED, seed__status=Seed.Status.SAMPLED
        ).values_list("seed_id", "annotator_id")
        if seed_id in where
    ]
    plan = seeds_bulk.deal_plan(
        [(key, names[key], len(group)) for key, group in ids.items()],
        len(annotators),
        seed=seed,
        refused=seeds_bulk.refusals(skipped, [pk for pk, _ in annotators]),
        order=True,
    )
    at = {plan.offsets[key] + n: pk for key, group in ids.items() for n, pk in enumerate(group)}
    pairs: list[tuple[int, int, str]] = []  # (seed id, annotator id, username), in deal order
    for k, j in enumerate(plan.order):
        a = plan.overrides[k] if k in plan.overrides else k % len(annotators)
        if a is not None:
            pairs.append((at[j], *annotators[a]))
    name_of = {seed_id: name for seed_id, _, name in pairs}
    transition_many(
        Seed,
        [seed_id for seed_id, _, _ in pairs],
        from_state=Seed.Status.SAMPLED,
        to=Seed.Status.ASSIGNED,
        allowed=Seed.TRANSITIONS,
        kind=EventKind.SEED_ASSIGNED,
        actor=actor,
        campaign=campaign,
        data=lambda pk: {"annotator": name_of[pk], "dealt": True},
    )
    assignments = Assignment.objects.bulk_create(
        [
            Assignment(
                campaign=campaign, seed_id=seed_id, annotator_id=user_id, lease_expires_at=lease
            )
            for seed_id, user_id, _ in pairs
        ],
        batch_size=1000,
    )
    events_record_created(
        assignments,
        kind=EventKind.ASSIGNMENT_DEALT,
        actor=actor,
        campaign=campaign,
        to_state=Assignment.Status.ACTIVE,
        data=lambda a: {"seed": a.seed_id, "annotator": name_of[a.seed_id]},
    )
    return plan, len(assignments)


def assignment_claim_next(*, campaign: Campaign, actor: Any) -> Assignment | None:
    """Hand ``actor`` the next sampled, unassigned seed of the campaign they have not skipped,
    or None when none is left. Atomic: concurrent callers skip rows another transaction has
    locked, and the one-active-assignment-per-seed constraint backs it. The seed moves
    sampled -> assigned and an active assignment with a lease is created, with the events
    ``seed.assigned`` and ``assignment.claimed``.

    Raises NotFound / NotAllowed (not an annotator of the campaign) and Conflict when the
    campaign's ``max_active_assignments`` is reached."""
    if connection.vendor == "postgresql" and campaign.max_active_assignments is None:
        return _claim_next_in_one_statement(campaign=campaign, actor=actor)
    access.require(actor, campaign, role=Role.ANNOTATOR, missing="No such campaign.")
    if connection.vendor == "postgresql":
        with transaction.atomic():
            _require_below_cap(campaign=campaign, actor=actor)
            return _claim_next_statement(campaign=campaign, actor=actor, check_membership=False)
    for _attempt in range(3):
        try:
            return _claim_next_once(campaign=campaign, actor=actor)
        except (IntegrityError, InvalidTransition):
            # Only a backend without SKIP LOCKED can get here (two claims raced for one seed);
            # the guard or the constraint refused the second, so try the next seed.
            continue
    raise Conflict("Could not claim a seed because of concurrent claims; try again.")


def _claim_next_in_one_statement(*, campaign: Campaign, actor: Any) -> Assignment | None:
    """Claim-next on PostgreSQL without a cap: one round trip. The statement is a transaction
    of its own (or joins the caller's), so no BEGIN and COMMIT around it; and it claims only
    for an annotator of the campaign, which for a member is exactly what ``core.access``
    requires, so the role check rides in it. ``core.access`` still decides every refusal
    (asked when nothing was claimed: not an annotator, or nothing left), and decides first when
    roles come from elsewhere than memberships (an operator's, a view-as)."""
    check_membership = access.viewing() is None and not access.is_operator(actor)
    if not check_membership:
        access.require(actor, campaign, role=Role.ANNOTATOR, missing="No such campaign.")
    assignment = _claim_next_statement(
        campaign=campaign, actor=actor, check_membership=check_membership
    )
    if check_membership:
        if assignment is None:
            # Raises NotFound / NotAllowed unless they are an annotator with nothing left.
            access.require(actor, campaign, role=Role.ANNOTATOR, missing="No such campaign.")
        else:
            logs.bind(campaign=vars(campaign).get("slug"), user_id=actor.pk)  # as require does
    return assignment


def active_count(*, campaign: Campaign, annotator_id: int) -> int:
    return Assignment.objects.filter(
        campaign=campaign, annotator_id=annotator_id, status=Assignment.Status.ACTIVE
    ).count()


def _require_below_cap(*, campaign: Campaign, actor: Any) -> None:
    """Raise Conflict when ``actor`` holds the campaign's ``max_active_assignments`` already.
    Locks their membership row, so two claims of theirs at once cannot both pass the cap:
    call inside the claim's transaction."""
    cap = campaign.max_active_assignments
    if cap is None:
        return
    Membership.objects.select_for_update(no_key=True).filter(
        campaign=campaign, user_id=actor.pk, role=Role.ANNOTATOR
    ).first()
    active = active_count(campaign=campaign, annotator_id=actor.pk)
    if active >= cap:
        held = f"{active} active assignment{'' if active == 1 else 's'}"
        raise Conflict(
            f"You already hold {held}, the most this campaign allows; submit, skip or "
            "reject one first."
        )


@transaction.atomic
def _claim_next_once(*, campaign: Campaign, actor: Any) -> Assignment | None:
    """Claim-next with the ORM, for backends without data-modifying CTEs (SQLite): lock the
    next seed, move it with the guarded transition, create the assignment, two events.
    ``_claim_next_statement`` does the same in one statement on PostgreSQL."""
    _require_below_cap(campaign=campaign, actor=actor)
    # A subquery in WHERE, not a join: FOR UPDATE SKIP LOCKED locks only the seed row.
    skipped_by_actor = Assignment.objects.filter(
        seed=OuterRef("pk"), annotator_id=actor.pk, status=Assignment.Status.SKIPPED
    )
    seed = (
        Seed.objects.select_for_update(no_key=True, skip_locked=True)
        .filter(campaign=campaign, status=Seed.Status.SAMPLED)
        .filter(~Exists(skipped_by_actor))
        .order_by("sample_rank", "id")
        .first()
    )
    if seed is None:
        return None
    transition(
        seed,
        to=Seed.Status.ASSIGNED,
        allowed=Seed.TRANSITIONS,
        kind=EventKind.SEED_ASSIGNED,
        actor=actor,
        data={"annotator": actor.get_username()},
    )
    assignment = Assignment.objects.create(
        campaign=campaign,
        seed=seed,
        annotator=actor,
        lease_expires_at=lease_end(campaign, timezone.now()),
    )
    event_record(
        campaign=campaign,
        actor=actor,
        kind=EventKind.ASSIGNMENT_CLAIMED,
        obj=assignment,
        to_state=Assignment.Status.ACTIVE,
        data={"seed": seed.pk},
    )
    return assignment


@functools.cache
def _claim_sql(*, check_membership: bool) -> str:
    """Claim-next as one PostgreSQL statement: pick the first claimable seed by rank that the
    actor has not skipped, locking it and skipping seeds other claims hold (FOR NO KEY UPDATE
    SKIP LOCKED, as every row lock here: foreign-key checks pass it); move it sampled ->
    assigned with the guard of ``transition``; create the active assignment; append the
    events ``seed.assigned`` then ``assignment.claimed`` (in that id order, as the ORM path
    writes them). Every column the ORM path writes is written (tests/test_claim_scale.py
    checks that both paths store the same rows). The pick reads the partial index of
    claimable seeds (``seed_claimable``). With ``check_membership`` it claims only for a
    member of the campaign with the annotator role (evaluated once, before the pick). Its
    row: the assignment, the seed as updated, the seed's subcategory and category
    (``_CLAIM_ROW``)."""
    seed, assignment, event, membership, subcategory, category = (
        connection.ops.quote_name(model._meta.db_table)
        for model in (Seed, Assignment, Event, Membership, Subcategory, Category)
    )
    member = (
        f"""
      AND EXISTS (
          SELECT 1 FROM {membership} m
          WHERE m.campaign_id = %(campaign)s AND m.user_id = %(actor)s
            AND m.role = '{Role.ANNOTATOR.value}'
      )"""
        if check_membership
        else ""
    )
    sampled, assigned = Seed.Status.SAMPLED.value, Seed.Status.ASSIGNED.value
    active, skipped = Assignment.Status.ACTIVE.value, Assignment.Status.SKIPPED.value
    return f"""
WITH picked AS (
    SELECT s.id FROM {seed} s
    WHERE s.campaign_id = %(campaign)s AND s.status = '{sampled}'
      AND NOT EXISTS (
          SELECT 1 FROM {assignment} k
          WHERE k.seed_id = s.id AND k.annotator_id = %(actor)s AND k.campaign_id = s.campaign_id
            AND k.status = '{skipped}'
      ){member}
    ORDER BY s.sample_rank, s.id
    LIMIT 1
    FOR NO KEY UPDATE SKIP LOCKED
), moved AS (
    UPDATE {seed} s SET status = '{assigned}'
    FROM picked WHERE s.id = picked.id AND s.status = '{sampled}'
    RETURNING {_columns(Seed, "s")}
), claimed AS (
    INSERT INTO {assignment} (
        campaign_id, seed_id, annotator_id, status, lease_expires_at,
        reject_reason, reject_note, skip_reason, created_at, updated_at
    )
    SELECT %(campaign)s, moved.id, %(actor)s, '{active}', %(lease)s, '', '', '', %(now)s, %(now)s
    FROM moved
    RETURNING *
), logged AS (
    INSERT INTO {event} (
        campaign_id, actor_id, kind, object_type, object_id, from_state, to_state, data,
        created_at
    )
    SELECT %(campaign)s, %(actor)s, e.kind, e.object_type, e.object_id, e.from_state,
        e.to_state, e.data, %(now)s
    FROM claimed CROSS JOIN LATERAL (VALUES
        (1, '{EventKind.SEED_ASSIGNED.value}', '{Seed._meta.model_name}', claimed.seed_id,
            '{sampled}', '{assigned}', %(seed_data)s::jsonb),
        (2, '{EventKind.ASSIGNMENT_CLAIMED.value}', '{Assignment._meta.model_name}', claimed.id,
            '', '{active}', jsonb_build_object('seed', claimed.seed_id))
    ) AS e (n, kind, object_type, object_id, from_state, to_state, data)
    ORDER BY e.n
)
SELECT {_columns(Assignment, "claimed")}, {_columns(Seed, "moved")},
    {_columns(Subcategory, "sc")}, {_columns(Category, "c")}
FROM claimed JOIN moved ON moved.id = claimed.seed_id
LEFT JOIN {subcategory} sc ON sc.id = moved.subcategory_id
LEFT JOIN {category} c ON c.id = sc.category_id"""


# The models whose rows the claim statement returns, in that order: the assignment, its seed
# (as the update left it), the seed's subcategory and category (NULLs when it has none).
_CLAIM_ROW = (Assignment, Seed, Subcategory, Category)


def _columns(model: type[models.Model], alias: str) -> str:
    return ", ".join(
        f"{alias}.{connection.ops.quote_name(f.column)}" for f in model._meta.concrete_fields
    )


def _claimed_instances(row: Sequence[Any]) -> list[Any]:
    """The claim statement's row as model instances, as the ORM would load them (its
    converters applied: JSON arrives as text); None for a subcategory or category the seed
    does not have."""
    instances: list[Any] = []
    start = 0
    for model in _CLAIM_ROW:
        fields = model._meta.concrete_fields
        values = list(row[start : start + len(fields)])
        start += len(fields)
        if values[0] is None:  # the primary key: a LEFT JOIN that found nothing
            instances.append(None)
            continue
        for i, field in enumerate(fields):
            convert = getattr(field, "from_db_value", None)  # as Field.get_db_converters
            if convert is not None:
                values[i] = convert(values[i], field, connection)
        instances.append(model.from_db(connection.alias, [f.attname for f in fields], values))
    return instances


def _claim_next_statement(
    *, campaign: Campaign, actor: Any, check_membership: bool
) -> Assignment | None:
    """Claim-next in one round trip on PostgreSQL (``_claim_sql``); the same rows, events and
    log lines as ``_claim_next_once``. Returns the assignment with its seed, subcategory and
    category from the statement's row (what the claim API answers, with no reload), or None:
    nothing left, or (``check_membership``) ``actor`` is not an annotator of the campaign."""
    now = timezone.now()
    lease = lease_end(campaign, now)
    seed_data = {"annotator": actor.get_username()}
    with connection.cursor() as cursor:
        cursor.execute(
            _claim_sql(check_membership=check_membership),
            {
                "campaign": campaign.pk,
                "actor": actor.pk,
                "lease": lease,
                "now": now,
                "seed_data": json.dumps(seed_data),
            },
        )
        row = cursor.fetchone()
    if row is None:
        return None
    assignment: Assignment
    seed: Seed
    assignment, seed, subcategory, category = _claimed_instances(row)
    assignment_id, seed_id = assignment.pk, seed.pk
    # The log lines of the two events, after commit (at once in autocommit), as transition()
    # and event_record() log them.
    event_log_written(
        campaign=campaign,
        actor=actor,
        kind=EventKind.SEED_ASSIGNED,
        object_type=str(Seed._meta.model_name),
        object_id=seed_id,
        from_state=Seed.Status.SAMPLED,
        to_state=Seed.Status.ASSIGNED,
        data=seed_data,
    )
    event_log_written(
        campaign=campaign,
        actor=actor,
        kind=EventKind.ASSIGNMENT_CLAIMED,
        object_type=str(Assignment._meta.model_name),
        object_id=assignment_id,
        to_state=Assignment.Status.ACTIVE,
        data={"seed": seed_id},
    )
    # The assignment as ``selectors.assignment_claimed`` would load it (seed, subcategory and
    # category, no revisions yet), so the claim API needs no reload.
    if subcategory is not None:
        subcategory.category = category
    seed.subcategory = subcategory
    assignment.seed = seed
    assignment.campaign = campaign
    assignment.annotator = actor
    assignment.revisions = []  # type: ignore[attr-defined]  # as revisions_prefetch() sets it
    return assignment


def assignments_expire(*, campaign: Campaign | None = None, now: datetime | None = None) -> int:
    """Return expired, untouched active assignments to the pool (assignment -> released, seed ->
    sampled). An assignment with any rewrite (a draft) is never released by the sweep: a draft
    is never lost. Idempotent; returns how many were released."""
    now = now or timezone.now()
    with transaction.atomic():
        qs = Assignment.objects.select_for_update(no_key=True, skip_locked=True).filter(
            status=Assignment.Status.ACTIVE, lease_expires_at__lt=now
        )
        if campaign is not None:
            qs = qs.filter(campaign=campaign)
        qs = qs.filter(~Exists(Rewrite.objects.filter(assignment=OuterRef("pk"))))
        expired = list(qs.only("id", "seed_id", "campaign_id"))
        by_campaign: dict[int, list[Assignment]] = defaultdict(list)
        for a in expired:
            by_campaign[a.campaign_id].append(a)
        released = 0
        for campaign_id, group in sorted(by_campaign.items()):
            released += len(
                assignments_release(
                    group,
                    campaign_id=campaign_id,
                    actor=None,
                    kind=EventKind.ASSIGNMENT_LEASE_EXPIRED,
                )
            )
    return released


def assignments_release(
    assignments: list[Assignment], *, campaign_id: int, actor: Any, kind: EventKind
) -> list[int]:
    """Assignments active -> released and their seeds assigned -> sampled (back in the pool
    for claim-next), with events of ``kind``; a draft, if any, stays with the released
    assignment. The caller has checked the actor and locked the assignments. Returns the ids
    released."""
    seed_of = {a.pk: a.seed_id for a in assignments}
    moved = transition_many(
        Assignment,
        list(seed_of),
        from_state=Assignment.Status.ACTIVE,
        to=Assignment.Status.RELEASED,
        allowed=Assignment.TRANSITIONS,
        kind=kind,
        actor=actor,
        campaign=campaign_id,
        data=lambda pk: {"seed": seed_of[pk]},
    )
    transition_many(
        Seed,
        [seed_of[pk] for pk in moved],
        from_state=Seed.Status.ASSIGNED,
        to=Seed.Status.SAMPLED,
        allowed=Seed.TRANSITIONS,
        kind=EventKind.SEED_BACK_TO_POOL,
        actor=actor,
        campaign=campaign_id,
    )
    return moved


def assignment_lock_own_active(*, assignment_id: int, actor: Any) -> Assignment:
    """Lock the actor's own active assignment (with campaign and seed) for a change of its
    rewrite. Raises NotFound (not theirs, or they left the campaign), NotAllowed (no longer an
    annotator) and InvalidTransition (not active)."""
    assignment = (
        Assignment.objects.select_for_update(no_key=True, of=("self",))
        .select_related("campaign", "seed")
        .filter(pk=assignment_id)
        .first()
    )
    assignment = access.require_object(
        actor,
        assignment,
        role=Role.ANNOTATOR,
        owner_field="annotator_id",
        missing="No such assignment.",
    )
    if assignment.status != Assignment.Status.ACTIVE:
        raise InvalidTransition(
            f"This assignment is {assignment.get_status_display().lower()}, not active; "
            "it can no longer be changed."
        )
    return assignment


@transaction.atomic
def assignment_reject_seed(
    *, assignment_id: int, actor: Any, reason: str, note: str = ""
) -> Assignment:
    """The annotator judges the seed unsuitable: assignment active -> rejected, seed -> done.
    A draft, if any, is kept for the record.

    Raises NotFound (not the actor's assignment), InvalidTransition (not active) and
    ValidationFailed (unknown reason, or reason 'other' without a note)."""
    errors: dict[str, list[str]] = {}
    if reason not in RejectReason.values:
        errors["reason"] = [f"must be one of {', '.join(RejectReason.values)}"]
    elif reason == RejectReason.OTHER and not note.strip():
        errors["note"] = ["say why the seed is unsuitable when the reason is 'other'"]
    if errors:
        raise ValidationFailed("The rejection is incomplete.", details={"errors": errors})
    assignment = assignment_lock_own_active(assignment_id=assignment_id, actor=actor)
    if assignment.rewrites.exclude(status=Rewrite.Status.DRAFT).exists():
        raise InvalidTransition(
            "This seed was already rewritten and reviewed; revise the returned rewrite instead "
            "of rejecting the seed."
        )
    transition(
        assignment,
        to=Assignment.Status.REJECTED,
        allowed=Assignment.TRANSITIONS,
        kind=EventKind.ASSIGNMENT_SEED_REJECTED,
        actor=actor,
        extra={"reject_reason": reason, "reject_note": note.strip()},
        data={"reason": reason, "note": note.strip(), "seed": assignment.seed_id},
    )
    transition(
        assignment.seed,
        to=Seed.Status.DONE,
        allowed=Seed.TRANSITIONS,
        kind=EventKind.SEED_DONE,
        actor=actor,
        data={"assignment": assignment.pk, "rejected": reason},
    )
    return assignment


SKIP_REASON_MAX = 300


@transaction.atomic
def assignment_skip(*, assignment_id: int, actor: Any, reason: str = "") -> Assignment:
    """The annotator passes a seed on: their active assignment -> skipped (with the optional
    ``reason``), its seed -> sampled, back in the pool for someone else. The same annotator is
    never offered or dealt that seed again. A draft, if any, stays with the skipped assignment
    for the record. A skip is not a rejection of the seed: it counts in no rejection figure.

    Raises NotFound (not the actor's assignment), NotAllowed (no longer an annotator),
    InvalidTransition (not active, or a rewrite returned for revision: that one is revised or
    reassigned by a curator, not skipped) and ValidationFailed (a reason longer than
    ``SKIP_REASON_MAX`` characters)."""
    assignment = assignment_lock_own_active(assignment_id=assignment_id, actor=actor)
    reason = reason.strip()
    if len(reason) > SKIP_REASON_MAX:
        raise ValidationFailed(
            "The reason for skipping is too long.",
            details={
                "errors": {
                    "reason": [f"at most {SKIP_REASON_MAX} characters (this one has {len(reason)})"]
                }
            },
        )
    if assignment.rewrites.exclude(status=Rewrite.Status.DRAFT).exists():
        raise InvalidTransition(
            "This rewrite was returned to you for revision; it cannot be skipped. Revise and "
            "submit it, or ask a curator to reassign it to another annotator."
        )
    transition(
        assignment,
        to=Assignment.Status.SKIPPED,
        allowed=Assignment.TRANSITIONS,
        kind=EventKind.ASSIGNMENT_SKIPPED,
        actor=actor,
        extra={"skip_reason": reason},
        data={"seed": assignment.seed_id, "reason": reason},
    )
    transition(
        assignment.seed,
        to=Seed.Status.SAMPLED,
        allowed=Seed.TRANSITIONS,
        kind=EventKind.SEED_BACK_TO_POOL,
        actor=actor,
        data={"assignment": assignment.pk, "skipped": True},
    )
    return assignment


@dataclass
class NextSeed:
    """What *Next seed* found: an assignment to open (``claimed``: a new seed, else one of the
    annotator's untouched open seeds), or none and ``message``, which says why."""

    assignment: Assignment | None
    claimed: bool = False
    message: str = ""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def nothing_to_claim_message(*, campaign: Campaign, actor: Any, open_count: int) -> str:
    """Why claim-next found no seed for ``actor``, in words that are true: their open seeds,
    the seeds others are rewriting, the seeds left in the pool that they skipped."""
    others = (
        Assignment.objects.filter(campaign=campaign, status=Assignment.Status.ACTIVE)
        .exclude(annotator_id=actor.pk)
        .count()
    )
    skipped_left = (
        Seed.objects.filter(campaign=campaign, status=Seed.Status.SAMPLED)
        .filter(
            Exists(
                Assignment.objects.filter(
                    seed=OuterRef("pk"), annotator_id=actor.pk, status=Assignment.Status.SKIPPED
                )
            )
        )
        .count()
    )
    parts = []
    if open_count:
        parts.append(f"You have {_plural(open_count, 'open seed')}; finish or skip one.")
    being = "is" if others == 1 else "are"
    if skipped_left:
        still = "is one" if skipped_left == 1 else "are ones"
        parts.append(
            f"No new seed is left for you: the {_plural(skipped_left, 'seed')} still in the "
            f"pool {still} you skipped"
            + (f" ({others} more {being} being rewritten by others)." if others else ".")
        )
    elif others:
        parts.append(
            f"Every seed of this campaign is taken ({others} {being} being rewritten by others)."
        )
    else:
        parts.append("No seed is left to claim in this campaign.")
    return " ".join(parts)


def assignment_open_next(*, campaign: Campaign, actor: Any) -> NextSeed:
    """*Next seed* for the annotator's page: their oldest untouched open assignment (active,
    no rewrite yet) if they hold one, and only otherwise a newly claimed seed
    (``assignment_claim_next``). When there is neither, ``message`` says why: the campaign's
    cap on open seeds is reached, or nothing is left to claim (``nothing_to_claim_message``).

    Raises NotFound / NotAllowed (not an annotator of the campaign) and Conflict (claims
    racing, or another tab reached the cap at the same moment)."""
    access.require(actor, campaign, role=Role.ANNOTATOR, missing="No such campaign.")
    untouched = (
        Assignment.objects.filter(
            campaign=campaign, annotator_id=actor.pk, status=Assignment.Status.ACTIVE
        )
        .filter(~Exists(Rewrite.objects.filter(assignment=OuterRef("pk"))))
        .order_by("created_at", "id")
        .first()
    )
    if untouched is not None:
        return NextSeed(assignment=untouched)
    open_count = active_count(campaign=campaign, annotator_id=actor.pk)
    cap = campaign.max_active_assignments
    if cap is not None and open_count >= cap:
        return NextSeed(
            assignment=None,
            message=f"You have {_plural(open_count, 'open seed')}, the most this campaign "
            "allows; finish or skip one to claim a new seed.",
        )
    assignment = assignment_claim_next(campaign=campaign, actor=actor)
    if assignment is not None:
        return NextSeed(assignment=assignment, claimed=True)
    return NextSeed(
        assignment=None,
        message=nothing_to_claim_message(campaign=campaign, actor=actor, open_count=open_count),
    )


def annotator_can_take(*, campaign: Campaign, annotator: Any, current_id: int | None) -> list[str]:
    """Why ``annotator`` cannot take one more active assignment of ``campaign`` (none: they
    can). ``current_id`` is the annotator holding it now."""
    if not Membership.objects.filter(
        campaign=campaign, user_id=annotator.pk, role=Role.ANNOTATOR
    ).exists():
        return [f"{annotator.get_username()!r} is not an annotator of this campaign"]
    if annotator.pk == current_id:
        return ["this annotator already holds the assignment"]
    if campaign.max_active_assignments is not None:
        active = active_count(campaign=campaign, annotator_id=annotator.pk)
        if active >= campaign.max_active_assignments:
            return [
                f"{annotator.get_username()!r} already has {active} active assignments, the "
                f"campaign's limit ({campaign.max_active_assignments})"
            ]
    return []


@transaction.atomic
def assignment_reassign(
    *, assignment_id: int, actor: Any, annotator: Any, note: str = "", check_role: bool = True
) -> Assignment:
    """A curator hands an active assignment (a seed being rewritten, or a rewrite returned for
    revision) to another annotator of the campaign, e.g. when its annotator left. The open draft
    revision, if any, goes with it and becomes the new annotator's; earlier revisions keep their
    author. A lease, if the assignment had one, starts afresh.

    Raises NotFound (no such assignment, or the actor is not in its campaign), NotAllowed (not a
    curator), ValidationFailed (the new annotator is not an annotator of the campaign, already
    holds it, or is at the campaign's ``max_active_assignments``) and InvalidTransition (the
    assignment is not active)."""
    assignment = (
        Assignment.objects.select_for_update(no_key=True, of=("self",))
        .select_related("campaign")
        .filter(pk=assignment_id)
        .first()
    )
    if check_role:
        assignment = access.require_object(
            actor, assignment, role=Role.CURATOR, missing="No such assignment."
        )
    elif assignment is None:
        raise NotFound("No such assignment.")
    campaign = assignment.campaign
    if assignment.status != Assignment.Status.ACTIVE:
        raise InvalidTransition(
            f"This assignment is {assignment.get_status_display().lower()}; only active "
            "assignments (being rewritten or revised) can be reassigned."
        )
    problems = annotator_can_take(
        campaign=campaign, annotator=annotator, current_id=assignment.annotator_id
    )
    if problems:
        raise ValidationFailed(
            "The assignment cannot go to that annotator.",
            details={"errors": {"annotator": problems}},
        )
    previous = assignment.annotator_id
    assignment.annotator_id = annotator.pk
    if assignment.lease_expires_at is not None:
        assignment.lease_expires_at = lease_end(campaign, timezone.now())
    assignment.save(update_fields=["annotator", "lease_expires_at", "updated_at"])
    moved = list(
        assignment.rewrites.filter(status=Rewrite.Status.DRAFT).values_list("pk", flat=True)
    )
    Rewrite.objects.filter(pk__in=moved).update(author_id=annotator.pk, updated_at=timezone.now())
    event_record(
        campaign=campaign,
        actor=actor,
        kind=EventKind.ASSIGNMENT_REASSIGNED,
        obj=assignment,
        from_state=Assignment.Status.ACTIVE,
        to_state=Assignment.Status.ACTIVE,
        data={
            "from_annotator": previous,
            "to_annotator": annotator.pk,
            "draft_revisions": moved,
            "note": note.strip(),
        },
    )
    return assignment

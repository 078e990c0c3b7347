import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from ..errors import Conflict, InvalidTransition, NotAllowed, NotFound, ValidationFailed
from ..models import Assignment, Campaign, Event, Membership, RejectReason, Rewrite, Role, Seed
from .events import event_record


def require_role(*, campaign: Campaign, actor: Any, role: str) -> None:
    """Raise NotFound if ``actor`` is not a member of ``campaign`` and NotAllowed if they are but
    lack ``role``."""
    roles = set(
        Membership.objects.filter(campaign=campaign, user_id=actor.pk).values_list(
            "role", flat=True
        )
    )
    if not roles:
        raise NotFound("No such campaign.")
    if role not in roles:
        raise NotAllowed(f"This needs the {role} role in campaign {campaign.slug!r}.")


def _lease_end(campaign: Campaign, now: datetime) -> datetime:
    return now + timedelta(minutes=campaign.lease_minutes)


@dataclass
class AssignReport:
    assigned: int
    per_annotator: dict[str, int]


@transaction.atomic
def seeds_assign(
    *, campaign: Campaign, seed: int = 42, actor: Any = None, lease_hours: float | None = None
) -> AssignReport:
    """Deal every sampled, unassigned seed to the campaign's annotators so that each gets the
    same subcategory mix: round-robin inside each subcategory, the rotation carried from one
    subcategory to the next so totals differ by at most one. Dealt assignments hold no lease
    unless ``lease_hours`` is given. Seeds being claimed at the same moment are skipped.

    Raises InvalidTransition if the campaign has no annotators."""
    annotators = list(
        Membership.objects.filter(campaign=campaign, role=Role.ANNOTATOR)
        .select_related("user")
        .order_by("user__username")
    )
    if not annotators:
        raise InvalidTransition(
            f"Campaign {campaign.slug!r} has no annotators; add some with add_member first."
        )
    users = [m.user for m in annotators]
    seeds = list(
        Seed.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(campaign=campaign, status=Seed.Status.SAMPLED)
        .select_related("subcategory")
        .order_by("sample_rank", "id")
    )
    by_sub: dict[str, list[Seed]] = defaultdict(list)
    for s in seeds:
        by_sub[s.subcategory.name if s.subcategory else ""].append(s)
    rng = random.Random(f"{seed}:assign")
    now = timezone.now()
    lease = now + timedelta(hours=lease_hours) if lease_hours else None
    offset = 0
    assignments: list[Assignment] = []
    for sub_name in sorted(by_sub):
        group = by_sub[sub_name]
        rng.shuffle(group)
        for i, s in enumerate(group):
            assignments.append(
                Assignment(
                    campaign=campaign,
                    seed=s,
                    annotator=users[(offset + i) % len(users)],
                    lease_expires_at=lease,
                )
            )
        offset += len(group)
    Seed.objects.filter(pk__in=[s.pk for s in seeds], status=Seed.Status.SAMPLED).update(
        status=Seed.Status.ASSIGNED
    )
    Assignment.objects.bulk_create(assignments, batch_size=1000)
    actor_ref = actor if getattr(actor, "pk", None) else None
    Event.objects.bulk_create(
        [
            Event(
                campaign=campaign,
                actor=actor_ref,
                kind="assignment.dealt",
                object_type="assignment",
                object_id=a.pk,
                to_state=Assignment.Status.ACTIVE,
                data={"seed": a.seed_id, "annotator": a.annotator.get_username()},
            )
            for a in assignments
        ],
        batch_size=1000,
    )
    per_annotator = {u.get_username(): 0 for u in users}
    for a in assignments:
        per_annotator[a.annotator.get_username()] += 1
    return AssignReport(assigned=len(assignments), per_annotator=per_annotator)


def assignment_claim_next(*, campaign: Campaign, actor: Any) -> Assignment | None:
    """Hand ``actor`` the next sampled, unassigned seed of the campaign, or None when none is
    left. Atomic: concurrent callers skip rows another transaction has locked, and the
    one-active-assignment-per-seed constraint backs it.

    Raises NotFound / NotAllowed (not an annotator of the campaign) and Conflict when the
    campaign's ``max_active_assignments`` is reached."""
    require_role(campaign=campaign, actor=actor, role=Role.ANNOTATOR)
    for _attempt in range(3):
        try:
            return _claim_next_once(campaign=campaign, actor=actor)
        except IntegrityError:
            # Only a backend without SKIP LOCKED can get here (two claims raced for one seed);
            # the constraint refused the second, so try the next seed.
            continue
    raise Conflict("Could not claim a seed because of concurrent claims; try again.")


@transaction.atomic
def _claim_next_once(*, campaign: Campaign, actor: Any) -> Assignment | None:
    if campaign.max_active_assignments is not None:
        # Serialise this annotator's claims so two at once cannot both pass the cap.
        Membership.objects.select_for_update().filter(
            campaign=campaign, user_id=actor.pk, role=Role.ANNOTATOR
        ).first()
        active = Assignment.objects.filter(
            campaign=campaign, annotator_id=actor.pk, status=Assignment.Status.ACTIVE
        ).count()
        if active >= campaign.max_active_assignments:
            raise Conflict(
                f"You already hold {active} active assignments, the most this campaign allows; "
                "submit or reject one first."
            )
    seed = (
        Seed.objects.select_for_update(skip_locked=True)
        .filter(campaign=campaign, status=Seed.Status.SAMPLED)
        .order_by("sample_rank", "id")
        .first()
    )
    if seed is None:
        return None
    updated = Seed.objects.filter(pk=seed.pk, status=Seed.Status.SAMPLED).update(
        status=Seed.Status.ASSIGNED
    )
    if not updated:
        raise IntegrityError("seed was taken concurrently")
    now = timezone.now()
    assignment = Assignment.objects.create(
        campaign=campaign, seed=seed, annotator=actor, lease_expires_at=_lease_end(campaign, now)
    )
    event_record(
        campaign=campaign,
        actor=actor,
        kind="assignment.claimed",
        obj=assignment,
        from_state="",
        to_state=Assignment.Status.ACTIVE,
        data={"seed": seed.pk},
    )
    return assignment


def assignments_expire(*, campaign: Campaign | None = None, now: datetime | None = None) -> int:
    """Return expired, untouched active assignments to the pool (assignment -> released, seed ->
    sampled). An assignment with any rewrite (a draft) is never released by the sweep: a draft
    is never lost. Idempotent; returns how many were released."""
    now = now or timezone.now()
    released = 0
    with transaction.atomic():
        qs = Assignment.objects.select_for_update(skip_locked=True).filter(
            status=Assignment.Status.ACTIVE, lease_expires_at__lt=now
        )
        if campaign is not None:
            qs = qs.filter(campaign=campaign)
        qs = qs.filter(~Exists(Rewrite.objects.filter(assignment=OuterRef("pk"))))
        expired = list(qs.only("id", "seed_id", "campaign_id"))
        if not expired:
            return 0
        ids = [a.pk for a in expired]
        released = Assignment.objects.filter(pk__in=ids, status=Assignment.Status.ACTIVE).update(
            status=Assignment.Status.RELEASED
        )
        Seed.objects.filter(
            pk__in=[a.seed_id for a in expired], status=Seed.Status.ASSIGNED
        ).update(status=Seed.Status.SAMPLED)
        Event.objects.bulk_create(
            [
                Event(
                    campaign_id=a.campaign_id,
                    kind="assignment.lease_expired",
                    object_type="assignment",
                    object_id=a.pk,
                    from_state=Assignment.Status.ACTIVE,
                    to_state=Assignment.Status.RELEASED,
                    data={"seed": a.seed_id},
                )
                for a in expired
            ]
        )
    return released


def _lock_own_active_assignment(*, assignment_id: int, actor: Any) -> Assignment:
    assignment = (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("campaign", "seed")
        .filter(pk=assignment_id)
        .first()
    )
    if assignment is None or assignment.annotator_id != actor.pk:
        raise NotFound("No such assignment.")
    # Removed from the campaign (or no longer an annotator): the assignment is not theirs now.
    require_role(campaign=assignment.campaign, actor=actor, role=Role.ANNOTATOR)
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
    assignment = _lock_own_active_assignment(assignment_id=assignment_id, actor=actor)
    if assignment.rewrites.exclude(status=Rewrite.Status.DRAFT).exists():
        raise InvalidTransition(
            "This seed was already rewritten and reviewed; revise the returned rewrite instead "
            "of rejecting the seed."
        )
    assignment.status = Assignment.Status.REJECTED
    assignment.reject_reason = reason
    assignment.reject_note = note.strip()
    assignment.save(update_fields=["status", "reject_reason", "reject_note", "updated_at"])
    Seed.objects.filter(pk=assignment.seed_id).update(status=Seed.Status.DONE)
    assignment.seed.status = Seed.Status.DONE
    event_record(
        campaign=assignment.campaign,
        actor=actor,
        kind="assignment.seed_rejected",
        obj=assignment,
        from_state=Assignment.Status.ACTIVE,
        to_state=Assignment.Status.REJECTED,
        data={"reason": reason, "note": assignment.reject_note, "seed": assignment.seed_id},
    )
    return assignment


@transaction.atomic
def assignment_reassign(
    *, assignment_id: int, actor: Any, annotator: Any, note: str = ""
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
        Assignment.objects.select_for_update(of=("self",))
        .select_related("campaign")
        .filter(pk=assignment_id)
        .first()
    )
    if assignment is None:
        raise NotFound("No such assignment.")
    campaign = assignment.campaign
    require_role(campaign=campaign, actor=actor, role=Role.CURATOR)
    if assignment.status != Assignment.Status.ACTIVE:
        raise InvalidTransition(
            f"This assignment is {assignment.get_status_display().lower()}; only active "
            "assignments (being rewritten or revised) can be reassigned."
        )
    errors: dict[str, list[str]] = {}
    if not Membership.objects.filter(
        campaign=campaign, user_id=annotator.pk, role=Role.ANNOTATOR
    ).exists():
        errors["annotator"] = [f"{annotator.get_username()!r} is not an annotator of this campaign"]
    elif annotator.pk == assignment.annotator_id:
        errors["annotator"] = ["this annotator already holds the assignment"]
    elif campaign.max_active_assignments is not None:
        active = Assignment.objects.filter(
            campaign=campaign, annotator_id=annotator.pk, status=Assignment.Status.ACTIVE
        ).count()
        if active >= campaign.max_active_assignments:
            errors["annotator"] = [
                f"{annotator.get_username()!r} already has {active} active assignments, the "
                f"campaign's limit ({campaign.max_active_assignments})"
            ]
    if errors:
        raise ValidationFailed(
            "The assignment cannot go to that annotator.", details={"errors": errors}
        )
    previous = assignment.annotator_id
    assignment.annotator_id = annotator.pk
    if assignment.lease_expires_at is not None:
        assignment.lease_expires_at = _lease_end(campaign, timezone.now())
    assignment.save(update_fields=["annotator", "lease_expires_at", "updated_at"])
    moved = list(
        assignment.rewrites.filter(status=Rewrite.Status.DRAFT).values_list("pk", flat=True)
    )
    Rewrite.objects.filter(pk__in=moved).update(author_id=annotator.pk, updated_at=timezone.now())
    event_record(
        campaign=campaign,
        actor=actor,
        kind="assignment.reassigned",
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

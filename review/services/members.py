"""Campaign membership: add a member, change a role, remove a member, with what each means for
the work in flight (review panels, open assignments). These live in the review app because a
role's consequences reach ballots; the admin and the commands use them."""

from typing import Any

from django.db import transaction
from django.db.models import Count, Q

from annotation.models import Assignment, Campaign, Membership, Rewrite, Role
from annotation.services import annotator_can_take, assignment_reassign, assignments_release
from core import access
from core.errors import Conflict, NotFound, ValidationFailed
from core.transitions import EventKind, event_record

from ..models import Ballot
from .panels import ballots_close, panel_fill, panels_fill_waiting


def _check_curator(actor: Any, campaign: Campaign, operator: bool) -> None:
    # Commands run as the operator (no actor), and so do staff in the admin (``operator``);
    # anyone else must be a curator of the campaign.
    if actor is not None and not operator:
        access.require(actor, campaign, role=Role.CURATOR, missing="No such campaign.")


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationFailed(
            f"Unknown role {role!r}.", details={"errors": {"role": [f"one of {Role.values}"]}}
        )


@transaction.atomic
def membership_add(
    *, campaign: Campaign, user: Any, role: str, actor: Any = None, operator: bool = False
) -> Membership:
    """Give ``user`` ``role`` in ``campaign``; idempotent (an existing membership is returned).
    A new reviewer at once fills review panels that were waiting for reviewers.

    Raises ValidationFailed (unknown role) and, with an ``actor`` who is not an ``operator``,
    NotFound / NotAllowed unless they are a curator of the campaign."""
    _check_role(role)
    _check_curator(actor, campaign, operator)
    membership, created = Membership.objects.get_or_create(campaign=campaign, user=user, role=role)
    if created:
        access.forget(user.pk)
        event_record(
            campaign=campaign,
            actor=actor,
            kind=EventKind.MEMBERSHIP_ADDED,
            obj=membership,
            to_state=role,
            data={"user": user.get_username()},
        )
    if role == Role.REVIEWER:
        # Also when the membership existed: add_member run again completes waiting panels.
        panels_fill_waiting(campaign=campaign)
    return membership


def _lock_membership(campaign: Campaign, user: Any, role: str) -> Membership:
    if role == Role.CURATOR:
        # All curator rows, in one order, before any of them: two curators removed at once
        # then wait for each other instead of deadlocking, and the last-curator check sees
        # every curator.
        list(
            Membership.objects.select_for_update(no_key=True)
            .filter(campaign=campaign, role=Role.CURATOR)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    membership = (
        Membership.objects.select_for_update(no_key=True)
        .filter(campaign=campaign, user_id=user.pk, role=role)
        .first()
    )
    if membership is None:
        raise NotFound(f"{user.get_username()!r} is not a {role} of campaign {campaign.slug!r}.")
    return membership


def _keep_a_curator(campaign: Campaign, user: Any) -> None:
    """The caller holds the curator rows' locks (``_lock_membership``)."""
    curators = list(
        Membership.objects.filter(campaign=campaign, role=Role.CURATOR).values_list(
            "user_id", flat=True
        )
    )
    if curators == [user.pk]:
        raise Conflict(
            f"{user.get_username()!r} is the last curator of {campaign.slug!r}; add another "
            "curator first, so someone can still run the campaign."
        )


def _leave_reviewing(campaign: Campaign, user: Any, actor: Any) -> dict[str, int]:
    """Close the reviewer's pending ballots and refill those panels from the other reviewers;
    a rewrite with no reviewer left to take the seat waits, visibly, for one."""
    rewrite_ids = list(
        Ballot.objects.filter(campaign=campaign, reviewer_id=user.pk, status=Ballot.Status.PENDING)
        .order_by("rewrite_id")
        .values_list("rewrite_id", flat=True)
    )
    closed = opened = 0
    for rewrite in (
        Rewrite.objects.select_for_update(no_key=True).filter(pk__in=rewrite_ids).order_by("pk")
    ):
        closed += len(
            ballots_close(
                rewrite=rewrite,
                actor=actor,
                reviewer_id=user.pk,
                data={"rewrite": rewrite.pk, "reason": "reviewer removed"},
            )
        )
        opened += len(panel_fill(rewrite_id=rewrite.pk, actor=actor))
    return {"ballots_closed": closed, "ballots_reopened": opened}


def _least_loaded_annotator(campaign: Campaign, exclude: int) -> Any:
    """The annotator (other than ``exclude``) with the fewest active assignments who can take
    one more (the campaign's ``max_active_assignments``), or None."""
    candidates = (
        Membership.objects.filter(campaign=campaign, role=Role.ANNOTATOR)
        .exclude(user_id=exclude)
        .annotate(
            load=Count(
                "user__assignments",
                filter=Q(
                    user__assignments__campaign=campaign,
                    user__assignments__status=Assignment.Status.ACTIVE,
                ),
            )
        )
        .select_related("user")
        .order_by("load", "user_id")
    )
    for membership in candidates:
        if not annotator_can_take(campaign=campaign, annotator=membership.user, current_id=exclude):
            return membership.user
    return None


def _leave_annotating(
    campaign: Campaign, user: Any, actor: Any, reassign_to: Any
) -> dict[str, int]:
    """The annotator's active assignments: all go to ``reassign_to`` when given; otherwise those
    holding a draft (or a returned rewrite being revised) go to the least-loaded remaining
    annotator with their drafts, and untouched ones go back to the pool. With no annotator
    left, everything goes back to the pool and the drafts stay on the released assignments."""
    active = list(
        Assignment.objects.select_for_update(no_key=True, of=("self",))
        .filter(campaign=campaign, annotator_id=user.pk, status=Assignment.Status.ACTIVE)
        .order_by("pk")
    )
    with_work = set(
        Rewrite.objects.filter(assignment__in=active).values_list("assignment_id", flat=True)
    )
    release: list[Assignment] = []
    reassigned = 0
    for assignment in active:
        target = reassign_to
        if target is None and assignment.pk in with_work:
            target = _least_loaded_annotator(campaign, exclude=user.pk)
        if target is None:
            release.append(assignment)
            continue
        assignment_reassign(
            assignment_id=assignment.pk,
            actor=actor,
            annotator=target,
            note=f"{user.get_username()} left the campaign",
            check_role=False,
        )
        reassigned += 1
    released = assignments_release(
        release, campaign_id=campaign.pk, actor=actor, kind=EventKind.ASSIGNMENT_RELEASED
    )
    return {"assignments_reassigned": reassigned, "assignments_released": len(released)}


def _lose_role(
    campaign: Campaign, user: Any, role: str, actor: Any, reassign_to: Any
) -> dict[str, int]:
    if role == Role.CURATOR:
        return {}  # checked before the membership changed (_keep_a_curator)
    if role == Role.REVIEWER:
        return _leave_reviewing(campaign, user, actor)
    return _leave_annotating(campaign, user, actor, reassign_to)


@transaction.atomic
def membership_remove(
    *,
    campaign: Campaign,
    user: Any,
    role: str,
    actor: Any = None,
    reassign_to: Any = None,
    operator: bool = False,
) -> dict[str, int]:
    """Take ``role`` in ``campaign`` from ``user`` (their other roles stay), and hand their
    work on: a reviewer's pending ballots are closed and those panels refilled; an annotator's
    active assignments are reassigned or released (``_leave_annotating``; ``reassign_to`` sends
    them all to one annotator). Returns what was moved.

    Raises NotFound (no such membership), Conflict (the last curator), ValidationFailed (unknown
    role, or ``reassign_to`` cannot take the work) and, with an ``actor``, NotFound / NotAllowed
    unless they are a curator. Nothing changes when any is raised."""
    _check_role(role)
    _check_curator(actor, campaign, operator)
    membership = _lock_membership(campaign, user, role)
    if reassign_to is not None and role != Role.ANNOTATOR:
        raise ValidationFailed(
            "Only an annotator's work can be reassigned.",
            details={"errors": {"reassign_to": ["only when removing an annotator"]}},
        )
    if role == Role.CURATOR:
        _keep_a_curator(campaign, user)
    membership_id = membership.pk
    membership.delete()
    access.forget(user.pk)
    moved = _lose_role(campaign, user, role, actor, reassign_to)
    event_record(
        campaign=campaign,
        actor=actor,
        kind=EventKind.MEMBERSHIP_REMOVED,
        obj=Membership(pk=membership_id),
        from_state=role,
        data={"user": user.get_username(), **moved},
    )
    return moved


@transaction.atomic
def membership_role_change(
    *,
    campaign: Campaign,
    user: Any,
    from_role: str,
    to_role: str,
    actor: Any = None,
    operator: bool = False,
) -> Membership:
    """Replace ``user``'s ``from_role`` with ``to_role`` (their work under the old role is handed
    on as ``membership_remove`` does; a new reviewer fills waiting panels). If they already
    hold ``to_role`` this only removes ``from_role``.

    Raises what ``membership_remove`` raises, and ValidationFailed for an unknown role."""
    _check_role(from_role)
    _check_role(to_role)
    _check_curator(actor, campaign, operator)
    if from_role == to_role:
        return _lock_membership(campaign, user, from_role)
    membership = (
        Membership.objects.select_for_update(no_key=True)
        .filter(campaign=campaign, user_id=user.pk, role=to_role)
        .first()
    )
    old = _lock_membership(campaign, user, from_role)
    if membership is not None:
        membership_remove(
            campaign=campaign, user=user, role=from_role, actor=actor, operator=operator
        )
        return membership
    if from_role == Role.CURATOR:
        _keep_a_curator(campaign, user)
    old.role = to_role
    old.save(update_fields=["role"])
    access.forget(user.pk)
    moved = _lose_role(campaign, user, from_role, actor, None)
    event_record(
        campaign=campaign,
        actor=actor,
        kind=EventKind.MEMBERSHIP_ROLE_CHANGED,
        obj=old,
        from_state=from_role,
        to_state=to_role,
        data={"user": user.get_username(), **moved},
    )
    if to_role == Role.REVIEWER:
        panels_fill_waiting(campaign=campaign)
    return old

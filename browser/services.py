"""Bulk actions of the data browser on a selection of rows: each is one transaction that locks
the selected rows, sorts them into eligible and skipped (each skipped row with the reason), and
changes every eligible row through the owning app's service (which records its usual Event), or
none of them when one fails. Curators only (operators hold that role everywhere)."""

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef

from annotation.models import Assignment, Campaign, Membership, Rewrite, Role, Seed
from annotation.services import assignment_reassign, assignments_release
from annotation.services.assignments import active_count
from core import access
from core.errors import ValidationFailed
from core.transitions import EventKind
from review.services import rewrite_return

# The most rows one bulk action changes; a larger selection is refused (narrow the filter).
BULK_LIMIT = 1000


@dataclass
class BulkResult:
    action: str
    changed: list[int] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def skip(self, pk: int, reason: str) -> None:
        self.skipped.append({"id": pk, "reason": reason})


def _check_size(ids: list[int]) -> list[int]:
    wanted = list(dict.fromkeys(ids))
    if len(wanted) > BULK_LIMIT:
        raise ValidationFailed(
            f"A bulk action changes at most {BULK_LIMIT:,} rows at once and this selection has "
            f"more; narrow the filter (a status, a subcategory, dates) or select rows.",
            details={"errors": {"ids": [f"at most {BULK_LIMIT} rows"]}, "limit": BULK_LIMIT},
        )
    return wanted


def _missing(result: BulkResult, wanted: list[int], found: set[int]) -> None:
    for pk in wanted:
        if pk not in found:
            result.skip(pk, "no such row in this campaign")


@transaction.atomic
def rewrites_return(
    *, campaign: Campaign, actor: Any, rewrite_ids: list[int], note: str = ""
) -> BulkResult:
    """Return each selected rejected or no-consensus revision to its author for a new revision
    (``review.services.rewrite_return``, with ``note`` as the curator's feedback). Skipped:
    revisions in another status, or whose author is no longer an annotator of the campaign (a
    single return from the revision's page can give it to someone else).

    Raises NotFound / NotAllowed (not a curator of ``campaign``) and ValidationFailed (more than
    BULK_LIMIT rows); nothing changes when any service call fails."""
    access.require(actor, campaign, role=Role.CURATOR, missing="No such campaign.")
    wanted = _check_size(rewrite_ids)
    result = BulkResult(action="return")
    locked = {
        r.pk: r
        for r in Rewrite.objects.select_for_update(no_key=True, of=("self",))
        .filter(campaign=campaign, pk__in=wanted)
        .annotate(
            author_annotates=Exists(
                Membership.objects.filter(
                    campaign=campaign, user_id=OuterRef("author_id"), role=Role.ANNOTATOR
                )
            )
        )
        .order_by("pk")
    }
    _missing(result, wanted, set(locked))
    returnable = {Rewrite.Status.REJECTED, Rewrite.Status.NO_CONSENSUS}
    for pk in wanted:
        rewrite = locked.get(pk)
        if rewrite is None:
            continue
        if rewrite.status not in returnable:
            result.skip(
                pk,
                f"it is {rewrite.get_status_display().lower()}; only rejected or no-consensus "
                "revisions can be returned",
            )
        elif not rewrite.author_annotates:
            result.skip(
                pk,
                "its author is no longer an annotator here; return it from its page to "
                "someone else",
            )
        else:
            rewrite_return(rewrite_id=pk, actor=actor, note=note)
            result.changed.append(pk)
    return result


@transaction.atomic
def assignments_reassign(
    *,
    campaign: Campaign,
    actor: Any,
    assignment_ids: list[int],
    annotator: Any,
    note: str = "",
) -> BulkResult:
    """Hand each selected active assignment (with its open draft) to ``annotator``
    (``annotation.services.assignment_reassign``). Skipped: assignments that are not active or
    are already theirs.

    Raises NotFound / NotAllowed (not a curator), ValidationFailed (more than BULK_LIMIT rows,
    ``annotator`` is not an annotator of the campaign, or would go past the campaign's
    ``max_active_assignments``); nothing changes then."""
    access.require(actor, campaign, role=Role.CURATOR, missing="No such campaign.")
    wanted = _check_size(assignment_ids)
    result = BulkResult(action="reassign")
    if not Membership.objects.filter(
        campaign=campaign, user_id=annotator.pk, role=Role.ANNOTATOR
    ).exists():
        raise ValidationFailed(
            "The assignments cannot go to that annotator.",
            details={
                "errors": {
                    "annotator": [
                        f"{annotator.get_username()!r} is not an annotator of this campaign"
                    ]
                }
            },
        )
    locked = {
        a.pk: a
        for a in Assignment.objects.select_for_update(no_key=True)
        .filter(campaign=campaign, pk__in=wanted)
        .order_by("pk")
    }
    _missing(result, wanted, set(locked))
    eligible: list[int] = []
    for pk in wanted:
        a = locked.get(pk)
        if a is None:
            continue
        if a.status != Assignment.Status.ACTIVE:
            result.skip(
                pk,
                f"it is {a.get_status_display().lower()}; only active assignments can be "
                "reassigned",
            )
        elif a.annotator_id == annotator.pk:
            result.skip(pk, f"{annotator.get_username()} already holds it")
        else:
            eligible.append(pk)
    limit = campaign.max_active_assignments
    if limit is not None and eligible:
        holding = active_count(campaign=campaign, annotator_id=annotator.pk)
        if holding + len(eligible) > limit:
            raise ValidationFailed(
                f"{annotator.get_username()} holds {holding} active assignments; "
                f"{len(eligible)} more would pass the campaign's limit of {limit}. Select "
                f"at most {max(0, limit - holding)}.",
                details={"errors": {"annotator": ["would pass max_active_assignments"]}},
            )
    for pk in eligible:
        assignment_reassign(assignment_id=pk, actor=actor, annotator=annotator, note=note)
        result.changed.append(pk)
    return result


@transaction.atomic
def assignments_put_back(
    *, campaign: Campaign, actor: Any, assignment_ids: list[int]
) -> BulkResult:
    """Put unstarted seeds back in the pool: each selected active assignment with no revision
    at all -> released, its seed -> sampled (``annotation.services.assignments_release``, an
    ``assignment.released`` event each). Skipped: assignments that are not active, or that have
    a draft or a revision (reassign those instead: a draft is never thrown away).

    Raises NotFound / NotAllowed (not a curator) and ValidationFailed (more than BULK_LIMIT)."""
    access.require(actor, campaign, role=Role.CURATOR, missing="No such campaign.")
    wanted = _check_size(assignment_ids)
    result = BulkResult(action="release")
    # Locked first, as the lease sweep does, so a claim or a first save cannot slip in between.
    locked = {
        a.pk: a
        for a in Assignment.objects.select_for_update(no_key=True, of=("self",))
        .filter(campaign=campaign, pk__in=wanted)
        .annotate(written=Exists(Rewrite.objects.filter(assignment_id=OuterRef("pk"))))
        .order_by("pk")
    }
    _missing(result, wanted, set(locked))
    eligible: list[Assignment] = []
    for pk in wanted:
        a = locked.get(pk)
        if a is None:
            continue
        if a.status != Assignment.Status.ACTIVE:
            result.skip(pk, f"it is {a.get_status_display().lower()}, not active")
        elif a.written:
            result.skip(pk, "its annotator has started it (a draft or a revision); reassign it")
        else:
            eligible.append(a)
    result.changed = assignments_release(
        eligible, campaign_id=campaign.pk, actor=actor, kind=EventKind.ASSIGNMENT_RELEASED
    )
    return result


@transaction.atomic
def seeds_put_back(*, campaign: Campaign, actor: Any, seed_ids: list[int]) -> BulkResult:
    """``assignments_put_back`` for seeds: each selected seed's active assignment, when it has
    no revision, is released and the seed goes back to the pool. Skipped: seeds without an
    active assignment, or whose assignment was started. ``changed`` lists seed ids."""
    access.require(actor, campaign, role=Role.CURATOR, missing="No such campaign.")
    wanted = _check_size(seed_ids)
    result = BulkResult(action="release")
    active = dict(
        Assignment.objects.filter(
            campaign=campaign, seed_id__in=wanted, status=Assignment.Status.ACTIVE
        ).values_list("pk", "seed_id")
    )
    known = set(Seed.objects.filter(campaign=campaign, pk__in=wanted).values_list("pk", flat=True))
    by_assignment = assignments_put_back(
        campaign=campaign, actor=actor, assignment_ids=list(active)
    )
    seed_of = active
    changed = {seed_of[pk] for pk in by_assignment.changed}
    reasons = {seed_of[s["id"]]: s["reason"] for s in by_assignment.skipped if s["id"] in seed_of}
    for pk in wanted:
        if pk not in known:
            result.skip(pk, "no such row in this campaign")
        elif pk in changed:
            result.changed.append(pk)
        elif pk in reasons:
            result.skip(pk, reasons[pk])
        else:
            result.skip(pk, "no annotator holds it now")
    return result


def browse_bulk(
    *,
    campaign: Campaign,
    actor: Any,
    kind: str,
    action: str,
    ids: list[int],
    note: str = "",
    annotator: Any = None,
) -> BulkResult:
    """Run the bulk ``action`` on rows ``ids`` of ``kind``: return (rewrites), reassign
    (assignments, to ``annotator``), release (assignments, or seeds). ValidationFailed for an
    action this kind of row does not have."""
    if kind == "rewrites" and action == "return":
        return rewrites_return(campaign=campaign, actor=actor, rewrite_ids=ids, note=note)
    if kind == "assignments" and action == "reassign" and annotator is not None:
        return assignments_reassign(
            campaign=campaign, actor=actor, assignment_ids=ids, annotator=annotator, note=note
        )
    if kind == "assignments" and action == "release":
        return assignments_put_back(campaign=campaign, actor=actor, assignment_ids=ids)
    if kind == "seeds" and action == "release":
        return seeds_put_back(campaign=campaign, actor=actor, seed_ids=ids)
    access.require(actor, campaign, role=Role.CURATOR, missing="No such campaign.")
    offered = {"seeds": "release", "assignments": "reassign or release", "rewrites": "return"}
    raise ValidationFailed(
        f"{kind.capitalize()} have no bulk action {action!r}.",
        details={"errors": {"action": [f"{kind}: {offered.get(kind, 'none')}"]}},
    )

"""Every write of the review app: panels, votes, consensus, the revision loop."""

from dataclasses import dataclass
from typing import Any

from celery import current_app
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from annotation.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from annotation.models import Assignment, Campaign, Membership, Rewrite, RewriteLanguage, Role, Seed
from annotation.services import (
    assignment_reassign,
    event_record,
    require_role,
    rewrite_submit,
)

from .consensus import Outcome, consensus
from .models import Ballot, Decision, VoteReason

QUALITY_CHECK_TASK = "exports.tasks.check_rewrite_quality"


@transaction.atomic
def panel_fill(*, rewrite_id: int) -> list[Ballot]:
    """Open ballots for a submitted rewrite until its panel is full, for the least-loaded
    reviewers of the campaign (fewest pending ballots; ties by user id) other than the authors
    of any of its revisions and those already on the panel. If too few reviewers exist the
    rewrite waits; calling this again later (``panels_fill_waiting``) completes the panel.
    Idempotent."""
    rewrite = (
        Rewrite.objects.select_for_update(of=("self",))
        .select_related("campaign")
        .filter(pk=rewrite_id)
        .first()
    )
    if rewrite is None or rewrite.status != Rewrite.Status.SUBMITTED:
        return []
    campaign = rewrite.campaign
    seated = set(rewrite.ballots.values_list("reviewer_id", flat=True))
    need = campaign.panel_size - len(seated)
    if need <= 0:
        return []
    # Nobody who wrote any revision of this rewrite reviews it: after a reassignment the text
    # under review may still be largely the first author's.
    authors = set(
        Rewrite.objects.filter(assignment_id=rewrite.assignment_id).values_list(
            "author_id", flat=True
        )
    )
    candidates = (
        Membership.objects.filter(campaign=campaign, role=Role.REVIEWER)
        .exclude(user_id__in=authors | {rewrite.author_id})
        .exclude(user_id__in=seated)
        .annotate(
            load=Count(
                "user__ballots",
                filter=Q(
                    user__ballots__status=Ballot.Status.PENDING,
                    user__ballots__campaign=campaign,
                ),
            )
        )
        .order_by("load", "user_id")
        .values_list("user_id", flat=True)[:need]
    )
    ballots = [
        Ballot.objects.create(campaign=campaign, rewrite=rewrite, reviewer_id=user_id)
        for user_id in candidates
    ]
    for ballot in ballots:
        event_record(
            campaign=campaign,
            actor=None,
            kind="ballot.opened",
            obj=ballot,
            to_state=Ballot.Status.PENDING,
            data={"rewrite": rewrite.pk},
        )
    return ballots


def panels_fill_waiting(*, campaign: Campaign | None = None) -> int:
    """Complete the panels of submitted rewrites that are waiting for reviewers; returns how
    many ballots were opened."""
    rewrites = Rewrite.objects.filter(status=Rewrite.Status.SUBMITTED)
    if campaign is not None:
        rewrites = rewrites.filter(campaign=campaign)
    waiting = (
        rewrites.annotate(seats=Count("ballots"))
        .filter(seats__lt=F("campaign__panel_size"))
        .values_list("pk", flat=True)
    )
    return sum(len(panel_fill(rewrite_id=pk)) for pk in list(waiting))


@transaction.atomic
def submission_open(*, assignment_id: int, actor: Any) -> Rewrite:
    """Submit an assignment's draft (``annotation.services.rewrite_submit``) and open its review
    panel in the same transaction. Raises what ``rewrite_submit`` raises."""
    rewrite = rewrite_submit(assignment_id=assignment_id, actor=actor)
    panel_fill(rewrite_id=rewrite.pk)
    # Decontamination and similarity checks belong to the exports app, which depends on this
    # one; the task is looked up by name so the dependency keeps pointing one way.
    current_app.tasks[QUALITY_CHECK_TASK].delay_on_commit(rewrite.pk)
    return rewrite


@dataclass
class VoteResult:
    ballot: Ballot
    outcome: Outcome | None


def ballot_cast(
    *,
    ballot_id: int,
    actor: Any,
    decision: str,
    reasons: list[str] | None = None,
    comment: str = "",
) -> VoteResult:
    """Cast the actor's vote. Locks the rewrite first, so that concurrent last votes are
    serialised and the rewrite is decided exactly once. When the panel is complete (or, with
    early decision, when the outcome can no longer change) the rewrite becomes accepted,
    rejected or no_consensus.

    Raises NotFound (not the actor's ballot), Conflict (already voted), InvalidTransition (the
    ballot was closed or the rewrite is no longer under review) and ValidationFailed."""
    reasons = list(dict.fromkeys(reasons or []))
    errors: dict[str, list[str]] = {}
    if decision not in Decision.values:
        errors["decision"] = ["must be 'valid' or 'invalid'"]
    bad = [r for r in reasons if r not in VoteReason.values]
    if bad:
        errors["reasons"] = [f"unknown {bad}; use {', '.join(VoteReason.values)}"]
    if decision == Decision.INVALID and not reasons:
        errors.setdefault("reasons", []).append("give at least one reason for 'invalid'")
    if errors:
        raise ValidationFailed("The vote is incomplete.", details={"errors": errors})
    with transaction.atomic():
        rewrite_id = (
            Ballot.objects.filter(pk=ballot_id, reviewer_id=actor.pk)
            .values_list("rewrite_id", flat=True)
            .first()
        )
        if rewrite_id is None:
            raise NotFound("No such ballot.")
        rewrite = (
            Rewrite.objects.select_for_update(of=("self",))
            .select_related("campaign")
            .get(pk=rewrite_id)
        )
        # A reviewer removed from the campaign can no longer vote (NotFound / NotAllowed).
        require_role(campaign=rewrite.campaign, actor=actor, role=Role.REVIEWER)
        ballot = Ballot.objects.select_for_update().get(pk=ballot_id)
        if ballot.status == Ballot.Status.CAST:
            raise Conflict(
                "You already voted on this rewrite; a vote is final and counted once.",
                details={"decision": ballot.decision},
            )
        if ballot.status == Ballot.Status.CLOSED or rewrite.status != Rewrite.Status.SUBMITTED:
            raise InvalidTransition("This rewrite is no longer under review; no vote is needed.")
        now = timezone.now()
        ballot.status = Ballot.Status.CAST
        ballot.decision = decision
        ballot.reasons = reasons
        ballot.comment = comment.strip()
        ballot.cast_at = now
        ballot.save(update_fields=["status", "decision", "reasons", "comment", "cast_at"])
        campaign = rewrite.campaign
        event_record(
            campaign=campaign,
            actor=actor,
            kind="ballot.cast",
            obj=ballot,
            from_state=Ballot.Status.PENDING,
            to_state=Ballot.Status.CAST,
            data={"decision": decision, "reasons": reasons, "rewrite": rewrite.pk},
        )
        tally = rewrite_tally(rewrite=rewrite)
        outcome = consensus(
            valid=tally["valid"],
            invalid=tally["invalid"],
            panel_size=campaign.panel_size,
            threshold=campaign.accept_threshold,
            early=campaign.early_decision,
        )
        if outcome is not None:
            rewrite.status = outcome.value
            rewrite.decided_at = now
            rewrite.save(update_fields=["status", "decided_at", "updated_at"])
            closed = list(
                rewrite.ballots.filter(status=Ballot.Status.PENDING).values_list("pk", flat=True)
            )
            Ballot.objects.filter(pk__in=closed).update(status=Ballot.Status.CLOSED)
            for closed_id in closed:
                event_record(
                    campaign=campaign,
                    actor=None,
                    kind="ballot.closed",
                    obj=Ballot(pk=closed_id),
                    from_state=Ballot.Status.PENDING,
                    to_state=Ballot.Status.CLOSED,
                    data={"rewrite": rewrite.pk, "outcome": outcome.value},
                )
            event_record(
                campaign=campaign,
                actor=actor,
                kind=f"rewrite.{outcome.value}",
                obj=rewrite,
                from_state=Rewrite.Status.SUBMITTED,
                to_state=outcome.value,
                data={**tally, "closed_ballots": closed},
            )
    return VoteResult(ballot=ballot, outcome=outcome)


def rewrite_tally(*, rewrite: Rewrite) -> dict[str, int]:
    counts = rewrite.ballots.filter(status=Ballot.Status.CAST).aggregate(
        valid=Count("pk", filter=Q(decision=Decision.VALID)),
        invalid=Count("pk", filter=Q(decision=Decision.INVALID)),
    )
    return {"valid": counts["valid"], "invalid": counts["invalid"]}


RETURNABLE = {Rewrite.Status.REJECTED, Rewrite.Status.NO_CONSENSUS}


@transaction.atomic
def rewrite_return(
    *, rewrite_id: int, actor: Any, note: str = "", annotator: Any = None
) -> Rewrite:
    """A curator sends a rejected or no-consensus rewrite back to its author: the revision ->
    returned, its assignment -> active again, the seed -> assigned, and a new draft revision
    starts as a copy with the curator's note and the reviewers' comments as feedback. The old
    revision and its ballots stay as they are. With ``annotator`` (another annotator of the
    campaign, e.g. when the author left) the reopened assignment and its new draft go to them
    instead (``assignment_reassign``). Returns the new draft.

    Raises NotFound, NotAllowed (not a curator), InvalidTransition (not returnable) and
    ValidationFailed (``annotator`` cannot take it); nothing changes when any is raised."""
    rewrite = (
        Rewrite.objects.select_for_update(of=("self",))
        .select_related("campaign", "assignment")
        .filter(pk=rewrite_id)
        .first()
    )
    if rewrite is None:
        raise NotFound("No such rewrite.")
    require_role(campaign=rewrite.campaign, actor=actor, role=Role.CURATOR)
    if rewrite.status not in RETURNABLE:
        raise InvalidTransition(
            f"Only rejected or no-consensus rewrites can be returned; this one is "
            f"{rewrite.get_status_display().lower()}."
        )
    if (
        annotator is None
        and not Membership.objects.filter(
            campaign=rewrite.campaign, user_id=rewrite.author_id, role=Role.ANNOTATOR
        ).exists()
    ):
        raise ValidationFailed(
            "The author is no longer an annotator of this campaign; return the rewrite to "
            "another annotator.",
            details={"errors": {"annotator": ["choose an annotator of this campaign"]}},
        )
    reopened = Assignment.objects.filter(
        pk=rewrite.assignment_id, status=Assignment.Status.SUBMITTED
    ).update(status=Assignment.Status.ACTIVE, lease_expires_at=None)  # stays with its author
    if not reopened:
        raise InvalidTransition("This rewrite's assignment is not waiting for a decision.")
    assignment = rewrite.assignment
    old_status = rewrite.status
    rewrite.status = Rewrite.Status.RETURNED
    rewrite.save(update_fields=["status", "updated_at"])
    Seed.objects.filter(pk=rewrite.seed_id).update(status=Seed.Status.ASSIGNED)
    # Annotators see the reviewers' comments and reasons, never who voted how: comments without
    # the empty ones, sorted rather than in voting order, and the reasons as one sorted set.
    cast = list(rewrite.ballots.filter(status=Ballot.Status.CAST))
    comments = sorted(b.comment for b in cast if b.comment)
    reasons = sorted({reason for b in cast for reason in b.reasons})
    new = Rewrite.objects.create(
        campaign=rewrite.campaign,
        seed_id=rewrite.seed_id,
        assignment=assignment,
        author_id=rewrite.author_id,
        revision=rewrite.revision + 1,
        previous=rewrite,
        text=rewrite.text,
        difficulty=rewrite.difficulty,
        natural_language=rewrite.natural_language,
        subcategory_id=rewrite.subcategory_id,
        check_clear=rewrite.check_clear,
        check_ethical=rewrite.check_ethical,
        check_solvable=rewrite.check_solvable,
        version=1,
        feedback={
            "outcome": old_status,
            "note": note.strip(),
            "returned_at": timezone.now().isoformat(),
            "comments": comments,
            "reasons": reasons,
        },
    )
    RewriteLanguage.objects.bulk_create(
        RewriteLanguage(rewrite=new, language_id=link.language_id, position=link.position)
        for link in rewrite.language_links.all()
    )
    event_record(
        campaign=rewrite.campaign,
        actor=actor,
        kind="rewrite.returned",
        obj=rewrite,
        from_state=old_status,
        to_state=Rewrite.Status.RETURNED,
        data={"note": note.strip(), "new_revision": new.pk},
    )
    event_record(
        campaign=rewrite.campaign,
        actor=actor,
        kind="assignment.reopened",
        obj=assignment,
        from_state=Assignment.Status.SUBMITTED,
        to_state=Assignment.Status.ACTIVE,
        data={"revision": new.revision},
    )
    if annotator is not None and annotator.pk != rewrite.author_id:
        assignment_reassign(
            assignment_id=assignment.pk, actor=actor, annotator=annotator, note=note
        )
        new.refresh_from_db(fields=["author"])
    return new

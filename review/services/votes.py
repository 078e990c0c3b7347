"""Votes: casting a ballot and deciding the rewrite when its panel is complete."""

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from annotation.models import Rewrite, Role
from core import access
from core.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from core.transitions import EventKind, transition

from ..consensus import Outcome, consensus
from ..models import Ballot, Decision, VoteReason
from .panels import ballots_close

OUTCOME_EVENT = {
    Outcome.ACCEPTED: EventKind.REWRITE_ACCEPTED,
    Outcome.REJECTED: EventKind.REWRITE_REJECTED,
    Outcome.NO_CONSENSUS: EventKind.REWRITE_NO_CONSENSUS,
}


@dataclass
class VoteResult:
    ballot: Ballot
    outcome: Outcome | None


def _validate_vote(decision: str, reasons: list[str]) -> None:
    errors: dict[str, list[str]] = {}
    if decision not in Decision.values:
        errors["decision"] = ["must be 'valid' or 'invalid'"]
    bad = [r for r in reasons if r not in VoteReason.values]
    if bad:
        errors["reasons"] = [f"unknown {bad}; use {', '.join(VoteReason.values)}"]
    if decision == Decision.INVALID and not reasons:
        errors.setdefault("reasons", []).append("give at least one reason for 'invalid'")
    if decision == Decision.VALID and reasons:
        # A reason is why a rewrite is invalid: on a 'valid' vote it would contradict it, and
        # the agreement figures and the reasons' counts would read it as a problem.
        errors.setdefault("reasons", []).append(
            "reasons are for an 'invalid' vote: leave them out of a 'valid' one (say more in "
            "the comment)"
        )
    if errors:
        raise ValidationFailed("The vote is incomplete.", details={"errors": errors})


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
    rejected or no_consensus and the ballots still pending are closed.

    Raises NotFound (not the actor's ballot), NotAllowed (no longer a reviewer), Conflict
    (already voted), InvalidTransition (the ballot was closed or the rewrite is no longer under
    review) and ValidationFailed."""
    reasons = list(dict.fromkeys(reasons or []))
    _validate_vote(decision, reasons)
    with transaction.atomic():
        found = Ballot.objects.filter(pk=ballot_id).values_list("rewrite_id", "reviewer_id").first()
        if found is None:
            raise NotFound("No such ballot.")
        rewrite_id, reviewer_id = found
        rewrite = Rewrite.objects.select_related("campaign").get(pk=rewrite_id)
        access.require(
            actor,
            rewrite.campaign,
            role=Role.REVIEWER,
            owner_id=reviewer_id,
            missing="No such ballot.",
        )
        # Then the rewrite's lock: it serialises the panel's last votes.
        rewrite = (
            Rewrite.objects.select_for_update(no_key=True, of=("self",))
            .select_related("campaign")
            .get(pk=rewrite_id)
        )
        ballot = Ballot.objects.select_for_update(no_key=True).get(pk=ballot_id)
        if ballot.status == Ballot.Status.CAST:
            raise Conflict(
                "You already voted on this rewrite; a vote is final and counted once.",
                details={"decision": ballot.decision},
            )
        if ballot.status == Ballot.Status.CLOSED or rewrite.status != Rewrite.Status.SUBMITTED:
            raise InvalidTransition("This rewrite is no longer under review; no vote is needed.")
        now = timezone.now()
        transition(
            ballot,
            to=Ballot.Status.CAST,
            allowed=Ballot.TRANSITIONS,
            kind=EventKind.BALLOT_CAST,
            actor=actor,
            extra={
                "decision": decision,
                "reasons": reasons,
                "comment": comment.strip(),
                "cast_at": now,
            },
            data={"decision": decision, "reasons": reasons, "rewrite": rewrite.pk},
        )
        campaign = rewrite.campaign
        tally = rewrite_tally(rewrite=rewrite)
        outcome = consensus(
            valid=tally["valid"],
            invalid=tally["invalid"],
            panel_size=rewrite.panel_size or campaign.panel_size,
            threshold=rewrite.accept_threshold or campaign.accept_threshold,
            early=campaign.early_decision,
        )
        if outcome is not None:
            closed = ballots_close(
                rewrite=rewrite, actor=None, data={"rewrite": rewrite.pk, "outcome": outcome.value}
            )
            transition(
                rewrite,
                to=outcome.value,
                allowed=Rewrite.TRANSITIONS,
                kind=OUTCOME_EVENT[outcome],
                actor=actor,
                extra={"decided_at": now},
                data={**tally, "closed_ballots": closed},
            )
    return VoteResult(ballot=ballot, outcome=outcome)


def rewrite_tally(*, rewrite: Rewrite) -> dict[str, int]:
    counts = rewrite.ballots.filter(status=Ballot.Status.CAST).aggregate(
        valid=Count("pk", filter=Q(decision=Decision.VALID)),
        invalid=Count("pk", filter=Q(decision=Decision.INVALID)),
    )
    return {"valid": counts["valid"], "invalid": counts["invalid"]}

"""The revision loop: a curator returns a rejected or no-consensus rewrite for a new revision."""

from typing import Any

from django.db import transaction
from django.utils import timezone

from annotation.models import Assignment, Membership, Rewrite, RewriteLanguage, Role, Seed
from annotation.services import assignment_reassign
from core import access
from core.errors import InvalidTransition, ValidationFailed
from core.transitions import EventKind, event_record, transition

from ..models import Ballot

RETURNABLE: set[str] = {Rewrite.Status.REJECTED, Rewrite.Status.NO_CONSENSUS}


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
        Rewrite.objects.select_for_update(no_key=True, of=("self",))
        .select_related("campaign", "assignment", "seed")
        .filter(pk=rewrite_id)
        .first()
    )
    rewrite = access.require_object(actor, rewrite, role=Role.CURATOR, missing="No such rewrite.")
    if rewrite.status not in RETURNABLE:
        raise InvalidTransition(
            f"Only rejected or no-consensus rewrites can be returned; this one is "
            f"{rewrite.get_status_display().lower()}."
        )
    # Locked, so a removal of the author running now either finishes first (and this refuses)
    # or waits until the new draft is theirs (and the removal hands it on).
    author_membership = (
        Membership.objects.select_for_update(no_key=True)
        .filter(campaign=rewrite.campaign, user_id=rewrite.author_id, role=Role.ANNOTATOR)
        .first()
    )
    if annotator is None and author_membership is None:
        raise ValidationFailed(
            "The author is no longer an annotator of this campaign; return the rewrite to "
            "another annotator.",
            details={"errors": {"annotator": ["choose an annotator of this campaign"]}},
        )
    assignment = Assignment.objects.select_for_update(no_key=True).get(pk=rewrite.assignment_id)
    if assignment.status != Assignment.Status.SUBMITTED:
        raise InvalidTransition("This rewrite's assignment is not waiting for a decision.")
    old_status = rewrite.status
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
        # Provenance carries over: the new revision still starts from the inserted suggestion
        # (its edit distance is measured again when it is submitted).
        suggestion_id=rewrite.suggestion_id,
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
    transition(
        rewrite,
        to=Rewrite.Status.RETURNED,
        allowed=Rewrite.TRANSITIONS,
        kind=EventKind.REWRITE_RETURNED,
        actor=actor,
        data={"note": note.strip(), "new_revision": new.pk},
    )
    event_record(
        campaign=rewrite.campaign,
        actor=actor,
        kind=EventKind.REWRITE_DRAFT_STARTED,
        obj=new,
        to_state=Rewrite.Status.DRAFT,
        data={"revision": new.revision, "returned": rewrite.pk},
    )
    # The assignment stays with its author and holds no lease while it is revised.
    transition(
        assignment,
        to=Assignment.Status.ACTIVE,
        allowed=Assignment.TRANSITIONS,
        kind=EventKind.ASSIGNMENT_REOPENED,
        actor=actor,
        extra={"lease_expires_at": None},
        data={"revision": new.revision, "new_revision": new.pk},
    )
    transition(
        rewrite.seed,
        to=Seed.Status.ASSIGNED,
        allowed=Seed.TRANSITIONS,
        kind=EventKind.SEED_REOPENED,
        actor=actor,
        data={"rewrite": rewrite.pk},
    )
    if annotator is not None and annotator.pk != rewrite.author_id:
        assignment_reassign(
            assignment_id=assignment.pk, actor=actor, annotator=annotator, note=note
        )
        new.refresh_from_db(fields=["author"])
    return new

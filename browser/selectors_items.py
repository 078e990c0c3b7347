"""Reads of the item page: one seed of a campaign with its whole history (every assignment,
every revision with its diff to the one before, flags with their evidence, every vote, the
curators' notes and the seed's event timeline) for the campaign's curators.

A fixed number of queries at any size (``item_history``): the campaign, the seed, its
assignments, its revisions with their languages, ballots, contamination hits and similarity
flags, and one query for the events of the seed and everything hanging off it."""

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch, Q

from annotation.models import (
    Assignment,
    Campaign,
    Event,
    Membership,
    RejectReason,
    Rewrite,
    Role,
    Seed,
    SeedSuggestion,
)
from annotation.selectors import campaign_for_member, language_links_prefetch
from core.diff import TextDiff, text_diff
from core.errors import NotFound
from core.transitions import EventKind
from exports.services.formats import MODEL_DRAFTED, Provenance
from quality.models import ContaminationHit, SimilarityFlag
from quality.selectors import check_state as quality_check_state
from quality.selectors import contamination_hits, quality_flags_prefetch, similarity_flags
from review.models import Ballot, VoteReason

# What a human reads for each kind of event (the timeline); every EventKind has one.
EVENT_LABELS: dict[str, str] = {
    EventKind.CAMPAIGN_CREATED: "Campaign created",
    EventKind.CAMPAIGN_NGRAM_CHANGED: "Contamination n-gram size changed",
    EventKind.CAMPAIGN_SETTINGS_CHANGED: "Campaign settings changed",
    EventKind.GUIDELINES_SAVED: "Guidelines saved",
    EventKind.INVITATION_CREATED: "Invitation sent",
    EventKind.INVITATION_ACCEPTED: "Invitation accepted",
    EventKind.INVITATION_REVOKED: "Invitation revoked",
    EventKind.SEED_IMPORT_UPLOADED: "Seed file uploaded",
    EventKind.SEED_IMPORT_CHECKED: "Seed file checked",
    EventKind.SEED_IMPORT_STARTED: "Seed import started",
    EventKind.SEED_IMPORT_DONE: "Seed import finished",
    EventKind.SEED_IMPORT_FAILED: "Seed import failed",
    EventKind.SEED_IMPORT_DISCARDED: "Seed import discarded",
    EventKind.REFERENCE_SET_LOADED: "Reference benchmark loaded",
    EventKind.MEMBERSHIP_ADDED: "Member added",
    EventKind.MEMBERSHIP_ROLE_CHANGED: "Member's role changed",
    EventKind.MEMBERSHIP_REMOVED: "Member removed",
    EventKind.SEEDS_IMPORTED: "Seeds imported",
    EventKind.SEEDS_SAMPLED: "Seeds sampled",
    EventKind.SEED_SAMPLED: "Seed sampled",
    EventKind.SEED_ASSIGNED: "Seed assigned",
    EventKind.SEED_DONE: "Seed done",
    EventKind.SEED_REOPENED: "Seed reopened for a revision",
    EventKind.SEED_BACK_TO_POOL: "Seed back in the pool",
    EventKind.ASSIGNMENT_DEALT: "Seed dealt to an annotator",
    EventKind.ASSIGNMENT_CLAIMED: "Seed claimed by an annotator",
    EventKind.ASSIGNMENT_LEASE_EXPIRED: "Lease expired",
    EventKind.ASSIGNMENT_SEED_REJECTED: "Seed rejected by the annotator",
    EventKind.ASSIGNMENT_SUBMITTED: "Assignment submitted",
    EventKind.ASSIGNMENT_REOPENED: "Assignment reopened for a revision",
    EventKind.ASSIGNMENT_REASSIGNED: "Assignment reassigned",
    EventKind.ASSIGNMENT_RELEASED: "Assignment released",
    EventKind.ASSIGNMENT_SKIPPED: "Seed skipped by the annotator",
    EventKind.REWRITE_DRAFT_STARTED: "Draft started",
    EventKind.REWRITE_SUBMITTED: "Rewrite submitted for review",
    EventKind.REWRITE_ACCEPTED: "Accepted by the panel",
    EventKind.REWRITE_REJECTED: "Rejected by the panel",
    EventKind.REWRITE_NO_CONSENSUS: "Panel reached no consensus",
    EventKind.REWRITE_RETURNED: "Returned for revision",
    EventKind.REWRITE_ADJUDICATED: "Adjudicated by a curator",
    EventKind.REWRITE_CLOSED: "Closed by a curator",
    EventKind.REWRITE_REOPENED: "Reopened by a curator",
    EventKind.BALLOT_OPENED: "Ballot opened",
    EventKind.BALLOT_CAST: "Vote cast",
    EventKind.BALLOT_CLOSED: "Ballot closed",
    EventKind.REWRITES_DECONTAMINATED: "Rewrites checked for contamination",
    EventKind.REWRITES_SIMILARITY_CHECKED: "Rewrites checked for similarity",
    EventKind.RESPONSES_IMPORTED: "Baseline responses imported",
    EventKind.RELEASE_QUEUED: "Release queued",
    EventKind.RELEASE_STARTED: "Release started",
    EventKind.RELEASE_DONE: "Release finished",
    EventKind.RELEASE_FAILED: "Release failed",
    EventKind.RELEASE_BUILT: "Release built",
    EventKind.VIEW_AS_STARTED: "A curator started viewing as this member",
    EventKind.VIEW_AS_ENDED: "A curator stopped viewing as this member",
    EventKind.ASSIST_SETTINGS_CHANGED: "Model settings changed",
    EventKind.ASSIST_PROMPT_SAVED: "Model prompt saved",
    EventKind.SEED_CLASSIFICATION_QUEUED: "Seed classification by the model queued",
    EventKind.SEED_CLASSIFICATION_STARTED: "Seed classification by the model started",
    EventKind.SEED_CLASSIFICATION_DONE: "Seed classification by the model finished",
    EventKind.SEED_CLASSIFICATION_FAILED: "Seed classification by the model failed",
    EventKind.SEED_SUGGESTION_ACCEPTED: "Suggested subcategory accepted",
    EventKind.SEED_SUGGESTION_DISMISSED: "Suggested subcategory dismissed",
    EventKind.SEED_CLASSIFIED: "Subcategory set by a curator",
}

# The states of the objects an item's events are about, in words.
_STATES: dict[str, dict[str, str]] = {
    "seed": {k: str(v) for k, v in Seed.Status.choices},
    "assignment": {k: str(v) for k, v in Assignment.Status.choices},
    "rewrite": {k: str(v) for k, v in Rewrite.Status.choices},
    "ballot": {k: str(v) for k, v in Ballot.Status.choices},
}

VOTE_REASON_LABELS: dict[str, str] = {k: str(v) for k, v in VoteReason.choices}
REJECT_REASON_LABELS: dict[str, str] = {k: str(v) for k, v in RejectReason.choices}

# What a curator may do with a revision in each status (the decision pages check again).
REVISION_ACTIONS: dict[str, tuple[str, ...]] = {
    Rewrite.Status.REJECTED: ("return", "close"),
    Rewrite.Status.NO_CONSENSUS: ("return", "close", "adjudicate"),
    Rewrite.Status.CLOSED: ("reopen",),
}
ASSIGNMENT_ACTIONS: dict[str, tuple[str, ...]] = {Assignment.Status.ACTIVE: ("reassign",)}


def event_label(kind: str) -> str:
    return EVENT_LABELS.get(kind, kind.replace("_", " ").replace(".", ": "))


def state_label(object_type: str, state: str) -> str:
    """A stored status in words ("no_consensus" -> "no consensus"); "" stays ""."""
    if not state:
        return ""
    return _STATES.get(object_type, {}).get(state, state.replace("_", " ")).lower()


@dataclass(frozen=True)
class Vote:
    ballot: Ballot
    reason_labels: list[str]


@dataclass
class RevisionHistory:
    rewrite: Rewrite
    previous: Rewrite | None
    # The text's changes from the revision before (None for a first revision).
    diff: TextDiff | None
    contamination: list[ContaminationHit]
    flags: list[SimilarityFlag]
    votes: list[Vote]
    # The viewing curator sits on this panel and has not voted: the others' votes stay hidden.
    votes_hidden: bool
    tally: dict[str, int]
    # The note the curator gave when this revision was returned (the next one's feedback).
    return_note: str | None
    actions: tuple[str, ...]
    # Whether the quality checks (decontamination, similarity) ran: "" for a draft, else
    # done / pending (not run yet: its flags may be incomplete) / failed, with the error.
    check_state: str = ""
    check_error: str = ""
    # Where the text came from: written by a person, or drafted from an inserted suggestion.
    provenance: Provenance = field(default_factory=Provenance)


@dataclass(frozen=True)
class TimelineEntry:
    event: Event
    label: str
    subject: str
    from_label: str
    to_label: str
    note: str


@dataclass(frozen=True)
class Note:
    kind: str  # return | decision | reject | skip
    label: str
    text: str
    by: str | None
    at: Any
    revision: int | None
    assignment: int | None


@dataclass
class ItemHistory:
    campaign: Campaign
    seed: Seed
    assignments: list[Assignment]
    revisions: list[RevisionHistory]
    notes: list[Note]
    timeline: list[TimelineEntry]
    assignment_actions: dict[int, tuple[str, ...]] = field(default_factory=dict)


def _seed(campaign: Campaign, seed_id: int) -> Seed:
    seed = (
        Seed.objects.select_related("subcategory__category")
        .filter(campaign=campaign, pk=seed_id)
        .first()
    )
    if seed is None:
        raise NotFound(
            f"No seed {seed_id} in campaign {campaign.slug!r}.", details={"seed": seed_id}
        )
    return seed


def _rewrites(seed: Seed) -> list[Rewrite]:
    return list(
        Rewrite.objects.filter(seed=seed)
        .select_related("author", "subcategory__category", "quality_check", "suggestion")
        .prefetch_related(
            language_links_prefetch(),
            Prefetch(
                "ballots",
                queryset=Ballot.objects.select_related("reviewer").order_by("created_at", "id"),
            ),
            *quality_flags_prefetch(),
        )
        .order_by("assignment_id", "revision", "id")
    )


def revision_provenance(rewrite: Rewrite) -> Provenance:
    """The provenance of a revision (its ``suggestion`` loaded), as a release would give it;
    the edit distance is None until the revision is submitted."""
    suggestion = rewrite.suggestion
    if suggestion is None:
        return Provenance()
    return Provenance(
        origin=MODEL_DRAFTED,
        model=suggestion.model,
        prompt_version=suggestion.prompt_version,
        edit_distance=rewrite.suggestion_edit_distance,
        suggestion_chars=len(suggestion.text),
    )


def _revision(
    rewrite: Rewrite, *, by_id: dict[int, Rewrite], next_of: dict[int, Rewrite], viewer_id: Any
) -> RevisionHistory:
    previous = by_id.get(rewrite.previous_id) if rewrite.previous_id else None
    ballots: list[Ballot] = list(rewrite.ballots.all())
    hidden = any(b.reviewer_id == viewer_id and b.status == Ballot.Status.PENDING for b in ballots)
    shown = (
        [b for b in ballots if b.status != Ballot.Status.CAST or b.reviewer_id == viewer_id]
        if hidden
        else ballots
    )
    nxt = next_of.get(rewrite.pk)
    feedback = nxt.feedback if nxt is not None and isinstance(nxt.feedback, dict) else None
    check_state, check_error = quality_check_state(rewrite)
    return RevisionHistory(
        check_state=check_state,
        check_error=check_error,
        provenance=revision_provenance(rewrite),
        rewrite=rewrite,
        previous=previous,
        diff=text_diff(previous.text, rewrite.text) if previous is not None else None,
        contamination=contamination_hits(rewrite),
        flags=similarity_flags(rewrite),
        votes=[
            Vote(b, [VOTE_REASON_LABELS.get(r, r) for r in b.reasons if isinstance(r, str)])
            for b in shown
        ],
        votes_hidden=hidden,
        tally={
            "valid": sum(1 for b in shown if b.decision == "valid"),
            "invalid": sum(1 for b in shown if b.decision == "invalid"),
            "pending": sum(1 for b in ballots if b.status == Ballot.Status.PENDING),
            "closed": sum(1 for b in ballots if b.status == Ballot.Status.CLOSED),
            "panel_size": rewrite.panel_size or rewrite.campaign.panel_size,
        },
        return_note=str(feedback.get("note", "")) if feedback is not None else None,
        actions=REVISION_ACTIONS.get(rewrite.status, ()),
    )


def _events(
    campaign: Campaign,
    seed: Seed,
    assignments: list[Assignment],
    rewrites: list[Rewrite],
    ballots: list[Ballot],
) -> list[Event]:
    """The events of the seed, its assignments, revisions and ballots and the model's
    subcategory suggestions for it, oldest first (one query; the (object_type, object_id)
    index serves each branch)."""
    about = Q(object_type="seed", object_id=seed.pk) | Q(
        object_type="seedsuggestion",
        object_id__in=SeedSuggestion.objects.filter(seed=seed).values("pk"),
    )
    for object_type, ids in (
        ("assignment", [a.pk for a in assignments]),
        ("rewrite", [r.pk for r in rewrites]),
        ("ballot", [b.pk for b in ballots]),
    ):
        if ids:
            about |= Q(object_type=object_type, object_id__in=ids)
    return list(
        Event.objects.filter(campaign=campaign).filter(about).select_related("actor").order_by("id")
    )


def _event_note(event: Event) -> str:
    data = event.data if isinstance(event.data, dict) else {}
    if event.kind == EventKind.ASSIGNMENT_SEED_REJECTED:
        reason = REJECT_REASON_LABELS.get(str(data.get("reason", "")), "")
        note = str(data.get("note", "") or "")
        return ": ".join(part for part in (reason, note) if part)
    if event.kind == EventKind.REWRITE_SUBMITTED and data.get("suggestion_matched"):
        return (
            "its text is close to a model suggestion the annotator was shown (not inserted): "
            "recorded as drafted from it"
        )
    if event.kind in (EventKind.SEED_SUGGESTION_ACCEPTED, EventKind.SEED_CLASSIFIED):
        sub, suggested = data.get("subcategory"), data.get("suggested")
        if isinstance(sub, str) and sub:
            if isinstance(suggested, str) and suggested:
                return f"{sub}, chosen instead of the model's {suggested}"
            return sub
    for key in ("note", "reason"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _timeline(
    events: list[Event],
    *,
    assignments: list[Assignment],
    rewrites: list[Rewrite],
    ballots: list[Ballot],
) -> list[TimelineEntry]:
    # A draft left with a skipped assignment and the next annotator's work both start at
    # revision 1: name the assignment too when more than one has revisions.
    several = len({r.assignment_id for r in rewrites}) > 1
    revision_of = {
        r.pk: f"revision {r.revision}" + (f" of assignment {r.assignment_id}" if several else "")
        for r in rewrites
    }
    subjects: dict[tuple[str, int], str] = {}
    for e in events:
        if e.object_type == "seedsuggestion":
            subjects["seedsuggestion", e.object_id] = "the model's suggested subcategory"
    for a in assignments:
        subjects["assignment", a.pk] = f"assignment {a.pk} ({a.annotator.get_username()})"
    for r in rewrites:
        subjects["rewrite", r.pk] = revision_of[r.pk]
    for b in ballots:
        subjects["ballot", b.pk] = (
            f"{b.reviewer.get_username()}'s ballot on {revision_of.get(b.rewrite_id, 'a revision')}"
        )
    return [
        TimelineEntry(
            event=e,
            label=event_label(e.kind),
            subject=subjects.get((e.object_type, e.object_id), e.object_type),
            from_label=state_label(e.object_type, e.from_state),
            to_label=state_label(e.object_type, e.to_state),
            note=_event_note(e),
        )
        for e in events
    ]


def _actor_of(events: list[Event], kinds: set[str]) -> dict[int, Event]:
    """The newest event of one of ``kinds`` per rewrite id."""
    found: dict[int, Event] = {}
    for e in events:
        if e.object_type == "rewrite" and e.kind in kinds:
            found[e.object_id] = e
    return found


def _notes(
    revisions: list[RevisionHistory], assignments: list[Assignment], events: list[Event]
) -> list[Note]:
    returned = _actor_of(events, {EventKind.REWRITE_RETURNED})
    decided = _actor_of(
        events,
        {EventKind.REWRITE_ADJUDICATED, EventKind.REWRITE_CLOSED, EventKind.REWRITE_REOPENED},
    )
    notes: list[Note] = []
    for history in revisions:
        rewrite = history.rewrite
        if history.return_note:
            event = returned.get(rewrite.pk)
            notes.append(
                Note(
                    kind="return",
                    label=f"Returned revision {rewrite.revision}",
                    text=history.return_note,
                    by=event.actor.get_username() if event and event.actor else None,
                    at=event.created_at if event else None,
                    revision=rewrite.revision,
                    assignment=rewrite.assignment_id,
                )
            )
        if rewrite.curator_note:
            event = decided.get(rewrite.pk)
            notes.append(
                Note(
                    kind="decision",
                    label=f"Decision on revision {rewrite.revision}",
                    text=rewrite.curator_note,
                    by=event.actor.get_username() if event and event.actor else None,
                    at=event.created_at if event else rewrite.decided_at,
                    revision=rewrite.revision,
                    assignment=rewrite.assignment_id,
                )
            )
    for a in assignments:
        if a.status == Assignment.Status.REJECTED:
            reason = REJECT_REASON_LABELS.get(a.reject_reason, a.reject_reason)
            notes.append(
                Note(
                    kind="reject",
                    label=f"Seed rejected: {reason}",
                    text=a.reject_note,
                    by=a.annotator.get_username(),
                    at=a.updated_at,
                    revision=None,
                    assignment=a.pk,
                )
            )
        if a.status == Assignment.Status.SKIPPED or a.skip_reason:
            notes.append(
                Note(
                    kind="skip",
                    label="Seed skipped",
                    text=a.skip_reason,
                    by=a.annotator.get_username(),
                    at=a.updated_at,
                    revision=None,
                    assignment=a.pk,
                )
            )
    return sorted(notes, key=lambda n: (n.at is None, n.at or 0))


def item_history(*, user: Any, slug: str, seed_id: int) -> ItemHistory:
    """Seed ``seed_id`` of campaign ``slug`` with its whole history, for the campaign's
    curators (and operators). NotFound: no such campaign for ``user`` or no such seed in it;
    NotAllowed: a member without the curator role. Nine queries at any size."""
    campaign = campaign_for_member(user=user, slug=slug, role=Role.CURATOR)
    seed = _seed(campaign, seed_id)
    assignments = list(
        Assignment.objects.filter(seed=seed).select_related("annotator").order_by("id")
    )
    rewrites = _rewrites(seed)
    for rewrite in rewrites:
        rewrite.campaign = campaign  # every revision is of this campaign; no query per row
    by_id = {r.pk: r for r in rewrites}
    next_of = {r.previous_id: r for r in rewrites if r.previous_id}
    revisions = [
        _revision(r, by_id=by_id, next_of=next_of, viewer_id=getattr(user, "pk", None))
        for r in rewrites
    ]
    ballots = [b for r in rewrites for b in r.ballots.all()]
    events = _events(campaign, seed, assignments, rewrites, ballots)
    # A curator on a panel who has not voted yet sees nobody else's vote, not even in the
    # timeline ("X cast a vote" would tell who has voted).
    viewer_id = getattr(user, "pk", None)
    blind = {
        b.pk
        for r, h in zip(rewrites, revisions, strict=True)
        if h.votes_hidden
        for b in r.ballots.all()
        if b.reviewer_id != viewer_id
    }
    events = [
        e
        for e in events
        if not (
            e.object_type == "ballot" and e.object_id in blind and e.kind == EventKind.BALLOT_CAST
        )
    ]
    return ItemHistory(
        campaign=campaign,
        seed=seed,
        assignments=assignments,
        revisions=revisions,
        notes=_notes(revisions, assignments, events),
        timeline=_timeline(events, assignments=assignments, rewrites=rewrites, ballots=ballots),
        assignment_actions={a.pk: ASSIGNMENT_ACTIONS.get(a.status, ()) for a in assignments},
    )


def campaign_annotators(*, campaign: Campaign) -> list[Any]:
    """The campaign's annotators by username (whom a revision may be returned or reassigned
    to)."""
    return [
        m.user
        for m in Membership.objects.filter(campaign=campaign, role=Role.ANNOTATOR)
        .select_related("user")
        .order_by("user__username")
    ]

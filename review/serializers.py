from typing import Any, cast

from rest_framework import serializers

from annotation.models import Rewrite
from annotation.serializers import (
    ChecklistSerializer,
    FeedbackOut,
    RewriteTagsOut,
    SeedOut,
    rewrite_tags,
)
from core.diff import TextDiff, text_diff
from quality.selectors import check_state, contamination_hits, similarity_flags
from quality.serializers import ContaminationHitOut, QualityCheckField, SimilarityFlagOut

from .models import Ballot, Decision, ReviewHint, VoteReason
from .selectors import hint_state
from .services.hints import HINT_LABEL


class VoteIn(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Decision.choices)
    reasons = serializers.ListField(
        child=serializers.ChoiceField(choices=VoteReason.choices), required=False, default=list
    )
    comment = serializers.CharField(allow_blank=True, required=False, default="", max_length=5000)


class ReturnIn(serializers.Serializer):
    note = serializers.CharField(allow_blank=True, required=False, default="", max_length=5000)
    annotator = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=150,
        help_text="Give the new revision to this annotator instead of the author (who left)",
    )


class RewriteOut(RewriteTagsOut):
    """A revision of a rewrite with its tags (what reviewers judge)."""

    id = serializers.IntegerField()
    submitted_at = serializers.DateTimeField(allow_null=True)


class VoteOut(serializers.Serializer):
    reviewer = serializers.CharField(required=False, help_text="Absent on my own vote")
    decision = serializers.ChoiceField(choices=Decision.choices)
    reasons = serializers.ListField(child=serializers.ChoiceField(choices=VoteReason.choices))
    comment = serializers.CharField()


class PanelVoteOut(VoteOut):
    status = serializers.ChoiceField(choices=Ballot.Status.choices)
    decision = serializers.ChoiceField(
        choices=Decision.choices, allow_blank=True, help_text="Empty while the ballot is pending"
    )


class TallyOut(serializers.Serializer):
    valid = serializers.IntegerField()
    invalid = serializers.IntegerField()
    panel_size = serializers.IntegerField()


class CuratorTallyOut(TallyOut):
    pending = serializers.IntegerField()
    unfilled = serializers.IntegerField(
        help_text="Seats no reviewer could fill yet (too few reviewers other than the author)"
    )


class PanelSeatsOut(serializers.Serializer):
    panel_size = serializers.IntegerField()
    seated = serializers.IntegerField()


class SeedRefOut(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()


def rewrite_out(rewrite: Rewrite) -> dict[str, Any]:
    tags = rewrite_tags(rewrite)
    tags.pop("checklist")
    return {
        "id": rewrite.pk,
        "revision": rewrite.revision,
        "status": rewrite.status,
        **tags,
        "question_tokens": rewrite.question_tokens,
        "submitted_at": serializers.DateTimeField().to_representation(rewrite.submitted_at)
        if rewrite.submitted_at
        else None,
    }


def contamination_out(rewrite: Rewrite) -> list[dict[str, Any]]:
    """The public-benchmark overlaps of a rewrite (loaded with ``quality_flags_prefetch``)."""
    # many=True makes a ListSerializer (a list); the stubs type .data as Serializer's dict.
    return cast(
        list[dict[str, Any]], ContaminationHitOut(contamination_hits(rewrite), many=True).data
    )


def quality_check_out(rewrite: Rewrite) -> dict[str, str]:
    """Whether its quality checks ran (load with ``select_related("quality_check")``)."""
    state, error = check_state(rewrite)
    return {"quality_check": state, "quality_check_error": error}


def flags_out(rewrite: Rewrite) -> list[dict[str, Any]]:
    """Copied-seed and near-duplicate flags (loaded with ``quality_flags_prefetch``)."""
    return cast(list[dict[str, Any]], SimilarityFlagOut(similarity_flags(rewrite), many=True).data)


def vote_out(ballot: Ballot, *, with_reviewer: bool) -> dict[str, Any]:
    out = {
        "decision": ballot.decision,
        "reasons": ballot.reasons,
        "comment": ballot.comment,
    }
    if with_reviewer:
        out = {"reviewer": ballot.reviewer.get_username(), **out}
    return out


class TextDiffPieceOut(serializers.Serializer):
    text = serializers.CharField()
    changed = serializers.BooleanField()


class TextDiffLineOut(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["equal", "delete", "insert", "skip"])
    old_number = serializers.IntegerField(allow_null=True, help_text="Line in the old text")
    new_number = serializers.IntegerField(allow_null=True, help_text="Line in the new text")
    pieces = TextDiffPieceOut(many=True, help_text="The line, changed words marked")
    skipped = serializers.IntegerField(help_text="Unchanged lines a skip row stands for")


class TextDiffOut(serializers.Serializer):
    """``core.diff.text_diff`` of two texts: line rows, changed words marked inside them."""

    added = serializers.IntegerField(help_text="Lines added")
    removed = serializers.IntegerField(help_text="Lines removed")
    lines = TextDiffLineOut(many=True)

    def to_representation(self, diff: TextDiff) -> dict[str, Any]:
        return {
            "added": diff.added,
            "removed": diff.removed,
            "lines": [
                {
                    "kind": line.kind,
                    "old_number": line.old_number,
                    "new_number": line.new_number,
                    "pieces": [{"text": p.text, "changed": p.changed} for p in line.pieces],
                    "skipped": line.skipped,
                }
                for line in diff.lines
            ],
        }


class PreviousRevisionOut(serializers.Serializer):
    revision = serializers.IntegerField()
    text = serializers.CharField()


class RevisionContextOut(serializers.Serializer):
    """What a reviewer of revision 2 or later sees of the revision before: its text, the diff
    to it and the curator's note when it was returned. Never who voted on it or how."""

    previous = PreviousRevisionOut()
    curator_note = serializers.CharField(help_text="Empty when the curator wrote none")
    diff = TextDiffOut(help_text="From the previous revision's text to this one's")


def revision_context(rewrite: Rewrite) -> dict[str, Any] | None:
    """The revision before ``rewrite`` (loaded with ``select_related("previous")``), the
    curator's note it was returned with and the diff; None for a first revision."""
    previous = rewrite.previous
    if previous is None:
        return None
    feedback = rewrite.feedback if isinstance(rewrite.feedback, dict) else {}
    return {
        "previous": {"revision": previous.revision, "text": previous.text},
        "curator_note": str(feedback.get("note") or ""),
        "diff": text_diff(previous.text, rewrite.text),
    }


def revision_context_out(rewrite: Rewrite) -> dict[str, Any] | None:
    context = revision_context(rewrite)
    if context is None:
        return None
    return {**context, "diff": TextDiffOut(context["diff"]).data}


class BallotHintOut(serializers.Serializer):
    """Whether the model's view of the rewrite can be read; never its content (that is
    ``/ballots/{id}/hint/``, once the reviewer may see it)."""

    available = serializers.BooleanField(help_text="The campaign offers reviewer hints")
    visible = serializers.BooleanField(
        help_text="I may read it now: I voted, or the campaign shows it before the vote"
    )
    ready = serializers.BooleanField(
        help_text="It was asked for this revision already (told only once I may read it: "
        "before my vote it would say another reviewer has voted)"
    )


def ballot_hint_out(ballot: Ballot) -> dict[str, bool]:
    state = hint_state(ballot)
    return {"available": state.available, "visible": state.visible, "ready": state.ready}


class HintItemOut(serializers.Serializer):
    ok = serializers.BooleanField(help_text="The model sees no problem with this item")
    note = serializers.CharField()


class HintOut(serializers.Serializer):
    """The model's view of a rewrite: an opinion, not a vote."""

    status = serializers.ChoiceField(choices=ReviewHint.Status.choices)
    clear = HintItemOut()
    ethical = HintItemOut()
    solvable = HintItemOut()
    problems = serializers.ListField(child=serializers.CharField())
    model = serializers.CharField()
    prompt_version = serializers.CharField()
    # A field named like Field.label: the metaclass takes it out of the class (mypy cannot see).
    label = serializers.CharField(help_text=f"Always {HINT_LABEL!r}")  # type: ignore[assignment]
    created_at = serializers.DateTimeField()

    def to_representation(self, hint: ReviewHint) -> dict[str, Any]:
        content = hint.content if isinstance(hint.content, dict) else {}
        return {
            "status": hint.status,
            **{
                item: {
                    "ok": bool((content.get(item) or {}).get("ok")),
                    "note": str((content.get(item) or {}).get("note") or ""),
                }
                for item in ("clear", "ethical", "solvable")
            },
            "problems": [str(p) for p in content.get("problems") or []],
            "model": hint.model,
            "prompt_version": hint.prompt_version,
            "label": HINT_LABEL,
            "created_at": serializers.DateTimeField().to_representation(hint.created_at),
        }


class BallotOut(serializers.Serializer):
    """A ballot as its reviewer sees it. Before the reviewer votes: no tally, no other votes,
    no author. After: the tally so far, every cast vote and the author."""

    id = serializers.IntegerField()
    campaign = serializers.CharField()
    status = serializers.ChoiceField(choices=Ballot.Status.choices)
    created_at = serializers.DateTimeField()
    rewrite = RewriteOut()
    seed = SeedOut()
    contamination = ContaminationHitOut(many=True)
    flags = SimilarityFlagOut(many=True)
    quality_check = QualityCheckField()
    quality_check_error = serializers.CharField(help_text="Why the last check failed, if it did")
    my_vote = VoteOut(allow_null=True)
    revision_context = RevisionContextOut(
        allow_null=True,
        help_text="Revision 2 or later: the previous revision, the diff to it and the "
        "curator's note (never its votes); null for a first revision",
    )
    tally = TallyOut(required=False, help_text="Only once I voted")
    votes = VoteOut(many=True, required=False, help_text="Only once I voted")
    author = serializers.CharField(required=False, help_text="Only once I voted")
    hint = BallotHintOut(help_text="The model's view of the rewrite: whether it can be read")

    def to_representation(self, ballot: Ballot) -> dict[str, Any]:
        panel: list[Ballot] = self.context.get("panel", {}).get(ballot.pk, [])
        out: dict[str, Any] = {
            "id": ballot.pk,
            "campaign": ballot.campaign.slug,
            "status": ballot.status,
            "created_at": serializers.DateTimeField().to_representation(ballot.created_at),
            "rewrite": rewrite_out(ballot.rewrite),
            "seed": SeedOut(ballot.rewrite.seed).data,
            "contamination": contamination_out(ballot.rewrite),
            "flags": flags_out(ballot.rewrite),
            **quality_check_out(ballot.rewrite),
            "my_vote": vote_out(ballot, with_reviewer=False)
            if ballot.status == Ballot.Status.CAST
            else None,
            "revision_context": revision_context_out(ballot.rewrite),
            "hint": ballot_hint_out(ballot),
        }
        if ballot.status == Ballot.Status.CAST:
            out["tally"] = {
                "valid": sum(1 for b in panel if b.decision == Decision.VALID),
                "invalid": sum(1 for b in panel if b.decision == Decision.INVALID),
                "panel_size": ballot.rewrite.panel_size or ballot.campaign.panel_size,
            }
            out["votes"] = [vote_out(b, with_reviewer=True) for b in panel]
            out["author"] = ballot.rewrite.author.get_username()
        return out


class CuratorRewriteOut(RewriteOut):
    """A rewrite as its curator sees it, votes included, except on a rewrite where the curator
    also sits on the panel and has not voted yet (blind review holds for them too)."""

    checklist = ChecklistSerializer()
    author = serializers.CharField()
    seed = SeedRefOut()
    assignment = serializers.IntegerField()
    feedback = FeedbackOut(allow_null=True)
    contamination = ContaminationHitOut(many=True)
    flags = SimilarityFlagOut(many=True)
    quality_check = QualityCheckField()
    quality_check_error = serializers.CharField(help_text="Why the last check failed, if it did")
    tally = CuratorTallyOut()
    votes = PanelVoteOut(many=True)

    def to_representation(self, rewrite: Rewrite) -> dict[str, Any]:
        ballots = list(rewrite.ballots.all())
        # Seats held by a cast or pending ballot; a closed one (its reviewer left) is free.
        seated = sum(1 for b in ballots if b.status != Ballot.Status.CLOSED)
        panel_size = rewrite.panel_size or rewrite.campaign.panel_size
        viewer = self.context.get("viewer_id")
        if any(b.reviewer_id == viewer and b.status == Ballot.Status.PENDING for b in ballots):
            ballots = [
                b for b in ballots if b.status != Ballot.Status.CAST or b.reviewer_id == viewer
            ]
        return {
            **rewrite_out(rewrite),
            "checklist": rewrite.checklist,
            "author": rewrite.author.get_username(),
            "seed": {"id": rewrite.seed_id, "external_id": rewrite.seed.external_id},
            "assignment": rewrite.assignment_id,
            "feedback": rewrite.feedback or None,
            "contamination": contamination_out(rewrite),
            "flags": flags_out(rewrite),
            **quality_check_out(rewrite),
            "tally": {
                "valid": sum(1 for b in ballots if b.decision == Decision.VALID),
                "invalid": sum(1 for b in ballots if b.decision == Decision.INVALID),
                "pending": sum(1 for b in ballots if b.status == Ballot.Status.PENDING),
                "panel_size": panel_size,
                # Seats no reviewer could fill yet (too few reviewers other than the author).
                "unfilled": max(0, panel_size - seated),
            },
            "votes": [{**vote_out(b, with_reviewer=True), "status": b.status} for b in ballots],
        }


class SubmittedRewriteOut(RewriteOut):
    """The rewrite a submit created, with its assignment and how full its review panel is."""

    checklist = ChecklistSerializer()
    version = serializers.IntegerField()
    assignment = serializers.IntegerField()
    panel = PanelSeatsOut()

    def to_representation(self, rewrite: Rewrite) -> dict[str, Any]:
        return {
            **rewrite_out(rewrite),
            "checklist": rewrite.checklist,
            "version": rewrite.version,
            "assignment": rewrite.assignment_id,
            "panel": {
                "panel_size": rewrite.panel_size or rewrite.campaign.panel_size,
                "seated": len(rewrite.ballots.all()),
            },
        }


class ReturnOut(serializers.Serializer):
    returned = serializers.IntegerField(help_text="The returned revision")
    new_revision = RewriteOut()
    author = serializers.CharField(help_text="Who revises it")
    feedback = FeedbackOut()


# --- statistics (the stats API and, with a few additions, a release's stats.json) -------------


def _counts(help_text: str) -> serializers.DictField:
    return serializers.DictField(child=serializers.IntegerField(), help_text=help_text)


class TokenSummaryOut(serializers.Serializer):
    count = serializers.IntegerField()
    min = serializers.IntegerField(allow_null=True)
    max = serializers.IntegerField(allow_null=True)
    mean = serializers.FloatField(allow_null=True)
    median = serializers.FloatField(allow_null=True)


class FunnelOut(serializers.Serializer):
    """Where the seeds and revisions are (``review.stats.campaign_funnel``). It adds up:
    submitted = waiting_for_votes + accepted + rejected + no_consensus + returned + closed;
    rewritten = waiting_for_votes + accepted + rejected + no_consensus + closed + in_revision."""

    seeds = serializers.IntegerField()
    sampled = serializers.IntegerField()
    assigned = serializers.IntegerField()
    rewritten = serializers.IntegerField(help_text="Seeds with a submitted revision")
    rejected_by_annotators = serializers.IntegerField()
    skipped = serializers.IntegerField(
        help_text="Times an annotator passed a seed on (it went back to the pool); not rejections"
    )
    submitted = serializers.IntegerField(help_text="Revisions submitted for review")
    waiting_for_votes = serializers.IntegerField()
    waiting_for_reviewers = serializers.IntegerField()
    accepted = serializers.IntegerField(help_text="By a panel's quorum or by a curator")
    rejected = serializers.IntegerField(help_text="By a panel's quorum or by a curator")
    no_consensus = serializers.IntegerField()
    returned = serializers.IntegerField()
    in_revision = serializers.IntegerField(
        help_text="Returned seeds whose new revision is not submitted yet"
    )
    closed = serializers.IntegerField(help_text="Ended by a curator: final, never released")
    curator_accepted = serializers.IntegerField(
        help_text="Of the accepted, those a curator adjudicated (no consensus -> accepted)"
    )
    curator_rejected = serializers.IntegerField(
        help_text="Of the rejected, those a curator adjudicated (no consensus -> rejected)"
    )
    contaminated = serializers.IntegerField()
    releasable = serializers.IntegerField()


class DifficultyOut(serializers.Serializer):
    easy = serializers.IntegerField()
    medium = serializers.IntegerField()
    hard = serializers.IntegerField()


class DistributionsOut(serializers.Serializer):
    """Counts over accepted rewrites (a release: over its samples)."""

    categories = _counts("category -> count")
    subcategories = _counts("subcategory -> count")
    difficulty = DifficultyOut()
    difficulty_by_category = serializers.DictField(child=DifficultyOut())
    programming_languages = _counts("language -> count (a rewrite may have several)")
    natural_languages = _counts("language code -> count")
    question_tokens = TokenSummaryOut()


class AgreementOut(serializers.Serializer):
    fleiss_kappa = serializers.FloatField(allow_null=True)
    panels = serializers.IntegerField(help_text="Complete panels counted")
    unanimous = serializers.IntegerField()
    split = serializers.IntegerField()


class PairKappaOut(serializers.Serializer):
    a = serializers.CharField()
    b = serializers.CharField()
    shared = serializers.IntegerField(help_text="Revisions both voted on")
    agreement = serializers.FloatField(allow_null=True)
    cohen_kappa = serializers.FloatField(allow_null=True)


class AgreementWithOutcomeOut(serializers.Serializer):
    decided_votes = serializers.IntegerField()
    matched = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True)


class CampaignAgreementOut(AgreementOut):
    reviewers = serializers.ListField(child=serializers.CharField())
    pairwise_cohen_kappa = PairKappaOut(many=True)
    reviewer_agreement_with_outcome = serializers.DictField(child=AgreementWithOutcomeOut())
    split_rewrites = serializers.ListField(child=serializers.IntegerField())


class AnnotatorStatsOut(serializers.Serializer):
    username = serializers.CharField()
    assigned = serializers.IntegerField()
    active = serializers.IntegerField()
    drafts = serializers.IntegerField()
    submitted = serializers.IntegerField()
    revisions_submitted = serializers.IntegerField()
    rejected_seeds = serializers.IntegerField()
    rejected_seeds_by_reason = _counts("reason -> count")
    accepted = serializers.IntegerField()
    decided = serializers.IntegerField()
    acceptance_rate = serializers.FloatField(allow_null=True)
    median_minutes_per_rewrite = serializers.FloatField(allow_null=True)


class ReviewerStatsOut(serializers.Serializer):
    username = serializers.CharField()
    pending = serializers.IntegerField()
    cast = serializers.IntegerField()
    closed = serializers.IntegerField()


class PeopleOut(serializers.Serializer):
    annotators = AnnotatorStatsOut(many=True)
    reviewers = ReviewerStatsOut(many=True)


class CoverageSubcategoryOut(serializers.Serializer):
    category = serializers.CharField()
    subcategory = serializers.CharField()
    target = serializers.IntegerField()
    accepted = serializers.IntegerField()
    releasable = serializers.IntegerField()
    in_review = serializers.IntegerField()
    seeds = serializers.IntegerField()
    in_progress = serializers.IntegerField()
    seeds_left = serializers.IntegerField()
    gap = serializers.IntegerField()
    needs_seeds = serializers.BooleanField()


class CoverageCategoryOut(serializers.Serializer):
    category = serializers.CharField()
    target = serializers.IntegerField()
    releasable = serializers.IntegerField()
    accepted = serializers.IntegerField()
    gap = serializers.IntegerField()


class CoverageOut(serializers.Serializer):
    target_release_size = serializers.IntegerField()
    target_total = serializers.IntegerField()
    releasable_total = serializers.IntegerField()
    gap_total = serializers.IntegerField()
    subcategories = CoverageSubcategoryOut(many=True)
    categories = CoverageCategoryOut(many=True)


class ProgressDayOut(serializers.Serializer):
    day = serializers.DateField()
    submitted = serializers.IntegerField()
    accepted = serializers.IntegerField()
    rejected = serializers.IntegerField()
    no_consensus = serializers.IntegerField()
    returned = serializers.IntegerField()
    closed = serializers.IntegerField()
    accepted_to_date = serializers.IntegerField()


class StatsSnapshotOut(serializers.Serializer):
    computed_at = serializers.DateTimeField(help_text="When the figures were counted.")
    age_seconds = serializers.FloatField(help_text="Seconds since ``computed_at``.")
    stale = serializers.BooleanField(
        help_text="The campaign changed since: newer figures are being computed."
    )
    compute_seconds = serializers.FloatField(help_text="How long counting them took.")


class CampaignStatsOut(DistributionsOut):
    """``review.dashboard.campaign_overview``: what the dashboard draws. The stats API serves it
    from a snapshot (``review.dashboard.snapshot``) and says how fresh it is in ``snapshot``."""

    campaign = serializers.CharField()
    funnel = FunnelOut()
    agreement = CampaignAgreementOut()
    people = PeopleOut()
    tokenizer = serializers.CharField()
    coverage = CoverageOut()
    progress = ProgressDayOut(many=True)
    snapshot = StatsSnapshotOut(required=False, help_text="How fresh these figures are.")

from typing import Any

from rest_framework import serializers

from annotation.models import Rewrite
from annotation.serializers import SeedOut, rewrite_tags
from quality.selectors import contamination_hits, similarity_flags
from quality.serializers import ContaminationHitOut, SimilarityFlagOut

from .models import Ballot, Decision, VoteReason


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
    return ContaminationHitOut(contamination_hits(rewrite), many=True).data


def flags_out(rewrite: Rewrite) -> list[dict[str, Any]]:
    """Copied-seed and near-duplicate flags (loaded with ``quality_flags_prefetch``)."""
    return SimilarityFlagOut(similarity_flags(rewrite), many=True).data


def vote_out(ballot: Ballot, *, with_reviewer: bool) -> dict[str, Any]:
    out = {
        "decision": ballot.decision,
        "reasons": ballot.reasons,
        "comment": ballot.comment,
    }
    if with_reviewer:
        out = {"reviewer": ballot.reviewer.get_username(), **out}
    return out


class BallotOut(serializers.Serializer):
    """A ballot as its reviewer sees it. Before the reviewer votes: no tally, no other votes,
    no author. After: the tally so far, every cast vote and the author."""

    id = serializers.IntegerField()
    campaign = serializers.CharField()
    status = serializers.CharField()
    rewrite = serializers.DictField()
    seed = SeedOut()
    contamination = serializers.ListField(child=serializers.DictField())
    flags = serializers.ListField(child=serializers.DictField())
    my_vote = serializers.DictField(allow_null=True)
    tally = serializers.DictField(required=False)
    votes = serializers.ListField(child=serializers.DictField(), required=False)
    author = serializers.CharField(required=False)

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
            "my_vote": vote_out(ballot, with_reviewer=False)
            if ballot.status == Ballot.Status.CAST
            else None,
        }
        if ballot.status == Ballot.Status.CAST:
            out["tally"] = {
                "valid": sum(1 for b in panel if b.decision == Decision.VALID),
                "invalid": sum(1 for b in panel if b.decision == Decision.INVALID),
                "panel_size": ballot.campaign.panel_size,
            }
            out["votes"] = [vote_out(b, with_reviewer=True) for b in panel]
            out["author"] = ballot.rewrite.author.get_username()
        return out


class CuratorRewriteOut(serializers.Serializer):
    """A rewrite as its curator sees it, votes included, except on a rewrite where the curator
    also sits on the panel and has not voted yet (blind review holds for them too)."""

    def to_representation(self, rewrite: Rewrite) -> dict[str, Any]:
        ballots = list(rewrite.ballots.all())
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
            "tally": {
                "valid": sum(1 for b in ballots if b.decision == Decision.VALID),
                "invalid": sum(1 for b in ballots if b.decision == Decision.INVALID),
                "pending": sum(1 for b in ballots if b.status == Ballot.Status.PENDING),
                "panel_size": rewrite.campaign.panel_size,
                # Seats no reviewer could fill yet (too few reviewers other than the author).
                "unfilled": max(0, rewrite.campaign.panel_size - len(ballots)),
            },
            "votes": [{**vote_out(b, with_reviewer=True), "status": b.status} for b in ballots],
        }


class SubmittedRewriteOut(serializers.Serializer):
    """The rewrite a submit created, with its assignment and how full its review panel is."""

    def to_representation(self, rewrite: Rewrite) -> dict[str, Any]:
        return {
            **rewrite_out(rewrite),
            "checklist": rewrite.checklist,
            "version": rewrite.version,
            "assignment": rewrite.assignment_id,
            "panel": {
                "panel_size": rewrite.campaign.panel_size,
                "seated": len(rewrite.ballots.all()),
            },
        }

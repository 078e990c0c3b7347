"""Input and output of the curator decision endpoints (close, adjudicate, reopen)."""

from typing import Any

from rest_framework import serializers

from annotation.models import Rewrite

from .serializers import CuratorRewriteOut
from .services import ADJUDICATIONS

NOTE_MAX = 5000


class CloseIn(serializers.Serializer):
    note = serializers.CharField(
        allow_blank=True,
        required=False,
        default="",
        max_length=NOTE_MAX,
        help_text="Optional; kept with the rewrite as the curator's note",
    )


class ReopenIn(CloseIn):
    pass


class AdjudicateIn(serializers.Serializer):
    decision = serializers.ChoiceField(
        choices=[(d, d) for d in ADJUDICATIONS],
        help_text="'accepted' (only where the campaign lets curators accept) or 'rejected'",
    )
    reason = serializers.CharField(
        max_length=NOTE_MAX, help_text="Why; required, kept with the rewrite"
    )


class DecidedRewriteOut(CuratorRewriteOut):
    """A rewrite as its curator sees it, with the curator's decision fields."""

    decided_by_curator = serializers.BooleanField(
        help_text="Accepted or rejected by a curator (adjudicated), not by the panel's quorum"
    )
    curator_note = serializers.CharField(help_text="The curator's reason or latest note")
    closed_from = serializers.ChoiceField(
        choices=[
            ("", ""),
            (Rewrite.Status.REJECTED, "Rejected"),
            (Rewrite.Status.NO_CONSENSUS, "No consensus"),
        ],
        help_text="While closed: the status it was closed from (reopening returns to it); "
        "otherwise empty",
    )
    decided_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, rewrite: Rewrite) -> dict[str, Any]:
        return {
            **super().to_representation(rewrite),
            "decided_by_curator": rewrite.decided_by_curator,
            "curator_note": rewrite.curator_note,
            "closed_from": rewrite.closed_from,
            "decided_at": serializers.DateTimeField().to_representation(rewrite.decided_at)
            if rewrite.decided_at
            else None,
        }

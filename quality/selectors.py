"""Reads of the quality app: reference sets and the quality flags of rewrites. Other apps read
flags only through these (never by relation name)."""

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from annotation.models import Campaign, Rewrite

from .models import ContaminationHit, ReferenceSet, SimilarityFlag

# Rewrites that are (or were) in front of reviewers; drafts are unfinished and returned
# revisions are superseded by their next revision.
CHECKED = (
    Rewrite.Status.SUBMITTED,
    Rewrite.Status.ACCEPTED,
    Rewrite.Status.REJECTED,
    Rewrite.Status.NO_CONSENSUS,
    Rewrite.Status.RETURNED,
    Rewrite.Status.CLOSED,
)
CURRENT = (
    Rewrite.Status.SUBMITTED,
    Rewrite.Status.ACCEPTED,
    Rewrite.Status.REJECTED,
    Rewrite.Status.NO_CONSENSUS,
    Rewrite.Status.CLOSED,
)


def quality_flags_prefetch(prefix: str = "") -> list[Prefetch]:
    """Contamination hits (with document and reference set) and similarity flags (with the
    other rewrite's seed) of rewrites reached through ``prefix``: two queries."""
    return [
        Prefetch(
            f"{prefix}contamination_hits",
            queryset=ContaminationHit.objects.select_related("document__reference_set"),
        ),
        Prefetch(
            f"{prefix}similarity_flags",
            queryset=SimilarityFlag.objects.select_related("other__seed").only(
                "id", "rewrite_id", "kind", "score", "other_id", "other__seed__external_id"
            ),
        ),
    ]


def check_state(rewrite: Rewrite) -> tuple[str, str]:
    """Whether a rewrite's quality checks (decontamination, similarity) ran, and why the last
    attempt failed: ("", "") for a draft, else ("done" | "pending" | "failed", error). Pending:
    enqueued and not finished, so its flags may be incomplete. Load rewrites with
    ``select_related("quality_check")`` (or ``"<prefix>quality_check"``) for no extra query."""
    if rewrite.status == Rewrite.Status.DRAFT:
        return "", ""
    try:
        check = rewrite.quality_check
    except ObjectDoesNotExist:
        return "pending", ""  # enqueued at submit and not started yet
    return check.status, check.error


def contamination_hits(rewrite: Rewrite) -> list[ContaminationHit]:
    """The hits of a rewrite loaded with ``quality_flags_prefetch``."""
    return list(rewrite.contamination_hits.all())


def similarity_flags(rewrite: Rewrite) -> list[SimilarityFlag]:
    """The similarity flags of a rewrite loaded with ``quality_flags_prefetch``."""
    return list(rewrite.similarity_flags.all())


def is_contaminated(prefix: str = "") -> Exists:
    """An expression: the rewrite (reached through ``prefix``, e.g. ``"rewrite__"``) shares an
    n-gram with a public benchmark."""
    outer = f"{prefix}pk" if prefix else "pk"
    return Exists(ContaminationHit.objects.filter(rewrite_id=OuterRef(outer)))


def reference_sets() -> QuerySet[ReferenceSet]:
    """All loaded reference sets (they are global: every campaign is checked against all)."""
    return ReferenceSet.objects.order_by("name")


def quality_check_sizes(*, campaign: Campaign) -> tuple[int, int]:
    """How many rewrites a campaign-wide check looks at: (decontaminated: every submitted
    revision, similarity-checked: the current ones)."""
    qs = campaign.rewrites.all()
    return qs.filter(status__in=CHECKED).count(), qs.filter(status__in=CURRENT).count()


def applicable_reference_sets(campaign: Campaign) -> Q:
    """A filter on ReferenceSet: the sets a campaign's rewrites are checked against. A set an
    operator (or a command) loaded applies to every campaign; a set a curator loaded from their
    campaign's page applies to that campaign only, so no curator can touch (or probe) another
    campaign's rewrites through it."""
    return Q(loaded_for__isnull=True) | Q(loaded_for=campaign)

"""Campaign statistics (funnel, distributions, token lengths, agreement, people), computed with a
fixed number of aggregate queries whatever the campaign's size. Used by the stats API and by
release exports."""

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from django.db.models import Count, F, Prefetch, Q, QuerySet
from django.db.models.functions import Coalesce

from annotation.models import Assignment, Campaign, Membership, Rewrite, RewriteLanguage, Role, Seed
from quality.selectors import is_contaminated

from .agreement import fleiss_kappa
from .models import Ballot, Decision

DECIDED = (Rewrite.Status.ACCEPTED, Rewrite.Status.REJECTED, Rewrite.Status.NO_CONSENSUS)
# Revisions whose panel voted to the end: decided, then perhaps returned or closed by a curator.
PANEL_DONE = (*DECIDED, Rewrite.Status.RETURNED, Rewrite.Status.CLOSED)


def token_summary(values: Iterable[int | None]) -> dict[str, float | int | None]:
    numbers = sorted(v for v in values if v is not None)
    if not numbers:
        return {"count": 0, "min": None, "max": None, "mean": None, "median": None}
    return {
        "count": len(numbers),
        "min": numbers[0],
        "max": numbers[-1],
        "mean": round(statistics.fmean(numbers), 2),
        "median": statistics.median(numbers),
    }


def campaign_funnel(campaign: Campaign) -> dict[str, int]:
    """Where the campaign's seeds and revisions are, in five queries. It adds up:

    - ``submitted`` (revisions past draft) == ``waiting_for_votes + accepted + rejected +
      no_consensus + returned + closed``;
    - ``rewritten`` (seeds) == ``waiting_for_votes + accepted + rejected + no_consensus +
      closed + in_revision`` (a seed's latest revision is the one that counts; a returned one
      lives on as a new revision);
    - ``curator_accepted`` and ``curator_rejected`` (adjudicated no-consensus revisions) are
      part of ``accepted`` and ``rejected``; ``releasable == accepted - contaminated``;
    - ``skipped`` counts assignments an annotator passed on (the seed went back to the pool):
      never a rejection, so never in ``rejected_by_annotators``."""
    seeds = Seed.objects.filter(campaign=campaign).aggregate(
        seeds=Count("pk"),
        sampled=Count("pk", filter=~Q(status=Seed.Status.POOLED)),
        assigned=Count("pk", filter=Q(status__in=[Seed.Status.ASSIGNED, Seed.Status.DONE])),
    )
    passed_on = Assignment.objects.filter(
        campaign=campaign, status__in=[Assignment.Status.REJECTED, Assignment.Status.SKIPPED]
    ).aggregate(
        rejected_by_annotators=Count(
            "seed_id", filter=Q(status=Assignment.Status.REJECTED), distinct=True
        ),
        skipped=Count("pk", filter=Q(status=Assignment.Status.SKIPPED)),
    )
    rewrites = Rewrite.objects.filter(campaign=campaign).aggregate(
        rewritten=Count("seed_id", filter=~Q(status=Rewrite.Status.DRAFT), distinct=True),
        submitted=Count("pk", filter=~Q(status=Rewrite.Status.DRAFT)),
        waiting_for_votes=Count("pk", filter=Q(status=Rewrite.Status.SUBMITTED)),
        accepted=Count("pk", filter=Q(status=Rewrite.Status.ACCEPTED)),
        rejected=Count("pk", filter=Q(status=Rewrite.Status.REJECTED)),
        no_consensus=Count("pk", filter=Q(status=Rewrite.Status.NO_CONSENSUS)),
        returned=Count("pk", filter=Q(status=Rewrite.Status.RETURNED)),
        closed=Count("pk", filter=Q(status=Rewrite.Status.CLOSED)),
        curator_accepted=Count(
            "pk", filter=Q(status=Rewrite.Status.ACCEPTED, decided_by_curator=True)
        ),
        curator_rejected=Count(
            "pk", filter=Q(status=Rewrite.Status.REJECTED, decided_by_curator=True)
        ),
        # The new revision of a returned rewrite, not submitted yet.
        in_revision=Count("pk", filter=Q(status=Rewrite.Status.DRAFT, revision__gt=1)),
    )
    contaminated = Rewrite.objects.filter(
        is_contaminated(), campaign=campaign, status=Rewrite.Status.ACCEPTED
    ).count()
    # Submitted rewrites whose panel is not full yet: the campaign needs more reviewers.
    waiting_for_reviewers = (
        Rewrite.objects.filter(campaign=campaign, status=Rewrite.Status.SUBMITTED)
        .annotate(seats=Count("ballots", filter=~Q(ballots__status=Ballot.Status.CLOSED)))
        .filter(seats__lt=Coalesce(F("panel_size"), F("campaign__panel_size")))
        .count()
    )
    return {
        **seeds,
        "rewritten": rewrites["rewritten"],
        "rejected_by_annotators": passed_on["rejected_by_annotators"],
        "skipped": passed_on["skipped"],
        "submitted": rewrites["submitted"],
        "waiting_for_votes": rewrites["waiting_for_votes"],
        "waiting_for_reviewers": waiting_for_reviewers,
        "accepted": rewrites["accepted"],
        "rejected": rewrites["rejected"],
        "no_consensus": rewrites["no_consensus"],
        "returned": rewrites["returned"],
        "in_revision": rewrites["in_revision"],
        "closed": rewrites["closed"],
        "curator_accepted": rewrites["curator_accepted"],
        "curator_rejected": rewrites["curator_rejected"],
        # Accepted rewrites that share an n-gram with a public benchmark: never released.
        "contaminated": contaminated,
        "releasable": rewrites["accepted"] - contaminated,
    }


def distributions(rewrites: list[Rewrite]) -> dict[str, Any]:
    """Counts over ``rewrites`` (each with ``subcategory__category`` and ``language_links``
    loaded), sorted by count then name so the output is stable."""

    def ordered(counter: Counter) -> dict[str, int]:
        return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))

    categories: Counter = Counter()
    subcategories: Counter = Counter()
    difficulty: Counter = Counter()
    languages: Counter = Counter()
    natural: Counter = Counter()
    difficulty_by_category: dict[str, Counter] = defaultdict(Counter)
    for r in rewrites:
        # Only a draft may lack a subcategory (a check constraint); these are accepted.
        assert r.subcategory is not None
        category = r.subcategory.category.name
        categories[category] += 1
        subcategories[r.subcategory.name] += 1
        difficulty[r.difficulty] += 1
        difficulty_by_category[category][r.difficulty] += 1
        for link in r.language_links.all():
            languages[link.language.name] += 1
        natural[r.natural_language] += 1
    return {
        "categories": ordered(categories),
        "subcategories": ordered(subcategories),
        "difficulty": {d: difficulty.get(d, 0) for d in ("easy", "medium", "hard")},
        "difficulty_by_category": {
            c: {d: difficulty_by_category[c].get(d, 0) for d in ("easy", "medium", "hard")}
            for c in ordered(categories)
        },
        "programming_languages": ordered(languages),
        "natural_languages": ordered(natural),
        "question_tokens": token_summary(r.question_tokens for r in rewrites),
    }


def releasable_queryset(campaign: Campaign) -> QuerySet[Rewrite]:
    """Accepted rewrites that overlap no public benchmark: what a release may contain."""
    return Rewrite.objects.filter(campaign=campaign, status=Rewrite.Status.ACCEPTED).exclude(
        is_contaminated()
    )


def accepted_rewrites(campaign: Campaign, *, releasable_only: bool = False) -> list[Rewrite]:
    """The accepted rewrites (one per seed), with their tags loaded; with ``releasable_only``,
    without those that overlap a public benchmark."""
    if releasable_only:
        qs = releasable_queryset(campaign)
    else:
        qs = Rewrite.objects.filter(campaign=campaign, status=Rewrite.Status.ACCEPTED)
    return list(
        qs.select_related("subcategory__category", "seed")
        .prefetch_related(
            Prefetch(
                "language_links",
                queryset=RewriteLanguage.objects.select_related("language").order_by("position"),
            )
        )
        .order_by("id")
    )


def panel_vote_table(campaign: Campaign) -> list[list[int]]:
    """[valid, invalid] counts for every decided revision whose whole panel voted. Fleiss'
    kappa needs one panel size; when the campaign's panel size changed (each panel keeps the
    size it opened with), the table holds the panels of the most common size."""
    rows = (
        Rewrite.objects.filter(campaign=campaign, status__in=PANEL_DONE)
        .annotate(
            valid=Count("ballots", filter=Q(ballots__decision=Decision.VALID)),
            invalid=Count("ballots", filter=Q(ballots__decision=Decision.INVALID)),
            size=Coalesce(F("panel_size"), F("campaign__panel_size")),
        )
        .values_list("valid", "invalid", "size")
    )
    by_size: dict[int, list[list[int]]] = defaultdict(list)
    for valid, invalid, size in rows:
        if valid + invalid == size:
            by_size[size].append([valid, invalid])
    if not by_size:
        return []
    # The most common size; on a tie, the campaign's current one, then the largest.
    best = max(by_size, key=lambda n: (len(by_size[n]), n == campaign.panel_size, n))
    return by_size[best]


def agreement(campaign: Campaign) -> dict[str, Any]:
    table = panel_vote_table(campaign)
    kappa = fleiss_kappa(table) if table and sum(table[0]) >= 2 else None
    return {
        "fleiss_kappa": None if kappa is None else round(kappa, 4),
        "panels": len(table),
        "unanimous": sum(1 for v, i in table if v == 0 or i == 0),
        "split": sum(1 for v, i in table if v == i),
    }


def _median_minutes(durations: list[float]) -> float | None:
    return round(statistics.median(durations) / 60, 1) if durations else None


def people(campaign: Campaign) -> dict[str, list[dict[str, Any]]]:
    """Per annotator: assignments, open drafts, submitted revisions, rejected seeds (in all and by
    reason), acceptance rate over decided revisions, and the median minutes from a first
    revision's first save to its submit. Per reviewer: pending, cast and closed ballots. Six
    queries."""
    members = Membership.objects.filter(campaign=campaign).select_related("user")
    annotators = {m.user_id: m.user.get_username() for m in members if m.role == Role.ANNOTATOR}
    reviewers = {m.user_id: m.user.get_username() for m in members if m.role == Role.REVIEWER}
    a_stats = {
        row["annotator_id"]: row
        for row in Assignment.objects.filter(campaign=campaign)
        .values("annotator_id")
        .annotate(
            assigned=Count("pk"),
            active=Count("pk", filter=Q(status=Assignment.Status.ACTIVE)),
            submitted=Count("pk", filter=Q(status=Assignment.Status.SUBMITTED)),
            rejected_seeds=Count("pk", filter=Q(status=Assignment.Status.REJECTED)),
        )
    }
    reject_reasons: dict[int, dict[str, int]] = defaultdict(dict)
    for row in (
        Assignment.objects.filter(campaign=campaign, status=Assignment.Status.REJECTED)
        .values("annotator_id", "reject_reason")
        .annotate(n=Count("pk"))
        .order_by("annotator_id", "reject_reason")
    ):
        reject_reasons[row["annotator_id"]][row["reject_reason"]] = row["n"]
    r_stats = {
        row["author_id"]: row
        for row in Rewrite.objects.filter(campaign=campaign)
        .values("author_id")
        .annotate(
            drafts=Count("pk", filter=Q(status=Rewrite.Status.DRAFT)),
            revisions_submitted=Count("pk", filter=~Q(status=Rewrite.Status.DRAFT)),
            accepted=Count("pk", filter=Q(status=Rewrite.Status.ACCEPTED)),
            decided=Count("pk", filter=Q(status__in=PANEL_DONE)),
        )
    }
    durations: dict[int, list[float]] = defaultdict(list)
    # A first revision is created by its first save; later ones are created when the curator
    # returns the rewrite, so their age says nothing about the annotator's working time.
    for author_id, started, submitted in Rewrite.objects.filter(
        campaign=campaign, submitted_at__isnull=False, revision=1
    ).values_list("author_id", "created_at", "submitted_at"):
        assert submitted is not None  # filtered on submitted_at__isnull=False
        durations[author_id].append(max((submitted - started).total_seconds(), 0.0))
    b_stats = {
        row["reviewer_id"]: row
        for row in Ballot.objects.filter(campaign=campaign)
        .values("reviewer_id")
        .annotate(
            pending=Count("pk", filter=Q(status=Ballot.Status.PENDING)),
            cast=Count("pk", filter=Q(status=Ballot.Status.CAST)),
            closed=Count("pk", filter=Q(status=Ballot.Status.CLOSED)),
        )
    }
    out_annotators = []
    for user_id, name in sorted(annotators.items(), key=lambda kv: kv[1]):
        a = a_stats.get(user_id, {})
        r = r_stats.get(user_id, {})
        decided = r.get("decided", 0)
        out_annotators.append(
            {
                "username": name,
                "assigned": a.get("assigned", 0),
                "active": a.get("active", 0),
                "drafts": r.get("drafts", 0),
                "submitted": a.get("submitted", 0),
                "revisions_submitted": r.get("revisions_submitted", 0),
                "rejected_seeds": a.get("rejected_seeds", 0),
                "rejected_seeds_by_reason": reject_reasons.get(user_id, {}),
                "accepted": r.get("accepted", 0),
                "decided": decided,
                "acceptance_rate": round(r.get("accepted", 0) / decided, 4) if decided else None,
                "median_minutes_per_rewrite": _median_minutes(durations.get(user_id, [])),
            }
        )
    out_reviewers = [
        {
            "username": name,
            "pending": b_stats.get(user_id, {}).get("pending", 0),
            "cast": b_stats.get(user_id, {}).get("cast", 0),
            "closed": b_stats.get(user_id, {}).get("closed", 0),
        }
        for user_id, name in sorted(reviewers.items(), key=lambda kv: kv[1])
    ]
    return {"annotators": out_annotators, "reviewers": out_reviewers}


def campaign_stats(campaign: Campaign) -> dict[str, Any]:
    accepted = accepted_rewrites(campaign)
    return {
        "campaign": campaign.slug,
        "funnel": campaign_funnel(campaign),
        **distributions(accepted),
        "agreement": agreement(campaign),
        "people": people(campaign),
        "tokenizer": campaign.tokenizer,
    }

"""Campaign statistics (funnel, distributions, token lengths, agreement, people), computed with a
fixed number of aggregate queries whatever the campaign's size. Used by the stats API and by
release exports."""

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import connections
from django.db.models import (
    Aggregate,
    Count,
    F,
    FloatField,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber

from annotation.models import Assignment, Campaign, Membership, Rewrite, RewriteLanguage, Role, Seed
from quality.selectors import is_contaminated

from .agreement import fleiss_kappa_of_counts
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


DIFFICULTIES = ("easy", "medium", "hard")
# A group of rewrites with the same tags: (category, subcategory, difficulty, natural language).
TagGroup = tuple[str, str, str, str]


def _ordered(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def distributions_of_counts(
    groups: Counter[TagGroup], languages: Counter[str], tokens: dict[str, float | int | None]
) -> dict[str, Any]:
    """The distributions from how many rewrites share each tag group and each programming
    language, sorted by count then name so the output is stable."""
    categories: Counter[str] = Counter()
    subcategories: Counter[str] = Counter()
    difficulty: Counter[str] = Counter()
    natural: Counter[str] = Counter()
    difficulty_by_category: dict[str, Counter[str]] = defaultdict(Counter)
    for (category, subcategory, level, natural_language), n in groups.items():
        categories[category] += n
        subcategories[subcategory] += n
        difficulty[level] += n
        difficulty_by_category[category][level] += n
        natural[natural_language] += n
    return {
        "categories": _ordered(categories),
        "subcategories": _ordered(subcategories),
        "difficulty": {d: difficulty.get(d, 0) for d in DIFFICULTIES},
        "difficulty_by_category": {
            c: {d: difficulty_by_category[c].get(d, 0) for d in DIFFICULTIES}
            for c in _ordered(categories)
        },
        "programming_languages": _ordered(languages),
        "natural_languages": _ordered(natural),
        "question_tokens": tokens,
    }


def rewrite_distributions(rewrites: QuerySet[Rewrite]) -> dict[str, Any]:
    """The distributions (``distributions_of_counts``) of ``rewrites`` (submitted or later:
    each has a subcategory) counted by the database, in four queries whatever their number: the
    tag groups, the programming languages, the token aggregates and the middle token counts."""
    groups: Counter[TagGroup] = Counter(
        {
            (category, subcategory, level, natural_language): n
            for category, subcategory, level, natural_language, n in rewrites.order_by()
            .values_list(
                "subcategory__category__name", "subcategory__name", "difficulty", "natural_language"
            )
            .annotate(n=Count("pk"))
        }
    )
    languages: Counter[str] = Counter(
        dict(
            RewriteLanguage.objects.filter(rewrite__in=rewrites.order_by().values("pk"))
            .order_by()
            .values_list("language__name")
            .annotate(n=Count("pk"))
        )
    )
    return distributions_of_counts(groups, languages, token_summary_of(rewrites))


class Median(Aggregate):
    """PostgreSQL's exact median: the middle value, or the mean of the two middle ones (as a
    float either way)."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def token_summary_of(rewrites: QuerySet[Rewrite]) -> dict[str, float | int | None]:
    """``token_summary`` of the rewrites' question token counts, by the database: count, min,
    max, sum and (PostgreSQL) median in one query; elsewhere a second query reads the one or
    two middle values. The median is ``statistics.median``'s: the middle value (an int), or
    the mean of the two middle ones (a float)."""
    counted = rewrites.exclude(question_tokens=None).order_by()
    exact_median = connections[counted.db].vendor == "postgresql"
    totals = counted.aggregate(
        count=Count("question_tokens"),
        min=Min("question_tokens"),
        max=Max("question_tokens"),
        sum=Sum("question_tokens"),
        **({"median": Median("question_tokens")} if exact_median else {}),
    )
    count = totals["count"]
    if not count:
        return {"count": 0, "min": None, "max": None, "mean": None, "median": None}
    median: float | int
    if exact_median:
        median = int(totals["median"]) if count % 2 else totals["median"]
    else:
        middle = [
            n
            for n in counted.order_by("question_tokens").values_list("question_tokens", flat=True)[
                (count - 1) // 2 : count // 2 + 1
            ]
            if n is not None  # none is: excluded above
        ]
        median = middle[0] if count % 2 or len(middle) < 2 else (middle[0] + middle[1]) / 2
    return {
        "count": count,
        "min": totals["min"],
        "max": totals["max"],
        # statistics.fmean: the exact sum divided by the count, rounded once.
        "mean": round(totals["sum"] / count, 2),
        "median": median,
    }


def releasable_queryset(campaign: Campaign) -> QuerySet[Rewrite]:
    """Accepted rewrites that overlap no public benchmark: what a release may contain."""
    return Rewrite.objects.filter(campaign=campaign, status=Rewrite.Status.ACCEPTED).exclude(
        is_contaminated()
    )


def select_from(template: str, **tables: QuerySet[Any]) -> list[tuple[Any, ...]]:
    """The rows of the SQL ``template``, in which each ``{name}`` stands for the queryset
    ``tables[name]`` as a derived table (its columns named by its ``values()``): a second level
    of grouping, or a join of grouped rows, that the ORM does not write. Every value travels as
    a query parameter of the querysets; the template holds no input."""
    compiled = {name: qs.query.sql_with_params() for name, qs in tables.items()}
    params: list[Any] = []
    for name in re.findall(r"\{(\w+)\}", template):
        params.extend(compiled[name][1])
    sql = template.format(**{name: f"({sql})" for name, (sql, _params) in compiled.items()})
    db = {qs.db for qs in tables.values()}.pop()
    with connections[db].cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def panel_vote_counts(campaign: Campaign) -> dict[tuple[int, int, int], int]:
    """{(panel size, valid votes, invalid votes): revisions} over the revisions whose panel
    voted to the end (``PANEL_DONE``), counted by the database in one query: how many panels
    voted each way, without a row per panel leaving it."""
    panels = (
        Rewrite.objects.filter(campaign=campaign, status__in=PANEL_DONE)
        .annotate(
            n_valid=Count("ballots", filter=Q(ballots__decision=Decision.VALID)),
            n_invalid=Count("ballots", filter=Q(ballots__decision=Decision.INVALID)),
            n_seats=Coalesce(F("panel_size"), F("campaign__panel_size")),
        )
        .order_by()
        .values("n_seats", "n_valid", "n_invalid")
    )
    return {
        (size, valid, invalid): n
        for size, valid, invalid, n in select_from(
            "SELECT n_seats, n_valid, n_invalid, COUNT(*) FROM {panels} panels"
            " GROUP BY n_seats, n_valid, n_invalid",
            panels=panels,
        )
    }


def agreement(campaign: Campaign) -> dict[str, Any]:
    """Fleiss' kappa over every decided revision whose whole panel voted, with how many panels
    it covers, how many were unanimous and how many split evenly. Kappa needs one panel size;
    when the campaign's panel size changed (each panel keeps the size it opened with), it is
    computed over the panels of the most common size. One query."""
    by_size: dict[int, Counter[tuple[int, ...]]] = defaultdict(Counter)
    for (size, valid, invalid), n in panel_vote_counts(campaign).items():
        if valid + invalid == size:
            by_size[size][(valid, invalid)] += n
    table: Counter[tuple[int, ...]] = Counter()
    if by_size:
        # The most common size; on a tie, the campaign's current one, then the largest.
        best = max(by_size, key=lambda n: (by_size[n].total(), n == campaign.panel_size, n))
        table = by_size[best]
    kappa = fleiss_kappa_of_counts(table) if table and sum(next(iter(table))) >= 2 else None
    return {
        "fleiss_kappa": None if kappa is None else round(kappa, 4),
        "panels": table.total(),
        "unanimous": sum(n for (v, i), n in table.items() if v == 0 or i == 0),
        "split": sum(n for (v, i), n in table.items() if v == i),
    }


def _median_minutes(durations: list[float]) -> float | None:
    return round(statistics.median(durations) / 60, 1) if durations else None


def median_durations(
    rows: QuerySet[Any], *, group: str, start: str, end: str
) -> dict[Any, list[float]]:
    """For each value of ``group`` among ``rows``, the one or two middle durations in seconds
    from ``start`` to ``end`` (a negative one counts as 0): what ``statistics.median`` of all
    of them needs, found by the database (rank within the group) in one query."""
    ranked = (
        rows.order_by()
        .annotate(took=F(end) - F(start))
        .annotate(
            rank=Window(RowNumber(), partition_by=F(group), order_by=F("took").asc()),
            among=Window(Count("pk"), partition_by=F(group)),
        )
        .filter(Q(rank=(F("among") + 1) / 2) | Q(rank=F("among") / 2 + 1))
        .values_list(group, "took")
    )
    middle: dict[Any, list[float]] = defaultdict(list)
    for key, took in ranked:
        middle[key].append(max(took.total_seconds(), 0.0))
    return middle


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
    # A first revision is created by its first save; later ones are created when the curator
    # returns the rewrite, so their age says nothing about the annotator's working time.
    durations = median_durations(
        Rewrite.objects.filter(campaign=campaign, submitted_at__isnull=False, revision=1),
        group="author_id",
        start="created_at",
        end="submitted_at",
    )
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
    """The stats API's figures (``review.dashboard.campaign_overview`` adds to them), counted
    by the database in a fixed number of queries, whatever the campaign's size."""
    accepted = Rewrite.objects.filter(campaign=campaign, status=Rewrite.Status.ACCEPTED)
    return {
        "campaign": campaign.slug,
        "funnel": campaign_funnel(campaign),
        **rewrite_distributions(accepted),
        "agreement": agreement(campaign),
        "people": people(campaign),
        "tokenizer": campaign.tokenizer,
    }

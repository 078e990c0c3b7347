"""The curator's statistics at scale: ``campaign_stats`` and the dashboard are computed by the
database (GROUP BY, FILTER, a self-join of ballots for the pairwise kappas) in a number of
queries that does not grow with the campaign, and their figures equal a plain recomputation in
Python over every row of a random campaign (every status, early-closed ballots, panels of three
and four, adjudicated and returned revisions, a reviewer who left, contamination)."""

import json
import random
import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from itertools import combinations
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from annotation.models import (
    Assignment,
    ProgrammingLanguage,
    RejectReason,
    Rewrite,
    RewriteLanguage,
    Seed,
    Subcategory,
)
from annotation.services import seeds_import, seeds_sample, user_ensure
from quality.models import ContaminationHit, ReferenceDocument, ReferenceSet
from review.consensus import consensus
from review.dashboard import campaign_overview
from review.models import Ballot
from review.services import rewrite_adjudicate, rewrite_close, rewrite_return
from review.stats import (
    DIFFICULTIES,
    PANEL_DONE,
    campaign_stats,
    token_summary,
    token_summary_of,
)

from .conftest import World, api_for, cast_panel

# A revision's fate: its status and whether a curator adjudicated it (then its panel had no
# consensus). Returned revisions get a second revision (draft, submitted or accepted).
FATES = [
    ("submitted", False),
    ("accepted", False),
    ("accepted", False),
    ("accepted", False),
    ("rejected", False),
    ("no_consensus", False),
    ("accepted", True),
    ("rejected", True),
    ("returned", False),
    ("closed", False),
]
SEED_FATES = ["untouched", "skipped", "rejected", "draft", "rewritten", "rewritten", "rewritten"]
NATURAL = ["en", "en", "zh", "es", "fr"]


def _votes(rng: random.Random, status: str, size: int, threshold: int, split: bool) -> list[str]:
    """Decisions of a full panel that give ``status`` (``split``: no consensus)."""
    while True:
        votes = [rng.choice(["valid", "invalid"]) for _ in range(size)]
        valid = votes.count("valid")
        invalid = size - valid
        accepted, rejected = valid >= threshold, invalid >= threshold
        if split or status == "no_consensus":
            wanted = not accepted and not rejected
        elif status in ("returned", "closed"):
            wanted = not accepted  # after a rejection or no consensus
        else:
            wanted = accepted if status == "accepted" else rejected
        if wanted:
            return votes


class RandomCampaign:
    """Writes, in bulk, a random campaign into ``world`` (reading is what is tested): seeds in
    twelve subcategories, some left in the pool; per sampled seed one fate of ``SEED_FATES``;
    rewrites with random tags, token counts (some missing) and fates (``FATES``); panels of
    four (threshold 3) or three (threshold 2), some decided early with a closed ballot; a
    reviewer who left the campaign; contaminated accepted rewrites."""

    def __init__(self, world: World, *, seeds: int, seed: int = 0) -> None:
        self.world = world
        self.rng = random.Random(seed)
        self.campaign = world.campaign
        self.former = user_ensure(username=f"{self.campaign.slug}-aa-former")
        self.reviewers = [*world.reviewers, self.former]
        # Fixed, so that the days of the dashboard's progress do not depend on the clock.
        self.now = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
        self.subcategories = list(
            Subcategory.objects.filter(campaign=self.campaign).order_by("pk")
        )[::3][:12]
        self.languages = list(
            ProgrammingLanguage.objects.filter(campaign=self.campaign).order_by("pk")[:7]
        )
        reference = ReferenceSet.objects.create(
            name=f"ref-{self.campaign.slug}", loaded_at=self.now
        )
        self.document = ReferenceDocument.objects.create(
            reference_set=reference, doc_id="d1", text="x", line=1
        )
        self.start = 0
        self.add(seeds)

    def add(self, seeds: int) -> None:
        """``seeds`` more seeds, most of them sampled and worked on."""
        rng, campaign = self.rng, self.campaign
        names = [s.name for s in self.subcategories]
        seeds_import(
            campaign=campaign,
            lines=[
                json.dumps({"id": f"r{i}", "text": f"Q {i}?", "subcategory": rng.choice(names)})
                for i in range(self.start, self.start + seeds)
            ],
        )
        self.start += seeds
        sampled = campaign.seeds.exclude(status="pooled").count()
        seeds_sample(campaign=campaign, size=sampled + seeds * 9 // 10)
        fresh = list(
            Seed.objects.filter(campaign=campaign, status="sampled", assignments__isnull=True)
        )
        assignments: list[Assignment] = []
        seed_status: dict[int, str] = {}
        plans: list[tuple[Assignment, str]] = []
        for s in fresh:
            fate = rng.choice(SEED_FATES)
            annotator = rng.choice(self.world.annotators)
            if fate == "untouched":
                continue
            if fate == "skipped":
                assignments.append(
                    Assignment(campaign=campaign, seed=s, annotator=annotator, status="skipped")
                )
                continue
            if fate == "rejected":
                seed_status[s.pk] = "done"
                assignments.append(
                    Assignment(
                        campaign=campaign,
                        seed=s,
                        annotator=annotator,
                        status="rejected",
                        reject_reason=rng.choice(RejectReason.values),
                    )
                )
                continue
            a = Assignment(campaign=campaign, seed=s, annotator=annotator, status="active")
            assignments.append(a)
            plans.append((a, fate))
        Assignment.objects.bulk_create(assignments)
        rewrites: list[Rewrite] = []
        panels: list[tuple[Rewrite, list[str], bool]] = []
        for a, fate in plans:
            if fate == "draft":
                seed_status[a.seed_id] = "assigned"
                rewrites.append(self.rewrite(a, "draft", 1))
                continue
            status, by_curator = rng.choice(FATES)
            first = self.rewrite(a, status, 1, by_curator=by_curator)
            rewrites.append(first)
            panels.append((first, self.panel(first, status, by_curator), status == "submitted"))
            if status != "returned":
                a.status = "submitted"
                seed_status[a.seed_id] = "done"
                continue
            second_status = rng.choice(["draft", "submitted", "accepted"])
            second = self.rewrite(a, second_status, 2)
            rewrites.append(second)
            if second_status == "draft":
                seed_status[a.seed_id] = "assigned"
            else:
                a.status = "submitted"
                seed_status[a.seed_id] = "done"
                panels.append((second, self.panel(second, second_status, False), False))
        Assignment.objects.bulk_update([a for a, _ in plans], ["status"])
        for status in ("assigned", "done"):
            Seed.objects.filter(pk__in=[pk for pk, s in seed_status.items() if s == status]).update(
                status=status
            )
        Rewrite.objects.bulk_create(rewrites)
        # created_at is set on insert (auto_now_add): the minutes per rewrite need it earlier.
        for r in rewrites:
            r.created_at = (r.submitted_at or self.now) - timedelta(
                seconds=rng.choice([-30, 0, 45, 600, 3600, 7201])
            )
        Rewrite.objects.bulk_update(rewrites, ["created_at"])
        links = []
        for r in rewrites:
            for position, language in enumerate(rng.sample(self.languages, rng.randint(1, 3))):
                links.append(RewriteLanguage(rewrite=r, language=language, position=position))
        RewriteLanguage.objects.bulk_create(links)
        ballots = []
        for r, votes, pending_allowed in panels:
            reviewers = rng.sample(self.reviewers, r.panel_size or 4)
            cast = len(votes)
            if pending_allowed:
                cast = rng.randint(0, len(reviewers) - 1)
            for k, reviewer in enumerate(reviewers):
                decision = votes[k] if k < cast else ""
                status = "cast" if decision else ("pending" if pending_allowed else "closed")
                ballots.append(
                    Ballot(
                        campaign=campaign,
                        rewrite=r,
                        reviewer=reviewer,
                        status=status,
                        decision=decision,
                        cast_at=self.now if decision else None,
                    )
                )
        Ballot.objects.bulk_create(ballots)
        ContaminationHit.objects.bulk_create(
            ContaminationHit(
                campaign=campaign, rewrite=r, document=self.document, n=10, ngram="x", overlap=1
            )
            for r in rewrites
            if r.status == "accepted" and rng.random() < 0.2
        )

    def rewrite(self, a: Assignment, status: str, revision: int, **kw: Any) -> Rewrite:
        rng = self.rng
        size = rng.choice([4, 4, 4, 3]) if status != "draft" else None
        if status in ("no_consensus", "returned", "closed") or kw.get("by_curator"):
            size = 4  # three votes always give two on one side
        decided = status not in ("draft", "submitted")
        return Rewrite(
            campaign=self.campaign,
            seed_id=a.seed_id,
            assignment=a,
            author_id=a.annotator_id,
            revision=revision,
            text=f"Rewrite of {a.seed_id} r{revision}",
            difficulty=rng.choice(["easy", "medium", "hard"]),
            natural_language=rng.choice(NATURAL),
            subcategory=rng.choice(self.subcategories),
            check_clear=True,
            check_ethical=True,
            check_solvable=True,
            question_tokens=None if rng.random() < 0.1 else rng.randint(3, 400),
            panel_size=size,
            accept_threshold=None if size is None else size // 2 + 1,
            status=status,
            decided_by_curator=kw.get("by_curator", False),
            submitted_at=None
            if status == "draft"
            else self.now - timedelta(days=rng.randint(0, 20), seconds=rng.randint(0, 86399)),
            decided_at=self.now - timedelta(days=rng.randint(0, 20)) if decided else None,
        )

    def panel(self, r: Rewrite, status: str, by_curator: bool) -> list[str]:
        """The panel's decisions in ballot order; an accepted or rejected panel is sometimes
        decided early (its last ballots closed unvoted)."""
        size = r.panel_size or 4
        threshold = size // 2 + 1
        if status == "submitted":
            return [self.rng.choice(["valid", "invalid"]) for _ in range(size)]
        votes = _votes(self.rng, status, size, threshold, by_curator)
        if status in ("accepted", "rejected") and not by_curator and self.rng.random() < 0.2:
            wanted = "valid" if status == "accepted" else "invalid"
            votes = [wanted] * threshold  # early decision: the rest are closed
        return votes


# --- query counts ------------------------------------------------------------------------------


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def small_campaign(world: World) -> None:
    """Through the services: one revision of each kind the dashboard lists (accepted, rejected
    and returned, split and adjudicated, closed, waiting for votes)."""
    world.add_seeds(8)
    for votes in (
        ["valid"] * 4,
        ["valid", "valid", "valid", "invalid"],
        ["invalid", "invalid", "invalid", "valid"],
        ["valid", "valid", "invalid", "invalid"],
        ["invalid", "invalid", "valid", "valid"],
        ["invalid"] * 4,
    ):
        cast_panel(world.submitted(), votes)
    world.submitted(world.annotators[1])  # waiting for votes
    rejected, split, to_adjudicate, to_close = Rewrite.objects.filter(
        campaign=world.campaign, status__in=["rejected", "no_consensus"]
    ).order_by("pk")[:4]
    rewrite_return(rewrite_id=rejected.pk, actor=world.curator, note="again")
    rewrite_adjudicate(
        rewrite_id=to_adjudicate.pk, actor=world.curator, decision="accepted", reason="fine"
    )
    rewrite_close(rewrite_id=to_close.pk, actor=world.curator, note="no")
    # Counted by a background task elsewhere; here, so the token figures have something to read.
    Rewrite.objects.filter(campaign=world.campaign).update(question_tokens=42)


def queries_of(world: World) -> dict[str, int]:
    def count(call: Any) -> int:
        with CaptureQueriesContext(connection) as ctx:
            call()
        return len(ctx)

    slug = world.campaign.slug
    page, api = client_for(world.curator), api_for(world.curator)
    page.get(f"/campaigns/{slug}/dashboard/")  # the session's first request, not measured
    api.get(f"/api/v1/campaigns/{slug}/stats/")
    return {
        "campaign_stats": count(lambda: campaign_stats(world.campaign)),
        "campaign_overview": count(lambda: campaign_overview(world.campaign)),
        "dashboard": count(
            lambda: assert_ok(page.get(f"/campaigns/{slug}/dashboard/")),
        ),
        "stats_api": count(lambda: assert_ok(api.get(f"/api/v1/campaigns/{slug}/stats/"))),
    }


def assert_ok(response: Any) -> None:
    assert response.status_code == 200, response.content[:300]


@pytest.mark.django_db
def test_queries_of_the_statistics_do_not_grow_with_the_campaign(make_world):
    world = make_world("grow")
    small_campaign(world)
    small = queries_of(world)
    rewrites, ballots = Rewrite.objects.count(), Ballot.objects.count()
    assert rewrites == 8 and ballots == 28  # seven submitted, one new revision
    RandomCampaign(world, seeds=400, seed=7)
    assert Rewrite.objects.count() > 10 * rewrites and Ballot.objects.count() > 20 * ballots
    assert queries_of(world) == small
    # The curator sees the figures of the whole campaign.
    stats = api_for(world.curator).get(f"/api/v1/campaigns/{world.campaign.slug}/stats/").json()
    assert stats["funnel"]["submitted"] == Rewrite.objects.exclude(status="draft").count()
    assert stats["agreement"]["panels"] > 100


# --- the figures against a recomputation in Python ---------------------------------------------


def recomputed_distributions(rewrites: list[Rewrite]) -> dict[str, Any]:
    categories = Counter(r.subcategory.category.name for r in rewrites)
    by_category: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rewrites:
        by_category[r.subcategory.category.name][r.difficulty] += 1
    tokens = sorted(r.question_tokens for r in rewrites if r.question_tokens is not None)
    by_count = lambda c: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))  # noqa: E731
    return {
        "categories": by_count(categories),
        "subcategories": by_count(Counter(r.subcategory.name for r in rewrites)),
        "difficulty": {d: sum(r.difficulty == d for r in rewrites) for d in DIFFICULTIES},
        "difficulty_by_category": {
            c: {d: by_category[c][d] for d in DIFFICULTIES} for c in by_count(categories)
        },
        "programming_languages": by_count(
            Counter(link.language.name for r in rewrites for link in r.language_links.all())
        ),
        "natural_languages": by_count(Counter(r.natural_language for r in rewrites)),
        "question_tokens": {
            "count": len(tokens),
            "min": tokens[0],
            "max": tokens[-1],
            "mean": round(sum(tokens) / len(tokens), 2),
            "median": statistics.median(tokens),
        },
    }


def fleiss(rows: list[tuple[int, int]]) -> float:
    n, subjects = sum(rows[0]), len(rows)
    p_j = [sum(r[j] for r in rows) / (subjects * n) for j in (0, 1)]
    p_bar = sum((r[0] ** 2 + r[1] ** 2 - n) / (n * (n - 1)) for r in rows) / subjects
    p_e = sum(p * p for p in p_j)
    return (p_bar - p_e) / (1 - p_e)


def cohen(pairs: list[tuple[str, str]]) -> float | None:
    n = len(pairs)
    p_o = sum(a == b for a, b in pairs) / n
    p_e = sum(
        sum(a == label for a, _ in pairs) / n * (sum(b == label for _, b in pairs) / n)
        for label in ("valid", "invalid")
    )
    return None if p_e == 1 else (p_o - p_e) / (1 - p_e)


ROUNDED = 5.01e-5  # a figure rounded to four places is within this of the exact one


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_statistics_equal_a_recomputation_over_every_row(make_world, seed):
    world = make_world(f"check{seed}")
    RandomCampaign(world, seeds=120 + 30 * seed, seed=seed)
    campaign = world.campaign
    overview = campaign_overview(campaign)
    rewrites = list(
        Rewrite.objects.filter(campaign=campaign).prefetch_related(
            "language_links__language", "ballots__reviewer"
        )
    )
    by_pk = {r.pk: r for r in rewrites}
    accepted = [r for r in rewrites if r.status == "accepted"]

    # Distributions and token lengths of the accepted rewrites.
    expected = recomputed_distributions(accepted)
    # As JSON: the order of every mapping and an int median against a float one count too.
    assert json.dumps({k: overview[k] for k in expected}) == json.dumps(expected)

    # Fleiss' kappa over the full panels of the most common size.
    done = [r for r in rewrites if r.status in PANEL_DONE]
    full: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for r in done:
        cast = [b.decision for b in r.ballots.all() if b.status == "cast"]
        if len(cast) == r.panel_size:
            full[r.panel_size].append((cast.count("valid"), cast.count("invalid")))
    size = max(full, key=lambda n: (len(full[n]), n == campaign.panel_size, n))
    rows = full[size]
    agreement = overview["agreement"]
    assert agreement["panels"] == len(rows) and len(rows) > 20
    assert agreement["fleiss_kappa"] == pytest.approx(fleiss(rows), abs=ROUNDED)
    assert agreement["unanimous"] == sum(1 for v, i in rows if v == 0 or i == 0)
    assert agreement["split"] == sum(1 for v, i in rows if v == i)

    # Each reviewer's votes against the outcome of their panel.
    votes = {
        r.pk: {b.reviewer.username: b.decision for b in r.ballots.all() if b.decision} for r in done
    }
    outcome_votes: Counter[str] = Counter()
    matched: Counter[str] = Counter()
    for pk, panel in votes.items():
        r = by_pk[pk]
        valid = sum(d == "valid" for d in panel.values())
        outcome = consensus(
            valid=valid,
            invalid=len(panel) - valid,
            panel_size=r.panel_size,
            threshold=r.accept_threshold,
            early=True,
        )
        if r.decided_by_curator or r.status == "no_consensus":
            outcome = None
        elif r.status in ("accepted", "rejected"):
            outcome = r.status
        if outcome in ("accepted", "rejected"):
            for reviewer, decision in panel.items():
                outcome_votes[reviewer] += 1
                matched[reviewer] += decision == ("valid" if outcome == "accepted" else "invalid")
    reviewers = sorted({name for panel in votes.values() for name in panel})
    assert agreement["reviewers"] == reviewers and world.reviewers[0].username in reviewers
    assert f"{campaign.slug}-aa-former" in reviewers  # voted, then left the campaign
    assert agreement["reviewer_agreement_with_outcome"] == {
        name: {
            "decided_votes": outcome_votes[name],
            "matched": matched[name],
            "rate": round(matched[name] / outcome_votes[name], 4) if outcome_votes[name] else None,
        }
        for name in reviewers
    }

    # Every pair of reviewers over the revisions both voted on.
    pairs = agreement["pairwise_cohen_kappa"]
    assert [(p["a"], p["b"]) for p in pairs] == list(combinations(reviewers, 2))
    for pair in pairs:
        shared = [
            (p[pair["a"]], p[pair["b"]])
            for p in votes.values()
            if pair["a"] in p and pair["b"] in p
        ]
        assert pair["shared"] == len(shared) > 0
        assert pair["agreement"] == round(sum(a == b for a, b in shared) / len(shared), 4)
        kappa = cohen(shared)
        assert (pair["cohen_kappa"] is None) == (kappa is None)
        if kappa is not None:
            assert pair["cohen_kappa"] == pytest.approx(kappa, abs=ROUNDED)

    # The split panels: full, as many valid as invalid votes.
    assert agreement["split_rewrites"] == sorted(
        pk
        for pk, panel in votes.items()
        if len(panel) == by_pk[pk].panel_size
        and 2 * sum(d == "valid" for d in panel.values()) == len(panel)
    )

    # Median minutes from a first revision's first save to its submit, per annotator.
    people = {a["username"]: a for a in overview["people"]["annotators"]}
    for annotator in world.annotators:
        took = [
            max((r.submitted_at - r.created_at).total_seconds(), 0.0)
            for r in rewrites
            if r.author_id == annotator.pk and r.revision == 1 and r.submitted_at
        ]
        assert people[annotator.username]["median_minutes_per_rewrite"] == (
            round(statistics.median(took) / 60, 1) if took else None
        )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "tokens",
    [[], [7], [None, 3, 9], [1, 2, 3, 10], [5, 5, 6, 6], [2, 1, None, 4, 3, 100, 7]],
)
def test_token_summary_in_the_database_is_the_one_of_the_values(world, tokens):
    """The median as ``statistics.median`` gives it: the middle value (an int), or the mean of
    the two middle ones (a float), on every database."""
    world.add_seeds(len(tokens) or 1)
    for n in tokens:
        r = world.submitted()
        Rewrite.objects.filter(pk=r.pk).update(question_tokens=n)
    summary = token_summary_of(Rewrite.objects.filter(campaign=world.campaign))
    expected = token_summary(tokens)
    assert summary == expected
    assert type(summary["median"]) is type(expected["median"])
    assert json.dumps(summary) == json.dumps(expected)

"""The quality checks at scale: near-duplicates through stored MinHash signatures and LSH bands
(``quality/minhash.py``, ``quality.services.similarity``). A submit's check makes the same
number of queries whatever the campaign's size; LSH finds every pair the exact comparison of
all rewrites flags, with the same scores; the band lookup is an index lookup on PostgreSQL;
the index of rewrites submitted before it existed (or of another threshold) is built on first
use and by the command."""

import random
from datetime import UTC, datetime
from itertools import combinations
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.models import Assignment, Rewrite, Seed, Subcategory
from quality.minhash import NUM_PERM, band_keys, lsh_bands, lsh_recall, signatures
from quality.models import RewriteBand, RewriteSignature, SimilarityFlag, SimilarityIndex
from quality.ngrams import jaccard, shingles
from quality.services import (
    campaign_similarity_check,
    rewrite_quality_check,
    rewrite_similarity_check,
    similarity_index_build,
)
from quality.services.similarity import band_candidates

from .conftest import World

VOCABULARY = [f"w{i}" for i in range(3000)]
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def random_text(rng: random.Random) -> str:
    return " ".join(rng.choices(VOCABULARY, k=rng.randint(25, 60)))


def near_copy(rng: random.Random, text: str, changes: int) -> str:
    words = text.split()
    for _ in range(changes):
        words[rng.randrange(len(words))] = rng.choice(VOCABULARY)
    return " ".join(words)


def add_rewrites(world: World, texts: list[str], start: int = 0) -> list[Rewrite]:
    """Submitted rewrites with ``texts``, one seed each, written in bulk (no checks run)."""
    campaign = world.campaign
    world.add_seeds(len(texts), start=start)
    subcategory = Subcategory.objects.filter(campaign=campaign).order_by("pk").first()
    seeds = list(
        Seed.objects.filter(campaign=campaign, status="sampled", assignments__isnull=True).order_by(
            "pk"
        )
    )[: len(texts)]
    assignments = Assignment.objects.bulk_create(
        Assignment(campaign=campaign, seed=s, annotator=world.annotators[0], status="submitted")
        for s in seeds
    )
    Seed.objects.filter(pk__in=[s.pk for s in seeds]).update(status="done")
    return Rewrite.objects.bulk_create(
        Rewrite(
            campaign=campaign,
            seed_id=a.seed_id,
            assignment=a,
            author_id=a.annotator_id,
            revision=1,
            text=text,
            difficulty="medium",
            natural_language="en",
            subcategory=subcategory,
            check_clear=True,
            check_ethical=True,
            check_solvable=True,
            question_tokens=20,
            panel_size=4,
            accept_threshold=3,
            status="submitted",
            submitted_at=NOW,
        )
        for a, text in zip(assignments, texts, strict=True)
    )


def exact_pairs(rewrites: list[Rewrite], threshold: float) -> dict[tuple[int, int], float]:
    """Every pair of rewrites of different seeds at or above ``threshold``: the exact method."""
    sets = {r.pk: shingles(r.text) for r in rewrites}
    out = {}
    for a, b in combinations(rewrites, 2):
        if a.seed_id == b.seed_id:
            continue
        score = jaccard(sets[a.pk], sets[b.pk])
        if score >= threshold:
            out[(min(a.pk, b.pk), max(a.pk, b.pk))] = round(score, 4)
    return out


def flagged_pairs(campaign: Any) -> dict[tuple[int, int], float]:
    flags = SimilarityFlag.objects.filter(campaign=campaign, kind="near_duplicate")
    pairs = {}
    for f in flags:
        assert f.other_id is not None
        pairs[(min(f.rewrite_id, f.other_id), max(f.rewrite_id, f.other_id))] = f.score
    assert flags.count() == 2 * len(pairs)  # both directions
    return pairs


def texts_with_near_duplicates(rng: random.Random, count: int) -> list[str]:
    """Random texts, a third of them near-copies of an earlier one (similarities from about
    0.3 to 1.0, many close to 0.7)."""
    texts: list[str] = []
    for i in range(count):
        if i > 5 and rng.random() < 0.35:
            base = rng.choice(texts)
            texts.append(near_copy(rng, base, rng.choice([0, 1, 2, 3, 4, 5, 6, 8, 10])))
        else:
            texts.append(random_text(rng))
    return texts


def test_lsh_parameters_find_pairs_at_the_threshold_with_high_probability():
    assert lsh_bands(0.7) == (32, 4)
    assert lsh_recall(0.7, 32, 4) > 0.9998
    for threshold in (0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
        bands, rows = lsh_bands(threshold)
        assert bands * rows <= NUM_PERM
        assert lsh_recall(threshold, bands, rows) >= 0.999
    # Signatures are stable (stored and compared across processes): BLAKE2b and fixed
    # permutation seeds, not Python's salted hash.
    sig = signatures([shingles("one two three four five six")])[0]
    assert sig is not None and sig.shape == (NUM_PERM,)
    assert band_keys(7, [sig], 4).shape == (1, 32)
    assert int(sig[0]) == 691_291_041


def test_lsh_finds_the_near_duplicates_the_exact_method_finds(world):
    rng = random.Random(18)
    rewrites = add_rewrites(world, texts_with_near_duplicates(rng, 120))
    expected = exact_pairs(rewrites, world.campaign.duplicate_threshold)
    assert len(expected) >= 15  # the test set has pairs, some near the threshold
    assert any(score < 0.8 for score in expected.values())

    result = campaign_similarity_check(campaign=world.campaign)
    assert flagged_pairs(world.campaign) == expected
    assert result.near_duplicate_pairs == len(expected)
    assert RewriteSignature.objects.filter(campaign=world.campaign).count() == 120
    assert SimilarityIndex.objects.get(campaign=world.campaign).rows == 4

    # The per-submit check of each rewrite finds the same pairs, with the same scores.
    SimilarityFlag.objects.all().delete()
    for r in rewrites:
        rewrite_similarity_check(rewrite_id=r.pk)
    assert flagged_pairs(world.campaign) == expected


def test_the_first_check_indexes_rewrites_submitted_before_the_index(world):
    rng = random.Random(5)
    base = random_text(rng)
    old = add_rewrites(world, [base, random_text(rng), random_text(rng)])
    assert not RewriteSignature.objects.exists()
    new = add_rewrites(world, [near_copy(rng, base, 1)], start=10)[0]
    rewrite_similarity_check(rewrite_id=new.pk)
    assert RewriteSignature.objects.count() == 4
    assert flagged_pairs(world.campaign).keys() == {(old[0].pk, new.pk)}

    # Another threshold: bands of another size, rebuilt from the stored signatures.
    world.campaign.duplicate_threshold = 0.5
    world.campaign.save(update_fields=["duplicate_threshold"])
    rewrite_similarity_check(rewrite_id=new.pk)
    _, rows = lsh_bands(0.5)
    assert set(RewriteSignature.objects.values_list("rows", flat=True)) == {rows}
    assert RewriteBand.objects.count() == 4 * (NUM_PERM // rows)
    assert flagged_pairs(world.campaign).keys() == {(old[0].pk, new.pk)}


def test_similarity_index_command_builds_the_index(world):
    add_rewrites(world, [random_text(random.Random(i)) for i in range(6)])
    call_command("similarity_index", world.campaign.slug, "--no-progress")
    assert RewriteSignature.objects.filter(campaign=world.campaign).count() == 6
    assert RewriteBand.objects.count() == 6 * 32
    assert similarity_index_build(campaign=world.campaign) == 0  # nothing left to do


def _check_queries(world: World, rng: random.Random, start: int) -> tuple[int, int]:
    """Queries of the per-submit check (whole, and its similarity part) of a new rewrite that
    nearly duplicates one of the campaign's."""
    base = Rewrite.objects.filter(campaign=world.campaign).order_by("pk").first()
    assert base is not None
    new = add_rewrites(world, [near_copy(rng, base.text, 1)], start=start)[0]
    with CaptureQueriesContext(connection) as whole:
        result = rewrite_quality_check(rewrite_id=new.pk)
    assert result["near_duplicate_pairs"] >= 1
    newer = add_rewrites(world, [near_copy(rng, base.text, 1)], start=start + 1)[0]
    with CaptureQueriesContext(connection) as part:
        rewrite_similarity_check(rewrite_id=newer.pk)
    return len(whole.captured_queries), len(part.captured_queries)


def test_queries_of_the_per_submit_check_do_not_grow_with_the_campaign(make_world):
    rng = random.Random(1)
    counts = []
    for size, slug in ((5, "small"), (80, "big")):
        world = make_world(slug=slug)
        add_rewrites(world, texts_with_near_duplicates(rng, size))
        similarity_index_build(campaign=world.campaign)
        counts.append(_check_queries(world, rng, start=1000))
    assert counts[0] == counts[1]


def test_band_lookup_uses_the_index_on_postgresql(postgres, world):
    rewrites = add_rewrites(world, [random_text(random.Random(i)) for i in range(4)])
    # 200,000 band rows (as many as 6,000 rewrites have), then statistics.
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {RewriteBand._meta.db_table} (key, rewrite_id) "
            "SELECT (random() * 9e18)::bigint, %s FROM generate_series(1, 200000)",
            [rewrites[0].pk],
        )
        cur.execute(f"ANALYZE {RewriteBand._meta.db_table}")
        cur.execute(f"ANALYZE {Rewrite._meta.db_table}")
    keys = list(range(1, 33))
    plan = band_candidates(
        campaign=world.campaign, seed_id=rewrites[1].seed_id, keys=keys
    ).explain()
    assert "Seq Scan on quality_rewriteband" not in plan, plan
    assert "quality_rewriteband_pkey" in plan, plan


@pytest.mark.parametrize("threshold", [0.7, 0.9])
def test_copied_seed_flags_are_unchanged(world, threshold):
    world.campaign.copy_threshold = threshold
    world.campaign.save(update_fields=["copy_threshold"])
    rewrites = add_rewrites(world, ["x"] * 3)
    seeds = {s.pk: f"{s.title}\n{s.body}" for s in Seed.objects.filter(campaign=world.campaign)}
    Rewrite.objects.filter(pk=rewrites[0].pk).update(text=seeds[rewrites[0].seed_id])
    campaign_similarity_check(campaign=world.campaign)
    copied = set(
        SimilarityFlag.objects.filter(kind="copied_seed").values_list("rewrite_id", flat=True)
    )
    assert copied == {rewrites[0].pk}

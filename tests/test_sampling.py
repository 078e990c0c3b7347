"""Uniform sampling across subcategories: the pure quota policy and the service."""

import json
import random

import pytest

from annotation.models import Seed
from annotation.sampling import sampling_quotas
from annotation.services import seeds_import, seeds_sample
from annotation.vocabulary import builtin_taxonomy
from core.errors import InvalidTransition


@pytest.mark.parametrize(
    ("available", "size", "quotas"),
    [
        ({"a": 10, "b": 10}, 10, {"a": 5, "b": 5}),
        ({"a": 2, "b": 10, "c": 10}, 12, {"a": 2, "b": 5, "c": 5}),
        ({"a": 2, "b": 10, "c": 10}, 13, {"a": 2, "b": 6, "c": 5}),
        ({"a": 1, "b": 1}, 10, {"a": 1, "b": 1}),
        ({"a": 0, "b": 5}, 3, {"a": 0, "b": 3}),
        ({"a": 3, "b": 9, "c": 4}, 7, {"a": 2, "b": 3, "c": 2}),
        ({}, 5, {}),
    ],
)
def test_quota_table(available, size, quotas):
    assert sampling_quotas(available, size) == quotas


def test_quotas_properties_on_random_pools():
    rng = random.Random(7)
    for _ in range(200):
        available = {k: rng.randint(0, 80) for k in range(rng.randint(1, 40))}
        size = rng.randint(0, 3000)
        q = sampling_quotas(available, size)
        assert sum(q.values()) == min(size, sum(available.values()))
        assert all(0 <= q[k] <= available[k] for k in available)
        # Uniform: any stratum that did not give all it has is within one of the largest quota.
        top = max(q.values(), default=0)
        assert all(q[k] >= top - 1 for k in available if q[k] < available[k])


def test_negative_size_is_refused():
    with pytest.raises(ValueError):
        sampling_quotas({"a": 1}, -1)


def uneven_pool(campaign, total=6000, seed=3):
    """A pool spread unevenly over all 40 subcategories: a few have fewer than the quota."""
    subs = [s["name"] for s in builtin_taxonomy("codearena")["subcategories"]]
    rng = random.Random(seed)
    weights = [rng.paretovariate(1.2) for _ in subs]
    sizes = {s: max(3, int(total * w / sum(weights))) for s, w in zip(subs, weights, strict=True)}
    sizes[subs[0]] = 7  # certainly short of a 50-seed quota
    sizes[subs[1]] = 30
    lines = []
    n = 0
    for sub, count in sizes.items():
        for _ in range(count):
            n += 1
            lines.append(
                json.dumps({"id": f"p{n}", "text": f"pooled question {n}", "subcategory": sub})
            )
    seeds_import(campaign=campaign, lines=lines)
    return sizes


@pytest.mark.django_db
def test_sample_2000_over_40_uneven_subcategories(world, make_world):
    sizes = uneven_pool(world.campaign)
    report = seeds_sample(campaign=world.campaign, size=2000, seed=42)
    assert report.sampled_total == 2000
    got = report.quotas
    assert got == sampling_quotas(sizes, 2000)
    short = {s for s, n in sizes.items() if n < 50}
    assert {"UI/UX Design", "Frontend Technologies"} <= short
    for s in short:
        assert got[s] == sizes[s]  # gives all it has
    # The shortfall is spread: strata that still have seeds left all got the same quota (+-1),
    # above the plain 2000/40 = 50, and every stratum that gave everything had no more.
    open_quotas = [got[s] for s in sizes if got[s] < sizes[s]]
    assert max(open_quotas) - min(open_quotas) <= 1 and min(open_quotas) > 50
    assert all(sizes[s] <= max(open_quotas) for s in sizes if got[s] == sizes[s])
    assert Seed.objects.filter(campaign=world.campaign, status="sampled").count() == 2000
    picked = set(
        Seed.objects.filter(campaign=world.campaign, status="sampled").values_list(
            "external_id", flat=True
        )
    )
    # Same pool, same --seed: the same sample. Another --seed: a different one.
    other = make_world(slug="other")
    uneven_pool(other.campaign)
    seeds_sample(campaign=other.campaign, size=2000, seed=42)
    again = set(other.campaign.seeds.filter(status="sampled").values_list("external_id", flat=True))
    assert again == picked
    third = make_world(slug="third")
    uneven_pool(third.campaign)
    seeds_sample(campaign=third.campaign, size=2000, seed=43)
    different = set(
        third.campaign.seeds.filter(status="sampled").values_list("external_id", flat=True)
    )
    assert different != picked


@pytest.mark.django_db
def test_sample_tops_up_and_never_shrinks(world):
    uneven_pool(world.campaign, total=2000)
    seeds_sample(campaign=world.campaign, size=400, seed=1)
    first = set(world.campaign.seeds.filter(status="sampled").values_list("pk", flat=True))
    report = seeds_sample(campaign=world.campaign, size=800, seed=1)
    assert report.sampled_now == 400 and report.sampled_total == 800
    now = set(world.campaign.seeds.filter(status="sampled").values_list("pk", flat=True))
    assert first < now
    with pytest.raises(InvalidTransition):
        seeds_sample(campaign=world.campaign, size=100, seed=1)


@pytest.mark.django_db
def test_claim_order_interleaves_subcategories(world):
    uneven_pool(world.campaign, total=800)
    seeds_sample(campaign=world.campaign, size=400, seed=5)
    first_40 = list(
        world.campaign.seeds.filter(status="sampled")
        .order_by("sample_rank")
        .values_list("subcategory__name", flat=True)[:40]
    )
    assert len(set(first_40)) == 40


def test_minimum_quotas_level_the_others_up_to_them():
    # A already holds 9 of a previous sample; topping up to 12 gives B the rest, not 6 + 6.
    assert sampling_quotas({"a": 100, "b": 101}, 12, minimum={"a": 9}) == {"a": 9, "b": 3}
    assert sampling_quotas({"a": 100, "b": 100}, 30, minimum={"a": 9}) == {"a": 15, "b": 15}
    with pytest.raises(ValueError):
        sampling_quotas({"a": 100}, 5, minimum={"a": 9})


@pytest.mark.django_db
def test_top_up_never_exceeds_size_after_new_seeds_arrive(world):
    seeds_import(
        campaign=world.campaign,
        lines=[
            json.dumps({"id": f"a{i}", "text": f"a {i}", "subcategory": "Security"})
            for i in range(100)
        ]
        + [json.dumps({"id": "b0", "text": "b 0", "subcategory": "Cryptography"})],
    )
    seeds_sample(campaign=world.campaign, size=10, seed=1)
    seeds_import(
        campaign=world.campaign,
        lines=[
            json.dumps({"id": f"b{i}", "text": f"b {i}", "subcategory": "Cryptography"})
            for i in range(1, 101)
        ],
    )
    report = seeds_sample(campaign=world.campaign, size=12, seed=1)
    assert report.sampled_total == 12
    assert world.campaign.seeds.filter(status="sampled").count() == 12

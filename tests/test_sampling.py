"""Uniform sampling across subcategories: the pure quota policy and the service."""

import json
import random
from collections import Counter

import pytest

from annotation.models import Assignment, Event, Role, Seed
from annotation.sampling import sampling_quotas
from annotation.services import (
    campaign_create,
    deal_order,
    seeds_assign,
    seeds_import,
    seeds_sample,
    user_ensure,
)
from annotation.vocabulary import builtin_taxonomy
from core.errors import InvalidTransition
from review.services import membership_add


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


# --- dealing: the uneven rotation of seeds_assign -----------------------------------------------

UNEVEN = {"b-second": 5, "a-first": 4, "c-third": 2}  # dealt in name order: 4, 5, then 2


def uneven_groups() -> dict[str, list[str]]:
    return {name: [f"{name}:{i}" for i in range(n)] for name, n in UNEVEN.items()}


def test_deal_order_carries_the_rotation_across_uneven_groups():
    annotators = ["x", "y", "z"]
    pairs = deal_order(uneven_groups(), annotators, seed=42)
    # Every item is dealt exactly once.
    items = [item for item, _ in pairs]
    assert sorted(items) == sorted(i for g in uneven_groups().values() for i in g)
    # Written out: a-first x y z x | b-second y z x y z | c-third x y. The rotation carries on
    # where the previous group stopped instead of restarting at x.
    by_group: dict[str, list[str]] = {}
    for item, annotator in pairs:
        by_group.setdefault(item.split(":")[0], []).append(annotator)
    assert list(by_group) == ["a-first", "b-second", "c-third"]
    assert by_group == {
        "a-first": ["x", "y", "z", "x"],
        "b-second": ["y", "z", "x", "y", "z"],
        "c-third": ["x", "y"],
    }
    totals = Counter(annotator for _, annotator in pairs)
    assert totals == {"x": 4, "y": 4, "z": 3}


def test_deal_order_properties_on_random_uneven_groups():
    rng = random.Random(11)
    for _ in range(300):
        annotators = [f"u{k}" for k in range(rng.randint(1, 7))]
        groups = {
            f"g{k:02d}": [f"g{k:02d}:{i}" for i in range(rng.randint(0, 13))]
            for k in range(rng.randint(1, 9))
        }
        pairs = deal_order(groups, annotators, seed=rng.randint(0, 10**6))
        assert sorted(item for item, _ in pairs) == sorted(i for g in groups.values() for i in g)
        totals = Counter({a: 0 for a in annotators})
        totals.update(a for _, a in pairs)
        assert max(totals.values()) - min(totals.values()) <= 1
        # Inside each group, spread as evenly as possible.
        for name in groups:
            spread = Counter({a: 0 for a in annotators})
            spread.update(a for item, a in pairs if item.split(":")[0] == name)
            assert max(spread.values()) - min(spread.values()) <= 1, (name, spread)


def test_deal_order_is_deterministic_for_a_seed_and_shuffles_with_another():
    annotators = ["x", "y", "z"]
    one = deal_order(uneven_groups(), annotators, seed=42)
    assert deal_order(uneven_groups(), annotators, seed=42) == one
    others = [deal_order(uneven_groups(), annotators, seed=s) for s in range(43, 53)]
    assert any(o != one for o in others)
    # Ten other seeds all giving the same 11-item deal would be a broken shuffle.
    assert len({tuple(o) for o in others}) > 5
    # The shuffle moves items, never the rotation: every seed deals the same count per group.
    for other in others:
        assert Counter((i.split(":")[0], a) for i, a in other) == Counter(
            (i.split(":")[0], a) for i, a in one
        )


ASSIGN_SUBS = {"Code Debugging": 4, "Database Management": 5, "Security": 2}


def three_annotator_campaign(slug: str):
    campaign = campaign_create(slug=slug, name=slug)
    users = []
    for name in ["dana", "eli", "fay"]:
        user = user_ensure(username=f"{slug}-{name}", password="pw")
        membership_add(campaign=campaign, user=user, role=Role.ANNOTATOR)
        users.append(user)
    lines = []
    for sub, n in ASSIGN_SUBS.items():
        lines += [
            json.dumps({"id": f"{sub[:3]}{i}", "text": f"{sub} question {i}", "subcategory": sub})
            for i in range(n)
        ]
    seeds_import(campaign=campaign, lines=lines)
    seeds_sample(campaign=campaign, size=11, seed=3)
    return campaign, users


def dealt(campaign) -> dict[str, str]:
    """{seed external id: annotator username} of the campaign's assignments."""
    return dict(
        Assignment.objects.filter(campaign=campaign).values_list(
            "seed__external_id", "annotator__username"
        )
    )


@pytest.mark.django_db
def test_seeds_assign_deals_uneven_subcategories_round_robin_through_the_database():
    campaign, users = three_annotator_campaign("deal")
    report = seeds_assign(campaign=campaign, seed=42)
    names = [u.username for u in users]
    assert report.assigned == 11
    assert report.per_annotator == {names[0]: 4, names[1]: 4, names[2]: 3}
    per_sub = Counter(
        Assignment.objects.filter(campaign=campaign).values_list(
            "seed__subcategory__name", "annotator__username"
        )
    )
    # Subcategories in name order, the rotation carried over: 4 from dana, 5 from eli, 2 from
    # dana again.
    d, e, f = names
    assert per_sub == {
        ("Code Debugging", d): 2,
        ("Code Debugging", e): 1,
        ("Code Debugging", f): 1,
        ("Database Management", d): 1,
        ("Database Management", e): 2,
        ("Database Management", f): 2,
        ("Security", d): 1,
        ("Security", e): 1,
    }
    assert set(Seed.objects.filter(campaign=campaign).values_list("status", flat=True)) == {
        "assigned"
    }
    assert Event.objects.filter(campaign=campaign, kind="assignment.dealt").count() == 11

    # Another campaign with the same pool and --seed deals each seed to the same annotator
    # (by position); another --seed deals them differently.
    same, same_users = three_annotator_campaign("deal-same")
    seeds_assign(campaign=same, seed=42)
    position = {u.username: k for k, u in enumerate(users)}
    position.update({u.username: k for k, u in enumerate(same_users)})

    def by_position(deal: dict[str, str]) -> dict[str, int]:
        return {ext: position[user] for ext, user in deal.items()}

    assert by_position(dealt(same)) == by_position(dealt(campaign))
    other, other_users = three_annotator_campaign("deal-other")
    seeds_assign(campaign=other, seed=7)
    position.update({u.username: k for k, u in enumerate(other_users)})
    assert by_position(dealt(other)) != by_position(dealt(campaign))
    # ... with the same fairness.
    assert sorted(Counter(dealt(other).values()).values()) == [3, 4, 4]

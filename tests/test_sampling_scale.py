"""Sampling and dealing at scale (issue 18): the draw is made from counts (positions, not seeds)
and, on PostgreSQL, the seeds are moved and their events appended by set-based statements.
What is sampled, in which rank, and who is dealt what stay exactly what the code before drew
(the reference implementations below are that code, on ids); the query counts do not grow with
the pool; the SQL path stores the same rows and events as the ORM path."""

import json
import random
from collections import defaultdict
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.models import Assignment, Event, Role, Seed
from annotation.sampling import sampling_quotas
from annotation.services import (
    assignment_claim_next,
    assignment_skip,
    campaign_create,
    deal_order,
    seeds_assign,
    seeds_import,
    seeds_sample,
    user_ensure,
)
from annotation.services.assignments import deal_preview
from annotation.services.seeds import seeds_deal_preview, seeds_sample_preview
from annotation.services.seeds_bulk import deal_plan, sample_draw
from annotation.vocabulary import builtin_taxonomy
from review.services import membership_add

SUBS = [s["name"] for s in builtin_taxonomy("codearena")["subcategories"]]


def old_draw(
    pooled: dict[int, list[int]], names: dict[int, str], want: dict[int, int], seed: int, start: int
) -> list[int]:
    """The draw ``seeds_sample`` made before issue 18, on lists of ids: the ids in rank order."""
    picks = []
    for sub_id in sorted(names):
        rng = random.Random(f"{seed}:{names[sub_id]}")
        picks.append(rng.sample(pooled.get(sub_id, []), want.get(sub_id, 0)))
    order_rng = random.Random(f"{seed}:order")
    ranked: list[int] = []
    for i in range(max((len(p) for p in picks), default=0)):
        layer = [p[i] for p in picks if i < len(p)]
        order_rng.shuffle(layer)
        ranked.extend(layer)
    return ranked


def test_the_draw_takes_the_same_seeds_in_the_same_ranks_as_before():
    rng = random.Random(18)
    for _ in range(200):
        subs = rng.sample(range(1, 60), rng.randint(1, 12))
        names = {sub: f"sub {sub}" for sub in subs}
        pooled = {sub: list(range(sub * 1000, sub * 1000 + rng.randint(0, 90))) for sub in subs}
        want = {sub: rng.randint(0, len(ids)) for sub, ids in pooled.items()}
        seed, start = rng.randint(0, 10**6), rng.randint(0, 50)
        draw = sample_draw(
            names=names,
            pooled={sub: len(ids) for sub, ids in pooled.items()},
            want=want,
            seed=seed,
            start=start,
        )
        ids = [pooled[s][p] for s, p in zip(draw.subcategories, draw.positions, strict=True)]
        assert ids == old_draw(pooled, names, want, seed, start)
        assert draw.ranks == list(range(start + 1, start + 1 + len(ids)))


def test_the_deal_plan_deals_what_deal_order_deals():
    rng = random.Random(19)
    for _ in range(300):
        annotators = [f"u{k}" for k in range(rng.randint(1, 6))]
        groups = {
            f"g{k:02d}": [k * 100 + i for i in range(rng.randint(0, 15))]
            for k in rng.sample(range(30), rng.randint(1, 8))
        }
        groups = {name: items for name, items in groups.items() if items}
        refused = {
            (item, who)
            for items in groups.values()
            for item in items
            for who in annotators
            if rng.random() < 0.15
        }
        seed = rng.randint(0, 10**6)
        expected = deal_order(
            groups, annotators, seed=seed, refuses=lambda i, a, r=refused: (i, a) in r
        )
        keys = {name: n for n, name in enumerate(rng.sample(list(groups), len(groups)))}
        position = {item: (keys[name], p) for name, g in groups.items() for p, item in enumerate(g)}
        by_index = defaultdict(set)
        for item, who in refused:
            by_index[position[item]].add(annotators.index(who))
        plan = deal_plan(
            [(keys[name], name, len(g)) for name, g in groups.items()],
            len(annotators),
            seed=seed,
            refused=by_index,
            order=True,
        )
        at = {
            plan.offsets[keys[name]] + p: item
            for name, g in groups.items()
            for p, item in enumerate(g)
        }
        got = []
        for k, j in enumerate(plan.order):
            a = plan.overrides[k] if k in plan.overrides else k % len(annotators)
            if a is not None:
                got.append((at[j], annotators[a]))
        assert got == expected
        assert plan.dealt == len(expected)
        # The preview's numbers, without the order: the same mix as deal_preview's.
        light = deal_plan(
            [(keys[name], name, len(g)) for name, g in groups.items()],
            len(annotators),
            seed=seed,
            refused=by_index,
        )
        assert light.order == []
        mix = deal_preview(
            groups, annotators, seed=seed, refuses=lambda i, a, r=refused: (i, a) in r
        )
        assert dict(zip(annotators, light.mix, strict=True)) == mix
        assert light.mix == plan.mix


def pool(slug: str, per_sub: dict[str, int], annotators: int = 3) -> Any:
    campaign = campaign_create(slug=slug, name=slug)
    users = []
    for k in range(annotators):
        user = user_ensure(username=f"{slug}-ann{k}", password="pw")
        membership_add(campaign=campaign, user=user, role=Role.ANNOTATOR)
        users.append(user)
    lines = []
    for k, (sub, n) in enumerate(per_sub.items()):
        # External ids whose text order is neither their number order nor the insertion order.
        lines += [
            json.dumps(
                {"id": f"{(i * 7919) % 1000}-{k}", "text": f"{sub} q {i}", "subcategory": sub}
            )
            for i in range(n)
        ]
    seeds_import(campaign=campaign, lines=lines)
    return campaign, users


def uneven(scale: int) -> dict[str, int]:
    rng = random.Random(5)
    return {sub: 1 + rng.randint(0, 6) * scale for sub in SUBS[:12]}


def reference_sample(campaign: Any, size: int, seed: int) -> dict[str, int]:
    """{external id: rank} the code before issue 18 would give, from the stored pool."""
    rows = list(
        Seed.objects.filter(campaign=campaign)
        .order_by("external_id")
        .values_list("id", "external_id", "status", "subcategory_id", "subcategory__name")
    )
    names = {r[3]: r[4] for r in rows if r[3] is not None}
    already = defaultdict(int)
    pooled: dict[int, list[int]] = defaultdict(list)
    for pk, _, status, sub, _ in rows:
        if sub is None:
            continue
        if status == "pooled":
            pooled[sub].append(pk)
        else:
            already[sub] += 1
    available = {sub: already[sub] + len(pooled[sub]) for sub in names}
    quotas = sampling_quotas(available, size, minimum=dict(already))
    start = max((r for r in Seed.objects.values_list("sample_rank", flat=True) if r), default=0)
    ranked = old_draw(pooled, names, {s: quotas[s] - already[s] for s in names}, seed, start)
    external = {r[0]: r[1] for r in rows}
    return {external[pk]: start + n + 1 for n, pk in enumerate(ranked)}


def reference_deal(campaign: Any, users: list[Any], seed: int) -> dict[str, str]:
    """{external id: username} ``deal_order`` gives for the stored sampled seeds and skips."""
    groups: dict[str, list[int]] = defaultdict(list)
    for pk, name in (
        Seed.objects.filter(campaign=campaign, status="sampled")
        .order_by("sample_rank", "id")
        .values_list("id", "subcategory__name")
    ):
        groups[name or ""].append(pk)
    skipped = set(
        Assignment.objects.filter(campaign=campaign, status="skipped").values_list(
            "seed_id", "annotator_id"
        )
    )
    ordered = sorted(users, key=lambda u: u.username)
    pairs = deal_order(groups, ordered, seed=seed, refuses=lambda s, u: (s, u.pk) in skipped)
    external = dict(Seed.objects.filter(campaign=campaign).values_list("id", "external_id"))
    return {external[s]: u.username for s, u in pairs}


def stored_sample(campaign: Any) -> dict[str, int]:
    return dict(
        Seed.objects.filter(campaign=campaign, sample_rank__isnull=False).values_list(
            "external_id", "sample_rank"
        )
    )


def stored_deal(campaign: Any) -> dict[str, str]:
    return dict(
        Assignment.objects.filter(campaign=campaign, status="active").values_list(
            "seed__external_id", "annotator__username"
        )
    )


@pytest.mark.django_db
def test_sampling_topping_up_and_dealing_give_what_the_code_before_gave():
    campaign, users = pool("ref", uneven(9))
    for size, seed in ((40, 3), (70, 3), (90, 11)):
        expected = {**stored_sample(campaign), **reference_sample(campaign, size, seed)}
        seeds_sample(campaign=campaign, size=size, seed=seed)
        assert stored_sample(campaign) == expected
    # Two annotators pass on the first seeds they claim: the deal goes around them.
    for user in users[:2]:
        for _ in range(2):
            assignment = assignment_claim_next(campaign=campaign, actor=user)
            assignment_skip(assignment_id=assignment.pk, actor=user)
    expected = reference_deal(campaign, users, 8)
    preview = seeds_deal_preview(campaign=campaign, seed=8)
    report = seeds_assign(campaign=campaign, seed=8)
    assert stored_deal(campaign) == expected
    assert report.assigned == len(expected) == 90
    per_user = {u.username: 0 for u in users}
    for name in expected.values():
        per_user[name] += 1
    assert report.per_annotator == per_user
    assert {s.annotator: s.seeds for s in preview.annotators} == per_user
    assert preview.seeds == 90


@pytest.mark.django_db
def test_events_are_written_one_per_seed_in_rank_and_deal_order(world):
    world.add_seeds(30, sample=False)
    seeds_sample(campaign=world.campaign, size=12, seed=4, actor=world.curator)
    sampled = list(Event.objects.filter(kind="seed.sampled").order_by("id"))
    ranks = dict(Seed.objects.filter(status="sampled").values_list("id", "sample_rank"))
    assert [e.object_id for e in sampled] == sorted(ranks, key=ranks.get)
    assert all(
        (e.object_type, e.from_state, e.to_state, e.actor_id, e.campaign_id)
        == ("seed", "pooled", "sampled", world.curator.pk, world.campaign.pk)
        and e.data == {"seed": 4, "rank": ranks[e.object_id]}
        for e in sampled
    )
    seeds_assign(campaign=world.campaign, seed=4, actor=world.curator, lease_hours=2)
    moved = list(Event.objects.filter(kind="seed.assigned").order_by("id"))
    dealt = list(Event.objects.filter(kind="assignment.dealt").order_by("id"))
    assignments = list(Assignment.objects.order_by("id").select_related("annotator"))
    assert moved[-1].pk < dealt[0].pk  # the seeds' events first, as transition_many wrote them
    assert [e.object_id for e in moved] == [a.seed_id for a in assignments]
    assert [e.object_id for e in dealt] == [a.pk for a in assignments]
    assert all(
        e.data == {"annotator": a.annotator.username, "dealt": True}
        and (e.from_state, e.to_state) == ("sampled", "assigned")
        for e, a in zip(moved, assignments, strict=True)
    )
    assert all(
        e.data == {"seed": a.seed_id, "annotator": a.annotator.username}
        and (e.object_type, e.from_state, e.to_state) == ("assignment", "", "active")
        for e, a in zip(dealt, assignments, strict=True)
    )
    assert all(a.lease_expires_at is not None and a.status == "active" for a in assignments)


def count_queries(fn: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


@pytest.mark.django_db
def test_query_counts_do_not_grow_with_the_pool():
    counts = []
    for scale in (1, 8):
        campaign, users = pool(f"q{scale}", uneven(scale * 4))
        total = Seed.objects.filter(campaign=campaign).count()
        size = total // 2
        one = [
            count_queries(lambda c=campaign, s=size: seeds_sample_preview(campaign=c, size=s)),
            count_queries(lambda c=campaign, s=size: seeds_sample(campaign=c, size=s)),
            count_queries(lambda c=campaign: seeds_deal_preview(campaign=c)),
        ]
        # A skip on the way: the preview reads the skipped seed's position too.
        assignment = assignment_claim_next(campaign=campaign, actor=users[0])
        assignment_skip(assignment_id=assignment.pk, actor=users[0])
        one += [
            count_queries(lambda c=campaign: seeds_deal_preview(campaign=c)),
            count_queries(lambda c=campaign: seeds_assign(campaign=c)),
        ]
        assert Seed.objects.filter(campaign=campaign, status="assigned").count() == size
        counts.append(one)
    previews = [[one[0], one[2], one[3]] for one in counts]
    assert previews[0] == previews[1], counts
    if connection.vendor == "postgresql":
        # (The ORM path of other backends writes in batches of 1,000 rows.)
        assert counts[0] == counts[1], counts
        # preview: names and counts; sample: savepoint pair, lock, counts, top rank, the
        # statement, the campaign's event; previews: annotators, groups, skips (+ positions);
        # deal: savepoint pair, annotators, lock, groups, skips, plan, analyze, seeds, assignments,
        # drop.
        assert counts[0] == [2, 7, 3, 4, 11], counts


@pytest.mark.django_db
def test_the_set_based_path_stores_what_the_orm_path_stores(postgres, monkeypatch):
    paths: list[bool] = []  # whether the set-based statements ran

    def run(slug: str) -> dict[str, Any]:
        campaign, users = pool(slug, uneven(6))
        seeds_sample(campaign=campaign, size=30, seed=2)
        seeds_sample(campaign=campaign, size=60, seed=2)
        assignment = assignment_claim_next(campaign=campaign, actor=users[1])
        assignment_skip(assignment_id=assignment.pk, actor=users[1])
        with CaptureQueriesContext(connection) as ctx:
            seeds_assign(campaign=campaign, seed=9, lease_hours=1)
        paths.append(any("deal_plan" in q["sql"] for q in ctx.captured_queries))
        position = {u.pk: n for n, u in enumerate(users)}
        external = dict(Seed.objects.filter(campaign=campaign).values_list("id", "external_id"))
        assignment_ids = {
            a: external[s]
            for a, s in Assignment.objects.filter(campaign=campaign).values_list("id", "seed_id")
        }

        def object_of(e: Event) -> str:
            if e.object_type == "campaign":
                return "campaign"
            return external[e.object_id] if e.object_type == "seed" else assignment_ids[e.object_id]

        return {
            "seeds": sorted(
                Seed.objects.filter(campaign=campaign).values_list(
                    "external_id", "status", "sample_rank"
                )
            ),
            "assignments": sorted(
                (external[s], position[u], st)
                for s, u, st in Assignment.objects.filter(campaign=campaign).values_list(
                    "seed_id", "annotator_id", "status"
                )
            ),
            "events": [
                (
                    e.kind,
                    e.object_type,
                    object_of(e),
                    e.from_state,
                    e.to_state,
                    sorted(k for k in e.data if k not in {"seed", "annotator"}),
                )
                for e in Event.objects.filter(campaign=campaign)
                .filter(object_type__in=["seed", "assignment", "campaign"])
                .exclude(kind="seeds.imported")
                .order_by("id")
            ],
        }

    by_sql = run("sql")
    monkeypatch.setattr(connection, "vendor", "sqlite")  # the ORM path, on PostgreSQL
    by_orm = run("orm")
    assert paths == [True, False]
    assert by_sql == by_orm
    assert len(by_sql["events"]) > 150

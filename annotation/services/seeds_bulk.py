"""Sampling and dealing in bulk (issue 18). Python decides *which* seeds, with the same random
generators as always, so a given ``--seed`` samples and deals exactly what it did before; it
holds one integer per seed moved (the draw), never the pool. On PostgreSQL the database then
moves the seeds, ranks them and appends their events with ``UPDATE ... FROM`` and
``INSERT ... SELECT``, in the caller's transaction (``sample_write``, ``deal_lock`` and
``deal_write``); other backends write with the ORM (the callers).

Seeds are addressed by position: a sampling's ``(subcategory, position)`` is the position of a
pooled seed among its subcategory's pooled seeds ordered by external id; a deal's is the
position of a sampled seed among its group's sampled seeds in claim order (``sample_rank``,
id). Both numberings are ``row_number()`` windows over the order the ORM path reads.

``deal_plan`` is ``deal_order`` in numbers: what it deals follows from the groups' sizes, the
rotation and the shuffles alone, so a preview needs no seed at all (unless someone skipped a
seed: then its position), and the real step one integer per seed."""

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection

from core import transitions
from core.errors import InvalidTransition
from core.transitions import EventKind

from ..models import Assignment, Event, Seed, Subcategory


def log_bulk_written(
    *,
    kind: EventKind,
    object_type: str,
    count: int,
    first_ids: list[int],
    from_state: str,
    to_state: str,
    campaign_id: int,
    actor: Any,
    data: dict[str, Any],
) -> None:
    """The log line ``transition_many`` writes after commit for a bulk step (count, first ids,
    the numbers of the first event's data), for events appended here by SQL."""
    if not count:
        return
    transitions.log_on_commit(
        kind=EventKind(kind).value,
        object_type=object_type,
        ids=first_ids,
        count=count,
        from_state=from_state,
        to_state=to_state,
        campaign_id=campaign_id,
        actor_id=getattr(actor, "pk", None) or None,
        data=data,
    )


def _tables() -> dict[str, str]:
    return {
        "seed": connection.ops.quote_name(Seed._meta.db_table),
        "event": connection.ops.quote_name(Event._meta.db_table),
        "assignment": connection.ops.quote_name(Assignment._meta.db_table),
        "subcategory": connection.ops.quote_name(Subcategory._meta.db_table),
    }


def sample_write(
    *,
    campaign_id: int,
    actor: Any,
    seed: int,
    subcategories: list[int],
    positions: list[int],
    ranks: list[int],
    now: datetime,
) -> None:
    """Move the pooled seeds at ``(subcategories[n], positions[n])`` to sampled with rank
    ``ranks[n]`` and append one ``seed.sampled`` event each (in rank order, as
    ``transition_many`` does), in one statement. The caller holds the campaign's lock.

    Raises InvalidTransition (the caller's transaction rolls back) when not every position
    named a pooled seed: the pool changed since it was counted."""
    if not ranks:
        return
    t = _tables()
    pooled, sampled = Seed.Status.POOLED.value, Seed.Status.SAMPLED.value
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
WITH picked AS (
    SELECT * FROM unnest(%(subs)s::bigint[], %(positions)s::bigint[], %(ranks)s::bigint[])
        AS p (subcategory_id, position, rank)
), pool AS (
    SELECT s.id, s.subcategory_id,
        row_number() OVER (PARTITION BY s.subcategory_id ORDER BY s.external_id) - 1 AS position
    FROM {t["seed"]} s
    WHERE s.campaign_id = %(campaign)s AND s.status = '{pooled}'
      AND s.subcategory_id = ANY(%(sub_ids)s::bigint[])
), moved AS (
    UPDATE {t["seed"]} s SET status = '{sampled}', sample_rank = picked.rank
    FROM pool JOIN picked USING (subcategory_id, position)
    WHERE s.id = pool.id AND s.status = '{pooled}'
    RETURNING s.id, s.sample_rank
), logged AS (
    INSERT INTO {t["event"]} (
        campaign_id, actor_id, kind, object_type, object_id, from_state, to_state, data,
        created_at
    )
    SELECT %(campaign)s, %(actor)s, '{EventKind.SEED_SAMPLED.value}', '{Seed._meta.model_name}',
        moved.id, '{pooled}', '{sampled}',
        jsonb_build_object('seed', %(seed)s::bigint, 'rank', moved.sample_rank), %(now)s
    FROM moved ORDER BY moved.sample_rank
)
SELECT (SELECT count(*) FROM moved), ARRAY(SELECT id FROM moved ORDER BY sample_rank LIMIT 5)
""",
            {
                "campaign": campaign_id,
                "actor": getattr(actor, "pk", None) or None,
                "seed": seed,
                "subs": subcategories,
                "positions": positions,
                "ranks": ranks,
                "sub_ids": sorted(set(subcategories)),
                "now": now,
            },
        )
        count, first_ids = cursor.fetchone()
    if count != len(ranks):
        raise InvalidTransition("Some seeds changed meanwhile; nothing was sampled. Try again.")
    log_bulk_written(
        kind=EventKind.SEED_SAMPLED,
        object_type=str(Seed._meta.model_name),
        count=count,
        first_ids=list(first_ids),
        from_state=pooled,
        to_state=sampled,
        campaign_id=campaign_id,
        actor=actor,
        data={"seed": seed, "rank": ranks[0]},
    )


def deal_lock(*, campaign_id: int) -> tuple["Groups", "Skips"]:
    """Lock the campaign's sampled seeds (FOR NO KEY UPDATE, skipping seeds a claim holds) into
    the temporary table ``deal_seed`` (id, group key: the subcategory id or 0, position in the
    group in claim order). Returns the groups as (key, subcategory name or '', seeds) and who
    skipped which of them as (key, position, annotator id). Call ``deal_write`` next, in the
    same transaction."""
    t = _tables()
    sampled = Seed.Status.SAMPLED.value
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
CREATE TEMPORARY TABLE deal_seed ON COMMIT DROP AS
WITH locked AS (
    SELECT s.id, s.subcategory_id, s.sample_rank FROM {t["seed"]} s
    WHERE s.campaign_id = %(campaign)s AND s.status = '{sampled}'
    FOR NO KEY UPDATE SKIP LOCKED
)
SELECT id, COALESCE(subcategory_id, 0) AS key,
    row_number() OVER (PARTITION BY subcategory_id ORDER BY sample_rank, id) - 1 AS position
FROM locked
""",
            {"campaign": campaign_id},
        )
        cursor.execute(
            f"""
SELECT d.key, COALESCE(sc.name, ''), count(*) FROM deal_seed d
LEFT JOIN {t["subcategory"]} sc ON sc.id = d.key
GROUP BY d.key, sc.name
"""
        )
        groups = [(int(key), str(name), int(n)) for key, name, n in cursor.fetchall()]
        cursor.execute(
            f"""
SELECT d.key, d.position, k.annotator_id FROM {t["assignment"]} k
JOIN deal_seed d ON d.id = k.seed_id
WHERE k.campaign_id = %(campaign)s AND k.status = '{Assignment.Status.SKIPPED.value}'
""",
            {"campaign": campaign_id},
        )
        skipped = [(int(key), int(pos), int(who)) for key, pos, who in cursor.fetchall()]
    return groups, skipped


def deal_write(
    *,
    campaign_id: int,
    actor: Any,
    offsets: dict[int, int],
    order: list[int],
    overrides: dict[int, int | None],
    annotators: list[tuple[int, str]],
    lease: datetime | None,
    now: datetime,
) -> int:
    """Deal the seeds ``deal_lock`` locked: the seed at deal index ``k`` is the one at
    ``order[k]`` (its group's offset plus its position) and goes to annotator ``k`` modulo
    their number, or to ``overrides[k]`` (an index; None: to nobody). Each dealt seed moves
    sampled -> assigned with a ``seed.assigned`` event, then an active assignment is created
    for it with an ``assignment.dealt`` event, in deal order (as ``transition_many`` and
    ``events_record_created`` write them). Returns how many were dealt.

    Raises InvalidTransition when a seed was no longer sampled (nothing is kept: the caller's
    transaction rolls back)."""
    if not order:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE deal_seed")
        return 0
    t = _tables()
    sampled, assigned = Seed.Status.SAMPLED.value, Seed.Status.ASSIGNED.value
    active = Assignment.Status.ACTIVE.value
    params = {
        "campaign": campaign_id,
        "actor": getattr(actor, "pk", None) or None,
        "keys": list(offsets),
        "offsets": list(offsets.values()),
        "order": order,
        "over_k": list(overrides),
        "over_a": [-1 if a is None else a for a in overrides.values()],
        "users": [pk for pk, _ in annotators],
        "names": [name for _, name in annotators],
        "n": len(annotators),
        "lease": lease,
        "now": now,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            """
CREATE TEMPORARY TABLE deal_plan ON COMMIT DROP AS
SELECT d.id AS seed_id, o.k - 1 AS k, u.user_id, u.username
FROM deal_seed d
JOIN unnest(%(keys)s::bigint[], %(offsets)s::bigint[]) AS g (key, first) ON g.key = d.key
JOIN unnest(%(order)s::bigint[]) WITH ORDINALITY AS o (j, k) ON o.j = g.first + d.position
LEFT JOIN unnest(%(over_k)s::bigint[], %(over_a)s::bigint[]) AS v (k, a) ON v.k = o.k - 1
JOIN unnest(%(users)s::bigint[], %(names)s::text[]) WITH ORDINALITY AS u (user_id, username, n)
    ON u.n = 1 + COALESCE(v.a, (o.k - 1) %% %(n)s)
""",
            params,
        )
        cursor.execute("ANALYZE deal_plan")
        cursor.execute(
            f"""
WITH moved AS (
    UPDATE {t["seed"]} s SET status = '{assigned}'
    FROM deal_plan p WHERE s.id = p.seed_id AND s.status = '{sampled}'
    RETURNING s.id, p.k, p.username
), logged AS (
    INSERT INTO {t["event"]} (
        campaign_id, actor_id, kind, object_type, object_id, from_state, to_state, data,
        created_at
    )
    SELECT %(campaign)s, %(actor)s, '{EventKind.SEED_ASSIGNED.value}', '{Seed._meta.model_name}',
        moved.id, '{sampled}', '{assigned}',
        jsonb_build_object('annotator', moved.username, 'dealt', true), %(now)s
    FROM moved ORDER BY moved.k
)
SELECT (SELECT count(*) FROM moved), ARRAY(SELECT id FROM moved ORDER BY k LIMIT 5),
    (SELECT count(*) FROM deal_plan)
""",
            params,
        )
        moved, first_seeds, planned = cursor.fetchone()
        if moved != planned:
            raise InvalidTransition("Some seeds changed meanwhile; nothing was dealt. Try again.")
        cursor.execute(
            f"""
WITH made AS (
    INSERT INTO {t["assignment"]} (
        campaign_id, seed_id, annotator_id, status, lease_expires_at,
        reject_reason, reject_note, skip_reason, created_at, updated_at
    )
    SELECT %(campaign)s, p.seed_id, p.user_id, '{active}', %(lease)s, '', '', '', %(now)s,
        %(now)s
    FROM deal_plan p ORDER BY p.k
    RETURNING id, seed_id
), logged AS (
    INSERT INTO {t["event"]} (
        campaign_id, actor_id, kind, object_type, object_id, from_state, to_state, data,
        created_at
    )
    SELECT %(campaign)s, %(actor)s, '{EventKind.ASSIGNMENT_DEALT.value}',
        '{Assignment._meta.model_name}', made.id, '', '{active}',
        jsonb_build_object('seed', made.seed_id, 'annotator', p.username), %(now)s
    FROM made JOIN deal_plan p ON p.seed_id = made.seed_id
    ORDER BY made.id
)
SELECT (SELECT count(*) FROM made), ARRAY(SELECT id FROM made ORDER BY id LIMIT 5),
    (SELECT seed_id FROM made ORDER BY id LIMIT 1)
""",
            params,
        )
        made, first_assignments, first_seed = cursor.fetchone()
        cursor.execute("DROP TABLE deal_plan, deal_seed")
    common = {"campaign_id": campaign_id, "actor": actor, "count": moved}
    log_bulk_written(
        kind=EventKind.SEED_ASSIGNED,
        object_type=str(Seed._meta.model_name),
        first_ids=list(first_seeds),
        from_state=sampled,
        to_state=assigned,
        data={"dealt": True},
        **common,
    )
    log_bulk_written(
        kind=EventKind.ASSIGNMENT_DEALT,
        object_type=str(Assignment._meta.model_name),
        first_ids=list(first_assignments),
        from_state="",
        to_state=active,
        data={"seed": first_seed},
        **common,
    )
    return int(made)


@dataclass
class SampleDraw:
    """Which pooled seeds a sampling takes, in rank order: the n-th is the seed at position
    ``positions[n]`` among the pooled seeds of subcategory ``subcategories[n]`` (ordered by
    external id), ranked ``ranks[n]``."""

    subcategories: list[int] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    ranks: list[int] = field(default_factory=list)


def sample_draw(
    *,
    names: Mapping[int, str],
    pooled: Mapping[int, int],
    want: Mapping[int, int],
    seed: int,
    start: int,
) -> SampleDraw:
    """The draw of ``seeds_sample``: in each subcategory (by id), ``want`` of its ``pooled``
    seeds chosen by ``random.Random(f"{seed}:{name}").sample`` (given the range of positions
    it picks the same positions as from the list of seeds it was given before), then ranked
    from ``start + 1`` layer by layer, the i-th pick of every subcategory shuffled by
    ``random.Random(f"{seed}:order")``, so claim-next hands out a mix. Pure."""
    picks: list[tuple[int, list[int]]] = []
    for sub_id in sorted(names):
        rng = random.Random(f"{seed}:{names[sub_id]}")
        picks.append((sub_id, rng.sample(range(pooled.get(sub_id, 0)), want.get(sub_id, 0))))
    order_rng = random.Random(f"{seed}:order")
    draw = SampleDraw()
    rank = start
    for i in range(max((len(p) for _, p in picks), default=0)):
        layer = [(sub_id, p[i]) for sub_id, p in picks if i < len(p)]
        order_rng.shuffle(layer)
        for sub_id, position in layer:
            rank += 1
            draw.subcategories.append(sub_id)
            draw.positions.append(position)
            draw.ranks.append(rank)
    return draw


def _below(m: int, a: int, n: int) -> int:
    """How many k in [0, m) have k % n == a."""
    return m // n + (1 if a < m % n else 0)


@dataclass
class DealPlan:
    """What ``deal_order`` deals, in numbers. Deal index ``k`` runs over every seed of every
    group (groups in name order, each from its ``offsets`` entry); the seed at index ``k`` goes
    to annotator ``k % annotators``, or to ``overrides[k]`` (None: to nobody) when that one
    refuses it. ``order[k]`` (when asked for) is the seed at index ``k`` as its group's offset
    plus its position; ``mix[a]`` is annotator ``a``'s seeds per group name."""

    annotators: int
    total: int = 0
    offsets: dict[int, int] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)
    overrides: dict[int, int | None] = field(default_factory=dict)
    mix: list[dict[str, int]] = field(default_factory=list)

    @property
    def dealt(self) -> int:
        return self.total - sum(1 for a in self.overrides.values() if a is None)


def deal_plan(
    groups: Sequence[tuple[int, str, int]],
    annotators: int,
    *,
    seed: int,
    refused: Mapping[tuple[int, int], set[int]] | None = None,
    order: bool = False,
) -> DealPlan:
    """``deal_order`` over ``groups`` (key, name, number of seeds) and ``annotators`` (how
    many), where ``refused[(key, position)]`` holds the annotators (indexes) who refuse the
    seed at that position of that group. The same generator shuffles the same groups in the
    same order, so every seed lands where ``deal_order`` puts it; a group is shuffled only
    when ``order`` is asked for or a later group has a refused seed (the generator must get
    there), so a preview without skips costs O(groups x annotators). Pure."""
    refused = refused or {}
    plan = DealPlan(annotators=annotators, mix=[{} for _ in range(annotators)])
    named = sorted(groups, key=lambda g: g[1])
    with_refusals = {key for key, _ in refused}
    last = max((n for n, g in enumerate(named) if g[0] in with_refusals), default=-1)
    rng = random.Random(f"{seed}:assign")
    offset = 0
    for n, (key, name, size) in enumerate(named):
        plan.offsets[key] = offset
        for a in range(annotators):
            got = _below(offset + size, a, annotators) - _below(offset, a, annotators)
            if got:
                plan.mix[a][name] = got
        if order or n <= last:
            perm = list(range(size))
            rng.shuffle(perm)
            if order:
                plan.order.extend(offset + p for p in perm)
            if key in with_refusals:
                for i, p in enumerate(perm):
                    refusing = refused.get((key, p))
                    k = offset + i
                    if not refusing or k % annotators not in refusing:
                        continue
                    chosen = next(
                        (
                            (k + step) % annotators
                            for step in range(annotators)
                            if (k + step) % annotators not in refusing
                        ),
                        None,
                    )
                    plan.overrides[k] = chosen
                    naive = plan.mix[k % annotators]
                    naive[name] -= 1
                    if not naive[name]:
                        del naive[name]
                    if chosen is not None:
                        plan.mix[chosen][name] = plan.mix[chosen].get(name, 0) + 1
        offset += size
    plan.total = offset
    plan.mix = [dict(sorted(counts.items())) for counts in plan.mix]
    return plan


Groups = list[tuple[int, str, int]]  # (key, name, seeds)
Skips = list[tuple[int, int, int]]  # (key, position, annotator id)


def deal_groups(*, campaign_id: int) -> tuple[Groups, Skips]:
    """What ``deal_plan`` needs to preview a deal, read with SQL both backends run (GROUP BY
    and a window, never a row per seed in Python): the groups of sampled seeds as (key: the
    subcategory id or 0, subcategory name or '', seeds), and who skipped which of them as
    (key, position in claim order, annotator id). Three queries at most, whatever the pool."""
    t = _tables()
    sampled = Seed.Status.SAMPLED.value
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
SELECT COALESCE(s.subcategory_id, 0), COALESCE(sc.name, ''), count(*)
FROM {t["seed"]} s LEFT JOIN {t["subcategory"]} sc ON sc.id = s.subcategory_id
WHERE s.campaign_id = %s AND s.status = '{sampled}'
GROUP BY s.subcategory_id, sc.name
""",
            [campaign_id],
        )
        groups = [(int(key), str(name), int(n)) for key, name, n in cursor.fetchall()]
        cursor.execute(
            f"""
SELECT k.seed_id, k.annotator_id, COALESCE(s.subcategory_id, 0) FROM {t["assignment"]} k
JOIN {t["seed"]} s ON s.id = k.seed_id
WHERE k.campaign_id = %s AND k.status = '{Assignment.Status.SKIPPED.value}'
  AND s.status = '{sampled}'
""",
            [campaign_id],
        )
        pairs = cursor.fetchall()
        if not pairs:
            return groups, []
        skipped_here = f"""
    SELECT k.seed_id FROM {t["assignment"]} k
    WHERE k.campaign_id = %(campaign)s AND k.status = '{Assignment.Status.SKIPPED.value}'"""
        cursor.execute(
            f"""
SELECT x.id, x.position FROM (
    SELECT s.id,
        row_number() OVER (PARTITION BY s.subcategory_id ORDER BY s.sample_rank, s.id) - 1
            AS position
    FROM {t["seed"]} s
    WHERE s.campaign_id = %(campaign)s AND s.status = '{sampled}'
      AND COALESCE(s.subcategory_id, 0) IN (
          SELECT COALESCE(o.subcategory_id, 0) FROM {t["seed"]} o
          WHERE o.id IN ({skipped_here}) AND o.status = '{sampled}'
      )
) x
WHERE x.id IN ({skipped_here})
""",
            {"campaign": campaign_id},
        )
        position_of = dict(cursor.fetchall())
    skipped = [
        (int(key), int(position_of[seed_id]), int(who))
        for seed_id, who, key in pairs
        if seed_id in position_of
    ]
    return groups, skipped


def refusals(
    skipped: Sequence[tuple[int, int, int]], annotators: Sequence[int]
) -> dict[tuple[int, int], set[int]]:
    """``deal_plan``'s ``refused`` from (key, position, annotator id) rows: annotators who are
    not dealt to (no longer annotators) refuse nothing."""
    index_of = {pk: n for n, pk in enumerate(annotators)}
    refused: dict[tuple[int, int], set[int]] = {}
    for key, position, who in skipped:
        if who in index_of:
            refused.setdefault((key, position), set()).add(index_of[who])
    return refused

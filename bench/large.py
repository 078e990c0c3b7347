"""The large campaign of issue 18 (PostgreSQL only): one campaign with the CodeArena taxonomy,
1,000,000 seeds over its 40 subcategories, 100,000 submitted rewrites, four ballots each, 50
annotators and 20 reviewers, written in minutes with set-based SQL.

The campaign, its users and memberships go through the services; the bulk rows are written by
``INSERT ... SELECT`` over ``generate_series`` inside the server (nothing is held in Python, so
memory is flat in the number of rows), in one transaction, then VACUUM ANALYZE. Every database
constraint holds (unique external id and content hash, one active assignment per seed, one
accepted rewrite per seed, tags and the panel rule on submitted revisions, one ballot per
reviewer, decision iff cast); the author is never on the panel (annotators and reviewers are
different people). The shape, by seed rank ``i`` (the claim order, interleaving subcategories):

- ``i <= rewrites``: done, one submitted assignment, one revision: of every 20, 12 accepted, 3
  rejected, 2 without consensus (2-2) and 3 waiting for their (pending) votes; a panel of
  ``ballots_per_rewrite`` distinct reviewers each; one or two programming languages;
- the next ``active``: assigned, an active assignment (a quarter with a draft);
- the next ``sampled``: sampled, what claim-next hands out;
- the rest: pooled (no rank).

Usage: ``python bench/large.py --database-url postgres://... --scale 0.02`` (the database is
emptied first; ``--scale 1`` is the full size). ``bench/scale.py`` builds it the same way.
"""

import argparse
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

SLUG = "large"
FULL = {"seeds": 1_000_000, "rewrites": 100_000, "sampled": 300_000, "active": 10_000}
# Of every 20 submitted rewrites (by seed rank modulo 20): accepted, rejected, no consensus,
# then waiting for votes.
MIX = (("accepted", 12), ("rejected", 3), ("no_consensus", 2), ("submitted", 3))
NATURAL = ("en",) * 17 + ("zh", "zh", "es")
REASONS = ('["unclear"]', '["not_self_contained"]', '["unsolvable", "other"]', '["wrong_tags"]')
WORDS_TEXT = (
    "array list map dictionary string integer float pointer reference class object method "
    "function closure lambda thread process socket request response server client query table "
    "index column row join cursor transaction lock queue stack heap tree graph node edge path "
    "file stream buffer byte encoding parser token regex loop recursion iterator generator "
    "exception error warning timeout memory cache session cookie header route template widget "
    "button form input event handler callback promise future async await module package import "
    "build compile link debug test deploy container image volume network port config variable "
    "constant enum struct interface trait generic type cast overflow precision rounding sort "
    "search merge split filter reduce render layout style grid flex margin padding font color"
)
VERBS_TEXT = (
    "implement fix optimise parse sort merge convert validate debug refactor serialise "
    "deserialise read write stream cache index query render test deploy configure profile"
)


def sizes(scale: float) -> dict[str, int]:
    """The default sizes times ``scale`` (at least one of each)."""
    return {key: max(1, round(value * scale)) for key, value in FULL.items()}


def _sentences(count: int = 1000, seed: int = 18) -> list[str]:
    """Short questions made of a small programming vocabulary: seed and rewrite texts are put
    together from three of them (a Zipf-like vocabulary, like real text, not random hex)."""
    rng = random.Random(seed)
    words_, verbs = WORDS_TEXT.split(), VERBS_TEXT.split()
    out = []
    for _ in range(count):
        words = " ".join(rng.choice(words_) for _ in range(rng.randint(4, 12)))
        out.append(
            f"How do I {rng.choice(verbs)} a {rng.choice(words_)} {rng.choice(words_)} when the "
            f"{words} keeps failing?"
        )
    return out


def _coprime_steps(n: int) -> list[int]:
    """Steps coprime to ``n``: from any start, a panel of up to ``n`` reviewers taken at one of
    these steps is of distinct reviewers."""
    from math import gcd

    return [s for s in range(1, n) if gcd(s, n) == 1][:8] or [1]


def build(
    seeds: int = FULL["seeds"],
    rewrites: int = FULL["rewrites"],
    ballots_per_rewrite: int = 4,
    annotators: int = 50,
    reviewers: int = 20,
    *,
    sampled: int | None = None,
    active: int | None = None,
    events: bool = True,
    slug: str = SLUG,
) -> dict[str, Any]:
    """Empty the database and write the large campaign. Returns a report: sizes, seconds per
    step, row counts and the process's peak memory. Django must be configured (``harness``)."""
    from django.db import connection, transaction

    from annotation.models import Campaign, ProgrammingLanguage, Subcategory
    from annotation.services import campaign_create, user_ensure
    from review.services import membership_add

    if connection.vendor != "postgresql":
        raise SystemExit("bench/large.py needs PostgreSQL (BENCH_DATABASE_URL / --database-url)")
    sampled = FULL["sampled"] * seeds // FULL["seeds"] if sampled is None else sampled
    active = FULL["active"] * seeds // FULL["seeds"] if active is None else active
    if rewrites + active + sampled > seeds:
        raise ValueError("rewrites + active + sampled must not exceed seeds")
    panel, threshold = ballots_per_rewrite, ballots_per_rewrite // 2 + 1
    if not 1 <= panel <= reviewers:
        raise ValueError("ballots_per_rewrite must be from 1 to the number of reviewers")
    valid_no_consensus = panel - threshold + 1  # valid < threshold and invalid < threshold
    if valid_no_consensus >= threshold:
        raise ValueError(f"a panel of {panel} cannot end without consensus")
    steps: dict[str, float] = {}
    started = time.perf_counter()

    def step(name: str, since: float) -> float:
        now = time.perf_counter()
        steps[name] = round(now - since, 2)
        print(f"  {name:<22} {now - since:8.2f}s", flush=True)
        return now

    t = time.perf_counter()
    harness.fresh_database()
    t = step("fresh_database", t)
    campaign = campaign_create(
        slug=slug,
        name="Large (issue 18)",
        taxonomy="codearena",
        panel_size=panel,
        accept_threshold=threshold,
    )
    ann = [user_ensure(username=f"ann{i:02d}") for i in range(annotators)]
    rev = [user_ensure(username=f"rev{i:02d}") for i in range(reviewers)]
    cur = [user_ensure(username=f"cur{i}") for i in range(2)]
    for users, role in ((ann, "annotator"), (rev, "reviewer"), (cur, "curator")):
        for user in users:
            membership_add(campaign=campaign, user=user, role=role)
    t = step("campaign_and_members", t)
    subs = list(
        Subcategory.objects.filter(campaign=campaign)
        .order_by("position", "id")
        .values_list("id", flat=True)
    )
    langs = list(
        ProgrammingLanguage.objects.filter(campaign=campaign)
        .order_by("position", "id")
        .values_list("id", "name")
    )
    p: dict[str, Any] = {
        "c": campaign.pk,
        "n": seeds,
        "r": rewrites,
        "act": active,
        "smp": sampled,
        "subs": subs,
        "nsub": len(subs),
        "langs": [pk for pk, _ in langs],
        "lang_names": [name for _, name in langs],
        "nlang": len(langs),
        "ann": [u.pk for u in ann],
        "nann": len(ann),
        "rev": [u.pk for u in rev],
        "nrev": len(rev),
        "steps": _coprime_steps(len(rev)),
        "panel": panel,
        "threshold": threshold,
        "nc_valid": valid_no_consensus,
        "natural": list(NATURAL),
        "reasons": list(REASONS),
        "tokenizer": campaign.tokenizer,
        "days": 58,
    }
    p["nsteps"] = len(p["steps"])
    mix_case = []
    low = 0
    for status, share in MIX:
        mix_case.append(f"WHEN s.sample_rank %% 20 < {low + share} THEN '{status}'")
        low += share
    status_case = "CASE " + " ".join(mix_case) + " END"
    # Seed rank i = 1..n: its status, and a skewed subcategory (the first ones are common).
    seed_status = (
        "CASE WHEN i <= %(r)s THEN 'done' WHEN i <= %(r)s + %(act)s THEN 'assigned' "
        "WHEN i <= %(r)s + %(act)s + %(smp)s THEN 'sampled' ELSE 'pooled' END"
    )
    # The time line: rewrite i is submitted at base + i/r of ``days`` days.
    base = "(now() - interval '60 days')"
    submitted_at = f"{base} + (s.sample_rank::float8 / %(r)s) * %(days)s * interval '1 day'"

    tables = (
        "annotation_seed",
        "annotation_assignment",
        "annotation_rewrite",
        "annotation_rewritelanguage",
        "review_ballot",
        "annotation_event",
    )
    with transaction.atomic(), connection.cursor() as cur_:
        cur_.execute("SET LOCAL synchronous_commit = off")
        cur_.execute("SET LOCAL work_mem = '64MB'")
        cur_.execute("SET LOCAL maintenance_work_mem = '256MB'")
        # A bulk load: the non-unique indexes are dropped and built again at the end (one
        # sorted build instead of a million insertions each), in this transaction. Unique
        # indexes stay: they check the rows as they come.
        cur_.execute(
            "SELECT c.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x "
            "JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            "WHERE t.relname = ANY(%s) AND NOT x.indisunique AND NOT x.indisprimary "
            "ORDER BY t.relname, c.relname",
            [list(tables)],
        )
        indexes = cur_.fetchall()
        for name, _ in indexes:
            cur_.execute(f'DROP INDEX "{name}"')
        cur_.execute("CREATE TEMP TABLE bench_sentence (n int PRIMARY KEY, t text) ON COMMIT DROP")
        sentences = _sentences()
        with cur_.connection.cursor().copy("COPY bench_sentence (n, t) FROM STDIN") as copy:
            for n, text in enumerate(sentences):
                copy.write_row((n, text))
        p["ns"] = len(sentences)
        t = step("vocabulary", t)
        cur_.execute(
            f"""
            INSERT INTO annotation_seed (campaign_id, external_id, title, body, answer,
                source_url, cluster, language_hint, metadata, content_hash, status,
                sample_rank, created_at, subcategory_id)
            SELECT %(c)s, 'large-' || i, title, body, '', '', '',
                CASE WHEN i %% 3 = 0 THEN (%(lang_names)s::text[])[1 + i %% %(nlang)s] ELSE '' END,
                '{{}}'::jsonb,
                encode(sha256(convert_to(lower(btrim(regexp_replace(
                    title || E'\\n' || body, '\\s+', ' ', 'g'))), 'UTF8')), 'hex'),
                {seed_status},
                CASE WHEN i <= %(r)s + %(act)s + %(smp)s THEN i END,
                {base} - interval '1 day',
                (%(subs)s::bigint[])[1 + floor(%(nsub)s * power(h, 1.5))::int]
            FROM (
                SELECT i, ((i * 2654435761) %% 1000003) / 1000003.0 AS h,
                    'Question ' || i AS title,
                    a.t || ' ' || b.t || ' ' || c.t || ' (case ' || i || ')' AS body
                FROM generate_series(1, %(n)s) AS i
                JOIN bench_sentence a ON a.n = i %% %(ns)s
                JOIN bench_sentence b ON b.n = (i / %(ns)s + 7 * i) %% %(ns)s
                JOIN bench_sentence c ON c.n = (i * 31 + 17) %% %(ns)s
            ) g
            """,
            p,
        )
        t = step("seeds", t)
        cur_.execute(
            f"""
            INSERT INTO annotation_assignment (campaign_id, seed_id, annotator_id, status,
                lease_expires_at, reject_reason, reject_note, skip_reason, created_at,
                updated_at)
            SELECT %(c)s, s.id, (%(ann)s::int[])[1 + s.sample_rank %% %(nann)s],
                CASE WHEN s.status = 'done' THEN 'submitted' ELSE 'active' END,
                CASE WHEN s.status = 'assigned' THEN now() + interval '1 day' END,
                '', '', '',
                LEAST({submitted_at} - interval '2 hours', now()),
                LEAST({submitted_at}, now())
            FROM annotation_seed s
            WHERE s.campaign_id = %(c)s AND s.status IN ('done', 'assigned')
            """,
            p,
        )
        t = step("assignments", t)
        # Submitted revisions for the done seeds; a draft for a quarter of the active ones.
        cur_.execute(
            f"""
            INSERT INTO annotation_rewrite (campaign_id, seed_id, assignment_id, author_id,
                revision, text, difficulty, natural_language, subcategory_id, check_clear,
                check_ethical, check_solvable, version, question_tokens, tokenizer,
                panel_size, accept_threshold, status, feedback, decided_by_curator,
                curator_note, closed_from, created_at, updated_at, submitted_at, decided_at)
            SELECT %(c)s, s.id, a.id, a.annotator_id, 1,
                'Rewritten: ' || x.t || ' ' || y.t || ' (' || s.sample_rank || ')',
                (ARRAY['easy', 'medium', 'hard'])[1 + s.sample_rank %% 3],
                (%(natural)s::text[])[1 + (s.sample_rank / 7) %% 20],
                s.subcategory_id, true, true, true, 1,
                CASE WHEN a.status = 'submitted'
                    THEN 20 + (s.sample_rank * 37) %% 400 END,
                CASE WHEN a.status = 'submitted' THEN %(tokenizer)s ELSE '' END,
                CASE WHEN a.status = 'submitted' THEN %(panel)s END,
                CASE WHEN a.status = 'submitted' THEN %(threshold)s END,
                CASE WHEN a.status = 'submitted' THEN {status_case} ELSE 'draft' END,
                '{{}}'::jsonb, false, '', '',
                a.created_at + interval '5 minutes', a.updated_at,
                CASE WHEN a.status = 'submitted' THEN a.updated_at END,
                CASE WHEN a.status = 'submitted' AND s.sample_rank %% 20 < 17
                    THEN LEAST(a.updated_at + (1 + s.sample_rank %% 40) * interval '1 hour',
                               now()) END
            FROM annotation_assignment a
            JOIN annotation_seed s ON s.id = a.seed_id
            JOIN bench_sentence x ON x.n = (s.sample_rank * 13 + 5) %% %(ns)s
            JOIN bench_sentence y ON y.n = (s.sample_rank * 101 + 3) %% %(ns)s
            WHERE a.campaign_id = %(c)s
                AND (a.status = 'submitted' OR s.sample_rank %% 4 = 0)
            """,
            p,
        )
        t = step("rewrites", t)
        cur_.execute(
            """
            INSERT INTO annotation_rewritelanguage (rewrite_id, language_id, position)
            SELECT r.id, (%(langs)s::bigint[])[1 + l.idx], l.pos
            FROM annotation_rewrite r
            JOIN annotation_seed s ON s.id = r.seed_id
            CROSS JOIN LATERAL (
                SELECT floor(
                    %(nlang)s * power(((s.sample_rank::bigint * 40503) %% 65537) / 65537.0, 2)
                )::int AS first
            ) f
            CROSS JOIN LATERAL (
                VALUES (0, f.first),
                       (1, CASE WHEN s.sample_rank %% 3 = 0
                           THEN (f.first + 1 + s.sample_rank %% 7) %% %(nlang)s END)
            ) AS l(pos, idx)
            WHERE r.campaign_id = %(c)s AND l.idx IS NOT NULL
            """,
            p,
        )
        t = step("rewrite_languages", t)
        # A panel of distinct reviewers: o, o + st, o + 2 st, ... (mod nrev), st coprime to nrev.
        # Decided revisions: cast ballots, the first ``nvalid`` of them valid; waiting: pending.
        cur_.execute(
            """
            INSERT INTO review_ballot (campaign_id, rewrite_id, reviewer_id, status, decision,
                reasons, comment, created_at, cast_at)
            SELECT %(c)s, r.id,
                (%(rev)s::int[])[1 + (i %% %(nrev)s
                    + k * (%(steps)s::int[])[1 + (i / %(nrev)s) %% %(nsteps)s]) %% %(nrev)s],
                CASE WHEN r.status = 'submitted' THEN 'pending' ELSE 'cast' END,
                CASE WHEN r.status = 'submitted' THEN ''
                     WHEN k < nvalid THEN 'valid' ELSE 'invalid' END,
                CASE WHEN r.status = 'submitted' OR k < nvalid THEN '[]'::jsonb
                     ELSE ((%(reasons)s::text[])[1 + (i + k) %% 4])::jsonb END,
                '', r.submitted_at,
                CASE WHEN r.status <> 'submitted'
                    THEN r.decided_at - (%(panel)s - k) * interval '10 minutes' END
            FROM (
                SELECT r.id, r.status, r.submitted_at, r.decided_at, s.sample_rank AS i,
                    CASE r.status
                        WHEN 'accepted' THEN
                            CASE WHEN s.sample_rank %% 2 = 0 THEN %(panel)s ELSE %(threshold)s END
                        WHEN 'rejected' THEN
                            CASE WHEN s.sample_rank %% 2 = 0 THEN 0
                                 ELSE %(panel)s - %(threshold)s END
                        WHEN 'no_consensus' THEN %(nc_valid)s
                        ELSE 0 END AS nvalid
                FROM annotation_rewrite r JOIN annotation_seed s ON s.id = r.seed_id
                WHERE r.campaign_id = %(c)s AND r.status <> 'draft'
            ) r
            CROSS JOIN generate_series(0, %(panel)s - 1) AS k
            """,
            p,
        )
        t = step("ballots", t)
        if events:
            # What the services would have logged for this history (kinds as core.transitions).
            cur_.execute(
                """
                INSERT INTO annotation_event (campaign_id, actor_id, kind, object_type,
                    object_id, from_state, to_state, data, created_at)
                SELECT %(c)s, a.annotator_id, 'assignment.claimed', 'assignment', a.id, '',
                    'active', jsonb_build_object('seed', a.seed_id), a.created_at
                FROM annotation_assignment a WHERE a.campaign_id = %(c)s
                UNION ALL
                SELECT %(c)s, r.author_id, 'rewrite.submitted', 'rewrite', r.id, 'draft',
                    'submitted', '{}'::jsonb, r.submitted_at
                FROM annotation_rewrite r
                WHERE r.campaign_id = %(c)s AND r.status <> 'draft'
                UNION ALL
                SELECT %(c)s, NULL, 'rewrite.' || r.status, 'rewrite', r.id, 'submitted',
                    r.status, '{}'::jsonb, r.decided_at
                FROM annotation_rewrite r
                WHERE r.campaign_id = %(c)s AND r.decided_at IS NOT NULL
                UNION ALL
                SELECT %(c)s, b.reviewer_id, 'ballot.cast', 'ballot', b.id, 'pending', 'cast',
                    jsonb_build_object('rewrite', b.rewrite_id, 'decision', b.decision),
                    b.cast_at
                FROM review_ballot b WHERE b.campaign_id = %(c)s AND b.status = 'cast'
                """,
                p,
            )
            t = step("events", t)
        # The deferred foreign-key checks of every row run now (an index cannot be built
        # while they are pending).
        cur_.execute("SET CONSTRAINTS ALL IMMEDIATE")
        t = step("foreign_key_checks", t)
        for _, definition in indexes:
            cur_.execute(definition)
        t = step(f"indexes ({len(indexes)})", t)
    t = step("commit", t)
    with connection.cursor() as cur_:
        for table in tables:
            cur_.execute(f"VACUUM (ANALYZE) {table}")
    t = step("vacuum_analyze", t)
    counts = campaign_counts(Campaign.objects.get(pk=campaign.pk))
    total = time.perf_counter() - started
    report = {
        "sizes": {
            "seeds": seeds,
            "rewrites": rewrites,
            "sampled": sampled,
            "active": active,
            "ballots_per_rewrite": panel,
            "annotators": annotators,
            "reviewers": reviewers,
            "events": events,
        },
        "seconds": round(total, 2),
        "steps_seconds": steps,
        "rows": counts,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(f"  {'total':<22} {total:8.2f}s  peak RSS {report['peak_rss_mb']} MB")
    print("  rows: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return report


def campaign_counts(campaign: Any) -> dict[str, int]:
    """Row counts of the campaign, by table and status (one aggregate per table)."""
    from django.db import connection

    out: dict[str, int] = {}
    with connection.cursor() as cur:
        for label, table in (
            ("seeds", "annotation_seed"),
            ("assignments", "annotation_assignment"),
            ("rewrites", "annotation_rewrite"),
            ("ballots", "review_ballot"),
        ):
            cur.execute(
                f"SELECT status, count(*) FROM {table} WHERE campaign_id = %s GROUP BY status "
                "ORDER BY status",
                [campaign.pk],
            )
            rows = cur.fetchall()
            out[label] = sum(n for _, n in rows)
            out.update({f"{label}_{status}": n for status, n in rows})
        cur.execute(
            "SELECT count(*) FROM annotation_rewritelanguage l JOIN annotation_rewrite r "
            "ON r.id = l.rewrite_id WHERE r.campaign_id = %s",
            [campaign.pk],
        )
        out["rewrite_languages"] = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM annotation_event WHERE campaign_id = %s", [campaign.pk])
        out["events"] = cur.fetchone()[0]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (default: BENCH_DATABASE_URL)")
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: 1,000,000 seeds")
    parser.add_argument("--ballots-per-rewrite", type=int, default=4)
    parser.add_argument("--annotators", type=int, default=50)
    parser.add_argument("--reviewers", type=int, default=20)
    parser.add_argument("--no-events", action="store_true", help="skip the event rows")
    args = parser.parse_args()
    if not harness.configure_postgres(args.database_url):
        raise SystemExit("needs PostgreSQL: --database-url or BENCH_DATABASE_URL")
    n = sizes(args.scale)
    report = build(
        n["seeds"],
        n["rewrites"],
        args.ballots_per_rewrite,
        args.annotators,
        args.reviewers,
        sampled=n["sampled"],
        active=n["active"],
        events=not args.no_events,
    )
    harness.write_results("large", {"scale": args.scale, **report})


if __name__ == "__main__":
    main()

"""Sampling and dealing at scale (issue 18; PostgreSQL only): a fresh pool of pooled seeds over
the 40 CodeArena subcategories (skewed, as ``large.py`` spreads them) and 50 annotators, then,
each step timed with its SQL queries and the peak resident memory of this process during it:

- ``sample_preview``: ``seeds_sample_preview`` (what the curator's page shows before sampling);
- ``sample``: ``seeds_sample`` of ``--fraction`` of the pool (30%: 30K of 100K, 300K of 1M);
- ``deal_preview``: ``seeds_deal_preview`` (the dealing page), then ``deal``: ``seeds_assign``
  of every sampled seed to the 50 annotators.

Each pool size runs in a process of its own (peak memory is per process) on an emptied
database; the pool is written by ``INSERT ... SELECT`` over ``generate_series`` and VACUUM
ANALYZEd. The outcome is checked (seeds sampled, assigned, events written). Results go to
``bench/results/scale-sampling-postgresql.json`` under ``--label`` (runs under other labels in
that file are kept, e.g. ``before`` and ``after``), with the growth from the smallest to the
largest pool.

Usage: ``BENCH_DATABASE_URL=postgres://.../db python bench/scale_sampling.py --seeds 100000,1000000
--label after`` (the database is emptied)."""

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

RESULTS = "scale-sampling"
SLUG = "sampling"


def rss_mb() -> float:
    """This process's resident memory now, in MB."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class PeakRss:
    """The highest resident memory of this process while the block runs (polled every 5 ms)."""

    def __init__(self) -> None:
        self.before = self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.005)

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def build_pool(seeds: int, annotators: int) -> Any:
    """Empty the database; a campaign with the CodeArena taxonomy, ``annotators`` annotators and
    ``seeds`` pooled seeds (skewed over the subcategories), VACUUM ANALYZEd."""
    from django.db import connection, transaction

    from annotation.models import Subcategory
    from annotation.services import campaign_create, user_ensure
    from review.services import membership_add

    harness.fresh_database()
    campaign = campaign_create(slug=SLUG, name="Sampling at scale", taxonomy="codearena")
    for i in range(annotators):
        user = user_ensure(username=f"ann{i:02d}")
        membership_add(campaign=campaign, user=user, role="annotator")
    subs = list(
        Subcategory.objects.filter(campaign=campaign)
        .order_by("position", "id")
        .values_list("id", flat=True)
    )
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL synchronous_commit = off")
        cur.execute(
            """
            INSERT INTO annotation_seed (campaign_id, external_id, title, body, answer,
                source_url, cluster, language_hint, metadata, content_hash, status,
                sample_rank, created_at, subcategory_id)
            SELECT %(c)s, 'pool-' || i, 'Question ' || i, 'How do I do thing ' || i || '?',
                '', '', '', '', '{}'::jsonb, md5(i::text) || md5('x' || i), 'pooled', NULL,
                now(), (%(subs)s::bigint[])[1 + floor(%(nsub)s * power(
                    ((i * 2654435761) %% 1000003) / 1000003.0, 1.5))::int]
            FROM generate_series(1, %(n)s) AS i
            """,
            {"c": campaign.pk, "n": seeds, "subs": subs, "nsub": len(subs)},
        )
    with connection.cursor() as cur:
        for table in ("annotation_seed", "annotation_assignment", "annotation_event"):
            cur.execute(f"VACUUM (ANALYZE) {table}")
    return campaign


def one(seeds: int, fraction: float, annotators: int) -> dict[str, Any]:
    """Build a pool of ``seeds`` and measure the four steps on it."""
    from django.db import connection

    from annotation.models import Assignment, Event, Seed
    from annotation.services import seeds_assign, seeds_sample
    from annotation.services.seeds import seeds_deal_preview, seeds_sample_preview

    if connection.vendor != "postgresql":
        raise SystemExit("bench/scale_sampling.py needs PostgreSQL (BENCH_DATABASE_URL)")
    started = time.perf_counter()
    campaign = build_pool(seeds, annotators)
    build_seconds = round(time.perf_counter() - started, 1)
    size = max(1, round(seeds * fraction))
    steps: dict[str, Any] = {}

    def step(name: str, fn: Any, count: int) -> Any:
        with PeakRss() as peak:
            value = harness.timed(steps, name, fn, count=count)
        steps[name]["rss_before_mb"] = round(peak.before, 1)
        steps[name]["peak_rss_mb"] = round(peak.peak, 1)
        steps[name]["load"] = os.getloadavg()[0]
        print(f"{'':<28} peak RSS {peak.peak:8.1f} MB (before {peak.before:.1f} MB)", flush=True)
        return value

    plan = step("sample_preview", lambda: seeds_sample_preview(campaign=campaign, size=size), size)
    report = step("sample", lambda: seeds_sample(campaign=campaign, size=size), size)
    preview = step("deal_preview", lambda: seeds_deal_preview(campaign=campaign), size)
    dealt = step("deal", lambda: seeds_assign(campaign=campaign), size)
    sampled_events = Event.objects.filter(campaign=campaign, kind="seed.sampled").count()
    dealt_events = Event.objects.filter(campaign=campaign, kind="assignment.dealt").count()
    checks = {
        "planned": plan.sampled_now,
        "sampled": report.sampled_now,
        "seed_sampled_events": sampled_events,
        "preview_dealt": preview.seeds,
        "assigned": dealt.assigned,
        "assignments": Assignment.objects.filter(campaign=campaign).count(),
        "seeds_assigned": Seed.objects.filter(campaign=campaign, status="assigned").count(),
        "assignment_dealt_events": dealt_events,
        "preview_matches_deal": {s.annotator: s.seeds for s in preview.annotators}
        == dealt.per_annotator,
        "per_annotator_spread": max(dealt.per_annotator.values())
        - min(dealt.per_annotator.values()),
    }
    print(json.dumps(checks), flush=True)
    return {
        "seeds": seeds,
        "sample_size": size,
        "annotators": annotators,
        "build_seconds": build_seconds,
        "steps": steps,
        "checks": checks,
        "process_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def growth(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per step, how time and peak memory grow from the smallest pool to the largest."""
    if len(runs) < 2:
        return {}
    small, large = runs[0], runs[-1]
    out: dict[str, Any] = {"pool_ratio": round(large["seeds"] / small["seeds"], 2)}
    for name, big in large["steps"].items():
        little = small["steps"].get(name)
        if not little:
            continue
        out[name] = {
            "seconds_ratio": round(big["seconds"] / max(little["seconds"], 1e-4), 2),
            "peak_rss_mb_growth": round(big["peak_rss_mb"] - little["peak_rss_mb"], 1),
            "queries": [little["queries"], big["queries"]],
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (default: BENCH_DATABASE_URL)")
    parser.add_argument("--seeds", default="100000,1000000", help="pool sizes, comma-separated")
    parser.add_argument("--fraction", type=float, default=0.3, help="share of the pool sampled")
    parser.add_argument("--annotators", type=int, default=50)
    parser.add_argument("--label", default="after", help="the key of this run in the results")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: one pool size
    args = parser.parse_args()
    if not harness.configure_postgres(args.database_url):
        print("bench/scale_sampling.py: skipped (needs PostgreSQL: set BENCH_DATABASE_URL)")
        return
    if args.one:
        result = one(args.one, args.fraction, args.annotators)
        print("RESULT " + json.dumps(result), flush=True)
        return
    runs = []
    for seeds in [int(s) for s in args.seeds.split(",")]:
        print(f"== {seeds} pooled seeds, load {os.getloadavg()}", flush=True)
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                str(seeds),
                "--fraction",
                str(args.fraction),
                "--annotators",
                str(args.annotators),
            ],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        for line in proc.stdout.splitlines():
            if line.startswith("RESULT "):
                runs.append(json.loads(line[len("RESULT ") :]))
            else:
                print(line)
    target = harness.ROOT / "bench" / "results" / f"{RESULTS}-postgresql.json"
    previous = json.loads(target.read_text()) if target.exists() else {}
    labelled = previous.get("runs", {})
    labelled[args.label] = {
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "pools": runs,
        "growth": growth(runs),
    }
    harness.write_results(RESULTS, {"budget": "< 120 s and < 1 GB per step", "runs": labelled})


if __name__ == "__main__":
    main()

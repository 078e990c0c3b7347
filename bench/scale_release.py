"""A release of the large campaign of issue 18 (PostgreSQL only): ``release_build`` of every
accepted rewrite, the way ``export_benchmark`` runs it, measured in a fresh process per run.

The campaign is ``bench/large.py``'s with enough submitted rewrites that ``--accepted`` of them
are accepted (large.py accepts 12 of every 20): 100,000 accepted at ``--scale 1`` (1,000,000
seeds, 166,667 submitted rewrites), 10,000 at ``--scale 0.1``. It has no baseline answers,
suggestions or reference sets, so the release holds benchmark.jsonl / .parquet,
questions.jsonl, the arena-hard-auto question file, stats.json, the card, figures, the manifest
and the zip; decontamination runs against no reference set.

Each run is a child process (``--child``) that builds the release into a new folder and reports
seconds, SQL queries, its resident memory before and at the peak (``ru_maxrss``) and the sha256
of every file; one more run measures the peak of Python allocations (tracemalloc, which slows
the build down, so its time is not the figure). Reruns must give the same sha256 for every file.

Writes bench/results/scale-release-postgresql.json, keeping earlier entries: one per
``--label`` (e.g. before / after a change) and scale. Options: ``--scale`` (1.0), ``--runs``
(2), ``--reuse`` (keep a large campaign already built with these sizes), ``--label``,
``--database-url``.
"""

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
import large  # noqa: E402

RESULTS = harness.ROOT / "bench" / "results" / "scale-release-postgresql.json"
# large.py accepts the seeds of rank r with r % 20 < 12.
ACCEPTED_OF_20 = 12


def rewrites_for(accepted: int) -> int:
    """The number of submitted rewrites of which ``accepted`` are accepted."""
    full, rest = divmod(accepted, ACCEPTED_OF_20)
    # Ranks 1..r; a full cycle of 20 ranks holds 12 accepted ones (ranks with r % 20 < 12).
    r = full * 20
    while rest:
        r += 1
        if r % 20 < ACCEPTED_OF_20:
            rest -= 1
    # Ranks 20k .. 20k+11 are the accepted ones of cycle k; the first cycle starts at rank 1.
    return r


def child(out: Path, trace: bool) -> dict[str, Any]:
    """Build the release into ``out`` in this process and measure it."""
    import tracemalloc

    from django.db import connection

    from annotation.models import Campaign
    from exports.services import ReleaseParameters, release_build

    campaign = Campaign.objects.get(slug=large.SLUG)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    with connection.execute_wrapper(count):
        result = release_build(
            campaign=campaign, out_dir=out, parameters=ReleaseParameters(name="scale")
        )
    seconds = time.perf_counter() - started
    peak_traced = tracemalloc.get_traced_memory()[1] if trace else None
    if trace:
        tracemalloc.stop()
    sha = {}
    for name in sorted(result.files):
        digest = hashlib.sha256()
        with open(out / name, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
        sha[name] = digest.hexdigest()
    zip_name = f"{campaign.slug}-scale.zip"
    return {
        "seconds": round(seconds, 2),
        "queries": queries,
        "samples": result.total,
        "rss_before_build_mb": round(rss_before, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "tracemalloc_peak_mb": None if peak_traced is None else round(peak_traced / 2**20, 1),
        "bytes": {name: meta["bytes"] for name, meta in sorted(result.files.items())},
        "zip_bytes": (out / zip_name).stat().st_size if (out / zip_name).exists() else None,
        "sha256": sha,
    }


def run_child(out: Path, *, trace: bool) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", str(out)] + (["--trace"] if trace else [])
    done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"release build failed ({done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (default: BENCH_DATABASE_URL)")
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: 100,000 accepted")
    parser.add_argument("--runs", type=int, default=2, help="untraced runs (sha256 compared)")
    parser.add_argument("--reuse", action="store_true", help="keep a campaign of these sizes")
    parser.add_argument("--label", default="after", help="results entry, e.g. before / after")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not harness.configure_postgres(args.database_url):
        print(f"{Path(__file__).name}: skipped, needs PostgreSQL (BENCH_DATABASE_URL)")
        return
    if args.child:
        print(json.dumps(child(args.child, args.trace)))
        return

    from django.core.management import call_command

    from annotation.models import Campaign, Rewrite, Seed

    call_command("migrate", verbosity=0)
    n = large.sizes(args.scale)
    accepted = round(100_000 * args.scale)
    rewrites = rewrites_for(accepted)
    campaign = Campaign.objects.filter(slug=large.SLUG).first()
    reuse = (
        args.reuse
        and campaign is not None
        and Seed.objects.filter(campaign=campaign).count() == n["seeds"]
        and Rewrite.objects.filter(campaign=campaign, status="accepted").count() == accepted
    )
    if reuse:
        print(f"reusing campaign {large.SLUG!r}")
        built: dict[str, Any] = {"reused": True}
    else:
        print(f"building {n['seeds']:,} seeds, {rewrites:,} submitted rewrites")
        built = {
            "reused": False,
            **large.build(
                n["seeds"], rewrites, sampled=n["sampled"], active=n["active"], events=False
            ),
        }
    campaign = Campaign.objects.get(slug=large.SLUG)
    counted = Rewrite.objects.filter(campaign=campaign, status="accepted").count()
    work = Path(tempfile.mkdtemp(prefix="scale-release-"))
    runs = []
    try:
        for i in range(args.runs):
            runs.append(run_child(work / f"run{i}", trace=False))
            shutil.rmtree(work / f"run{i}")
            r = runs[-1]
            print(
                f"run {i + 1}: {r['seconds']:7.2f}s  {r['queries']} queries  peak RSS "
                f"{r['peak_rss_mb']} MB (before build {r['rss_before_build_mb']} MB)"
            )
        traced = run_child(work / "traced", trace=True)
        print(f"traced: peak Python allocations {traced['tracemalloc_peak_mb']} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    identical = all(r["sha256"] == runs[0]["sha256"] for r in [*runs, traced])
    print(f"byte-identical over {len(runs) + 1} runs: {identical}")
    entry = {
        "accepted": counted,
        "samples": runs[0]["samples"],
        "campaign": built,
        "seconds": [r["seconds"] for r in runs],
        "queries": runs[0]["queries"],
        "peak_rss_mb": [r["peak_rss_mb"] for r in runs],
        "rss_before_build_mb": runs[0]["rss_before_build_mb"],
        "tracemalloc_peak_mb": traced["tracemalloc_peak_mb"],
        "traced_seconds": traced["seconds"],
        "bytes": runs[0]["bytes"],
        "sha256": runs[0]["sha256"],
        "identical_reruns": identical,
        "load_average": list(os.getloadavg()),
    }
    previous: dict[str, Any] = {}
    if RESULTS.exists():
        previous = json.loads(RESULTS.read_text(encoding="utf-8")).get("entries", {})
    previous.setdefault(args.label, {})[f"scale_{args.scale:g}"] = entry
    harness.write_results(
        "scale-release",
        {
            "budget": {"seconds": 60, "peak_rss_mb": 1024, "identical_reruns": True},
            "entries": previous,
        },
    )


if __name__ == "__main__":
    main()

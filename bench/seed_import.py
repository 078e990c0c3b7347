"""Benchmark: a seed file uploaded through the job (check, then import), as the browser and the
API do it, at 50,000 and 200,000 seeds: time, SQL queries and peak Python memory (tracemalloc)
of each step, to show that memory does not grow with the seeds' text (only ids and content
hashes are kept); then sampling 2,000 seeds and dealing them, with their previews, from the
200,000-seed pool (they run inside the request).

Runs against BENCH_DATABASE_URL (default: a throw-away SQLite file
bench/bench-seed-import.sqlite3) and writes bench/results/seed-import-<vendor>.json.
Not part of the test run.

    python bench/seed_import.py [--memory-sizes 50000 200000] [--time-size 200000]
"""

import argparse
import json
import os
import random
import tempfile
import time
import tracemalloc
from pathlib import Path

import harness

ROOT = harness.ROOT
os.environ.setdefault("CURATION_MEDIA_ROOT", tempfile.mkdtemp(prefix="bench-media-"))
# Measured as a production worker runs: with DEBUG on, Django's debug query log would keep the
# SQL of every INSERT (up to 9,000 statements), i.e. the file's text, and hide what the job holds.
os.environ["DJANGO_DEBUG"] = "0"
harness.configure(ROOT / "bench" / "bench-seed-import.sqlite3")

from django.core.files import File  # noqa: E402
from django.db import connection  # noqa: E402
from harness import fresh_database, timed, write_results  # noqa: E402

from annotation.jobs import seed_import_confirm, seed_import_start  # noqa: E402
from annotation.models import SeedImport  # noqa: E402
from annotation.services import campaign_create, seeds_assign, seeds_sample, user_ensure  # noqa: E402
from annotation.services.seeds import seeds_deal_preview, seeds_sample_preview  # noqa: E402
from annotation.vocabulary import builtin_taxonomy  # noqa: E402
from review.services import membership_add  # noqa: E402

SENTENCE = (
    "how do I parse a list of dates in python while keeping the time zone and why does my "
    "recursive function overflow the stack when the input grows beyond a few thousand items "
    "what is the idiomatic way to stream a large file line by line without loading it"
)
WORDS = SENTENCE.split()


def write_seed_file(path: Path, n: int) -> int:
    """``n`` distinct seeds over the 40 built-in subcategories, about 600 characters of text
    each (a Stack Overflow question's length), written line by line."""
    subs = [s["name"] for s in builtin_taxonomy("codearena")["subcategories"]]
    rng = random.Random(n)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            text = " ".join(rng.choice(WORDS) for _ in range(100))
            record = {
                "id": f"pool-{i:07d}",
                "title": f"Question {i}",
                "text": f"{text} (#{i})",
                "subcategory": subs[i % len(subs)],
                "source_url": f"https://example.org/q/{i}",
                "metadata": {"source": "bench", "votes": i % 97},
            }
            fh.write(json.dumps(record) + "\n")
    return path.stat().st_size


def measured(results: dict, name: str, fn, *, count: int):
    """``timed`` (seconds, queries) plus, when tracing, the step's peak Python memory above
    what was allocated before it (tracemalloc; it slows the step down, so the untraced run
    gives the times)."""
    if not tracemalloc.is_tracing():
        return timed(results, name, fn, count=count)
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    value = timed(results, name, fn, count=count)
    _, peak = tracemalloc.get_traced_memory()
    results[name]["peak_mib"] = round((peak - base) / 2**20, 2)
    print(f"{'':<28} peak {results[name]['peak_mib']:8.2f} MiB")
    return value


def run_size(n: int, workdir: Path, *, trace: bool) -> dict:
    connection.close()  # the SQLite file is replaced: reconnect to the new one
    fresh_database()
    campaign = campaign_create(slug=f"bench{n}", name="Bench seeds")
    curator = user_ensure(username="curator")
    membership_add(campaign=campaign, user=curator, role="curator")
    for i in range(4):
        membership_add(campaign=campaign, user=user_ensure(username=f"ann{i}"), role="annotator")
    path = workdir / f"seeds-{n}.jsonl"
    started = time.perf_counter()
    size = write_seed_file(path, n)
    print(f"wrote {n} seeds ({size / 2**20:.1f} MiB) in {time.perf_counter() - started:.1f}s")
    results: dict = {"seeds": n, "file_mib": round(size / 2**20, 2), "traced": trace}

    if trace:
        tracemalloc.start()
    try:

        def upload_and_check() -> SeedImport:
            with path.open("rb") as fh:
                return seed_import_start(
                    campaign=campaign, actor=curator, upload=File(fh, name=path.name)
                )

        seed_import = measured(results, "upload_and_check", upload_and_check, count=n)
        seed_import.refresh_from_db()
        assert seed_import.status == "checked", seed_import.error
        assert seed_import.check_report["new"] == n
        measured(
            results,
            "import",
            lambda: seed_import_confirm(import_id=seed_import.pk, actor=curator),
            count=n,
        )
        seed_import.refresh_from_db()
        assert seed_import.status == "done", seed_import.error
        assert seed_import.report["new"] == n

        def reupload() -> SeedImport:
            with path.open("rb") as fh:
                done = seed_import_start(
                    campaign=campaign, actor=curator, upload=File(fh, name=path.name)
                )
            return seed_import_confirm(import_id=done.pk, actor=curator)

        again = measured(results, "reupload_check_and_import_nothing", reupload, count=n)
        again.refresh_from_db()
        assert again.status == "done" and again.report["new"] == 0
        assert again.report["already_present"] == n
    finally:
        if trace:
            tracemalloc.stop()

    timed(
        results,
        "sample_preview_2000",
        lambda: seeds_sample_preview(campaign=campaign, size=2000),
        count=2000,
    )
    timed(results, "sample_2000", lambda: seeds_sample(campaign=campaign, size=2000), count=2000)
    timed(results, "deal_preview_2000", lambda: seeds_deal_preview(campaign=campaign), count=2000)
    timed(results, "deal_2000", lambda: seeds_assign(campaign=campaign), count=2000)
    path.unlink()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--memory-sizes", type=int, nargs="+", default=[50_000, 200_000], help="traced runs"
    )
    parser.add_argument("--time-size", type=int, default=200_000, help="the untraced run")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-seeds-"))
    print(f"== timing, {args.time_size} seeds (untraced)")
    timing = run_size(args.time_size, workdir, trace=False)
    memory = {}
    for n in args.memory_sizes:
        print(f"== peak memory, {n} seeds (tracemalloc)")
        memory[str(n)] = run_size(n, workdir, trace=True)
    record: dict = {"timing": timing, "memory": memory}
    ordered = sorted(args.memory_sizes)
    if len(ordered) >= 2:
        small, large = memory[str(ordered[0])], memory[str(ordered[-1])]
        grow = ordered[-1] - ordered[0]
        # Peak bytes per extra seed: what the ids and content hashes cost (a seed's text is
        # never held), against the file's bytes per seed.
        record["peak_bytes_per_extra_seed"] = {
            step: round((large[step]["peak_mib"] - small[step]["peak_mib"]) * 2**20 / grow, 1)
            for step in ("upload_and_check", "import", "reupload_check_and_import_nothing")
        }
        record["file_bytes_per_seed"] = round(large["file_mib"] * 2**20 / ordered[-1], 1)
    write_results("seed-import", record)


if __name__ == "__main__":
    main()

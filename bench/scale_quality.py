"""The quality checks on the large campaign of issue 18 (PostgreSQL only): the per-submit check
(the Celery task's service, in a fresh worker-like process: cold, then warm) and ``manage.py
decontaminate`` of the whole campaign, each timed with its peak memory (RSS of the process).

Steps: build the large campaign (``bench/large.py``; ``--scale 1`` is 100,000 submitted
rewrites), then give the rewrites realistic texts (large.py's are two sentences out of 1,000,
so about 100 rewrites share each text: a near-duplicate cluster each, which no real campaign
has). Each rewrite gets 40-120 words drawn with a Zipf law from the vocabulary of the public
benchmarks in ../shared/data/references, one of 20 opening phrases and one of 2,000 stock
sentences (shared phrases give the low-similarity tail real text has); 1% are a near-copy of an
earlier rewrite (a few words changed: Jaccard 0.5-0.95) and 2% paste a reference document.
Then every reference set is loaded, and the measures run in child processes (memory is the
child's own peak RSS):

- ``check``: ``rewrite_quality_check`` of ``--checks`` rewrites spread over the campaign; the
  first is cold (new process), the others warm (p50 / p95 / max) with their query counts;
- ``similarity_index`` (``--build-index``): the command that indexes the rewrites submitted
  before the near-duplicate index existed, time and peak RSS;
- ``decontaminate``: the command, total time and peak RSS (``--decontaminate-timeout``: stopped
  after that long, with the peak RSS it reached).

Usage: ``python bench/scale_quality.py --database-url postgres://.../h_quality_bench --scale 0.1``
(``--reuse`` skips the build when the campaign is there). Writes
bench/results/scale-quality-postgresql.json.
"""

import argparse
import gzip
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

REFERENCES = harness.ROOT.parent / "shared" / "data" / "references"
OPENINGS = [
    "Write a function that",
    "I need help with a program which",
    "How can I implement code that",
    "Given an input list, write a routine that",
    "Create a class whose method",
    "In Python, how do I",
    "Implement an algorithm that",
    "Please write a script that",
    "Can you show me a way to",
    "Write a Java method that",
    "Using JavaScript, write code that",
    "Design a data structure which",
    "Write a SQL query that",
    "My program crashes when it",
    "Explain and implement a function which",
    "Write a C++ function that",
    "Write a Rust function that",
    "Build a small command-line tool that",
    "Write unit tests for a function that",
    "Refactor the following code so that it",
]


def _rss_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss it does not carry the parent's peak
    over a fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _reference_texts() -> list[str]:
    texts = []
    for path in sorted(REFERENCES.glob("*/*.jsonl*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                record = json.loads(line)
                for key in ("prompt", "text", "question", "instruction"):
                    if isinstance(record.get(key), str) and record[key].strip():
                        texts.append(record[key])
                        break
    return texts


def realistic_texts(campaign_id: int) -> dict[str, Any]:
    """Replace the campaign's rewrite texts (see the module docstring), in chunks."""
    from collections import Counter

    from django.db import connection, transaction

    from quality.ngrams import words

    rng = random.Random(18)
    references = _reference_texts()
    counts = Counter(w for t in references for w in words(t) if w.isalpha() and len(w) > 1)
    vocabulary = [w for w, _ in counts.most_common(8000)]
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
    stock = [
        " ".join(rng.choices(vocabulary[:2000], weights[:2000], k=rng.randint(6, 12))) + "."
        for _ in range(2000)
    ]
    with connection.cursor() as cur:
        cur.execute(
            "SELECT id FROM annotation_rewrite WHERE campaign_id = %s AND status <> 'draft' "
            "ORDER BY id",
            [campaign_id],
        )
        ids = [row[0] for row in cur.fetchall()]
    texts: dict[int, str] = {}
    planted = contaminated = 0
    for i, pk in enumerate(ids):
        if i > 100 and rng.random() < 0.01:
            base = words(texts[ids[rng.randrange(0, i)]])
            for _ in range(max(1, len(base) // rng.choice((10, 20, 40)))):
                base[rng.randrange(len(base))] = rng.choice(vocabulary)
            text = " ".join(base)
            planted += 1
        else:
            body = " ".join(rng.choices(vocabulary, weights, k=rng.randint(40, 120)))
            text = f"{rng.choice(OPENINGS)} {body}. {rng.choice(stock)}"
            if rng.random() < 0.02:
                text += "\n\nFor reference:\n" + rng.choice(references)
                contaminated += 1
        texts[pk] = text
    with transaction.atomic(), connection.cursor() as cur:
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            cur.execute(
                "UPDATE annotation_rewrite r SET text = v.t FROM unnest(%s::bigint[], %s::text[]) "
                "AS v(id, t) WHERE r.id = v.id",
                [chunk, [texts[pk] for pk in chunk]],
            )
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE annotation_rewrite")
    return {
        "rewrites": len(ids),
        "planted_near_copies": planted,
        "pasted_references": contaminated,
        "vocabulary": len(vocabulary),
        "mean_words": round(statistics.mean(len(t.split()) for t in texts.values()), 1),
    }


def load_references() -> dict[str, Any]:
    from quality.services import reference_set_load

    out = {}
    for folder in sorted(p for p in REFERENCES.iterdir() if p.is_dir()):
        paths = sorted([*folder.glob("*.jsonl"), *folder.glob("*.jsonl.gz")])
        if not paths:
            continue
        started = time.perf_counter()
        result = reference_set_load(name=folder.name, paths=paths)
        out[folder.name] = {
            "documents": result.reference_set.documents_count,
            "seconds": round(time.perf_counter() - started, 2),
        }
        print(f"  reference set {folder.name}: {out[folder.name]}", flush=True)
    return out


def child_check(count: int) -> dict[str, Any]:
    """In a fresh process: the per-submit check of ``count`` rewrites spread over the campaign
    (first cold, the rest warm)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from annotation.models import Rewrite
    from quality.services import rewrite_quality_check

    ids = list(
        Rewrite.objects.filter(campaign__slug="large", status="submitted")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    picked = [ids[i * len(ids) // count] for i in range(count)]
    del ids
    rss_start = _rss_mb()
    timings, queries, flags = [], [], 0
    for pk in picked:
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            result = rewrite_quality_check(rewrite_id=pk)
            timings.append(time.perf_counter() - started)
        queries.append(len(ctx.captured_queries))
        flags += result.get("near_duplicate_pairs", 0) + result.get("copied_seed", 0)
    warm = sorted(timings[1:])
    return {
        "checks": count,
        "cold_ms": round(timings[0] * 1000, 1),
        "warm_p50_ms": round(statistics.median(warm) * 1000, 1),
        "warm_p95_ms": round(warm[int(0.95 * (len(warm) - 1))] * 1000, 1),
        "warm_max_ms": round(warm[-1] * 1000, 1),
        "queries_cold": queries[0],
        "queries_warm_max": max(queries[1:]),
        "flags_found": flags,
        "rss_before_checks_mb": rss_start,
        "peak_rss_mb": _rss_mb(),
    }


def child_command(name: str) -> dict[str, Any]:
    """In a fresh process: ``manage.py <name> large``."""
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    started = time.perf_counter()
    call_command(name, "large", "--no-progress", stdout=out, stderr=StringIO())
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mb": _rss_mb(),
        "output": out.getvalue().strip(),
    }


def _hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def run_child(*args: str, timeout: float | None = None) -> dict[str, Any]:
    """Run a measure in a fresh process, watching its peak RSS; stopped after ``timeout``
    seconds (recorded as timed out, with the peak RSS reached)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, _hwm_mb(proc.pid))
        if timeout and time.perf_counter() - started > timeout:
            proc.kill()
            proc.wait()
            record = {"timed_out_after_seconds": timeout, "peak_rss_mb": peak}
            print(f"  {args[0]}: {record}", flush=True)
            return record
        time.sleep(0.25)
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{stderr[-4000:]}")
    record = json.loads(stdout.strip().splitlines()[-1])
    record["wall_seconds"] = round(time.perf_counter() - started, 1)
    print(f"  {args[0]}: {record}", flush=True)
    return record


def similarity_distribution(budget: int = 3_000_000) -> dict[str, Any]:
    """Exact word 3-gram Jaccard of some rewrites against every other one (about ``budget``
    comparisons, streamed): how the texts spread (pairs at or above 0.1, 0.3, 0.5, 0.7 per
    rewrite)."""
    from annotation.models import Rewrite
    from quality.ngrams import jaccard, shingles

    rewrites = Rewrite.objects.filter(campaign__slug="large").exclude(status="draft")
    ids = list(rewrites.values_list("pk", flat=True))
    rng = random.Random(3)
    picked = dict(
        rewrites.filter(
            pk__in=rng.sample(ids, max(1, min(budget // len(ids), len(ids))))
        ).values_list("pk", "text")
    )
    mine = {pk: shingles(text) for pk, text in picked.items()}
    bins = {0.1: 0, 0.3: 0, 0.5: 0, 0.7: 0}
    for pk, text in rewrites.values_list("pk", "text").iterator(chunk_size=2000):
        other = shingles(text)
        for i, theirs in mine.items():
            if i == pk:
                continue
            score = jaccard(theirs, other)
            for edge in bins:
                if score >= edge:
                    bins[edge] += 1
    return {f"pairs_per_rewrite_ge_{k}": round(v / len(mine), 3) for k, v in bins.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (default: BENCH_DATABASE_URL)")
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: 100,000 rewrites")
    parser.add_argument("--checks", type=int, default=40)
    parser.add_argument("--reuse", action="store_true", help="keep the built campaign")
    parser.add_argument("--label", default="", help="stored with the results (e.g. before)")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--build-index",
        action="store_true",
        help="first run `similarity_index large` (the deploy step), measured",
    )
    parser.add_argument("--no-recheck", action="store_true", help="no checks after decontaminate")
    parser.add_argument(
        "--before", type=Path, help="results of the code before (a results file), kept alongside"
    )
    parser.add_argument(
        "--decontaminate-timeout", type=float, default=None, help="stop it after this many s"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not harness.configure_postgres(args.database_url):
        print(f"{Path(__file__).name}: skipped, needs PostgreSQL (BENCH_DATABASE_URL)")
        return
    if args.child:
        kind = args.child[0]
        record = child_check(int(args.child[1])) if kind == "check" else child_command(kind)
        print(json.dumps(record))
        return

    import large

    from annotation.models import Campaign

    record: dict[str, Any] = {"scale": args.scale, "label": args.label}
    started = time.perf_counter()
    if not args.reuse:
        n = large.sizes(args.scale)
        built = large.build(
            n["seeds"], n["rewrites"], sampled=n["sampled"], active=n["active"], events=False
        )
        record["build_seconds"] = built.get("total_seconds")
        campaign = Campaign.objects.get(slug=large.SLUG)
        t = time.perf_counter()
        record["texts"] = realistic_texts(campaign.pk)
        record["texts"]["seconds"] = round(time.perf_counter() - t, 1)
        print(f"  texts: {record['texts']}", flush=True)
        t = time.perf_counter()
        record["references"] = load_references()
        record["references_seconds"] = round(time.perf_counter() - t, 1)
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
    record["similarity_distribution"] = similarity_distribution()
    print(f"  similarity: {record['similarity_distribution']}", flush=True)
    if args.build_index:
        record["similarity_index"] = run_child("similarity_index")
    record["check"] = run_child("check", str(args.checks))
    record["decontaminate"] = run_child("decontaminate", timeout=args.decontaminate_timeout)
    # The checks again after decontaminate (signatures and bands are all there by then).
    if not args.no_recheck:
        record["check_after_decontaminate"] = run_child("check", str(args.checks))
    record["load_average"] = os.getloadavg()
    record["total_seconds"] = round(time.perf_counter() - started, 1)
    if args.before:
        before = json.loads(args.before.read_text())
        record["before"] = {
            k: before.get(k)
            for k in ("commit", "recorded_at", "scale", "texts", "references", "check")
            + ("decontaminate", "similarity_distribution", "load_average")
        }
    if not args.no_write:
        harness.write_results("scale-quality", record)


if __name__ == "__main__":
    main()

"""Benchmark (issue 18, PostgreSQL only): importing a large seed file, at 100,000 and 1,000,000
seeds, against a streaming COPY anchor measured in the same run.

A synthetic JSON-lines seed file is written once in a temporary directory (realistic lengths:
a title and a question of a few sentences, log-normally distributed around 600 characters,
with code-like words; a source URL, a language hint and a little metadata; the 40
subcategories of the built-in CodeArena taxonomy; one seed in 2,000 repeats the content of an
earlier one, so the deduplication has work to do). Then, for each size, each step runs in a
process of its own on an empty campaign (so the peak RSS is that step's):

- ``anchor``: the file read line by line, ``json.loads``, the content hash the import computes
  (``seed_content_hash``), and the rows streamed with COPY straight into the seed table, in one
  transaction: the floor for any import of the file;
- ``command``: ``manage.py import_seeds`` (the production path for a large file on disk);
- ``job``: the upload's check job, then the import job (``seed_import_run``), as the browser
  and the API run them (the upload limit is raised for the benchmark).

Each step records seconds, peak RSS of its process above what it had before the step, and
(a second, traced run, ``--trace-sizes``) the tracemalloc peak; the results file gives the
ratio of each step to the anchor and how time and memory grow from the smallest to the
largest size. Writes bench/results/scale-import-postgresql.json.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/mybench \\
        .venv/bin/python bench/scale_import.py [--sizes 100000 1000000] [--steps anchor command job]
        [--trace-sizes 100000] [--keep-dir DIR]

The database is emptied. Skipped (exit 0) without PostgreSQL."""

import argparse
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

ROOT = harness.ROOT
SLUG = "import-bench"
WORDS_TEXT = (
    "array list map dictionary string integer float pointer reference class object method "
    "function closure lambda thread process socket request response server client query table "
    "index column row join cursor transaction lock queue stack heap tree graph node edge path "
    "file stream buffer byte encoding parser token regex loop recursion iterator generator "
    "exception error warning timeout memory cache session cookie header route template widget "
    "button form input event handler callback promise future async await module package import "
    "build compile link debug test deploy container image volume network port config variable"
)
WORDS = WORDS_TEXT.split()
CODE = (
    "for (int i = 0; i < n; ++i) { total += values[i]; }",
    "df = pd.read_csv(path, parse_dates=['when'])",
    "SELECT id, name FROM users WHERE created_at > now() - interval '1 day';",
    "const result = await fetch(url).then(r => r.json());",
    "fn main() { let v: Vec<u32> = (0..10).collect(); }",
)
LANGS = ("python", "javascript", "java", "c++", "rust", "go", "sql", "")


def write_seed_file(path: Path, n: int) -> int:
    """``n`` seeds as JSON lines (see the module's docstring); returns the file's size."""
    from annotation.vocabulary import builtin_taxonomy

    subs = [s["name"] for s in builtin_taxonomy("codearena")["subcategories"]]
    rng = random.Random(18)
    sentences = []
    for _ in range(2000):
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 18)))
        sentences.append(f"How do I handle the {words}?")
    texts: list[tuple[str, str]] = []
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            if i % 2000 == 1999:
                title, text = texts[rng.randrange(len(texts))]  # the same question again
            else:
                target = min(int(rng.lognormvariate(math.log(600), 0.6)), 8000)
                parts, length = [], 0
                while length < target:
                    part = rng.choice(sentences) if rng.random() < 0.85 else rng.choice(CODE)
                    parts.append(part)
                    length += len(part) + 1
                text = " ".join(parts) + f" (#{i})"
                title = f"Question {i}: {parts[0][:60]}"
                if len(texts) < 5000:
                    texts.append((title, text))
            record: dict[str, Any] = {
                "id": f"so-{i:07d}",
                "title": title,
                "text": text,
                "subcategory": subs[i % len(subs)],
                "source_url": f"https://stackoverflow.com/questions/{7000000 + i}",
                "language": LANGS[i % len(LANGS)],
                "metadata": {"source": "bench", "votes": i % 97, "tags": ["a", "b"][: i % 3]},
            }
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path.stat().st_size


# --- one step, in a process of its own ---------------------------------------------------------


def _setup_campaign() -> Any:
    from annotation.services import campaign_create, user_ensure
    from review.services import membership_add

    harness.fresh_database()
    campaign = campaign_create(slug=SLUG, name="Import benchmark", taxonomy="codearena")
    curator = user_ensure(username="curator")
    membership_add(campaign=campaign, user=curator, role="curator")
    return campaign, curator


def _anchor(campaign: Any, path: Path) -> int:
    """Parse, hash and COPY straight into the seed table: no validation, no deduplication."""
    from django.db import connection, transaction
    from django.utils import timezone

    from annotation.models import Subcategory
    from annotation.services.seeds import seed_content_hash

    sub_ids = dict(Subcategory.objects.filter(campaign=campaign).values_list("name", "id"))
    now = timezone.now()
    rows = 0
    with transaction.atomic(), connection.cursor() as cursor:
        copy_sql = (
            "COPY annotation_seed (campaign_id, external_id, title, body, answer, source_url, "
            "cluster, subcategory_id, language_hint, metadata, content_hash, status, created_at) "
            "FROM STDIN"
        )
        with cursor.connection.cursor().copy(copy_sql) as copy, path.open(encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                digest = seed_content_hash(title=r.get("title", ""), text=r["text"])
                if int(r["id"][3:]) % 2000 == 1999:
                    continue  # the generator's repeated content (unique content constraint)
                copy.write_row(
                    (
                        campaign.pk,
                        r["id"],
                        r.get("title", ""),
                        r["text"],
                        "",
                        r.get("source_url", ""),
                        "",
                        sub_ids.get(r.get("subcategory")),
                        r.get("language", ""),
                        json.dumps(r.get("metadata") or {}),
                        digest,
                        "pooled",
                        now,
                    )
                )
                rows += 1
    return rows


def _command(campaign: Any, path: Path) -> int:
    import io

    from django.core.management import call_command

    out, err = io.StringIO(), io.StringIO()
    call_command("import_seeds", campaign.slug, str(path), "--no-progress", stdout=out, stderr=err)
    print(out.getvalue().strip()[-300:])
    return campaign.seeds.count()


def _job(campaign: Any, curator: Any, path: Path, results: dict) -> int:
    from django.core.files import File

    from annotation.jobs import seed_import_confirm, seed_import_start

    started = time.perf_counter()
    with path.open("rb") as fh:
        seed_import = seed_import_start(
            campaign=campaign, actor=curator, upload=File(fh, name=path.name)
        )
    seed_import.refresh_from_db()
    assert seed_import.status == "checked", seed_import.error
    results["check_seconds"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    seed_import_confirm(import_id=seed_import.pk, actor=curator)
    seed_import.refresh_from_db()
    assert seed_import.status == "done", seed_import.error
    results["import_seconds"] = round(time.perf_counter() - started, 2)
    return int(seed_import.report["new"])


def child(step: str, path: Path, trace: bool) -> dict:
    from django.db import connection

    campaign, curator = _setup_campaign()
    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")
    results: dict[str, Any] = {"step": step, "traced": trace}
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    if step == "anchor":
        results["rows"] = _anchor(campaign, path)
    elif step == "command":
        results["rows"] = _command(campaign, path)
    elif step == "job":
        results["rows"] = _job(campaign, curator, path, results)
    else:
        raise SystemExit(f"unknown step {step}")
    results["seconds"] = round(time.perf_counter() - started, 2)
    if trace:
        results["tracemalloc_peak_mib"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    results["peak_rss_mib"] = round(peak / 1024, 1)
    results["rss_growth_mib"] = round((peak - rss_before) / 1024, 1)
    return results


# --- the run -----------------------------------------------------------------------------------


def _run_child(step: str, path: Path, *, trace: bool, env: dict[str, str]) -> dict:
    cmd = [sys.executable, __file__, "--child", step, "--file", str(path)]
    if trace:
        cmd.append("--trace")
    run = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stdout[-3000:], run.stderr[-6000:])
        raise SystemExit(f"{step} on {path.name} failed")
    result = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"  {step:<8} {'traced ' if trace else ''}{json.dumps(result)}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (default: BENCH_DATABASE_URL)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--steps", nargs="+", default=["anchor", "command", "job"])
    parser.add_argument("--trace-sizes", type=int, nargs="*", default=[100_000])
    parser.add_argument("--keep-dir", help="write (or reuse) the seed files here")
    parser.add_argument("--label", default="", help="a note stored with the results")
    parser.add_argument("--no-write", action="store_true", help="print, do not write results")
    parser.add_argument(
        "--merge", action="store_true", help="keep the sizes of the results file not run now"
    )
    parser.add_argument("--before", help="a results file of the code before, kept alongside")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ["DJANGO_DEBUG"] = "0"  # no debug query log holding every statement
    os.environ.setdefault("CURATION_UPLOAD_MAX_MB", "8192")
    os.environ.setdefault("CURATION_MEDIA_ROOT", tempfile.mkdtemp(prefix="bench-media-"))
    if not harness.configure_postgres(args.database_url):
        print("bench/scale_import.py: skipped (needs PostgreSQL: set BENCH_DATABASE_URL)")
        return
    if args.child:
        print(json.dumps(child(args.child, Path(args.file), args.trace)))
        return

    workdir = Path(args.keep_dir or tempfile.mkdtemp(prefix="bench-import-"))
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ}
    record: dict[str, Any] = {"label": args.label, "sizes": {}, "load_before": os.getloadavg()}
    for n in sorted(set(args.sizes) | set(args.trace_sizes)):
        path = workdir / f"seeds-{n}.jsonl"
        if not path.exists():
            started = time.perf_counter()
            size = write_seed_file(path, n)
            print(f"wrote {path} ({size / 2**20:.0f} MiB) in {time.perf_counter() - started:.0f}s")
        size_mib = round(path.stat().st_size / 2**20, 1)
        entry: dict[str, Any] = {"file_mib": size_mib, "load": os.getloadavg()}
        print(f"== {n} seeds ({size_mib} MiB)", flush=True)
        if n in args.sizes:
            for step in args.steps:
                entry[step] = _run_child(step, path, trace=False, env=env)
            if "anchor" in entry:
                for step in args.steps:
                    if step != "anchor":
                        entry[step]["ratio_to_anchor"] = round(
                            entry[step]["seconds"] / entry["anchor"]["seconds"], 2
                        )
        if n in args.trace_sizes:
            entry["traced"] = {
                step: _run_child(step, path, trace=True, env=env)
                for step in args.steps
                if step != "anchor"
            }
        record["sizes"][str(n)] = entry
        if not args.keep_dir:
            path.unlink()
    target = ROOT / "bench" / "results" / "scale-import-postgresql.json"
    if args.merge and target.exists():
        earlier = json.loads(target.read_text())
        record["sizes"] = {**earlier.get("sizes", {}), **record["sizes"]}
        record.setdefault("before", earlier.get("before"))
    if args.before:
        record["before"] = json.loads(Path(args.before).read_text())
    timed_sizes = sorted(
        int(k) for k, v in record["sizes"].items() if all(step in v for step in args.steps)
    )
    if len(timed_sizes) >= 2:
        small, large = record["sizes"][str(timed_sizes[0])], record["sizes"][str(timed_sizes[-1])]
        factor = timed_sizes[-1] / timed_sizes[0]
        record["growth"] = {
            step: {
                "size_factor": factor,
                "time_factor": round(large[step]["seconds"] / small[step]["seconds"], 2),
                "rss_growth_mib": [small[step]["rss_growth_mib"], large[step]["rss_growth_mib"]],
            }
            for step in args.steps
        }
    record["load_after"] = os.getloadavg()
    print(json.dumps(record, indent=2))
    if not args.no_write:
        harness.write_results("scale-import", record)


if __name__ == "__main__":
    main()

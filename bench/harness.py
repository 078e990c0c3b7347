"""Shared by the benchmarks: Django set-up on a throw-away database, a fresh schema, timing with
SQL query counts, and the results file (written atomically, with the machine and commit)."""

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def configure(default_sqlite: Path) -> None:
    """Point Django at BENCH_DATABASE_URL (default: the SQLite file ``default_sqlite``), with
    in-process Celery, and set it up. Call before importing any project module."""
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{default_sqlite}")
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(ROOT.parent / "shared" / "tiktoken"))
    import django

    django.setup()


def configure_postgres(database_url: str | None) -> bool:
    """For the PostgreSQL-only benchmarks: ``database_url`` (their ``--database-url``), when
    given, replaces BENCH_DATABASE_URL; if that is PostgreSQL, :func:`configure` Django on it and
    return True. Otherwise return False with Django untouched: the caller says it skipped."""
    if database_url:
        os.environ["BENCH_DATABASE_URL"] = database_url
    if not os.environ.get("BENCH_DATABASE_URL", "").startswith("postgres"):
        return False
    configure(ROOT / "bench" / "unused.sqlite3")
    return True


def fresh_database() -> None:
    """An empty, migrated database: the SQLite file is removed, PostgreSQL is flushed."""
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor == "sqlite":
        Path(connection.settings_dict["NAME"]).unlink(missing_ok=True)
    call_command("migrate", verbosity=0)
    if connection.vendor != "sqlite":
        call_command("flush", "--noinput", verbosity=0)


def seed_pool_lines(*, repeat: int) -> list[str]:
    """A seed pool built by ``bench/make_seed_pool.py`` from the real prompts in ../shared,
    ``repeat`` copies of each (varied so none is a duplicate), as jsonl lines."""
    pool = Path(tempfile.mkdtemp()) / "pool.jsonl"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "make_seed_pool.py"),
            "--out",
            str(pool),
            "--repeat",
            str(repeat),
        ],
        check=True,
    )
    return pool.read_text(encoding="utf-8").split("\n")  # not splitlines(): U+2028 is text


def timed(results: dict, name: str, fn, *, count: int = 1) -> Any:
    """Run ``fn`` once, record seconds, per-item milliseconds and SQL queries under ``name``."""
    from django.db import connection

    queries = 0

    def count_query(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    started = time.perf_counter()
    with connection.execute_wrapper(count_query):
        value = fn()
    elapsed = time.perf_counter() - started
    results[name] = {
        "seconds": round(elapsed, 4),
        "count": count,
        "per_item_ms": round(1000 * elapsed / count, 3),
        "queries": queries,
    }
    print(f"{name:<28} {elapsed:8.3f}s  {count:>6} items  {queries:>7} queries")
    return value


def _git_state() -> dict:
    """The commit measured, and tracked files changed on top of it (figures depend on both)."""

    def git(*args: str) -> str:
        run = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return run.stdout.strip() if run.returncode == 0 else ""

    changed = git("diff", "--name-only", "HEAD")
    return {"commit": git("rev-parse", "HEAD"), "modified": changed.splitlines()}


def write_results(name: str, record: dict) -> Path:
    """bench/results/<name>-<vendor>.json: ``record`` with the database, machine and commit,
    written to a temporary file and renamed."""
    from django.db import connection

    full = {
        "database": connection.vendor,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **_git_state(),
        **record,
    }
    target = ROOT / "bench" / "results" / f"{name}-{connection.vendor}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=target.parent, prefix=f".{target.name}.", suffix=".tmp", delete=False
    ) as fh:
        fh.write(json.dumps(full, indent=2) + "\n")
        tmp = Path(fh.name)
    tmp.chmod(0o644)  # mkstemp makes it 0600; results are for everyone to read
    os.replace(tmp, target)
    print(f"wrote {target}")
    return target

"""Scale-out check (issue 14) and soak (issue 17): two gunicorn instances, two Celery workers and
beat on PostgreSQL and Redis, set up exactly as README "Production" says, driven by a bounded
concurrent scenario split across both instances; then every invariant is checked against the
database. With --faults (``make soak``) the scenario runs in rounds for --duration seconds while
web workers, whole web instances, Celery pool children (mid-release, mid-check) and whole Celery
workers are killed with SIGKILL and restarted.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ci CELERY_BROKER_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python ops/scaleout.py [--faults --duration 600] [--results FILE]

It never touches the databases it is given: it recreates ``<name>_scaleout`` (SCALEOUT_DATABASE
overrides the name) and uses Redis databases SCALEOUT_REDIS_DB (broker, default 9) and
SCALEOUT_REDIS_CACHE_DB (cache, default 10) on CELERY_BROKER_URL's server, both flushed at start.
Every process it starts is stopped on exit (also on failure and Ctrl-C). Exit status 0: every
invariant held; 1: an invariant failed (named); 2: the set-up or the run could not complete.

Only the standard library, requests, and what the project itself installs (psycopg, redis, celery)
are used here; the deployment runs from the environment alone.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
BIN = Path(sys.executable).parent
SLUG = "scaleout"
PANEL_SIZE = 4
THRESHOLD = 3
# Event kinds that record a transition that happens once per object: two rows for one object
# would mean the transition (or its job) ran twice.
ONCE_PER_OBJECT = (
    "assignment.claimed",
    "assignment.submitted",
    "seed.done",
    "rewrite.draft_started",
    "rewrite.submitted",
    "rewrite.accepted",
    "rewrite.rejected",
    "rewrite.no_consensus",
    "ballot.opened",
    "ballot.cast",
    "release.queued",
    "release.done",
    "release.failed",
)
DECIDED = ("accepted", "rejected", "no_consensus")


class SetupError(Exception):
    """The deployment could not be set up or started (exit status 2)."""


# --- pure helpers (tests/test_scaleout_script.py) ---------------------------------------------


def scaleout_database_url(url: str, name: str | None = None) -> tuple[str, str, str]:
    """(maintenance URL, scale-out database URL, scale-out database name) for a PostgreSQL
    ``DATABASE_URL``: the scale-out database is ``<name>_scaleout`` unless ``name`` is given."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise SetupError(f"DATABASE_URL must be a PostgreSQL URL (postgres://...), not {url!r}")
    base = parts.path.lstrip("/") or "postgres"
    target = name or f"{base}_scaleout"
    if not target.replace("_", "").isalnum():
        raise SetupError(f"Bad scale-out database name {target!r}: letters, digits and '_' only")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    return maintenance, urlunsplit(parts._replace(path=f"/{target}")), target


def redis_url_with_db(url: str, db: int) -> str:
    """``url`` (redis://host:port/N) pointed at database ``db``."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise SetupError(f"CELERY_BROKER_URL must be a Redis URL (redis://...), not {url!r}")
    return urlunsplit(parts._replace(path=f"/{db}", query=""))


def percentile(values: list[float], p: float) -> float | None:
    """The p-th percentile (nearest rank) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]


@dataclass
class Acks:
    """Every write the deployment acknowledged (a 2xx response the client received)."""

    claims: set[int] = field(default_factory=set)
    drafts: dict[int, int] = field(default_factory=dict)  # assignment -> highest acked version
    submitted: dict[int, int] = field(default_factory=dict)  # rewrite -> assignment
    votes: dict[int, str] = field(default_factory=dict)  # ballot -> decision
    releases: set[int] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def claim(self, assignment: int) -> None:
        with self.lock:
            self.claims.add(assignment)

    def draft(self, assignment: int, version: int) -> None:
        with self.lock:
            self.drafts[assignment] = max(version, self.drafts.get(assignment, 0))

    def submit(self, rewrite: int, assignment: int) -> None:
        with self.lock:
            self.submitted[rewrite] = assignment

    def vote(self, ballot: int, decision: str) -> None:
        with self.lock:
            self.votes[ballot] = decision

    def release(self, release: int) -> None:
        with self.lock:
            self.releases.add(release)

    def counts(self) -> dict[str, int]:
        return {
            "claims": len(self.claims),
            "draft_saves_assignments": len(self.drafts),
            "submitted_rewrites": len(self.submitted),
            "votes": len(self.votes),
            "releases": len(self.releases),
        }


@dataclass
class Facts:
    """What the database holds after the run (``collect_facts``)."""

    assignments: dict[int, str]  # id -> status
    draft_versions: dict[int, int]  # assignment -> version of its first revision
    rewrites: dict[int, dict[str, Any]]  # id -> {status, assignment, panel_size}
    ballots: dict[int, dict[str, Any]]  # id -> {rewrite, status, decision}
    seeds_with_two_active: list[int]
    checks: dict[int, str]  # rewrite -> RewriteCheck status (missing: no row)
    tokens_missing: list[int]  # submitted-or-later rewrites without a token count
    duplicate_events: list[tuple[str, int, str, int]]  # (object type, id, kind, rows)
    releases: dict[int, dict[str, Any]]  # id -> {status, done_events, file_problems}


@dataclass
class Outcome:
    name: str
    ok: bool
    detail: str


def _few(items: Iterable[Any], n: int = 8) -> str:
    items = list(items)
    shown = ", ".join(str(i) for i in items[:n])
    return shown + (f" (+{len(items) - n} more)" if len(items) > n else "")


def check_invariants(acks: Acks, facts: Facts) -> list[Outcome]:
    """Every invariant of the scale-out proof, each with what broke it (if anything)."""
    out: list[Outcome] = []

    def add(name: str, bad: list[Any], what: str) -> None:
        out.append(Outcome(name, not bad, f"{len(bad)} {what}: {_few(bad)}" if bad else "ok"))

    add(
        "acknowledged claims are stored",
        sorted(a for a in acks.claims if a not in facts.assignments),
        "acknowledged assignments missing",
    )
    add(
        "acknowledged draft saves are stored",
        sorted(
            f"{a} (acked v{v}, stored v{facts.draft_versions.get(a)})"
            for a, v in acks.drafts.items()
            if facts.draft_versions.get(a, -1) < v
        ),
        "draft saves lost",
    )
    add(
        "acknowledged submits are stored",
        sorted(
            r
            for r, a in acks.submitted.items()
            if r not in facts.rewrites
            or facts.rewrites[r]["status"] == "draft"
            or facts.rewrites[r]["assignment"] != a
        ),
        "submitted rewrites missing or still drafts",
    )
    add(
        "acknowledged votes are stored",
        sorted(
            f"{b} (acked {d}, stored {facts.ballots.get(b)})"
            for b, d in acks.votes.items()
            if b not in facts.ballots
            or facts.ballots[b]["status"] != "cast"
            or facts.ballots[b]["decision"] != d
        ),
        "acknowledged votes missing or different",
    )
    add(
        "acknowledged releases are done",
        sorted(r for r in acks.releases if facts.releases.get(r, {}).get("status") != "done"),
        "releases not done",
    )
    add(
        "no seed has two active assignments",
        facts.seeds_with_two_active,
        "seeds with two active assignments",
    )
    by_rewrite: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for ballot in facts.ballots.values():
        by_rewrite[ballot["rewrite"]].append(ballot)
    bad_panels = []
    for rid, rewrite in sorted(facts.rewrites.items()):
        if rewrite["status"] not in DECIDED:
            continue
        ballots = by_rewrite.get(rid, [])
        cast = sum(1 for b in ballots if b["status"] == "cast")
        pending = sum(1 for b in ballots if b["status"] == "pending")
        if cast != rewrite["panel_size"] or pending:
            bad_panels.append(f"{rid} ({cast} cast of {rewrite['panel_size']}, {pending} pending)")
    add("every decided rewrite has exactly panel-size votes", bad_panels, "decided rewrites")
    submitted = sorted(r for r, v in facts.rewrites.items() if v["status"] != "draft")
    add(
        "every submitted rewrite was checked once (RewriteCheck done)",
        [
            f"{r} ({facts.checks.get(r, 'no row')})"
            for r in submitted
            if facts.checks.get(r) != "done"
        ],
        "rewrites without a finished check",
    )
    add(
        "every submitted rewrite has its token count",
        facts.tokens_missing,
        "rewrites without a token count",
    )
    add(
        "no transition recorded twice",
        [f"{t}:{i} {k} x{n}" for t, i, k, n in facts.duplicate_events],
        "objects with a repeated once-only event",
    )
    bad_releases = []
    for rid, rel in sorted(facts.releases.items()):
        if rel["status"] == "done" and rel["done_events"] != 1:
            bad_releases.append(f"{rid}: {rel['done_events']} release.done events")
        for problem in rel.get("file_problems", []):
            bad_releases.append(f"{rid}: {problem}")
    add("each release finished once, files match its manifest", bad_releases, "problems")
    return out


# --- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return sorted(found)


class Proc:
    """One long-running process of the deployment, in its own process group, logging to a file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logdir: Path) -> None:
        self.name, self.argv, self.env, self.logdir = name, argv, env, logdir
        self.popen: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = (self.logdir / f"{self.name}.log").open("ab")
        log.write(f"\n--- start {self.starts}: {' '.join(self.argv)}\n".encode())
        log.flush()
        self.popen = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (the master and its workers / pool children)."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)

    def stop(self, grace: float = 10.0) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.kill(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(grace)
        self.kill(signal.SIGKILL)  # stragglers of the group (pool children, workers)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(5)

    def log_tail(self, lines: int = 30) -> str:
        path = self.logdir / f"{self.name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# --- HTTP clients -------------------------------------------------------------------------------


class Stats:
    """Requests per kind: status classes, connection errors, latencies of answered requests."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.kinds: dict[str, dict[str, Any]] = defaultdict(
            lambda: {"2xx": 0, "4xx": 0, "5xx": 0, "other": 0, "conn_errors": 0, "ms": []}
        )
        self.five_xx: list[dict[str, Any]] = []

    def record(self, kind: str, status: int | None, ms: float, path: str = "") -> None:
        with self.lock:
            row = self.kinds[kind]
            if status is None:
                row["conn_errors"] += 1
                return
            row["ms"].append(ms)
            cls = f"{status // 100}xx"
            row[cls if cls in row else "other"] += 1
            if status >= 500:
                self.five_xx.append(
                    {"kind": kind, "status": status, "path": path, "t": time.time()}
                )

    def summary(self) -> dict[str, Any]:
        with self.lock:
            rows = {}
            for kind, row in sorted(self.kinds.items()):
                rows[kind] = {
                    **{k: v for k, v in row.items() if k != "ms"},
                    "p50_ms": _round(percentile(row["ms"], 50)),
                    "p95_ms": _round(percentile(row["ms"], 95)),
                }
            total = {
                k: sum(r[k] for r in rows.values())
                for k in ("2xx", "4xx", "5xx", "other", "conn_errors")
            }
            return {"by_kind": rows, "total": total}


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


class Api:
    """A client pinned to one web instance. Connection errors (the instance or its worker was
    killed) are retried until ``patience`` runs out; a request whose response was lost is
    retried, never counted as acknowledged."""

    def __init__(self, base: str, stats: Stats, token: str = "", patience: float = 60.0) -> None:
        import requests

        self.base, self.stats, self.patience = base, stats, patience
        self.session = requests.Session()
        # The deployment runs behind a TLS-terminating proxy: production settings redirect plain
        # HTTP to HTTPS unless the (trusted) proxy says the request came over HTTPS.
        self.session.headers["X-Forwarded-Proto"] = "https"
        if token:
            self.session.headers["Authorization"] = f"Token {token}"

    def call(
        self, kind: str, method: str, path: str, body: Any = None, raw: bool = False
    ) -> tuple[int, Any]:
        """(status, JSON body, or the bytes with ``raw``) of the first answered attempt."""
        import requests

        deadline = time.monotonic() + self.patience
        delay = 0.1
        while True:
            started = time.monotonic()
            try:
                res = self.session.request(method, self.base + path, json=body, timeout=30)
            # A body cut off mid-way (its server killed while answering) is no answer either:
            # not acknowledged, retried.
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
            ) as exc:
                self.stats.record(kind, None, 0)
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{method} {path}: no answer for {self.patience:.0f}s"
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            ms = 1000 * (time.monotonic() - started)
            self.stats.record(kind, res.status_code, ms, path)
            if res.status_code in (502, 503, 504) and time.monotonic() < deadline:
                # Unavailable for a moment (a restarting database or server): counted, then
                # retried after Retry-After as a client should; not acknowledged.
                time.sleep(min(float(res.headers.get("Retry-After", "1") or 1), 5.0))
                continue
            if raw:
                return res.status_code, res.content
            try:
                data = res.json() if res.content else None
            except ValueError:
                data = None
            return res.status_code, data


# --- the deployment -----------------------------------------------------------------------------


class Deployment:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        db_url = os.environ.get("DATABASE_URL", "")
        broker = os.environ.get("CELERY_BROKER_URL", "")
        if not db_url or not broker:
            raise SetupError(
                "Set DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis): the scale-out check "
                "runs on real services."
            )
        self.admin_url, self.db_url, self.db_name = scaleout_database_url(
            db_url, os.environ.get("SCALEOUT_DATABASE")
        )
        self.broker_url = redis_url_with_db(broker, int(os.environ.get("SCALEOUT_REDIS_DB", "9")))
        self.cache_url = redis_url_with_db(
            broker, int(os.environ.get("SCALEOUT_REDIS_CACHE_DB", "10"))
        )
        if self.broker_url == self.cache_url:
            raise SetupError("SCALEOUT_REDIS_DB and SCALEOUT_REDIS_CACHE_DB must differ")
        self.tmp = Path(tempfile.mkdtemp(prefix="codearena-scaleout-"))
        self.logdir = self.tmp / "logs"
        self.logdir.mkdir()
        self.releases_dir = self.tmp / "releases"
        self.ports = [free_port(), free_port()]
        self.bases = [f"http://127.0.0.1:{p}" for p in self.ports]
        self.password = secrets.token_urlsafe(18)
        self.env = self._environment()
        self.web: list[Proc] = []
        self.workers: list[Proc] = []
        self.beat: Proc | None = None
        self.timings: dict[str, float] = {}

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_"))}
        tiktoken = os.environ.get("TIKTOKEN_CACHE_DIR") or str(SHARED / "tiktoken")
        env.update(
            {
                # README "Production": every setting from the environment.
                "DJANGO_SETTINGS_MODULE": "config.settings.production",
                "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
                "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
                "DJANGO_STATIC_ROOT": str(self.tmp / "static"),
                "DATABASE_URL": self.db_url,
                "DATABASE_CONN_MAX_AGE": "60",
                "CELERY_BROKER_URL": self.broker_url,
                "REDIS_CACHE_URL": self.cache_url,
                "CURATION_RELEASES_DIR": str(self.releases_dir),
                "CURATION_MEDIA_ROOT": str(self.tmp / "media"),
                "TIKTOKEN_CACHE_DIR": tiktoken,
                "GUNICORN_WORKERS": "2",
                "GUNICORN_THREADS": "4",
                "CELERY_BEAT_SCHEDULE_FILE": str(self.tmp / "celerybeat-schedule"),
                "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
            }
        )
        return env

    # -- set-up --

    def reset_services(self) -> None:
        import psycopg
        import redis

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.db_name}"')
        for url in (self.broker_url, self.cache_url):
            redis.Redis.from_url(url).flushdb()

    def manage(self, *argv: str, stdin: str | None = None) -> str:
        started = time.monotonic()
        run = subprocess.run(
            [str(BIN / "python"), "manage.py", *argv],
            cwd=ROOT,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=600,
        )
        took = time.monotonic() - started
        if run.returncode != 0:
            raise SetupError(
                f"manage.py {' '.join(argv)} failed ({run.returncode}):\n"
                f"{run.stdout[-2000:]}{run.stderr[-3000:]}"
            )
        print(f"  manage.py {' '.join(argv)[:70]:<70} {took:5.1f}s", flush=True)
        return run.stdout

    def users(self) -> dict[str, list[str]]:
        return {
            "curator": ["cura"],
            "annotator": [f"anno{i}" for i in range(1, self.args.annotators + 1)],
            "reviewer": [f"revi{i}" for i in range(1, self.args.reviewers + 1)],
        }

    def setup(self, seeds_needed: int) -> None:
        started = time.monotonic()
        print(f"set-up: database {self.db_name}, broker {self.broker_url}, cache {self.cache_url}")
        self.reset_services()
        self.manage("check", "--deploy", "--fail-level", "WARNING")
        self.manage("collectstatic", "--noinput", "--verbosity", "0")
        self.manage("migrate", "--noinput", "--verbosity", "0")
        self.manage(
            "create_campaign",
            SLUG,
            "--name",
            "Scale-out check",
            "--panel-size",
            str(PANEL_SIZE),
            "--threshold",
            str(THRESHOLD),
        )
        jobs = [
            (role, name) for role, names in self.users().items() for name in names
        ]  # one add_member per person, two at a time
        errors: list[BaseException] = []

        def add(role: str, name: str) -> None:
            try:
                self.manage(
                    "add_member",
                    SLUG,
                    name,
                    "--role",
                    role,
                    "--email",
                    f"{name}@scaleout.invalid",
                    "--password-stdin",
                    stdin=self.password + "\n",
                )
            except BaseException as exc:  # reported below
                errors.append(exc)

        for i in range(0, len(jobs), 2):
            pair = [threading.Thread(target=add, args=job) for job in jobs[i : i + 2]]
            for t in pair:
                t.start()
            for t in pair:
                t.join()
        if errors:
            raise errors[0]
        pool = self.seed_file(seeds_needed)
        self.manage("import_seeds", SLUG, str(pool), "--no-progress")
        self.manage("sample_seeds", SLUG, "--size", str(seeds_needed), "--seed", "42")
        humaneval = SHARED / "data" / "references" / "humaneval" / "HumanEval.jsonl.gz"
        if humaneval.exists():
            self.manage("load_references", "humaneval", str(humaneval))
        self.timings["setup_s"] = round(time.monotonic() - started, 1)

    def seed_file(self, count: int) -> Path:
        """``count`` real prompts (bench/make_seed_pool.py over ../shared/data/seed_pools), or
        generated ones where that data is absent."""
        out = self.tmp / "seeds.jsonl"
        pool = self.tmp / "pool.jsonl"
        lines: list[str] = []
        if (SHARED / "data" / "seed_pools").is_dir():
            subprocess.run(
                [
                    str(BIN / "python"),
                    str(ROOT / "bench" / "make_seed_pool.py"),
                    "--out",
                    str(pool),
                ],
                check=True,
                capture_output=True,
            )
            lines = [line for line in pool.read_text(encoding="utf-8").split("\n") if line]
        while len(lines) < count:
            i = len(lines)
            lines.append(
                json.dumps(
                    {
                        "id": f"gen-{i}",
                        "text": f"Generated task {i}: write a function that returns the {i}-th "
                        f"prime number, and explain its complexity ({secrets.token_hex(4)}).",
                        "subcategory": "Algorithm Design",
                    }
                )
            )
        out.write_text("\n".join(lines[: count + count // 4]) + "\n", encoding="utf-8")
        return out

    # -- processes --

    def start(self) -> None:
        started = time.monotonic()
        gunicorn = str(BIN / "gunicorn")
        celery = str(BIN / "celery")
        for i, port in enumerate(self.ports, start=1):
            env = {**self.env, "GUNICORN_BIND": f"127.0.0.1:{port}"}
            self.web.append(
                Proc(
                    f"web{i}",
                    [gunicorn, "-c", "config/gunicorn.py", "config.wsgi"],
                    env,
                    self.logdir,
                )
            )
        for i in (1, 2):
            self.workers.append(
                Proc(
                    f"worker{i}",
                    [
                        celery,
                        "-A",
                        "config.celery_app",
                        "worker",
                        "--loglevel=INFO",
                        "--concurrency=2",
                        "-n",
                        f"scaleout{i}@%h",
                    ],
                    self.env,
                    self.logdir,
                )
            )
        self.beat = Proc(
            "beat",
            [
                celery,
                "-A",
                "config.celery_app",
                "beat",
                "--loglevel=INFO",
                f"--schedule={self.env['CELERY_BEAT_SCHEDULE_FILE']}",
            ],
            self.env,
            self.logdir,
        )
        for proc in [*self.web, *self.workers, self.beat]:
            proc.start()
        for i in range(2):
            self.wait_ready(i, timeout=90)
        self.wait_workers(timeout=60)
        self.timings["start_s"] = round(time.monotonic() - started, 1)

    def all_procs(self) -> list[Proc]:
        return [*self.web, *self.workers, *([self.beat] if self.beat else [])]

    def stop(self) -> None:
        for proc in self.all_procs():
            proc.stop()

    def probe(self, i: int) -> tuple[bool, str]:
        """Whether web instance ``i`` is ready: /readyz (200), or /accounts/login/ (200) on a
        version without /readyz."""
        import requests

        headers = {"X-Forwarded-Proto": "https"}
        try:
            res = requests.get(self.bases[i] + "/readyz", headers=headers, timeout=5)
            if res.status_code == 404:
                res = requests.get(self.bases[i] + "/accounts/login/", headers=headers, timeout=5)
        except (requests.ConnectionError, requests.Timeout) as exc:
            return False, type(exc).__name__
        return res.status_code == 200, f"{res.url} {res.status_code} {res.text[:200]}"

    def wait_ready(self, i: int, timeout: float) -> float:
        started = time.monotonic()
        last = ""
        while time.monotonic() - started < timeout:
            if not self.web[i].alive():
                raise SetupError(f"web{i + 1} exited:\n{self.web[i].log_tail()}")
            ok, last = self.probe(i)
            if ok:
                return time.monotonic() - started
            time.sleep(0.25)
        raise SetupError(
            f"web{i + 1} not ready after {timeout:.0f}s ({last}):\n{self.web[i].log_tail()}"
        )

    def celery(self) -> Any:
        from celery import Celery

        if not hasattr(self, "_celery"):
            # Celery prefers the CELERY_BROKER_URL environment variable to the broker it is
            # given (CI sets it to the suite's Redis database): point it at the cluster's.
            os.environ["CELERY_BROKER_URL"] = self.broker_url
            self._celery = Celery("scaleout-control", broker=self.broker_url)
        return self._celery

    def wait_workers(self, timeout: float, names: Iterable[str] | None = None) -> float:
        started = time.monotonic()
        wanted = set(names or [f"scaleout{i}" for i in (1, 2)])
        while time.monotonic() - started < timeout:
            for proc in self.workers:
                if not proc.alive():
                    raise SetupError(f"{proc.name} exited:\n{proc.log_tail()}")
            replies = self.celery().control.ping(timeout=1.0) or []
            up = {name.split("@")[0] for reply in replies for name in reply}
            if wanted <= up:
                return time.monotonic() - started
        raise SetupError(f"Celery workers {sorted(wanted)} not up after {timeout:.0f}s")

    def active_tasks(self, reserved: bool = False) -> list[dict[str, Any]]:
        """Tasks running now in every worker (name, args, worker_pid); with ``reserved``, also
        the messages workers took and have not started."""
        inspect = self.celery().control.inspect(timeout=0.5)
        replies = inspect.active() or {}
        found = [dict(task, worker=w) for w, tasks in replies.items() for task in tasks]
        if reserved:
            for w, tasks in (inspect.reserved() or {}).items():
                found += [dict(task, worker=w, reserved=True) for task in tasks]
        return found

    # -- database facts --

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.db_url) as conn:
            return list(conn.execute(query, params).fetchall())

    def collect_facts(self) -> Facts:
        campaign = self.sql("SELECT id FROM annotation_campaign WHERE slug = %s", (SLUG,))[0][0]
        assignments = dict(
            self.sql(
                "SELECT id, status FROM annotation_assignment WHERE campaign_id = %s", (campaign,)
            )
        )
        draft_versions = dict(
            self.sql(
                "SELECT assignment_id, version FROM annotation_rewrite "
                "WHERE campaign_id = %s AND revision = 1",
                (campaign,),
            )
        )
        rewrites = {
            rid: {"status": status, "assignment": aid, "panel_size": panel}
            for rid, status, aid, panel in self.sql(
                "SELECT id, status, assignment_id, panel_size FROM annotation_rewrite "
                "WHERE campaign_id = %s",
                (campaign,),
            )
        }
        ballots = {
            bid: {"rewrite": rid, "status": status, "decision": decision}
            for bid, rid, status, decision in self.sql(
                "SELECT id, rewrite_id, status, decision FROM review_ballot WHERE campaign_id = %s",
                (campaign,),
            )
        }
        two_active = [
            row[0]
            for row in self.sql(
                "SELECT seed_id FROM annotation_assignment WHERE campaign_id = %s AND "
                "status = 'active' GROUP BY seed_id HAVING count(*) > 1",
                (campaign,),
            )
        ]
        checks = dict(
            self.sql(
                "SELECT rewrite_id, status FROM quality_rewritecheck WHERE campaign_id = %s",
                (campaign,),
            )
        )
        tokens_missing = [
            row[0]
            for row in self.sql(
                "SELECT id FROM annotation_rewrite WHERE campaign_id = %s AND status <> 'draft' "
                "AND question_tokens IS NULL ORDER BY id",
                (campaign,),
            )
        ]
        duplicates = [
            (t, i, k, n)
            for t, i, k, n in self.sql(
                "SELECT object_type, object_id, kind, count(*) FROM annotation_event "
                "WHERE campaign_id = %s AND kind = ANY(%s) "
                "GROUP BY object_type, object_id, kind HAVING count(*) > 1",
                (campaign, list(ONCE_PER_OBJECT)),
            )
        ]
        releases: dict[int, dict[str, Any]] = {}
        for rid, name, status, files in self.sql(
            "SELECT id, name, status, files FROM exports_release WHERE campaign_id = %s",
            (campaign,),
        ):
            done = self.sql(
                "SELECT count(*) FROM annotation_event WHERE object_type = 'release' "
                "AND object_id = %s AND kind = 'release.done'",
                (rid,),
            )[0][0]
            releases[rid] = {
                "name": name,
                "status": status,
                "done_events": done,
                "file_problems": self.release_file_problems(name, files)
                if status == "done"
                else [],
            }
        return Facts(
            assignments=assignments,
            draft_versions=draft_versions,
            rewrites=rewrites,
            ballots=ballots,
            seeds_with_two_active=two_active,
            checks=checks,
            tokens_missing=tokens_missing,
            duplicate_events=duplicates,
            releases=releases,
        )

    def release_file_problems(self, name: str, recorded: dict[str, Any]) -> list[str]:
        """Files of a done release that are missing or differ from its manifest.json, or from
        the sha256 its database row recorded (which also covers the manifest and the zip)."""
        folder = self.releases_dir / SLUG / name
        manifest_path = folder / "manifest.json"
        if not manifest_path.exists():
            return [f"{name}: no manifest.json in {folder}"]
        manifest = json.loads(manifest_path.read_text())
        problems = []
        for source, listed in (("manifest", manifest["files"]), ("release row", recorded or {})):
            if not listed:
                problems.append(f"{name}: the {source} lists no file")
            for file_name, meta in listed.items():
                path = folder / file_name
                if not path.is_file():
                    problems.append(f"{name}/{file_name} ({source}) missing")
                elif hashlib.sha256(path.read_bytes()).hexdigest() != meta["sha256"]:
                    problems.append(f"{name}/{file_name} sha256 differs from the {source}")
        return problems


# --- the scenario -------------------------------------------------------------------------------


@dataclass
class Kill:
    what: str
    target: str
    pid: int
    at: float
    during: str = ""
    recovered_s: float | None = None
    note: str = ""


class Scenario:
    def __init__(self, dep: Deployment, args: argparse.Namespace) -> None:
        self.dep, self.args = dep, args
        self.stats = Stats()
        self.acks = Acks()
        self.tokens: dict[str, str] = {}
        self.kills: list[Kill] = []
        self.rounds: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.t0 = time.monotonic()
        self.expected_409 = 0
        self.reference_rechecks: list[dict[str, Any]] = []
        # Set once the round's release ended (or none was started): the mid-release kill waits
        # for its job until then.
        self.release_over = threading.Event()

    def api(self, user: str, i: int) -> Api:
        return Api(self.dep.bases[i % 2], self.stats, self.tokens[user])

    def login_all(self) -> None:
        users = [u for names in self.dep.users().values() for u in names]
        for i, user in enumerate(users):
            api = Api(self.dep.bases[i % 2], self.stats)
            status, body = api.call(
                "token",
                "POST",
                "/api/v1/auth/token/",
                {"username": user, "password": self.dep.password},
            )
            if status != 200:
                raise SetupError(f"token for {user}: {status} {body}")
            self.tokens[user] = body["token"]

    def now(self) -> float:
        return round(time.monotonic() - self.t0, 2)

    # -- people --

    def annotator(self, user: str, i: int, quota: int, rng: random.Random) -> None:
        api = self.api(user, i)
        done = 0
        while done < quota:
            status, body = api.call(
                "claim_next", "POST", f"/api/v1/campaigns/{SLUG}/assignments/next/"
            )
            if status == 204:
                return
            if status != 201:
                time.sleep(0.2)
                continue
            aid = body["id"]
            self.acks.claim(aid)
            seed = body["seed"]
            version = body["draft"]["version"]
            text = (
                f"[{user} #{aid}] Rewrite of seed {seed['external_id']}: "
                + " ".join(str(seed["text"]).split()[:40])
                + " State the input format, the expected output and one worked example."
                + f" ({rng.random():.6f})"
            )
            full = {
                "text": text,
                "difficulty": rng.choice(["easy", "medium", "hard"]),
                "programming_languages": [
                    rng.choice(["Python", "C++", "JavaScript", "Rust", "Go"])
                ],
                "natural_language": "en",
                "subcategory": seed.get("subcategory") or "",
                "checklist": {"clear": True, "ethical": True, "solvable": True},
            }
            for payload in ({"text": text[:80]}, full):
                version = self.save(api, aid, payload, version)
            if done % 3 == 0 and version > 1:
                # A second tab's stale save: 409, and nothing changes.
                status, _ = api.call(
                    "draft_stale",
                    "PUT",
                    f"/api/v1/assignments/{aid}/draft/",
                    {**full, "version": version - 1},
                )
                if status == 409:
                    self.expected_409 += 1
                else:
                    self.errors.append(f"stale draft save of {aid} answered {status}, not 409")
            status, body = api.call("submit", "POST", f"/api/v1/assignments/{aid}/submit/")
            if status == 200:
                self.acks.submit(body["id"], aid)
            elif status >= 500 or status in (400, 404):
                self.errors.append(f"submit of {aid}: {status} {str(body)[:200]}")
            done += 1

    def save(self, api: Api, aid: int, payload: dict[str, Any], version: int) -> int:
        for _ in range(5):
            status, body = api.call(
                "draft_save",
                "PUT",
                f"/api/v1/assignments/{aid}/draft/",
                {**payload, "version": version},
            )
            if status == 200:
                self.acks.draft(aid, body["version"])
                return int(body["version"])
            if status == 409:  # a save whose answer was lost went through: read, then save again
                status, body = api.call("assignment_get", "GET", f"/api/v1/assignments/{aid}/")
                if status == 200:
                    version = body["draft"]["version"]
                continue
            time.sleep(0.2)
        return version

    def reviewer(self, user: str, i: int, stop: threading.Event, rng: random.Random) -> None:
        api = self.api(user, i)
        idle_since: float | None = None
        while True:
            status, body = api.call(
                "ballots_pending", "GET", f"/api/v1/campaigns/{SLUG}/ballots/?page_size=50"
            )
            pending = body["results"] if status == 200 else []
            if not pending:
                if stop.is_set():
                    idle_since = idle_since or time.monotonic()
                    if time.monotonic() - idle_since > 1.0:
                        return
                time.sleep(0.3)
                continue
            idle_since = None
            for ballot in pending:
                decision = "valid" if rng.random() < 0.85 else "invalid"
                vote = {"decision": decision, "reasons": [] if decision == "valid" else ["unclear"]}
                status, body = api.call(
                    "vote", "POST", f"/api/v1/ballots/{ballot['id']}/vote/", vote
                )
                if status == 200:
                    self.acks.vote(ballot["id"], decision)
                elif status >= 500 or status == 400:
                    self.errors.append(f"vote on {ballot['id']}: {status} {str(body)[:200]}")

    def curator(
        self, round_no: int, annotators_done: threading.Event, record: dict[str, Any]
    ) -> None:
        try:
            self._curator(round_no, annotators_done, record)
        finally:
            self.release_over.set()

    def _curator(
        self, round_no: int, annotators_done: threading.Event, record: dict[str, Any]
    ) -> None:
        api = self.api("cura", round_no)
        # A campaign-wide quality re-check while people work: (re)loading a reference set
        # re-checks every submitted rewrite against it.
        names = ["mbpp", "evalplus", "naturalcodebench"]
        name = names[round_no % len(names)]
        status, body = api.call(
            "reference_enable",
            "POST",
            f"/api/v1/campaigns/{SLUG}/reference-sets/available/{name}/enable/",
        )
        if status == 201:
            self.reference_rechecks.append(
                {"round": round_no, "set": name, "rechecked": body.get("rechecked")}
            )
        elif status != 404:
            self.errors.append(f"enabling reference set {name}: {status} {str(body)[:200]}")
        # A release once enough rewrites are accepted (or the annotators are done).
        while True:
            status, body = api.call(
                "rewrites_accepted",
                "GET",
                f"/api/v1/campaigns/{SLUG}/rewrites/?status=accepted&page_size=1",
            )
            accepted = body["count"] if status == 200 else 0
            if accepted >= self.args.release_after * (round_no + 1) or annotators_done.is_set():
                break
            time.sleep(0.5)
        if accepted == 0:
            return
        params = {"name": f"round-{round_no}", "codearena_meta": "omit", "stratify": "none"}
        status, body = api.call(
            "release_start", "POST", f"/api/v1/campaigns/{SLUG}/releases/", params
        )
        if status != 202:
            self.errors.append(f"release start: {status} {str(body)[:300]}")
            return
        rid = body["id"]
        self.acks.release(rid)
        record["release"] = {"id": rid, "accepted_when_started": accepted, "started_at": self.now()}
        started = time.monotonic()
        while time.monotonic() - started < self.args.release_timeout:
            status, body = api.call("release_poll", "GET", f"/api/v1/releases/{rid}/")
            if status == 200 and body["status"] in ("done", "failed"):
                break
            time.sleep(0.3)
        record["release"].update(
            status=body.get("status"),
            attempts=body.get("attempts"),
            seconds=round(time.monotonic() - started, 1),
            total=(body.get("stats") or {}).get("total"),
        )
        if body.get("status") == "done":
            # Downloaded through the web server: the bytes the job recorded.
            status, data = api.call(
                "release_file", "GET", f"/api/v1/releases/{rid}/files/manifest.json", raw=True
            )
            want = next(
                (
                    f.get("sha256")
                    for f in body.get("files") or []
                    if f.get("name") == "manifest.json"
                ),
                None,
            )
            if status != 200 or (want and hashlib.sha256(data).hexdigest() != want):
                self.errors.append(f"release {rid} manifest download: {status}, sha256 differs")

    # -- rounds --

    def run_round(
        self, round_no: int, quota: int, chaos: Callable[[int, threading.Event], None] | None
    ) -> dict[str, Any]:
        self.release_over.clear()
        record: dict[str, Any] = {
            "round": round_no,
            "started_at": self.now(),
            "quota_per_annotator": quota,
        }
        people = self.dep.users()
        annotators_done = threading.Event()
        round_over = threading.Event()
        threads: list[threading.Thread] = []

        def guarded(fn: Callable[..., None], *a: Any) -> Callable[[], None]:
            def run() -> None:
                try:
                    fn(*a)
                except Exception as exc:  # a client that gave up: reported, the run fails
                    self.errors.append(f"{fn.__name__}{a[:2]}: {exc!r}")

            return run

        annotator_threads = [
            threading.Thread(
                target=guarded(self.annotator, user, i, quota, random.Random(f"{round_no}-{user}"))
            )
            for i, user in enumerate(people["annotator"])
        ]
        reviewer_threads = [
            threading.Thread(
                target=guarded(
                    self.reviewer, user, i, annotators_done, random.Random(f"{round_no}-{user}")
                )
            )
            for i, user in enumerate(people["reviewer"])
        ]
        curator_thread = threading.Thread(
            target=guarded(self.curator, round_no, annotators_done, record)
        )
        threads = [*annotator_threads, *reviewer_threads, curator_thread]
        chaos_thread = None
        if chaos is not None:
            chaos_thread = threading.Thread(target=guarded(chaos, round_no, round_over))
            chaos_thread.start()
        for t in threads:
            t.start()
        for t in annotator_threads:
            t.join()
        annotators_done.set()
        for t in [*reviewer_threads, curator_thread]:
            t.join()
        round_over.set()
        if chaos_thread is not None:
            chaos_thread.join()
        record["ended_at"] = self.now()
        record["acknowledged_so_far"] = self.acks.counts()
        return record

    # -- faults --

    def pool_child_running(
        self, task_name: str, until: threading.Event, timeout: float
    ) -> tuple[int, list[Any], str] | None:
        """(pool pid, task args, worker) of a ``task_name`` running now, waiting for one up to
        ``timeout`` seconds or until ``until`` is set."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not until.is_set():
            for task in self.dep.active_tasks():
                if task.get("name") == task_name and task.get("worker_pid"):
                    return int(task["worker_pid"]), list(task.get("args") or []), task["worker"]
            time.sleep(0.05)
        return None

    def chaos(self, round_no: int, round_over: threading.Event) -> None:
        """One fault per round, in turn."""
        kind = [
            "web_worker",
            "pool_child_release",
            "pool_child_check",
            "web_instance",
            "celery_worker",
        ][round_no % 5]
        if kind != "pool_child_release":
            time.sleep(2.0)  # traffic first
        if kind == "web_worker":
            web = self.dep.web[round_no % 2]
            pids = children(web.pid)
            if pids:
                kill = Kill("kill -9 one gunicorn worker", web.name, pids[0], self.now())
                os.kill(pids[0], signal.SIGKILL)
                started = time.monotonic()
                while (
                    len([p for p in children(web.pid) if p != pids[0]]) < 2
                    and time.monotonic() - started < 60
                ):
                    time.sleep(0.05)
                kill.recovered_s = round(time.monotonic() - started, 2)
                kill.note = "recovered = the master forked a replacement worker"
                self.kills.append(kill)
        elif kind == "web_instance":
            i = round_no % 2
            web = self.dep.web[i]
            kill = Kill(
                "kill -9 a whole gunicorn instance, restart it", web.name, web.pid, self.now()
            )
            web.kill(signal.SIGKILL)
            web.popen.wait()  # type: ignore[union-attr]
            started = time.monotonic()
            time.sleep(2.0)  # down for a while: its clients retry
            web.start()
            self.dep.wait_ready(i, timeout=90)
            kill.recovered_s = round(time.monotonic() - started, 2)
            kill.note = "recovered = restarted (after 2 s down) and ready"
            self.kills.append(kill)
        elif kind == "pool_child_release":
            found = self.pool_child_running(
                "exports.tasks.run_release", self.release_over, timeout=120
            )
            if found is None:
                self.kills.append(
                    Kill(
                        "kill -9 a Celery pool child mid-release",
                        "-",
                        0,
                        self.now(),
                        note="missed: no release ran",
                    )
                )
                return
            pid, args, where = found
            kill = Kill(
                "kill -9 a Celery pool child mid-release",
                where,
                pid,
                self.now(),
                during=f"release {args[0]}",
            )
            os.kill(pid, signal.SIGKILL)
            started = time.monotonic()
            status = self.wait_sql(
                "SELECT status, attempts FROM exports_release WHERE id = %s",
                (args[0],),
                lambda r: r[0] in ("done", "failed"),
                180,
            )
            kill.recovered_s = round(time.monotonic() - started, 2)
            hit = bool(status) and status[0] == "done" and status[1] > 1
            kill.note = (
                f"release {status[0] if status else '?'} at attempt {status[1] if status else '?'}"
                + (
                    ": rebuilt after the kill (recovered = release done)"
                    if hit
                    else ": the kill landed as the build finished (not a hit)"
                )
            )
            self.kills.append(kill)
        elif kind == "pool_child_check":
            found = self.pool_child_running(
                "quality.tasks.check_rewrite_quality", round_over, timeout=60
            )
            if found is None:
                self.kills.append(
                    Kill(
                        "kill -9 a Celery pool child mid-check",
                        "-",
                        0,
                        self.now(),
                        note="missed: no check ran",
                    )
                )
                return
            pid, args, where = found
            kill = Kill(
                "kill -9 a Celery pool child mid-check",
                where,
                pid,
                self.now(),
                during=f"check of rewrite {args[0]}",
            )
            os.kill(pid, signal.SIGKILL)
            started = time.monotonic()
            status = self.wait_sql(
                "SELECT status, attempts FROM quality_rewritecheck WHERE rewrite_id = %s",
                (args[0],),
                lambda r: r[0] == "done",
                120,
            )
            kill.recovered_s = round(time.monotonic() - started, 2)
            hit = bool(status) and status[0] == "done" and status[1] > 1
            kill.note = f"check {status[0] if status else '?'} at attempt " + (
                f"{status[1]}: ran again after the kill (recovered = its RewriteCheck done)"
                if hit
                else f"{status[1] if status else '?'}: the kill landed as it finished (not a hit)"
            )
            self.kills.append(kill)
        elif kind == "celery_worker":
            worker = self.dep.workers[round_no % 2]
            # Not while it holds a release: a release whose whole worker died stays "running"
            # until its heartbeat is RUNNING_STALE_AFTER (15 min) old, longer than a soak; the
            # pool-child kill covers a release killed mid-build.
            name = worker.argv[-1].split("@")[0]
            deadline = time.monotonic() + 60
            while True:
                held = [
                    t for t in self.dep.active_tasks(reserved=True) if t["worker"].startswith(name)
                ]
                if time.monotonic() > deadline or not any(
                    t.get("name") == "exports.tasks.run_release" for t in held
                ):
                    break
                time.sleep(0.2)
            kill = Kill(
                "kill -9 a whole Celery worker (main process and pool), restart it",
                worker.name,
                worker.pid,
                self.now(),
                during=", ".join(f"{t['name']}{tuple(t.get('args') or [])}" for t in held)
                or "idle",
            )
            worker.kill(signal.SIGKILL)
            worker.popen.wait()  # type: ignore[union-attr]
            started = time.monotonic()
            time.sleep(2.0)
            worker.start()
            self.dep.wait_workers(timeout=60)
            kill.recovered_s = round(time.monotonic() - started, 2)
            kill.note = (
                "recovered = restarted and answering; messages it had taken stay unacknowledged "
                "in Redis until the visibility timeout, so their jobs are recovered by the sweeps"
            )
            self.kills.append(kill)

    def wait_sql(
        self,
        query: str,
        params: tuple[Any, ...],
        done: Callable[[tuple[Any, ...]], bool],
        timeout: float,
    ) -> Any:
        deadline = time.monotonic() + timeout
        row: tuple[Any, ...] | None = None
        while time.monotonic() < deadline:
            rows = self.dep.sql(query, params)
            row = rows[0] if rows else None
            if row is not None and done(row):
                return row
            time.sleep(0.2)
        return row


# --- draining and the sweeps --------------------------------------------------------------------


def drain(dep: Deployment, timeout: float, stall: float | None = None) -> dict[str, Any]:
    """Wait until the queue's work is done: no release queued or running, every submitted
    rewrite checked and counted, no task running. With ``stall``, give up early once nothing
    ran, nothing waited in the queue and nothing changed for that many seconds (jobs whose
    messages a killed worker took). Returns what was waited for and what is left."""
    import redis

    broker = redis.Redis.from_url(dep.broker_url)
    started = time.monotonic()
    pending: dict[str, int] = {}
    last: tuple[Any, ...] = ()
    still_since = time.monotonic()
    while time.monotonic() - started < timeout:
        pending = {
            "releases": dep.sql(
                "SELECT count(*) FROM exports_release WHERE status IN ('queued', 'running')"
            )[0][0],
            "checks": dep.sql(
                "SELECT count(*) FROM annotation_rewrite r LEFT JOIN quality_rewritecheck c "
                "ON c.rewrite_id = r.id WHERE r.status <> 'draft' "
                "AND (c.status IS NULL OR c.status <> 'done')"
            )[0][0],
            "tokens": dep.sql(
                "SELECT count(*) FROM annotation_rewrite WHERE status <> 'draft' "
                "AND question_tokens IS NULL"
            )[0][0],
        }
        active = dep.active_tasks()
        if not any(pending.values()) and not active:
            break
        now = (tuple(pending.values()), len(active), broker.llen("celery"))
        if now != last or active or now[2]:
            last, still_since = now, time.monotonic()
        elif stall is not None and time.monotonic() - still_since > stall:
            break
        time.sleep(0.5)
    return {"seconds": round(time.monotonic() - started, 1), "left": pending}


# The beat sweeps with their deadlines passed: what beat does 10-15 minutes after a whole worker
# died (its unacknowledged messages wait for the broker's visibility timeout). Run by the soak
# only, once nothing else is running, so it cannot race a live job.
SWEEP_NOW = """
from datetime import timedelta
from django.utils import timezone
from core.jobs import enqueue
from exports.services.job import RUNNING_STALE_AFTER, QUEUED_STALE_AFTER, releases_requeue_stale
from exports.tasks import record_enqueue_failure as release_failed, run_release
from quality.services.checks import CHECK_STALE_AFTER, rewrites_unchecked
from quality.tasks import check_rewrite_quality, record_enqueue_failure as check_failed
from annotation.tasks import count_missing_tokens
deadline = max(RUNNING_STALE_AFTER, QUEUED_STALE_AFTER, CHECK_STALE_AFTER)
later = timezone.now() + deadline + timedelta(minutes=1)
releases = releases_requeue_stale(now=later)
for rid in releases:
    enqueue(run_release, rid, on_failure=release_failed(rid))
checks = rewrites_unchecked(now=later)
for rid in checks:
    enqueue(check_rewrite_quality, rid, on_failure=check_failed(rid))
count_missing_tokens.delay()
import json; print(json.dumps({"releases": releases, "checks": checks}))
"""


# --- reporting ----------------------------------------------------------------------------------


def print_summary(stats: dict[str, Any], outcomes: list[Outcome], acks: Acks) -> None:
    print("\nrequests                 2xx    4xx    5xx  conn-err   p50 ms   p95 ms")
    for kind, row in stats["by_kind"].items():
        print(
            f"  {kind:<20} {row['2xx']:>6} {row['4xx']:>6} {row['5xx']:>6} {row['conn_errors']:>9} "
            f"{row['p50_ms'] or 0:>8.1f} {row['p95_ms'] or 0:>8.1f}"
        )
    t = stats["total"]
    print(f"  {'total':<20} {t['2xx']:>6} {t['4xx']:>6} {t['5xx']:>6} {t['conn_errors']:>9}")
    print("\nacknowledged writes: " + ", ".join(f"{k} {v}" for k, v in acks.counts().items()))
    print("\ninvariants")
    for o in outcomes:
        print(f"  [{'ok' if o.ok else 'FAIL'}] {o.name}" + ("" if o.ok else f": {o.detail}"))


def write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as fh:
        json.dump(data, fh, indent=2, default=str)
        fh.write("\n")
    os.chmod(fh.name, 0o644)
    os.replace(fh.name, path)


def git_commit() -> str:
    run = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return run.stdout.strip()


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Scale-out check: two gunicorn instances, two Celery workers and beat on "
        "PostgreSQL and Redis under a concurrent scenario, then every invariant checked. Needs "
        "DATABASE_URL (PostgreSQL; <name>_scaleout is recreated) and CELERY_BROKER_URL (Redis; "
        "databases SCALEOUT_REDIS_DB=9 and SCALEOUT_REDIS_CACHE_DB=10 are flushed).",
    )
    parser.add_argument(
        "--faults", action="store_true", help="Soak: kill -9 web and Celery processes in rounds."
    )
    parser.add_argument(
        "--duration", type=float, default=0, help="Seconds of scenario rounds (--faults)."
    )
    parser.add_argument("--results", type=Path, help="Write the summary as JSON here (atomically).")
    parser.add_argument("--annotators", type=int, default=8)
    parser.add_argument("--reviewers", type=int, default=5)
    parser.add_argument(
        "--quota", type=int, default=None, help="Assignments per annotator per round."
    )
    parser.add_argument(
        "--release-after",
        type=int,
        default=12,
        help="Accepted rewrites per round before a release.",
    )
    parser.add_argument("--release-timeout", type=float, default=180)
    parser.add_argument(
        "--keep", action="store_true", help="Keep the temporary folder (logs, files)."
    )
    args = parser.parse_args(argv)
    if args.reviewers < PANEL_SIZE:
        parser.error(f"--reviewers must be at least the panel size ({PANEL_SIZE})")
    if args.quota is None:
        args.quota = 3 if args.faults else 10
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        dep = Deployment(args)
    except SetupError as exc:
        print(f"scale-out check could not run: {exc}", file=sys.stderr)
        return 2
    interrupted: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        interrupted.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    started = time.monotonic()
    result: dict[str, Any] = {
        "kind": "soak" if args.faults else "scaleout",
        "commit": git_commit(),
        "cpus": os.cpu_count(),
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": {
            "web_instances": 2,
            "gunicorn_workers_each": 2,
            "gunicorn_threads": 4,
            "celery_workers": 2,
            "celery_concurrency_each": 2,
            "annotators": args.annotators,
            "reviewers": args.reviewers,
            "panel_size": PANEL_SIZE,
            "quota_per_round": args.quota,
            "duration_s": args.duration,
        },
    }
    code = 2
    scenario: Scenario | None = None
    try:
        # A round of the soak takes 8-15 s here: never run out of seeds.
        rounds_planned = int(args.duration // 5) + 2 if args.faults else 1
        seeds = args.annotators * args.quota * rounds_planned + 40
        dep.setup(seeds)
        dep.start()
        print(
            f"up: web {', '.join(dep.bases)}; 2 Celery workers and beat ({dep.timings})", flush=True
        )
        scenario = Scenario(dep, args)
        scenario.login_all()
        run_started = time.monotonic()
        round_no = 0
        while True:
            record = scenario.run_round(
                round_no, args.quota, scenario.chaos if args.faults else None
            )
            scenario.rounds.append(record)
            print(f"round {round_no}: {json.dumps(record.get('release', {}))}", flush=True)
            round_no += 1
            if not args.faults or time.monotonic() - run_started >= args.duration:
                break
        dep.timings["scenario_s"] = round(time.monotonic() - run_started, 1)
        drained = drain(dep, timeout=120, stall=10 if args.faults else None)
        if args.faults and any(drained["left"].values()):
            # Jobs a killed worker had taken: recovered by the sweeps once their deadline passed.
            swept = json.loads(dep.manage("shell", "-c", SWEEP_NOW).strip().splitlines()[-1])
            result["sweep_after_deadline"] = {"before": drained, "requeued": swept}
            drained = drain(dep, timeout=120)
        result["drain"] = drained
        facts = dep.collect_facts()
        outcomes = check_invariants(scenario.acks, facts)
        stats = scenario.stats.summary()
        if not args.faults:
            five = stats["total"]["5xx"]
            outcomes.append(
                Outcome(
                    "no 5xx (fault-free run)",
                    five == 0,
                    f"{five} 5xx: {scenario.stats.five_xx[:5]}" if five else "ok",
                )
            )
        outcomes.append(
            Outcome("no client error", not scenario.errors, "; ".join(scenario.errors[:5]) or "ok")
        )
        for proc in dep.all_procs():
            if not proc.alive():
                outcomes.append(Outcome(f"{proc.name} still running", False, proc.log_tail(10)))
        print_summary(stats, outcomes, scenario.acks)
        result.update(
            timings={**dep.timings, "total_s": round(time.monotonic() - started, 1)},
            requests=stats,
            five_xx_samples=scenario.stats.five_xx[:20],
            expected_409_stale_saves=scenario.expected_409,
            acknowledged=scenario.acks.counts(),
            database={
                "assignments": len(facts.assignments),
                "rewrites_by_status": dict(
                    sorted(_count(v["status"] for v in facts.rewrites.values()).items())
                ),
                "ballots_cast": sum(1 for b in facts.ballots.values() if b["status"] == "cast"),
                "releases": {
                    str(k): {kk: vv for kk, vv in v.items() if kk != "file_problems"}
                    for k, v in facts.releases.items()
                },
            },
            reference_rechecks=scenario.reference_rechecks,
            rounds=scenario.rounds,
            kills=[asdict(k) for k in scenario.kills],
            invariants=[asdict(o) for o in outcomes],
            passed=all(o.ok for o in outcomes),
        )
        code = 0 if result["passed"] else 1
        failed = [o.name for o in outcomes if not o.ok]
        print(
            f"\n{'PASSED' if code == 0 else 'FAILED: ' + '; '.join(failed)} in "
            f"{time.monotonic() - started:.0f}s ({dep.timings})"
        )
    except SetupError as exc:
        print(f"\nscale-out check could not run: {exc}", file=sys.stderr)
        result.update(passed=False, error=str(exc)[:2000])
    except KeyboardInterrupt:
        print("\ninterrupted; stopping every process started", file=sys.stderr)
        result.update(passed=False, error="interrupted")
        code = 130
    finally:
        if code != 0:
            for proc in dep.all_procs():
                print(f"--- {proc.name} (last lines)\n{proc.log_tail(15)}", file=sys.stderr)
        dep.stop()
        if args.results:
            write_json_atomically(args.results, result)
            print(f"wrote {args.results}")
        if args.keep:
            print(f"kept {dep.tmp} (logs in {dep.logdir}); database {dep.db_name}")
        else:
            shutil.rmtree(dep.tmp, ignore_errors=True)
    return code


def _count(items: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for item in items:
        counts[item] += 1
    return dict(counts)


if __name__ == "__main__":
    sys.exit(main())

"""Bounded benchmarks on the large campaign of issue 18 (PostgreSQL only; ``bench/large.py``
builds it): claim-next in-process at 8 and 64 clients with the raw-SQL anchor in the same run,
and the curator's statistics (the stats function, the stats API and the dashboard page).

Claim-next: each client is a thread with its own database connection, acting as one of the
campaign's annotators (64 clients share the 50 annotators), calling
``annotation.services.assignment_claim_next`` in a loop for ``--seconds``; then the same
threads run the anchor, one raw ``UPDATE ... FOR UPDATE SKIP LOCKED ... RETURNING`` per claim.
Reported: claims per second overall and per 10 s window, p50/p95/p99 latency, duplicates (a
seed claimed twice, in memory and by the one-active-assignment rule in the database) and the
ratio service/anchor. Between runs the claimed seeds go back to the pool (the benchmark's
assignments and events are deleted) and the tables are vacuumed, so every run starts alike.

Curator: ``review.stats.campaign_stats``, then GET of the stats API and of the dashboard page
(what a curator's browser asks; the views call ``review.dashboard.campaign_overview``), each
``--runs`` times: median seconds, SQL queries and their time, and the peak of Python
allocations (tracemalloc, one extra run) and of the process's resident memory.

Writes bench/results/scale-postgresql.json (every figure with its unit in its name) and prints
a table. Run by ``make bench`` with BENCH_DATABASE_URL set to PostgreSQL (otherwise skipped).
Options: ``--scale`` (1.0: 1,000,000 seeds; env BENCH_SCALE), ``--seconds`` (20; env
BENCH_CLAIM_SECONDS; the issue's budget is measured at 60), ``--reuse`` (keep a large campaign
already built at this scale), ``--database-url``.
"""

import argparse
import contextlib
import os
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
import large  # noqa: E402
import requests  # noqa: E402

ROOT = harness.ROOT
ANCHOR_SQL = (
    "UPDATE annotation_seed SET status = 'assigned' WHERE id = (SELECT id FROM annotation_seed "
    "WHERE campaign_id = %s AND status = 'sampled' ORDER BY sample_rank, id "
    "FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id"
)
WINDOW_SECONDS = 10


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (default: BENCH_DATABASE_URL)")
    parser.add_argument("--scale", type=float, default=float(os.environ.get("BENCH_SCALE", "1.0")))
    parser.add_argument(
        "--seconds", type=float, default=float(os.environ.get("BENCH_CLAIM_SECONDS", "20"))
    )
    parser.add_argument("--clients", default="8,64", help="comma-separated client counts")
    parser.add_argument("--runs", type=int, default=3, help="runs of each curator measure")
    parser.add_argument("--reuse", action="store_true", help="keep an existing large campaign")
    parser.add_argument("--skip-claims", action="store_true")
    parser.add_argument("--skip-curator", action="store_true")
    parser.add_argument("--skip-http", action="store_true", help="no claim-next over HTTP")
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the memory run")
    return parser.parse_args()


ARGS = parse_args()
if ARGS.database_url:
    os.environ["BENCH_DATABASE_URL"] = ARGS.database_url
harness.configure(ROOT / "bench" / "bench-scale.sqlite3")

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from annotation.models import Campaign, Membership, Role, Seed  # noqa: E402
from annotation.services import assignment_claim_next  # noqa: E402
from review.stats import campaign_stats  # noqa: E402


def percentile(sorted_values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of sorted values, nearest rank."""
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def rss_mb() -> float:
    """The process's resident memory now (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# Process groups this benchmark started (the gunicorn server): their CPU is the benchmark's.
OWN_PGIDS: set[int] = set()
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_snapshot() -> dict[str, Any]:
    """CPU seconds used so far (Linux): by the whole machine outside interrupts (busy, not
    idle or waiting), by interrupts, and by every process with its kind: this process, the
    servers it started (``OWN_PGIDS``), PostgreSQL's processes of this benchmark's database,
    PostgreSQL's shared background processes, anything else."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    database = connection.settings_dict["NAME"]
    processes: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
            comm = raw[raw.index("(") + 1 : raw.rindex(")")]
            rest = raw[raw.rindex(")") + 2 :].split()
            kind = "others"
            if int(entry.name) == os.getpid():
                kind = "self"
            elif int(rest[2]) in OWN_PGIDS:
                kind = "server"
            elif comm == "postgres":
                title = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                )
                words = title.split()
                if database in words:
                    kind = "postgres"
                elif not any(w.endswith(")") or "." in w or w.isdigit() for w in words[3:]):
                    kind = "postgres_shared"  # checkpointer, WAL writer, autovacuum launcher...
        except (OSError, ValueError):
            continue
        processes[int(entry.name)] = (kind, (int(rest[11]) + int(rest[12])) / _TICK)
    return {
        "busy": (user + nice + system + steal) / _TICK,
        "interrupts": (irq + softirq) / _TICK,
        "processes": processes,
    }


def other_cpu(before: dict[str, Any], seconds: float) -> dict[str, float]:
    """Who used the machine while a measure ran. Take ``before`` just before it and call this
    while the measure's processes still live (a process that ended meanwhile counts as
    others'). On 2 cores, a share of other processes well above 0 means a disturbed figure."""
    after = cpu_snapshot()
    used: dict[str, float] = {}
    for pid, (kind, cpu) in after["processes"].items():
        previous = before["processes"].get(pid)
        delta = cpu - (previous[1] if previous and previous[0] == kind else 0.0)
        used[kind] = used.get(kind, 0.0) + max(0.0, delta)
    busy = after["busy"] - before["busy"]
    known = sum(used.get(k, 0.0) for k in ("self", "server", "postgres", "postgres_shared"))
    others = max(0.0, busy - known)
    return {
        "cpu_s_self": round(used.get("self", 0.0), 2),
        "cpu_s_server": round(used.get("server", 0.0), 2),
        "cpu_s_postgres": round(used.get("postgres", 0.0), 2),
        "cpu_s_postgres_shared": round(used.get("postgres_shared", 0.0), 2),
        "cpu_s_interrupts": round(after["interrupts"] - before["interrupts"], 2),
        "cpu_s_other_processes": round(others, 2),
        "other_processes_cpu_share": round(others / (seconds * (os.cpu_count() or 1)), 3),
    }


# --- the campaign --------------------------------------------------------------------------


def ensure_campaign(scale: float, reuse: bool) -> tuple[Campaign, dict[str, Any]]:
    """The large campaign at ``scale``: reused when asked and present at that size, otherwise
    built (the database is emptied first). Returns it with the generator's report."""
    n = large.sizes(scale)
    if reuse:
        campaign = Campaign.objects.filter(slug=large.SLUG).first()
        if campaign is not None and Seed.objects.filter(campaign=campaign).count() == n["seeds"]:
            print(f"reusing campaign {large.SLUG!r} ({n['seeds']:,} seeds)")
            return campaign, {"reused": True, "rows": large.campaign_counts(campaign)}
    print(f"building the large campaign at scale {scale} ({n['seeds']:,} seeds)")
    report = large.build(n["seeds"], n["rewrites"], sampled=n["sampled"], active=n["active"])
    return Campaign.objects.get(slug=large.SLUG), {"reused": False, **report}


# --- claim-next ----------------------------------------------------------------------------


def _max_id(table: str, campaign_id: int) -> int:
    """The newest id of ``table`` (of every campaign: the benchmark's rows come after it)."""
    with connection.cursor() as cur:
        cur.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
        return cur.fetchone()[0]


def _vacuum() -> float:
    started = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("VACUUM (ANALYZE) annotation_seed, annotation_assignment, annotation_event")
    return time.perf_counter() - started


def _sampled_left(campaign_id: int) -> int:
    return Seed.objects.filter(campaign_id=campaign_id, status=Seed.Status.SAMPLED).count()


def _service_claimer(campaign_id: int, user: Any) -> Callable[[], int | None]:
    campaign = Campaign.objects.get(pk=campaign_id)  # on this thread's own connection

    def claim() -> int | None:
        assignment = assignment_claim_next(campaign=campaign, actor=user)
        return assignment.seed_id if assignment else None

    return claim


def _anchor_claimer(campaign_id: int, user: Any) -> Callable[[], int | None]:
    connection.ensure_connection()

    def claim() -> int | None:
        with connection.cursor() as cur:
            cur.execute(ANCHOR_SQL, [campaign_id])
            row = cur.fetchone()
        return row[0] if row else None

    return claim


def claim_run(
    *,
    campaign: Campaign,
    users: list[Any],
    clients: int,
    seconds: float,
    mode: str,
    claimer: Callable[[int, Any], Callable[[], int | None]],
) -> tuple[dict[str, Any], list[int]]:
    """``clients`` threads claiming for ``seconds``; thread ``i`` acts as ``users[i % len]``
    with ``claimer(campaign_id, user)``, set up in the thread (its own database connection),
    which returns a function claiming one seed (its id, or None when the pool is empty).
    Returns the figures and the claimed seed ids."""
    campaign_id = campaign.pk
    clock: dict[str, float] = {}

    def go() -> None:
        clock["start"] = time.perf_counter()
        clock["deadline"] = clock["start"] + seconds

    barrier = threading.Barrier(clients, action=go)
    per_thread: list[dict[str, Any]] = [{} for _ in range(clients)]

    # The threads keep their connections until the CPU figures are read: a database process
    # that has ended can no longer say what it used.
    finish, release = threading.Barrier(clients + 1), threading.Event()

    def worker(index: int) -> None:
        out = per_thread[index]
        out.update(latencies=[], finished=[], seeds=[], errors={}, exhausted=False)
        try:
            try:
                claim = claimer(campaign_id, users[index % len(users)])
            except Exception as exc:  # noqa: BLE001 - reported, the run goes on without it
                out["errors"][f"set-up: {type(exc).__name__}: {exc}"[:200]] = 1
                barrier.wait()
                return
            barrier.wait()
            deadline = clock["deadline"]
            while True:
                began = time.perf_counter()
                if began >= deadline:
                    break
                try:
                    seed_id = claim()
                except Exception as exc:  # noqa: BLE001 - counted by kind
                    key = f"{type(exc).__name__}: {exc}"[:200]
                    out["errors"][key] = out["errors"].get(key, 0) + 1
                    continue
                ended = time.perf_counter()
                if seed_id is None:
                    out["exhausted"] = True
                    break
                out["latencies"].append(ended - began)
                out["finished"].append(ended)
                out["seeds"].append(seed_id)
        finally:
            finish.wait()
            release.wait()
            connection.close()  # this thread's

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    cpu_before, wall_before = cpu_snapshot(), time.perf_counter()
    for thread in threads:
        thread.start()
    finish.wait()
    cpu = other_cpu(cpu_before, time.perf_counter() - wall_before)
    release.set()
    for thread in threads:
        thread.join()
    start = clock["start"]
    latencies = sorted(x for t in per_thread for x in t["latencies"])
    finished = [x for t in per_thread for x in t["finished"]]
    seeds = [x for t in per_thread for x in t["seeds"]]
    errors: dict[str, int] = {}
    for t in per_thread:
        for key, count in t["errors"].items():
            errors[key] = errors.get(key, 0) + count
    exhausted = any(t["exhausted"] for t in per_thread)
    # A run that emptied the pool is measured up to its last claim.
    elapsed = (
        max(finished) - start
        if exhausted and finished
        else max([seconds, *[x - start for x in finished]])
    )
    windows = []
    for w in range(int(-(-seconds // WINDOW_SECONDS))):
        low, high = start + w * WINDOW_SECONDS, start + (w + 1) * WINDOW_SECONDS
        span = min(high, start + seconds) - low
        count = sum(1 for x in finished if low <= x < high)
        windows.append(round(count / span, 1))
    # Per client: the spread of what each thread got (fairness, and threads that stalled).
    per_client = sorted(len(t["seeds"]) for t in per_thread)
    figures = {
        "mode": mode,
        "clients": clients,
        "seconds": round(elapsed, 2),
        "claims": len(seeds),
        "claims_per_s": round(len(seeds) / elapsed, 1),
        "claims_per_s_by_10s_window": windows,
        "latency_ms_p50": _ms(percentile(latencies, 0.50)),
        "latency_ms_p95": _ms(percentile(latencies, 0.95)),
        "latency_ms_p99": _ms(percentile(latencies, 0.99)),
        "latency_ms_max": _ms(latencies[-1] if latencies else None),
        "claims_per_client_min": per_client[0],
        "claims_per_client_max": per_client[-1],
        "duplicates_in_memory": len(seeds) - len(set(seeds)),
        "pool_exhausted": exhausted,
        **cpu,
        "errors": errors,
    }
    return figures, seeds


def _ms(value: float | None) -> float | None:
    return None if value is None else round(1000 * value, 2)


def _duplicates_in_database(campaign_id: int, seed_ids: list[int]) -> dict[str, int]:
    """Seeds with more than one active assignment (the campaign's), and claimed seeds that are
    not assigned any more (a claim that did not hold)."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM (SELECT seed_id FROM annotation_assignment "
            "WHERE campaign_id = %s AND status = 'active' GROUP BY seed_id "
            "HAVING count(*) > 1) d",
            [campaign_id],
        )
        doubled = cur.fetchone()[0]
        cur.execute(
            "SELECT count(*) FROM annotation_seed WHERE id = ANY(%s) AND status <> 'assigned'",
            [seed_ids],
        )
        lost = cur.fetchone()[0]
    return {"seeds_with_two_active_assignments": doubled, "claimed_seeds_not_assigned": lost}


def _reset(campaign_id: int, seed_ids: list[int], after_assignment: int, after_event: int) -> None:
    """Put the seeds a run claimed back in the pool and delete what the run wrote."""
    with connection.cursor() as cur:
        cur.execute(
            "DELETE FROM annotation_event WHERE campaign_id = %s AND id > %s",
            [campaign_id, after_event],
        )
        cur.execute(
            "DELETE FROM annotation_assignment WHERE campaign_id = %s AND id > %s",
            [campaign_id, after_assignment],
        )
        cur.execute("UPDATE annotation_seed SET status = 'sampled' WHERE id = ANY(%s)", [seed_ids])


def restore_pool(campaign: Campaign, scale: float) -> int:
    """Undo what an interrupted run left: every claim of a seed of the sampled pool (ranked
    after the generator's rewritten and assigned seeds) goes, with its events. Returns how
    many seeds went back to the pool."""
    n = large.sizes(scale)
    first_pool_rank = n["rewrites"] + n["active"]
    with connection.cursor() as cur:
        cur.execute(
            "DELETE FROM annotation_event WHERE campaign_id = %(c)s AND (kind = 'seed.assigned' "
            "OR (object_type = 'assignment' AND object_id IN (SELECT a.id FROM "
            "annotation_assignment a JOIN annotation_seed s ON s.id = a.seed_id "
            "WHERE a.campaign_id = %(c)s AND s.sample_rank > %(t)s)))",
            {"c": campaign.pk, "t": first_pool_rank},
        )
        cur.execute(
            "DELETE FROM annotation_assignment a USING annotation_seed s WHERE s.id = a.seed_id "
            "AND a.campaign_id = %(c)s AND s.sample_rank > %(t)s",
            {"c": campaign.pk, "t": first_pool_rank},
        )
        cur.execute(
            "UPDATE annotation_seed SET status = 'sampled' WHERE campaign_id = %(c)s "
            "AND status = 'assigned' AND sample_rank > %(t)s",
            {"c": campaign.pk, "t": first_pool_rank},
        )
        return cur.rowcount


def claim_benchmarks(
    campaign: Campaign, clients_list: list[int], seconds: float, *, http: bool
) -> dict[str, Any]:
    restored = restore_pool(campaign, ARGS.scale)
    if restored:
        print(f"{restored:,} seeds claimed by an interrupted run went back to the pool")
    annotators = list(
        Membership.objects.filter(campaign=campaign, role=Role.ANNOTATOR)
        .select_related("user")
        .order_by("user__username")
    )
    users = [m.user for m in annotators]
    out: dict[str, Any] = {"annotators": len(users), "seconds_per_run": seconds, "runs": []}
    with contextlib.ExitStack() as stack:
        modes: list[tuple[str, Callable[[int, Any], Callable[[], int | None]]]] = [
            ("service", _service_claimer),
            ("anchor", _anchor_claimer),
        ]
        if http:
            try:
                base, server = stack.enter_context(gunicorn_server())
            except RuntimeError as exc:
                out["http_error"] = str(exc)
                print(f"claim-next over HTTP skipped: {exc}", flush=True)
            else:
                out["http_server"] = server
                http_claimer = _http_claimer(base, campaign.slug, users)
                # Warm-up, not recorded: each worker's first requests open its connections.
                _claim_measured(campaign, users, max(clients_list), 3, "http-warmup", http_claimer)
                modes.append(("http", http_claimer))
        for clients in clients_list:
            rate: dict[str, float] = {}
            for mode, claimer in modes:
                figures = _claim_measured(campaign, users, clients, seconds, mode, claimer)
                out["runs"].append(figures)
                rate[mode] = figures["claims_per_s"]
            for mode in rate:
                if mode != "anchor":
                    out[f"ratio_{mode}_to_anchor_{clients}_clients"] = (
                        round(rate[mode] / rate["anchor"], 3) if rate["anchor"] else None
                    )
    _vacuum()
    return out


def _claim_measured(
    campaign: Campaign,
    users: list[Any],
    clients: int,
    seconds: float,
    mode: str,
    claimer: Callable[[int, Any], Callable[[], int | None]],
) -> dict[str, Any]:
    """One run from a vacuumed table, checked for duplicates, then undone."""
    vacuum_s = _vacuum()
    # The machine's load: another process busy during the run shows here (2 cores).
    load_before = round(os.getloadavg()[0], 2)
    pool = _sampled_left(campaign.pk)
    after_assignment = _max_id("annotation_assignment", campaign.pk)
    after_event = _max_id("annotation_event", campaign.pk)
    print(f"claim-next {mode}, {clients} clients, {seconds:g} s (pool {pool:,})", flush=True)
    figures, seeds = claim_run(
        campaign=campaign,
        users=users,
        clients=clients,
        seconds=seconds,
        mode=mode,
        claimer=claimer,
    )
    figures["sampled_pool_before"] = pool
    figures["loadavg_1m_before"] = load_before
    figures["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
    figures["vacuum_before_s"] = round(vacuum_s, 2)
    figures.update(_duplicates_in_database(campaign.pk, seeds))
    _reset(campaign.pk, seeds, after_assignment, after_event)
    print(
        f"  {figures['claims_per_s']:>8.1f}/s  p50 {figures['latency_ms_p50']} ms  "
        f"p99 {figures['latency_ms_p99']} ms  "
        f"windows {figures['claims_per_s_by_10s_window']}"
        f"  duplicates {figures['duplicates_in_memory']}"
        f"  errors {sum(figures['errors'].values())}",
        flush=True,
    )
    return figures


# --- claim-next over HTTP ------------------------------------------------------------------


@contextlib.contextmanager
def gunicorn_server() -> Iterator[tuple[str, dict[str, Any]]]:
    """gunicorn as README "Production" runs it (config/gunicorn.py, production settings,
    persistent connections), on this database and a free local port; stopped on exit."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    workdir = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    server = {
        "workers": int(os.environ.get("BENCH_GUNICORN_WORKERS", 2 * (os.cpu_count() or 1) + 1)),
        "threads": int(os.environ.get("BENCH_GUNICORN_THREADS", "4")),
        "conn_max_age": int(os.environ.get("BENCH_CONN_MAX_AGE", "60")),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_"))}
    env.update(
        {
            "PYTHONPATH": str(ROOT),  # this tree's code, whatever the venv installed
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
            "DJANGO_STATIC_ROOT": str(workdir / "static"),
            "DJANGO_LOG_LEVEL": "WARNING",
            "DATABASE_URL": os.environ["DATABASE_URL"],
            "DATABASE_CONN_MAX_AGE": str(server["conn_max_age"]),
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_WORKERS": str(server["workers"]),
            "GUNICORN_THREADS": str(server["threads"]),
            "GUNICORN_LOG_LEVEL": "warning",
        }
    )
    log_path = workdir / "gunicorn.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "-c", "config/gunicorn.py"]
            + ["config.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    OWN_PGIDS.add(process.pid)  # its own session: the group of the master and its workers
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                tail = log_path.read_text(errors="replace")[-1500:]
                raise RuntimeError(f"gunicorn exited ({process.returncode}): {tail}")
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer /healthz within 60 s")
            time.sleep(0.5)
        yield base, server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _http_claimer(
    base: str, slug: str, users: list[Any]
) -> Callable[[int, Any], Callable[[], int | None]]:
    """Claims through the API with each annotator's token, one HTTP session per client."""
    from rest_framework.authtoken.models import Token

    tokens = {u.pk: Token.objects.get_or_create(user=u)[0].key for u in users}
    url = f"{base}/api/v1/campaigns/{slug}/assignments/next/"

    def factory(campaign_id: int, user: Any) -> Callable[[], int | None]:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {tokens[user.pk]}"

        def claim() -> int | None:
            response = session.post(url, timeout=60)
            if response.status_code == 204:
                return None
            if response.status_code != 201:
                raise RuntimeError(f"HTTP {response.status_code}")
            return int(response.json()["seed"]["id"])

        return claim

    return factory


# --- the curator ---------------------------------------------------------------------------


SERVED_RUNS = 50


def curator_benchmarks(campaign: Campaign, runs_of_computations: int, trace: bool) -> dict:
    from review.dashboard.snapshot import stats_snapshot_refresh

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    curator = (
        Membership.objects.filter(campaign=campaign, role=Role.CURATOR)
        .select_related("user")
        .order_by("user__username")
        .first()
        .user
    )
    client = Client()
    client.force_login(curator)
    client.get("/")  # the session's first request, not measured

    def get(url: str) -> None:
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url}: {response.status_code}")

    # The stats API and the dashboard are served from the snapshot that
    # ``stats_snapshot_refresh`` stores (what the task computes when the campaign changed):
    # measured after it, over SERVED_RUNS requests each, for their p95.
    measures = {
        "campaign_stats": lambda: campaign_stats(campaign),
        "stats_snapshot_refresh": lambda: stats_snapshot_refresh(campaign_id=campaign.pk),
        "stats_api": lambda: get(f"/api/v1/campaigns/{campaign.slug}/stats/"),
        "dashboard_page": lambda: get(f"/campaigns/{campaign.slug}/dashboard/"),
    }
    served = {"stats_api", "dashboard_page"}
    out: dict[str, Any] = {}
    for name, fn in measures.items():
        runs = max(runs_of_computations, SERVED_RUNS) if name in served else runs_of_computations
        seconds, queries, db_seconds = [], [], []
        rss_before = rss_mb()
        cpu_before, wall_before = cpu_snapshot(), time.perf_counter()
        load_before = round(os.getloadavg()[0], 2)
        for _ in range(runs):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                fn()
                seconds.append(time.perf_counter() - started)
            queries.append(len(captured.captured_queries))
            db_seconds.append(sum(float(q["time"]) for q in captured.captured_queries))
        row = {
            "runs": runs,
            "median_s": round(statistics.median(seconds), 3),
            "p95_s": round(percentile(sorted(seconds), 0.95) or 0.0, 3),
            "min_s": round(min(seconds), 3),
            "max_s": round(max(seconds), 3),
            "queries": queries[-1],
            "queries_per_run": queries,
            "median_sql_s": round(statistics.median(db_seconds), 3),
            "rss_before_mb": round(rss_before, 1),
            "rss_after_mb": round(rss_mb(), 1),
            "max_rss_mb": round(max_rss_mb(), 1),
            "loadavg_1m_before": load_before,
            "loadavg_1m_after": round(os.getloadavg()[0], 2),
            **other_cpu(cpu_before, time.perf_counter() - wall_before),
        }
        if trace:
            tracemalloc.start()
            fn()
            row["python_alloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
            tracemalloc.stop()
        out[name] = row
        print(
            f"{name:<16} median {row['median_s']:8.3f} s  p95 {row['p95_s']:8.3f} s  "
            f"({row['queries']} queries, "
            f"{row['median_sql_s']:.3f} s in SQL)  alloc peak "
            f"{row.get('python_alloc_peak_mb', '-')} MB",
            flush=True,
        )
    return out


# --- the run -------------------------------------------------------------------------------


def _git_status() -> list[str]:
    run = subprocess.run(
        ["git", "status", "--short"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return run.stdout.splitlines()


def table(record: dict) -> None:
    print("\n| measure | figure |\n|---|---|")
    gen = record["generator"]
    if not gen.get("reused"):
        print(
            f"| generator ({gen['sizes']['seeds']:,} seeds) | {gen['seconds']} s, "
            f"peak RSS {gen['peak_rss_mb']} MB |"
        )
    claims = record.get("claim_next")
    if claims:
        for run in claims["runs"]:
            print(
                f"| claim-next {run['mode']}, {run['clients']} clients | "
                f"{run['claims_per_s']}/s, p50 {run['latency_ms_p50']} ms, "
                f"p99 {run['latency_ms_p99']} ms, windows {run['claims_per_s_by_10s_window']}, "
                f"{run['duplicates_in_memory']} duplicates, "
                f"others' CPU {run['other_processes_cpu_share']:.0%} |"
            )
        for key, value in claims.items():
            if key.startswith("ratio_"):
                print(f"| {key} | {value} |")
    for name, row in record.get("curator", {}).items():
        print(
            f"| {name} | median {row['median_s']} s, {row['queries']} queries, "
            f"alloc peak {row.get('python_alloc_peak_mb', '-')} MB, "
            f"max RSS {row['max_rss_mb']} MB, "
            f"others' CPU {row['other_processes_cpu_share']:.0%} |"
        )


def main() -> None:
    # Stopped with SIGTERM: unwind like Ctrl-C, so the gunicorn it started is stopped too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if connection.vendor != "postgresql":
        print("bench/scale.py: skipped (needs PostgreSQL: set BENCH_DATABASE_URL)")
        return
    campaign, generator = ensure_campaign(ARGS.scale, ARGS.reuse)
    record: dict[str, Any] = {
        "scale": ARGS.scale,
        "git_status_short": _git_status(),
        "generator": generator,
    }
    if not ARGS.skip_claims:
        clients = [int(c) for c in ARGS.clients.split(",") if c.strip()]
        record["claim_next"] = claim_benchmarks(
            campaign, clients, ARGS.seconds, http=not ARGS.skip_http
        )
    if not ARGS.skip_curator:
        record["curator"] = curator_benchmarks(campaign, ARGS.runs, not ARGS.no_tracemalloc)
    harness.write_results("scale", record)
    table(record)


if __name__ == "__main__":
    main()

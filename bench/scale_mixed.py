"""A mixed HTTP load on the large campaign of issue 18 (PostgreSQL only; ``bench/large.py``
builds it): annotators and reviewers doing their real flows against gunicorn, with curators
watching, for a bounded time; p50/p95/p99 per endpoint and SQL queries per request.

Users are threads, each with one keep-alive HTTP session, pausing a think time (uniform around
``--think`` seconds, 5 by default) between requests:

- an annotator (``--annotators``, default 30): the queue page, claim-next (API), the annotate
  page, two draft saves (API), submit (API), and round again;
- a reviewer (``--reviewers``, default 20, at most the campaign's 20): the ballots page, the
  ballot list API, the vote page of their oldest pending ballot, the vote (API), and round
  again;
- a curator (``--curators``, default 2): the dashboard page and the stats API in turn.

Pages are read with a session cookie (a session made for the user in the database, as a login
would), the API with the user's token. The server is gunicorn as README "Production" runs it,
started by ``bench/scale.py``'s ``gunicorn_server`` (production settings, 2 x cores + 1
workers of 4 threads, persistent connections; ``BENCH_GUNICORN_WORKERS``,
``BENCH_GUNICORN_THREADS``, ``BENCH_CONN_MAX_AGE``). At most workers x threads database
connections, plus this process's one. ``BENCH_CELERY_BROKER_URL`` gives the server a broker, as
in production, so background jobs (token counts, quality checks) leave the request path (no
worker is started: they wait in the broker; empty it afterwards); unset, they run inside the
requests (Celery's eager mode) and count in their times.

Queries per request: after the load, each endpoint once more through Django's test client in
this process, counting the SQL statements (the same views and middleware; the load's writes of
that pass are rolled back).

With ``--claim-clients N`` it then measures claim-next over HTTP on the same server as
``bench/scale.py`` does (its claimer and measured run: N clients for ``--claim-seconds``, after a
3 s warm-up; duplicates checked, the claims undone), with HTTP clients only, so the server's
connections are the only database connections it adds (``--skip-mixed``: that alone).

Writes bench/results/scale-mixed-postgresql.json and prints a table. Options: ``--scale``
(1.0), ``--seconds`` (60), ``--reuse`` (keep a large campaign already built at this scale),
``--database-url`` (default BENCH_DATABASE_URL).
"""

import argparse
import contextlib
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (default: BENCH_DATABASE_URL)")
    parser.add_argument("--scale", type=float, default=float(os.environ.get("BENCH_SCALE", "1.0")))
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--think", type=float, default=5.0, help="mean think time, seconds")
    parser.add_argument("--annotators", type=int, default=30)
    parser.add_argument("--reviewers", type=int, default=20)
    parser.add_argument("--curators", type=int, default=2)
    parser.add_argument("--reuse", action="store_true", help="keep an existing large campaign")
    parser.add_argument("--label", default="", help="a note stored with the results")
    parser.add_argument(
        "--claim-clients",
        type=int,
        default=0,
        help="then claim-next over HTTP with this many clients (0: not measured)",
    )
    parser.add_argument("--claim-seconds", type=float, default=20.0)
    parser.add_argument("--skip-mixed", action="store_true", help="only claim-next over HTTP")
    return parser.parse_args()


ARGS = parse_args()
if ARGS.database_url:
    os.environ["BENCH_DATABASE_URL"] = ARGS.database_url

# bench/scale.py reads its own options when imported: give it only what it shares with this one.
_argv = sys.argv
sys.argv = [_argv[0], "--scale", str(ARGS.scale)]
try:
    import scale  # noqa: E402  (configures Django on BENCH_DATABASE_URL)
finally:
    sys.argv = _argv

# The pages are read with sessions this process writes for each user, as a login would: the
# server signs with this run's secret key.
SECRET_KEY = secrets.token_urlsafe(50)
# Background jobs (token counts, quality checks, statistics) go to this broker, as in
# production, where workers run them off the request path; unset, they run inside the request
# (Celery's eager mode) and their time is counted in the request's.
BROKER = os.environ.get("BENCH_CELERY_BROKER_URL", "")


@contextlib.contextmanager
def gunicorn_server() -> Iterator[tuple[str, dict[str, Any]]]:
    """``scale.gunicorn_server`` (gunicorn as README "Production" runs it, stopped on exit),
    plus what a browser's pages need: the collected static files with their manifest
    (production's storage renders no page without it), this run's secret key (the sessions
    written here) and the broker. Its temporary directory and secret are handed to it, so the
    server starts exactly as there."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-scale-mixed-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_"))}
    env.update(
        {
            "PYTHONPATH": str(harness.ROOT),
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": SECRET_KEY,
            "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
            "DJANGO_STATIC_ROOT": str(workdir / "static"),
        }
    )
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=harness.ROOT,
        env=env,
        check=True,
    )
    popen = scale.subprocess.Popen

    def with_broker(*args: Any, **kwargs: Any) -> Any:
        if BROKER:
            kwargs["env"] = {**kwargs["env"], "CELERY_BROKER_URL": BROKER}
        return popen(*args, **kwargs)

    handed = {
        "tempfile": type("_T", (), {"mkdtemp": staticmethod(lambda **kw: str(workdir))}),
        "secrets": type("_S", (), {"token_urlsafe": staticmethod(lambda n: SECRET_KEY)}),
        "subprocess": type(
            "_P", (), {"Popen": staticmethod(with_broker), "STDOUT": subprocess.STDOUT}
        ),
    }
    saved = {name: getattr(scale, name) for name in handed}
    for name, stand_in in handed.items():
        setattr(scale, name, stand_in)
    try:
        with scale.gunicorn_server() as (base, server):
            for name, module in saved.items():
                setattr(scale, name, module)
            yield base, {**server, "celery_broker": "redis (no worker)" if BROKER else "eager"}
    finally:
        for name, module in saved.items():
            setattr(scale, name, module)


import harness  # noqa: E402
import large  # noqa: E402
import requests  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from annotation.models import Assignment, Campaign, Membership, Role  # noqa: E402
from review.models import Ballot  # noqa: E402

DRAFT = {
    "text": "Write a Python function that returns the n-th Fibonacci number iteratively, and "
    "explain its time complexity.",
    "difficulty": "easy",
    "programming_languages": ["Python"],
    "natural_language": "en",
    "checklist": {"clear": True, "ethical": True, "solvable": True},
}


class Recorder:
    """Latencies and outcomes per endpoint, from every thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {}
        self.statuses: dict[str, dict[str, int]] = {}
        self.errors: dict[str, dict[str, int]] = {}

    def add(self, name: str, seconds: float, status: int | str) -> None:
        with self.lock:
            self.latencies.setdefault(name, []).append(seconds)
            by_status = self.statuses.setdefault(name, {})
            by_status[str(status)] = by_status.get(str(status), 0) + 1

    def error(self, name: str, message: str) -> None:
        with self.lock:
            by_kind = self.errors.setdefault(name, {})
            by_kind[message[:160]] = by_kind.get(message[:160], 0) + 1


class User:
    """One simulated person: an HTTP session, a think time, a deadline."""

    def __init__(
        self, base: str, user: Any, token: str, cookie: str, rec: Recorder, stop: float
    ) -> None:
        self.base, self.user, self.rec, self.stop = base, user, rec, stop
        self.http = requests.Session()
        self.token_headers = {"Authorization": f"Token {token}"}
        self.page_headers = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"}
        self.rng = random.Random(user.pk)

    def think(self) -> bool:
        """Pause like a person; False once the run is over."""
        pause = self.rng.uniform(0.5 * ARGS.think, 1.5 * ARGS.think)
        if time.perf_counter() + pause >= self.stop:
            return False
        time.sleep(pause)
        return True

    def call(
        self, name: str, method: str, path: str, *, api: bool, json: Any = None, ok=(200,)
    ) -> requests.Response | None:
        # A new connection per request: gunicorn closes a connection idle for 5 s (its
        # keepalive), about the think time, and a request on a closed one would fail.
        headers = {**(self.token_headers if api else self.page_headers), "Connection": "close"}
        began = time.perf_counter()
        try:
            response = self.http.request(
                method,
                self.base + path,
                headers=headers,
                json=json,
                timeout=120,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            self.rec.add(name, time.perf_counter() - began, "exception")
            self.rec.error(name, f"{type(exc).__name__}: {exc}")
            return None
        self.rec.add(name, time.perf_counter() - began, response.status_code)
        if response.status_code not in ok:
            self.rec.error(name, f"HTTP {response.status_code}: {response.text[:120]}")
        return response


def annotator_loop(u: User, slug: str) -> None:
    while u.think():
        u.call("queue page", "GET", f"/campaigns/{slug}/queue/", api=False)
        if not u.think():
            return
        r = u.call(
            "claim-next API",
            "POST",
            f"/api/v1/campaigns/{slug}/assignments/next/",
            api=True,
            ok=(201, 204),
        )
        if r is None or r.status_code != 201:
            continue
        claimed = r.json()
        pk = claimed["id"]
        if not u.think():
            return
        u.call("annotate page", "GET", f"/assignments/{pk}/", api=False)
        version = 0
        for _ in range(2):
            if not u.think():
                return
            body = {
                **DRAFT,
                "subcategory": claimed["seed"]["subcategory"] or "",
                "version": version,
            }
            r = u.call(
                "draft save API", "PUT", f"/api/v1/assignments/{pk}/draft/", api=True, json=body
            )
            if r is not None and r.status_code == 200:
                version = r.json()["version"]
        if not u.think():
            return
        u.call("submit API", "POST", f"/api/v1/assignments/{pk}/submit/", api=True)


def reviewer_loop(u: User, slug: str) -> None:
    while u.think():
        u.call("ballots page", "GET", f"/campaigns/{slug}/ballots/", api=False)
        if not u.think():
            return
        r = u.call("ballot list API", "GET", f"/api/v1/campaigns/{slug}/ballots/", api=True)
        if r is None or r.status_code != 200 or not r.json()["results"]:
            continue
        pk = r.json()["results"][0]["id"]
        if not u.think():
            return
        u.call("vote page", "GET", f"/ballots/{pk}/", api=False)
        if not u.think():
            return
        vote: dict[str, Any] = {"decision": "valid"}
        if u.rng.random() < 0.3:
            vote = {"decision": "invalid", "reasons": ["unclear"], "comment": "Which input?"}
        u.call("vote API", "POST", f"/api/v1/ballots/{pk}/vote/", api=True, json=vote)


def curator_loop(u: User, slug: str) -> None:
    while u.think():
        u.call("dashboard page (curator)", "GET", f"/campaigns/{slug}/dashboard/", api=False)
        if not u.think():
            return
        u.call("stats API (curator)", "GET", f"/api/v1/campaigns/{slug}/stats/", api=True)


def session_for(user: Any) -> str:
    """A database session logged in as ``user``, as a login makes one (signed with the
    server's secret key); its key."""
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return str(store.session_key)


def members(campaign: Campaign, role: str, count: int) -> list[Any]:
    return [
        m.user
        for m in Membership.objects.filter(campaign=campaign, role=role)
        .select_related("user")
        .order_by("user__username")[:count]
    ]


def load_run(base: str, campaign: Campaign) -> dict[str, Any]:
    rec = Recorder()
    people = [(annotator_loop, u) for u in members(campaign, Role.ANNOTATOR, ARGS.annotators)] + [
        (reviewer_loop, u) for u in members(campaign, Role.REVIEWER, ARGS.reviewers)
    ]
    people += [(curator_loop, u) for u in members(campaign, Role.CURATOR, ARGS.curators)]
    tokens = {u.pk: Token.objects.get_or_create(user=u)[0].key for _, u in people}
    key = settings.SECRET_KEY
    settings.SECRET_KEY = SECRET_KEY
    try:
        cookies = {u.pk: session_for(u) for _, u in people}
    finally:
        settings.SECRET_KEY = key
    warm_up(base, campaign, people, tokens, cookies)
    started = time.perf_counter()
    stop = started + ARGS.seconds
    threads = []
    for loop, user in people:
        simulated = User(base, user, tokens[user.pk], cookies[user.pk], rec, stop)
        threads.append(threading.Thread(target=loop, args=(simulated, campaign.slug), daemon=True))
    cpu_before = scale.cpu_snapshot()
    load_before = round(os.getloadavg()[0], 2)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(ARGS.seconds + 180)
    elapsed = time.perf_counter() - started
    cpu = scale.other_cpu(cpu_before, elapsed)
    endpoints: dict[str, Any] = {}
    for name in sorted(rec.latencies):
        values = sorted(rec.latencies[name])
        endpoints[name] = {
            "requests": len(values),
            "p50_ms": _ms(scale.percentile(values, 0.50)),
            "p95_ms": _ms(scale.percentile(values, 0.95)),
            "p99_ms": _ms(scale.percentile(values, 0.99)),
            "max_ms": _ms(values[-1]),
            "mean_ms": _ms(statistics.fmean(values)),
            "statuses": rec.statuses.get(name, {}),
            "errors": rec.errors.get(name, {}),
        }
    return {
        "seconds": round(elapsed, 1),
        "annotators": sum(1 for loop, _ in people if loop is annotator_loop),
        "reviewers": sum(1 for loop, _ in people if loop is reviewer_loop),
        "curators": sum(1 for loop, _ in people if loop is curator_loop),
        "think_s_mean": ARGS.think,
        "requests": sum(e["requests"] for e in endpoints.values()),
        "loadavg_1m_before": load_before,
        "loadavg_1m_after": round(os.getloadavg()[0], 2),
        **cpu,
        "endpoints": endpoints,
    }


def warm_up(
    base: str,
    campaign: Campaign,
    people: list[tuple[Any, Any]],
    tokens: dict[int, str],
    cookies: dict[int, str],
) -> None:
    """Every page and list once per person, in parallel, not recorded: each gunicorn worker
    compiles a template and opens its database connection on its first request (measured: the
    queue page's first render in a process takes 0.6 s, the next ones 35 ms), which a run of
    a minute would otherwise count as its slowest requests."""
    slug = campaign.slug
    ignored = Recorder()
    far = time.perf_counter() + 3600
    # Read here, on this thread's connection: the visitors hold none of their own.
    active = {
        user.pk: Assignment.objects.filter(campaign=campaign, annotator=user, status="active")
        .values_list("pk", flat=True)
        .first()
        for loop, user in people
        if loop is annotator_loop
    }

    def visit(loop: Any, user: Any) -> None:
        u = User(base, user, tokens[user.pk], cookies[user.pk], ignored, far)
        if loop is annotator_loop:
            u.call("warm", "GET", f"/campaigns/{slug}/queue/", api=False)
            if active[user.pk] is not None:
                u.call("warm", "GET", f"/assignments/{active[user.pk]}/", api=False)
        elif loop is reviewer_loop:
            u.call("warm", "GET", f"/campaigns/{slug}/ballots/", api=False)
            r = u.call("warm", "GET", f"/api/v1/campaigns/{slug}/ballots/", api=True)
            if r is not None and r.status_code == 200 and r.json()["results"]:
                u.call("warm", "GET", f"/ballots/{r.json()['results'][0]['id']}/", api=False)

    for _round in range(2):
        threads = [threading.Thread(target=visit, args=person) for person in people]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)


def claim_next_http(base: str, campaign: Campaign) -> dict[str, Any]:
    """Claim-next over HTTP as ``bench/scale.py`` measures it (its claimer and its measured
    run: vacuumed first, duplicates checked, claims undone after), HTTP clients only: the
    server's connections are the only database connections it adds."""
    users = members(campaign, Role.ANNOTATOR, 1000)
    claimer = scale._http_claimer(base, campaign.slug, users)
    scale._claim_measured(campaign, users, ARGS.claim_clients, 3, "http-warmup", claimer)
    return scale._claim_measured(
        campaign, users, ARGS.claim_clients, ARGS.claim_seconds, "http", claimer
    )


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


class _Rollback(Exception):
    pass


def queries_per_request(campaign: Campaign) -> dict[str, Any]:
    """Each endpoint once through Django's test client in this process: SQL statements and
    milliseconds. The writes are rolled back."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    annotator = members(campaign, Role.ANNOTATOR, 1)[0]
    reviewer = members(campaign, Role.REVIEWER, 1)[0]
    curator = members(campaign, Role.CURATOR, 1)[0]
    out: dict[str, Any] = {}

    def measure(name: str, client: Client, method: str, path: str, **kw: Any) -> Any:
        with CaptureQueriesContext(connection) as captured:
            began = time.perf_counter()
            response = getattr(client, method)(path, **kw)
            elapsed = time.perf_counter() - began
        out[name] = {
            "queries": len(captured.captured_queries),
            "ms": _ms(elapsed),
            "status": response.status_code,
        }
        return response

    slug = campaign.slug
    try:
        with transaction.atomic():
            pages = {u.pk: Client() for u in (annotator, reviewer, curator)}
            for user, client in ((annotator, pages[annotator.pk]), (reviewer, pages[reviewer.pk])):
                client.force_login(user)
                client.get("/")  # the session's first request, not measured
            pages[curator.pk].force_login(curator)
            api = {
                u.pk: Client(
                    HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=u)[0].key}"
                )
                for u in (annotator, reviewer, curator)
            }
            a, r = pages[annotator.pk], pages[reviewer.pk]
            measure("queue page", a, "get", f"/campaigns/{slug}/queue/")
            claimed = measure(
                "claim-next API",
                api[annotator.pk],
                "post",
                f"/api/v1/campaigns/{slug}/assignments/next/",
            ).json()
            measure("annotate page", a, "get", f"/assignments/{claimed['id']}/")
            body = {**DRAFT, "subcategory": claimed["seed"]["subcategory"] or "", "version": 0}
            measure(
                "draft save API",
                api[annotator.pk],
                "put",
                f"/api/v1/assignments/{claimed['id']}/draft/",
                data=body,
                content_type="application/json",
            )
            measure(
                "submit API",
                api[annotator.pk],
                "post",
                f"/api/v1/assignments/{claimed['id']}/submit/",
            )
            measure("ballots page", r, "get", f"/campaigns/{slug}/ballots/")
            listed = measure(
                "ballot list API", api[reviewer.pk], "get", f"/api/v1/campaigns/{slug}/ballots/"
            )
            ballot = listed.json()["results"][0]["id"]
            measure("vote page", r, "get", f"/ballots/{ballot}/")
            measure(
                "vote API",
                api[reviewer.pk],
                "post",
                f"/api/v1/ballots/{ballot}/vote/",
                data={"decision": "valid"},
                content_type="application/json",
            )
            raise _Rollback
    except _Rollback:
        pass
    return out


def main() -> None:
    if connection.vendor != "postgresql":
        print("bench/scale_mixed.py: skipped (needs PostgreSQL: set BENCH_DATABASE_URL)")
        return
    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # a reused database gets this tree's indexes
    campaign, generator = scale.ensure_campaign(ARGS.scale, ARGS.reuse)
    pending = Ballot.objects.filter(campaign=campaign, status=Ballot.Status.PENDING).count()
    active = Assignment.objects.filter(campaign=campaign, status=Assignment.Status.ACTIVE).count()
    with connection.cursor() as cur:
        cur.execute("VACUUM (ANALYZE)")
    record: dict[str, Any] = {
        "scale": ARGS.scale,
        "label": ARGS.label,
        "sizes": large.sizes(ARGS.scale),
        "generator": generator,
        "before_run": {"pending_ballots": pending, "active_assignments": active},
    }
    with gunicorn_server() as (base, server):
        record["server"] = server
        print(
            f"mixed load: {ARGS.annotators} annotators, {ARGS.reviewers} reviewers, "
            f"{ARGS.curators} curators, think {ARGS.think:g} s, {ARGS.seconds:g} s",
            flush=True,
        )
        if not ARGS.skip_mixed:
            record["load"] = load_run(base, campaign)
        if ARGS.claim_clients:
            record["claim_next_http"] = claim_next_http(base, campaign)
    connection.close()
    record["queries_per_request"] = queries_per_request(campaign)
    harness.write_results("scale-mixed", record)
    table(record)


def table(record: dict[str, Any]) -> None:
    claims = record.get("claim_next_http")
    if claims:
        print(
            f"claim-next over HTTP, {claims['clients']} clients: {claims['claims_per_s']}/s, "
            f"p50 {claims['latency_ms_p50']} ms, p99 {claims['latency_ms_p99']} ms, "
            f"duplicates {claims['duplicates_in_memory']}, errors {sum(claims['errors'].values())}"
        )
    if "load" not in record:
        return
    load = record["load"]
    queries = record["queries_per_request"]
    print(
        f"\n{load['requests']} requests in {load['seconds']} s; load {load['loadavg_1m_before']}"
        f" -> {load['loadavg_1m_after']}; others' CPU {load['other_processes_cpu_share']:.0%}"
    )
    print("| endpoint | requests | p50 ms | p95 ms | p99 ms | max ms | queries | errors |")
    print("|---|---|---|---|---|---|---|---|")
    for name, row in load["endpoints"].items():
        q = queries.get(name, {}).get("queries", "-")
        errors = sum(row["errors"].values())
        print(
            f"| {name} | {row['requests']} | {row['p50_ms']} | {row['p95_ms']} | "
            f"{row['p99_ms']} | {row['max_ms']} | {q} | {errors} |"
        )


if __name__ == "__main__":
    main()

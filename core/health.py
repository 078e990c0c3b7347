"""Health endpoints for load balancers and orchestrators: JSON, no authentication, GET or HEAD.

- ``/healthz`` (liveness): the process answers. No I/O at all, so a slow database never gets a
  healthy process restarted.
- ``/readyz`` (readiness): the database (a query), the cache (a key set, read and deleted), the
  Celery broker (a connection), a live Celery worker (``celery control ping``) and the release
  storage (a small file saved and deleted). The checks run at the same time, each in its own
  thread, and the answer comes within ``CURATION_HEALTH_CHECK_TIMEOUT`` seconds whatever hangs:
  a check still running then is reported as timed out. 200 when every check passes, 503
  otherwise, so a load balancer stops sending traffic to an instance that cannot serve it. With
  eager Celery (no broker configured) the broker and worker checks pass as "not used".

Nothing sensitive in an answer: each check reports its name, ``ok``, a status ("ok", "not used"
or "error"), a fixed reason when it failed, and the seconds it took; never a host name, URL,
user name, password or exception text. The exception goes to the log (WARNING), for operators.

Why not django-health-check (4.8, evaluated and not kept): its view answers 500 rather than 503,
picks HTML unless the probe sends ``Accept: application/json`` or ``?format=json``, and keys its
JSON by each check's ``repr``, which for its Redis check is the server's host, port and
database. It has no check of the Celery broker as Celery sees it and no "not used" state for
eager Celery, and it ships no type information (core is type-checked strictly). Overriding the
view and writing those checks would leave only its running of checks under a deadline, which is
the few lines of ``run_checks`` below.
"""

import contextvars
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

OK = "ok"
NOT_USED = "not used"
ERROR = "error"


class CheckFailed(Exception):
    """A readiness check failed; ``reason`` is safe to show to anyone (fixed text, no detail)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Check:
    """A readiness check: ``run`` returns OK or NOT_USED, or raises. Any exception other than
    CheckFailed is reported as ``failure`` (its text may name hosts: it only goes to the log)."""

    name: str
    run: Callable[[], str]
    failure: str


@dataclass(frozen=True)
class Result:
    name: str
    status: str
    reason: str
    seconds: float

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "ok": self.status != ERROR,
            "status": self.status,
            "seconds": round(self.seconds, 3),
        }
        if self.reason:
            out["reason"] = self.reason
        return out


# --- the checks ------------------------------------------------------------------------------


def database() -> str:
    """A query on a connection of this thread's own, closed afterwards."""
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            row = cursor.fetchone()
    finally:
        connections.close_all()
    if row is None or row[0] != 1:
        raise CheckFailed("unexpected answer")
    return OK


def cache() -> str:
    """Set, read back and delete a key of this probe's own in the default cache."""
    store = caches["default"]
    key = f"readyz:{uuid.uuid4().hex}"
    store.set(key, "1", timeout=60)
    try:
        if store.get(key) != "1":
            raise CheckFailed("a key set could not be read back")
    finally:
        store.delete(key)
    return OK


def _celery_app() -> Any:
    from celery import current_app  # the project's app (config.celery_app), set as default

    return current_app


def _eager() -> bool:
    conf = _celery_app().conf
    return bool(conf.task_always_eager or not conf.broker_url)


def broker() -> str:
    """Connect to the Celery broker: one attempt (no retry), within Celery's connection
    timeout (CELERY_BROKER_CONNECTION_TIMEOUT)."""
    if _eager():
        return NOT_USED
    with _celery_app().connection_for_write() as connection:
        connection.ensure_connection(max_retries=0)
    return OK


def worker() -> str:
    """At least one Celery worker answers a ping within CURATION_HEALTH_WORKER_PING_TIMEOUT."""
    if _eager():
        return NOT_USED
    app = _celery_app()
    with app.connection_for_write() as connection:
        # Connect first, once: a ping over a dead broker would retry for a long time.
        connection.ensure_connection(max_retries=0)
        replies = app.control.ping(
            timeout=settings.CURATION_HEALTH_WORKER_PING_TIMEOUT, limit=1, connection=connection
        )
    if not any(reply == {"ok": "pong"} for answer in replies for reply in answer.values()):
        raise CheckFailed("no worker answered")
    return OK


def release_storage() -> str:
    """Save a small file in the release storage and delete it."""
    store = storages["releases"]
    # A dotted name at the top: never inside a release's <campaign>/<release>/ folder.
    name = store.save(f".readyz-{uuid.uuid4().hex}", ContentFile(b"readyz\n"))
    store.delete(name)
    return OK


READINESS = [
    Check("database", database, "query failed"),
    Check("cache", cache, "cache unavailable"),
    Check("broker", broker, "cannot connect"),
    Check("worker", worker, "cannot ping workers"),
    Check("release_storage", release_storage, "cannot write"),
]


# --- running them ----------------------------------------------------------------------------


def run_checks(checks: list[Check], *, timeout: float) -> list[Result]:
    """Run ``checks`` at the same time and return their results within ``timeout`` seconds.
    A check still running by then is reported as timed out; its (daemon) thread is left to
    finish on its own and its outcome is dropped."""
    results: dict[str, Result] = {}
    lock = threading.Lock()

    def attempt(check: Check) -> None:
        started = time.monotonic()
        try:
            status, reason = check.run(), ""
        except CheckFailed as exc:
            status, reason = ERROR, exc.reason
            logger.warning("readiness check %s failed: %s", check.name, exc.reason)
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            status, reason = ERROR, check.failure
            logger.warning("readiness check %s failed: %s: %s", check.name, type(exc).__name__, exc)
        with lock:
            results[check.name] = Result(check.name, status, reason, time.monotonic() - started)

    started = time.monotonic()
    # Each thread runs in a copy of this request's context, so its log lines carry the
    # request id (core.logs).
    threads = [
        threading.Thread(
            target=contextvars.copy_context().run,
            args=(attempt, check),
            name=f"readyz-{check.name}",
            daemon=True,
        )
        for check in checks
    ]
    for thread in threads:
        thread.start()
    deadline = started + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    with lock:
        done = dict(results)
    out = []
    for check in checks:
        if check.name in done:
            out.append(done[check.name])
        else:
            logger.warning("readiness check %s timed out after %g s", check.name, timeout)
            out.append(
                Result(
                    check.name, ERROR, f"timed out after {timeout:g} s", time.monotonic() - started
                )
            )
    return out


def _answer(body: dict[str, object], *, status: int) -> JsonResponse:
    response = JsonResponse(body, status=status)
    add_never_cache_headers(response)
    return response


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving requests (no I/O)."""
    return _answer({"status": OK}, status=200)


@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Every dependency answers (see the module docstring): 200, else 503."""
    results = run_checks(READINESS, timeout=settings.CURATION_HEALTH_CHECK_TIMEOUT)
    ready = all(result.status != ERROR for result in results)
    body: dict[str, object] = {
        "status": OK if ready else ERROR,
        "checks": {result.name: result.as_json() for result in results},
    }
    return _answer(body, status=200 if ready else 503)

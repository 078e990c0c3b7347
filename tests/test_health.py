"""The health endpoints (core.health): /healthz (the process answers, no I/O) and /readyz (the
database, cache, broker, a live Celery worker and the release storage), JSON without an Accept
header, no authentication, 200 or 503, nothing sensitive in the body, bounded in time.

Real failures, not mocks: a broker on a closed port, a cache that accepts connections and never
answers, a release folder that cannot exist, a whole production process whose database, cache
and broker are all unreachable (a subprocess: this process's own database must stay up), and a
real Celery worker on Redis that answers and then stops."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.test import Client

from .test_celery_worker import Worker, celery_broker

CHECKS = {"database", "cache", "broker", "worker", "release_storage"}
# The health checks' Redis database (other test modules use their own).
REDIS_DB = 5


def closed_port() -> int:
    """A local TCP port nothing listens on (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def readyz(client: Client | None = None, **headers: str) -> tuple[int, dict, float]:
    started = time.monotonic()
    r = (client or Client()).get("/readyz", **headers)
    elapsed = time.monotonic() - started
    assert r["Content-Type"] == "application/json"
    return r.status_code, json.loads(r.content), elapsed


def assert_shape(body: dict) -> None:
    """Only names, ok, a status, a fixed reason and seconds: nothing else to leak."""
    assert set(body) == {"status", "checks"}
    assert set(body["checks"]) == CHECKS
    for name, check in body["checks"].items():
        assert set(check) <= {"ok", "status", "seconds", "reason"}, name
        assert check["ok"] is (check["status"] != "error"), name
        assert check["status"] in {"ok", "not used", "error"}, name
        assert ("reason" in check) is (check["status"] == "error"), name
        assert isinstance(check["seconds"], float) and check["seconds"] >= 0, name
    assert body["status"] == ("ok" if all(c["ok"] for c in body["checks"].values()) else "error")


# --- the process answers ---------------------------------------------------------------------


def test_healthz_answers_json_without_touching_the_database():
    # No database fixture: pytest-django refuses any query, so this fails if /healthz made one.
    for client, headers in [
        (Client(), {}),
        (Client(), {"HTTP_ACCEPT": "text/html"}),  # a browser's Accept: still JSON
        (Client(enforce_csrf_checks=True), {"HTTP_AUTHORIZATION": "Token not-a-token"}),
    ]:
        r = client.get("/healthz", **headers)
        assert r.status_code == 200
        assert r["Content-Type"] == "application/json"
        assert json.loads(r.content) == {"status": "ok"}
        assert "no-cache" in r["Cache-Control"] and "no-store" in r["Cache-Control"]
    assert Client().head("/healthz").status_code == 200
    assert Client().post("/healthz").status_code == 405


# --- ready: everything this set-up uses answers ----------------------------------------------


@pytest.mark.django_db
def test_readyz_is_200_here_with_eager_celery_as_not_used(settings, tmp_path):
    settings.RELEASES_DIR = tmp_path
    status, body, elapsed = readyz(HTTP_ACCEPT="text/html")

    assert status == 200, body
    assert_shape(body)
    checks = body["checks"]
    assert {name: check["status"] for name, check in checks.items()} == {
        "database": "ok",
        "cache": "ok",
        "broker": "not used",
        "worker": "not used",
        "release_storage": "ok",
    }
    assert elapsed < settings.CURATION_HEALTH_CHECK_TIMEOUT
    # The storage probe deleted its file.
    assert list(tmp_path.iterdir()) == []


@pytest.mark.django_db
def test_readyz_needs_no_authentication_and_ignores_credentials(make_world, settings, tmp_path):
    settings.RELEASES_DIR = tmp_path
    world = make_world(slug="health")
    signed_in = Client(enforce_csrf_checks=True)
    signed_in.force_login(world.curator)
    for client, headers in [
        (Client(), {}),
        (signed_in, {}),
        (Client(), {"HTTP_AUTHORIZATION": "Token not-a-token"}),
    ]:
        status, body, _ = readyz(client, **headers)
        assert status == 200, body
    r = Client().head("/readyz")
    assert r.status_code == 200 and r["Content-Type"] == "application/json"
    assert "no-store" in r["Cache-Control"]
    assert Client().post("/readyz").status_code == 405


# --- not ready: each failure is a 503 naming the check, and nothing more ----------------------


@pytest.mark.django_db
def test_readyz_is_503_when_the_broker_is_unreachable(settings, tmp_path):
    settings.RELEASES_DIR = tmp_path
    port = closed_port()
    with celery_broker(f"redis://:broker-secret@127.0.0.1:{port}/{REDIS_DB}"):
        status, body, elapsed = readyz()

    assert status == 503, body
    assert_shape(body)
    checks = body["checks"]
    assert checks["broker"] == {**checks["broker"], "ok": False, "reason": "cannot connect"}
    assert checks["worker"]["ok"] is False
    assert checks["database"]["ok"] and checks["cache"]["ok"] and checks["release_storage"]["ok"]
    assert elapsed < settings.CURATION_HEALTH_CHECK_TIMEOUT + 0.5
    text = json.dumps(body)
    for secret in ["broker-secret", "127.0.0.1", str(port), "redis", "refused", "Error"]:
        assert secret not in text


@pytest.mark.django_db
def test_readyz_is_503_when_release_storage_cannot_be_written(settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    settings.RELEASES_DIR = blocker / "releases"  # cannot be created, even by root

    status, body, _ = readyz()

    assert status == 503, body
    assert_shape(body)
    assert body["checks"]["release_storage"]["reason"] == "cannot write"
    assert body["checks"]["database"]["ok"] and body["checks"]["cache"]["ok"]
    assert str(tmp_path) not in json.dumps(body)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a hung Redis)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        for connection in accepted:  # the hung check's thread then sees the connection close
            connection.close()
        server.close()


@pytest.mark.django_db
def test_readyz_answers_within_its_budget_when_a_check_hangs(settings, tmp_path, silent_server):
    settings.RELEASES_DIR = tmp_path
    settings.CURATION_HEALTH_CHECK_TIMEOUT = 0.5
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{silent_server}/{REDIS_DB}",
        }
    }

    status, body, elapsed = readyz()

    assert status == 503, body
    assert_shape(body)
    assert body["checks"]["cache"]["reason"] == "timed out after 0.5 s"
    assert body["checks"]["database"]["ok"] and body["checks"]["release_storage"]["ok"]
    assert 0.5 <= elapsed < 1.5


# --- a production process with nothing reachable -----------------------------------------------

PROBE = """
import json, django
django.setup()
from django.test import Client
out = {}
for path, host in [("/healthz", "app.example.test"), ("/readyz", "app.example.test"),
                   ("/accounts/login/", "app.example.test"), ("/healthz", "10.1.2.3")]:
    r = Client().get(path, HTTP_HOST=host)
    out[f"{path} {host}"] = [r.status_code, r.get("Location", ""), r.content.decode()]
print(json.dumps(out))
"""


def test_production_process_with_its_database_cache_and_broker_down(tmp_path):
    """The database failure runs in a production-settings subprocess: this test process keeps
    its own test database. Plain HTTP (as a load balancer probes an instance) is answered, not
    redirected to HTTPS; the body names no host, port, user or password."""
    ports = {name: closed_port() for name in ("db", "cache", "broker")}
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "CELERY_", "SENTRY_", "CURATION_", "DATABASE_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY="health-test-" + "k" * 50,
        DJANGO_ALLOWED_HOSTS="app.example.test",
        DJANGO_EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        DATABASE_URL=f"postgres://curation:db-secret@127.0.0.1:{ports['db']}/curation",
        REDIS_CACHE_URL=f"redis://:cache-secret@127.0.0.1:{ports['cache']}/{REDIS_DB}",
        CELERY_BROKER_URL=f"redis://:broker-secret@127.0.0.1:{ports['broker']}/{REDIS_DB}",
        CURATION_RELEASES_DIR=str(tmp_path / "releases"),
        DJANGO_STATIC_ROOT=str(tmp_path / "static"),
    )
    run = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])

    assert out["/healthz app.example.test"][:2] == [200, ""]
    assert json.loads(out["/healthz app.example.test"][2]) == {"status": "ok"}
    status, location, text = out["/readyz app.example.test"]
    assert (status, location) == (503, ""), text
    body = json.loads(text)
    assert_shape(body)
    checks = body["checks"]
    assert checks["database"]["reason"] == "query failed"
    assert checks["cache"]["reason"] == "cache unavailable"
    assert checks["broker"]["reason"] == "cannot connect"
    assert checks["worker"]["ok"] is False
    assert checks["release_storage"]["ok"] is True
    for secret in [
        "secret",
        "curation",
        "127.0.0.1",
        "postgres",
        "redis",
        *map(str, ports.values()),
    ]:
        assert secret not in text, secret
    # Every other page still goes to HTTPS in production.
    assert out["/accounts/login/ app.example.test"][:2] == [
        301,
        "https://app.example.test/accounts/login/",
    ]
    # A probe sending a Host that is not allowed (a pod's IP) is refused: the README says to
    # list it in DJANGO_ALLOWED_HOSTS (or send an allowed Host header) rather than allow all.
    assert out["/healthz 10.1.2.3"][0] == 400
    # The failures are in the log, for operators.
    assert "readiness check database failed" in run.stderr


# --- a real Celery worker on Redis -------------------------------------------------------------


def redis_db(url: str, db: int) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{db}"))


@pytest.mark.django_db
def test_readyz_is_200_with_a_live_worker_and_503_once_it_stops(
    postgres, redis_broker, settings, tmp_path
):
    settings.RELEASES_DIR = tmp_path
    url = redis_db(redis_broker, REDIS_DB)
    worker = Worker(broker_url=url)
    try:
        with celery_broker(url):
            # The worker answers pings once it has started (a few seconds).
            _, body, _ = worker.wait_for("/readyz to see the worker", _ready)
            assert body["checks"]["broker"]["status"] == "ok"
            assert body["checks"]["worker"]["status"] == "ok"
            assert (
                body["checks"]["worker"]["seconds"] < settings.CURATION_HEALTH_WORKER_PING_TIMEOUT
            )

            worker.stop()
            status, body, elapsed = readyz()

            assert status == 503, body
            assert_shape(body)
            assert body["checks"]["worker"]["reason"] == "no worker answered"
            assert body["checks"]["broker"]["ok"] is True
            assert elapsed < settings.CURATION_HEALTH_CHECK_TIMEOUT + 0.5
    finally:
        worker.stop()


def _ready() -> tuple[int, dict, float] | None:
    status, body, elapsed = readyz()
    assert body["checks"]["broker"]["ok"], body  # Redis itself is up (redis_broker said so)
    return (status, body, elapsed) if status == 200 else None

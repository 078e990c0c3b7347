"""Error reporting (config/sentry.py): with SENTRY_DSN set, an unhandled exception in a view and
in a Celery task reach a Sentry-compatible ingest endpoint with the exception type and release,
and without cookies, credentials, the request body or the user's email / address; without
SENTRY_DSN the SDK is not started.

The ingest endpoint is a small HTTP server in this process; the reporting side runs in a
subprocess with production settings, so sentry_sdk.init's global state never reaches the
other tests."""

import gzip
import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from config import __version__

ROOT = Path(__file__).resolve().parent.parent

TOKEN = "0f8e41d07b5c2a9c7d3e1b6a4f0c8e2d1a7b9c30"
CSRF = "csrf-value-77b1e2"
BODY = "request-body-text-3c9d"
EMAIL = "boomer-4b1f@example.org"
ADDRESS = "203.0.113.77"

# Runs in the subprocess: production settings (SENTRY_DSN set by the test), one view and one
# task that fail, the test client sending every secret the report must leave out.
SCRIPT = textwrap.dedent(
    f"""
    import io, sys, types, wsgiref.util
    import django
    django.setup()

    import sentry_sdk
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application
    from django.test import Client, override_settings
    from rest_framework.authtoken.models import Token
    from django.urls import include, path
    from django.views.decorators.csrf import csrf_exempt

    from config.celery_app import app

    class ViewBoom(Exception):
        pass

    class TaskBoom(Exception):
        pass

    @csrf_exempt  # the body is there to be left out of the report, not to be checked
    def boom(request):
        assert request.user.email == {EMAIL!r}  # signed in by the session cookie
        raise ViewBoom("the view failed")

    urls = types.ModuleType("boom_urls")
    urls.urlpatterns = [path("boom/", boom), path("", include("config.urls"))]
    sys.modules["boom_urls"] = urls

    @app.task(name="tests.boom_task")
    def boom_task(rewrite_id):
        raise TaskBoom("the task failed")

    print("client active:", sentry_sdk.get_client().is_active())
    session = token = "none"
    if sentry_sdk.get_client().is_active():
        # A signed-in user with an email address, a session cookie and an API token.
        call_command("migrate", verbosity=0)
        user = get_user_model().objects.create_user("boomer", {EMAIL!r}, "pw-boomer-1")
        token = Token.objects.create(user=user, key={TOKEN!r}).key
        client = Client()
        client.force_login(user)
        session = client.cookies["sessionid"].value
    # Through the WSGI handler, as gunicorn calls it (Sentry reads the request's URL and headers
    # there; the test client skips it).
    body = b"text={BODY}"
    environ = {{
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/boom/",
        "QUERY_STRING": "q={BODY}",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "https",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "443",
        "HTTP_HOST": "testserver",
        "HTTP_COOKIE": f"sessionid={{session}}; csrftoken={CSRF}",
        "HTTP_AUTHORIZATION": f"Token {{token}}",
        "HTTP_X_CSRFTOKEN": "{CSRF}",
        "HTTP_X_FORWARDED_FOR": "{ADDRESS}",
        "HTTP_X_REAL_IP": "{ADDRESS}",
        "HTTP_X_REQUEST_ID": "sentry-test-request-1",
        "REMOTE_ADDR": "{ADDRESS}",
    }}
    wsgiref.util.setup_testing_defaults(environ)
    statuses = []
    with override_settings(ROOT_URLCONF="boom_urls"):
        application = get_wsgi_application()
        b"".join(application(environ, lambda status, headers, *_: statuses.append(status)))
    print("view status:", statuses[0])
    print("session:", session)
    result = boom_task.apply(args=(5,), task_id="sentry-test-task-1", throw=False)
    print("task state:", result.state)
    sentry_sdk.flush(timeout=10)
    """
)


class Ingest(BaseHTTPRequestHandler):
    """Sentry's envelope endpoint: keeps every POSTed body (decompressed)."""

    received: list[tuple[str, bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.received.append((self.path, body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def ingest() -> Iterator[Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ingest)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def run_production(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SENTRY_", "CELERY_", "DJANGO_", "PYTEST", "CURATION_"))
    }
    environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY="sentry-test-secret-key-" + "x" * 40,
        DJANGO_ALLOWED_HOSTS="testserver",
        DJANGO_EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        DATABASE_URL=f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        CURATION_LOG_FORMAT="json",
        **env,
    )
    return subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def events(received: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
    """The event items of the envelopes (an envelope: a header line, then item header and
    payload lines)."""
    found = []
    for _path, body in received:
        lines = body.split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                found.append(json.loads(payload))
    return found


def test_view_and_task_errors_are_reported_without_personal_data(ingest, tmp_path):
    port = ingest.server_address[1]
    done = run_production(tmp_path, SENTRY_DSN=f"http://publickey@127.0.0.1:{port}/42")
    assert done.returncode == 0, done.stderr
    assert "client active: True" in done.stdout
    assert "view status: 500 Internal Server Error" in done.stdout
    assert "task state: FAILURE" in done.stdout

    assert ingest.received, "nothing reached the ingest endpoint"
    assert {path for path, _ in ingest.received} == {"/api/42/envelope/"}
    reported = events(ingest.received)
    by_type = {event["exception"]["values"][-1]["type"]: event for event in reported}
    assert set(by_type) == {"ViewBoom", "TaskBoom"}
    for event in reported:
        assert event["release"] == f"codearena-curation@{__version__}"
        assert event["environment"] == "production"

    view = by_type["ViewBoom"]
    assert view["tags"]["request_id"] == "sentry-test-request-1"
    print(json.dumps(view["request"], indent=1))
    assert view["request"]["url"] == "https://testserver/boom/"
    assert view["request"]["method"] == "POST"
    assert "data" not in view["request"] and "cookies" not in view["request"]
    assert view.get("user", {}).get("email") is None
    assert view.get("user", {}).get("ip_address") is None
    task = by_type["TaskBoom"]
    assert task["tags"]["task_id"] == "sentry-test-task-1"
    assert task["tags"]["task"] == "tests.boom_task"

    # Nothing secret anywhere in what was sent: envelopes, breadcrumbs, headers, tags.
    session = done.stdout.split("session: ")[1].split()[0]
    assert len(session) > 20
    sent = b"\n".join(body for _, body in ingest.received).decode()
    for secret in (session, TOKEN, CSRF, BODY, EMAIL, ADDRESS, "sentry-test-secret-key"):
        assert secret not in sent, secret


def test_without_a_dsn_nothing_is_started(ingest, tmp_path):
    done = run_production(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "client active: False" in done.stdout
    assert "view status: 500 Internal Server Error" in done.stdout
    assert ingest.received == []

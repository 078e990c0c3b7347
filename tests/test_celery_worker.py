"""A real Celery worker, started as a subprocess on Redis, runs the tasks the services enqueue,
against the same PostgreSQL test database. Skipped locally without PostgreSQL or Redis, failed
in CI."""

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import kombu.pools
import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from annotation.models import Assignment, Event, Rewrite, Seed
from annotation.tasks import expire_assignments
from annotation.tokens import count_tokens
from config.celery_app import app as celery_app

WAIT_SECONDS = 60
# Where the worker writes release files; this process reads them from the same folder.
WORKER_RELEASES_DIR = Path(tempfile.mkdtemp(prefix="worker-releases-"))


def database_url_for_worker() -> str:
    """The URL of the database this test process uses (the test database, once it exists)."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = quote(db["HOST"] or "", safe="")  # a socket directory travels percent-encoded
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{auth}@{host}{port}/{quote(db['NAME'], safe='')}"


class Worker:
    """``celery worker`` in a subprocess, consuming only its own queue so that parallel runs on
    one Redis do not take each other's tasks. Its output goes to a file, read on failure."""

    def __init__(
        self, *, broker_url: str, pool: str = "solo", env: dict[str, str] | None = None
    ) -> None:
        self.broker_url = broker_url
        self.queue = f"test-{uuid.uuid4().hex[:12]}"
        self.log_path = Path(tempfile.mkstemp(prefix="celery-worker-", suffix=".log")[1])
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": database_url_for_worker(),
            "CELERY_BROKER_URL": broker_url,
            "CELERY_RESULT_BACKEND": broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            # base.py set it for this process if ../shared/tiktoken exists; the worker needs it.
            "TIKTOKEN_CACHE_DIR": os.environ.get("TIKTOKEN_CACHE_DIR", ""),
            "CURATION_RELEASES_DIR": str(WORKER_RELEASES_DIR),
            **(env or {}),
        }
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config.celery_app",
            "worker",
            f"--pool={pool}",
            "--concurrency=1",
            "--loglevel=INFO",
            "-Q",
            self.queue,
            "-n",
            f"{self.queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def pool_children(self) -> list[int]:
        """The pids of the worker's pool processes (prefork), which run the tasks."""
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def assert_alive(self) -> None:
        code = self.proc.poll()
        assert code is None, f"the worker exited with {code}:\n{self.output()}"

    def wait_for(self, what: str, condition: Callable[[], Any]) -> Any:
        """Poll ``condition`` until it returns something truthy; fail with the worker's output
        after WAIT_SECONDS or as soon as the worker dies."""
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            self.assert_alive()
            time.sleep(0.2)
        pytest.fail(f"waited {WAIT_SECONDS}s for {what}; worker output:\n{self.output()}")

    def ran(self, task: str, task_id: str = "") -> None:
        """Wait until the worker's log shows that it, not this process, ran ``task``."""
        # The task's end line (config.celery_app), in the text format.
        done = re.compile(
            rf"task ended {re.escape(task)} SUCCESS .*task_id={re.escape(task_id) or '[^ ]+'}"
        )
        self.wait_for(f"the worker to run {task}", lambda: done.search(self.output()))

    def stop(self) -> None:
        try:
            self.proc.terminate()  # SIGTERM: warm shutdown
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        finally:
            client = redis.Redis.from_url(self.broker_url)
            client.delete(
                self.queue,
                f"_kombu.binding.{self.queue}",
                f"_kombu.binding_permanent.{self.queue}",
            )
            client.close()
            self.log_path.unlink(missing_ok=True)


def _drop_cached_connections() -> None:
    # Celery caches its broker pool, producer and result backend on first use; drop them so the
    # next call builds them from the configuration in force (Celery has no public reset).
    kombu.pools.reset()  # closes and forgets this process's broker connections
    celery_app._pool = None
    celery_app.__dict__.pop("amqp", None)
    celery_app._backend_cache = None
    celery_app._local = threading.local()


@contextmanager
def celery_broker(url: str) -> Iterator[None]:
    """This process's Celery app sends to ``url`` instead of running tasks eagerly. Celery reads
    CELERY_BROKER_URL from the environment before its configuration (CI sets it), so the
    environment points there too."""
    keys = ("task_always_eager", "broker_url", "result_backend")
    saved = {key: celery_app.conf[key] for key in keys}
    saved_env = os.environ.get("CELERY_BROKER_URL")
    os.environ["CELERY_BROKER_URL"] = url
    celery_app.conf.update(task_always_eager=False, broker_url=url, result_backend=url)
    _drop_cached_connections()
    try:
        yield
    finally:
        if saved_env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = saved_env
        celery_app.conf.update(saved)
        _drop_cached_connections()


@contextmanager
def tasks_sent_to(worker: Worker) -> Iterator[None]:
    """Make this process send tasks to ``worker``'s queue instead of running them eagerly."""
    keys = ("task_always_eager", "broker_url", "result_backend", "task_default_queue")
    saved = {key: celery_app.conf[key] for key in keys}
    celery_app.conf.update(
        task_always_eager=False,
        broker_url=worker.broker_url,
        result_backend=worker.broker_url,
        task_default_queue=worker.queue,
    )
    _drop_cached_connections()
    try:
        yield
    finally:
        celery_app.conf.update(saved)
        _drop_cached_connections()


@pytest.fixture(scope="module")
def _workers() -> Iterator[dict[str, Worker]]:
    """One worker per broker for the whole module, stopped (or killed) at the end."""
    workers: dict[str, Worker] = {}
    try:
        yield workers
    finally:
        for worker in workers.values():
            worker.stop()


@pytest.fixture
def worker(
    postgres: None, redis_broker: str, transactional_db: None, _workers: dict[str, Worker]
) -> Iterator[Worker]:
    if redis_broker not in _workers:
        _workers[redis_broker] = Worker(broker_url=redis_broker)
    worker = _workers[redis_broker]
    worker.assert_alive()
    with tasks_sent_to(worker):
        yield worker
    # Shown by pytest only when the test failed.
    print(f"--- celery worker output ({worker.queue}) ---\n{worker.output()}")


def test_worker_counts_tokens_of_a_submitted_rewrite(worker, make_world):
    world = make_world(slug="worker")
    world.add_seeds(1)
    text = "Écrivez une fonction Rust qui fusionne deux listes triées en O(n) — avec des tests."
    rewrite = world.submitted(text=text)  # the submit's on_commit hook sends the task to Redis

    tokens = worker.wait_for(
        "the worker to store the question's token count",
        lambda: Rewrite.objects.values_list("question_tokens", flat=True).get(pk=rewrite.pk),
    )

    assert tokens == count_tokens(text, "o200k_base") > 10
    assert Rewrite.objects.get(pk=rewrite.pk).tokenizer == "o200k_base"
    worker.ran("annotation.tasks.count_rewrite_tokens")
    # The submit also sent the quality check; let it finish before the test database is
    # flushed (it writes hits and the reference sets' checked_at, which would deadlock it).
    worker.ran("quality.tasks.check_rewrite_quality")


def test_worker_runs_the_lease_sweep_and_returns_its_result(worker, make_world):
    world = make_world(slug="sweep")
    world.add_seeds(2)
    expired, current = world.claim(), world.claim()
    Assignment.objects.filter(pk=expired.pk).update(
        lease_expires_at=timezone.now() - timedelta(minutes=1)
    )

    # Results are ignored by default (nothing reads them); this call asks for its own.
    result = expire_assignments.apply_async(ignore_result=False)

    assert result.get(timeout=WAIT_SECONDS) == 1
    worker.ran("annotation.tasks.expire_assignments", result.id)
    assert Assignment.objects.get(pk=expired.pk).status == "released"
    assert Seed.objects.get(pk=expired.seed_id).status == "sampled"
    assert Assignment.objects.get(pk=current.pk).status == "active"
    assert Event.objects.filter(kind="assignment.lease_expired", object_id=expired.pk).count() == 1


def test_worker_checks_submissions_and_builds_a_release(worker, make_world, settings):
    from exports.models import Release
    from quality.services import reference_set_load
    from review.services import ballot_cast

    from .conftest import api_for

    settings.RELEASES_DIR = WORKER_RELEASES_DIR
    world = make_world(slug="wrelease")
    leaked = "given a list of integers return the second largest distinct value or none if absent"
    reference = WORKER_RELEASES_DIR / "ref.jsonl"
    reference.write_text(json.dumps({"task_id": "T/1", "prompt": leaked}) + "\n")
    reference_set_load(name="worker-ref", paths=[reference])
    world.add_seeds(2)
    dirty = world.submitted(text=f"Please solve: {leaked}.")
    clean = world.submitted(
        annotator=world.annotators[1], text="How do I profile a slow Django view with many joins?"
    )
    worker.wait_for(
        "the worker to record the contamination hit",
        lambda: dirty.contamination_hits.exists(),
    )
    worker.ran("quality.tasks.check_rewrite_quality")
    for rewrite in (dirty, clean):
        for ballot in rewrite.ballots.select_related("reviewer"):
            ballot_cast(ballot_id=ballot.pk, actor=ballot.reviewer, decision="valid")
    assert not clean.contamination_hits.exists()

    curator = api_for(world.curator)
    res = curator.post(
        "/api/v1/campaigns/wrelease/releases/", {"name": "w1", "size": 1}, format="json"
    )
    assert res.status_code == 202 and res.json()["status"] == "queued"
    release_id = res.json()["id"]
    done = worker.wait_for(
        "the worker to finish the release",
        lambda: Release.objects.filter(pk=release_id, status__in=["done", "failed"]).first(),
    )
    worker.ran("exports.tasks.run_release")
    assert done.status == "done", done.error
    body = curator.get(f"/api/v1/releases/{release_id}/").json()
    assert body["stats"]["total"] == 1 and body["stats"]["funnel"]["contaminated"] == 1
    file = next(f for f in body["files"] if f["name"] == "benchmark.jsonl")
    data = b"".join(curator.get(file["url"]).streaming_content)
    assert clean.seed.external_id in data.decode() and dirty.seed.external_id not in data.decode()

"""Jobs survive what breaks them (issue 17): a broker outage during a write, a lost message, a
worker killed mid-job. Unit tests for the enqueue helper and the sweeps, then a real Celery
worker (prefork, on Redis and PostgreSQL; skipped locally without them, failed in CI) whose
pool process is killed with SIGKILL mid-release and mid-check."""

import hashlib
import os
import re
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from annotation.models import Event, Rewrite
from annotation.tasks import count_missing_tokens
from core.jobs import enqueue
from exports.models import Release
from exports.services import ReleaseParameters, release_build
from exports.services import job as release_job
from exports.tasks import requeue_stale_releases, run_release
from quality.models import ContaminationHit, RewriteCheck, SimilarityFlag
from quality.services import checks as quality_checks
from quality.services import reference_set_load, rewrite_quality_check
from quality.tasks import requeue_unchecked_rewrites

from .conftest import api_for, cast_panel
from .test_celery_worker import WORKER_RELEASES_DIR, Worker, celery_broker

TEXTS = [
    "My Flask app returns 502 behind nginx after a deploy; the gunicorn log says worker timeout. "
    "How should I size workers and timeouts for a 4 core VM serving slow report endpoints?",
    "In PostgreSQL 15 a query joining orders and customers ignores my composite index on "
    "(customer_id, created_at). Explain when the planner prefers a hash join and how to check.",
    "Write a Rust CLI that tails a log file, groups lines by HTTP status, and prints a live "
    "histogram every second without blocking on slow disks.",
]
LEAKED = "given a list of integers return the second largest distinct value or none if absent"


def closed_port() -> int:
    """A local TCP port nothing listens on (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def broker_down() -> Iterator[str]:
    """This process sends tasks to a broker that refuses connections (Redis down)."""
    url = f"redis://127.0.0.1:{closed_port()}/0"
    with celery_broker(url):
        yield url


def accepted_world(world, capture, n: int = 3):
    world.add_seeds(n)
    for i in range(n):
        with capture(execute=True):
            rewrite = world.submitted(annotator=world.annotators[i % 4], text=TEXTS[i % 3])
        cast_panel(rewrite, ["valid"] * 4)
    return world


def page_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def age(model, pk, **fields_minutes) -> None:
    """Move timestamps of a row back by the given minutes (as time passing would)."""
    now = timezone.now()
    model.objects.filter(pk=pk).update(
        **{field: now - timedelta(minutes=m) for field, m in fields_minutes.items()}
    )


# --- enqueue with the broker down -------------------------------------------------------------


def test_enqueue_with_the_broker_down_returns_quickly_and_records_the_failure():
    failures: list[Exception] = []
    with broker_down():
        started = time.monotonic()
        sent = enqueue(run_release, 123456, on_failure=failures.append)
        elapsed = time.monotonic() - started
    assert sent is False and len(failures) == 1
    assert "connect" in str(failures[0]).lower()
    # Bounded by the broker timeouts and publish retry policy (was a 19 s hang, then a 500).
    assert elapsed < 5


def test_submit_with_the_broker_down_succeeds_and_the_check_is_swept_later(
    world, django_capture_on_commit_callbacks, tmp_path
):
    world.add_seeds(1)
    assignment = world.claim()
    client = api_for(world.annotators[0])
    world.draft(assignment, text=f"Please solve: {LEAKED}.")
    with broker_down(), django_capture_on_commit_callbacks(execute=True):
        res = client.post(f"/api/v1/assignments/{assignment.pk}/submit/")
    assert res.status_code == 200, res.content
    rewrite = Rewrite.objects.get(pk=res.json()["id"])
    assert rewrite.status == "submitted" and rewrite.ballots.count() == 4
    # The check is recorded as pending, with why; the tokens are not counted yet.
    check = RewriteCheck.objects.get(rewrite=rewrite)
    assert check.status == "pending" and check.attempts == 0
    assert check.error.startswith("enqueue failed: ") and "127.0.0.1" in check.error
    assert rewrite.question_tokens is None
    # Reviewers and curators see that its flags may be incomplete (vote page, ballot and
    # rewrite APIs).
    ballot = rewrite.ballots.first()
    reviewer = api_for(ballot.reviewer)
    shown = reviewer.get(f"/api/v1/ballots/{ballot.pk}/").json()
    assert (shown["quality_check"], shown["flags"]) == ("pending", [])
    assert shown["quality_check_error"].startswith("enqueue failed: ")
    page = page_for(ballot.reviewer).get(f"/ballots/{ballot.pk}/").content.decode()
    assert 'id="quality-check-state"' in page and "Quality checks still running" in page
    rows = api_for(world.curator).get("/api/v1/campaigns/camp/rewrites/").json()["results"]
    assert [r["quality_check"] for r in rows] == ["pending"]

    # The broker is back. Before the deadline the sweep leaves the check alone; after it, the
    # sweep enqueues it (eager here: it runs) and the token sweep counts the tokens.
    ref = tmp_path / "ref.jsonl"
    ref.write_text('{"task_id": "T/1", "prompt": "' + LEAKED + '"}\n')
    reference_set_load(name="sweep-ref", paths=[ref])
    ContaminationHit.objects.all().delete()  # what the load's campaign-wide check found
    assert requeue_unchecked_rewrites() == 0
    age(Rewrite, rewrite.pk, submitted_at=11)
    assert requeue_unchecked_rewrites() == 1
    check.refresh_from_db()
    assert (check.status, check.attempts, check.error) == ("done", 1, "")
    assert check.checked_at is not None and check.enqueued_at is not None
    assert ContaminationHit.objects.filter(rewrite=rewrite).count() == 1
    assert requeue_unchecked_rewrites() == 0  # done: never again
    shown = reviewer.get(f"/api/v1/ballots/{ballot.pk}/").json()
    assert (shown["quality_check"], len(shown["contamination"])) == ("done", 1)
    page = page_for(ballot.reviewer).get(f"/ballots/{ballot.pk}/").content.decode()
    assert 'id="quality-check-state"' not in page and "Overlaps a public benchmark" in page
    assert count_missing_tokens() == 1
    rewrite.refresh_from_db()
    assert rewrite.question_tokens and rewrite.question_tokens > 5


def test_release_started_with_the_broker_down_stays_queued_and_is_swept(
    world, django_capture_on_commit_callbacks, settings, tmp_path
):
    settings.RELEASES_DIR = tmp_path
    accepted_world(world, django_capture_on_commit_callbacks)
    curator = api_for(world.curator)
    with broker_down(), django_capture_on_commit_callbacks(execute=True):
        res = curator.post("/api/v1/campaigns/camp/releases/", {"name": "v1"}, format="json")
    assert res.status_code == 202, res.content
    body = curator.get(f"/api/v1/releases/{res.json()['id']}/").json()
    assert body["status"] == "queued" and body["attempts"] == 0
    assert body["message"].startswith("enqueue failed, will retry: ")
    page = page_for(world.curator).get("/campaigns/camp/releases/")
    assert b"enqueue failed, will retry" in page.content

    # The broker is back: the sweep enqueues it once it waited QUEUED_STALE_AFTER.
    assert requeue_stale_releases() == 0
    age(Release, body["id"], enqueued_at=11)
    assert requeue_stale_releases() == 1
    release = Release.objects.get(pk=body["id"])
    assert (release.status, release.attempts, release.stats["total"]) == ("done", 1, 3)


# --- the release sweep ------------------------------------------------------------------------


@pytest.fixture
def running_release(world, django_capture_on_commit_callbacks, settings, tmp_path):
    """A release "running" in a worker that is gone (its row says attempt 1)."""
    settings.RELEASES_DIR = tmp_path
    accepted_world(world, django_capture_on_commit_callbacks)
    release = Release.objects.create(
        campaign=world.campaign,
        name="v1",
        parameters={"name": "v1"},
        created_by=world.curator,
        status=Release.Status.RUNNING,
        attempts=1,
        task_id="dead-task",
        message="selected 3 of 3 eligible rewrites",
    )
    age(Release, release.pk, started_at=20, heartbeat_at=16, enqueued_at=20)
    return release


def test_a_live_running_release_is_left_alone_and_a_lost_one_is_requeued_and_finished(
    running_release,
):
    pk = running_release.pk
    # Reported progress a minute ago: a live worker has it; no sweep, no takeover.
    age(Release, pk, heartbeat_at=1)
    assert release_job.releases_requeue_stale() == []
    assert release_job.release_run(release_id=pk, task_id="other").status == "running"
    # Silent for RUNNING_STALE_AFTER: the sweep enqueues it again, once.
    age(Release, pk, heartbeat_at=16)
    assert release_job.releases_requeue_stale() == [pk]
    assert release_job.releases_requeue_stale() == []
    release = Release.objects.get(pk=pk)
    assert release.status == "running" and "enqueued again" in release.message
    # The enqueued task takes it over: attempt 2, built from the start, done.
    release = release_job.release_run(release_id=pk, task_id="new-task")
    assert (release.status, release.attempts, release.task_id) == ("done", 2, "new-task")
    assert release.samples.count() == 3
    assert list(
        Event.objects.filter(object_type="release", object_id=pk).values_list("kind", "data")
    ) == [("release.started", {"attempt": 2}), ("release.done", {"total": 3})]


def test_a_redelivered_task_takes_over_its_own_running_release_at_once(running_release):
    """A pool process killed mid-build: its message comes back with the same task id."""
    pk = running_release.pk
    age(Release, pk, heartbeat_at=0)  # it was alive a moment ago
    release = release_job.release_run(release_id=pk, task_id="dead-task")
    assert (release.status, release.attempts) == ("done", 2)


def test_a_release_is_failed_with_the_reason_after_its_attempts(running_release, world):
    pk = running_release.pk
    Release.objects.filter(pk=pk).update(attempts=release_job.MAX_ATTEMPTS)
    assert release_job.releases_requeue_stale() == []
    release = Release.objects.get(pk=pk)
    assert release.status == "failed" and release.finished_at is not None
    assert release.error.startswith("Gave up after 3 attempts: the worker building this release")
    body = api_for(world.curator).get(f"/api/v1/releases/{pk}/").json()
    assert (body["status"], body["attempts"], body["max_attempts"]) == ("failed", 3, 3)
    assert body["error"] == release.error
    page = page_for(world.curator).get("/campaigns/camp/releases/")
    assert b"Gave up after 3 attempts" in page.content and b"attempt 3 of 3" in page.content
    assert Event.objects.filter(kind="release.failed", object_id=pk).count() == 1
    # A redelivered task finds it failed and leaves it so.
    assert release_job.release_run(release_id=pk, task_id="dead-task").status == "failed"


def test_a_redelivered_task_past_the_attempts_fails_the_release(running_release):
    """The OOM loop: a build that kills its worker each time is redelivered each time."""
    pk = running_release.pk
    Release.objects.filter(pk=pk).update(attempts=release_job.MAX_ATTEMPTS)
    release = release_job.release_run(release_id=pk, task_id="dead-task")
    assert release.status == "failed" and "Gave up after 3 attempts" in release.error


def test_a_queued_release_whose_message_was_lost_is_requeued(
    world, django_capture_on_commit_callbacks, settings, tmp_path
):
    settings.RELEASES_DIR = tmp_path
    accepted_world(world, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=False):  # the message never arrives
        res = api_for(world.curator).post(
            "/api/v1/campaigns/camp/releases/", {"name": "lost"}, format="json"
        )
    pk = res.json()["id"]
    assert release_job.releases_requeue_stale() == []  # just enqueued
    age(Release, pk, enqueued_at=9)
    assert release_job.releases_requeue_stale() == []
    age(Release, pk, enqueued_at=11)
    assert release_job.releases_requeue_stale() == [pk]
    assert Release.objects.get(pk=pk).message == "waiting for a worker (enqueued again)"
    # Two messages for one release (the lost one turned up after all): it is built once.
    assert release_job.release_run(release_id=pk, task_id="a").status == "done"
    assert release_job.release_run(release_id=pk, task_id="b").attempts == 1
    assert Event.objects.filter(kind="release.done", object_id=pk).count() == 1


# --- the quality-check sweep ------------------------------------------------------------------


def test_a_rewrite_whose_check_never_ran_gets_it(world, django_capture_on_commit_callbacks):
    world.add_seeds(1)
    seed = world.campaign.seeds.get()
    with django_capture_on_commit_callbacks(execute=False):  # the worker died, message lost
        rewrite = world.submitted(text=f"{seed.title}\n{seed.body}")
    assert not RewriteCheck.objects.filter(rewrite=rewrite).exists()
    assert quality_checks.rewrites_unchecked() == []  # give it CHECK_STALE_AFTER
    age(Rewrite, rewrite.pk, submitted_at=11)
    assert requeue_unchecked_rewrites() == 1
    check = RewriteCheck.objects.get(rewrite=rewrite)
    assert (check.status, check.attempts) == ("done", 1)
    assert SimilarityFlag.objects.filter(rewrite=rewrite, kind="copied_seed").count() == 1
    # Running it again (a redelivered message) changes nothing but the record.
    rewrite_quality_check(rewrite_id=rewrite.pk)
    assert SimilarityFlag.objects.filter(rewrite=rewrite).count() == 1
    assert RewriteCheck.objects.get(rewrite=rewrite).attempts == 2


def test_a_check_that_never_finishes_is_failed_with_the_reason(
    world, django_capture_on_commit_callbacks
):
    world.add_seeds(2)
    with django_capture_on_commit_callbacks(execute=False):
        stuck = world.submitted()
        started = world.submitted(annotator=world.annotators[1])
    limit = quality_checks.MAX_ATTEMPTS
    RewriteCheck.objects.create(rewrite=stuck, campaign=world.campaign, attempts=limit)
    RewriteCheck.objects.create(rewrite=started, campaign=world.campaign, attempts=1)
    for pk in (stuck.pk, started.pk):
        age(Rewrite, pk, submitted_at=30)
    age(RewriteCheck, started.pk, started_at=2)  # running now: not touched
    assert quality_checks.rewrites_unchecked() == []
    check = RewriteCheck.objects.get(rewrite=stuck)
    assert check.status == "failed"
    assert check.error.startswith(f"Gave up after {limit} attempts: the check never finished")
    assert RewriteCheck.objects.get(rewrite=started).status == "pending"
    # A redelivered message past the attempts does not run it either.
    RewriteCheck.objects.filter(pk=started.pk).update(attempts=limit)
    assert rewrite_quality_check(rewrite_id=started.pk) == {"failed": True, "attempts": limit}


def test_a_failing_check_records_its_error_and_stays_pending(
    world, django_capture_on_commit_callbacks, monkeypatch
):
    world.add_seeds(1)
    with django_capture_on_commit_callbacks(execute=False):
        rewrite = world.submitted()

    def boom(**kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(quality_checks, "rewrite_similarity_check", boom)
    with pytest.raises(OSError):
        rewrite_quality_check(rewrite_id=rewrite.pk)
    check = RewriteCheck.objects.get(rewrite=rewrite)
    assert check.status == "pending" and check.error == "attempt 1: OSError('disk full')"


# --- a real worker killed mid-job -------------------------------------------------------------

DELAY = 1.5  # seconds a release build sleeps at each progress report, a check before it runs


@pytest.fixture
def prefork_worker(postgres, redis_broker, transactional_db) -> Iterator[Worker]:
    worker = Worker(
        broker_url=redis_broker,
        pool="prefork",
        env={"CURATION_JOB_TEST_DELAY": str(DELAY)},  # and --concurrency=1: one pool process
    )
    try:
        worker.wait_for("the worker's pool process", lambda: worker.pool_children())
        yield worker
        print(f"--- celery worker output ({worker.queue}) ---\n{worker.output()}")
    finally:
        worker.stop()


@contextmanager
def sent_to(worker: Worker) -> Iterator[None]:
    from .test_celery_worker import tasks_sent_to

    with tasks_sent_to(worker):
        yield


def kill_pool_child(worker: Worker) -> int:
    """SIGKILL the process running the task (what the OOM killer does)."""
    [child] = worker.pool_children()
    os.kill(child, signal.SIGKILL)
    return child


def assert_redelivered(worker: Worker, task: str, killed: int) -> None:
    """The worker's log: the killed process, then the same message received again and run."""
    log = worker.output()
    assert f"pid:{killed} exited with 'signal 9 (SIGKILL)'" in log, log
    received = re.findall(rf"Task {re.escape(task)}\[([0-9a-f-]+)\] received", log)
    assert len(received) == 2 and received[0] == received[1], log
    assert re.search(rf"task ended {re.escape(task)} SUCCESS .*task_id={received[0]}", log), log


def test_worker_killed_mid_release_redelivers_and_builds_it_once(
    prefork_worker, make_world, settings, tmp_path, django_capture_on_commit_callbacks
):
    worker = prefork_worker
    settings.RELEASES_DIR = WORKER_RELEASES_DIR
    world = make_world(slug="killrel")
    accepted_world(world, django_capture_on_commit_callbacks)  # eager, in this process
    curator = api_for(world.curator)
    with sent_to(worker):
        res = curator.post("/api/v1/campaigns/killrel/releases/", {"name": "k1"}, format="json")
        assert res.status_code == 202, res.content
        pk = res.json()["id"]
        worker.wait_for(
            "the build to be under way",
            lambda: Release.objects.filter(pk=pk, status="running", progress__gte=5).exists(),
        )
        killed = kill_pool_child(worker)
        release = worker.wait_for(
            "the redelivered build to finish",
            lambda: Release.objects.filter(pk=pk, status__in=["done", "failed"]).first(),
        )
    assert release.status == "done", release.error
    assert release.attempts == 2 and release.progress == 100
    assert_redelivered(worker, "exports.tasks.run_release", killed)
    kinds = list(
        Event.objects.filter(object_type="release", object_id=pk)
        .order_by("pk")
        .values_list("kind", flat=True)
    )
    assert kinds == ["release.queued", "release.started", "release.started", "release.done"]
    assert release.samples.count() == 3
    # Its files are whole and byte-identical to a build of the same release in this process.
    out = WORKER_RELEASES_DIR / "killrel" / "k1"
    again = release_build(
        campaign=world.campaign, out_dir=tmp_path / "again", parameters=ReleaseParameters("k1")
    )
    assert sorted(release.files) == sorted(again.files)
    for name, meta in release.files.items():
        data = (out / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == meta["sha256"]
        assert data == (tmp_path / "again" / name).read_bytes(), name
    assert not Release.objects.filter(status__in=["queued", "running"]).exists()


def test_worker_killed_mid_check_redelivers_and_checks_it(
    prefork_worker, make_world, tmp_path, django_capture_on_commit_callbacks
):
    worker = prefork_worker
    world = make_world(slug="killchk")
    ref = tmp_path / "ref.jsonl"
    ref.write_text('{"task_id": "T/1", "prompt": "' + LEAKED + '"}\n')
    reference_set_load(name="kill-ref", paths=[ref])
    world.add_seeds(1)
    with sent_to(worker):
        rewrite = world.submitted(text=f"Please solve: {LEAKED}.")
        worker.wait_for(
            "the check to start",
            lambda: RewriteCheck.objects.filter(rewrite=rewrite, attempts=1).exists(),
        )
        killed = kill_pool_child(worker)
        check = worker.wait_for(
            "the redelivered check to finish",
            lambda: RewriteCheck.objects.filter(rewrite=rewrite, status="done").first(),
        )
    assert check.attempts == 2 and check.error == ""
    assert_redelivered(worker, "quality.tasks.check_rewrite_quality", killed)
    assert ContaminationHit.objects.filter(rewrite=rewrite).count() == 1

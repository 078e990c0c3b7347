"""Structured logs (core.logs, core.transitions, config.celery_app): a whole workflow through the
API and the pages, logged as production logs it (JSON lines, INFO), carries the request and
transition fields it promises and never a password, token, secret, cookie or seed / rewrite
text."""

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.models import Assignment
from config.celery_app import app as celery_app
from core import logs
from review.models import Ballot
from tests.conftest import GOOD_DRAFT

API = "/api/v1"
SEED_TEXTS = [
    f"Seed question {i} about zeppelin-{i:03d} caching quirks: why does it thrash?"
    for i in range(3)
]
REWRITE_TEXT = "Rewrite about marmalade-7731: write a function that merges sorted streams lazily."
COMMENT = "Reviewer remark kumquat-5512 on the wording."


class Captured:
    """The JSON lines the root logger wrote, as production formats them."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines()]


@pytest.fixture
def captured() -> Iterator[Captured]:
    result = Captured()
    handler = logging.StreamHandler(result.stream)
    handler.addFilter(logs.ContextFilter())
    handler.setFormatter(logs.JSONFormatter())
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield result
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def token_for(username: str, password: str) -> str:
    res = APIClient().post(
        f"{API}/auth/token/", {"username": username, "password": password}, format="json"
    )
    assert res.status_code == 200, res.content
    return res.json()["token"]


def client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.mark.django_db(transaction=True)  # real commits: transitions log on commit, tasks run
def test_a_whole_workflow_logs_its_fields_and_no_secret(world, captured, settings, tmp_path):
    settings.RELEASES_DIR = tmp_path / "releases"
    slug = world.campaign.slug
    passwords = {user.username: "pw-" + user.username for user in everyone(world)}
    tokens = {name: token_for(name, password) for name, password in passwords.items()}
    curator = client_with(tokens[world.curator.username])

    # The curator imports three seeds and samples them.
    content = "\n".join(
        json.dumps({"id": f"s{i}", "text": text, "subcategory": GOOD_DRAFT["subcategory"]})
        for i, text in enumerate(SEED_TEXTS)
    ).encode()
    res = curator.post(
        f"{API}/campaigns/{slug}/seed-imports/",
        {"file": SimpleUploadedFile("seeds.jsonl", content)},
        format="multipart",
    )
    assert res.status_code == 202, res.content
    import_id = res.json()["id"]
    res = curator.post(f"{API}/seed-imports/{import_id}/confirm/", {}, format="json")
    assert res.status_code == 202, res.content
    res = curator.post(f"{API}/campaigns/{slug}/sampling/", {"size": 3, "seed": 1}, format="json")
    assert res.status_code in (200, 201, 202), res.content

    # An annotator claims a seed, drafts and submits.
    annotator = world.annotators[0]
    client = client_with(tokens[annotator.username])
    res = client.post(f"{API}/campaigns/{slug}/assignments/next/", format="json")
    assert res.status_code in (200, 201), res.content
    assignment_id = res.json()["id"]
    res = client.put(
        f"{API}/assignments/{assignment_id}/draft/",
        {**GOOD_DRAFT, "text": REWRITE_TEXT, "version": 0},
        format="json",
    )
    assert res.status_code == 200, res.content
    res = client.post(f"{API}/assignments/{assignment_id}/submit/", format="json")
    assert res.status_code == 200, res.content

    # Four reviewers vote it valid (one with a comment): accepted.
    rewrite_id = Assignment.objects.get(pk=assignment_id).rewrites.latest("revision").pk
    ballots = Ballot.objects.filter(rewrite_id=rewrite_id).select_related("reviewer")
    assert ballots.count() == 4
    for i, ballot in enumerate(ballots.order_by("id")):
        res = client_with(tokens[ballot.reviewer.username]).post(
            f"{API}/ballots/{ballot.pk}/vote/",
            {"decision": "valid", "reasons": [], "comment": COMMENT if i == 0 else ""},
            format="json",
            HTTP_X_REQUEST_ID=f"vote-request-{i:04d}",
        )
        assert res.status_code == 200, res.content
        assert res["X-Request-ID"] == f"vote-request-{i:04d}"

    # The curator starts a release.
    res = curator.post(
        f"{API}/campaigns/{slug}/releases/", {"name": "v1", "size": 1, "seed": 1}, format="json"
    )
    assert res.status_code == 202, res.content
    release_id = res.json()["id"]
    assert curator.get(f"{API}/releases/{release_id}/").json()["status"] == "done"

    # And signs in on the pages (a password in a form, a session cookie, a CSRF token).
    pages = Client()
    pages.get("/accounts/login/")
    csrf = pages.cookies["csrftoken"].value
    res = pages.post(
        "/accounts/login/",
        {"login": world.curator.username, "password": passwords[world.curator.username]},
    )
    assert res.status_code == 302, res.content
    session = pages.cookies["sessionid"].value
    assert pages.get(f"/campaigns/{slug}/releases/").status_code == 200
    static = pages.get("/static/css/app.css")

    lines = captured.lines()  # every line is one JSON object
    requests = [line for line in lines if line["logger"] == "curation.request"]
    assert requests, captured.text
    for line in requests:
        assert {"request_id", "method", "path", "status", "duration_ms"} <= set(line), line
        assert "?" not in line["path"]
    by_path = {(line["method"], line["path"]): line for line in requests}
    vote_line = by_path["POST", f"{API}/ballots/{ballots.order_by('id')[0].pk}/vote/"]
    assert vote_line["request_id"] == "vote-request-0000"
    assert vote_line["status"] == 200
    # Addressed by id, yet the campaign is named (core.access binds it) and the token's user.
    assert vote_line["campaign"] == slug
    assert vote_line["user_id"] == ballots.order_by("id")[0].reviewer_id
    submit_line = by_path["POST", f"{API}/assignments/{assignment_id}/submit/"]
    assert (submit_line["campaign"], submit_line["user_id"]) == (slug, annotator.pk)
    claim_line = by_path["POST", f"{API}/campaigns/{slug}/assignments/next/"]
    assert len(claim_line["request_id"]) == 32  # generated: none was sent
    assert claim_line["user_id"] == annotator.pk
    releases_page = by_path["GET", f"/campaigns/{slug}/releases/"]
    assert releases_page["user_id"] == world.curator.pk  # the session's user, on a page
    assert releases_page["campaign"] == slug
    assert static.status_code == 200
    assert ("GET", "/static/css/app.css") not in by_path  # static files log at DEBUG

    events = [line for line in lines if line["logger"] == "curation.events"]
    kinds = {line["kind"] for line in events}
    assert {
        "seed_import.done",
        "seeds.sampled",
        "assignment.claimed",
        "assignment.submitted",
        "ballot.cast",
        "rewrite.accepted",
        "release.queued",
        "release.done",
    } <= kinds, kinds
    for line in events:
        assert line["level"] == "INFO"
        assert {"kind", "object_type", "campaign_id", "from_state", "to_state"} <= set(line)
        assert "object_id" in line or ("count" in line and "object_ids" in line), line
        assert line["campaign_id"] == world.campaign.pk
    claim = next(line for line in events if line["kind"] == "assignment.claimed")
    assert claim["object_id"] == assignment_id and claim["actor_id"] == annotator.pk
    assert claim["request_id"] == claim_line["request_id"]
    cast = [line for line in events if line["kind"] == "ballot.cast"]
    assert [line["request_id"] for line in cast] == [f"vote-request-{i:04d}" for i in range(4)]
    assert cast[0]["data"]["rewrite"] == rewrite_id  # numbers from the event's data only
    sampled = next(line for line in events if line["kind"] == "seed.sampled")
    assert sampled["count"] == 3 and len(sampled["object_ids"]) == 3

    tasks = [line for line in lines if line["logger"] == "curation.tasks"]
    release_task = [line for line in tasks if line["task"] == "exports.tasks.run_release"]
    assert [line["message"].split()[1] for line in release_task] == ["started", "ended"]
    assert release_task[1]["state"] == "SUCCESS" and release_task[1]["duration_ms"] >= 0
    assert len({line["task_id"] for line in release_task}) == 1
    done = next(line for line in events if line["kind"] == "release.done")
    assert done["task_id"] == release_task[0]["task_id"]

    secrets = [
        *passwords.values(),
        *Token.objects.values_list("key", flat=True),
        django_settings.SECRET_KEY,
        *SEED_TEXTS,
        REWRITE_TEXT,
        COMMENT,
        session,
        csrf,
        # Pieces of them, in case a line cut or escaped the whole.
        "zeppelin-",
        "marmalade-7731",
        "kumquat-5512",
    ]
    assert len(tokens) == len(passwords) >= 6
    for secret in secrets:
        assert secret not in captured.text, secret


def everyone(world: Any) -> list[Any]:
    return [world.curator, *world.annotators, *world.reviewers]


def test_a_request_id_is_echoed_when_sane_and_generated_otherwise(db, captured):
    res = Client().get(f"{API}/campaigns/", HTTP_X_REQUEST_ID="edge-proxy:abc-123.4")
    assert res["X-Request-ID"] == "edge-proxy:abc-123.4"
    for bad in ["short", "has space in it", "x" * 129, "semi;colon-12345"]:
        res = Client().get(f"{API}/campaigns/", HTTP_X_REQUEST_ID=bad)
        assert res["X-Request-ID"] != bad and len(res["X-Request-ID"]) == 32
    ids = [line["request_id"] for line in captured.lines() if line["logger"] == "curation.request"]
    assert ids[0] == "edge-proxy:abc-123.4" and len(set(ids)) == 5


def test_a_rolled_back_transition_is_not_logged(world, captured, transactional_db):
    from django.db import transaction

    world.add_seeds(1)
    with pytest.raises(RuntimeError), transaction.atomic():
        world.claim()
        raise RuntimeError("roll it back")
    assert not [line for line in captured.lines() if line.get("kind") == "assignment.claimed"]
    assignment = world.claim()
    claimed = [line for line in captured.lines() if line.get("kind") == "assignment.claimed"]
    assert [line["object_id"] for line in claimed] == [assignment.pk]


def test_task_retry_and_failure_are_logged_with_the_task_id(captured):
    attempts: list[int] = []

    @celery_app.task(name="tests.flaky", bind=True, max_retries=1, default_retry_delay=0)
    def flaky(self: Any, seed_text: str) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise self.retry(exc=OSError("disk hiccup"))
        raise ValueError(f"bad input\nDETAIL: {seed_text}")

    # As a worker runs it: the error is the task's result, not raised to a caller.
    celery_app.conf.task_eager_propagates = False
    try:
        result = flaky.apply(args=("secret seed words",), task_id="flaky-task-1")
    finally:
        celery_app.conf.task_eager_propagates = True
    assert result.state == "FAILURE" and len(attempts) == 2
    lines = [line for line in captured.lines() if line["logger"] == "curation.tasks"]
    retry = next(line for line in lines if line["message"].startswith("task retry"))
    assert retry["error"] == "OSError" and retry["task_id"] == "flaky-task-1"
    failed = next(line for line in lines if line["message"].startswith("task failed"))
    assert failed["error"] == "ValueError" and failed["error_message"] == "ValueError: bad input"
    assert failed["task"] == "tests.flaky"
    assert (
        failed["frames"][-1].endswith(" flaky") and "tests/test_logging.py" in failed["frames"][-1]
    )
    assert "secret seed words" not in captured.text

"""The curator workspace's reference benchmarks (quality) and baseline answers (exports): the
API over every principal, bad lines named with nothing loaded, who may reload a shared set,
enabling the deployment's sets, answer coverage, events, and the two pages."""

import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from annotation.models import Event, Role
from annotation.services import user_ensure
from core.transitions import EventKind
from exports.models import BaselineResponse
from quality.models import ContaminationHit, ReferenceDocument, ReferenceSet
from quality.services.references import reference_set_load

from .conftest import api_for, cast_panel, require
from .test_schema import check, schema  # noqa: F401 - the fixture

API = "/api/v1"
REFERENCES = Path(__file__).resolve().parents[2] / "shared" / "data" / "references"
LEAK = "the quick brown fox jumps over the lazy dog near the quiet river bank at dawn today"


def jsonl(*records: dict[str, Any]) -> bytes:
    return ("\n".join(json.dumps(r) for r in records) + "\n").encode()


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def tiny_set(doc: str = "t1", text: str = LEAK) -> bytes:
    return jsonl({"task_id": doc, "prompt": text})


def accepted(world: Any, text: str) -> Any:
    rewrite = world.submitted(annotator=world.annotators[0], text=text)
    cast_panel(rewrite, ["valid"] * 4)
    rewrite.refresh_from_db()
    assert rewrite.status == "accepted"
    return rewrite


@pytest.fixture
def offered(tmp_path, settings) -> Path:
    """A REFERENCES_DIR offering one small set, ``tiny``, and a folder that offers nothing."""
    root = tmp_path / "offered"
    (root / "tiny").mkdir(parents=True)
    (root / "tiny" / "a.jsonl").write_bytes(tiny_set())
    (root / "tiny" / "LICENSE.txt").write_text("public domain")
    (root / "empty").mkdir()
    settings.REFERENCES_DIR = str(root)
    return root


@pytest.fixture
def people(world, make_world) -> dict[str, Any]:
    other = make_world(slug="other")
    operator = user_ensure(username="operator", password="pw-operator")
    operator.is_staff = operator.is_superuser = True
    operator.save()
    return {
        "annotator": world.annotators[0],
        "reviewer": world.reviewers[0],
        "curator": world.curator,
        "foreign curator": other.curator,
        "operator": operator,
    }


def client_for(people: dict[str, Any], who: str) -> APIClient:
    return APIClient() if who == "anonymous" else api_for(people[who])


EXPECTED = {
    "anonymous": 401,
    "annotator": 403,
    "reviewer": 403,
    "foreign curator": 404,
}


def _requests(slug: str) -> list[tuple[str, str, str, Any, int]]:
    """(method, URL, schema path, multipart body factory, status for a curator)."""
    base = f"{API}/campaigns/{slug}"
    return [
        ("get", f"{base}/reference-sets/", "/api/v1/campaigns/{slug}/reference-sets/", None, 200),
        (
            "post",
            f"{base}/reference-sets/",
            "/api/v1/campaigns/{slug}/reference-sets/",
            lambda: {"name": "up", "files": [upload("up.jsonl", tiny_set())]},
            201,
        ),
        (
            "get",
            f"{base}/reference-sets/available/",
            "/api/v1/campaigns/{slug}/reference-sets/available/",
            None,
            200,
        ),
        (
            "post",
            f"{base}/reference-sets/available/tiny/enable/",
            "/api/v1/campaigns/{slug}/reference-sets/available/{name}/enable/",
            lambda: {},
            201,
        ),
        ("get", f"{base}/responses/", "/api/v1/campaigns/{slug}/responses/", None, 200),
        (
            "post",
            f"{base}/responses/",
            "/api/v1/campaigns/{slug}/responses/",
            lambda: {
                "model": "m1",
                "file": upload("a.jsonl", jsonl({"seed_id": "s0", "response": "hi"})),
            },
            201,
        ),
    ]


@pytest.mark.parametrize("who", ["anonymous", "annotator", "reviewer", "foreign curator"])
def test_every_endpoint_refuses_who_is_not_a_curator_and_changes_nothing(
    world, people, offered, who
):
    world.add_seeds(1)
    client = client_for(people, who)
    for method, url, _template, body, _ok in _requests(world.campaign.slug):
        res = client.get(url) if method == "get" else client.post(url, body(), format="multipart")
        assert res.status_code == EXPECTED[who], (who, method, url, res.content)
        if who != "anonymous":
            assert res.json()["detail"]
    assert not ReferenceSet.objects.exists()
    assert not BaselineResponse.objects.exists()
    assert not Event.objects.filter(
        kind__in=[EventKind.REFERENCE_SET_LOADED, EventKind.RESPONSES_IMPORTED]
    ).exists()


@pytest.mark.parametrize("who", ["curator", "operator"])
def test_every_endpoint_serves_curators_and_operators(world, people, offered, schema, who):  # noqa: F811
    world.add_seeds(1)
    client = client_for(people, who)
    for method, url, template, body, ok in _requests(world.campaign.slug):
        res = client.get(url) if method == "get" else client.post(url, body(), format="multipart")
        assert res.status_code == ok, (who, method, url, res.content)
        check(schema, method, template, res)
    assert set(ReferenceSet.objects.values_list("name", flat=True)) == {"up", "tiny"}
    # A curator's load belongs to the campaign; an operator's (not a member) to no campaign.
    owner = world.campaign if who == "curator" else None
    assert {s.loaded_for for s in ReferenceSet.objects.all()} == {owner}
    assert BaselineResponse.objects.get().model == "m1"


def test_upload_loads_every_file_with_the_field_options_and_records_the_event(world, schema):  # noqa: F811
    world.add_seeds(3)
    rewrite = accepted(world, f"Please explain this sentence: {LEAK}. What does it mean?")
    gz = gzip.compress(jsonl({"uid": "g1", "question": "some other question text entirely"}))
    res = api_for(world.curator).post(
        f"{API}/campaigns/{world.campaign.slug}/reference-sets/",
        {
            "name": "mixed",
            "files": [
                upload("one.jsonl", jsonl({"uid": "p1", "question": LEAK})),
                upload("two.jsonl.gz", gz),
            ],
            "fields": ["question, title"],
            "id_field": "uid",
        },
        format="multipart",
    )
    assert res.status_code == 201, res.content
    check(schema, "post", "/api/v1/campaigns/{slug}/reference-sets/", res)
    body = res.json()
    ref = body["reference_set"]
    assert ref["name"] == "mixed" and ref["documents"] == 2
    assert [f["file"] for f in ref["files"]] == ["one.jsonl", "two.jsonl.gz"]
    assert all(len(f["sha256"]) == 64 for f in ref["files"])
    assert ref["fields"] == ["question", "title"]
    assert ref["loaded_by"] == world.curator.username
    assert ref["loaded_for"] == world.campaign.slug
    assert ref["checked_at"] is not None and ref["may_reload"] is True
    assert (ref["contaminated"], ref["contaminated_accepted"]) == (1, 1)
    assert body["replaced"] == 0 and body["contaminated_all_campaigns"] == 1
    assert sorted(ReferenceDocument.objects.values_list("doc_id", flat=True)) == [
        "one:p1",
        "two:g1",
    ]
    assert ContaminationHit.objects.get().rewrite_id == rewrite.pk
    event = Event.objects.get(kind=EventKind.REFERENCE_SET_LOADED)
    assert event.campaign_id == world.campaign.pk and event.actor_id == world.curator.pk
    assert event.data["name"] == "mixed" and event.data["documents"] == 2
    assert event.data["files"] == ["one.jsonl", "two.jsonl.gz"]


def test_bad_lines_and_bad_fields_are_all_named_and_nothing_loads(world):
    client = api_for(world.curator)
    url = f"{API}/campaigns/{world.campaign.slug}/reference-sets/"
    bad = (
        b'{"task_id": "a", "prompt": "fine prompt text"}\n'
        b"not json\n"
        b'{"prompt": "no id"}\n'
        b'{"task_id": "a", "prompt": "again"}\n'
    )
    good = upload("good.jsonl", tiny_set())
    res = client.post(
        url, {"name": "bad", "files": [good, upload("bad.jsonl", bad)]}, format="multipart"
    )
    assert res.status_code == 400, res.content
    lines = res.json()["lines"]
    assert lines == [
        "bad.jsonl line 2: not valid JSON (Expecting value)",
        "bad.jsonl line 3: no id (looked for task_id, _id, name, id, uid, question_id)",
        "bad.jsonl line 4: duplicate id 'bad:a' (first at bad.jsonl line 1)",
    ]
    # A broken gzip file is named too.
    res = client.post(
        url, {"name": "bad", "files": [upload("x.jsonl.gz", b"not gzip")]}, format="multipart"
    )
    assert res.status_code == 400 and "x.jsonl.gz" in res.json()["lines"][0]
    # Every bad field at once.
    res = client.post(url, {"name": "not a slug!"}, format="multipart")
    assert res.status_code == 400
    assert set(res.json()["errors"]) == {"name", "files"}
    res = client.post(
        url,
        {"name": "ok", "files": [upload("notes.txt", b"hello"), upload("a.jsonl", tiny_set())]},
        format="multipart",
    )
    assert res.status_code == 400 and "notes.txt" in json.dumps(res.json()["errors"]["files"])
    assert not ReferenceSet.objects.exists() and not ReferenceDocument.objects.exists()
    assert not Event.objects.filter(kind=EventKind.REFERENCE_SET_LOADED).exists()


def test_only_the_owning_campaigns_curators_or_an_operator_may_reload_a_set(
    world, make_world, people, tmp_path
):
    other = people["foreign curator"]
    slug = world.campaign.slug
    url = f"{API}/campaigns/{slug}/reference-sets/"
    first = api_for(world.curator).post(
        url, {"name": "tiny", "files": [upload("a.jsonl", tiny_set("t1"))]}, format="multipart"
    )
    assert first.status_code == 201
    # A curator of another campaign cannot replace it from theirs: 409, saying why.
    refused = api_for(other).post(
        f"{API}/campaigns/other/reference-sets/",
        {"name": "tiny", "files": [upload("b.jsonl", tiny_set("t2"))]},
        format="multipart",
    )
    assert refused.status_code == 409, refused.content
    # Another campaign's set is not even named (nor its campaign): nothing to probe.
    assert "another campaign" in refused.json()["detail"]
    assert repr(slug) not in refused.json()["detail"]
    assert list(ReferenceDocument.objects.values_list("doc_id", flat=True)) == ["t1"]
    # Nor listed there: a set loaded from a campaign applies to that campaign only.
    listed = api_for(other).get(f"{API}/campaigns/other/reference-sets/").json()["results"]
    assert [s["name"] for s in listed] == []
    # The owning campaign's curator may (a second curator of it too).
    co_curator = world.member("camp-curator2", Role.CURATOR)
    again = api_for(co_curator).post(
        url, {"name": "tiny", "files": [upload("c.jsonl", tiny_set("t3"))]}, format="multipart"
    )
    assert again.status_code == 201, again.content
    assert again.json()["replaced"] == 1
    assert list(ReferenceDocument.objects.values_list("doc_id", flat=True)) == ["t3"]
    assert ReferenceSet.objects.get().loaded_for == world.campaign  # still the owner

    # A set loaded by the command belongs to no campaign: only an operator reloads it.
    path = tmp_path / "cmd.jsonl"
    path.write_bytes(tiny_set("c1"))
    reference_set_load(name="bycommand", paths=[path])
    refused = api_for(world.curator).post(
        url, {"name": "bycommand", "files": [upload("d.jsonl", tiny_set("c2"))]}, format="multipart"
    )
    assert refused.status_code == 409 and "by an operator" in refused.json()["detail"]
    done = api_for(people["operator"]).post(
        url, {"name": "bycommand", "files": [upload("e.jsonl", tiny_set("c3"))]}, format="multipart"
    )
    assert done.status_code == 201, done.content
    assert ReferenceDocument.objects.get(reference_set__name="bycommand").doc_id == "c3"
    assert ReferenceSet.objects.get(name="bycommand").loaded_for is None
    assert Event.objects.filter(kind=EventKind.REFERENCE_SET_LOADED).count() == 3


def test_reference_set_list_queries_do_not_grow_with_sets(world, tmp_path):
    world.add_seeds(2)
    accepted(world, f"Explain: {LEAK}")
    url = f"{API}/campaigns/{world.campaign.slug}/reference-sets/"
    client = api_for(world.curator)

    def load(name: str) -> None:
        path = tmp_path / f"{name}.jsonl"
        path.write_bytes(tiny_set(name))
        reference_set_load(name=name, paths=[path], actor=world.curator, campaign=world.campaign)

    load("s0")
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).json()["count"] == 1
    for i in range(1, 6):
        load(f"s{i}")
    with CaptureQueriesContext(connection) as six:
        body = client.get(url).json()
    assert body["count"] == 6 and all(s["contaminated"] == 1 for s in body["results"])
    assert len(six.captured_queries) == len(one.captured_queries)


def test_enabling_humaneval_flags_a_rewrite_that_copies_a_prompt(world, settings, schema):  # noqa: F811
    require(REFERENCES.is_dir(), f"needs the shared reference corpora at {REFERENCES}")
    settings.REFERENCES_DIR = str(REFERENCES)
    with gzip.open(REFERENCES / "humaneval" / "HumanEval.jsonl.gz", "rt") as fh:
        prompt = json.loads(fh.readline())["prompt"]
    world.add_seeds(3)
    leaked = accepted(
        world, "I found this exercise, please help:\n\n```python\n" + prompt + "\n```"
    )
    clean = accepted(world, "How do I size gunicorn workers for a 4 core VM behind nginx?")
    client = api_for(world.curator)
    base = f"{API}/campaigns/{world.campaign.slug}/reference-sets"
    available = client.get(f"{base}/available/")
    check(schema, "get", "/api/v1/campaigns/{slug}/reference-sets/available/", available)
    offered = {s["name"]: s for s in available.json()["results"]}
    assert {"humaneval", "mbpp", "mceval"} <= set(offered)
    assert offered["humaneval"]["loaded"] is False
    assert [f["name"] for f in offered["humaneval"]["files"]] == ["HumanEval.jsonl.gz"]

    res = client.post(f"{base}/available/humaneval/enable/")
    assert res.status_code == 201, res.content
    body = res.json()
    assert body["reference_set"]["documents"] == 164
    assert body["reference_set"]["contaminated_accepted"] == 1
    hit = ContaminationHit.objects.get()
    assert (hit.rewrite_id, hit.document.doc_id) == (leaked.pk, "HumanEval/0")
    assert not ContaminationHit.objects.filter(rewrite=clean).exists()
    event = Event.objects.get(kind=EventKind.REFERENCE_SET_LOADED)
    assert event.data["name"] == "humaneval" and event.data["files"] == ["HumanEval.jsonl.gz"]
    assert event.data["documents"] == 164
    again = {s["name"]: s for s in client.get(f"{base}/available/").json()["results"]}
    assert again["humaneval"]["loaded"] is True and again["humaneval"]["checked_at"]
    # Unknown and path-like names are not sets.
    assert client.post(f"{base}/available/nope/enable/").status_code == 404
    assert client.post(f"{base}/available/..%2Fhumaneval/enable/").status_code == 404


# --- baseline answers -------------------------------------------------------------------------


@pytest.fixture
def answered_world(world) -> Any:
    """Three accepted rewrites and one only submitted; ``world.accepted`` holds the accepted
    ones' seed ids (sorted), ``world.pending`` the other's."""
    world.add_seeds(4)
    rewrites = [
        accepted(world, f"Accepted question number {i}: how do I reverse a list {i} times?")
        for i in range(3)
    ]
    pending = world.submitted(annotator=world.annotators[1], text="A question still under review.")
    world.accepted = sorted(r.seed.external_id for r in rewrites)
    world.pending = pending.seed.external_id
    return world


def test_answers_upload_dry_run_then_import_and_coverage(answered_world, schema):  # noqa: F811
    world = answered_world
    client = api_for(world.curator)
    url = f"{API}/campaigns/{world.campaign.slug}/responses/"
    template = "/api/v1/campaigns/{slug}/responses/"
    a0, a1, a2 = world.accepted
    empty = client.get(url)
    check(schema, "get", template, empty)
    assert empty.json() == {"accepted": 3, "models": []}
    content = jsonl(
        {"seed_id": a0, "response": "answer zero"},
        {"seed_id": a1, "messages": [{"role": "assistant", "content": {"answer": "one one"}}]},
        {"seed_id": world.pending, "response": "answer to a question not accepted yet"},
    )
    dry = client.post(
        url,
        {"model": "gpt-x", "file": upload("a.jsonl", content), "dry_run": "true"},
        format="multipart",
    )
    assert dry.status_code == 200, dry.content
    check(schema, "post", template, dry)
    assert dry.json() == {
        "model": "gpt-x",
        "lines": 3,
        "imported": 3,
        "replaced": 0,
        "dry_run": True,
    }
    assert not BaselineResponse.objects.exists()

    res = client.post(
        url,
        {"model": "gpt-x", "file": upload("a.jsonl.gz", gzip.compress(content))},
        format="multipart",
    )
    assert res.status_code == 201, res.content
    check(schema, "post", template, res)
    assert res.json()["imported"] == 3
    event = Event.objects.get(kind=EventKind.RESPONSES_IMPORTED)
    assert event.campaign_id == world.campaign.pk and event.actor_id == world.curator.pk
    assert event.data == {"model": "gpt-x", "imported": 3, "replaced": 0}

    coverage = client.get(url)
    check(schema, "get", template, coverage)
    (model,) = coverage.json()["models"]
    assert model["model"] == "gpt-x"
    assert (model["answered"], model["accepted"], model["coverage"]) == (2, 3, 0.6667)
    assert (model["responses"], model["outside_accepted"]) == (3, 1)
    assert model["missing"] == [
        {"seed_id": a2, "rewrite_id": world.campaign.rewrites.get(seed__external_id=a2).pk}
    ]
    assert model["missing_count"] == 1
    assert model["tokens"]["count"] == 3 and model["tokens"]["min"] >= 1
    assert model["imported_at"]

    # A second import replaces the model's earlier answers; a dry run says how many it would.
    more = jsonl({"seed_id": a2, "response": "two"}, {"seed_id": a0, "response": "zero again"})
    dry = client.post(
        url,
        {"model": "gpt-x", "file": upload("b.jsonl", more), "dry_run": True},
        format="multipart",
    )
    assert dry.json()["replaced"] == 1
    assert (
        client.post(
            url, {"model": "gpt-x", "file": upload("b.jsonl", more)}, format="multipart"
        ).status_code
        == 201
    )
    (model,) = client.get(url).json()["models"]
    assert (model["answered"], model["coverage"], model["missing"]) == (3, 1.0, [])


def test_bad_answer_lines_are_named_and_nothing_imports(answered_world):
    world = answered_world
    client = api_for(world.curator)
    url = f"{API}/campaigns/{world.campaign.slug}/responses/"
    bad = (
        jsonl({"seed_id": "s0", "response": "fine"})
        + b"{broken\n"
        + jsonl({"seed_id": "nope", "response": "x"}, {"response": "no key"})
        + b'{"seed_id": "s1", "response": "\xff\xfe"}\n'
    )
    res = client.post(url, {"model": "m", "file": upload("a.jsonl", bad)}, format="multipart")
    assert res.status_code == 400, res.content
    assert res.json()["lines"] == ["line 5: not UTF-8 (invalid start byte at byte 32 of the line)"]
    res = client.post(
        url,
        {"model": "m", "file": upload("a.jsonl", bad.replace(b"\xff\xfe", b"ok"))},
        format="multipart",
    )
    assert res.status_code == 400
    lines = res.json()["lines"]
    assert lines[0].startswith("line 2: not valid JSON")
    assert lines[1] == "line 3: 'nope' is neither a seed id nor a sample id of camp"
    assert lines[2] == "line 4: no seed_id, id, uid or question_id"
    assert len(lines) == 3
    res = client.post(url, {"model": "bad name/x"}, format="multipart")
    assert res.status_code == 400 and set(res.json()["errors"]) == {"model", "file"}
    assert not BaselineResponse.objects.exists()
    assert not Event.objects.filter(kind=EventKind.RESPONSES_IMPORTED).exists()


def test_coverage_queries_do_not_grow_with_answers_or_models(answered_world):
    world = answered_world
    client = api_for(world.curator)
    url = f"{API}/campaigns/{world.campaign.slug}/responses/"
    client.post(
        url,
        {"model": "a", "file": upload("a.jsonl", jsonl({"seed_id": "s0", "response": "x"}))},
        format="multipart",
    )
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    every = jsonl(*[{"seed_id": f"s{i}", "response": f"answer {i}"} for i in range(4)])
    for model in ["a", "b", "c"]:
        client.post(url, {"model": model, "file": upload("a.jsonl", every)}, format="multipart")
    with CaptureQueriesContext(connection) as many:
        body = client.get(url).json()
    assert [m["answered"] for m in body["models"]] == [3, 3, 3]
    assert len(many.captured_queries) == len(few.captured_queries)


# --- the pages --------------------------------------------------------------------------------


def logged_in(user: Any) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def csrf(client: Client, url: str) -> str:
    res = client.get(url)
    assert res.status_code == 200
    return res.cookies["csrftoken"].value


def test_references_page_access_and_content(world, people, offered):
    url = f"/campaigns/{world.campaign.slug}/references/"
    assert Client().get(url).status_code == 302  # to the login page
    assert logged_in(people["annotator"]).get(url).status_code == 403
    assert logged_in(people["reviewer"]).get(url).status_code == 403
    assert logged_in(people["foreign curator"]).get(url).status_code == 404
    assert logged_in(people["operator"]).get(url).status_code == 200
    res = logged_in(world.curator).get(url)
    assert res.status_code == 200
    html = res.content.decode()
    assert 'class="workspace-nav"' in html and 'aria-current="page"' in html
    assert 'data-available="tiny"' in html and "a.jsonl" in html
    assert 'data-available="empty"' not in html and "LICENSE.txt" not in html
    assert "No reference set is loaded" in html


def test_references_page_upload_and_enable_are_csrf_protected_posts(world, offered):
    world.add_seeds(2)
    accepted(world, f"Explain this please: {LEAK}")
    url = f"/campaigns/{world.campaign.slug}/references/"
    client = logged_in(world.curator)
    form = {"action": "upload", "name": "<b>up</b>", "files": [io.BytesIO(b"x")]}
    assert client.post(url, form).status_code == 403  # no CSRF token
    token = csrf(client, url)
    # Bad input: every problem named, what was typed kept (and escaped), nothing loaded.
    bad = SimpleUploadedFile("bad.jsonl", b'{"task_id": "a"}\nnope\n')
    res = client.post(
        url,
        {
            "csrfmiddlewaretoken": token,
            "action": "upload",
            "name": "up",
            "fields": "prompt",
            "files": [bad],
        },
    )
    assert res.status_code == 400
    html = res.content.decode()
    assert (
        "bad.jsonl line 1: no text in prompt" in html and "bad.jsonl line 2: not valid JSON" in html
    )
    assert 'value="up"' in html and not ReferenceSet.objects.exists()
    res = client.post(url, {"csrfmiddlewaretoken": token, "action": "upload", "name": "<b>x</b>"})
    assert res.status_code == 400 and "<b>x</b>" not in res.content.decode()

    good = SimpleUploadedFile("good.jsonl", tiny_set())
    res = client.post(
        url, {"csrfmiddlewaretoken": token, "action": "upload", "name": "up", "files": [good]}
    )
    assert res.status_code == 302 and res["Location"] == url
    page = client.get(url).content.decode()
    assert "Loaded 1 documents into &#x27;up&#x27;" in page
    assert 'data-set="up"' in page and "1 rewrite" in page and "(1 accepted)" in page

    res = client.post(url, {"csrfmiddlewaretoken": token, "action": "enable", "set": "tiny"})
    assert res.status_code == 302
    assert ReferenceSet.objects.get(name="tiny").loaded_for == world.campaign
    assert Event.objects.filter(kind=EventKind.REFERENCE_SET_LOADED).count() == 2
    res = client.post(url, {"csrfmiddlewaretoken": token, "action": "enable", "set": "missing"})
    assert res.status_code == 404
    # A set the campaign may not replace: 409 on the page, the message shown, the form kept.
    path = offered / "tiny" / "a.jsonl"
    reference_set_load(name="bycommand", paths=[path])
    res = client.post(
        url,
        {
            "csrfmiddlewaretoken": token,
            "action": "upload",
            "name": "bycommand",
            "files": [SimpleUploadedFile("c.jsonl", tiny_set("c2"))],
        },
    )
    assert res.status_code == 409
    html = res.content.decode()
    assert "loaded by an operator" in html and 'value="bycommand"' in html


def test_answers_page_dry_run_import_and_bad_lines(answered_world, make_world):
    world = answered_world
    url = f"/campaigns/{world.campaign.slug}/answers/"
    assert logged_in(world.annotators[0]).get(url).status_code == 403
    assert logged_in(make_world(slug="other").curator).get(url).status_code == 404
    client = logged_in(world.curator)
    token = csrf(client, url)
    assert "No answers imported yet" in client.get(url).content.decode()
    a0, a1, a2 = world.accepted
    content = jsonl({"seed_id": a0, "response": "zero"}, {"seed_id": a1, "response": "one"})
    res = client.post(
        url,
        {
            "csrfmiddlewaretoken": token,
            "model": "gpt-x",
            "dry_run": "true",
            "file": SimpleUploadedFile("a.jsonl", content),
        },
    )
    assert res.status_code == 200
    assert "would import 2 answers" in res.content.decode()
    assert not BaselineResponse.objects.exists()
    res = client.post(
        url,
        {
            "csrfmiddlewaretoken": token,
            "model": "gpt-x",
            "file": SimpleUploadedFile("a.jsonl", content),
        },
    )
    assert res.status_code == 302
    page = client.get(url).content.decode()
    assert "Imported 2 answers of gpt-x" in page
    assert 'data-model="gpt-x"' in page and "2 / 3" in page and f"<code>{a2}</code>" in page

    res = client.post(
        url,
        {
            "csrfmiddlewaretoken": token,
            "model": "gpt-y",
            "file": SimpleUploadedFile("b.jsonl", b"{oops\n" + content),
        },
    )
    assert res.status_code == 400
    html = res.content.decode()
    assert "1 bad line(s), nothing imported" in html and "line 1: not valid JSON" in html
    assert 'value="gpt-y"' in html
    assert not BaselineResponse.objects.filter(model="gpt-y").exists()


def test_a_set_loaded_from_one_campaign_never_touches_another(world, make_world):
    """Sets a curator loads apply to their campaign only: another campaign's rewrites get no
    contamination hit from them, its release keeps them, and its curators cannot see them."""
    other = make_world(slug="secret")
    other.add_seeds(1)
    secret_text = "Write a function that returns the secret sum of two integers quickly"
    secret = other.submitted(text=secret_text)
    res = api_for(world.curator).post(
        f"{API}/campaigns/{world.campaign.slug}/reference-sets/",
        {
            "name": "probe",
            "files": [
                upload("p.jsonl", json.dumps({"task_id": "p1", "prompt": secret_text}).encode())
            ],
        },
        format="multipart",
    )
    assert res.status_code == 201, res.content
    assert not ContaminationHit.objects.filter(rewrite=secret).exists()
    listed = api_for(other.curator).get("/api/v1/campaigns/secret/reference-sets/").json()
    assert [s["name"] for s in listed["results"]] == []


def test_a_taxonomy_nested_too_deeply_is_a_400_not_a_crash(world):
    from django.contrib.auth.models import Permission

    world.curator.user_permissions.add(Permission.objects.get(codename="create_campaign"))
    res = api_for(world.curator).post(
        "/api/v1/campaigns/create/",
        {"name": "Deep", "slug": "deep", "taxonomy": "upload", "taxonomy_json": "[" * 100_000},
        format="json",
    )
    assert res.status_code == 400, res.content[:300]


def test_a_compressed_answers_file_larger_than_the_limit_is_refused(world, settings):
    """A small .gz that decompresses beyond the upload limit is refused, not read into memory."""
    import gzip

    settings.UPLOAD_MAX_BYTES = 64 * 1024
    line = json.dumps({"id": "x", "response": "a" * 1000}).encode() + b"\n"
    bomb = gzip.compress(line * 1000)  # ~1 MB decompressed, a few KB compressed
    assert len(bomb) < settings.UPLOAD_MAX_BYTES
    res = api_for(world.curator).post(
        f"{API}/campaigns/{world.campaign.slug}/responses/",
        {"model": "m", "file": upload("a.jsonl.gz", bomb)},
        format="multipart",
    )
    assert res.status_code == 400, res.content[:300]
    assert "larger than" in json.dumps(res.json())

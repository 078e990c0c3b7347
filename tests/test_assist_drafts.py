"""Draft suggestions (model-assisted curation): the annotator asks the campaign's model for a
rewrite and tags, streamed or not; every failure of the endpoint becomes the right status with a
message and a recorded call; the draft records the suggestion it started from, and submit
measures how far the annotator moved away from it. The model is tests/fake_openai.py's server."""

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rapidfuzz.distance import Levenshtein

from annotation.models import AssistPrompt, AssistSettings, DraftSuggestion, ModelCall, Rewrite
from annotation.services import DraftInput, draft_save, draft_suggest
from core.errors import Throttled
from review.services import rewrite_return, rewrite_submit

from .conftest import GOOD_DRAFT, World, api_for, cast_panel
from .fake_openai import FakeOpenAI

COMPLETIONS = "/v1/chat/completions"
KEY_VAR = "CURATION_MODEL_KEY_TEST"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(slow_seconds=4.0) as fake:
        yield fake


@pytest.fixture
def fake(server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """The shared server, with no recorded requests and no answer overrides; the campaigns'
    call counters (Django's cache) start at zero."""
    server.answers.clear()
    server.requests.clear()  # no request is in flight between tests
    cache.clear()
    yield server
    server.answers.clear()


@pytest.fixture
def world(db: Any) -> World:
    world = World(slug="assist")
    world.add_seeds(4)
    return world


def assist(world: World, fake: FakeOpenAI, **options: Any) -> AssistSettings:
    values = {"enabled": True, "base_url": fake.base_url, "model": "fake-good", **options}
    found, _ = AssistSettings.objects.update_or_create(campaign=world.campaign, defaults=values)
    return found


def url(assignment: Any, stream: bool = False) -> str:
    return f"/api/v1/assignments/{assignment.pk}/suggestion/" + ("?stream=1" if stream else "")


def lines(response: Any) -> list[dict[str, Any]]:
    body = b"".join(response.streaming_content).decode()
    assert body.endswith("\n")
    return [json.loads(line) for line in body.splitlines()]


def minute_left(seconds: float = 5) -> None:
    """Wait for a new minute if the current one ends within ``seconds`` (the campaign's
    per-minute limit counts calls per clock minute)."""
    left = 60 - time.time() % 60
    if left < seconds:
        time.sleep(left + 0.1)


SUGGESTION_KEYS = {
    "id",
    "text",
    "difficulty",
    "programming_languages",
    "model",
    "prompt_version",
    "created_at",
    "tokens_in",
    "tokens_out",
}


# --- asking ----------------------------------------------------------------------------------


def test_a_suggestion_is_stored_with_its_call_and_the_draft_is_untouched(world, fake):
    assist(world, fake)
    assignment = world.claim()
    seed = assignment.seed
    response = api_for(assignment.annotator).post(url(assignment))
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == SUGGESTION_KEYS
    assert body["text"].startswith("Rewritten question about: Seed subcategory")
    assert body["difficulty"] == "medium"
    assert body["programming_languages"] == ["python"]  # "Python": the vocabulary's name
    assert (body["model"], body["prompt_version"]) == ("fake-good", "builtin-v1")

    stored = DraftSuggestion.objects.get()
    assert stored.pk == body["id"] and stored.assignment == assignment
    assert stored.requested_by == assignment.annotator and stored.text == body["text"]
    call = ModelCall.objects.get()
    assert stored.call == call
    assert (call.purpose, call.status, call.model, call.streamed) == (
        "draft",
        "ok",
        "fake-good",
        False,
    )
    assert call.actor == assignment.annotator and not call.tokens_estimated
    assert call.tokens_in > 0 and call.tokens_out > 0
    assert (body["tokens_in"], body["tokens_out"]) == (call.tokens_in, call.tokens_out)
    # What the model was sent: the draft prompt, the campaign's languages, the seed.
    [request] = fake.requests_to(COMPLETIONS)
    system, user = request["json"]["messages"]
    assert system["content"].startswith("TASK: draft") and "python, " in system["content"]
    assert seed.body in user["content"] and seed.subcategory.name in user["content"]
    assert not Rewrite.objects.exists()  # nothing was written into a draft


def test_suggested_languages_resolve_to_the_vocabulary_and_odd_tags_are_dropped(world, fake):
    assist(world, fake)
    assignment = world.claim()
    fake.answers["draft"] = (
        "Sure! <question>\n  Sort `xs` in place.\n</question>\n<difficulty>HARD</difficulty>"
        "\n<languages>py, TypeScript, Cobol-2000, python</languages>"
    )
    suggestion = draft_suggest(assignment_id=assignment.pk, actor=assignment.annotator)
    assert suggestion.text == "Sort `xs` in place."
    assert suggestion.difficulty == "hard"
    assert suggestion.programming_languages == ["python", "ts"]
    fake.answers["draft"] = "<question>Q</question><difficulty>extreme</difficulty>"
    suggestion = draft_suggest(assignment_id=assignment.pk, actor=assignment.annotator)
    assert (suggestion.difficulty, suggestion.programming_languages) == ("", [])


def test_the_campaigns_own_prompt_version_is_used_and_recorded(world, fake):
    assist(world, fake)
    AssistPrompt.objects.create(
        campaign=world.campaign, purpose="draft", number=2, text="Be brief. Keep code."
    )
    assignment = world.claim()
    body = api_for(assignment.annotator).post(url(assignment)).json()
    assert body["prompt_version"] == "campaign-v2"
    assert ModelCall.objects.get().prompt_version == "campaign-v2"
    system = fake.requests_to(COMPLETIONS)[0]["json"]["messages"][0]["content"]
    assert "Be brief. Keep code." in system and "<question>" in system  # the fixed format too


def test_streamed_suggestion_sends_the_question_as_it_arrives_then_the_suggestion(world, fake):
    assist(world, fake)
    assignment = world.claim()
    response = api_for(assignment.annotator).post(url(assignment, stream=True))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    assert response["X-Accel-Buffering"] == "no"
    assert "no-store" in response["Cache-Control"]
    events = lines(response)
    deltas = [e["delta"] for e in events[:-1]]
    assert len(deltas) >= 3 and all(set(e) == {"delta"} for e in events[:-1])
    final = events[-1]["suggestion"]
    assert set(final) == SUGGESTION_KEYS
    # The pieces add up to the stored question: no tags, no markup in between.
    assert "".join(deltas) == final["text"] == DraftSuggestion.objects.get().text
    assert "<" not in "".join(deltas)
    call = ModelCall.objects.get()
    assert call.streamed and call.status == "ok" and not call.tokens_estimated
    assert (final["tokens_in"], final["tokens_out"]) == (call.tokens_in, call.tokens_out)
    assert fake.requests_to(COMPLETIONS)[0]["json"]["stream"] is True


def test_the_stream_is_also_asked_for_by_media_type(world, fake):
    assist(world, fake)
    assignment = world.claim()
    response = api_for(assignment.annotator).post(
        url(assignment), HTTP_ACCEPT="application/x-ndjson"
    )
    assert response.status_code == 200 and "suggestion" in lines(response)[-1]


def test_an_endpoint_that_does_not_stream_gives_one_final_event(world, fake):
    assist(world, fake, stream=False)
    assignment = world.claim()
    response = api_for(assignment.annotator).post(url(assignment, stream=True))
    assert response.status_code == 200
    [event] = lines(response)
    assert event["suggestion"]["id"] == DraftSuggestion.objects.get().pk
    assert "stream" not in fake.requests_to(COMPLETIONS)[0]["json"]
    assert not ModelCall.objects.get().streamed


# --- failures --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [None, {"enabled": False}, {"suggest_drafts": False}],
    ids=["never-set-up", "off", "drafts-off"],
)
@pytest.mark.parametrize("stream", [False, True])
def test_assistance_off_is_409_and_nothing_is_sent(world, fake, options, stream):
    if options is not None:
        assist(world, fake, **options)
    assignment = world.claim()
    response = api_for(assignment.annotator).post(url(assignment, stream=stream))
    assert response.status_code == 409
    assert response["Content-Type"] == "application/json"
    assert "off in this campaign's settings" in response.json()["detail"]
    assert not fake.requests and not ModelCall.objects.exists()


@pytest.mark.parametrize("options", [{"base_url": ""}, {"model": ""}])
def test_an_incomplete_configuration_is_503_not_configured(world, fake, options):
    assist(world, fake, **options)
    assignment = world.claim()
    response = api_for(assignment.annotator).post(url(assignment))
    assert response.status_code == 503
    body = response.json()
    assert body["reason"] == "not_configured" and "curator" in body["detail"]
    assert not fake.requests and not ModelCall.objects.exists()


@pytest.mark.parametrize("stream", [False, True])
def test_an_endpoint_error_is_503_with_the_reason_and_a_failed_call(world, fake, stream):
    assist(world, fake, model="fake-fail")
    assignment = world.claim()
    response = api_for(assignment.annotator).post(url(assignment, stream=stream))
    assert response.status_code == 503  # before anything streamed: a real status
    body = response.json()
    assert body["reason"] == "endpoint_error"
    assert "answered HTTP 500" in body["detail"] and "127.0.0.1" in body["detail"]
    call = ModelCall.objects.get()
    assert (call.status, call.error_code, call.streamed) == ("failed", "endpoint_error", stream)
    assert "HTTP 500" in call.error
    assert not DraftSuggestion.objects.exists()


@pytest.mark.parametrize("stream", [False, True])
def test_an_endpoint_that_is_down_is_503_unreachable(world, fake, stream):
    stopped = FakeOpenAI().start()
    down = stopped.base_url
    stopped.stop()  # nothing listens on its port any more
    assist(world, fake, base_url=down)
    assignment = world.claim()
    response = api_for(assignment.annotator).post(url(assignment, stream=stream))
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json()["reason"] == "unreachable"
    assert ModelCall.objects.get().error_code == "unreachable"


def test_a_slow_endpoint_times_out_within_the_campaigns_timeout(world, fake):
    assist(world, fake, model="fake-slow", timeout_seconds=0.5)
    assignment = world.claim()
    started = time.monotonic()
    response = api_for(assignment.annotator).post(url(assignment))
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    body = response.json()
    assert body["reason"] == "timeout" and "0.5 s" in body["detail"]
    assert elapsed < 2.5, elapsed  # the server would have answered after 4 s
    call = ModelCall.objects.get()
    assert (call.status, call.error_code) == ("failed", "timeout")


def test_a_malformed_answer_is_503_malformed_and_its_call_is_marked_failed(world, fake):
    assist(world, fake, model="fake-malformed")
    assignment = world.claim()
    response = api_for(assignment.annotator).post(url(assignment))
    assert response.status_code == 503
    body = response.json()
    assert body["reason"] == "malformed" and "no <question> section" in body["detail"]
    call = ModelCall.objects.get()
    assert (call.status, call.error_code) == ("failed", "malformed")
    assert call.tokens_out > 0  # it did answer, and the answer cost tokens
    assert not DraftSuggestion.objects.exists()


def test_the_endpoints_rate_limit_is_429_with_retry_after(world, fake):
    assist(world, fake, model="fake-ratelimit")
    assignment = world.claim()
    response = api_for(assignment.annotator).post(url(assignment))
    assert response.status_code == 429
    assert response["Retry-After"] == "7"
    assert response.json()["reason"] == "rate_limited"
    assert ModelCall.objects.get().error_code == "rate_limited"


def test_the_campaigns_limit_refuses_the_second_call_without_sending_it(world, fake):
    assist(world, fake, rate_limit_per_minute=1)
    assignment = world.claim()
    client = api_for(assignment.annotator)
    minute_left()
    assert client.post(url(assignment)).status_code == 201
    response = client.post(url(assignment, stream=True))
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    body = response.json()
    assert body["reason"] == "limit" and "1 model calls per minute" in body["detail"]
    assert len(fake.requests_to(COMPLETIONS)) == 1
    assert ModelCall.objects.count() == 1  # a refused call never left: nothing to record


def test_the_api_key_comes_from_the_named_variable(world, fake, monkeypatch, settings):
    settings.CURATION_MODEL_ALLOWED_HOSTS = ["127.0.0.1"]  # a key goes to allowed hosts only
    assist(world, fake, model="fake-auth", api_key_env=KEY_VAR)
    assignment = world.claim()
    client = api_for(assignment.annotator)
    monkeypatch.delenv(KEY_VAR, raising=False)
    response = client.post(url(assignment))
    assert response.status_code == 503
    assert response.json()["reason"] == "not_configured" and KEY_VAR in response.json()["detail"]
    assert not fake.requests

    monkeypatch.setenv(KEY_VAR, "sk-wrong")
    response = client.post(url(assignment))
    assert response.status_code == 503 and response.json()["reason"] == "auth"
    assert "sk-wrong" not in response.content.decode()

    monkeypatch.setenv(KEY_VAR, fake.expected_key)
    response = client.post(url(assignment))
    assert response.status_code == 201, response.content
    assert fake.requests[-1]["headers"]["authorization"] == f"Bearer {fake.expected_key}"


def test_a_stream_that_goes_wrong_midway_ends_with_an_error_event(world, fake):
    assist(world, fake, model="fake-malformed")
    assignment = world.claim()
    response = api_for(assignment.annotator).post(url(assignment, stream=True))
    assert response.status_code == 200  # the status was sent before the answer was read
    events = lines(response)
    assert not any("suggestion" in e for e in events)
    error = events[-1]["error"]
    assert (error["code"], error["reason"], error["status"]) == ("unavailable", "malformed", 503)
    assert "could not be used" in error["detail"]
    call = ModelCall.objects.get()
    assert (call.status, call.error_code, call.streamed) == ("failed", "malformed", True)
    assert not DraftSuggestion.objects.exists()


def test_a_stream_that_stalls_ends_with_a_timeout_event(world, fake):
    """The timeout bounds each wait for the next piece (a long answer that keeps coming is
    not cut off): here the first piece comes 1 s after the headers."""
    assist(world, fake, model="fake-slow", timeout_seconds=0.3)
    fake.answers["draft"] = "<question>Stalls.</question>"  # 4 pieces over the 4 s
    assignment = world.claim()
    started = time.monotonic()
    response = api_for(assignment.annotator).post(url(assignment, stream=True))
    events = lines(response)
    assert time.monotonic() - started < 2.5
    assert events[-1]["error"]["reason"] == "timeout"
    assert ModelCall.objects.get().error_code == "timeout"


def test_an_abandoned_stream_gives_its_slot_back(world, fake):
    assist(world, fake, concurrency=1)
    assignment = world.claim()
    annotator = assignment.annotator
    # Never read (the client left before the first line).
    stream = draft_suggest(assignment_id=assignment.pk, actor=annotator, stream=True)
    with pytest.raises(Throttled):  # the one slot is taken while it is open
        draft_suggest(assignment_id=assignment.pk, actor=annotator)
    stream.close()
    # Read half-way, then abandoned.
    stream = draft_suggest(assignment_id=assignment.pk, actor=annotator, stream=True)
    events = iter(stream)
    assert next(events).delta
    stream.close()
    stream.close()  # closing twice gives back one slot, not two
    assert list(events) == []
    # Both slots came back: a call goes through, and holds the only slot while it runs.
    held = draft_suggest(assignment_id=assignment.pk, actor=annotator, stream=True)
    with pytest.raises(Throttled):
        draft_suggest(assignment_id=assignment.pk, actor=annotator)
    assert list(held)[-1].suggestion is not None
    assert draft_suggest(assignment_id=assignment.pk, actor=annotator).pk
    # The two abandoned requests were sent: they are recorded, with the tokens that arrived.
    abandoned = ModelCall.objects.filter(error_code="abandoned").order_by("id")
    assert [(c.status, c.streamed) for c in abandoned] == [("failed", True)] * 2
    assert abandoned[0].tokens_out == 0 and abandoned[1].tokens_out > 0
    assert abandoned[1].tokens_estimated


def test_an_endpoint_that_refuses_to_stream_is_asked_once_without(world, fake):
    assist(world, fake, model="fake-nostream")
    assignment = world.claim()
    response = api_for(assignment.annotator).post(url(assignment, stream=True))
    events = lines(response)
    assert [list(e) for e in events] == [["suggestion"]]
    assert events[0]["suggestion"]["text"] == DraftSuggestion.objects.get().text
    sent = [r["json"].get("stream", False) for r in fake.requests]
    assert sent == [True, False]
    failed, answered = ModelCall.objects.order_by("id")
    assert (failed.status, failed.error_code, answered.status) == ("failed", "endpoint_error", "ok")


def test_a_stream_with_no_events_is_asked_once_without(world, fake):
    """An endpoint that answers a streamed request with a page, not events: asked again
    without streaming; its answer is no better here, so the stream ends with that error."""
    assist(world, fake, model="fake-html")
    assignment = world.claim()
    events = lines(api_for(assignment.annotator).post(url(assignment, stream=True)))
    assert len(fake.requests) == 2 and events[-1]["error"]["reason"] == "malformed"


# --- who may ask -----------------------------------------------------------------------------


def test_only_the_assignments_annotator_may_ask_or_read(world, fake, make_world):
    assist(world, fake)
    assignment = world.claim()
    other_annotator = world.annotators[1]
    stranger = make_world("elsewhere").annotators[0]
    for user in (other_annotator, stranger):
        client = api_for(user)
        assert client.post(url(assignment)).status_code == 404
        assert client.post(url(assignment, stream=True)).status_code == 404
        assert client.get(url(assignment)).status_code == 404
    for user in (world.reviewers[0], world.curator):  # members without the annotator role
        client = api_for(user)
        assert client.post(url(assignment)).status_code == 403
        assert client.get(url(assignment)).status_code == 403
    from rest_framework.test import APIClient

    assert APIClient().post(url(assignment)).status_code in {401, 403}
    assert client.post("/api/v1/assignments/999999/suggestion/").status_code == 404
    assert not fake.requests and not ModelCall.objects.exists()


def test_a_submitted_assignment_gets_no_suggestion(world, fake):
    assist(world, fake)
    rewrite = world.submitted()
    response = api_for(rewrite.author).post(url(rewrite.assignment))
    assert response.status_code == 409 and "not active" in response.json()["detail"]
    assert not fake.requests


# --- reading the latest ----------------------------------------------------------------------


def test_the_latest_suggestion_is_read_in_a_constant_number_of_queries(world, fake):
    assist(world, fake)
    assignment = world.claim()
    client = api_for(assignment.annotator)
    assert client.get(url(assignment)).status_code == 204
    counts = []
    for _ in range(3):
        created = client.post(url(assignment)).json()
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url(assignment))
        assert response.status_code == 200 and response.json() == created
        counts.append(len(ctx))
    assert counts[0] == counts[1] == counts[2], counts


def test_the_annotate_page_offers_suggestions_without_calling_the_model(world, fake, client):
    assignment = world.claim()
    client.force_login(assignment.annotator)
    page = f"/assignments/{assignment.pk}/"
    assert 'id="assist"' not in client.get(page).content.decode()  # not set up
    assist(world, fake)
    response = client.get(page)
    html = response.content.decode()
    assert 'id="assist"' in html and "Model suggestion" in html
    config = response.context["config"]
    assert 'id="annotate-config"' in html
    assert config["assist"] == {"model": "fake-good", "stream": True, "suggestion": None}
    assert config["urls"]["suggestion"] == url(assignment)
    assert not fake.requests
    made = draft_suggest(assignment_id=assignment.pk, actor=assignment.annotator)
    config = client.get(page).context["config"]
    assert config["assist"]["suggestion"]["id"] == made.pk
    assert len(fake.requests) == 1  # the one asked for, none by the page
    assist(world, fake, suggest_drafts=False)
    assert 'id="assist"' not in client.get(page).content.decode()


# --- provenance ------------------------------------------------------------------------------


def draft_url(assignment: Any) -> str:
    return f"/api/v1/assignments/{assignment.pk}/draft/"


def test_the_draft_records_the_inserted_suggestion_and_keeps_it(world, fake):
    assist(world, fake)
    assignment = world.claim()
    suggestion = draft_suggest(assignment_id=assignment.pk, actor=assignment.annotator)
    client = api_for(assignment.annotator)
    base = {**GOOD_DRAFT, "text": suggestion.text}
    response = client.put(
        draft_url(assignment), {**base, "suggestion": suggestion.pk, "version": 0}, format="json"
    )
    assert response.status_code == 200, response.content
    draft = response.json()
    assert draft["suggestion"] == suggestion.pk
    assert draft["provenance"] == {
        "origin": "model_drafted",
        "model": "fake-good",
        "prompt_version": "builtin-v1",
        "edit_distance": None,
    }
    # Left out of a save: kept.
    response = client.put(
        draft_url(assignment), {**base, "text": "Edited.", "version": 1}, format="json"
    )
    assert response.json()["suggestion"] == suggestion.pk
    assert Rewrite.objects.get().suggestion_id == suggestion.pk
    shown = client.get(f"/api/v1/assignments/{assignment.pk}/").json()["draft"]
    assert shown["suggestion"] == suggestion.pk and shown["provenance"]["origin"] == "model_drafted"
    # A stale save sees it in the stored draft.
    stale = client.put(draft_url(assignment), {**base, "version": 1}, format="json")
    assert stale.status_code == 409
    assert stale.json()["current"]["suggestion"] == suggestion.pk
    # null keeps it too: a client cannot relabel a model's text as a person's.
    response = client.put(
        draft_url(assignment), {**base, "suggestion": None, "version": 2}, format="json"
    )
    assert response.json()["suggestion"] == suggestion.pk
    assert response.json()["provenance"]["origin"] == "model_drafted"


def test_a_suggestion_of_another_assignment_is_refused(world, fake):
    assist(world, fake)
    mine = world.claim()
    theirs = world.claim(world.annotators[1])
    foreign = draft_suggest(assignment_id=theirs.pk, actor=theirs.annotator)
    client = api_for(mine.annotator)
    for value in (foreign.pk, 999999):
        response = client.put(
            draft_url(mine), {**GOOD_DRAFT, "suggestion": value, "version": 0}, format="json"
        )
        assert response.status_code == 400
        assert "suggestion" in response.json()["errors"]
    response = client.put(
        draft_url(mine), {**GOOD_DRAFT, "suggestion": "1", "version": 0}, format="json"
    )
    assert response.status_code == 400 and "suggestion" in response.json()["errors"]
    assert not Rewrite.objects.filter(assignment=mine).exists()
    empty = client.get(f"/api/v1/assignments/{mine.pk}/").json()["draft"]
    assert empty["suggestion"] is None and empty["provenance"]["origin"] == "human"


def test_submit_records_the_edit_distance_from_the_suggestion(world, fake):
    assist(world, fake)
    fake.answers["draft"] = "<question>\nSplit a list into chunks of n.\n</question>"
    assignment = world.claim()
    suggestion = draft_suggest(assignment_id=assignment.pk, actor=assignment.annotator)
    assert suggestion.text == "Split a list into chunks of n."
    final = "Split a Python list into chunks of n items."
    draft_save(
        assignment_id=assignment.pk,
        actor=assignment.annotator,
        data=DraftInput(**{**GOOD_DRAFT, "text": final}, suggestion=suggestion.pk),
        version=0,
    )
    rewrite = rewrite_submit(assignment_id=assignment.pk, actor=assignment.annotator)
    rewrite.refresh_from_db()
    assert rewrite.suggestion_id == suggestion.pk
    assert rewrite.suggestion_edit_distance == 13  # "Python " and " items" inserted
    assert Levenshtein.distance(suggestion.text, final) == 13
    shown = api_for(assignment.annotator).get(f"/api/v1/assignments/{assignment.pk}/").json()
    assert shown["draft"]["provenance"]["edit_distance"] == 13
    # Written by a person: no distance.
    other = world.submitted(world.annotators[1])
    other.refresh_from_db()
    assert other.suggestion_id is None and other.suggestion_edit_distance is None


def test_a_returned_rewrites_next_revision_keeps_the_suggestion(world, fake):
    assist(world, fake)
    fake.answers["draft"] = "<question>abcdef</question>"
    assignment = world.claim()
    annotator = assignment.annotator
    suggestion = draft_suggest(assignment_id=assignment.pk, actor=annotator)
    world.draft(assignment, text="abcdefgh", suggestion=suggestion.pk)
    first = rewrite_submit(assignment_id=assignment.pk, actor=annotator)
    cast_panel(first, ["invalid"] * 4)
    revision = rewrite_return(rewrite_id=first.pk, actor=world.curator, note="Say more.")
    assert revision.suggestion_id == suggestion.pk
    assert revision.suggestion_edit_distance is None  # measured again at its submit
    draft_save(
        assignment_id=assignment.pk,
        actor=annotator,
        data=DraftInput(**{**GOOD_DRAFT, "text": "abXdef"}),
        version=revision.version,
    )
    second = rewrite_submit(assignment_id=assignment.pk, actor=annotator)
    second.refresh_from_db()
    first.refresh_from_db()
    assert (second.suggestion_id, second.suggestion_edit_distance) == (suggestion.pk, 1)
    assert (first.suggestion_id, first.suggestion_edit_distance) == (suggestion.pk, 2)

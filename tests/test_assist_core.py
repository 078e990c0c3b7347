"""Model assistance, the shared part: the OpenAI-compatible client (core.llm) against a real
local server, the per-campaign limits, the built-in prompts' parsers (annotation.prompts), and
how a campaign's settings become an endpoint (annotation.services.assist)."""

from collections.abc import Iterator

import pytest
from django.core.cache import cache

from annotation import prompts
from annotation.models import AssistSettings, ModelCall
from annotation.services.assist import (
    endpoint_for,
    model_call,
    prompt_in_use,
)
from core import llm
from core.errors import InvalidTransition, Throttled, Unavailable, ValidationFailed
from tests.conftest import World
from tests.fake_openai import FakeOpenAI

DRAFT = [{"role": "system", "content": "TASK: draft\nRewrite."}, {"role": "user", "content": "x"}]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(slow_seconds=2.0)
    server.start()
    yield server
    server.stop()


def endpoint(fake: FakeOpenAI, model: str = "fake-good", **kw: object) -> llm.Endpoint:
    kw.setdefault("allow_private", True)  # the fake server is on 127.0.0.1
    return llm.Endpoint(base_url=fake.base_url, model=model, **kw)  # type: ignore[arg-type]


# --- core.llm ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given, expected",
    [
        ("https://api.openai.com/v1", "https://api.openai.com/v1"),
        ("https://api.openai.com/v1/", "https://api.openai.com/v1"),
        ("http://localhost:11434/v1/chat/completions", "http://localhost:11434/v1"),
        ("  http://127.0.0.1:1234/v1/completions/ ", "http://127.0.0.1:1234/v1"),
    ],
)
def test_base_url_is_normalized(given: str, expected: str) -> None:
    assert llm.normalize_base_url(given) == expected


@pytest.mark.parametrize(
    "bad", ["", "ftp://x/v1", "file:///etc/passwd", "localhost:8000", "http://h/v1?x=1"]
)
def test_base_url_must_be_http(bad: str) -> None:
    with pytest.raises(ValidationFailed):
        llm.normalize_base_url(bad)


def test_chat_answers_with_usage(fake: FakeOpenAI) -> None:
    done = llm.chat(endpoint(fake), DRAFT)
    assert done.text.startswith("<question>")
    assert done.tokens_in and done.tokens_out
    assert done.model == "fake-good"


def test_stream_yields_the_same_text_and_usage(fake: FakeOpenAI) -> None:
    stream = llm.chat_stream(endpoint(fake), DRAFT)
    pieces = list(stream)
    assert len(pieces) > 3
    assert stream.completion is not None
    assert stream.completion.text == "".join(pieces) == llm.chat(endpoint(fake), DRAFT).text
    assert stream.completion.streamed and stream.completion.tokens_out


@pytest.mark.parametrize(
    "model, error, reason",
    [
        ("fake-fail", Unavailable, "endpoint_error"),
        ("fake-ratelimit", Throttled, "rate_limited"),
        ("fake-auth", Unavailable, "auth"),
        ("fake-badjson", Unavailable, "malformed"),
        ("fake-html", Unavailable, "malformed"),
    ],
)
def test_failures_become_domain_errors(
    fake: FakeOpenAI, model: str, error: type[Exception], reason: str
) -> None:
    with pytest.raises(error) as caught:
        llm.chat(endpoint(fake, model), DRAFT)
    assert caught.value.details["reason"] == reason  # type: ignore[attr-defined]
    assert "127.0.0.1" in caught.value.message  # type: ignore[attr-defined]


def test_rate_limit_carries_retry_after(fake: FakeOpenAI) -> None:
    with pytest.raises(Throttled) as caught:
        llm.chat(endpoint(fake, "fake-ratelimit"), DRAFT)
    assert caught.value.details["retry_after"] == 7


def test_timeout_is_bounded(fake: FakeOpenAI) -> None:
    import time

    started = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        llm.chat(endpoint(fake, "fake-slow", timeout=0.5), DRAFT)
    assert caught.value.details["reason"] == "timeout"
    assert time.monotonic() - started < 1.5


def test_unreachable_endpoint() -> None:
    dead = llm.Endpoint(base_url="http://127.0.0.1:9/v1", model="m", timeout=2, allow_private=True)
    with pytest.raises(Unavailable) as caught:
        llm.chat(dead, DRAFT)
    assert caught.value.details["reason"] == "unreachable"


def test_streamed_html_is_malformed_not_empty_success(fake: FakeOpenAI) -> None:
    with pytest.raises(Unavailable) as caught:
        list(llm.chat_stream(endpoint(fake, "fake-html"), DRAFT))
    assert caught.value.details["reason"] == "malformed"


def test_key_is_sent_as_bearer(fake: FakeOpenAI) -> None:
    done = llm.chat(endpoint(fake, "fake-auth", api_key="sk-test-key"), DRAFT)
    assert done.text
    assert fake.requests[-1]["headers"]["authorization"] == "Bearer sk-test-key"


def test_limits_per_minute_and_at_once() -> None:
    cache.clear()
    with llm.limited("t1", per_minute=2, at_once=5, hold_seconds=10):
        pass
    with llm.limited("t1", per_minute=2, at_once=5, hold_seconds=10):
        pass
    third = llm.limited("t1", per_minute=2, at_once=5, hold_seconds=10)
    with pytest.raises(Throttled) as caught, third:
        pass
    assert 0 < caught.value.details["retry_after"] <= 60
    with llm.limited("t2", per_minute=100, at_once=1, hold_seconds=10):
        second = llm.limited("t2", per_minute=100, at_once=1, hold_seconds=10)
        with pytest.raises(Throttled), second:
            pass
    # The slot is given back: a later call runs.
    with llm.limited("t2", per_minute=100, at_once=1, hold_seconds=10):
        pass


# --- annotation.prompts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer, question, difficulty, languages",
    [
        (
            "<question>\nHow do I X?\n</question>\n<difficulty>Hard</difficulty>\n"
            "<languages>Python, C++</languages>",
            "How do I X?",
            "hard",
            ["Python", "C++"],
        ),
        ("Sure!\n<question>Q</question><difficulty>trivial</difficulty>", "Q", "", []),
        ("<question>\nCut off mid-way", "Cut off mid-way", "", []),
    ],
)
def test_parse_draft(answer: str, question: str, difficulty: str, languages: list[str]) -> None:
    parsed = prompts.parse_draft(answer)
    assert (parsed.question, parsed.difficulty, parsed.languages) == (
        question,
        difficulty,
        languages,
    )


@pytest.mark.parametrize("answer", ["I'm sorry, I can't help with that.", "<question> </question>"])
def test_parse_draft_rejects(answer: str) -> None:
    with pytest.raises(ValueError):
        prompts.parse_draft(answer)


@pytest.mark.parametrize(
    "buffer, shown",
    [
        ("", ""),
        ("<quest", ""),
        ("<question>\nHello wor", "Hello wor"),
        ("<question>\nHello</quest", "Hello"),
        ("<question>\nHello</question>\n<difficulty>", "Hello"),
        ("<question>\na < b and c</question>", "a < b and c"),
    ],
)
def test_question_so_far_never_shows_tags(buffer: str, shown: str) -> None:
    assert prompts.question_so_far(buffer) == shown


@pytest.mark.parametrize(
    "answer, name",
    [
        ("<subcategory>Web Development</subcategory>", "Web Development"),
        ("<subcategory> 'Testing' </subcategory>", "Testing"),
        ("Database Design\nbecause ...", "Database Design"),
        ("", ""),
    ],
)
def test_parse_classification(answer: str, name: str) -> None:
    assert prompts.parse_classification(answer) == name


def test_parse_hint_normalises_and_rejects() -> None:
    good = (
        '```json\n{"clear": {"ok": true, "note": "fine"}, "ethical": {"ok": true}, '
        '"solvable": {"ok": false, "note": "no output format"}, "problems": "one"}\n```'
    )
    assert prompts.parse_hint(good) == {
        "clear": {"ok": True, "note": "fine"},
        "ethical": {"ok": True, "note": ""},
        "solvable": {"ok": False, "note": "no output format"},
        "problems": ["one"],
    }
    for bad in ["not json", '{"clear": {"ok": "yes"}}', "[1, 2]", '{"clear": ']:
        with pytest.raises(ValueError):
            prompts.parse_hint(bad)


def test_messages_carry_the_task_and_the_fixed_format() -> None:
    messages = prompts.draft_messages(
        instructions="Be brief.", languages=["Python", "Go"], title="T", body="B" * 20_000
    )
    assert messages[0]["content"].startswith("TASK: draft\nBe brief.")
    assert "<question>" in messages[0]["content"] and "Python, Go" in messages[0]["content"]
    assert "more characters not shown" in messages[1]["content"]
    listed = prompts.classify_messages(
        instructions="x", taxonomy=[("Cat", "Sub A"), ("Cat", "Sub B")], title="", body="q"
    )
    assert "- Cat > Sub A\n- Cat > Sub B" in listed[0]["content"]
    retry = prompts.classify_retry_messages(listed, "Nope")
    assert retry[-2] == {"role": "assistant", "content": "Nope"}
    assert '"Nope" is not one of the listed subcategories' in retry[-1]["content"]


# --- annotation.services.assist ---------------------------------------------------------------


@pytest.fixture
def world(db: None) -> World:
    return World(slug="assist")


def configure(world: World, **fields: object) -> AssistSettings:
    values = {"enabled": True, "base_url": "http://127.0.0.1:9/v1", "model": "fake-good", **fields}
    config, _ = AssistSettings.objects.update_or_create(campaign=world.campaign, defaults=values)
    return config


def test_assistance_is_off_by_default(world: World) -> None:
    with pytest.raises(InvalidTransition, match="off"):
        endpoint_for(world.campaign, purpose="draft")


def test_incomplete_settings_are_unavailable(world: World) -> None:
    configure(world, model="")
    with pytest.raises(Unavailable) as caught:
        endpoint_for(world.campaign, purpose="draft")
    assert caught.value.details["reason"] == "not_configured"


def test_each_use_can_be_switched_off(world: World) -> None:
    configure(world, suggest_drafts=False, reviewer_hint=False)
    with pytest.raises(InvalidTransition, match="Draft suggestions"):
        endpoint_for(world.campaign, purpose="draft")
    with pytest.raises(InvalidTransition, match="Reviewer hints"):
        endpoint_for(world.campaign, purpose="hint")
    endpoint_for(world.campaign, purpose="classify")


def test_only_prefixed_variables_can_hold_the_key(
    world: World, monkeypatch: pytest.MonkeyPatch, settings: object
) -> None:
    settings.CURATION_MODEL_ALLOWED_HOSTS = ["127.0.0.1"]  # type: ignore[attr-defined]
    monkeypatch.setenv("DJANGO_SECRET_KEY", "do-not-send")
    configure(world, api_key_env="DJANGO_SECRET_KEY")
    with pytest.raises(Unavailable, match="not allowed"):
        endpoint_for(world.campaign, purpose="draft")
    configure(world, api_key_env="CURATION_MODEL_KEY_OPENAI")
    with pytest.raises(Unavailable, match="not set on this server"):
        endpoint_for(world.campaign, purpose="draft")
    monkeypatch.setenv("CURATION_MODEL_KEY_OPENAI", "sk-live")
    _, found = endpoint_for(world.campaign, purpose="draft")
    assert found.api_key == "sk-live"


def test_allowed_hosts_are_enforced(world: World, settings: object) -> None:
    settings.CURATION_MODEL_ALLOWED_HOSTS = ["api.openai.com"]  # type: ignore[attr-defined]
    configure(world)
    with pytest.raises(Unavailable, match="not among the hosts"):
        endpoint_for(world.campaign, purpose="draft")


def test_model_calls_are_recorded_whatever_the_outcome(world: World, fake: FakeOpenAI) -> None:
    cache.clear()
    config = configure(world, base_url=fake.base_url)
    prompt = prompt_in_use(world.campaign, "draft")
    assert prompt.version == "builtin-v1"
    _, found = endpoint_for(world.campaign, purpose="draft")
    done = model_call(
        campaign=world.campaign,
        actor=world.annotators[0],
        purpose="draft",
        messages=DRAFT,
        prompt_version=prompt.version,
        config=config,
        endpoint=found,
    )
    assert done.call.status == ModelCall.Status.OK
    assert done.call.tokens_in == done.completion.tokens_in > 0
    assert not done.call.tokens_estimated
    failing = llm.Endpoint(base_url=fake.base_url, model="fake-fail", allow_private=True)
    with pytest.raises(Unavailable):
        model_call(
            campaign=world.campaign,
            actor=world.annotators[0],
            purpose="draft",
            messages=DRAFT,
            prompt_version=prompt.version,
            config=config,
            endpoint=failing,
        )
    failed = ModelCall.objects.get(status=ModelCall.Status.FAILED)
    assert failed.error_code == "endpoint_error" and "HTTP 500" in failed.error
    assert failed.model == "fake-fail"


def test_a_throttled_call_is_not_sent(world: World, fake: FakeOpenAI) -> None:
    cache.clear()
    config = configure(world, base_url=fake.base_url, rate_limit_per_minute=1)
    _, found = endpoint_for(world.campaign, purpose="draft")
    kwargs = dict(
        campaign=world.campaign,
        actor=None,
        purpose="draft",
        messages=DRAFT,
        prompt_version="builtin-v1",
        config=config,
        endpoint=found,
    )
    model_call(**kwargs)  # type: ignore[arg-type]
    sent = len(fake.requests)
    with pytest.raises(Throttled):
        model_call(**kwargs)  # type: ignore[arg-type]
    assert len(fake.requests) == sent
    assert ModelCall.objects.count() == 1


def test_a_key_goes_only_to_hosts_an_operator_allowed(
    world: World, monkeypatch: pytest.MonkeyPatch, settings: object
) -> None:
    """Any host allowed (the default): a curator could point the endpoint at a host of their
    own and have the server send another campaign's key there, so no key is sent at all."""
    monkeypatch.setenv("CURATION_MODEL_KEY_OPENAI", "sk-live")
    configure(world, api_key_env="CURATION_MODEL_KEY_OPENAI")
    with pytest.raises(Unavailable, match="CURATION_MODEL_ALLOWED_HOSTS is not set"):
        endpoint_for(world.campaign, purpose="draft")
    configure(world, api_key_env="")
    _, keyless = endpoint_for(world.campaign, purpose="draft")
    assert keyless.api_key is None and "sk-live" not in repr(keyless)


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/v1", "http://[fe80::1]/v1", "http://0.0.0.0:8000/v1"]
)
def test_metadata_and_link_local_addresses_are_never_called(world: World, url: str) -> None:
    configure(world, base_url=url)
    with pytest.raises(Unavailable, match="never calls"):
        endpoint_for(world.campaign, purpose="draft")


def test_redirects_are_not_followed(fake: FakeOpenAI) -> None:
    sent = len(fake.requests)
    with pytest.raises(Unavailable, match="redirect") as caught:
        llm.chat(endpoint(fake, "fake-redirect"), DRAFT)
    assert caught.value.details["reason"] == "endpoint_error"
    assert len(fake.requests) == sent + 1


def test_a_refused_call_does_not_count_against_the_minute() -> None:
    cache.clear()
    with llm.limited("t3", per_minute=2, at_once=1, hold_seconds=10):
        refused = llm.limited("t3", per_minute=2, at_once=1, hold_seconds=10)
        with pytest.raises(Throttled), refused:
            pass
    # One call ran and one was refused for concurrency: one of the minute's two calls is left.
    with llm.limited("t3", per_minute=2, at_once=1, hold_seconds=10):
        pass
    third = llm.limited("t3", per_minute=2, at_once=1, hold_seconds=10)
    with pytest.raises(Throttled, match="per minute"), third:
        pass


def test_text_the_endpoint_reports_is_bounded(world: World) -> None:
    from annotation.services.assist import _record

    call = _record(
        campaign=world.campaign,
        actor=None,
        purpose="draft",
        model="m",
        prompt_version="v" * 100,
        messages=DRAFT,
        completion=llm.Completion(text="x", model="m" * 500, tokens_in=-5, tokens_out=3),
        error=None,
        streamed=False,
        duration_ms=1,
    )
    call.refresh_from_db()
    assert (len(call.model), len(call.prompt_version), call.tokens_in) == (200, 64, 0)

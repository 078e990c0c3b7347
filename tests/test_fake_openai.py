"""The fake OpenAI server behaves like the real API as the official SDK sees it, so tests of the
model-assisted curation that use it exercise the same code paths as production."""

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from .fake_openai import HINT_ANSWER, MALFORMED_ANSWER, MODELS, FakeOpenAI

KEY = "sk-test-key"
QUESTION = "Write a function that sorts a list of integers\n  in place without using sort()."
CLASSIFY_SYSTEM = (
    "You label coding questions. TASK: classify\nAllowed subcategories:\n"
    "- Algorithms > Sorting\n- Algorithms > Graphs\n- Web > HTTP clients\n"
)


def messages(system: str, user: str = QUESTION) -> list[dict[str, Any]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


DRAFT = messages("You rewrite questions. task: DRAFT")
CLASSIFY = messages(CLASSIFY_SYSTEM)
HINT = messages("You help reviewers. TASK: hint")
OTHER = messages("You are helpful.")
EXPECTED = {
    "draft": (
        "<question>\nRewritten question about: "
        "Write a function that sorts a list of integers in place with\n</question>\n"
        "<difficulty>medium</difficulty>\n<languages>Python</languages>"
    ),
    "classify": "<subcategory>Sorting</subcategory>",
    "hint": HINT_ANSWER,
    "other": "ok",
}
PROMPTS = {"draft": DRAFT, "classify": CLASSIFY, "hint": HINT, "other": OTHER}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(slow_seconds=1.5) as fake:
        yield fake


def client(fake: FakeOpenAI, key: str = KEY, timeout: float = 5.0) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake.base_url, api_key=key, max_retries=0, timeout=timeout)


def words(msgs: list[dict[str, Any]]) -> int:
    return sum(len(m["content"].split()) for m in msgs)


@pytest.mark.parametrize("kind", ["draft", "classify", "hint", "other"])
def test_answer_depends_on_the_task_and_counts_usage(server: FakeOpenAI, kind: str) -> None:
    prompt = PROMPTS[kind]
    reply = client(server).chat.completions.create(model="fake-good", messages=prompt)

    assert reply.object == "chat.completion"
    assert reply.model == "fake-good"
    choice = reply.choices[0]
    assert (choice.index, choice.finish_reason, choice.message.role) == (0, "stop", "assistant")
    assert choice.message.content == EXPECTED[kind]
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == words(prompt)
    assert reply.usage.completion_tokens == len(EXPECTED[kind].split())
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_hint_is_a_json_object_with_the_three_checks(server: FakeOpenAI) -> None:
    reply = client(server).chat.completions.create(model="fake-good", messages=HINT)
    hint = json.loads(reply.choices[0].message.content or "")
    assert hint["clear"]["ok"] is True and hint["ethical"]["ok"] is True
    assert hint["solvable"] == {"ok": False, "note": "The expected output format is not given."}
    assert hint["problems"] == ["Missing output format"]


@pytest.mark.parametrize(
    ("system", "user", "expected"),
    [
        # Listed in the user message instead of the system message.
        ("TASK: classify", "Pick one:\n-  Data > CSV parsing \n- Web > HTTP", "CSV parsing"),
        # System lines win over a `- a > b` line inside the question itself.
        (CLASSIFY_SYSTEM, "Is\n- x > y\ntrue?", "Sorting"),
        ("TASK: classify", "no list here", "Unknown"),
    ],
)
def test_classify_finds_the_first_listed_subcategory(
    server: FakeOpenAI, system: str, user: str, expected: str
) -> None:
    reply = client(server).chat.completions.create(
        model="fake-good", messages=messages(system, user)
    )
    assert reply.choices[0].message.content == f"<subcategory>{expected}</subcategory>"


def test_content_parts_and_unknown_models_are_understood(server: FakeOpenAI) -> None:
    parts = [
        {"role": "system", "content": [{"type": "text", "text": "TASK: classify"}]},
        {"role": "user", "content": [{"type": "text", "text": "- Web > HTTP clients"}]},
    ]
    reply = client(server).chat.completions.create(model="gpt-made-up", messages=parts)
    assert reply.choices[0].message.content == "<subcategory>HTTP clients</subcategory>"
    assert reply.model == "gpt-made-up"


@pytest.mark.parametrize("kind", ["draft", "classify", "hint"])
def test_stream_assembles_the_same_text_and_ends_with_usage(server: FakeOpenAI, kind: str) -> None:
    stream = client(server).chat.completions.create(
        model="fake-good",
        messages=PROMPTS[kind],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content for c in chunks if c.choices]
    assert len(pieces) > 2 and all(len(p or "") <= 8 for p in pieces)
    assert "".join(p or "" for p in pieces) == EXPECTED[kind]
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == words(PROMPTS[kind])
    assert chunks[-1].usage.completion_tokens == len(EXPECTED[kind].split())


def test_stream_without_include_usage_sends_no_usage(server: FakeOpenAI) -> None:
    chunks = list(
        client(server).chat.completions.create(model="fake-good", messages=CLASSIFY, stream=True)
    )
    assert all(c.usage is None and c.choices for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == EXPECTED["classify"]


def test_slow_model_times_out_the_client(server: FakeOpenAI) -> None:
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client(server, timeout=0.5).chat.completions.create(model="fake-slow", messages=DRAFT)
    assert time.monotonic() - started < 1.4


@pytest.mark.parametrize("stream", [False, True])
def test_slow_model_answers_a_patient_client(stream: bool) -> None:
    with FakeOpenAI(slow_seconds=0.3) as fake:
        started = time.monotonic()
        reply = client(fake).chat.completions.create(
            model="fake-slow", messages=CLASSIFY, stream=stream
        )
        if stream:
            text = "".join(c.choices[0].delta.content or "" for c in reply if c.choices)
        else:
            text = reply.choices[0].message.content
        elapsed = time.monotonic() - started
    assert text == EXPECTED["classify"]
    assert 0.25 < elapsed < 1.5


@pytest.mark.parametrize("stream", [False, True])
def test_failing_model_is_a_server_error(server: FakeOpenAI, stream: bool) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        client(server).chat.completions.create(model="fake-fail", messages=DRAFT, stream=stream)
    assert caught.value.status_code == 500
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["type"] == "server_error"
    assert "error while processing" in caught.value.message


def test_rate_limited_model_says_when_to_retry(server: FakeOpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        client(server).chat.completions.create(model="fake-ratelimit", messages=DRAFT)
    assert caught.value.status_code == 429
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.response.headers["retry-after"] == "7"


@pytest.mark.parametrize("stream", [False, True])
def test_malformed_model_answers_in_no_known_format(server: FakeOpenAI, stream: bool) -> None:
    reply = client(server).chat.completions.create(
        model="fake-malformed", messages=CLASSIFY, stream=stream
    )
    if stream:
        text = "".join(c.choices[0].delta.content or "" for c in reply if c.choices)
    else:
        text = reply.choices[0].message.content
    assert text == MALFORMED_ANSWER
    assert "<" not in text and "{" not in text


@pytest.mark.parametrize("stream", [False, True])
def test_body_that_is_not_json_raises_a_plain_json_error(server: FakeOpenAI, stream: bool) -> None:
    # The SDK does NOT wrap this in an openai error: callers must catch ValueError as well.
    with pytest.raises(json.JSONDecodeError) as caught:
        reply = client(server).chat.completions.create(
            model="fake-badjson", messages=DRAFT, stream=stream
        )
        if stream:
            list(reply)
    assert not isinstance(caught.value, openai.OpenAIError)


def test_html_page_comes_back_as_a_string_not_an_error(server: FakeOpenAI) -> None:
    # With a non-JSON content type the SDK returns the body text instead of a ChatCompletion.
    reply: Any = client(server).chat.completions.create(model="fake-html", messages=DRAFT)
    assert isinstance(reply, str) and "502 Bad Gateway" in reply


def test_auth_model_checks_the_key(server: FakeOpenAI) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        client(server, key="sk-wrong").chat.completions.create(model="fake-auth", messages=OTHER)
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"

    reply = client(server).chat.completions.create(model="fake-auth", messages=OTHER)
    assert reply.choices[0].message.content == "ok"


def test_custom_key_and_answer_overrides() -> None:
    answers = {"draft": "<question>Q</question>", "hint": "{}"}
    with FakeOpenAI(answers=answers, expected_key="sk-other") as fake:
        ai = client(fake, key="sk-other")
        draft = ai.chat.completions.create(model="fake-auth", messages=DRAFT)
        hint = ai.chat.completions.create(model="fake-good", messages=HINT)
        classify = ai.chat.completions.create(model="fake-good", messages=CLASSIFY)
    assert draft.choices[0].message.content == "<question>Q</question>"
    assert hint.choices[0].message.content == "{}"
    assert classify.choices[0].message.content == EXPECTED["classify"]


def test_classify_answers_are_used_in_order_then_the_default() -> None:
    queued = ["Algorithms > Sorting, I think", "<subcategory>Graphs</subcategory>"]
    fallback = {"classify": "<subcategory>X</subcategory>"}
    with FakeOpenAI(classify_answers=queued, answers=fallback) as fake:
        ai = client(fake)
        # Other kinds of prompt do not use up the queue.
        draft = ai.chat.completions.create(model="fake-good", messages=DRAFT)
        replies = [
            ai.chat.completions.create(model="fake-good", messages=CLASSIFY) for _ in range(3)
        ]
    assert draft.choices[0].message.content == EXPECTED["draft"]
    assert [r.choices[0].message.content for r in replies] == [*queued, fallback["classify"]]


def test_requests_are_recorded_with_headers_and_body() -> None:
    with FakeOpenAI() as fake:
        ai = client(fake, key="sk-recorded")
        ai.chat.completions.create(model="fake-good", messages=DRAFT, temperature=0)
        with pytest.raises(openai.InternalServerError):
            ai.chat.completions.create(model="fake-fail", messages=OTHER)
        ai.models.list()

    assert [(r["method"], r["path"]) for r in fake.requests] == [
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/chat/completions"),
        ("GET", "/v1/models"),
    ]
    first = fake.requests[0]
    assert first["headers"]["authorization"] == "Bearer sk-recorded"
    assert first["headers"]["content-type"] == "application/json"
    assert first["headers"]["user-agent"].startswith("OpenAI/Python")
    assert first["json"] == {"model": "fake-good", "messages": DRAFT, "temperature": 0}
    assert fake.requests[1]["json"]["model"] == "fake-fail"
    assert len(fake.requests_to("/v1/chat/completions")) == 2


def test_concurrent_requests_are_all_recorded() -> None:
    with FakeOpenAI() as fake:
        ai = client(fake)
        results: list[str | None] = []

        def ask() -> None:
            reply = ai.chat.completions.create(model="fake-good", messages=CLASSIFY)
            results.append(reply.choices[0].message.content)

        threads = [threading.Thread(target=ask) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == [EXPECTED["classify"]] * 16
    assert len(fake.requests) == 16


def test_models_are_listed(server: FakeOpenAI) -> None:
    assert [m.id for m in client(server).models.list()] == list(MODELS)


def test_unknown_paths_and_bad_requests_get_openai_errors(server: FakeOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client(server).embeddings.create(model="fake-good", input="hi")
    assert caught.value.body == {
        "message": "Unknown request URL: POST /v1/embeddings.",
        "type": "invalid_request_error",
        "param": None,
        "code": "unknown_url",
    }

    request = urllib.request.Request(
        f"{server.base_url}/chat/completions", data=b"{nope", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as raw:
        urllib.request.urlopen(request, timeout=5)
    assert raw.value.code == 400
    assert json.loads(raw.value.read())["error"]["type"] == "invalid_request_error"


def test_base_url_needs_a_started_server_and_stop_is_idempotent() -> None:
    fake = FakeOpenAI()
    with pytest.raises(RuntimeError):
        _ = fake.base_url
    fake.start()
    assert fake.base_url.startswith("http://127.0.0.1:") and fake.base_url.endswith("/v1")
    fake.stop()
    fake.stop()


def test_runs_as_a_script_until_interrupted() -> None:
    script = Path(__file__).with_name("fake_openai.py")
    child = subprocess.Popen(
        [sys.executable, str(script), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        base_url = line.split(" at ", 1)[1].split()[0]
        with urllib.request.urlopen(f"{base_url}/models", timeout=5) as response:
            assert json.load(response)["data"][0]["id"] == "fake-good"
    finally:
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=10)
    assert child.returncode == 0
    assert stderr == ""  # no request log

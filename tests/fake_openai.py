"""A small OpenAI-compatible chat-completions server for the model-assisted curation tests.

The real API is slow, costs money and cannot be made to fail on purpose, so the tests point the
platform (or the `openai` SDK) at this server instead. One server serves every case: the
request's `model` name picks the behaviour (good, slow, failing, rate-limited, malformed, not
JSON, an HTML page, needing a key), and the first system message picks the answer (draft,
classify, hint).

Standard library only, so it runs anywhere the tests run. As a script it serves until Ctrl+C:

    python tests/fake_openai.py --port 8765
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import re
import threading
import time
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODELS = (
    "fake-good",
    "fake-slow",
    "fake-fail",
    "fake-ratelimit",
    "fake-malformed",
    "fake-badjson",
    "fake-html",
    "fake-auth",
    "fake-redirect",
    "fake-nostream",
)

MALFORMED_ANSWER = "I'm sorry, I can't help with that."
BAD_JSON_BODY = "upstream error {not json"
HTML_BODY = "<html><body><h1>502 Bad Gateway</h1></body></html>"
HINT_ANSWER = json.dumps(
    {
        "clear": {"ok": True, "note": "The question states inputs and outputs."},
        "ethical": {"ok": True, "note": "Nothing harmful."},
        "solvable": {"ok": False, "note": "The expected output format is not given."},
        "problems": ["Missing output format"],
    }
)
CHUNK_CHARS = 8
RETRY_AFTER_SECONDS = 7

# "- Category > Subcategory", one per line, as the platform's classification prompt lists them.
_SUBCATEGORY_LINE = re.compile(r"^\s*-\s*(?P<category>[^>\n]+?)\s*>\s*(?P<sub>[^\n]+?)\s*$", re.M)
_TASK_MARKERS = (("task: draft", "draft"), ("task: classify", "classify"), ("task: hint", "hint"))


def message_text(content: Any) -> str:
    """The text of a message's `content`, which may be a string or a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict)]
        return "\n".join(p for p in parts if isinstance(p, str))
    return ""


def task_kind(messages: list[dict[str, Any]]) -> str:
    """Which prompt this is ("draft", "classify", "hint" or "other"), from the first system
    message, because that is where the platform's prompts put their `TASK:` marker."""
    system = next((m for m in messages if m.get("role") == "system"), None)
    text = message_text(system.get("content")).lower() if system else ""
    for marker, kind in _TASK_MARKERS:
        if marker in text:
            return kind
    return "other"


def first_subcategory(messages: list[dict[str, Any]]) -> str:
    """The first `- Category > Subcategory` listed, looking at system messages before user ones
    (a user's question may itself contain a `- a > b` line)."""
    for role in ("system", "user"):
        for message in messages:
            if message.get("role") != role:
                continue
            match = _SUBCATEGORY_LINE.search(message_text(message.get("content")))
            if match:
                return match.group("sub")
    return "Unknown"


def draft_answer(messages: list[dict[str, Any]]) -> str:
    """A rewrite in the platform's draft format, echoing the question so tests can tell runs
    apart."""
    users = [m for m in messages if m.get("role") == "user"]
    last = " ".join(message_text(users[-1].get("content")).split()) if users else ""
    return (
        f"<question>\nRewritten question about: {last[:60]}\n</question>\n"
        "<difficulty>medium</difficulty>\n<languages>Python</languages>"
    )


def count_words(messages: list[dict[str, Any]]) -> int:
    """Whitespace-separated words in all messages: a stand-in for prompt tokens."""
    return sum(len(message_text(m.get("content")).split()) for m in messages)


def openai_error(message: str, type_: str, code: str | None) -> dict[str, Any]:
    """An error body in the shape the OpenAI API (and so the SDK's error parsing) uses."""
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeOpenAI

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients that time out and hang up are expected here, not failures."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """No request log on stderr: it would clutter the test output."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        try:
            self.server.fake._handle(self)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            # The client gave up (e.g. its timeout fired while we slept): nothing to answer.
            self.close_connection = True

    # Low-level writers used by FakeOpenAI._handle.

    def read_body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send_bytes(
        self, status: int, body: bytes, content_type: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def send_json(self, status: int, data: Any, headers: Mapping[str, str] | None = None) -> None:
        self.send_bytes(status, json.dumps(data).encode(), "application/json", headers)

    def start_chunked(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("content-type", content_type)
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class FakeOpenAI:
    """An OpenAI-compatible `/v1/chat/completions` server on 127.0.0.1 for tests.

    Use as `with FakeOpenAI() as server: OpenAI(base_url=server.base_url, ...)`, or call
    `start()` / `stop()`. Every request is recorded in `requests` (path, method, lower-cased
    headers, parsed JSON body).
    """

    def __init__(
        self,
        *,
        answers: Mapping[str, str] | None = None,
        classify_answers: Iterable[str] | None = None,
        slow_seconds: float = 5.0,
        expected_key: str = "sk-test-key",
        port: int = 0,
    ) -> None:
        self.answers: dict[str, str] = dict(answers or {})
        self.classify_answers: collections.deque[str] = collections.deque(classify_answers or ())
        self.slow_seconds = slow_seconds
        self.expected_key = expected_key
        self.port = port
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle

    @property
    def base_url(self) -> str:
        """The URL to give the SDK as `base_url` (ends in `/v1`)."""
        if self._server is None:
            raise RuntimeError("FakeOpenAI is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> FakeOpenAI:
        """Bind (port 0 picks a free one) and serve from a daemon thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-openai",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; wakes handlers that are sleeping for `fake-slow` so nothing lingers."""
        self._stopping.set()
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Inspection

    def requests_to(self, path: str) -> list[dict[str, Any]]:
        """The recorded requests to one path (e.g. "/v1/chat/completions"), in order."""
        with self._lock:
            return [r for r in self.requests if r["path"] == path]

    # Answers

    def answer_for(self, messages: list[dict[str, Any]]) -> str:
        """The assistant text for these messages: overrides first, then the built-in answer."""
        kind = task_kind(messages)
        if kind == "classify":
            with self._lock:
                if self.classify_answers:
                    return self.classify_answers.popleft()
        if kind in self.answers:
            return self.answers[kind]
        if kind == "draft":
            return draft_answer(messages)
        if kind == "classify":
            return f"<subcategory>{first_subcategory(messages)}</subcategory>"
        if kind == "hint":
            return HINT_ANSWER
        return "ok"

    # Request handling (runs on the server's handler threads)

    def _handle(self, h: _Handler) -> None:
        raw = h.read_body()
        path = h.path.split("?", 1)[0]
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        with self._lock:
            self.requests.append(
                {
                    "path": path,
                    "method": h.command,
                    "headers": {k.lower(): v for k, v in h.headers.items()},
                    "json": body,
                }
            )

        if h.command == "GET" and path == "/v1/models":
            data = [
                {"id": m, "object": "model", "created": 0, "owned_by": "fake-openai"}
                for m in MODELS
            ]
            h.send_json(200, {"object": "list", "data": data})
            return
        if h.command != "POST" or path != "/v1/chat/completions":
            message = f"Unknown request URL: {h.command} {path}."
            h.send_json(404, openai_error(message, "invalid_request_error", "unknown_url"))
            return
        if not isinstance(body, dict):
            message = "We could not parse the JSON body of your request."
            h.send_json(400, openai_error(message, "invalid_request_error", None))
            return
        model, messages = body.get("model"), body.get("messages")
        if not isinstance(model, str) or not model:
            message = "You must provide a model parameter."
            h.send_json(400, openai_error(message, "invalid_request_error", None))
            return
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            message = "'messages' must be a list of message objects."
            h.send_json(400, openai_error(message, "invalid_request_error", None))
            return

        if model == "fake-auth":
            expected = f"Bearer {self.expected_key}"
            if h.headers.get("authorization") != expected:
                message = "Incorrect API key provided. You can find your API key in settings."
                h.send_json(401, openai_error(message, "invalid_request_error", "invalid_api_key"))
                return
        if model == "fake-fail":
            message = "The server had an error while processing your request. Sorry about that!"
            h.send_json(500, openai_error(message, "server_error", None))
            return
        if model == "fake-ratelimit":
            message = f"Rate limit reached for {model}. Please try again in 7s."
            h.send_json(
                429,
                openai_error(message, "requests", "rate_limit_exceeded"),
                {"retry-after": str(RETRY_AFTER_SECONDS)},
            )
            return

        stream = body.get("stream") is True
        if model == "fake-redirect":
            # A server (or proxy) sending the client elsewhere: the platform must not follow.
            h.send_bytes(
                307, b"", "text/plain", {"location": "http://169.254.169.254/latest/meta-data/"}
            )
            return
        if model == "fake-nostream" and stream:
            # A server that cannot stream and says so (some reject `stream_options`).
            message = "Unrecognized request argument supplied: stream_options"
            h.send_json(400, openai_error(message, "invalid_request_error", None))
            return
        if model == "fake-badjson":
            if stream:
                h.start_chunked("text/event-stream")
                h.write_chunk(f"data: {BAD_JSON_BODY}\n\n".encode())
                h.end_chunked()
            else:
                h.send_bytes(200, BAD_JSON_BODY.encode(), "application/json")
            return
        if model == "fake-html":
            # A proxy's error page: the SDK does not raise for this, it returns the text.
            h.send_bytes(200, HTML_BODY.encode(), "text/html; charset=utf-8")
            return

        answer = MALFORMED_ANSWER if model == "fake-malformed" else self.answer_for(messages)
        usage = {
            "prompt_tokens": count_words(messages),
            "completion_tokens": len(answer.split()),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        completion_id = f"chatcmpl-fake{next(self._ids)}"
        delay = self.slow_seconds if model == "fake-slow" else 0.0

        if stream:
            options = body.get("stream_options")
            include_usage = isinstance(options, dict) and options.get("include_usage") is True
            self._stream(h, completion_id, model, answer, usage if include_usage else None, delay)
            return

        if delay and self._stopping.wait(delay):
            return
        h.send_json(
            200,
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer, "refusal": None},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
                "system_fingerprint": "fp_fake",
            },
        )

    def _stream(
        self,
        h: _Handler,
        completion_id: str,
        model: str,
        answer: str,
        usage: dict[str, int] | None,
        delay: float,
    ) -> None:
        """Server-sent events, as the API streams: HTTP/1.1 chunked, one event per chunk."""
        created = int(time.time())

        def event(choices: list[dict[str, Any]], **extra: Any) -> None:
            chunk: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": choices,
            }
            if usage is not None:
                chunk["usage"] = None
            chunk.update(extra)
            h.write_chunk(f"data: {json.dumps(chunk)}\n\n".encode())

        pieces = [answer[i : i + CHUNK_CHARS] for i in range(0, len(answer), CHUNK_CHARS)] or [""]
        pause = delay / len(pieces)
        h.start_chunked("text/event-stream")
        for number, piece in enumerate(pieces):
            if pause and self._stopping.wait(pause):
                return
            delta = {"role": "assistant", "content": piece} if number == 0 else {"content": piece}
            event([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}])
        event([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}])
        if usage is not None:
            event([], usage=usage)
        h.write_chunk(b"data: [DONE]\n\n")
        h.end_chunked()


def main(argv: list[str] | None = None) -> None:
    """Serve until Ctrl+C, for trying the platform against a fake model by hand."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--slow-seconds", type=float, default=5.0)
    parser.add_argument("--expected-key", default="sk-test-key")
    args = parser.parse_args(argv)
    server = FakeOpenAI(
        slow_seconds=args.slow_seconds, expected_key=args.expected_key, port=args.port
    ).start()
    print(f"Fake OpenAI serving at {server.base_url} (models: {', '.join(MODELS)})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()

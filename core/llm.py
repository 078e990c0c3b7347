"""Calls to an OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama, LM Studio),
with the official ``openai`` client, and the per-campaign limits around them.

Nothing here knows campaigns or prompts: the caller passes an ``Endpoint`` and messages and gets
a ``Completion`` (or, streaming, text deltas and then the completion). Every failure becomes a
domain error a person can act on, without quoting what the endpoint sent back beyond its own
short error message (an endpoint is an outside server):

- ``Unavailable`` (503), ``code`` in ``details``: ``unreachable``, ``timeout``, ``endpoint_error``
  (an HTTP error status), ``auth`` (401/403), ``malformed`` (not a chat completion);
- ``Throttled`` (429): the endpoint's own rate limit (``rate_limited``), or the campaign's limit
  of calls per minute or at once (``limit`` with ``retry_after``).

Limits (``limited``) are counters in Django's cache, so they hold across the processes of one
deployment when the cache is shared (Redis in production) and per process otherwise.
"""

import ipaddress
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import openai
from django.core.cache import cache

from .errors import Throttled, Unavailable, ValidationFailed

Message = dict[str, str]
ERROR_TEXT_MAX = 200


@dataclass(frozen=True)
class Endpoint:
    """Where to send a chat completion. ``api_key`` is the key itself (read from the
    environment by the caller), never stored."""

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)  # never in a log line or debug page
    timeout: float = 60.0
    max_output_tokens: int = 1500


@dataclass
class Completion:
    text: str
    model: str
    tokens_in: int | None = None  # None: the endpoint did not report usage
    tokens_out: int | None = None
    finish_reason: str = ""
    duration_ms: int = 0
    streamed: bool = False


@dataclass
class Stream:
    """A streamed answer: iterate for text deltas; once exhausted, ``completion`` holds the
    whole text and usage."""

    deltas: Iterator[str]
    completion: Completion | None = field(default=None)
    response: Any = field(default=None, repr=False)

    def __iter__(self) -> Iterator[str]:
        return self.deltas

    def close(self) -> None:
        """Give the connection up, also when the stream was never read."""
        close = getattr(self.deltas, "close", None)
        if close is not None:
            close()
        if self.response is not None:
            self.response.close()


def normalize_base_url(url: str) -> str:
    """The API base of an endpoint URL as people paste it: trailing slashes and a trailing
    ``/chat/completions`` removed. Raises ValidationFailed for anything but http(s)."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValidationFailed(
            "The model endpoint must be an http:// or https:// URL.",
            details={"errors": {"base_url": ["enter a URL such as https://api.openai.com/v1"]}},
        )
    if parts.query or parts.fragment:
        raise ValidationFailed(
            "The model endpoint URL cannot have a query or fragment.",
            details={"errors": {"base_url": ["remove everything after ? or #"]}},
        )
    url = url.rstrip("/")
    for suffix in ("/chat/completions", "/completions"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    return url


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def forbidden_address(host: str) -> str:
    """Why the server must not call ``host`` whatever a campaign's settings say ("" when it
    may): an address that is link-local (169.254.0.0/16 holds the cloud providers' metadata
    services, with their credentials), multicast, unspecified or reserved, as the host is or
    as it resolves now. Loopback and private addresses stay allowed: local model servers
    (Ollama, vLLM) live there; ``CURATION_MODEL_ALLOWED_HOSTS`` narrows further."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return ""  # does not resolve: the call will say it is unreachable
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if (
            address.is_link_local
            or address.is_multicast
            or address.is_unspecified
            or (address.is_reserved and not address.is_private)
        ):
            return f"{host} is (or resolves to) {address}, an address the server never calls"
    return ""


def _client(endpoint: Endpoint) -> openai.OpenAI:
    # No retries here: a retry is the caller's decision (a suggestion is retried by a person,
    # a classification once by its job). The timeout bounds connecting and each wait for the
    # next bytes: a stream that keeps arriving may run longer (slow local models). Redirects
    # are not followed: the server calls only the URL a curator entered and was allowed.
    return openai.OpenAI(
        base_url=endpoint.base_url,
        # The client insists on a key; local servers (Ollama, vLLM) ignore it.
        api_key=endpoint.api_key or "no-key",
        timeout=endpoint.timeout,
        max_retries=0,
        http_client=openai.DefaultHttpxClient(follow_redirects=False, timeout=endpoint.timeout),
    )


def _short(value: Any) -> str:
    words: str = " ".join(str(value or "").split())
    return words[:ERROR_TEXT_MAX]


def _endpoint_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return _short(error.get("message"))
        if isinstance(error, str):
            return _short(error)
    return ""


def _error(exc: Exception, endpoint: Endpoint) -> Exception:
    """The domain error for an openai client exception."""
    host = host_of(endpoint.base_url)
    if isinstance(exc, openai.APITimeoutError):
        return Unavailable(
            f"The model endpoint ({host}) did not answer within {endpoint.timeout:g} s. "
            "Try again, or ask a curator to raise the timeout.",
            details={"reason": "timeout"},
        )
    if isinstance(exc, openai.APIConnectionError):
        return Unavailable(
            f"The model endpoint ({host}) could not be reached. Check that it is running; "
            "you can go on without it.",
            details={"reason": "unreachable"},
        )
    if isinstance(exc, openai.RateLimitError):
        retry = exc.response.headers.get("retry-after", "")
        retry_after = float(retry) if retry.replace(".", "", 1).isdigit() else None
        message = f"The model endpoint ({host}) is rate-limiting requests"
        detail = _endpoint_message(exc)
        return Throttled(
            f"{message}{': ' + detail if detail else ''}. Try again in a moment.",
            details={"reason": "rate_limited", "retry_after": retry_after},
        )
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return Unavailable(
            f"The model endpoint ({host}) refused the API key (HTTP {exc.status_code}). A "
            "curator should check the key's environment variable in the campaign settings.",
            details={"reason": "auth"},
        )
    if isinstance(exc, openai.APIStatusError) and 300 <= exc.status_code < 400:
        return Unavailable(
            f"The model endpoint ({host}) answered with a redirect (HTTP {exc.status_code}), "
            "which the server does not follow: a curator should enter the final URL.",
            details={"reason": "endpoint_error"},
        )
    if isinstance(exc, openai.APIStatusError):
        detail = _endpoint_message(exc)
        return Unavailable(
            f"The model endpoint ({host}) answered HTTP {exc.status_code}"
            f"{': ' + detail if detail else ''}.",
            details={"reason": "endpoint_error", "status": exc.status_code},
        )
    return Unavailable(
        f"The model endpoint ({host}) sent an answer that is not a chat completion.",
        details={"reason": "malformed"},
    )


def malformed(endpoint: Endpoint, what: str) -> Unavailable:
    """The error for an answer that arrived but is not what the prompt asked for."""
    return Unavailable(
        f"The model's answer could not be used: {what}. Try again; if it keeps happening, "
        "a curator may adjust the prompt or the model.",
        details={"reason": "malformed"},
    )


def chat(endpoint: Endpoint, messages: list[Message], *, temperature: float = 0.2) -> Completion:
    """One chat completion, not streamed. Raises Unavailable / Throttled (see the module)."""
    started = time.monotonic()
    try:
        create: Any = _client(endpoint).chat.completions.create  # messages are plain dicts
        response = create(
            model=endpoint.model,
            messages=messages,
            temperature=temperature,
            max_tokens=endpoint.max_output_tokens,
        )
        choice = response.choices[0]
        text = choice.message.content
    except openai.OpenAIError as exc:
        raise _error(exc, endpoint) from exc
    except (AttributeError, IndexError, TypeError, ValueError) as exc:
        raise _error(exc, endpoint) from exc
    if not isinstance(text, str):
        raise malformed(endpoint, "it had no text")
    usage = getattr(response, "usage", None)
    return Completion(
        text=text,
        model=getattr(response, "model", None) or endpoint.model,
        tokens_in=getattr(usage, "prompt_tokens", None),
        tokens_out=getattr(usage, "completion_tokens", None),
        finish_reason=str(choice.finish_reason or ""),
        duration_ms=round((time.monotonic() - started) * 1000),
    )


def chat_stream(endpoint: Endpoint, messages: list[Message], *, temperature: float = 0.2) -> Stream:
    """A streamed chat completion: the request is sent now (connection and status errors
    raise here), the text arrives while the returned ``Stream`` is iterated (errors mid-stream
    raise from the iteration). Usage is asked for (``stream_options``) and recorded when the
    endpoint reports it."""
    started = time.monotonic()
    try:
        create: Any = _client(endpoint).chat.completions.create
        response = create(
            model=endpoint.model,
            messages=messages,
            temperature=temperature,
            max_tokens=endpoint.max_output_tokens,
            stream=True,
            stream_options={"include_usage": True},
        )
    except openai.OpenAIError as exc:
        raise _error(exc, endpoint) from exc
    stream = Stream(deltas=iter(()), response=response)

    def deltas() -> Iterator[str]:
        parts: list[str] = []
        tokens_in = tokens_out = None
        finish = ""
        model = endpoint.model
        try:
            for chunk in response:
                model = getattr(chunk, "model", None) or model
                usage = getattr(chunk, "usage", None)
                if usage is not None:
                    tokens_in = usage.prompt_tokens
                    tokens_out = usage.completion_tokens
                for choice in chunk.choices or []:
                    piece = choice.delta.content if choice.delta else None
                    if piece:
                        parts.append(piece)
                        yield piece
                    if choice.finish_reason:
                        finish = str(choice.finish_reason)
        except openai.OpenAIError as exc:
            raise _error(exc, endpoint) from exc
        except (AttributeError, TypeError, ValueError) as exc:
            raise _error(exc, endpoint) from exc
        finally:
            response.close()
        if not parts:
            # An endpoint that answers a streamed request with something that is not an event
            # stream (an HTML page behind a proxy) gives no chunks at all.
            error = malformed(endpoint, "it was empty")
            error.details["empty_stream"] = True  # the caller may ask again without streaming
            raise error
        stream.completion = Completion(
            text="".join(parts),
            model=model,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            finish_reason=finish,
            duration_ms=round((time.monotonic() - started) * 1000),
            streamed=True,
        )

    stream.deltas = deltas()
    return stream


@contextmanager
def limited(key: str, *, per_minute: int, at_once: int, hold_seconds: float) -> Iterator[None]:
    """Admit one call under ``key``'s limits or raise Throttled: at most ``per_minute`` calls
    started in the current minute and ``at_once`` running. ``hold_seconds`` bounds how long a
    running slot is counted if its process dies (the call's timeout plus a margin)."""
    minute = int(time.time() // 60)
    window = f"llm:{key}:minute:{minute}"
    cache.add(window, 0, timeout=120)
    try:
        started = cache.incr(window)
    except ValueError:  # expired between add and incr
        cache.add(window, 1, timeout=120)
        started = 1
    if started > per_minute:
        _release(window)  # a refused call is not a call
        wait = 60 - (time.time() % 60)
        raise Throttled(
            f"This campaign's limit of {per_minute} model calls per minute is reached. Try "
            f"again in {wait:.0f} s.",
            details={"reason": "limit", "retry_after": round(wait)},
        )
    running = f"llm:{key}:running"
    hold = round(hold_seconds) + 30
    cache.add(running, 0, timeout=hold)
    try:
        now_running = cache.incr(running)
    except ValueError:
        cache.add(running, 1, timeout=hold)
        now_running = 1
    # Every start renews the counter's lifetime: it lapses only after a quiet spell (a process
    # that died holding a slot), never under steady traffic.
    cache.touch(running, timeout=hold)
    if now_running > at_once:
        _release(running)
        _release(window)
        raise Throttled(
            f"{at_once} model calls are already running for this campaign. Try again in a "
            "few seconds.",
            details={"reason": "limit", "retry_after": 5},
        )
    try:
        yield
    finally:
        _release(running)


def _release(key: str) -> None:
    try:
        if cache.decr(key) < 0:
            cache.set(key, 0)
    except ValueError:  # expired: nothing to release
        pass

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
deployment when the cache is shared (Redis in production) and per process otherwise; on top of
them, each process runs at most ``CURATION_MODEL_CALLS_PER_PROCESS`` calls for people at once, so
a slow endpoint cannot take every thread of a web server.

Addresses (``address_problem``) are checked when a URL is saved and again on every connection,
against the addresses the name resolves to at that moment (``GuardedBackend``), so a name that
changes its answer after the check (DNS rebinding) still reaches only an allowed address.

Everything an endpoint sends is outside text: ``clean`` drops what PostgreSQL cannot store (NUL,
lone surrogates) before any of it reaches a model or a page.
"""

import ipaddress
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpcore2
import httpx2
import openai
from django.conf import settings
from django.core.cache import cache

from .errors import Throttled, Unavailable, ValidationFailed

Message = dict[str, str]
ERROR_TEXT_MAX = 200
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Cloud metadata services outside 169.254.0.0/16 (which is link-local and refused as such):
# Alibaba Cloud's, and AWS's on IPv6.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("100.100.100.200", "fd00:ec2::254")
)


def clean(text: str) -> str:
    """Outside text as PostgreSQL stores it: NUL and lone UTF-16 surrogates (which no column and
    no encoding can hold) become U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", text) if text else text


@dataclass(frozen=True)
class Endpoint:
    """Where to send a chat completion. ``api_key`` is the key itself (read from the
    environment by the caller), never stored."""

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)  # never in a log line or debug page
    timeout: float = 60.0
    max_output_tokens: int = 1500
    # Loopback and private addresses may be called (an operator listed the host, or the
    # deployment allows them); otherwise only public ones.
    allow_private: bool = False


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
    client: Any = field(default=None, repr=False)

    def __iter__(self) -> Iterator[str]:
        return self.deltas

    def close(self) -> None:
        """Give the connection up, also when the stream was never read."""
        close = getattr(self.deltas, "close", None)
        if close is not None:
            close()
        if self.response is not None:
            self.response.close()
        if self.client is not None:
            self.client.close()


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
    if parts.username is not None or parts.password is not None:
        # The URL is stored and shown back: a key in it would be a key in clear.
        raise ValidationFailed(
            "The model endpoint URL cannot hold a user name or key.",
            details={
                "errors": {
                    "base_url": [
                        "remove the part before @; put the key in an environment variable and "
                        "name it in the key setting"
                    ]
                }
            },
        )
    url = url.rstrip("/")
    for suffix in ("/chat/completions", "/completions"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    return url


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine by its name or address (not by what it resolves to)."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return bool(_plain(ipaddress.ip_address(host)).is_loopback)
    except ValueError:
        return False


def _plain(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> Any:
    """The IPv4 address an IPv6 one stands for (``::ffff:a.b.c.d``, 6to4), else itself: the
    checks must see the address a connection really reaches."""
    if isinstance(address, ipaddress.IPv6Address):
        return address.ipv4_mapped or address.sixtofour or address
    return address


def address_problem(address: str, *, allow_private: bool) -> str:
    """Why the server must not connect to ``address`` ("" when it may).

    Never, whatever the settings: link-local (169.254.0.0/16 and fe80::/10 hold the cloud
    providers' metadata services, with their credentials), the other metadata addresses,
    multicast, unspecified and reserved addresses. Loopback, private and shared (carrier-grade
    NAT) addresses only when ``allow_private``: local model servers (Ollama, vLLM) live there,
    and so do the deployment's own services."""
    ip = _plain(ipaddress.ip_address(address.split("%", 1)[0]))
    if (
        ip.is_link_local
        or ip.is_multicast
        or ip.is_unspecified
        or (ip.is_reserved and not ip.is_loopback)  # ::/8 is reserved and holds ::1
        or ip in METADATA_ADDRESSES
    ):
        return f"{ip}, an address the server never calls"
    if not allow_private and not ip.is_global:  # loopback, private, shared (100.64/10), ...
        return (
            f"{ip}, a loopback or private address, which the server calls only for hosts in "
            "CURATION_MODEL_ALLOWED_HOSTS"
        )
    return ""


def _addresses(host: str, port: int | None = None) -> list[str]:
    """The addresses ``host`` resolves to now, each once. Raises OSError / UnicodeError."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _first_problem(addresses: list[str], *, allow_private: bool) -> str:
    return next(
        (p for a in addresses if (p := address_problem(a, allow_private=allow_private))), ""
    )


def forbidden_address(host: str, *, allow_private: bool) -> str:
    """Why the server must not call ``host`` ("" when it may), as the host is or resolves now
    (``address_problem``; every connection checks again, ``GuardedBackend``)."""
    try:
        problem = _first_problem(_addresses(host), allow_private=allow_private)
    except (OSError, UnicodeError):
        return ""  # does not resolve: the call will say it is unreachable
    return f"{host} is (or resolves to) {problem}" if problem else ""


class GuardedBackend(httpcore2.SyncBackend):
    """Connects only to addresses ``address_problem`` allows: the name is resolved here, every
    address it gives is checked, and the connection goes to a checked address (TLS still
    verifies the certificate against the name)."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private

    def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        try:
            addresses = _addresses(host, port)
        except (OSError, UnicodeError) as exc:
            raise httpcore2.ConnectError(str(exc)) from exc
        problem = _first_problem(addresses, allow_private=self.allow_private)
        if problem:
            raise httpcore2.ConnectError(f"{host} resolves to {problem}")
        error: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, *args, **kwargs)
            except httpcore2.ConnectError as exc:  # try the next address of the name
                error = exc
        raise error or httpcore2.ConnectError(f"{host} has no address")


def _client(endpoint: Endpoint) -> openai.OpenAI:
    # No retries here: a retry is the caller's decision (a suggestion is retried by a person,
    # a classification once by its job). The timeout bounds connecting and each wait for the
    # next bytes: a stream that keeps arriving may run longer (slow local models). Redirects
    # are not followed: the server calls only the URL a curator entered and was allowed.
    http_client = openai.DefaultHttpxClient(follow_redirects=False, timeout=endpoint.timeout)
    # Every direct connection checks the addresses the name resolves to at that moment. (Through
    # a proxy of the environment, HTTPS_PROXY and friends, the proxy connects and resolves.)
    # httpx has no public way to give its default transport a network backend, hence the
    # private attributes; tests/test_assist_boundaries.py fails if they ever change.
    transport = http_client._transport_for_url(httpx2.URL(endpoint.base_url))
    pool = getattr(transport, "_pool", None)
    if type(pool) is httpcore2.ConnectionPool:
        pool._network_backend = GuardedBackend(allow_private=endpoint.allow_private)
    return openai.OpenAI(
        base_url=endpoint.base_url,
        # The client insists on a key; local servers (Ollama, vLLM) ignore it.
        api_key=endpoint.api_key or "no-key",
        timeout=endpoint.timeout,
        max_retries=0,
        http_client=http_client,
    )


def _short(value: Any) -> str:
    words: str = " ".join(clean(str(value or "")).split())
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
            f"The model endpoint ({host}) did not answer within {endpoint.timeout:g} s. Try "
            "again; a curator can raise the timeout in the campaign's model settings.",
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
        # The endpoint's own message is not quoted: it says the same in its own words ("Please
        # try again in 7s."), and one message is easier to read than two.
        when = f"in {retry_after:g} s" if retry_after is not None else "in a moment"
        return Throttled(
            f"The model endpoint ({host}) is rate-limiting requests. Try again {when}.",
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
        said = f": {detail}" if detail else ""
        return Unavailable(
            f"The model endpoint ({host}) answered HTTP {exc.status_code}{said}"
            + ("" if said.endswith((".", "!", "?")) else "."),
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
    # The client (and its connection) is closed when the call ends: kept alive, it would hold a
    # socket, and a thread of the endpoint's server, until the garbage collector came by.
    with _client(endpoint) as client:
        try:
            create: Any = client.chat.completions.create  # messages are plain dicts
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
        text=clean(text),
        model=clean(str(getattr(response, "model", None) or endpoint.model)),
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
    client = _client(endpoint)
    try:
        create: Any = client.chat.completions.create
        response = create(
            model=endpoint.model,
            messages=messages,
            temperature=temperature,
            max_tokens=endpoint.max_output_tokens,
            stream=True,
            stream_options={"include_usage": True},
        )
    except openai.OpenAIError as exc:
        client.close()
        raise _error(exc, endpoint) from exc
    stream = Stream(deltas=iter(()), response=response, client=client)

    def deltas() -> Iterator[str]:
        parts: list[str] = []
        tokens_in = tokens_out = None
        finish = ""
        model = endpoint.model
        try:
            for chunk in response:
                model = clean(str(getattr(chunk, "model", None) or model))
                usage = getattr(chunk, "usage", None)
                if usage is not None:
                    tokens_in = usage.prompt_tokens
                    tokens_out = usage.completion_tokens
                for choice in chunk.choices or []:
                    piece = clean(choice.delta.content or "") if choice.delta else ""
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
            client.close()
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


_process_slots: dict[int, threading.BoundedSemaphore] = {}
_process_slots_lock = threading.Lock()


def _process_semaphore() -> threading.BoundedSemaphore:
    size = max(1, int(settings.CURATION_MODEL_CALLS_PER_PROCESS))
    with _process_slots_lock:
        if size not in _process_slots:
            _process_slots[size] = threading.BoundedSemaphore(size)
        return _process_slots[size]


@contextmanager
def limited(
    key: str, *, per_minute: int, at_once: int, hold_seconds: float, interactive: bool = True
) -> Iterator[Callable[[], None]]:
    """Admit one call under ``key``'s limits or raise Throttled: at most ``per_minute`` calls
    started in the current minute and ``at_once`` running. ``hold_seconds`` bounds how long a
    running call's slot is kept if its process dies (the call's timeout plus a margin): each
    slot is its own cache entry that expires on its own, so a dead process frees its slot
    after that time whatever other callers do.

    An ``interactive`` call (a person waits for it in a web request) also needs one of this
    process's ``CURATION_MODEL_CALLS_PER_PROCESS`` slots, taken without waiting: a slow
    endpoint then holds at most that many of a web server's threads, and every other page
    keeps its threads.

    Yields ``renew``: a call that runs longer than ``hold_seconds`` (a stream that keeps
    arriving) calls it now and then so that its slot is not taken as a dead process's."""
    process_slot = _process_semaphore() if interactive else None
    if process_slot is not None and not process_slot.acquire(blocking=False):
        raise Throttled(
            "This server is already waiting on as many model answers as it allows at once. "
            "Try again in a few seconds.",
            details={"reason": "busy", "retry_after": 5},
        )
    try:
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
        hold = round(hold_seconds) + 30
        slot = next(
            (
                name
                for i in range(at_once)
                # add() is atomic (SET NX on Redis): one caller per slot.
                if cache.add(name := f"llm:{key}:slot:{i}", 1, timeout=hold)
            ),
            None,
        )
        if slot is None:
            _release(window)
            raise Throttled(
                f"{at_once} model calls are already running for this campaign. Try again in a "
                "few seconds.",
                details={"reason": "limit", "retry_after": 5},
            )

        def renew() -> None:
            cache.touch(slot, timeout=hold)

        try:
            yield renew
        finally:
            cache.delete(slot)
    finally:
        if process_slot is not None:
            process_slot.release()


def _release(key: str) -> None:
    try:
        if cache.decr(key) < 0:
            cache.set(key, 0)
    except ValueError:  # expired: nothing to release
        pass

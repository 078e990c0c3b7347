"""Structured logs: what every log line carries, the two formats and the request line.

Every record logged while a request or a Celery task runs carries its context: ``request_id``
(taken from a well-formed ``X-Request-ID`` header, else generated, and sent back in the
response), ``user_id``, ``campaign`` (once the access check or the URL named one) and, in a
task, ``task_id`` and ``task``. ``RequestLogMiddleware`` writes one line per request with the
method, path (never the query string: search terms may be seed text), status and duration.

Formats: ``JSONFormatter`` (one JSON object per line, production's default) and
``TextFormatter`` (readable, local default); settings.LOGGING picks one with
CURATION_LOG_FORMAT. What is logged is ids, kinds, states and counts: never a password, token,
secret, email body or seed / rewrite text."""

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty
from pythonjsonlogger.json import JsonFormatter

CONTEXT_FIELDS = ("request_id", "user_id", "campaign", "task_id", "task")
_context: ContextVar[dict[str, Any] | None] = ContextVar("curation_log_context", default=None)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

request_logger = logging.getLogger("curation.request")


def context() -> dict[str, Any]:
    """The context fields bound now (a copy)."""
    return dict(_context.get() or {})


def bind(**fields: Any) -> None:
    """Add fields to the context of the current request or task (e.g. ``campaign``). Outside
    one (a command, a test calling a service) nothing is bound: there is no end at which the
    fields would be dropped again."""
    now = _context.get()
    if now is not None:
        _context.set({**now, **{k: v for k, v in fields.items() if v is not None}})


def enter(**fields: Any) -> Token[dict[str, Any] | None]:
    """Open a context holding the current fields plus ``fields`` (a task run eagerly inside a
    request keeps the request's id); ``leave(token)`` closes it. For code that cannot wrap a
    block in ``bound`` (Celery's prerun / postrun signals)."""
    return _context.set({**context(), **{k: v for k, v in fields.items() if v is not None}})


def leave(token: Token[dict[str, Any] | None]) -> None:
    """Restore the context ``enter`` replaced."""
    _context.reset(token)


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """A fresh context holding ``fields`` for the duration of the block (a request, a task)."""
    token = _context.set({k: v for k, v in fields.items() if v is not None})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Copies the bound context onto every record (missing fields are None)."""

    def filter(self, record: logging.LogRecord) -> bool:
        bound_now = _context.get() or {}
        for name in CONTEXT_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, bound_now.get(name))
        return True


class JSONFormatter(JsonFormatter):
    """One JSON object per line: time, level, logger, message, the context fields and any
    ``extra`` fields of the call."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", "%(asctime)s %(levelname)s %(name)s %(message)s")
        kwargs.setdefault(
            "rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"}
        )
        super().__init__(*args, **kwargs)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        # ISO 8601 in UTC with milliseconds: lines of one second stay in order.
        return datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        # Context fields that are not set are left out rather than written as null.
        return {k: v for k, v in log_data.items() if v is not None or k not in CONTEXT_FIELDS}


class TextFormatter(logging.Formatter):
    """``time level logger message key=value ...`` for people reading a terminal."""

    _standard = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {
            k: v
            for k, v in vars(record).items()
            if k not in self._standard and v is not None and not k.startswith("_")
        }
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in sorted(extras.items()))
        return line


def error_summary(exc: BaseException, limit: int = 200) -> str:
    """``Type: first line of the message`` cut to ``limit`` characters: enough to tell failures
    apart, too little to carry an input. A database error keeps the row values it quotes on its
    ``DETAIL`` line, the second one, which is dropped."""
    lines = str(exc).strip().splitlines()
    first = lines[0] if lines else ""
    text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def request_id_for(request: HttpRequest) -> str:
    """The caller's X-Request-ID when it is a sane token (a proxy's or a client's id ties its
    logs to ours), else a new one."""
    given = request.headers.get("X-Request-ID", "")
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex


def _user_id(request: HttpRequest) -> Any:
    """The id of the request's user if authentication ran, without running it now: reading a
    user the view never asked for would cost a session query on every anonymous request. DRF
    sets the token's user on the Django request (``Request.user``'s setter), so API requests
    are covered as well as session ones."""
    user = request.__dict__.get("user")
    if user is None:
        return None
    if isinstance(user, SimpleLazyObject) and user._wrapped is empty:  # type: ignore[attr-defined]
        return None
    return user.pk if user.is_authenticated else None


class RequestLogMiddleware:
    """Binds the request's context and logs one line when the response is ready: INFO, WARNING
    for a 4xx, ERROR for a 5xx; static files at DEBUG (they would drown everything else)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        static_url = urlsplit(str(settings.STATIC_URL or "")).path
        self.static_prefix = static_url if static_url.startswith("/") and static_url != "/" else ""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_for(request)
        started = time.perf_counter()
        with bound(request_id=request_id):
            response = self.get_response(request)
            bind(user_id=_user_id(request))
            match = getattr(request, "resolver_match", None)
            if match is not None and "slug" in match.kwargs and "campaign" not in context():
                bind(campaign=match.kwargs["slug"])
            response["X-Request-ID"] = request_id
            status = response.status_code
            if self.static_prefix and request.path.startswith(self.static_prefix):
                level = logging.DEBUG
            elif status >= 500:
                level = logging.ERROR
            elif status >= 400:
                level = logging.WARNING
            else:
                level = logging.INFO
            # The path only: a query string may hold search text or a token.
            request_logger.log(
                level,
                "%s %s %s",
                request.method,
                request.path,
                status,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
        return response

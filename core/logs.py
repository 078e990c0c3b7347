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
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest, HttpResponse
from pythonjsonlogger.json import JsonFormatter

CONTEXT_FIELDS = ("request_id", "user_id", "campaign", "task_id", "task")
_context: ContextVar[dict[str, Any] | None] = ContextVar("curation_log_context", default=None)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

request_logger = logging.getLogger("curation.request")


def context() -> dict[str, Any]:
    """The context fields bound now (a copy)."""
    return dict(_context.get() or {})


def bind(**fields: Any) -> None:
    """Add fields to the context of the current request or task (e.g. ``campaign``)."""
    _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}})


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
        kwargs.setdefault("datefmt", "%Y-%m-%dT%H:%M:%S%z")
        super().__init__(*args, **kwargs)

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


def request_id_for(request: HttpRequest) -> str:
    """The caller's X-Request-ID when it is a sane token (a proxy's or a client's id ties its
    logs to ours), else a new one."""
    given = request.headers.get("X-Request-ID", "")
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex


class RequestLogMiddleware:
    """Binds the request's context and logs one line when the response is ready."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_for(request)
        started = time.perf_counter()
        with bound(request_id=request_id):
            response = self.get_response(request)
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                bind(user_id=user.pk)
            match = getattr(request, "resolver_match", None)
            if match is not None and "slug" in match.kwargs:
                bind(campaign=match.kwargs["slug"])
            response["X-Request-ID"] = request_id
            status = response.status_code
            level = (
                logging.ERROR
                if status >= 500
                else logging.WARNING
                if status >= 400
                else logging.INFO
            )
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

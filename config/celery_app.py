"""The Celery application, and the log lines of every task.

Without ``CELERY_BROKER_URL`` the settings make tasks run eagerly in-process (the embedded
default); with it, tasks go to the broker (Redis) and a worker runs them.

Each task runs with ``task_id`` and ``task`` in its log context (``core.logs``), so everything
it logs (the transitions its service makes, say) names it, and logs on ``curation.tasks``:
``task started``, ``task ended`` (state and duration), ``task retry`` (the reason's exception
class) and ``task failed`` (the exception's class, the first line of its message cut short,
and the file, line and function of its last frames: never its arguments or a value from the
traceback; Sentry, when configured, gets the whole report). The worker and beat keep Django's
LOGGING (JSON lines in production) instead of installing Celery's handlers on the root logger.
"""

import logging
import os
import time
import traceback
from contextvars import Token
from pathlib import Path
from typing import Any

from celery import Celery, signals

from core import logs

# A worker is a production process, like the WSGI app: production settings unless told
# otherwise (a local worker beside runserver sets DJANGO_SETTINGS_MODULE=config.settings.local).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("codearena", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

task_logger = logging.getLogger("curation.tasks")

# task id -> (the context token to restore, when it started). prerun and postrun run in the same
# thread and context, for a worker's task and for an eager one alike.
_running: dict[str, tuple[Token[dict[str, Any] | None], float]] = {}


@signals.setup_logging.connect
def use_django_logging(**_: Any) -> None:
    """With a receiver here Celery leaves the root logger alone (no hijack): the worker and beat
    log through settings.LOGGING, the same handlers and format as the web process."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@signals.task_prerun.connect
def task_started(task_id: str, task: Any, **_: Any) -> None:
    # An eager task keeps the request's context (its request id) and adds its own ids.
    token = logs.enter(task_id=task_id, task=task.name)
    _running[task_id] = (token, time.perf_counter())
    task_logger.info("task started %s", task.name, extra={"retries": task.request.retries})


@signals.task_postrun.connect
def task_ended(task_id: str, task: Any, state: str | None = None, **_: Any) -> None:
    token, started = _running.pop(task_id, (None, None))
    # No state: an eager task's error went straight to its caller (task_eager_propagates), which
    # logs it; no failure signal was sent.
    state = state or "FAILURE"
    duration_ms = None if started is None else round((time.perf_counter() - started) * 1000, 1)
    task_logger.info(
        "task ended %s %s",
        task.name,
        state,
        extra={"state": state, "duration_ms": duration_ms, "task_id": task_id, "task": task.name},
    )
    if token is not None:
        logs.leave(token)


@signals.task_retry.connect
def task_retried(sender: Any = None, request: Any = None, reason: Any = None, **_: Any) -> None:
    # ``reason`` is Celery's Retry; what made the task retry is its ``exc``.
    reason = getattr(reason, "exc", None) or reason
    cause = type(reason).__name__ if isinstance(reason, BaseException) else "retry"
    task_logger.warning(
        "task retry %s (%s)",
        getattr(sender, "name", None),
        cause,
        extra={"error": cause, "retries": getattr(request, "retries", None)},
    )


@signals.task_failure.connect
def task_failed(
    sender: Any = None, task_id: str | None = None, exception: Any = None, **_: Any
) -> None:
    # Also sent by the worker's main process for a task it killed (a hard time limit): no
    # prerun ran there, so the ids are given here.
    name = getattr(sender, "name", None)
    summary, frames = "", []
    if isinstance(exception, BaseException):
        summary = logs.error_summary(exception)
        # Where it failed, without any value: "folder/file.py:line function", innermost last.
        frames = [
            f"{'/'.join(Path(frame.filename).parts[-2:])}:{frame.lineno} {frame.name}"
            for frame in traceback.extract_tb(exception.__traceback__)[-8:]
        ]
    task_logger.error(
        "task failed %s: %s",
        name,
        summary,
        extra={
            "error": type(exception).__name__,
            "error_message": summary,
            "frames": frames,
            "task_id": task_id,
            "task": name,
        },
    )

"""The one way a write starts a background job: ``enqueue_on_commit(task, *args)``.

The job is sent once the transaction commits, so a worker never looks for a row that is not
there yet. If the broker cannot take it (Redis down or unreachable: kombu gives up after about
two seconds, see ``CELERY_BROKER_*`` in the settings), the committed write stands: the error is
logged, ``on_failure`` (if given) records it on the job's row, and the request still succeeds.
Every job a write starts has a sweep (a beat task) that finds it pending and enqueues it again,
so a broker outage delays jobs and never loses them or turns a committed write into a 500.

In eager mode (no broker: tests, the embedded default) the task runs in-process and its errors
propagate as before: they are bugs, not outages.
"""

import logging
import socket
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

from django.db import transaction
from kombu.exceptions import KombuError

logger = logging.getLogger(__name__)

# What a failed publish raises: kombu wraps connection errors in OperationalError (a
# KombuError); redis-py and socket errors can surface unwrapped from a half-open connection.
BROKER_ERRORS: tuple[type[BaseException], ...] = (KombuError, OSError, socket.timeout)
try:  # redis-py is installed with the Redis transport; its errors are not OSErrors
    import redis.exceptions

    BROKER_ERRORS += (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
except ImportError:  # pragma: no cover - a deployment without Redis
    pass


class Task(Protocol):
    name: str

    def apply_async(self, args: tuple[Any, ...] | None = ..., **options: Any) -> Any: ...


def enqueue(task: Task, *args: Any, on_failure: Callable[[Exception], None] | None = None) -> bool:
    """Send ``task(*args)`` to the broker now. True if sent; False (logged, ``on_failure``
    called) if the broker could not take it."""
    from celery import current_app

    if current_app.conf.task_always_eager:
        task.apply_async(args)
        return True
    try:
        task.apply_async(args)
    except BROKER_ERRORS as exc:
        assert isinstance(exc, Exception)
        logger.warning(
            "could not enqueue %s%r (%s: %s); its sweep will enqueue it again",
            task.name,
            args,
            type(exc).__name__,
            exc,
        )
        if on_failure is not None:
            try:
                on_failure(exc)
            except Exception:  # recording the failure must not fail the request either
                logger.exception("could not record the enqueue failure of %s%r", task.name, args)
        return False
    return True


def enqueue_on_commit(
    task: Task, *args: Any, on_failure: Callable[[Exception], None] | None = None
) -> None:
    """``enqueue(task, *args)`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(partial(enqueue, task, *args, on_failure=on_failure))


def broker_error_text(exc: Exception) -> str:
    """A short, single-line description of a broker error for a job's message."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:150]

"""A database that went away (a PostgreSQL restart) gives a 503 with Retry-After, JSON on the
API and a plain page elsewhere; any other unexpected error stays a 500 in the same shape."""

from collections.abc import Callable
from typing import Any

from django.db import OperationalError, connection
from django.test import Client


def failing(exc: Exception) -> Callable[..., Any]:
    """A query wrapper that fails every query the way a dropped connection does."""

    def wrapper(execute, sql, params, many, context):
        raise exc

    return wrapper


def logged_in(user: Any) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def test_the_api_answers_503_json_with_retry_after_when_the_database_is_down(world):
    client = logged_in(world.annotators[0])
    with connection.execute_wrapper(failing(OperationalError("server closed the connection"))):
        res = client.get("/api/v1/campaigns/camp/assignments/")
    assert res.status_code == 503
    assert res["Retry-After"] == "5"
    assert res.json() == {
        "detail": "The database is unavailable for a moment; try again in a few seconds.",
        "code": "unavailable",
    }


def test_a_page_answers_a_plain_503_when_the_database_is_down(world):
    client = logged_in(world.annotators[0])
    with connection.execute_wrapper(failing(OperationalError("server closed the connection"))):
        res = client.get("/campaigns/camp/queue/")
    assert res.status_code == 503 and res["Retry-After"] == "5"
    assert b"database is unavailable" in res.content


def test_any_other_error_is_a_500_without_retry_after(world):
    client = logged_in(world.annotators[0])
    with connection.execute_wrapper(failing(RuntimeError("a bug"))):
        res = client.get("/api/v1/campaigns/camp/assignments/")
    assert res.status_code == 500 and "Retry-After" not in res
    assert res.json()["code"] == "server_error"

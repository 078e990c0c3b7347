"""The API's JSON parser: what a request body may hold before any view sees it.

DRF's own parser hands the view whatever ``json.loads`` returns. This one refuses, with a 400
that names the problem (and, for a value, its place in the body as ``a.b.0``):

- a body larger than ``API_MAX_BODY_BYTES`` (default: Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``);
- JSON nested deeper than ``API_MAX_JSON_DEPTH`` (default 64) levels, however deep (Python's own
  parser would raise RecursionError, a 500, past about a thousand);
- integers beyond 64 bits (and so the 4,300-digit conversion limit), floats that overflow to
  infinity, and the non-JSON constants NaN and Infinity;
- strings (values or keys) holding a NUL character, which PostgreSQL cannot store, or a lone
  UTF-16 surrogate, which is no character at all and cannot be encoded back into a response.

Error messages never repeat the offending input: they name the place (in DRF's shape: ``{"reasons":
{"1": [...]}}``) and the rule."""

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.parsers import BaseParser

DEFAULT_MAX_DEPTH = 64
INT_LIMIT = 2**63
# Longer digit strings are refused before ``int()`` reads them (at most 20 digits fit 64 bits).
MAX_INT_DIGITS = 20
BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")


class _TooLong:
    """Stands for an integer literal too long to convert; the walk reports where it was."""


_TOO_LONG = _TooLong()


def max_body_bytes() -> int:
    configured = getattr(settings, "API_MAX_BODY_BYTES", None)
    if configured is not None:
        return int(configured)
    return int(getattr(settings, "DATA_UPLOAD_MAX_MEMORY_SIZE", None) or 2_621_440)


def max_depth() -> int:
    return int(getattr(settings, "API_MAX_JSON_DEPTH", DEFAULT_MAX_DEPTH))


def _parse_int(digits: str) -> int | _TooLong:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        return _TOO_LONG
    return int(digits)


def _parse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def string_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored or sent back (None when it can)."""
    found = BAD_CHARACTER.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character (\\u0000)"
    return "contains a lone UTF-16 surrogate (not a character)"


def _add(tree: dict[str, Any], path: list[str], message: str) -> None:
    """Put ``message`` at ``path`` in DRF's error shape (a list's items by index, nested
    objects by field; problems of the body itself under ``non_field_errors``)."""
    keys = path or ["non_field_errors"]
    node = tree
    for key in keys[:-1]:
        child = node.get(key)
        if isinstance(child, list):
            child = node[key] = {"non_field_errors": child}
        elif child is None:
            child = node[key] = {}
        node = child
    leaf = node.get(keys[-1])
    if isinstance(leaf, dict):
        leaf.setdefault("non_field_errors", []).append(message)
    else:
        node.setdefault(keys[-1], []).append(message)


def check_value(data: Any, *, depth_limit: int) -> dict[str, Any]:
    """Every problem of a decoded JSON value, as DRF shapes validation errors; walks
    iteratively (no recursion)."""
    problems: dict[str, Any] = {}
    stack: list[tuple[Any, list[str], int]] = [(data, [], 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict | list) and depth > depth_limit:
            _add(problems, path, f"nested deeper than {depth_limit} levels")
            continue
        if isinstance(value, dict):
            for key, item in value.items():
                key_problem = string_problem(key)
                if key_problem:
                    _add(problems, path, f"a key {key_problem}")
                    continue
                stack.append((item, [*path, key], depth + 1))
        elif isinstance(value, list):
            stack.extend((item, [*path, str(i)], depth + 1) for i, item in enumerate(value))
        elif isinstance(value, str):
            problem = string_problem(value)
            if problem:
                _add(problems, path, problem)
        elif value is _TOO_LONG or (
            isinstance(value, int) and not isinstance(value, bool) and abs(value) >= INT_LIMIT
        ):
            _add(problems, path, "a number too large (64 bits at most)")
        elif isinstance(value, float) and not math.isfinite(value):
            _add(problems, path, "a number too large")
    return problems


class BodyTooLarge(exceptions.ParseError):
    default_code = "body_too_large"


class StrictJSONParser(BaseParser):
    """``application/json`` with the limits above; malformed JSON is a 400 too (``parse_error``)."""

    media_type = "application/json"

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit = max_body_bytes()
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise BodyTooLarge(f"The request body is larger than {limit:,} bytes.")
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise exceptions.ParseError(f"The request body is not valid {encoding}.") from exc
        try:
            data = json.loads(text, parse_int=_parse_int, parse_constant=_parse_constant)
        except RecursionError as exc:
            raise exceptions.ParseError(
                f"The JSON is nested deeper than {max_depth()} levels."
            ) from exc
        except ValueError as exc:
            # json.JSONDecodeError names the line and column, never the input itself.
            where = (
                f": {exc.msg} (line {exc.lineno}, column {exc.colno})"
                if isinstance(exc, json.JSONDecodeError)
                else ""
            )
            raise exceptions.ParseError(f"The request body is not valid JSON{where}.") from exc
        problems = check_value(data, depth_limit=max_depth())
        if problems:
            raise exceptions.ValidationError(problems)
        return data

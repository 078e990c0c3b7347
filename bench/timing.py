"""Shared by the benchmarks (import after django.setup()): time one step and count its SQL."""

import time
from typing import Any

from django.db import connection


def timed(results: dict, name: str, fn, *, count: int = 1) -> Any:
    """Run ``fn`` once, record seconds, per-item milliseconds and SQL queries under ``name``."""
    queries = 0

    def count_query(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    started = time.perf_counter()
    with connection.execute_wrapper(count_query):
        value = fn()
    elapsed = time.perf_counter() - started
    results[name] = {
        "seconds": round(elapsed, 4),
        "count": count,
        "per_item_ms": round(1000 * elapsed / count, 3),
        "queries": queries,
    }
    print(f"{name:<28} {elapsed:8.3f}s  {count:>6} items  {queries:>7} queries")
    return value

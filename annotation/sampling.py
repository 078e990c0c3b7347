"""Pure sampling policy: how many seeds each subcategory contributes to a sample."""

from collections.abc import Mapping
from typing import TypeVar

K = TypeVar("K", int, str)


def sampling_quotas(
    available: Mapping[K, int], size: int, minimum: Mapping[K, int] | None = None
) -> dict[K, int]:
    """Split ``size`` over the strata of ``available`` (stratum -> seeds it has) as equally as
    possible. A stratum with too few seeds gives all it has and its shortfall is spread over the
    others; when the split leaves a remainder, strata with the most seeds left get one more
    (ties broken by key order), so the result is deterministic. Never gives a stratum more than
    it has; the total is ``min(size, sum(available))``.

    ``minimum`` holds what each stratum must keep at least (seeds already sampled when a sample
    is topped up); the others are levelled up to them first.

    Raises ValueError for a negative size or a minimum whose total exceeds ``size``."""
    if size < 0:
        raise ValueError("size must not be negative")
    have = {k: max(n, 0) for k, n in available.items()}
    floor = {k: min(max((minimum or {}).get(k, 0), 0), have[k]) for k in have}
    target = min(size, sum(have.values()))
    if sum(floor.values()) > target:
        raise ValueError("the minimum quotas exceed the size")

    def at_level(level: int) -> dict[K, int]:
        return {k: min(max(level, floor[k]), have[k]) for k in have}

    # The highest common level that fits, found by bisection; then the remainder, one each.
    low, high = 0, max(have.values(), default=0)
    while low < high:
        mid = (low + high + 1) // 2
        if sum(at_level(mid).values()) <= target:
            low = mid
        else:
            high = mid - 1
    quotas = at_level(low)
    remainder = target - sum(quotas.values())
    growable = [k for k in have if quotas[k] == low and quotas[k] < have[k]]
    growable.sort(key=lambda k: (-(have[k] - quotas[k]), k))
    for key in growable[:remainder]:
        quotas[key] += 1
    return quotas

"""Pure sampling policy: how many seeds each subcategory contributes to a sample."""

from collections.abc import Mapping
from typing import TypeVar

K = TypeVar("K", int, str)


def sampling_quotas(available: Mapping[K, int], size: int) -> dict[K, int]:
    """Split ``size`` over the strata of ``available`` (stratum -> seeds it has) as equally as
    possible. A stratum with too few seeds gives all it has and its shortfall is spread over the
    others; when the split leaves a remainder, strata with the most seeds left get one more
    (ties broken by key order), so the result is deterministic. Never gives a stratum more than
    it has; the total is ``min(size, sum(available))``.

    Raises ValueError for a negative size."""
    if size < 0:
        raise ValueError("size must not be negative")
    quotas = {key: 0 for key in available}
    remaining = min(size, sum(max(n, 0) for n in available.values()))
    open_keys = sorted(k for k, n in available.items() if n > 0)
    while remaining > 0 and open_keys:
        share = remaining // len(open_keys)
        if share == 0:
            by_room = sorted(open_keys, key=lambda k: (-(available[k] - quotas[k]), k))
            for key in by_room[:remaining]:
                quotas[key] += 1
            break
        for key in open_keys:
            give = min(share, available[key] - quotas[key])
            quotas[key] += give
            remaining -= give
        open_keys = [k for k in open_keys if quotas[k] < available[k]]
    return quotas

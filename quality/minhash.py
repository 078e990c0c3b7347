"""MinHash signatures of word 3-gram sets and their LSH bands, for near-duplicate candidates.

A signature is NUM_PERM MinHash values: each 3-gram (its words joined by spaces, UTF-8) is
hashed to 64 bits with BLAKE2b, and permutation ``i`` is ``splitmix64(h ^ seed_i) >> 32`` with
NUM_PERM fixed seeds; the signature keeps the minimum of each over the 3-grams. Everything is
fixed (no per-process salt), so signatures are stored (``RewriteSignature``) and compared
across processes; a batch of texts is signed with a few numpy operations. For two sets of
Jaccard similarity ``s`` each value agrees with probability ``s`` (plus 2**-32).

LSH cuts the signature into ``b`` bands of ``r`` values; a band's key is a 64-bit hash of
(campaign, r, band number, its r values) (``RewriteBand``). Two rewrites are candidates when they
share a key, i.e. agree on a whole band, which happens with probability

    P(s) = 1 - (1 - s**r) ** b

``lsh_bands(threshold)`` takes the largest ``r`` (fewest candidates below the threshold) whose
``b = NUM_PERM // r`` bands still find a pair *at* the threshold with probability at least
RECALL (pairs above it are found more often still). For the default duplicate threshold 0.7:
r = 4, b = 32, P(0.7) = 0.99985, P(0.8) = 0.9999999, while P(0.3) = 0.23, P(0.2) = 0.05 and
P(0.1) = 0.003 are the share of dissimilar pairs proposed (and then rejected by the exact
Jaccard). Every candidate is confirmed with its exact Jaccard similarity, so flags and scores
are those of the exact method; LSH can only miss a pair, with the probability above.
"""

from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from hashlib import blake2b

import numpy as np

NUM_PERM = 128
RECALL = 0.999
MAX_ROWS = 8
_BATCH_GRAMS = 16_384  # 3-grams signed at once: 16 MB of intermediate values


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, elementwise (wrapping uint64 arithmetic)."""
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


# The NUM_PERM permutation seeds (RandomState's stream is frozen by numpy, so they never change).
_PERMUTATIONS = (
    np.random.RandomState(18).randint(0, 2**62, size=NUM_PERM, dtype=np.int64).astype(np.uint64)
)


def lsh_recall(similarity: float, bands: int, rows: int) -> float:
    """The probability that two sets of Jaccard ``similarity`` share at least one band."""
    return float(1 - (1 - similarity**rows) ** bands)


def lsh_bands(threshold: float) -> tuple[int, int]:
    """(bands, rows per band) for a duplicate threshold (see the module docstring)."""
    for rows in range(MAX_ROWS, 0, -1):
        bands = NUM_PERM // rows
        if lsh_recall(threshold, bands, rows) >= RECALL:
            return bands, rows
    return NUM_PERM, 1


def _gram_hashes(shingles: AbstractSet[tuple[str, ...]]) -> list[int]:
    return [
        int.from_bytes(blake2b(" ".join(g).encode("utf-8"), digest_size=8).digest(), "little")
        for g in shingles
    ]


def signatures(sets: Iterable[AbstractSet[tuple[str, ...]]]) -> list[np.ndarray | None]:
    """The MinHash signature (NUM_PERM uint64 values, each below 2**32) of each 3-gram set;
    None for an empty set (it has no near-duplicates: its Jaccard with anything is 0). Sets
    are signed together, _BATCH_GRAMS 3-grams at a time."""
    out: list[np.ndarray | None] = []
    pending: list[int] = []  # hashes of the sets not signed yet, concatenated
    starts: list[int] = []  # where each of those sets starts in ``pending``
    slots: list[int] = []  # and its place in ``out``

    def flush() -> None:
        if not starts:
            return
        grams = np.array(pending, dtype=np.uint64)
        with np.errstate(over="ignore"):
            values = _mix(grams[:, None] ^ _PERMUTATIONS[None, :]) >> np.uint64(32)
        mins = np.minimum.reduceat(values, np.array(starts), axis=0)
        for i, row in enumerate(mins):
            out[slots[i]] = row.copy()
        pending.clear()
        starts.clear()
        slots.clear()

    for shingles in sets:
        out.append(None)
        if not shingles:
            continue
        starts.append(len(pending))
        slots.append(len(out) - 1)
        pending.extend(_gram_hashes(shingles))
        if len(pending) >= _BATCH_GRAMS:
            flush()
    flush()
    return out


def signature_bytes(signature: np.ndarray) -> bytes:
    return signature.astype("<u4").tobytes()


def signature_from_bytes(data: bytes | memoryview) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype="<u4").astype(np.uint64)


def band_keys(campaign_id: int, signatures_: Sequence[np.ndarray], rows: int) -> np.ndarray:
    """The band keys of each signature: an int64 array of shape (len(signatures_), bands)."""
    bands = NUM_PERM // rows
    if not len(signatures_):
        return np.zeros((0, bands), dtype=np.int64)
    values = np.stack(list(signatures_))[:, : bands * rows].reshape(len(signatures_), bands, rows)
    with np.errstate(over="ignore"):
        start = _mix(np.array([campaign_id * 1_000_003 + rows], dtype=np.uint64))
        keys = _mix(start ^ (np.arange(bands, dtype=np.uint64) * _GOLDEN))
        keys = np.broadcast_to(keys, (len(signatures_), bands)).copy()
        for j in range(rows):
            keys = _mix((keys * _GOLDEN) ^ values[:, :, j])
    return keys.view(np.int64)

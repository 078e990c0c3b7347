"""Similarity flags: rewrites that copy their seed (word 3-gram Jaccard similarity to the seed
text) and near-duplicate rewrites of different seeds. Each check replaces its own earlier
flags in one transaction, so reruns give the same flags."""

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q

from annotation.models import Campaign, Rewrite
from core.transitions import EventKind, event_record

from ..models import SimilarityFlag
from ..ngrams import jaccard, shingles
from ..selectors import CHECKED, CURRENT

MINHASH_PERMUTATIONS = 128


def lsh_threshold(threshold: float) -> float:
    """The threshold LSH proposes candidates at: well below the flagging threshold, since LSH
    misses a fair share of pairs just above its own threshold and every candidate is confirmed
    exactly anyway (and at most 0.9, where datasketch still has enough bands)."""
    return min(0.9, max(0.1, threshold - 0.25))


def _copy_flag(campaign: Campaign, rewrite_id: int, score: float) -> SimilarityFlag:
    return SimilarityFlag(
        campaign=campaign,
        rewrite_id=rewrite_id,
        kind=SimilarityFlag.Kind.COPIED_SEED,
        score=round(score, 4),
    )


def _near_duplicate_flags(campaign: Campaign, a: int, b: int, score: float) -> list[SimilarityFlag]:
    """A near-duplicate pair, stored once per direction so each rewrite lists its own."""
    return [
        SimilarityFlag(
            campaign=campaign,
            rewrite_id=x,
            other_id=y,
            kind=SimilarityFlag.Kind.NEAR_DUPLICATE,
            score=round(score, 4),
        )
        for x, y in ((a, b), (b, a))
    ]


@dataclass
class SimilarityResult:
    checked: int
    copied_seed: int
    near_duplicate_pairs: int


def _seed_text(rewrite: Rewrite) -> str:
    return f"{rewrite.seed.title}\n{rewrite.seed.body}"


def _hashed_shingles(text: str) -> frozenset[int]:
    return frozenset(map(hash, shingles(text)))


# Word 3-gram sets of submitted rewrites, by (id, submitted_at). A submitted revision's text
# never changes (a revision is a new row), so the sets stay valid; keeping them spares each
# submit's check from re-reading and re-splitting every other rewrite of the campaign. The
# timestamp guards against an id reused after a rolled-back transaction.
_SHINGLES: "OrderedDict[tuple[int, Any], frozenset[int]]" = OrderedDict()
_SHINGLES_KEPT = 100_000


def _rewrite_shingles(rewrites: list[tuple[int, Any]]) -> dict[int, frozenset[int]]:
    """{id: shingle set} for (id, submitted_at) pairs, reading only texts not cached yet."""
    missing = {pk: (pk, at) for pk, at in rewrites if (pk, at) not in _SHINGLES}
    ids = list(missing)
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        for pk, text in Rewrite.objects.filter(pk__in=chunk).values_list("pk", "text"):
            _SHINGLES[missing[pk]] = _hashed_shingles(text)
    found = {pk: _SHINGLES[(pk, at)] for pk, at in rewrites if (pk, at) in _SHINGLES}
    while len(_SHINGLES) > _SHINGLES_KEPT:
        _SHINGLES.popitem(last=False)
    return found


def rewrite_similarity_check(*, rewrite_id: int) -> SimilarityResult:
    """Flag the rewrite if it copies its seed, and every current rewrite of another seed that
    it nearly duplicates (exact word 3-gram Jaccard against each, which is cheap for one
    rewrite). Replaces the rewrite's earlier flags, in both directions."""
    rewrite = Rewrite.objects.select_related("seed", "campaign").get(pk=rewrite_id)
    campaign = rewrite.campaign
    mine = _hashed_shingles(rewrite.text)
    copy_score = jaccard(mine, _hashed_shingles(_seed_text(rewrite)))
    others = list(
        Rewrite.objects.filter(campaign=campaign, status__in=CURRENT)
        .exclude(seed_id=rewrite.seed_id)
        .order_by("pk")
        .values_list("pk", "submitted_at")
    )
    pairs = []
    for other_id, theirs in _rewrite_shingles(others).items():
        score = jaccard(mine, theirs)
        if score >= campaign.duplicate_threshold:
            pairs.append((other_id, score))
    with transaction.atomic():
        # One similarity writer per campaign at a time: two near-duplicates checked at once
        # would otherwise both insert the same pair.
        Campaign.objects.select_for_update(no_key=True).filter(pk=campaign.pk).first()
        SimilarityFlag.objects.filter(Q(rewrite_id=rewrite_id) | Q(other_id=rewrite_id)).delete()
        flags = []
        if rewrite.status in CHECKED and copy_score >= campaign.copy_threshold:
            flags.append(_copy_flag(campaign, rewrite_id, copy_score))
        if rewrite.status in CURRENT:
            for other_id, score in pairs:
                flags += _near_duplicate_flags(campaign, rewrite_id, other_id, score)
        SimilarityFlag.objects.bulk_create(flags)
    return SimilarityResult(
        checked=1,
        copied_seed=int(any(f.kind == SimilarityFlag.Kind.COPIED_SEED for f in flags)),
        near_duplicate_pairs=len(pairs) if rewrite.status in CURRENT else 0,
    )


def campaign_similarity_check(
    *, campaign: Campaign, actor: Any = None, progress: Callable[[int], object] | None = None
) -> SimilarityResult:
    """Recompute the copied-seed and near-duplicate flags of all the campaign's current
    rewrites. Near-duplicate candidates come from MinHash LSH (datasketch) over word 3-grams, so
    the work grows with the number of rewrites rather than its square; every candidate pair is
    then confirmed by its exact Jaccard similarity."""
    from datasketch import MinHash, MinHashLSH

    rows = list(
        Rewrite.objects.filter(campaign=campaign, status__in=CURRENT)
        .select_related("seed")
        .only("pk", "text", "seed_id", "seed__title", "seed__body")
        .order_by("pk")
    )
    sets = {r.pk: shingles(r.text) for r in rows}
    seed_of = {r.pk: r.seed_id for r in rows}
    flags: list[SimilarityFlag] = []
    copied = 0
    for r in rows:
        score = jaccard(sets[r.pk], shingles(_seed_text(r)))
        if score >= campaign.copy_threshold:
            copied += 1
            flags.append(_copy_flag(campaign, r.pk, score))
        if progress:
            progress(1)
    keyed = [pk for pk in sets if sets[pk]]
    hashes = MinHash.bulk(
        [[" ".join(g).encode("utf-8") for g in sorted(sets[pk])] for pk in keyed],
        num_perm=MINHASH_PERMUTATIONS,
        seed=1,
    )
    lsh = MinHashLSH(
        threshold=lsh_threshold(campaign.duplicate_threshold),
        num_perm=MINHASH_PERMUTATIONS,
        weights=(0.2, 0.8),
    )
    for pk, mh in zip(keyed, hashes, strict=True):
        lsh.insert(pk, mh)
    pairs: set[tuple[int, int]] = set()
    for pk, mh in zip(keyed, hashes, strict=True):
        for other in lsh.query(mh):
            if other != pk and seed_of[other] != seed_of[pk]:
                pairs.add((min(pk, other), max(pk, other)))
    confirmed = 0
    for a, b in sorted(pairs):
        score = jaccard(sets[a], sets[b])
        if score < campaign.duplicate_threshold:
            continue
        confirmed += 1
        flags += _near_duplicate_flags(campaign, a, b, score)
    result = SimilarityResult(checked=len(rows), copied_seed=copied, near_duplicate_pairs=confirmed)
    with transaction.atomic():
        Campaign.objects.select_for_update(no_key=True).filter(pk=campaign.pk).first()
        SimilarityFlag.objects.filter(campaign=campaign).delete()
        SimilarityFlag.objects.bulk_create(flags, batch_size=1000)
        event_record(
            campaign=campaign,
            actor=actor,
            kind=EventKind.REWRITES_SIMILARITY_CHECKED,
            obj=campaign,
            data=dict(result.__dict__),
        )
    return result

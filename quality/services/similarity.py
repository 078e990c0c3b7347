"""Similarity flags: rewrites that copy their seed (word 3-gram Jaccard similarity to the seed
text) and near-duplicate rewrites of different seeds. Each check replaces its own earlier
flags in one transaction, so reruns give the same flags.

Near-duplicate candidates come from the campaign's similarity index: the MinHash signature of
every current rewrite and its LSH band keys, stored (``RewriteSignature``, ``RewriteBand``;
parameters and recall in ``quality/minhash.py``). A rewrite's check looks its candidates up with
one indexed query on its band keys and computes the exact Jaccard similarity with each, so the
flags and scores are those of the exact comparison with every rewrite, for the pairs LSH finds
(all pairs at or above the threshold, with probability at least ``minhash.RECALL`` each).
A rewrite's signature is written by its own check; rewrites submitted before the index existed
(or indexed for another threshold) are indexed by ``similarity_index_build`` (the command
``similarity_index``, ``decontaminate``, or the first check that finds the index missing)."""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from annotation.models import Campaign, Rewrite
from core.transitions import EventKind, event_record

from ..minhash import (
    band_keys,
    lsh_bands,
    signature_bytes,
    signature_from_bytes,
    signatures,
)
from ..models import RewriteBand, RewriteSignature, SimilarityFlag, SimilarityIndex
from ..ngrams import jaccard, shingles
from ..selectors import CHECKED, CURRENT

# Rewrites signed (or re-banded) per batch by the index build; candidate pairs confirmed per
# batch by the campaign-wide check.
INDEX_BATCH = 2000
PAIR_BATCH = 5000
# Rewrites (re)indexed at once after which the index's tables are analysed (PostgreSQL).
ANALYZE_AFTER = 5000


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


def _seed_text(title: str, body: str) -> str:
    return f"{title}\n{body}"


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _index_write(
    campaign_id: int, rows: int, ids: Sequence[int], sigs: Sequence[np.ndarray | None]
) -> None:
    """Store the signatures ``sigs`` of rewrites ``ids`` and their bands of ``rows`` values,
    replacing what those rewrites had (an empty 3-gram set: an empty signature, no bands)."""
    ids = list(ids)
    RewriteBand.objects.filter(rewrite_id__in=ids).delete()
    RewriteSignature.objects.filter(rewrite_id__in=ids).delete()
    RewriteSignature.objects.bulk_create(
        [
            RewriteSignature(
                rewrite_id=pk,
                campaign_id=campaign_id,
                rows=rows,
                minhash=b"" if sig is None else signature_bytes(sig),
            )
            for pk, sig in zip(ids, sigs, strict=True)
        ],
        # A check and an index build writing the same rewrite at once write the same row
        # (a submitted revision's text never changes).
        ignore_conflicts=True,
    )
    signed = [(pk, sig) for pk, sig in zip(ids, sigs, strict=True) if sig is not None]
    if not signed:
        return
    keys = band_keys(campaign_id, [sig for _, sig in signed], rows)
    owners = np.repeat(np.array([pk for pk, _ in signed], dtype=np.int64), keys.shape[1])
    flat = keys.reshape(-1)
    if connection.vendor == "postgresql":
        # One statement per batch (tens of thousands of rows), no model objects.
        with connection.cursor() as cur:
            cur.execute(
                f"INSERT INTO {RewriteBand._meta.db_table} (key, rewrite_id) "
                "SELECT * FROM unnest(%s::bigint[], %s::bigint[]) ON CONFLICT DO NOTHING",
                [flat.tolist(), owners.tolist()],
            )
    else:
        RewriteBand.objects.bulk_create(
            [
                RewriteBand(key=k, rewrite_id=o)
                for k, o in zip(flat.tolist(), owners.tolist(), strict=True)
            ],
            batch_size=1000,
            ignore_conflicts=True,
        )


def similarity_index_build(
    *, campaign: Campaign, missing: bool = True, progress: Callable[[int], object] | None = None
) -> int:
    """Bring the campaign's similarity index up to date, in one transaction under the lock of
    its ``SimilarityIndex`` row: bands of another band size (the duplicate threshold changed)
    are recomputed from the stored signatures, and current rewrites without a signature (those
    submitted before the index existed, or whose check has not run) are signed. With
    ``missing=False`` (what a check does) nothing happens when the index is already built for
    this threshold. Returns how many rewrites were (re)indexed. Work and memory per batch of
    INDEX_BATCH rewrites."""
    _, rows = lsh_bands(campaign.duplicate_threshold)
    indexed = 0
    with transaction.atomic():
        SimilarityIndex.objects.get_or_create(
            campaign=campaign, defaults={"rows": 0, "built_at": timezone.now()}
        )
        state = SimilarityIndex.objects.select_for_update(no_key=True).get(pk=campaign.pk)
        if state.rows == rows and not missing:
            return 0  # built meanwhile by another check
        stale = list(
            RewriteSignature.objects.filter(campaign=campaign)
            .exclude(rows=rows)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for chunk in _chunks(stale, INDEX_BATCH):
            found = dict(RewriteSignature.objects.filter(pk__in=chunk).values_list("pk", "minhash"))
            _index_write(
                campaign.pk,
                rows,
                chunk,
                [signature_from_bytes(found[pk]) if found[pk] else None for pk in chunk],
            )
            indexed += len(chunk)
        unsigned = list(
            Rewrite.objects.filter(campaign=campaign, status__in=CURRENT)
            .exclude(Exists(RewriteSignature.objects.filter(rewrite=OuterRef("pk"))))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for chunk in _chunks(unsigned, INDEX_BATCH):
            texts = dict(Rewrite.objects.filter(pk__in=chunk).values_list("pk", "text"))
            _index_write(campaign.pk, rows, chunk, signatures(shingles(texts[pk]) for pk in chunk))
            indexed += len(chunk)
            if progress:
                progress(len(chunk))
        state.rows = rows
        state.built_at = timezone.now()
        state.save(update_fields=["rows", "built_at"])
        if indexed >= ANALYZE_AFTER and connection.vendor == "postgresql":
            # Fresh statistics for the plans of the lookups and of the pair self-join (the
            # bands of a whole campaign were just written; autovacuum would come later).
            with connection.cursor() as cur:
                cur.execute(f"ANALYZE {RewriteBand._meta.db_table}")
                cur.execute(f"ANALYZE {RewriteSignature._meta.db_table}")
    return indexed


def band_candidates(
    *, campaign: Campaign, seed_id: int, keys: Sequence[int]
) -> "QuerySet[Rewrite, tuple[int, str]]":
    """(id, text) of the campaign's current rewrites of other seeds that have one of the band
    ``keys``: one query, an index lookup per key (the plan is asserted on PostgreSQL)."""
    return (
        Rewrite.objects.filter(
            campaign=campaign,
            status__in=CURRENT,
            pk__in=RewriteBand.objects.filter(key__in=list(keys)).values("rewrite_id"),
        )
        .exclude(seed_id=seed_id)
        .order_by("pk")
        .values_list("pk", "text")
    )


def rewrite_similarity_check(*, rewrite_id: int) -> SimilarityResult:
    """Flag the rewrite if it copies its seed, and every current rewrite of another seed that
    it nearly duplicates: candidates by its LSH band keys (one indexed query), each confirmed
    by its exact word 3-gram Jaccard similarity. Stores the rewrite's signature and bands, and
    replaces its earlier flags, in both directions. A constant number of queries, whatever
    the size of the campaign (once its index is built)."""
    rewrite = Rewrite.objects.select_related("seed", "campaign").get(pk=rewrite_id)
    campaign = rewrite.campaign
    mine = shingles(rewrite.text)
    copy_score = jaccard(mine, shingles(_seed_text(rewrite.seed.title, rewrite.seed.body)))
    _, rows = lsh_bands(campaign.duplicate_threshold)
    if not SimilarityIndex.objects.filter(campaign=campaign, rows=rows).exists():
        similarity_index_build(campaign=campaign, missing=False)
    current = rewrite.status in CURRENT
    signature = signatures([mine])[0] if current else None
    keys = [] if signature is None else band_keys(campaign.pk, [signature], rows)[0].tolist()
    pairs = []
    if keys:
        found = band_candidates(campaign=campaign, seed_id=rewrite.seed_id, keys=keys)
        for other_id, text in found:
            score = jaccard(mine, shingles(text))
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
        for other_id, score in pairs:
            flags += _near_duplicate_flags(campaign, rewrite_id, other_id, score)
        SimilarityFlag.objects.bulk_create(flags)
        if current:
            _index_write(campaign.pk, rows, [rewrite_id], [signature])
    return SimilarityResult(
        checked=1,
        copied_seed=int(any(f.kind == SimilarityFlag.Kind.COPIED_SEED for f in flags)),
        near_duplicate_pairs=len(pairs),
    )


def _candidate_pairs(campaign: Campaign) -> Iterator[list[tuple[int, int]]]:
    """Pairs (a < b) of current rewrites of different seeds of the campaign sharing an LSH
    band, in order, in batches of PAIR_BATCH (a server-side cursor on PostgreSQL)."""
    band, rewrite = RewriteBand._meta.db_table, Rewrite._meta.db_table
    statuses = ", ".join(["%s"] * len(CURRENT))
    sql = f"""
        SELECT DISTINCT a.rewrite_id, b.rewrite_id
        FROM {band} a
        JOIN {band} b ON b.key = a.key AND b.rewrite_id > a.rewrite_id
        JOIN {rewrite} ra ON ra.id = a.rewrite_id
        JOIN {rewrite} rb ON rb.id = b.rewrite_id
        WHERE ra.campaign_id = %s AND rb.campaign_id = %s
          AND ra.status IN ({statuses}) AND rb.status IN ({statuses})
          AND ra.seed_id <> rb.seed_id
        ORDER BY 1, 2
    """
    params: list[int | str] = [campaign.pk, campaign.pk, *CURRENT, *CURRENT]
    with connection.chunked_cursor() as cur:
        cur.execute(sql, params)
        while batch := cur.fetchmany(PAIR_BATCH):
            yield [(int(a), int(b)) for a, b in batch]


def campaign_similarity_check(
    *, campaign: Campaign, actor: Any = None, progress: Callable[[int], object] | None = None
) -> SimilarityResult:
    """Recompute the copied-seed and near-duplicate flags of all the campaign's current
    rewrites. The similarity index is brought up to date first (``similarity_index_build``);
    candidate pairs are those sharing an LSH band (one self-join of the bands in the
    database), each confirmed by its exact Jaccard similarity. Rewrites are streamed in
    batches, so memory does not grow with the campaign (only with the flags)."""
    similarity_index_build(campaign=campaign)
    threshold = campaign.duplicate_threshold
    flags: list[SimilarityFlag] = []
    checked = copied = 0
    rows = (
        Rewrite.objects.filter(campaign=campaign, status__in=CURRENT)
        .order_by("pk")
        .values_list("pk", "text", "seed__title", "seed__body")
    )
    for pk, text, title, body in rows.iterator(chunk_size=INDEX_BATCH):
        checked += 1
        score = jaccard(shingles(text), shingles(_seed_text(title, body)))
        if score >= campaign.copy_threshold:
            copied += 1
            flags.append(_copy_flag(campaign, pk, score))
        if progress:
            progress(1)
    confirmed = 0
    for batch in _candidate_pairs(campaign):
        ids = sorted({pk for pair in batch for pk in pair})
        sets = {
            pk: shingles(text)
            for pk, text in Rewrite.objects.filter(pk__in=ids).values_list("pk", "text")
        }
        for a, b in batch:
            score = jaccard(sets[a], sets[b])
            if score >= threshold:
                confirmed += 1
                flags += _near_duplicate_flags(campaign, a, b, score)
    result = SimilarityResult(checked=checked, copied_seed=copied, near_duplicate_pairs=confirmed)
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

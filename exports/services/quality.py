"""Quality checks on submitted rewrites: contamination by public benchmarks (word n-gram overlap
through a hashed n-gram index), rewrites that copy their seed, and near-duplicate rewrites.

Each check replaces its own previous results for the rewrites it looked at, in one transaction,
so running it twice gives the same flags (tasks may be retried)."""

from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import Q

from annotation.models import Campaign, Rewrite
from annotation.services import event_record

from ..models import ContaminationHit, ReferenceDocument, ReferenceSet, SimilarityFlag
from ..ngrams import jaccard, ngrams, shingles, words

# Rewrites that are (or were) in front of reviewers; drafts are unfinished and returned
# revisions are superseded by their next revision.
CHECKED = (
    Rewrite.Status.SUBMITTED,
    Rewrite.Status.ACCEPTED,
    Rewrite.Status.REJECTED,
    Rewrite.Status.NO_CONSENSUS,
    Rewrite.Status.RETURNED,
)
CURRENT = (
    Rewrite.Status.SUBMITTED,
    Rewrite.Status.ACCEPTED,
    Rewrite.Status.REJECTED,
    Rewrite.Status.NO_CONSENSUS,
)
MINHASH_PERMUTATIONS = 128


def lsh_threshold(threshold: float) -> float:
    """The threshold LSH proposes candidates at: well below the flagging threshold, since LSH
    misses a fair share of pairs just above its own threshold and every candidate is confirmed
    exactly anyway (and at most 0.9, where datasketch still has enough bands)."""
    return min(0.9, max(0.1, threshold - 0.25))


class ReferenceIndex:
    """Every word n-gram of the reference documents, hashed, sorted, with the document it comes
    from: looking up a rewrite costs a binary search per n-gram, whatever the corpus size.

    Hashes are Python's own (salted per process), so an index lives in one process only."""

    def __init__(self, n: int, hashes: np.ndarray, documents: np.ndarray) -> None:
        self.n = n
        self.hashes = hashes
        self.documents = documents

    @classmethod
    def build(cls, documents: Iterable[tuple[int, str]], n: int) -> "ReferenceIndex":
        hashes: list[int] = []
        owners: list[int] = []
        for pk, text in documents:
            grams = {hash(g) for g in ngrams(words(text), n)}
            hashes.extend(grams)
            owners.extend([pk] * len(grams))
        h = np.array(hashes, dtype=np.int64)
        d = np.array(owners, dtype=np.int64)
        order = np.argsort(h, kind="stable")
        return cls(n, h[order], d[order])

    def __len__(self) -> int:
        return len(self.hashes)

    def matches(self, tokens: Sequence[str]) -> dict[int, tuple[int, int]]:
        """For each document sharing an n-gram with ``tokens``: (position of the first shared
        n-gram in ``tokens``, number of distinct shared n-grams)."""
        grams = list(ngrams(tokens, self.n))
        if not grams or not len(self.hashes):
            return {}
        query = np.array([hash(g) for g in grams], dtype=np.int64)
        left = np.searchsorted(self.hashes, query, side="left")
        right = np.searchsorted(self.hashes, query, side="right")
        first: dict[int, int] = {}
        shared: dict[int, set[int]] = defaultdict(set)
        for position in np.flatnonzero(right > left):
            gram_hash = int(query[position])
            for doc in self.documents[left[position] : right[position]]:
                doc = int(doc)
                first.setdefault(doc, int(position))
                shared[doc].add(gram_hash)
        return {doc: (first[doc], len(shared[doc])) for doc in first}


_INDEXES: "OrderedDict[tuple, ReferenceIndex]" = OrderedDict()
_INDEXES_KEPT = 4


def reference_index(*, reference_sets: Sequence[ReferenceSet], n: int) -> ReferenceIndex:
    """The index of ``reference_sets`` at n-gram size ``n``, built once per process and reused
    until a set is reloaded (its ``loaded_at`` changes)."""
    key = (
        n,
        tuple(
            (s.pk, s.loaded_at.isoformat(), s.documents_count)
            for s in sorted(reference_sets, key=lambda s: s.pk)
        ),
    )
    index = _INDEXES.get(key)
    if index is None:
        docs = ReferenceDocument.objects.filter(reference_set__in=reference_sets).values_list(
            "pk", "text"
        )
        index = ReferenceIndex.build(docs.iterator(chunk_size=2000), n)
        _INDEXES[key] = index
        while len(_INDEXES) > _INDEXES_KEPT:
            _INDEXES.popitem(last=False)
    else:
        _INDEXES.move_to_end(key)
    return index


def campaign_ngram_set(*, campaign: Campaign, n: int, actor: Any = None) -> Campaign:
    """Change the n-gram size a campaign is decontaminated with (every later check and release
    uses it). Raises ValidationFailed below 3, where common phrases would match."""
    from annotation.errors import ValidationFailed

    if n < 3:
        raise ValidationFailed(
            "An n-gram size below 3 would flag common phrases; use 3 or more (10 is usual).",
            details={"errors": {"ngram": ["must be at least 3"]}},
        )
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        old = locked.contamination_ngram
        if old != n:
            locked.contamination_ngram = n
            locked.save(update_fields=["contamination_ngram"])
            event_record(
                campaign=locked,
                actor=actor,
                kind="campaign.ngram_changed",
                obj=locked,
                from_state=str(old),
                to_state=str(n),
            )
    campaign.contamination_ngram = n
    return campaign


@dataclass
class DecontaminationResult:
    checked: int
    contaminated: int
    hits: int
    n: int
    reference_sets: list[str]


def rewrites_decontaminate(
    *,
    campaign: Campaign,
    n: int | None = None,
    rewrite_ids: Sequence[int] | None = None,
    reference_sets: Sequence[ReferenceSet] | None = None,
    actor: Any = None,
    progress: Callable[[int], None] | None = None,
) -> DecontaminationResult:
    """Check the campaign's submitted rewrites (or only ``rewrite_ids``) against
    ``reference_sets`` (default: all) and replace their hits on those sets. ``n`` defaults to
    the campaign's ``contamination_ngram``. ``progress`` is called with the number of rewrites
    just checked. Appends a ``rewrites.decontaminated`` event."""
    n = n or campaign.contamination_ngram
    rewrites = Rewrite.objects.filter(campaign=campaign, status__in=CHECKED)
    if rewrite_ids is not None:
        rewrites = rewrites.filter(pk__in=list(rewrite_ids))
    with transaction.atomic():
        # Locking the reference sets serialises this check with reloads (which lock their set
        # first) and with other checks, so hits are never written against documents a reload
        # is deleting, nor inserted twice by two checks of the same rewrite.
        locked = ReferenceSet.objects.select_for_update().order_by("pk")
        if reference_sets is not None:
            locked = locked.filter(pk__in=[s.pk for s in reference_sets])
        sets = list(locked)
        index = reference_index(reference_sets=sets, n=n)
        rows = list(rewrites.order_by("pk").values_list("pk", "text"))
        ids = [pk for pk, _ in rows]
        stale = ContaminationHit.objects.filter(campaign=campaign, rewrite_id__in=ids)
        if reference_sets is not None:
            # Only these sets' hits; with all sets, every hit of these rewrites is replaced
            # (hits of deleted sets went with their documents), which is also a much cheaper
            # query on SQLite than the join.
            stale = stale.filter(document__reference_set_id__in=[s.pk for s in sets])
        stale.delete()
        hits: list[ContaminationHit] = []
        for pk, text in rows:
            tokens = words(text)
            for doc, (position, overlap) in sorted(index.matches(tokens).items()):
                hits.append(
                    ContaminationHit(
                        campaign=campaign,
                        rewrite_id=pk,
                        document_id=doc,
                        n=n,
                        ngram=" ".join(tokens[position : position + n]),
                        overlap=overlap,
                    )
                )
            if progress:
                progress(1)
        ContaminationHit.objects.bulk_create(hits, batch_size=1000)
        contaminated = len({h.rewrite_id for h in hits})
        result = DecontaminationResult(
            checked=len(rows),
            contaminated=contaminated,
            hits=len(hits),
            n=n,
            reference_sets=[s.name for s in sets],
        )
        if rewrite_ids is None or contaminated:
            event_record(
                campaign=campaign,
                actor=actor,
                kind="rewrites.decontaminated",
                obj=campaign,
                data={**result.__dict__, "rewrites": sorted({h.rewrite_id for h in hits})[:100]},
            )
    return result


def rewrites_decontaminate_all_campaigns(
    *,
    reference_sets: Sequence[ReferenceSet],
    actor: Any = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[int, int]:
    """Re-check every campaign's submitted rewrites against ``reference_sets`` (after a
    reload). Returns (rewrites checked, rewrites contaminated by these sets)."""
    checked = contaminated = 0
    campaign_ids = (
        Rewrite.objects.filter(status__in=CHECKED).values_list("campaign_id", flat=True).distinct()
    )
    for campaign in Campaign.objects.filter(pk__in=list(campaign_ids)).order_by("pk"):
        result = rewrites_decontaminate(
            campaign=campaign, reference_sets=reference_sets, actor=actor
        )
        checked += result.checked
        contaminated += result.contaminated
        if progress:
            progress(f"{campaign.slug}: {result.contaminated} of {result.checked} rewrites hit")
    return checked, contaminated


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
        Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
        SimilarityFlag.objects.filter(Q(rewrite_id=rewrite_id) | Q(other_id=rewrite_id)).delete()
        flags = []
        if rewrite.status in CHECKED and copy_score >= campaign.copy_threshold:
            flags.append(
                SimilarityFlag(
                    campaign=campaign,
                    rewrite_id=rewrite_id,
                    kind=SimilarityFlag.Kind.COPIED_SEED,
                    score=round(copy_score, 4),
                )
            )
        if rewrite.status in CURRENT:
            for other_id, score in pairs:
                for a, b in ((rewrite_id, other_id), (other_id, rewrite_id)):
                    flags.append(
                        SimilarityFlag(
                            campaign=campaign,
                            rewrite_id=a,
                            other_id=b,
                            kind=SimilarityFlag.Kind.NEAR_DUPLICATE,
                            score=round(score, 4),
                        )
                    )
        SimilarityFlag.objects.bulk_create(flags)
    return SimilarityResult(
        checked=1,
        copied_seed=int(any(f.kind == SimilarityFlag.Kind.COPIED_SEED for f in flags)),
        near_duplicate_pairs=len(pairs) if rewrite.status in CURRENT else 0,
    )


def campaign_similarity_check(
    *, campaign: Campaign, actor: Any = None, progress: Callable[[int], None] | None = None
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
            flags.append(
                SimilarityFlag(
                    campaign=campaign,
                    rewrite_id=r.pk,
                    kind=SimilarityFlag.Kind.COPIED_SEED,
                    score=round(score, 4),
                )
            )
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
        for x, y in ((a, b), (b, a)):
            flags.append(
                SimilarityFlag(
                    campaign=campaign,
                    rewrite_id=x,
                    other_id=y,
                    kind=SimilarityFlag.Kind.NEAR_DUPLICATE,
                    score=round(score, 4),
                )
            )
    result = SimilarityResult(checked=len(rows), copied_seed=copied, near_duplicate_pairs=confirmed)
    with transaction.atomic():
        Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
        SimilarityFlag.objects.filter(campaign=campaign).delete()
        SimilarityFlag.objects.bulk_create(flags, batch_size=1000)
        event_record(
            campaign=campaign,
            actor=actor,
            kind="rewrites.similarity_checked",
            obj=campaign,
            data=dict(result.__dict__),
        )
    return result


def rewrite_quality_check(*, rewrite_id: int) -> dict[str, Any]:
    """All checks for one newly submitted rewrite (the Celery task enqueued on submit)."""
    rewrite = Rewrite.objects.select_related("campaign").filter(pk=rewrite_id).first()
    if rewrite is None or rewrite.status not in CHECKED:
        return {"skipped": True}
    contamination = rewrites_decontaminate(campaign=rewrite.campaign, rewrite_ids=[rewrite_id])
    similarity = rewrite_similarity_check(rewrite_id=rewrite_id)
    return {"contamination_hits": contamination.hits, **similarity.__dict__}

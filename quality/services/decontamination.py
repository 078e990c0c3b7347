"""Decontamination: which submitted rewrites share a word n-gram with a public benchmark,
through a hashed n-gram index of the reference documents.

A check replaces its own previous hits for the rewrites it looked at, in one transaction, so
running it twice gives the same hits (tasks may be retried)."""

from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from annotation.models import Campaign, Rewrite
from core.errors import ValidationFailed
from core.transitions import EventKind, event_record

from ..models import ContaminationHit, ReferenceDocument, ReferenceSet
from ..ngrams import words
from ..selectors import CHECKED, applicable_reference_sets


def gram_hashes(tokens: Sequence[str], n: int) -> np.ndarray:
    """The hash of every run of ``n`` consecutive tokens, in order (uint64): a polynomial over
    the tokens' own hashes, computed for all runs at once. Python's string hash is salted per
    process, so these hashes are only compared within one process."""
    count = len(tokens) - n + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint64)
    values = np.fromiter(map(hash, tokens), dtype=np.int64, count=len(tokens)).view(np.uint64)
    out = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):
            out = out * _GRAM_BASE + values[j : j + count]
    return out


_GRAM_BASE = np.uint64(0x100000001B3)  # odd: the polynomial's base


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
        hashes: list[np.ndarray] = []
        owners: list[np.ndarray] = []
        for pk, text in documents:
            grams = np.unique(gram_hashes(words(text), n))  # each distinct n-gram once
            hashes.append(grams)
            owners.append(np.full(len(grams), pk, dtype=np.int64))
        h = np.concatenate(hashes) if hashes else np.zeros(0, dtype=np.uint64)
        d = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)
        order = np.argsort(h, kind="stable")
        return cls(n, h[order], d[order])

    def __len__(self) -> int:
        return len(self.hashes)

    def matches(self, tokens: Sequence[str]) -> dict[int, tuple[int, int]]:
        """For each document sharing an n-gram with ``tokens``: (position of the first shared
        n-gram in ``tokens``, number of distinct shared n-grams)."""
        query = gram_hashes(tokens, self.n)
        if not len(query) or not len(self.hashes):
            return {}
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


# (n, ((reference set id, loaded at, documents), ...)): a reloaded set gives a new key.
_IndexKey = tuple[int, tuple[tuple[int, str, int], ...]]
_INDEXES: "OrderedDict[_IndexKey, ReferenceIndex]" = OrderedDict()
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
    if n < 3:
        raise ValidationFailed(
            "An n-gram size below 3 would flag common phrases; use 3 or more (10 is usual).",
            details={"errors": {"ngram": ["must be at least 3"]}},
        )
    with transaction.atomic():
        locked = Campaign.objects.select_for_update(no_key=True).get(pk=campaign.pk)
        old = locked.contamination_ngram
        if old != n:
            locked.contamination_ngram = n
            locked.save(update_fields=["contamination_ngram"])
            event_record(
                campaign=locked,
                actor=actor,
                kind=EventKind.CAMPAIGN_NGRAM_CHANGED,
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
    progress: Callable[[int], object] | None = None,
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
        locked = (
            ReferenceSet.objects.select_for_update(no_key=True)
            .filter(applicable_reference_sets(campaign))
            .order_by("pk")
        )
        if reference_sets is not None:
            locked = locked.filter(pk__in=[s.pk for s in reference_sets])
        sets = list(locked)
        index = reference_index(reference_sets=sets, n=n)
        stale = ContaminationHit.objects.filter(
            campaign=campaign, rewrite_id__in=rewrites.values("pk")
        )
        if reference_sets is not None:
            # Only these sets' hits; with all sets, every hit of these rewrites is replaced
            # (hits of deleted sets went with their documents), which is also a much cheaper
            # query on SQLite than the join.
            stale = stale.filter(document__reference_set_id__in=[s.pk for s in sets])
        stale.delete()
        # Streamed (a server-side cursor on PostgreSQL), hits written as they come: memory
        # does not grow with the campaign.
        checked = hits_count = 0
        contaminated_ids: list[int] = []
        hits: list[ContaminationHit] = []
        rows = rewrites.order_by("pk").values_list("pk", "text")
        for pk, text in rows.iterator(chunk_size=2000):
            checked += 1
            tokens = words(text)
            matches = index.matches(tokens)
            if matches:
                contaminated_ids.append(pk)
            for doc, (position, overlap) in sorted(matches.items()):
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
            if len(hits) >= 1000:
                ContaminationHit.objects.bulk_create(hits)
                hits_count += len(hits)
                hits = []
            if progress:
                progress(1)
        ContaminationHit.objects.bulk_create(hits, batch_size=1000)
        hits_count += len(hits)
        _mark_checked(sets)
        contaminated = len(contaminated_ids)
        result = DecontaminationResult(
            checked=checked,
            contaminated=contaminated,
            hits=hits_count,
            n=n,
            reference_sets=[s.name for s in sets],
        )
        if rewrite_ids is None or contaminated:
            event_record(
                campaign=campaign,
                actor=actor,
                kind=EventKind.REWRITES_DECONTAMINATED,
                obj=campaign,
                data={**result.__dict__, "rewrites": contaminated_ids[:100]},
            )
    return result


def rewrites_decontaminate_all_campaigns(
    *,
    reference_sets: Sequence[ReferenceSet],
    actor: Any = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[int, int]:
    """Re-check the submitted rewrites of every campaign ``reference_sets`` apply to (after a
    reload; ``applicable_reference_sets``). Returns (rewrites checked, rewrites contaminated
    by these sets)."""
    checked = contaminated = 0
    campaign_ids = (
        Rewrite.objects.filter(status__in=CHECKED)
        .values_list("campaign_id", flat=True)
        .order_by()
        .distinct()
    )
    for campaign in Campaign.objects.filter(pk__in=list(campaign_ids)).order_by("pk"):
        result = rewrites_decontaminate(
            campaign=campaign, reference_sets=reference_sets, actor=actor
        )
        checked += result.checked
        contaminated += result.contaminated
        if progress:
            progress(f"{campaign.slug}: {result.contaminated} of {result.checked} rewrites hit")
    # Every campaign's rewrites are now checked against these sets (also when there are none).
    _mark_checked(reference_sets)
    return checked, contaminated


def _mark_checked(reference_sets: Sequence[ReferenceSet]) -> None:
    """Record when rewrites were last checked against ``reference_sets`` (on the rows and on
    the objects given)."""
    if not reference_sets:
        return
    now = timezone.now()
    ReferenceSet.objects.filter(pk__in=[s.pk for s in reference_sets]).update(checked_at=now)
    for reference_set in reference_sets:
        reference_set.checked_at = now

"""Pure metrics of the dashboard: plain data in, plain data out, no database. Each is tested
on small tables of its own (``tests/test_review_pages.py`` checks them against the database)."""

from collections import Counter
from collections.abc import Iterable, Mapping
from itertools import combinations
from typing import Any

from annotation.models import Rewrite
from annotation.sampling import sampling_quotas

from ..agreement import cohen_kappa
from ..consensus import Outcome, consensus
from ..models import Decision
from ..stats import DECIDED


def coverage(
    *,
    size: int,
    subcategories: list[tuple[int, str, str]],
    pool: Mapping[int, Mapping[str, int]],
    work: Mapping[int, Mapping[str, int]],
) -> dict[str, Any]:
    """Releasable (accepted, uncontaminated) rewrites against the target per subcategory and
    category. ``subcategories`` are (id, category, name) in taxonomy order; ``pool`` and
    ``work`` the per-subcategory seed and rewrite counts (``queries.coverage_counts``).

    The target spreads ``size`` over the subcategories the way a release stratified by
    subcategory spreads it when every subcategory has enough (``sampling_quotas``: equal shares,
    the remainder to the first subcategories in name order). ``gap`` is what is still missing;
    a gap larger than what is in review, being rewritten and not yet claimed means the
    subcategory needs new seeds (otherwise a release gives what it has and spreads the
    shortfall over the others)."""
    available = {name: size for _pk, _category, name in subcategories}
    targets = sampling_quotas(available, size) if available else {}
    rows = []
    by_category: dict[str, dict[str, Any]] = {}
    for pk, category, name in subcategories:
        p, w = pool.get(pk, {}), work.get(pk, {})
        row: dict[str, Any] = {
            "category": category,
            "subcategory": name,
            "target": targets.get(name, 0),
            "accepted": w.get("accepted", 0),
            "releasable": w.get("releasable", 0),
            "in_review": w.get("in_review", 0),
            "seeds": p.get("seeds", 0),
            "in_progress": p.get("in_progress", 0),
            "seeds_left": p.get("seeds_left", 0),
        }
        row["gap"] = max(row["target"] - row["releasable"], 0)
        # Even if everything in review is accepted and every seed being rewritten or not yet
        # claimed ends up accepted, the target is not reached: the curator needs more seeds.
        row["needs_seeds"] = row["gap"] > row["in_review"] + row["in_progress"] + row["seeds_left"]
        rows.append(row)
        cat = by_category.setdefault(
            category,
            {"category": category, "target": 0, "releasable": 0, "accepted": 0, "gap": 0},
        )
        for key in ("target", "releasable", "accepted", "gap"):
            cat[key] += row[key]
    return {
        "target_release_size": size,
        "target_total": sum(targets.values()),
        "releasable_total": sum(r["releasable"] for r in rows),
        "gap_total": sum(r["gap"] for r in rows),
        "subcategories": rows,
        "categories": list(by_category.values()),
    }


def panel_outcome(
    status: str, valid: int, invalid: int, *, panel_size: int, threshold: int
) -> Outcome | None:
    """The panel's outcome of a decided revision; a returned or closed one was rejected or had
    no consensus, and its votes say which."""
    if status in DECIDED:
        return Outcome(status)
    return consensus(
        valid=valid, invalid=invalid, panel_size=panel_size, threshold=threshold, early=True
    )


def reviewer_agreement(
    votes: Mapping[int, Mapping[str, str]],
    status_of: Mapping[int, str],
    rule_of: Mapping[int, tuple[int, int]],
) -> dict[str, Any]:
    """From each decided revision's votes ({rewrite id: {reviewer: decision}}): for every pair
    of reviewers who voted on the same revisions, Cohen's kappa and their raw agreement; for
    every reviewer, how often their vote matched the panel's outcome (accepted = valid,
    rejected = invalid; no-consensus panels count for neither); and the ids of split panels (a
    full panel with as many valid as invalid votes). ``rule_of`` gives each revision's (panel
    size, threshold): a panel keeps the rule it opened with."""
    matched: Counter[str] = Counter()
    counted: Counter[str] = Counter()
    splits = []
    for rewrite_id, panel in votes.items():
        valid = sum(1 for d in panel.values() if d == Decision.VALID)
        invalid = len(panel) - valid
        panel_size, threshold = rule_of[rewrite_id]
        if len(panel) == panel_size and valid == invalid:
            splits.append(rewrite_id)
        outcome = panel_outcome(
            status_of[rewrite_id], valid, invalid, panel_size=panel_size, threshold=threshold
        )
        if outcome in (Outcome.ACCEPTED, Outcome.REJECTED):
            expected = Decision.VALID if outcome == Outcome.ACCEPTED else Decision.INVALID
            for reviewer, decision in panel.items():
                counted[reviewer] += 1
                matched[reviewer] += decision == expected
    reviewers = sorted({r for panel in votes.values() for r in panel})
    pairs = []
    for a, b in combinations(reviewers, 2):
        shared = [(p[a], p[b]) for p in votes.values() if a in p and b in p]
        kappa = cohen_kappa(shared)
        pairs.append(
            {
                "a": a,
                "b": b,
                "shared": len(shared),
                "agreement": round(sum(x == y for x, y in shared) / len(shared), 4)
                if shared
                else None,
                "cohen_kappa": None if kappa is None else round(kappa, 4),
            }
        )
    with_outcome = {
        r: {
            "decided_votes": counted[r],
            "matched": matched[r],
            "rate": round(matched[r] / counted[r], 4) if counted[r] else None,
        }
        for r in reviewers
    }
    return {
        "reviewers": reviewers,
        "pairs": pairs,
        "with_outcome": with_outcome,
        "split_ids": sorted(splits),
    }


def kappa_matrix(agreement: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The pairwise kappas (``campaign_overview``'s agreement) as rows of a symmetric matrix."""
    lookup = {}
    for pair in agreement["pairwise_cohen_kappa"]:
        lookup[(pair["a"], pair["b"])] = lookup[(pair["b"], pair["a"])] = pair
    return [
        {
            "reviewer": a,
            "cells": [None if a == b else lookup.get((a, b)) for b in agreement["reviewers"]],
        }
        for a in agreement["reviewers"]
    ]


def progress(
    submitted: Iterable[tuple[Any, int]], decided: Iterable[tuple[Any, str, int]]
) -> list[dict[str, Any]]:
    """Per day with activity, from (day, count) submissions and (day, status, count)
    decisions: revisions submitted and decisions by outcome (a returned or closed revision was
    decided first and counts as returned or closed; an adjudicated one counts on the day of the
    curator's decision), with the running total of accepted rewrites."""
    days: dict[Any, Counter[str]] = {}
    for day, n in submitted:
        days.setdefault(day, Counter())["submitted"] += n
    for day, status, n in decided:
        outcome = status if status in (*DECIDED, Rewrite.Status.CLOSED) else "returned"
        days.setdefault(day, Counter())[outcome] += n
    out = []
    accepted_to_date = 0
    for day in sorted(days):
        counts = days[day]
        accepted_to_date += counts["accepted"]
        out.append(
            {
                "day": day.isoformat(),
                "submitted": counts["submitted"],
                "accepted": counts["accepted"],
                "rejected": counts["rejected"],
                "no_consensus": counts["no_consensus"],
                "returned": counts["returned"],
                "closed": counts["closed"],
                "accepted_to_date": accepted_to_date,
            }
        )
    return out

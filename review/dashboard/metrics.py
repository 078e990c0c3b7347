"""Pure metrics of the dashboard: plain data in, plain data out, no database. Each is tested
on small tables of its own (``tests/test_review_pages.py`` checks them against the database)."""

from collections import Counter
from collections.abc import Iterable, Mapping
from itertools import combinations
from typing import Any

from annotation.models import Rewrite
from annotation.sampling import sampling_quotas

from ..agreement import cohen_kappa_of_counts
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


def reviewer_agreement(
    *,
    with_outcome: Mapping[str, tuple[int, int]],
    pairs: Mapping[tuple[str, str], Mapping[tuple[str, str], int]],
    split_ids: list[int],
) -> dict[str, Any]:
    """From the counts of ``queries.panel_agreement``: every reviewer who voted on a finished
    panel (``with_outcome``: their votes on panels with an outcome and how many matched it),
    each pair's contingency table (``pairs``, keyed by usernames a < b) and the split panels'
    ids. For every pair of reviewers, Cohen's kappa and their raw agreement over the revisions
    both voted on (none shared: None); for every reviewer, how often their vote matched the
    panel's outcome (accepted = valid, rejected = invalid; no-consensus panels count for
    neither)."""
    reviewers = sorted(with_outcome)
    out_pairs = []
    for a, b in combinations(reviewers, 2):
        table = pairs.get((a, b), {})
        shared = sum(table.values())
        agreed = sum(n for (x, y), n in table.items() if x == y)
        kappa = cohen_kappa_of_counts(table)
        out_pairs.append(
            {
                "a": a,
                "b": b,
                "shared": shared,
                "agreement": round(agreed / shared, 4) if shared else None,
                "cohen_kappa": None if kappa is None else round(kappa, 4),
            }
        )
    return {
        "reviewers": reviewers,
        "pairs": out_pairs,
        "with_outcome": {
            r: {
                "decided_votes": counted,
                "matched": matched,
                "rate": round(matched / counted, 4) if counted else None,
            }
            for r, (counted, matched) in sorted(with_outcome.items())
        },
        "split_ids": sorted(split_ids),
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

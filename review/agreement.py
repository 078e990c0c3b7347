"""Inter-rater agreement, as pure functions over vote tables."""

from collections.abc import Sequence


def fleiss_kappa(table: Sequence[Sequence[int]]) -> float | None:
    """Fleiss' kappa for ``table``: one row per subject (rewrite), one column per category
    (valid, invalid), each cell the number of raters who chose it. Every row must have the same
    number of raters (at least 2). Returns None when kappa is undefined (no subjects, or all
    votes in one category, so chance agreement is 1).

    Raises ValueError for rows of different rater counts."""
    rows = [list(r) for r in table]
    if not rows:
        return None
    n = sum(rows[0])
    if n < 2 or any(sum(r) != n for r in rows):
        raise ValueError("every subject needs the same number (>= 2) of ratings")
    subjects = len(rows)
    categories = len(rows[0])
    p_j = [sum(r[j] for r in rows) / (subjects * n) for j in range(categories)]
    p_i = [(sum(c * c for c in r) - n) / (n * (n - 1)) for r in rows]
    p_bar = sum(p_i) / subjects
    p_e = sum(p * p for p in p_j)
    if p_e == 1:
        return None
    return (p_bar - p_e) / (1 - p_e)

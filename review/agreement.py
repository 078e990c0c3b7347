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


def cohen_kappa(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Cohen's kappa between two raters over ``pairs`` (one (rater A, rater B) label pair per
    subject they both rated). Returns None when kappa is undefined: no pairs, or chance
    agreement of 1 (both raters always gave the same single label)."""
    n = len(pairs)
    if n == 0:
        return None
    labels = sorted({label for pair in pairs for label in pair})
    observed = sum(1 for a, b in pairs if a == b) / n
    expected = sum(
        (sum(1 for a, _ in pairs if a == label) / n) * (sum(1 for _, b in pairs if b == label) / n)
        for label in labels
    )
    if expected == 1:
        return None
    return (observed - expected) / (1 - expected)

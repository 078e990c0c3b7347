"""Inter-rater agreement, as pure functions over vote tables, or over how many subjects had each
row of the table (what the database counts for a campaign, ``review.stats`` and
``review.dashboard.queries``)."""

from collections import Counter
from collections.abc import Mapping, Sequence
from fractions import Fraction


def fleiss_kappa(table: Sequence[Sequence[int]]) -> float | None:
    """Fleiss' kappa for ``table``: one row per subject (rewrite), one column per category
    (valid, invalid), each cell the number of raters who chose it. Every row must have the same
    number of raters (at least 2). Returns None when kappa is undefined (no subjects, or all
    votes in one category, so chance agreement is 1).

    Raises ValueError for rows of different rater counts."""
    return fleiss_kappa_of_counts(Counter(tuple(row) for row in table))


def fleiss_kappa_of_counts(rows: Mapping[tuple[int, ...], int]) -> float | None:
    """Fleiss' kappa of the table that has ``rows[row]`` subjects rating ``row`` (for example
    {(4, 0): 10, (3, 1): 5}: ten unanimous panels of four and five 3-1 ones), as
    ``fleiss_kappa``. Computed in exact fractions and rounded once at the end, so neither the
    order of the subjects nor their number changes a digit.

    Raises ValueError for rows of different rater counts or lengths."""
    rows = {tuple(row): subjects for row, subjects in rows.items() if subjects}
    if not rows:
        return None
    first = next(iter(rows))
    n, categories = sum(first), len(first)
    if n < 2 or any(sum(row) != n or len(row) != categories for row in rows):
        raise ValueError("every subject needs the same number (>= 2) of ratings")
    subjects = sum(rows.values())
    ratings = subjects * n
    p_e = sum(
        Fraction(sum(row[j] * k for row, k in rows.items()), ratings) ** 2
        for j in range(categories)
    )
    if p_e == 1:
        return None
    # The mean over subjects of (sum of squared cells - n) / (n (n - 1)).
    squares = sum(k * sum(c * c for c in row) for row, k in rows.items())
    p_bar = Fraction(squares - ratings, ratings * (n - 1))
    return float((p_bar - p_e) / (1 - p_e))


def cohen_kappa(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Cohen's kappa between two raters over ``pairs`` (one (rater A, rater B) label pair per
    subject they both rated). Returns None when kappa is undefined: no pairs, or chance
    agreement of 1 (both raters always gave the same single label)."""
    return cohen_kappa_of_counts(Counter(pairs))


def cohen_kappa_of_counts(table: Mapping[tuple[str, str], int]) -> float | None:
    """Cohen's kappa from two raters' contingency table ({(label A, label B): subjects}), as
    ``cohen_kappa`` of the pairs it counts (the same arithmetic, so the same float)."""
    n = sum(table.values())
    if n == 0:
        return None
    labels = sorted({label for pair, k in table.items() if k for label in pair})
    observed = sum(k for (a, b), k in table.items() if a == b) / n
    expected = sum(
        (sum(k for (a, _), k in table.items() if a == label) / n)
        * (sum(k for (_, b), k in table.items() if b == label) / n)
        for label in labels
    )
    if expected == 1:
        return None
    return (observed - expected) / (1 - expected)

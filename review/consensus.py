"""The consensus policy, as one pure function."""

from enum import StrEnum


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    NO_CONSENSUS = "no_consensus"


def consensus(
    *, valid: int, invalid: int, panel_size: int, threshold: int, early: bool = False
) -> Outcome | None:
    """The outcome of a panel with ``valid`` and ``invalid`` votes cast so far, or None while it
    is undecided.

    Once every ballot is cast: ``valid >= threshold`` -> accepted, ``invalid >= threshold`` ->
    rejected, otherwise no consensus. With ``early``, decide as soon as the remaining votes can
    no longer change the outcome. ``threshold`` must be a strict majority of ``panel_size``.

    Raises ValueError for impossible counts."""
    if not (panel_size / 2 < threshold <= panel_size):
        raise ValueError("threshold must be a strict majority of the panel")
    if valid < 0 or invalid < 0 or valid + invalid > panel_size:
        raise ValueError("vote counts do not fit the panel")
    pending = panel_size - valid - invalid
    if pending == 0 or early:
        if valid >= threshold:
            return Outcome.ACCEPTED
        if invalid >= threshold:
            return Outcome.REJECTED
        if pending == 0:
            return Outcome.NO_CONSENSUS
        # Early: no consensus is certain once neither side can reach the threshold.
        if valid + pending < threshold and invalid + pending < threshold:
            return Outcome.NO_CONSENSUS
    return None

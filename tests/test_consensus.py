"""The consensus policy over every vote combination of a 4-panel with threshold 3."""

import itertools

import pytest

from review.consensus import Outcome, consensus

ALL_16 = list(itertools.product(["valid", "invalid"], repeat=4))


def expected(votes: tuple[str, ...]) -> Outcome:
    valid = votes.count("valid")
    if valid >= 3:
        return Outcome.ACCEPTED
    if 4 - valid >= 3:
        return Outcome.REJECTED
    return Outcome.NO_CONSENSUS


def test_there_are_sixteen_combinations():
    assert len(set(ALL_16)) == 16


@pytest.mark.parametrize("votes", ALL_16, ids=["".join(v[0] for v in vs) for vs in ALL_16])
def test_every_complete_panel(votes):
    valid = votes.count("valid")
    outcome = consensus(valid=valid, invalid=4 - valid, panel_size=4, threshold=3)
    assert outcome == expected(votes)
    # The table, written out: 4 or 3 valid accept, 4 or 3 invalid reject, 2-2 has no consensus.
    assert (
        outcome
        == {4: "accepted", 3: "accepted", 2: "no_consensus", 1: "rejected", 0: "rejected"}[valid]
    )


@pytest.mark.parametrize("votes", ALL_16, ids=["".join(v[0] for v in vs) for vs in ALL_16])
def test_incomplete_panels_wait_without_early_decision(votes):
    for cast in range(4):
        partial = votes[:cast]
        assert (
            consensus(
                valid=partial.count("valid"),
                invalid=partial.count("invalid"),
                panel_size=4,
                threshold=3,
            )
            is None
        )


@pytest.mark.parametrize("votes", ALL_16, ids=["".join(v[0] for v in vs) for vs in ALL_16])
def test_early_decision_never_contradicts_the_full_panel(votes):
    final = expected(votes)
    decided_at = None
    for cast in range(1, 5):
        partial = votes[:cast]
        outcome = consensus(
            valid=partial.count("valid"),
            invalid=partial.count("invalid"),
            panel_size=4,
            threshold=3,
            early=True,
        )
        if outcome is not None:
            assert outcome == final
            decided_at = decided_at or cast
    assert decided_at is not None
    # It decides as soon as the outcome is certain: after 3 unanimous votes, not 4.
    if votes[:3].count(votes[0]) == 3:
        assert decided_at == 3


def test_early_no_consensus_when_neither_side_can_reach_threshold():
    assert consensus(valid=2, invalid=2, panel_size=5, threshold=3, early=True) is None
    assert consensus(valid=2, invalid=2, panel_size=4, threshold=3, early=True) == "no_consensus"
    assert consensus(valid=1, invalid=1, panel_size=3, threshold=3, early=True) == "no_consensus"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"valid": 3, "invalid": 2, "panel_size": 4, "threshold": 3},
        {"valid": -1, "invalid": 0, "panel_size": 4, "threshold": 3},
        {"valid": 0, "invalid": 0, "panel_size": 4, "threshold": 2},
        {"valid": 0, "invalid": 0, "panel_size": 4, "threshold": 5},
    ],
)
def test_impossible_inputs_raise(kwargs):
    with pytest.raises(ValueError):
        consensus(**kwargs)

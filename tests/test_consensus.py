"""The consensus policy over every vote combination of a 4-panel with threshold 3."""

import itertools
from collections import Counter

import pytest

from core.errors import InvalidTransition
from review.consensus import Outcome, consensus
from review.services import ballot_cast

ALL_16 = list(itertools.product(["valid", "invalid"], repeat=4))


def expected(votes: tuple[str, ...]) -> Outcome:
    valid = votes.count("valid")
    if valid >= 3:
        return Outcome.ACCEPTED
    if 4 - valid >= 3:
        return Outcome.REJECTED
    return Outcome.NO_CONSENSUS


def test_the_sixteen_panels_split_five_accepted_five_rejected_six_without_consensus():
    # C(4,4) + C(4,3) = 5 orders accept, as many reject, and the C(4,2) = 6 splits do not decide.
    outcomes = Counter(
        consensus(valid=v.count("valid"), invalid=v.count("invalid"), panel_size=4, threshold=3)
        for v in ALL_16
    )
    assert outcomes == {"accepted": 5, "rejected": 5, "no_consensus": 6}


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


# --- other panel sizes and thresholds ---------------------------------------------------------
#
# Expected outcomes come from the rules as DESIGN.md states them, not from the function: a full
# panel accepts with ``threshold`` valid votes, rejects with ``threshold`` invalid ones and has
# no consensus otherwise; an incomplete panel waits, except with early decision, which decides
# as soon as every way the pending votes could still go leads to the same final outcome.

PANELS = [(5, 3), (3, 2), (4, 4)]


def final_outcome(valid: int, invalid: int, threshold: int) -> Outcome:
    if valid >= threshold:
        return Outcome.ACCEPTED
    if invalid >= threshold:
        return Outcome.REJECTED
    return Outcome.NO_CONSENSUS


def expected_outcome(
    valid: int, invalid: int, pending: int, threshold: int, early: bool
) -> Outcome | None:
    if pending == 0:
        return final_outcome(valid, invalid, threshold)
    if not early:
        return None
    possible = {
        final_outcome(valid + k, invalid + pending - k, threshold) for k in range(pending + 1)
    }
    return possible.pop() if len(possible) == 1 else None


def vote_states(panel_size: int) -> list[tuple[int, int, int]]:
    """Every (valid, invalid, pending) that fits the panel."""
    return [
        (v, i, panel_size - v - i) for v in range(panel_size + 1) for i in range(panel_size + 1 - v)
    ]


TABLE = [
    pytest.param(n, t, v, i, p, early, id=f"{t}of{n}-v{v}i{i}p{p}-{'early' if early else 'full'}")
    for n, t in PANELS
    for v, i, p in vote_states(n)
    for early in (False, True)
]


def test_the_table_covers_every_vote_state():
    # (n + 1)(n + 2) / 2 states per panel, each with and without early decision.
    assert len(TABLE) == 2 * (21 + 10 + 15)


@pytest.mark.parametrize(("panel_size", "threshold", "valid", "invalid", "pending", "early"), TABLE)
def test_other_panels_over_every_vote_state(panel_size, threshold, valid, invalid, pending, early):
    got = consensus(
        valid=valid, invalid=invalid, panel_size=panel_size, threshold=threshold, early=early
    )
    assert got == expected_outcome(valid, invalid, pending, threshold, early)


@pytest.mark.parametrize(
    ("panel_size", "threshold", "valid", "invalid", "early", "outcome"),
    [
        # 3 of 5: the fifth vote breaks a 2-2 tie; early decision waits on 2-2 but not on 3-0.
        (5, 3, 2, 2, False, None),
        (5, 3, 2, 2, True, None),
        (5, 3, 3, 2, False, "accepted"),
        (5, 3, 2, 3, False, "rejected"),
        (5, 3, 3, 0, True, "accepted"),
        (5, 3, 3, 0, False, None),
        (5, 3, 0, 3, True, "rejected"),
        # 2 of 3: two agreeing votes decide early; a 1-1 split waits for the third.
        (3, 2, 2, 0, True, "accepted"),
        (3, 2, 1, 1, True, None),
        (3, 2, 1, 2, False, "rejected"),
        # 4 of 4 (unanimity): one dissent settles "no consensus" once the other side is out of
        # reach too.
        (4, 4, 3, 1, False, "no_consensus"),
        (4, 4, 1, 0, True, None),
        (4, 4, 1, 1, True, "no_consensus"),
        (4, 4, 0, 1, True, None),
        (4, 4, 4, 0, False, "accepted"),
    ],
)
def test_other_panels_written_out(panel_size, threshold, valid, invalid, early, outcome):
    assert (
        consensus(
            valid=valid, invalid=invalid, panel_size=panel_size, threshold=threshold, early=early
        )
        == outcome
    )


@pytest.mark.parametrize(
    ("panel_size", "threshold"),
    [(5, 2), (3, 1), (4, 2), (6, 3), (5, 6), (3, 4), (1, 0), (0, 0), (4, -1), (2, 1)],
)
@pytest.mark.parametrize("early", [False, True])
def test_thresholds_that_are_not_a_strict_majority_raise(panel_size, threshold, early):
    with pytest.raises(ValueError, match="strict majority"):
        consensus(valid=0, invalid=0, panel_size=panel_size, threshold=threshold, early=early)


@pytest.mark.parametrize(("valid", "invalid"), [(4, 2), (6, 0), (0, 6), (-1, 0), (0, -1), (3, 3)])
def test_counts_that_do_not_fit_a_five_panel_raise(valid, invalid):
    with pytest.raises(ValueError, match="do not fit"):
        consensus(valid=valid, invalid=invalid, panel_size=5, threshold=3)


# --- end to end: a 3-of-5 campaign ------------------------------------------------------------


def cast(ballot, decision: str):
    return ballot_cast(
        ballot_id=ballot.pk,
        actor=ballot.reviewer,
        decision=decision,
        reasons=[] if decision == "valid" else ["unsolvable"],
    )


@pytest.mark.parametrize(
    ("votes", "outcome"),
    [
        (["valid", "invalid", "valid", "invalid", "valid"], "accepted"),
        (["invalid", "valid", "invalid", "valid", "invalid"], "rejected"),
        (["valid", "valid", "valid", "invalid", "invalid"], "accepted"),
    ],
)
def test_a_five_panel_is_decided_by_its_fifth_vote(make_world, votes, outcome):
    world = make_world(slug="five", panel_size=5, accept_threshold=3, reviewers=6)
    world.add_seeds(1)
    rewrite = world.submitted()
    ballots = list(rewrite.ballots.select_related("reviewer").order_by("id"))
    assert len(ballots) == 5 and rewrite.author not in {b.reviewer for b in ballots}
    for ballot, decision in zip(ballots[:4], votes[:4], strict=True):
        assert cast(ballot, decision).outcome is None
        rewrite.refresh_from_db()
        assert rewrite.status == "submitted"
    assert cast(ballots[4], votes[4]).outcome == outcome
    rewrite.refresh_from_db()
    assert rewrite.status == outcome
    assert set(rewrite.ballots.values_list("status", flat=True)) == {"cast"}


def test_a_five_panel_with_early_decision_is_decided_by_its_third_agreeing_vote(make_world):
    world = make_world(
        slug="early5", panel_size=5, accept_threshold=3, reviewers=6, early_decision=True
    )
    world.add_seeds(3)

    # Three unanimous votes decide at the third vote; the last two ballots are closed.
    rewrite = world.submitted()
    ballots = list(rewrite.ballots.select_related("reviewer").order_by("id"))
    assert cast(ballots[0], "invalid").outcome is None
    assert cast(ballots[1], "invalid").outcome is None
    assert cast(ballots[2], "invalid").outcome == "rejected"
    rewrite.refresh_from_db()
    assert rewrite.status == "rejected"
    assert [b.status for b in rewrite.ballots.order_by("id")] == ["cast"] * 3 + ["closed"] * 2
    with pytest.raises(InvalidTransition):
        cast(ballots[3], "valid")

    # 2-1 could still go either way; the third valid vote (the fourth cast) settles it.
    rewrite = world.submitted(world.annotators[1])
    ballots = list(rewrite.ballots.select_related("reviewer").order_by("id"))
    assert cast(ballots[0], "valid").outcome is None
    assert cast(ballots[1], "invalid").outcome is None
    assert cast(ballots[2], "valid").outcome is None
    assert cast(ballots[3], "valid").outcome == "accepted"
    last = ballots[4]
    last.refresh_from_db()
    assert last.status == "closed"

    # A 2-2 split waits for the fifth vote even with early decision.
    rewrite = world.submitted(world.annotators[2])
    ballots = list(rewrite.ballots.select_related("reviewer").order_by("id"))
    for ballot, decision in zip(ballots[:4], ["valid", "invalid", "invalid", "valid"], strict=True):
        assert cast(ballot, decision).outcome is None
    assert cast(ballots[4], "invalid").outcome == "rejected"

import pytest

from review.agreement import fleiss_kappa


def test_fleiss_kappa_matches_hand_computation():
    # Five rewrites, four reviewers each, columns = (valid, invalid).
    table = [[4, 0], [3, 1], [2, 2], [0, 4], [4, 0]]
    # By hand: N=5, n=4. p_valid = 13/20 = 0.65, p_invalid = 0.35.
    # P_i = (sum n_ij^2 - n) / (n(n-1)): rows give 1, 0.5, 1/3, 1, 1 -> P_bar = 3.8333/5 = 0.76667
    # P_e = 0.65^2 + 0.35^2 = 0.545; kappa = (0.76667 - 0.545) / (1 - 0.545) = 0.48718
    assert fleiss_kappa(table) == pytest.approx(0.487179, abs=1e-6)


def test_fleiss_kappa_classic_example():
    # Perfect agreement with both categories used gives 1; all split gives a negative value.
    assert fleiss_kappa([[4, 0], [0, 4]]) == pytest.approx(1.0)
    assert fleiss_kappa([[2, 2], [2, 2]]) == pytest.approx(-1 / 3)


def test_fleiss_kappa_undefined_cases():
    assert fleiss_kappa([]) is None
    assert fleiss_kappa([[4, 0], [4, 0]]) is None  # chance agreement is 1
    with pytest.raises(ValueError):
        fleiss_kappa([[4, 0], [2, 1]])

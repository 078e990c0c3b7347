import pytest

from review.agreement import cohen_kappa, fleiss_kappa


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


def test_cohen_kappa_matches_hand_computation():
    # 10 rewrites both reviewers voted on: agree valid 5, agree invalid 2, A valid/B invalid 2,
    # A invalid/B valid 1. p_o = 7/10 = 0.7. A: valid 7/10, invalid 3/10; B: valid 6/10,
    # invalid 4/10. p_e = 0.7*0.6 + 0.3*0.4 = 0.54. kappa = (0.7 - 0.54) / (1 - 0.54) = 0.347826
    pairs = (
        [("valid", "valid")] * 5
        + [("invalid", "invalid")] * 2
        + [("valid", "invalid")] * 2
        + [("invalid", "valid")]
    )
    assert cohen_kappa(pairs) == pytest.approx(0.347826, abs=1e-6)
    assert cohen_kappa([(b, a) for a, b in pairs]) == pytest.approx(0.347826, abs=1e-6)


def test_cohen_kappa_extremes_and_undefined():
    assert cohen_kappa([("valid", "valid"), ("invalid", "invalid")]) == pytest.approx(1.0)
    assert cohen_kappa([("valid", "invalid"), ("invalid", "valid")]) == pytest.approx(-1.0)
    assert cohen_kappa([]) is None
    assert cohen_kappa([("valid", "valid")] * 3) is None

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from trpo.theory import kl, kl_max, kl_mean, tv, tv_max


def test_known_values():
    p = np.array([[0.5, 0.5], [1.0, 0.0], [0.2, 0.8]])
    q = np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]])
    np.testing.assert_allclose(tv(p, q), [0.4, 0.5, 0.0])
    expected_kl = [0.5 * np.log(0.5 / 0.9) + 0.5 * np.log(0.5 / 0.1), np.log(2.0), 0.0]
    np.testing.assert_allclose(kl(p, q), expected_kl)
    assert tv_max(p, q) == pytest.approx(0.5)
    assert kl_max(p, q) == pytest.approx(max(expected_kl))
    # weights are normalised: visitation-like weights summing to 10 give the same mean
    w = np.array([1.0, 3.0, 6.0])
    assert kl_mean(p, q, w) == pytest.approx(np.dot(w, expected_kl) / 10.0)
    assert kl_mean(p, q, w) == pytest.approx(kl_mean(p, q, w / 10.0))


def test_zero_conventions_and_infinity():
    p = np.array([[1.0, 0.0]])
    q = np.array([[0.0, 1.0]])
    assert kl(q, q)[0] == 0.0  # 0 log 0 = 0
    assert np.isinf(kl_max(p, q))  # p > 0 = q
    # a state with zero weight is ignored even if its KL is infinite
    P = np.array([[0.5, 0.5], [1.0, 0.0]])
    Q = np.array([[0.5, 0.5], [0.0, 1.0]])
    assert kl_mean(P, Q, [1.0, 0.0]) == 0.0


def test_argument_errors():
    with pytest.raises(ValueError, match="same shape"):
        tv(np.ones((2, 2)) / 2, np.ones((2, 3)) / 3)
    with pytest.raises(ValueError, match="weights"):
        kl_mean(np.ones((2, 2)) / 2, np.ones((2, 2)) / 2, [1.0])
    with pytest.raises(ValueError, match="non-negative"):
        kl_mean(np.ones((2, 2)) / 2, np.ones((2, 2)) / 2, [1.0, -1.0])


def _simplex_rows(n_rows, n_cols):
    return arrays(np.float64, (n_rows, n_cols), elements=st.floats(1e-3, 1.0)).map(
        lambda x: x / x.sum(axis=1, keepdims=True)
    )


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.data())
def test_pinsker_and_the_papers_relaxation(data):
    """TRPO uses D_TV^2 <= D_KL (Pollard 2000); Pinsker gives the sharper D_TV^2 <= D_KL / 2."""
    n_cols = data.draw(st.integers(2, 5))
    p = data.draw(_simplex_rows(3, n_cols))
    q = data.draw(_simplex_rows(3, n_cols))
    assert np.all(tv(p, q) ** 2 <= kl(p, q) / 2 + 1e-12)
    assert tv_max(p, q) ** 2 <= kl_max(p, q) + 1e-12  # the max-over-states version used in eq. 9
    assert 0.0 <= tv_max(p, q) <= 1.0
    assert kl_max(p, p) == pytest.approx(0.0, abs=1e-15)

import numpy as np
import pytest
import torch

from trpo.functional import conjugate_gradient


@pytest.mark.parametrize("n,seed", [(2, 0), (5, 1), (20, 2), (50, 3)])
def test_cg_matches_numpy_solve_on_random_spd(n, seed):
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(n, n))
    A = M @ M.T + 0.5 * np.eye(n)            # symmetric positive definite
    b = rng.normal(size=n)
    At = torch.tensor(A)
    res = conjugate_gradient(lambda v: At @ v, torch.tensor(b), iters=4 * n, tol=1e-24)
    np.testing.assert_allclose(res.x.numpy(), np.linalg.solve(A, b), rtol=1e-6, atol=1e-8)
    assert res.residual < 1e-6


def test_cg_exact_in_n_steps_for_small_system():
    A = torch.tensor([[4.0, 1.0], [1.0, 3.0]], dtype=torch.float64)
    b = torch.tensor([1.0, 2.0], dtype=torch.float64)
    res = conjugate_gradient(lambda v: A @ v, b, iters=2, tol=0.0)
    np.testing.assert_allclose(res.x.numpy(), [1 / 11, 7 / 11], rtol=1e-12)  # Nocedal & Wright example


def test_cg_stops_on_nonpositive_curvature():
    A = -torch.eye(3, dtype=torch.float64)   # not positive definite: p^T A p < 0
    res = conjugate_gradient(lambda v: A @ v, torch.ones(3, dtype=torch.float64), iters=10)
    assert res.iterations == 0 and torch.all(res.x == 0)

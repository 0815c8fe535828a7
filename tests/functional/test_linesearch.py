import torch

from trpo.functional import backtracking_line_search, natural_step


def test_accepts_first_step_with_kl_within_delta_and_positive_gain():
    calls = []

    def evaluate(step):  # KL grows like |s|^2, gain like |s| - |s|^2
        s = step.abs().sum().item()
        calls.append(s)
        return s - s * s, 0.5 * s * s

    res = backtracking_line_search(evaluate, torch.tensor([1.0]), max_kl=0.1, max_backtracks=10, shrink=0.5)
    assert res.accepted
    s = res.step_fraction
    assert 0.5 * s * s <= 0.1 and s - s * s > 0
    assert res.backtracks == len(calls) - 1 == 2  # 1.0 (gain 0), 0.5 (kl 0.125), then 0.25


def test_rejects_when_no_step_improves():
    res = backtracking_line_search(lambda s: (-1.0, 0.0), torch.tensor([1.0]), max_kl=1.0, max_backtracks=5)
    assert not res.accepted and res.step_fraction == 0.0 and res.backtracks == 5


def test_rejects_nan():
    res = backtracking_line_search(lambda s: (float("nan"), float("nan")), torch.tensor([1.0]), 1.0, 3)
    assert not res.accepted


def test_natural_step_hits_the_quadratic_trust_region():
    """On a quadratic model: beta = sqrt(2 delta / g^T F^-1 g) and 1/2 d^T F d = delta exactly."""
    F = torch.tensor([[2.0, 0.3], [0.3, 1.0]], dtype=torch.float64)
    g = torch.tensor([1.0, -2.0], dtype=torch.float64)
    nat = natural_step(g, lambda v: F @ v, max_kl=0.01, cg_iters=10)
    x = torch.linalg.solve(F, g)
    assert torch.allclose(nat.direction, x, atol=1e-10)
    assert abs(nat.step_size - (2 * 0.01 / float(g @ x)) ** 0.5) < 1e-10
    assert abs(0.5 * float(nat.step @ F @ nat.step) - 0.01) < 1e-12

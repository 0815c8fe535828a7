import numpy as np
import pytest
import torch

from trpo.functional import discounted_returns, gae, n_step_advantages


def brute_force_gae(r, v, nv, term, trunc, gamma, lam):
    """A_t = sum_{l>=0} (gamma lam)^l delta_{t+l}, summed explicitly until the episode ends."""
    T, N = r.shape
    out = np.zeros((T, N))
    for n in range(N):
        for t in range(T):
            total, w = 0.0, 1.0
            for k in range(t, T):
                delta = r[k, n] + gamma * (0.0 if term[k, n] else nv[k, n]) - v[k, n]
                total += w * delta
                if term[k, n] or trunc[k, n]:
                    break
                w *= gamma * lam
            out[t, n] = total
    return out


def random_case(seed, T=12, N=3, consistent=False):
    rng = np.random.default_rng(seed)
    r, v, nv = rng.normal(size=(3, T, N))
    term = rng.random((T, N)) < 0.15
    trunc = (rng.random((T, N)) < 0.15) & ~term
    if consistent:  # V(s_{t+1}) is the next row's value inside an episode, as in a real batch
        inside = ~(term | trunc)[:-1]
        nv[:-1][inside] = v[1:][inside]
    return r, v, nv, term, trunc


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("lam", [0.0, 0.5, 0.95, 1.0])
def test_gae_matches_brute_force_with_truncation_and_termination(seed, lam):
    r, v, nv, term, trunc = random_case(seed)
    t = lambda x: torch.tensor(x, dtype=torch.float64)
    got = gae(t(r), t(v), t(nv), torch.tensor(term), torch.tensor(term | trunc), 0.97, lam)
    np.testing.assert_allclose(got.numpy(), brute_force_gae(r, v, nv, term, trunc, 0.97, lam), rtol=1e-10, atol=1e-10)


def test_gae_truncation_bootstraps_and_termination_does_not():
    r = torch.tensor([[1.0], [1.0]])
    v = torch.tensor([[0.0], [0.0]])
    nv = torch.tensor([[5.0], [7.0]])
    # step 0 truncated: bootstrap gamma * V(final obs) = 0.5 * 5; step 1 terminated: no bootstrap
    adv = gae(r, v, nv, torch.tensor([[False], [True]]), torch.tensor([[True], [True]]), 0.5, 0.9)
    assert adv[0, 0].item() == pytest.approx(1.0 + 0.5 * 5.0)
    assert adv[1, 0].item() == pytest.approx(1.0)


def test_discounted_returns_brute_force():
    rng = np.random.default_rng(3)
    r = rng.normal(size=(10, 2))
    done = rng.random((10, 2)) < 0.2
    got = discounted_returns(torch.tensor(r), torch.tensor(done), 0.9).numpy()
    for n in range(2):
        for t in range(10):
            exp, w = 0.0, 1.0
            for k in range(t, 10):
                exp += w * r[k, n]
                if done[k, n]:
                    break
                w *= 0.9
            assert got[t, n] == pytest.approx(exp)


def test_gae_lambda_one_is_returns_minus_values():
    r, v, nv, term, trunc = random_case(7, consistent=True)
    term = term | trunc  # no truncation: every end is terminal
    t = lambda x: torch.tensor(x, dtype=torch.float64)
    # bootstrap the batch end with next_values at the last row
    boot = np.zeros_like(r)
    boot[-1] = np.where(term[-1], 0.0, nv[-1])
    ret = discounted_returns(t(r), torch.tensor(term), 0.9, t(boot))
    adv = gae(t(r), t(v), t(nv), torch.tensor(term), torch.tensor(term), 0.9, 1.0)
    np.testing.assert_allclose(adv.numpy(), (ret - t(v)).numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("n", [1, 3, 50])
def test_n_step_advantages(n):
    r, v, nv, term, trunc = random_case(11, T=15, N=2, consistent=True)
    t = lambda x: torch.tensor(x, dtype=torch.float64)
    got = n_step_advantages(t(r), t(v), t(nv), torch.tensor(term), torch.tensor(term | trunc), 0.9, n).numpy()
    # brute force: n rewards (or fewer at an episode end / batch end), then bootstrap
    T, N = r.shape
    for e in range(N):
        for s in range(T):
            total, k = 0.0, s
            for i in range(n):
                k = s + i
                total += 0.9**i * r[k, e]
                if term[k, e] or trunc[k, e] or k == T - 1 or i == n - 1:
                    if not term[k, e]:
                        total += 0.9 ** (i + 1) * nv[k, e]
                    break
            assert got[s, e] == pytest.approx(total - v[s, e], abs=1e-10)
    if n == 1:  # one-step TD residual
        td = gae(t(r), t(v), t(nv), torch.tensor(term), torch.tensor(term | trunc), 0.9, 0.0)
        np.testing.assert_allclose(got, td.numpy(), atol=1e-10)
    if n == 50:  # longer than the batch: GAE(lambda=1)
        mc = gae(t(r), t(v), t(nv), torch.tensor(term), torch.tensor(term | trunc), 0.9, 1.0)
        np.testing.assert_allclose(got, mc.numpy(), atol=1e-10)

"""Running statistics: the batched reward scaling equals the step-by-step definition."""
import numpy as np
import pytest

from trpo.nets.normalize import RewardScaler, RunningMeanStd


def _reference_scale(rewards, done, gamma, rms_mean, rms_var, rms_count, ret):
    """r_t / std(R) step by step: R <- gamma R + r_t, statistics over every R seen so far (kept as
    the full list of values, no merge formula), R <- 0 where the episode ended."""
    seen = []
    out = np.empty_like(rewards)
    n0, m0, v0 = rms_count, rms_mean, rms_var
    for t in range(len(rewards)):
        ret = ret * gamma + rewards[t]
        seen.extend(ret)
        x = np.asarray(seen)
        n = n0 + len(x)
        mean = (n0 * m0 + x.sum()) / n
        var = (n0 * (v0 + (m0 - mean) ** 2) + np.square(x - mean).sum()) / n
        out[t] = rewards[t] / np.sqrt(var + 1e-8)
        ret = np.where(done[t], 0.0, ret)
    return out, ret, mean, var, n


@pytest.mark.parametrize("n_envs", [5, 12])  # the per-env Python recursion (<= 8 envs) and numpy's per step
@pytest.mark.parametrize("prior", [False, True])
def test_batched_reward_scaling_matches_the_step_by_step_definition(prior, n_envs):
    rng = np.random.default_rng(0)
    T, N, gamma = 64, n_envs, 0.99
    scaler = RewardScaler(N, gamma, True)
    if prior:  # statistics and running returns left by earlier batches
        scaler(rng.normal(3.0, 2.0, (30, N)), rng.random((30, N)) < 0.1)
    m0, v0, c0, ret0 = float(scaler.rms.mean), float(scaler.rms.var), scaler.rms.count, scaler.ret.copy()
    rewards = rng.normal(1.0, 1.0, (T, N)) + 100.0 * (rng.random((T, N)) < 0.02)
    done = rng.random((T, N)) < 0.05
    want, ret, mean, var, n = _reference_scale(rewards, done, gamma, m0, v0, c0, ret0)
    got = scaler(rewards, done)
    np.testing.assert_allclose(got, want, rtol=1e-10)
    np.testing.assert_allclose(scaler.ret, ret, rtol=1e-12)
    np.testing.assert_allclose([scaler.rms.mean, scaler.rms.var, scaler.rms.count], [mean, var, n], rtol=1e-10)


def test_update_sequence_equals_one_update_per_step():
    rng = np.random.default_rng(1)
    xs = rng.normal(50.0, 0.5, (40, 8))  # a mean far from the prior's: the shift keeps precision
    a, b = RunningMeanStd(()), RunningMeanStd(())
    var_each = []
    for x in xs:
        a.update(x)
        var_each.append(a.var)
    np.testing.assert_allclose(b.update_sequence(xs), var_each, rtol=1e-9)
    np.testing.assert_allclose([b.mean, b.var, b.count], [a.mean, a.var, a.count], rtol=1e-12)


def test_disabled_scaler_is_the_identity():
    r = np.arange(6.0).reshape(3, 2)
    assert RewardScaler(2, 0.99, False)(r, np.zeros((3, 2), bool)) is r



@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_few_envs_returns_are_numpys_per_step_recursion_bit_for_bit(dtype):
    """The few-env path (Python floats per env) against numpy's recursion per step (the path of
    more than 8 envs): the same scaled rewards, running returns and statistics, bit for bit."""
    rng = np.random.default_rng(3)
    few, rms, ret = RewardScaler(3, 0.995, True), RunningMeanStd(()), np.zeros(3)
    for _ in range(3):
        r = (rng.normal(0.5, 2.0, (50, 3)) * 10.0 ** rng.integers(-3, 3, (50, 3))).astype(dtype)
        done = rng.random((50, 3)) < 0.08
        rets = np.empty((50, 3))
        for t in range(50):
            ret = ret * 0.995 + r[t]
            rets[t] = ret
            ret = np.where(done[t], 0.0, ret)
        want = r / np.sqrt(rms.update_sequence(rets) + 1e-8)[:, None]
        got = few(r, done)
        assert got.tobytes() == want.tobytes() and few.ret.tobytes() == ret.tobytes()
        assert (few.rms.mean, few.rms.var, few.rms.count) == (rms.mean, rms.var, rms.count)

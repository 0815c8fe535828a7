"""Property-based tests (hypothesis): config parsing, GAE and CG on random inputs."""
import math
import tomllib

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trpo.config import CHOICES, FIELDS, RANGES, Config, from_dict, parse_overrides
from trpo.errors import ConfigError
from trpo.functional import gae
from trpo.functional.cg import conjugate_gradient

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_any_value = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
                       st.text(max_size=12), st.lists(st.integers(-5, 300), max_size=4),
                       st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
_keys = st.one_of(st.sampled_from(sorted(FIELDS)), st.text(max_size=15))


@FAST
@given(st.dictionaries(_keys, _any_value, max_size=6))
def test_random_config_dicts_raise_only_config_error(d):
    try:
        cfg = from_dict(d)
    except ConfigError as e:
        msg = str(e)
        assert "\n" not in msg and msg
        return
    assert isinstance(cfg, Config)


@FAST
@given(st.dictionaries(st.sampled_from(sorted(FIELDS)), st.text(max_size=10), max_size=4))
def test_random_set_strings_raise_only_config_error(d):
    pairs = [f"{k}={v}" for k, v in d.items()]
    try:
        from_dict(parse_overrides(pairs))
    except ConfigError as e:
        assert "\n" not in str(e)


def _in_range(name):
    lo, hi, lo_in, hi_in = RANGES[name]
    ftype = FIELDS[name].type
    if ftype == "int":
        lo_i = int(lo) if lo_in else int(lo) + 1
        hi_i = min(int(hi) if hi is not None else 10**6, 10**6)
        return st.integers(lo_i, hi_i if hi is None or hi_in else hi_i - 1)
    top = hi if hi is not None else 1e6
    return st.floats(lo, top, exclude_min=not lo_in, exclude_max=(hi is not None and not hi_in),
                     allow_nan=False, allow_infinity=False)


_valid = st.fixed_dictionaries({}, optional={
    **{n: _in_range(n) for n in RANGES if n not in ("batch_steps", "num_envs")},
    **{n: st.sampled_from(c) for n, c in CHOICES.items() if n != "sampler"},  # the sampler depends on the algo
    "sampler": st.sampled_from(["single-path"]),
    "normalize_obs": st.booleans(), "hidden": st.lists(st.integers(1, 512), min_size=1, max_size=3),
    "env_id": st.text(min_size=1, max_size=20).filter(lambda s: s.isprintable()),
})


@FAST
@given(_valid, st.integers(1, 16), st.integers(1, 64))
def test_valid_configs_roundtrip_through_toml(d, num_envs, per_env):
    if d.get("policy", "mlp") != "mlp":  # recurrent: an algorithm with a recurrent version, chunks that fit
        d = {**d, "algo": "trpo", "backend": "local", "seq_len": per_env}
    cfg = from_dict({**d, "num_envs": num_envs, "batch_steps": num_envs * per_env})
    again = from_dict(tomllib.loads(cfg.to_toml()))
    assert again == cfg


@pytest.mark.parametrize("key, value, allowed", [
    ("max_kl", -0.01, "(0, inf)"), ("gamma", 1.0, "[0, 1)"), ("batch_steps", 0, "[1, inf)"),
    ("gae_lambda", 1.5, "[0, 1]"), ("ls_shrink", 1.0, "(0, 1)"), ("max_kl", float("nan"), "(0, inf)"),
])
def test_out_of_range_names_key_and_range(key, value, allowed):
    with pytest.raises(ConfigError) as e:
        from_dict({key: value})
    assert f"'{key}'" in str(e.value) and allowed in str(e.value)


def test_unknown_key_and_wrong_type():
    with pytest.raises(ConfigError, match="unknown config key 'gama'.*'gamma'"):
        from_dict({"gama": 0.9})
    with pytest.raises(ConfigError, match="'gamma': expected float"):
        from_dict({"gamma": "0.9x"})
    with pytest.raises(ConfigError, match="'batch_steps': expected int"):
        from_dict({"batch_steps": 1.5})


# --- GAE ---------------------------------------------------------------------------------------
def _gae_brute(r, v, nv, term, done, gamma, lam):
    """A_t = sum_l (gamma lambda)^l delta_{t+l}, summed term by term until the episode ends."""
    T, N = r.shape
    out = np.zeros((T, N))
    for i in range(N):
        for t in range(T):
            total, w = 0.0, 1.0
            for k in range(t, T):
                delta = r[k, i] + gamma * (1 - term[k, i]) * nv[k, i] - v[k, i]
                total += w * delta
                if done[k, i]:
                    break
                w *= gamma * lam
            out[t, i] = total
    return out


_gae_inputs = st.tuples(st.integers(1, 12), st.integers(1, 3), st.integers(0, 2**31 - 1),
                        st.floats(0.0, 0.999), st.floats(0.0, 1.0))


@FAST
@given(_gae_inputs)
def test_gae_matches_brute_force(args):
    T, N, seed, gamma, lam = args
    rng = np.random.default_rng(seed)
    r, v, nv = (rng.normal(size=(T, N)) * 3 for _ in range(3))
    term = rng.random((T, N)) < 0.2
    done = term | (rng.random((T, N)) < 0.2)
    got = gae(*(torch.tensor(x, dtype=torch.float64) for x in (r, v, nv)), torch.tensor(term),
              torch.tensor(done), gamma, lam).numpy()
    np.testing.assert_allclose(got, _gae_brute(r, v, nv, term, done, gamma, lam), rtol=1e-9, atol=1e-9)


@FAST
@given(_gae_inputs)
def test_gae_lambda_one_is_discounted_return_minus_values(args):
    """Without truncation, lambda = 1: A_t = sum_l gamma^l r_{t+l} (+ gamma^{T-t} V(s_T) at the batch
    end) - V(s_t), with next_values[t] = values[t+1] inside an episode."""
    T, N, seed, gamma, _ = args
    rng = np.random.default_rng(seed)
    r, v = rng.normal(size=(T, N)), rng.normal(size=(T, N))
    v_last = rng.normal(size=N)
    term = rng.random((T, N)) < 0.25
    nv = np.concatenate([v[1:], v_last[None]])
    ret = np.zeros((T, N))
    for i in range(N):
        for t in range(T):
            g, w = 0.0, 1.0
            for k in range(t, T):
                g += w * r[k, i]
                if term[k, i]:
                    break
                w *= gamma
            else:
                g += w * v_last[i]
            ret[t, i] = g
    got = gae(*(torch.tensor(x, dtype=torch.float64) for x in (r, v, nv)), torch.tensor(term),
              torch.tensor(term), gamma, 1.0).numpy()
    np.testing.assert_allclose(got, ret - v, rtol=1e-9, atol=1e-9)


# --- CG ------------------------------------------------------------------------------------------
@FAST
@given(st.integers(1, 12), st.integers(0, 2**31 - 1), st.floats(0.05, 5.0))
def test_cg_solves_random_spd_systems(n, seed, damping):
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(n, n))
    A = M @ M.T + damping * np.eye(n)
    b = rng.normal(size=n)
    At = torch.tensor(A)
    res = conjugate_gradient(lambda p: At @ p, torch.tensor(b), iters=4 * n + 10, tol=1e-24)
    x_ref = np.linalg.solve(A, b)
    assert torch.isfinite(res.x).all()
    np.testing.assert_allclose(A @ res.x.numpy(), b, atol=1e-6 * max(1.0, np.abs(b).max()) * np.linalg.cond(A) ** 0.5)
    if np.linalg.cond(A) < 1e6:
        np.testing.assert_allclose(res.x.numpy(), x_ref, rtol=1e-5, atol=1e-5 * np.abs(x_ref).max())


@FAST
@given(st.integers(1, 8), st.integers(0, 2**31 - 1),
       st.sampled_from(["nan_b", "inf_b", "nan_Av", "neg", "zero"]))
def test_cg_never_divides_by_bad_curvature(n, seed, fault):
    """Non-finite inputs or a non-positive curvature: CG stops; its x is the last good iterate."""
    rng = np.random.default_rng(seed)
    b = torch.tensor(rng.normal(size=n))
    A = torch.eye(n, dtype=torch.float64)
    Avp = lambda p: A @ p  # noqa: E731
    if fault == "nan_b":
        b[0] = math.nan
    elif fault == "inf_b":
        b[0] = math.inf
    elif fault == "nan_Av":
        Avp = lambda p: p * math.nan  # noqa: E731
    elif fault == "neg":
        Avp = lambda p: -p  # noqa: E731
    else:
        Avp = lambda p: 0 * p  # noqa: E731
    res = conjugate_gradient(Avp, b, iters=10)
    assert res.iterations == 0 and torch.equal(res.x, torch.zeros_like(b))

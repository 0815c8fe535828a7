"""EnvPool's ports of Gymnasium's MuJoCo v5 envs, as trpo sees them (``vector_mode = "envpool"``,
``trpo.envs.envpool_env.EnvPoolVectorEnv``), against Gymnasium's own envs.

    python benchmarks/envpool_port.py                      # the five envs below, ~1-2 min of one core
    python benchmarks/envpool_port.py --envs Hopper-v5 --steps 4000

Checks, per env (each row of the table: same / differs, with the numbers):

* spaces: observation shape/dtype/bounds; action shape/bounds/dtype;
* config: EnvPool's spec (frame skip, time limit, reset noise, reward weights, healthy ranges,
  ``legacy_healthy_reward``, xml) against the Gymnasium env's attributes;
* reset distribution: 500 initial observations of each, two-sample KS test per dimension;
* one-step dynamics on the same state: a Gymnasium "shadow" env is put into the state of each
  EnvPool env (qpos from the observation, the excluded x / y positions do not enter the dynamics,
  qvel from the observation) and stepped with the same action, through the adapter's autoresets;
  observation, reward (terminal steps included), terminated / truncated and final observation
  are compared step by step. The states are re-synchronised before a step only when they differ;
* lockstep horizon: with no re-synchronisation, how many steps from a reset until the two
  simulations differ by more than 1e-6 (float round-off grows chaotically);
* terminal step at the time limit: an episode made to fall exactly on its last step;
* random-action statistics through the two vector envs trpo trains on (the adapter and
  Gymnasium's sync vector env with same-step autoreset): episode length, reward per step,
  termination rate, truncations at the time limit, final observations present.

Writes the raw numbers to benchmarks/results/envpool_port-<date>.json (with CPU model and versions).

EnvPool links its own MuJoCo (3.6.0 in envpool 1.2.5), Gymnasium uses the ``mujoco`` package
(4.0.0 here). To see which differences come from that alone, run Gymnasium on EnvPool's version:

    pip install --no-deps --target /tmp/mujoco-3.6.0 mujoco==3.6.0
    PYTHONPATH=/tmp/mujoco-3.6.0 python benchmarks/envpool_port.py --envs Ant-v5
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import time
import warnings
from pathlib import Path

import numpy as np

from trpo.system import cpu_model

ENVS = ["Hopper-v5", "Walker2d-v5", "HalfCheetah-v5", "Swimmer-v5", "Ant-v5"]
# qpos entries left out of the observation (x; x and y), which the dynamics do not depend on
EXCLUDED_QPOS = {"Hopper": 1, "Walker2d": 1, "HalfCheetah": 1, "Swimmer": 2, "Ant": 2}
TERMINATING = {"Hopper", "Walker2d", "Ant"}
# forward reward from the torso's xpos, which set_state refreshes but mj_step leaves one substep behind
XPOS_REWARD = {"Ant"}
RECOPY_TOL = 1e-9  # a shadow further than this from the EnvPool state is copied into it again


def family(env_id: str) -> str:
    return env_id.split("-")[0]


# ----------------------------------------------------------------------------------------------
# helpers shared with tests/perf/test_envpool_port.py
# ----------------------------------------------------------------------------------------------
def gym_env(env_id: str, **kw):
    import gymnasium as gym

    with warnings.catch_warnings(), _quiet_stderr():  # MuJoCo 4 prints a deprecation per load of some xmls
        warnings.simplefilter("ignore")
        return gym.make(env_id, **kw)


class _quiet_stderr:
    def __enter__(self):
        try:
            self.saved = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        except OSError:
            self.saved = None

    def __exit__(self, *exc):
        if self.saved is not None:
            os.dup2(self.saved, 2)
            os.close(self.saved)


def state_dims(env_id: str, u) -> int:
    """Length of the observation's (qpos without x / y, qvel) prefix."""
    return u.model.nq - EXCLUDED_QPOS[family(env_id)] + u.model.nv


def velocity_clip(env_id: str) -> float | None:
    """Hopper / Walker2d clip the qvel part of the observation to +-10: such a state cannot be copied."""
    return 10.0 if family(env_id) in ("Hopper", "Walker2d") else None


def copy_state(env_id: str, u, obs: np.ndarray) -> bool:
    """Put Gymnasium's unwrapped env ``u`` into the state that EnvPool's observation ``obs`` shows
    (keeping u's own x / y). False when the observation does not determine the state (clipped qvel)."""
    k = EXCLUDED_QPOS[family(env_id)]
    nq, nv = u.model.nq, u.model.nv
    qvel = np.asarray(obs[nq - k:nq - k + nv], np.float64)
    clip = velocity_clip(env_id)
    if clip is not None and np.any(np.abs(qvel) >= clip):
        return False
    qpos = np.concatenate([u.data.qpos[:k].copy(), np.asarray(obs[:nq - k], np.float64)])
    u.set_state(qpos, qvel)
    return True


def shadow_state(env_id: str, u) -> np.ndarray:
    """The (qpos without x / y, qvel) prefix of the observation Gymnasium's env would give now."""
    k = EXCLUDED_QPOS[family(env_id)]
    clip = velocity_clip(env_id)
    qvel = u.data.qvel if clip is None else np.clip(u.data.qvel, -clip, clip)
    return np.concatenate([u.data.qpos[k:], qvel])


def envpool_make(env_id: str, num_envs: int, seed: int, **kw):
    from trpo.envs.envpool_env import registry

    return registry(env_id).make_gymnasium(env_id, num_envs=num_envs, batch_size=num_envs,
                                           num_threads=1, seed=seed, **kw)


def envpool_config(env_id: str) -> dict:
    from trpo.envs.envpool_env import registry

    return dict(registry(env_id).make_spec(env_id).config._asdict())


def random_actions(rng, n: int, nu: int) -> np.ndarray:
    """What trpo's sampler sends: a sample clipped to the Box (float32 policy output)."""
    return np.clip(rng.normal(0.0, 1.0, (n, nu)), -1.0, 1.0).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# checks
# ----------------------------------------------------------------------------------------------
def check_spaces(env_id: str) -> dict:
    from trpo.envs.envpool_env import EnvPoolVectorEnv

    ad = EnvPoolVectorEnv(env_id, 2, seed=0)
    g = gym_env(env_id)
    try:
        eo, go = ad.single_observation_space, g.observation_space
        ea, ga = ad.single_action_space, g.action_space
        obs, _ = ad.reset()
        gobs, _ = g.reset(seed=0)
        return {
            "obs_shape": [list(eo.shape), list(go.shape)], "obs_dtype": [str(eo.dtype), str(go.dtype)],
            "obs_returned_dtype": [str(obs.dtype), str(gobs.dtype)],
            "obs_bounds_equal": bool(np.array_equal(eo.low, go.low) and np.array_equal(eo.high, go.high)),
            "act_shape": [list(ea.shape), list(ga.shape)], "act_dtype": [str(ea.dtype), str(ga.dtype)],
            "act_bounds_equal": bool(np.array_equal(ea.low, ga.low.astype(ea.dtype))
                                     and np.array_equal(ea.high, ga.high.astype(ea.dtype))),
        }
    finally:
        ad.close()
        g.close()


def check_config(env_id: str) -> dict:
    cfg = envpool_config(env_id)
    g = gym_env(env_id)
    u = g.unwrapped
    pairs = {"frame_skip": (cfg.get("frame_skip"), u.frame_skip),
             "max_episode_steps": (cfg.get("max_episode_steps"), g.spec.max_episode_steps),
             "xml_file": (cfg.get("xml_file"), os.path.basename(u.fullpath))}
    for key, val in cfg.items():
        if hasattr(u, "_" + key):
            pairs[key] = (val, getattr(u, "_" + key))
        for end, idx in (("_min", 0), ("_max", 1)):  # healthy_z_min <-> _healthy_z_range[0]
            if key.endswith(end) and hasattr(u, "_" + key[:-len(end)] + "_range"):
                pairs[key] = (val, float(getattr(u, "_" + key[:-len(end)] + "_range")[idx]))
    if "use_contact_force" in cfg and hasattr(u, "_include_cfrc_ext_in_observation"):
        pairs["use_contact_force"] = (cfg["use_contact_force"], u._include_cfrc_ext_in_observation)
    if "legacy_healthy_reward" in cfg:  # Gymnasium v5: no healthy reward on the unhealthy step
        pairs["legacy_healthy_reward"] = (cfg["legacy_healthy_reward"], False)

    def eq(a, b):
        try:
            return bool(np.isclose(float(a), float(b)))
        except (TypeError, ValueError):
            return a == b

    diff = {k: [v[0], v[1]] for k, v in pairs.items() if not eq(*v)}
    g.close()
    return {"compared": {k: [_plain(v[0]), _plain(v[1])] for k, v in pairs.items()},
            "differs": {k: [_plain(a), _plain(b)] for k, (a, b) in diff.items()},
            "reward_threshold": [cfg.get("reward_threshold"), g.spec.reward_threshold],
            "velocity_clip": [[cfg.get("velocity_min"), cfg.get("velocity_max")], velocity_clip(env_id)]}


def _plain(v):
    if isinstance(v, (np.floating, np.integer, np.bool_)):
        return v.item()
    return v


def check_reset_distribution(env_id: str, n: int = 500, seed: int = 0) -> dict:
    from scipy import stats

    pool = envpool_make(env_id, 50, seed)
    ep = [pool.reset()[0]]
    while sum(len(x) for x in ep) < n:
        ep.append(pool.reset(np.arange(50, dtype=np.int32))[0])
    pool.close()
    ep = np.concatenate(ep)[:n]
    g = gym_env(env_id)
    gy = np.stack([g.reset(seed=seed + 10_000 + i)[0] for i in range(n)])
    g.close()
    const = np.all(ep == ep[0], 0) & np.all(gy == gy[0], 0)
    ps = [stats.ks_2samp(ep[:, j], gy[:, j]).pvalue for j in np.flatnonzero(~const)]
    init = np.concatenate([gym_env(env_id).unwrapped.init_qpos[EXCLUDED_QPOS[family(env_id)]:],
                           gym_env(env_id).unwrapped.init_qvel])
    m = len(init)
    return {"n": n, "dims": int(ep.shape[1]), "constant_dims": int(const.sum()),
            "constant_dims_equal": bool(np.array_equal(ep[0, const], gy[0, const])),
            "ks_min_p": float(min(ps)), "ks_min_p_bonferroni": float(min(1.0, min(ps) * len(ps))),
            "max_abs_mean_diff_over_std": float(np.max(np.abs(ep.mean(0) - gy.mean(0))[~const]
                                                       / gy.std(0)[~const])),
            "std_ratio_range": [float(np.min(ep.std(0)[~const] / gy.std(0)[~const])),
                                float(np.max(ep.std(0)[~const] / gy.std(0)[~const]))],
            "max_deviation_from_init_state": [float(np.abs(ep[:, :m] - init).max()),
                                              float(np.abs(gy[:, :m] - init).max())]}


def check_one_step(env_id: str, n_envs: int = 4, steps: int = 1500, seed: int = 0) -> dict:
    """Gymnasium shadows copied into the adapter's states, stepped with the same actions, through
    the adapter's autoresets. A shadow is re-copied before a step only when its state differs by
    more than RECOPY_TOL.

    "exact" steps: bitwise the same state before the step and no re-copy since the episode's
    reset, so MuJoCo's warm start (not in the observation) is the same in both; "near" steps:
    states 0 < diff <= 1e-12 apart (a contact or a joint limit can amplify such a difference). The step right after a mid-episode re-copy is left out of the
    reward comparison: Ant's forward reward uses the torso's ``xpos``, which ``set_state`` refreshes
    but which after ``mj_step`` lags one substep (in both simulators)."""
    from trpo.envs.envpool_env import EnvPoolVectorEnv

    ad = EnvPoolVectorEnv(env_id, n_envs, seed=seed)
    shadows = [gym_env(env_id) for _ in range(n_envs)]
    us = [s.unwrapped for s in shadows]
    obs, _ = ad.reset()
    d = state_dims(env_id, us[0])
    k = EXCLUDED_QPOS[family(env_id)]
    nq_obs = us[0].model.nq - k
    init_q = us[0].init_qpos[k:]
    noise = envpool_config(env_id)["reset_noise_scale"]
    synced = np.zeros(n_envs, bool)   # the shadow is in the EnvPool env's state
    aligned = np.ones(n_envs, bool)   # the shadow's episode (and time limit) started with the EnvPool one's
    for i, s in enumerate(shadows):
        s.reset(seed=seed + i)
        synced[i] = copy_state(env_id, us[i], obs[i])
    exact = synced.copy()
    rng = np.random.default_rng(seed)
    r = {"steps_compared": 0, "exact_steps": 0, "steps_not_copyable": 0, "recopies": 0,
         "max_obs_diff_exact": 0.0, "near_steps": 0, "max_obs_diff_near": 0.0, "max_obs_diff_after_recopy": 0.0, "max_obs_diff": 0.0,
         "max_reward_diff_exact": 0.0, "max_reward_diff": 0.0, "max_reward_diff_rel": 0.0,
         "terminal_steps": 0, "max_terminal_reward_diff": 0.0,
         "terminated_mismatch": 0, "truncated_mismatch": 0, "episodes": 0, "terminated": 0,
         "truncated": 0, "final_obs_missing": 0, "max_final_obs_diff": 0.0, "reset_rows_not_fresh": 0,
         "reward_dtype": None, "max_reward_float32_rounding": 0.0}
    for _ in range(steps):
        recopied = np.zeros(n_envs, bool)
        pre = np.full(n_envs, np.inf)  # state difference before the step
        for i in range(n_envs):
            if aligned[i]:
                pre[i] = np.abs(shadow_state(env_id, us[i]) - obs[i, :d]).max()
            if aligned[i] and pre[i] > RECOPY_TOL:
                synced[i] = recopied[i] = copy_state(env_id, us[i], obs[i])
                r["recopies"] += synced[i]
                exact[i] = False
                pre[i] = 0.0
        a = random_actions(rng, n_envs, us[0].model.nu)
        obs, rew, te, tr, info = ad.step(a.astype(ad.single_action_space.dtype))
        r["reward_dtype"] = str(rew.dtype)
        for i in range(n_envs):
            gobs, grew, gte, gtr, _ = shadows[i].step(a[i])
            done = bool(te[i] or tr[i])
            if synced[i]:
                r["steps_compared"] += 1
                target = info["final_obs"][i] if done else obs[i]
                if done and (target is None or not info["_final_obs"][i]):
                    r["final_obs_missing"] += 1
                    target = obs[i]
                od = float(np.abs(np.asarray(target) - gobs).max())
                rd = abs(float(rew[i]) - grew)
                r["max_obs_diff"] = max(r["max_obs_diff"], od)
                if exact[i] and pre[i] == 0.0:  # bitwise the same state, the same warm start
                    r["exact_steps"] += 1
                    r["max_obs_diff_exact"] = max(r["max_obs_diff_exact"], od)
                    r["max_reward_diff_exact"] = max(r["max_reward_diff_exact"], rd)
                elif exact[i] and pre[i] <= 1e-12:  # round-off apart: a contact or joint limit can amplify it
                    r["near_steps"] += 1
                    r["max_obs_diff_near"] = max(r["max_obs_diff_near"], od)
                if recopied[i]:
                    r["max_obs_diff_after_recopy"] = max(r["max_obs_diff_after_recopy"], od)
                if not (recopied[i] and family(env_id) in XPOS_REWARD):
                    r["max_reward_diff"] = max(r["max_reward_diff"], rd)
                    r["max_reward_diff_rel"] = max(r["max_reward_diff_rel"], rd / max(abs(grew), 1.0))
                    if gte:
                        r["terminal_steps"] += 1
                        r["max_terminal_reward_diff"] = max(r["max_terminal_reward_diff"], rd)
                if done and exact[i]:
                    r["max_final_obs_diff"] = max(r["max_final_obs_diff"], od)
                r["max_reward_float32_rounding"] = max(r["max_reward_float32_rounding"],
                                                       abs(float(np.float32(grew)) - grew))
                r["terminated_mismatch"] += bool(te[i]) != bool(gte)
                r["truncated_mismatch"] += bool(tr[i]) != bool(gtr)
            else:
                r["steps_not_copyable"] += 1
            if done or gte or gtr:
                if done:
                    r["episodes"] += 1
                    r["terminated"] += bool(te[i])
                    r["truncated"] += bool(tr[i])
                    # the row is already the next episode's first observation
                    if np.abs(obs[i, :nq_obs] - init_q).max() > noise + 1e-12:
                        r["reset_rows_not_fresh"] += 1
                shadows[i].reset(seed=int(rng.integers(2**31)))
                aligned[i] = done
                synced[i] = exact[i] = copy_state(env_id, us[i], obs[i]) if done else False
    ad.close()
    for s in shadows:
        s.close()
    return r


def check_lockstep_horizon(env_id: str, episodes: int = 6, seed: int = 0, tol: float = 1e-6) -> dict:
    """No re-synchronisation: steps from a reset until the two simulations differ by > tol."""
    horizons, ended = [], []
    for ep in range(episodes):
        pool = envpool_make(env_id, 1, seed + ep)
        g = gym_env(env_id)
        u = g.unwrapped
        obs, _ = pool.reset()
        g.reset(seed=ep)
        copy_state(env_id, u, obs[0])
        rng = np.random.default_rng(ep)
        h, end = None, None
        for t in range(1000):
            a = random_actions(rng, 1, u.model.nu)
            o, r, te, tr, _ = pool.step(a.astype(np.float64), np.zeros(1, np.int32))
            go, gr, gte, gtr, _ = g.step(a[0])
            if h is None and np.abs(o[0] - go).max() > tol:
                h = t + 1
            if te[0] or tr[0] or gte or gtr:
                end = t + 1
                break
        horizons.append(h)
        ended.append(end)
        pool.close()
        g.close()
    reached = [h for h in horizons if h is not None]
    return {"tol": tol, "first_step_over_tol": horizons, "episode_end": ended,
            "median_horizon": float(np.median(reached)) if reached else None,
            "episodes_identical_to_the_end": int(sum(h is None for h in horizons))}


def check_terminal_at_time_limit(env_id: str, seed: int = 0, max_tries: int = 20) -> dict | None:
    """An episode that falls on step L, replayed with max_episode_steps = L: EnvPool's flags and
    Gymnasium's (TimeLimit) flags on that step, Gymnasium's env copied into the same reset state.
    Gymnasium's flags mean something only when its trajectory stayed with EnvPool's (it falls at L)."""
    if family(env_id) not in TERMINATING:
        return None
    for trial in range(max_tries):
        pool = envpool_make(env_id, 1, seed + trial)
        obs0, _ = pool.reset()
        rng = np.random.default_rng(trial)
        acts, L = [], None
        for t in range(1000):
            a = random_actions(rng, 1, pool.action_space.shape[0])
            acts.append(a)
            _, _, te, tr, _ = pool.step(a.astype(np.float64), np.zeros(1, np.int32))
            if te[0] or tr[0]:
                L = t + 1 if te[0] else None
                break
        pool.close()
        if L is None or L < 2:
            continue
        pool = envpool_make(env_id, 1, seed + trial, max_episode_steps=L)
        obs, _ = pool.reset()
        assert np.array_equal(obs, obs0)
        g = gym_env(env_id, max_episode_steps=L)
        g.reset(seed=0)
        copy_state(env_id, g.unwrapped, obs[0])
        gte = gtr = False
        for t, a in enumerate(acts):
            o, _, te, tr, _ = pool.step(a.astype(np.float64), np.zeros(1, np.int32))
            if not (gte or gtr):
                go, _, gte, gtr, _ = g.step(a[0])
        pool.close()
        g.close()
        return {"episode_length": L, "envpool_terminated_truncated": [bool(te[0]), bool(tr[0])],
                "gymnasium_terminated_truncated": [bool(gte), bool(gtr)],
                "gymnasium_followed": bool(gte and t == L - 1 and np.abs(o[0] - go).max() < 1e-6)}
    return {"episode_length": None}


def rollout_stats(env_id: str, mode: str, n_envs: int = 8, steps: int = 2000, seed: int = 0,
                  block: int = 50) -> dict:
    """Random actions through the vector env trpo trains on in ``mode`` ("envpool" / "sync")."""
    if mode == "envpool":
        from trpo.envs.envpool_env import EnvPoolVectorEnv

        envs = EnvPoolVectorEnv(env_id, n_envs, seed=seed)
    else:
        import gymnasium as gym
        from gymnasium.vector import AutoresetMode

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            envs = gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="sync",
                                vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP})
    space = envs.single_action_space
    obs, _ = envs.reset(seed=seed)
    rng = np.random.default_rng(seed + 1)
    rews = np.empty((steps, n_envs))
    ep_len = np.zeros(n_envs, int)
    lengths, term, trunc, trunc_len, missing, fo_shape_ok, rdtype = [], 0, 0, [], 0, True, None
    for t in range(steps):
        a = random_actions(rng, n_envs, space.shape[0]).astype(space.dtype)
        obs, r, te, tr, info = envs.step(a)
        rdtype = str(np.asarray(r).dtype)
        rews[t] = r
        ep_len += 1
        for i in np.flatnonzero(te | tr):
            lengths.append(int(ep_len[i]))
            term += bool(te[i])
            trunc += bool(tr[i] and not te[i])
            if tr[i]:
                trunc_len.append(int(ep_len[i]))
            fo = info.get("final_obs")
            if fo is None or fo[i] is None or not info["_final_obs"][i]:
                missing += 1
            else:
                fo_shape_ok &= np.shape(fo[i]) == obs.shape[1:]
            ep_len[i] = 0
    envs.close()
    blocks = rews[: steps // block * block].reshape(-1, block, n_envs).mean(1).ravel()
    return {"steps": steps * n_envs, "episodes": len(lengths), "lengths": lengths,
            "mean_length": float(np.mean(lengths)) if lengths else None,
            "reward_per_step": float(rews.mean()), "reward_per_step_std": float(rews.std()),
            "block_means": blocks.tolist(), "terminated": term, "truncated_only": trunc,
            "truncation_lengths": sorted(set(trunc_len)), "final_obs_missing": missing,
            "final_obs_shape_ok": bool(fo_shape_ok), "reward_dtype": rdtype, "obs_dtype": str(obs.dtype)}


def compare_rollouts(ep: dict, gy: dict) -> dict:
    from scipy import stats

    out = {}
    if ep["lengths"] and gy["lengths"] and len(set(ep["lengths"] + gy["lengths"])) > 1:
        out["length_mannwhitney_p"] = float(stats.mannwhitneyu(ep["lengths"], gy["lengths"]).pvalue)
    out["reward_block_welch_p"] = float(stats.ttest_ind(ep["block_means"], gy["block_means"],
                                                        equal_var=False).pvalue)
    te_ep = ep["terminated"] / max(ep["episodes"], 1)
    te_gy = gy["terminated"] / max(gy["episodes"], 1)
    out["termination_rate"] = [te_ep, te_gy]
    return out


# ----------------------------------------------------------------------------------------------
def machine() -> dict:
    versions = {"python": platform.python_version()}
    from importlib.metadata import PackageNotFoundError, version
    for p in ("envpool", "gymnasium", "mujoco", "numpy", "scipy", "torch"):
        try:
            versions[p] = version(p)
        except PackageNotFoundError:
            versions[p] = None
    versions["envpool_builtin_mujoco"] = envpool_mujoco_version()
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "loadavg": os.getloadavg(), "versions": versions}


def envpool_mujoco_version() -> str | None:
    """The MuJoCo version string compiled into EnvPool's MuJoCo extension (it links its own)."""
    import importlib.util

    spec = importlib.util.find_spec("envpool")
    if spec is None or not spec.submodule_search_locations:
        return None
    so = next(Path(next(iter(spec.submodule_search_locations)), "mujoco").glob("mujoco_gym_envpool*.so"), None)
    if so is None:
        return None
    found = set(re.findall(rb"\x00(\d\.\d{1,2}\.\d{1,2})\x00", so.read_bytes()))
    return ",".join(sorted(x.decode() for x in found)) or None


def verdict(same: bool) -> str:
    return "same" if same else "**differs**"


def rows_for(env_id: str, res: dict) -> list[tuple[str, str, str]]:
    rows = []
    s = res["spaces"]
    rows.append(("observation shape / dtype / bounds",
                 f"{s['obs_shape'][0]} {s['obs_dtype'][0]} vs {s['obs_shape'][1]} {s['obs_dtype'][1]}",
                 verdict(s["obs_shape"][0] == s["obs_shape"][1] and s["obs_dtype"][0] == s["obs_dtype"][1]
                         and s["obs_bounds_equal"])))
    rows.append(("action shape / bounds", f"{s['act_shape'][0]} vs {s['act_shape'][1]}",
                 verdict(s["act_shape"][0] == s["act_shape"][1] and s["act_bounds_equal"])))
    rows.append(("action dtype", f"{s['act_dtype'][0]} vs {s['act_dtype'][1]} (same values after trpo's clip)",
                 verdict(s["act_dtype"][0] == s["act_dtype"][1])))
    c = res["config"]
    rows.append(("config (frame skip, time limit, xml, noise, weights, healthy ranges)",
                 f"{len(c['compared'])} values compared; differ: {c['differs'] or 'none'}", verdict(not c["differs"])))
    rt = c["reward_threshold"]
    rows.append(("spec reward_threshold (metadata only)", f"{rt[0]} vs {rt[1]}",
                 verdict(rt[0] == rt[1] or (rt[0] is None and rt[1] is None))))
    rd = res["reset"]
    rows.append(("initial observations (KS, n=500 each)",
                 f"min p (Bonferroni) {rd['ks_min_p_bonferroni']:.3f}; |mean diff|/std <= "
                 f"{rd['max_abs_mean_diff_over_std']:.2f}; std ratio {rd['std_ratio_range'][0]:.2f}-"
                 f"{rd['std_ratio_range'][1]:.2f}", verdict(rd["ks_min_p_bonferroni"] > 0.01
                                                             and rd["constant_dims_equal"])))
    o = res["one_step"]
    rows.append(("one step from the same state: observation",
                 f"{o['exact_steps']} steps from bitwise the same state: max |diff| {o['max_obs_diff_exact']:.1e}; "
                 f"{o['near_steps']} from <= 1e-12 apart: {o['max_obs_diff_near']:.1e}; right after a "
                 f"mid-episode re-copy (warm start not copied): {o['max_obs_diff_after_recopy']:.1e}",
                 verdict(o["exact_steps"] > 0 and o["max_obs_diff_exact"] < 1e-9)))
    rows.append(("one step from the same state: reward",
                 f"max |diff| {o['max_reward_diff_exact']:.1e} from the same state, {o['max_reward_diff']:.1e} "
                 f"in all (float32 rounding <= {o['max_reward_float32_rounding']:.1e})",
                 verdict(o["max_reward_diff_exact"] < 1e-6 and o["max_reward_diff_rel"] < 1e-6)))
    if family(env_id) in TERMINATING:
        rows.append(("reward on the terminal (unhealthy) step",
                     f"{o['terminal_steps']} terminal steps, max |diff| {o['max_terminal_reward_diff']:.1e}",
                     verdict(o["max_terminal_reward_diff"] < 1e-6) if o["terminal_steps"] else "n/a"))
    rows.append(("terminated / truncated flags (same state)",
                 f"mismatches {o['terminated_mismatch']} / {o['truncated_mismatch']} "
                 f"({o['terminated']} term., {o['truncated']} trunc. episodes)",
                 verdict(o["terminated_mismatch"] == 0 and o["truncated_mismatch"] == 0)))
    rows.append(("final_obs on done / reset row is a fresh start",
                 f"missing {o['final_obs_missing']}, max |final_obs diff| {o['max_final_obs_diff']:.1e} "
                 f"(from a copied reset state), "
                 f"stale rows {o['reset_rows_not_fresh']}",
                 verdict(o["final_obs_missing"] == 0 and o["reset_rows_not_fresh"] == 0
                         and o["max_final_obs_diff"] < 1e-6)))
    rows.append(("reward dtype", f"{o['reward_dtype']} vs float64",
                 verdict(o["reward_dtype"] == "float64")))
    h = res["horizon"]
    rows.append(("lockstep from a reset, no re-sync (float round-off)",
                 f"steps to >1e-6: {h['first_step_over_tol']} (episode ends {h['episode_end']})",
                 "same" if h["episodes_identical_to_the_end"] == len(h["first_step_over_tol"])
                 else "diverges (chaos)" if (h["median_horizon"] or 0) > 20 else "**differs**"))
    tl = res["terminal_at_limit"]
    if tl and tl.get("episode_length"):
        rows.append(("falls on the last step of the time limit (term., trunc.)",
                     f"L={tl['episode_length']}: envpool {tl['envpool_terminated_truncated']} vs "
                     f"gymnasium {tl['gymnasium_terminated_truncated']}"
                     + ("" if tl["gymnasium_followed"] else " (Gymnasium's copy left the trajectory)"),
                     verdict(tl["envpool_terminated_truncated"] == tl["gymnasium_terminated_truncated"])
                     if tl["gymnasium_followed"] else "n/a"))
    ep, gy, cmp = res["rollout_envpool"], res["rollout_sync"], res["rollout_compare"]
    lp = cmp.get("length_mannwhitney_p")
    rows.append(("random actions: episode length (mean, MWU p)",
                 f"{ep['mean_length']:.1f} vs {gy['mean_length']:.1f} ({ep['episodes']} vs {gy['episodes']} ep.)"
                 + (f", p={lp:.2f}" if lp is not None else ""), verdict(lp is None or lp > 0.01)))
    rows.append(("random actions: reward per step (Welch p, 50-step blocks)",
                 f"{ep['reward_per_step']:.3f} vs {gy['reward_per_step']:.3f}, p={cmp['reward_block_welch_p']:.2f}",
                 verdict(cmp["reward_block_welch_p"] > 0.01)))
    tr = cmp["termination_rate"]
    rows.append(("random actions: terminated / truncated-at-limit",
                 f"{ep['terminated']}/{ep['truncated_only']} at {ep['truncation_lengths']} vs "
                 f"{gy['terminated']}/{gy['truncated_only']} at {gy['truncation_lengths']}",
                 verdict(ep["truncation_lengths"] in ([], [1000]) and gy["truncation_lengths"] in ([], [1000])
                         and abs(tr[0] - tr[1]) < 0.1)))
    rows.append(("random actions: final_obs for every done env",
                 f"missing {ep['final_obs_missing']} vs {gy['final_obs_missing']}",
                 verdict(ep["final_obs_missing"] == gy["final_obs_missing"] == 0
                         and ep["final_obs_shape_ok"] and gy["final_obs_shape_ok"])))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--envs", nargs="+", default=ENVS)
    p.add_argument("--steps", type=int, default=1500, help="vector steps of the one-step check (4 envs)")
    p.add_argument("--rollout-steps", type=int, default=2000, help="vector steps of the random-action stats (8 envs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(Path(__file__).parent / "results"))
    a = p.parse_args(argv)
    warnings.filterwarnings("ignore")
    t0 = time.process_time()
    results = {}
    for env_id in a.envs:
        t1 = time.process_time()
        res = {"spaces": check_spaces(env_id), "config": check_config(env_id),
               "reset": check_reset_distribution(env_id, seed=a.seed),
               "one_step": check_one_step(env_id, steps=a.steps, seed=a.seed),
               "horizon": check_lockstep_horizon(env_id, seed=a.seed),
               "terminal_at_limit": check_terminal_at_time_limit(env_id, seed=a.seed),
               "rollout_envpool": rollout_stats(env_id, "envpool", steps=a.rollout_steps, seed=a.seed),
               "rollout_sync": rollout_stats(env_id, "sync", steps=a.rollout_steps, seed=a.seed)}
        res["rollout_compare"] = compare_rollouts(res["rollout_envpool"], res["rollout_sync"])
        res["cpu_s"] = time.process_time() - t1
        results[env_id] = res
        print(f"{env_id}: {res['cpu_s']:.1f} s CPU", flush=True)
    lines = ["", "EnvPool port (trpo's EnvPoolVectorEnv) vs Gymnasium's own env; left value: EnvPool, right: Gymnasium", "",
             "| env | check | numbers (EnvPool vs Gymnasium) | verdict |", "|---|---|---|---|"]
    for env_id, res in results.items():
        for check, numbers, v in rows_for(env_id, res):
            lines.append(f"| {env_id} | {check} | {numbers} | {v} |")
    info = machine()
    v = info["versions"]
    if v.get("envpool_builtin_mujoco") and v.get("mujoco") and v["envpool_builtin_mujoco"] != v["mujoco"]:
        lines += ["", f"Note: EnvPool simulates with its own MuJoCo {v['envpool_builtin_mujoco']}, Gymnasium here "
                  f"with mujoco {v['mujoco']}: contact-rich models (Ant) then step differently from the "
                  "same state (see the module docstring to rerun Gymnasium on EnvPool's version)."]
    lines += ["", f"CPU: {info['cpu']} ({info['cores']} cores), versions: {info['versions']}",
              f"CPU time {time.process_time() - t0:.0f} s"]
    md = "\n".join(lines)
    print(md)
    for r in results.values():  # the raw per-episode lists stay in the JSON
        r["rollout_envpool"].pop("block_means")
        r["rollout_sync"].pop("block_means")
    Path(a.out).mkdir(parents=True, exist_ok=True)
    path = Path(a.out) / f"envpool_port-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"machine": info, "args": vars(a), "results": results, "table": md},
                               indent=1, default=_plain))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()

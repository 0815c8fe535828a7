"""The sampler keeps terminated and truncated apart and hands the final observation of a
truncated episode to the advantage code."""
import gymnasium as gym
import pytest
import numpy as np
import torch

from trpo import Config
from trpo.agent import Agent
from trpo.algos.common import values_and_next_values
from trpo.nets.normalize import RewardScaler
from trpo.rollout.single_path import SinglePathSampler
from trpo.envs.make import make_vector_env


class Countdown(gym.Env):
    """obs = [t]; reward 1; terminates at t == 3 when started odd, else truncated by TimeLimit(5)."""

    observation_space = gym.spaces.Box(-100, 100, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        self.odd = bool(self.np_random.integers(2))
        return np.array([self.t], np.float32), {}

    def step(self, a):
        self.t += 1
        return np.array([self.t], np.float32), 1.0, self.odd and self.t == 3, False, {}


gym.register("CountdownTest-v0", entry_point=Countdown, max_episode_steps=5)


def test_batch_flags_and_final_observations():
    cfg = Config(env_id="CountdownTest-v0", num_envs=3, batch_steps=60, normalize_obs=False, normalize_rewards=False)
    envs = make_vector_env(cfg.env_id, 3)
    agent = Agent(cfg, envs.single_observation_space, envs.single_action_space, torch.device("cpu"))
    s = SinglePathSampler(envs, agent.actor, agent.obs_norm, RewardScaler(3, 0.99, False), 20, 0, torch.device("cpu"))
    b = s.collect()
    s.close()
    assert b.env_steps == 60 and b.obs.shape == (20, 3, 1)
    obs = b.obs[..., 0]
    # terminated only at t==3 -> obs before step is 2; truncated only at t==5 -> obs before is 4
    assert torch.all(obs[b.terminated] == 2) and torch.all(obs[b.truncated] == 4)
    assert not torch.any(b.terminated & b.truncated)
    assert len(b.final_idx) == int(b.truncated.sum())
    assert torch.all(b.final_obs[:, 0] == 5)  # the final obs of a truncated episode, not the reset obs
    # after an episode end the next row is a fresh episode (obs 0)
    T, N = obs.shape
    nxt = torch.cat([obs[1:], b.last_obs[None, :, 0]])
    assert torch.all(nxt[b.done] == 0)
    assert sorted(set(b.episode_lengths)) <= [3, 5] and all(r == l for r, l in zip(b.episode_returns, b.episode_lengths))
    # next values: the critic sees the final obs at truncated steps
    crit = lambda x: x[:, 0] * 10.0
    v, nv = values_and_next_values(b, crit)
    assert torch.all(nv[b.truncated] == 50.0)
    alive = ~b.done
    assert torch.all(nv[alive] == 10.0 * (obs[alive] + 1))


def test_a_step_both_terminated_and_truncated_is_terminal(tmp_path):
    """A fall on the last allowed step: terminated (no bootstrap), not truncated."""
    import gymnasium as gym
    import numpy as np

    from trpo.nets.normalize import RewardScaler
    from trpo.nets.policies import CategoricalActor
    from trpo.rollout.single_path import SinglePathSampler

    class FallAtTheLimit(gym.Env):
        observation_space = gym.spaces.Box(-1, 1, (2,), np.float32)
        action_space = gym.spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.t = 0
            return np.zeros(2, np.float32), {}

        def step(self, a):
            self.t += 1
            done = self.t == 3
            return np.full(2, self.t / 10, np.float32), 1.0, done, done, {}

    envs = gym.vector.SyncVectorEnv([FallAtTheLimit], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    from trpo.nets.normalize import ObsNormalizer
    s = SinglePathSampler(envs, CategoricalActor(2, 2, (4,)), ObsNormalizer((2,), False),
                          RewardScaler(1, 0.99, False), 6, 0, torch.device("cpu"))
    b = s.collect()
    assert b.terminated[:, 0].tolist() == [False, False, True, False, False, True]
    assert not b.truncated.any() and b.final_idx.numel() == 0


def _agent(env_id, n, seed, activation="tanh", hidden=None):
    envs = make_vector_env(env_id, n, "sync")
    torch.manual_seed(seed)
    cfg = Config(env_id=env_id, num_envs=n, activation=activation, **({"hidden": hidden} if hidden else {}))
    agent = Agent(cfg, envs.single_observation_space, envs.single_action_space, torch.device("cpu"))
    envs.close()
    with torch.no_grad():  # a policy that is not the initial one (the last layer starts near zero)
        for p in agent.actor.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return agent


def _reference(env_id, n, T, iters, seed, normalize):
    """The batches as the sampler made them before 2026-12-07, written out here on their own:
    one vector step at a time, the noise drawn at each step, the episodes counted as they end."""
    from trpo.nets.normalize import ObsNormalizer
    from trpo.nets.policy_runner import NumpyPolicy
    from trpo.rollout.single_path import action_to_env

    agent = _agent(env_id, n, seed)
    envs = make_vector_env(env_id, n, "sync")
    norm, scaler = ObsNormalizer(envs.single_observation_space.shape, normalize), RewardScaler(n, 0.99, normalize)
    rng = np.random.default_rng(seed)
    raw_obs, _ = envs.reset(seed=seed)
    ep_ret, ep_len = np.zeros(n), np.zeros(n, np.int64)
    out = []
    for _ in range(iters):
        policy = NumpyPolicy(agent.actor)
        obs, acts, rews, term, trunc, raws = [], [], [], [], [], []
        finals, idx, rets, lens = [], [], [], []
        for t in range(T):
            raws.append(np.asarray(raw_obs, np.float32))
            o = norm(raw_obs)
            a = policy.act(o, rng)
            nxt, r, te, tr, info = envs.step(action_to_env(envs.single_action_space, a))
            obs.append(o), acts.append(a), rews.append(r), term.append(te), trunc.append(tr)
            ep_ret += r
            ep_len += 1
            for i in np.flatnonzero(te | tr):
                rets.append(float(ep_ret[i]))
                lens.append(int(ep_len[i]))
                if tr[i] and not te[i]:
                    finals.append(norm(np.asarray(info["final_obs"][i])))
                    idx.append(t * n + int(i))
                ep_ret[i], ep_len[i] = 0.0, 0
            raw_obs = nxt
        rews, term, trunc = np.array(rews), np.array(term), np.array(trunc)
        out.append({"obs": np.stack(obs), "actions": np.stack(acts),
                    "rewards": scaler(rews, term | trunc).astype(np.float32), "terminated": term,
                    "truncated": trunc & ~term, "last_obs": norm(raw_obs), "final_idx": np.array(idx, np.int64),
                    "final_obs": np.stack(finals) if finals else None, "returns": rets, "lengths": lens,
                    "raw": np.stack(raws)})
        if normalize:
            norm.rms.update(np.stack(raws).reshape(-1, *raw_obs.shape[1:]))
    envs.close()
    return out, {"rng": rng.bit_generator.state, "raw_obs": raw_obs, "ep_return": ep_ret, "ep_length": ep_len}


def _sampled(env_id, n, T, iters, seed, normalize, envs):
    from trpo.nets.normalize import ObsNormalizer

    agent = _agent(env_id, n, seed)
    norm = ObsNormalizer(envs.single_observation_space.shape, normalize)
    s = SinglePathSampler(envs, agent.actor, norm, RewardScaler(n, 0.99, normalize), T, seed, torch.device("cpu"))
    try:
        out = []
        for _ in range(iters):
            out.append(s.collect())
            out[-1].raw = s.last_raw_obs
        return out, s.state_dict()
    finally:
        s.close()


@pytest.mark.parametrize("env_id,n,normalize", [("Pendulum-v1", 3, True), ("CartPole-v1", 4, False),
                                                ("Hopper-v5", 2, True)])
def test_batches_equal_the_per_step_reference_bit_for_bit(env_id, n, normalize):
    """The sampler's batches (the noise drawn ahead, each slice run alone; ``split``: its slices at
    once, in a helper process) equal those of an independent per-step loop written out in this
    test: observations, actions, scaled rewards, flags, final observations of truncated episodes
    (Pendulum's 200-step limit falls inside the second batch), episodes, the raw observations
    kept for the statistics and the sampler's state after them."""
    from trpo.envs.split import SplitVectorEnv

    T, iters, seed = 120, 3, 3
    ref, ref_state = _reference(env_id, n, T, iters, seed, normalize)
    assert sum(len(b["returns"]) for b in ref) > 0
    for mode in ("sync", "split"):
        envs = (make_vector_env(env_id, n, "sync") if mode == "sync" else
                SplitVectorEnv(lambda k: make_vector_env(env_id, k, "sync"), n, helpers=1))
        got, state = _sampled(env_id, n, T, iters, seed, normalize, envs)
        for a, b in zip(ref, got):
            for k in ("obs", "actions", "rewards", "terminated", "truncated", "last_obs", "final_idx"):
                x, y = a[k], getattr(b, k).numpy()
                assert x.dtype == y.dtype and np.array_equal(x, y), (mode, k)
            if a["final_obs"] is not None:
                assert np.array_equal(a["final_obs"], b.final_obs.numpy()), mode
            else:
                assert len(b.final_obs) == 0
            assert a["returns"] == b.episode_returns and a["lengths"] == b.episode_lengths, mode
            assert (b.raw is None) if not normalize else np.array_equal(a["raw"], b.raw), mode
        assert ref_state["rng"] == state["rng"], mode
        for k in ("raw_obs", "ep_return", "ep_length"):
            assert np.array_equal(ref_state[k], state[k]), (mode, k)
    if env_id == "Pendulum-v1":
        assert any(len(b["final_idx"]) for b in ref)  # truncations were covered


@pytest.mark.timeout(120)
def test_a_torch_activation_in_split_runs_here_not_in_the_helper():
    """gelu's numpy forward calls torch, which must not run in a forked helper (it hung there
    once the arrays were large enough for OpenMP): split then hands over per step."""
    from trpo.envs.split import SplitVectorEnv
    from trpo.nets.normalize import ObsNormalizer
    from trpo.nets.policy_runner import NumpyPolicy

    agent = _agent("CartPole-v1", 64, 0, activation="gelu", hidden=(512, 512))
    assert NumpyPolicy(agent.actor).draws_ahead  # the fast path's policy, but its forward calls torch
    envs = SplitVectorEnv(lambda k: make_vector_env("CartPole-v1", k, "sync"), 64, helpers=1)
    s = SinglePathSampler(envs, agent.actor, ObsNormalizer((4,), True), RewardScaler(64, 0.99, True), 4, 0,
                          torch.device("cpu"))
    try:
        assert s.collect().obs.shape == (4, 64, 4)
    finally:
        s.close()




def test_episode_counters_are_the_per_step_sums_bit_for_bit():
    """``_episodes`` scans each stretch between episode ends at once (np.add.accumulate): the
    returns, lengths and carried counters of adding every step's rewards in turn, to the bit."""
    from types import SimpleNamespace

    from trpo.nets.normalize import ObsNormalizer
    from trpo.rollout.single_path import SinglePathSampler

    rng = np.random.default_rng(5)
    T, N = 300, 3
    me = SimpleNamespace(N=N, ep_return=rng.normal(0, 50, N), ep_length=np.array([3, 0, 40]),
                         obs_norm=ObsNormalizer((2,), False))
    want_ret, want_len = me.ep_return.copy(), me.ep_length.copy()
    for batch in range(3):  # three batches: the counters carry across them
        rews = rng.normal(1.0, 3.0, (T, N)) * 10.0 ** rng.integers(-4, 4, (T, N))
        term, trunc = rng.random((T, N)) < 0.02, rng.random((T, N)) < 0.01
        # an episode ending on the batch's last step; then a batch whose last step ends none
        trunc[-1, 0], term[-1] = batch == 0, False
        if batch == 1:
            trunc[-1] = False
        finals = {(t, i): np.ones(2) for t, i in zip(*np.nonzero(trunc & ~term))}
        steps = {"rews": rews, "term": term, "trunc": trunc, "finals": finals}
        returns, lengths, _, idx = SinglePathSampler._episodes(me, steps)
        ref_returns, ref_lengths, ref_idx = [], [], []
        for t in range(T):  # the definition: every step's reward added in turn
            want_ret += rews[t]
            want_len += 1
            for i in np.flatnonzero(term[t] | trunc[t]):
                ref_returns.append(float(want_ret[i]))
                ref_lengths.append(int(want_len[i]))
                if trunc[t, i] and not term[t, i]:
                    ref_idx.append(t * N + int(i))
            want_ret[term[t] | trunc[t]] = 0.0
            want_len[term[t] | trunc[t]] = 0
        assert returns == ref_returns and lengths == ref_lengths and idx == ref_idx
        assert me.ep_return.tobytes() == want_ret.tobytes() and np.array_equal(me.ep_length, want_len)

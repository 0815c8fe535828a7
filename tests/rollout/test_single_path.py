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


def _batches(env_id, mode, n, per_step, iters=3, seed=3):
    """Three batches of a fresh sampler (obs normalised, statistics moving between batches), through
    the per-step loop (``per_step``) or the slices (``run_slice``; ``split``: its slices at once)."""
    from trpo.nets.normalize import ObsNormalizer
    from trpo.nets.policy_runner import NumpyPolicy

    cfg = Config(env_id=env_id, num_envs=n)
    envs = make_vector_env(env_id, n, mode)
    torch.manual_seed(seed)
    agent = Agent(cfg, envs.single_observation_space, envs.single_action_space, torch.device("cpu"))
    with torch.no_grad():  # a policy that is not the initial one (the last layer starts near zero)
        for p in agent.actor.parameters():
            p.add_(0.3 * torch.randn_like(p))
    norm = ObsNormalizer(envs.single_observation_space.shape, True)
    s = SinglePathSampler(envs, agent.actor, norm, RewardScaler(n, 0.99, True), 120, seed, torch.device("cpu"))
    orig = NumpyPolicy.draws_ahead
    try:
        if per_step:
            NumpyPolicy.draws_ahead = property(lambda self: False)
        out = [s.collect() for _ in range(iters)]
        state = s.state_dict()
    finally:
        NumpyPolicy.draws_ahead = orig
        s.close()
    return out, state


@pytest.mark.parametrize("env_id,n", [("Pendulum-v1", 3), ("CartPole-v1", 4), ("Hopper-v5", 2)])
def test_slices_give_the_per_step_loops_batches_bit_for_bit(env_id, n):
    """Drawing a batch's noise ahead and running each slice alone (in a split helper too) gives the
    batches of the loop that acts one vector step at a time (the reference): observations,
    actions, rewards, flags, final observations, episodes and the sampler's state after them."""
    ref, ref_state = _batches(env_id, "sync", n, per_step=True)
    for mode in ("sync", "split"):
        got, state = _batches(env_id, mode, n, per_step=False)
        for a, b in zip(ref, got):
            for k in ("obs", "actions", "rewards", "terminated", "truncated", "last_obs", "final_obs", "final_idx"):
                x, y = getattr(a, k), getattr(b, k)
                assert x.dtype == y.dtype and torch.equal(x, y), (mode, k)
            assert a.episode_returns == b.episode_returns and a.episode_lengths == b.episode_lengths
        assert sum(len(b.episode_returns) for b in ref) > 0
        assert ref_state["rng"] == state["rng"], mode
        assert np.array_equal(ref_state["raw_obs"], state["raw_obs"]) and np.array_equal(ref_state["ep_return"], state["ep_return"])

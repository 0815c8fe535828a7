"""Vine sampling: the estimator (eq. 15/16) against closed forms, branch Q-hat against exact
finite-horizon Q-values of a small stochastic MDP, and honest env-step counting."""
import gymnasium as gym
import numpy as np
import pytest
import torch

from trpo.config import Config
from trpo.errors import ConfigError
from trpo.functional import vine_surrogate
from trpo.nets.normalize import ObsNormalizer
from trpo.nets.policies import CategoricalActor
from trpo.nets.policy_runner import make_policy
from trpo.rollout.vine import branch_return
from trpo.envs.snapshot import snapshot


# --- the estimator -------------------------------------------------------------------------------
def test_enumerated_is_the_exact_sum_over_actions():
    torch.manual_seed(0)
    logits, q = torch.randn(5, 3), torch.randn(5, 3)
    logp = torch.log_softmax(logits, -1)
    ref = np.mean([sum(np.exp(logp[n, a].item()) * q[n, a].item() for a in range(3)) for n in range(5)])
    assert vine_surrogate(logp, logp, q, enumerated=True).item() == pytest.approx(ref, rel=1e-6)


def test_self_normalised_estimator_and_its_gradient():
    torch.manual_seed(1)
    N, K = 4, 6
    logp_old = torch.randn(N, K)
    q = torch.randn(N, K)
    delta = torch.randn(N, K)
    logp_new = logp_old + 0.3 * delta
    w = np.exp((logp_new - logp_old).numpy())
    ref = np.mean((w * q.numpy()).sum(1) / w.sum(1))
    assert vine_surrogate(logp_new, logp_old, q, enumerated=False).item() == pytest.approx(ref, rel=1e-5)
    # invariant to a per-state constant added to Q (no baseline needed, §5.2)
    shifted = q + torch.randn(N, 1) * 10
    assert vine_surrogate(logp_new, logp_old, shifted, False).item() == pytest.approx(
        vine_surrogate(logp_new, logp_old, q, False).item() + (shifted - q)[:, 0].mean().item(), rel=1e-5)
    # at theta_old its gradient is (1/N) sum_n (1/K) sum_k grad log pi_k (Q_k - mean_j Q_j)
    x = logp_old.clone().requires_grad_(True)
    vine_surrogate(x, logp_old, q, False).backward()
    torch.testing.assert_close(x.grad, (q - q.mean(1, keepdim=True)) / (N * K))


# --- Q-hat converges to the exact Q of a small stochastic MDP ---------------------------------------
P = np.array([[[0.7, 0.3, 0.0], [0.1, 0.1, 0.8]],
              [[0.0, 0.5, 0.5], [0.6, 0.0, 0.4]],
              [[0.3, 0.3, 0.4], [0.0, 0.9, 0.1]]])  # P[s, a, s']
R = np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, 0.5]])


class TinyMDP(gym.Env):
    """3 states, 2 actions, stochastic transitions from np_random; snapshots by the env-method hook."""
    observation_space = gym.spaces.Box(0.0, 1.0, (3,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.s = int((options or {}).get("state", 0))
        return np.eye(3, dtype=np.float32)[self.s], {}

    def step(self, a):
        r = R[self.s, int(a)]
        self.s = int(self.np_random.choice(3, p=P[self.s, int(a)]))
        return np.eye(3, dtype=np.float32)[self.s], float(r), False, False, {}

    def get_snapshot(self):
        return {"s": self.s}

    def set_snapshot(self, st):
        self.s = int(st["s"])


def exact_q(pi: np.ndarray, gamma: float, H: int) -> np.ndarray:
    """Q_H(s, a) = E[sum_{t<H} gamma^t r_t | s, a, then pi] by backward induction."""
    V = np.zeros(3)
    for _ in range(H):
        Q = R + gamma * P @ V
        V = (pi * Q).sum(1)
    return Q


def test_branch_q_estimates_converge_to_exact_q():
    torch.manual_seed(0)
    actor = CategoricalActor(3, 2, (8,))
    with torch.no_grad():
        pi = torch.softmax(actor.dist_params(torch.eye(3))[0], -1).double().numpy()
    gamma, H, M = 0.9, 6, 800
    Q = exact_q(pi, gamma, H)
    env = TinyMDP()
    policy, norm = make_policy(actor, torch.device("cpu")), ObsNormalizer((3,), enabled=False)
    for s in range(3):
        for a in range(2):
            g = []
            for m in range(M):  # a fresh env RNG each time: the snapshot's randomness is sampled
                env.reset(seed=10_000 * s + 100 * a + m, options={"state": s})
                g.append(branch_return(env, snapshot(env), np.int64(a), policy, norm, env.action_space, H, gamma, seed=999_000 + m)[0])  # policy noise independent of the env RNG
            se = np.std(g) / np.sqrt(M)
            assert abs(np.mean(g) - Q[s, a]) < 4 * se + 1e-9, (s, a, np.mean(g), Q[s, a], se)


def test_common_random_numbers_make_branches_of_one_state_share_the_noise():
    # same snapshot, same seed, same first action -> bit-identical returns; other first action differs
    env = TinyMDP()
    actor = CategoricalActor(3, 2, (8,))
    policy, norm = make_policy(actor, torch.device("cpu")), ObsNormalizer((3,), enabled=False)
    env.reset(seed=3, options={"state": 1})
    st = snapshot(env)
    r = [branch_return(env, st, np.int64(a), policy, norm, env.action_space, 20, 0.9, seed=7)[0] for a in (0, 0, 1)]
    assert r[0] == r[1] and r[0] != r[2]


# --- the sampler: honest counting, shapes, clear errors --------------------------------------------
class _Count(gym.Wrapper):
    n = 0

    def step(self, a):
        _Count.n += 1
        return self.env.step(a)


def _context(cfg, agent, num_envs=None):
    from trpo.nets.normalize import RewardScaler
    from trpo.rollout.base import SamplerContext
    from trpo.envs.make import EnvSpec

    return SamplerContext(cfg, EnvSpec(cfg.env_id), agent.actor, agent.critic, agent.obs_norm,
                          RewardScaler(num_envs or cfg.num_envs, cfg.gamma, True), torch.device("cpu"))


def _sampler(cfg, monkeypatch):
    from trpo.agent import Agent
    from trpo.rollout import vine as vine_mod

    vec = gym.vector.SyncVectorEnv([lambda: _Count(gym.make(cfg.env_id)) for _ in range(cfg.num_envs)],
                                   autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    agent = Agent(cfg, vec.single_observation_space, vec.single_action_space)
    sampler = vine_mod.VineSampler(vec, lambda: _Count(gym.make(cfg.env_id)), _context(cfg, agent))
    sampler.agent = agent
    return sampler


@pytest.mark.parametrize("env_id,K", [("CartPole-v1", 2), ("Pendulum-v1", 3)])
def test_vine_sampler_counts_every_step(env_id, K, monkeypatch):
    cfg = Config(env_id=env_id, num_envs=2, batch_steps=256, vine_trunk_fraction=0.5, vine_branch_length=10,
                 vine_actions=0 if env_id == "CartPole-v1" else K)
    sampler = _sampler(cfg, monkeypatch)
    _Count.n = 0
    batch = sampler.collect()
    assert batch.env_steps == _Count.n  # trunk and branches, every simulated step
    assert batch.T * batch.N == 128 and batch.env_steps <= 256
    n_states = (256 - 128) // (K * 10)
    v = batch.vine
    assert v.q.shape == (n_states, K) and v.obs.shape[0] == n_states
    assert v.enumerated == (env_id == "CartPole-v1")
    if v.enumerated:
        assert (v.actions == torch.arange(2)).all()
    # the rollout-set observations are states of the trunk
    flat = batch.flat(batch.obs)
    assert all((flat == o).all(-1).any() for o in v.obs)


def test_vine_needs_sync_envs():
    from trpo.rollout.vine import VineSampler

    class NotSync:  # an async vector env has no in-process .envs
        num_envs = 2
        single_action_space = gym.spaces.Discrete(2)

    cfg = Config(sampler="vine")
    with pytest.raises(ConfigError, match="sync"):
        VineSampler(NotSync(), None, None)


def test_trpo_update_on_a_vine_batch_respects_the_trust_region(monkeypatch):
    from trpo.algos.trpo import TRPO

    cfg = Config(env_id="CartPole-v1", num_envs=2, batch_steps=512, vine_trunk_fraction=0.25, vine_branch_length=40)
    sampler = _sampler(cfg, monkeypatch)
    learner = TRPO(sampler.agent.actor, sampler.agent.critic, cfg, torch.device("cpu"))
    stats = learner.update(sampler.collect())
    assert stats["kl"] <= cfg.max_kl * 1.0001 and np.isfinite(stats["value_loss"])


@pytest.mark.parametrize("algo", ["ppo", "a2c", "a3c", "reinforce"])
def test_vine_with_an_algorithm_that_cannot_use_it_is_refused(algo):
    from trpo.config import validate

    with pytest.raises(ConfigError, match="sampler.*'vine' does not feed algo"):
        validate(Config(algo=algo, sampler="vine"))

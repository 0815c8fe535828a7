"""Update rules of the policy-gradient family against hand-computed cases and brute force."""
import math

import numpy as np
import pytest
import torch

from trpo import Config
from trpo.algos import ALGOS, get_learner
from trpo.algos.common import optimal_baseline, per_sample_sq_grad_norms, reward_to_go
from trpo.algos.pg_l2 import l2_step
from trpo.algos.ppo import adapt_kl_coef, clipped_surrogate, kl_penalty_surrogate, value_loss
from trpo.functional import natural_step
from trpo.nets.policies import CategoricalActor, Critic, GaussianActor, flat_params
from trpo.rollout import Batch


def synthetic_batch(T=16, N=2, obs_dim=3, discrete=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(T, N, obs_dim, generator=g)
    actions = torch.randint(0, 2, (T, N), generator=g) if discrete else torch.randn(T, N, 1, generator=g)
    terminated = torch.zeros(T, N, dtype=torch.bool)
    truncated = torch.zeros(T, N, dtype=torch.bool)
    terminated[5, 0] = True
    truncated[9, 1] = True
    return Batch(obs=obs, actions=actions, rewards=torch.rand(T, N, generator=g), terminated=terminated,
                 truncated=truncated, last_obs=torch.randn(N, obs_dim, generator=g),
                 final_obs=torch.randn(1, obs_dim, generator=g), final_idx=torch.tensor([9 * N + 1]),
                 env_steps=T * N)


# --- REINFORCE: the optimal baseline ---------------------------------------------------------------
@pytest.mark.parametrize("discrete", [True, False])
def test_per_sample_grad_norms_match_brute_force(discrete):
    torch.manual_seed(0)
    actor = CategoricalActor(3, 2, (8,)) if discrete else GaussianActor(3, 1, (8,), log_std_init=-0.3)
    b = synthetic_batch(discrete=discrete)
    obs, actions = b.flat(b.obs), b.flat(b.actions)
    fast = per_sample_sq_grad_norms(actor, obs, actions)
    brute = []
    for i in range(obs.shape[0]):  # one autograd call per sample: the independent reference
        lp = actor.log_prob(actor.dist_params(obs[i:i + 1]), actions[i:i + 1]).sum()
        gs = torch.autograd.grad(lp, list(actor.parameters()))
        brute.append(sum(float(g.pow(2).sum()) for g in gs))
    np.testing.assert_allclose(fast.numpy(), np.array(brute), rtol=1e-5, atol=1e-8)


def test_optimal_baseline_is_the_weighted_mean_and_minimises_variance():
    w = torch.tensor([1.0, 2.0, 3.0, 0.5])
    R = torch.tensor([10.0, -2.0, 4.0, 1.0])
    b = optimal_baseline(w, R)
    assert float(b) == pytest.approx((10 - 4 + 12 + 0.5) / 6.5)
    # b minimises sum_i w_i (R_i - b)^2 = E||grad log pi (R - b)||^2: check against a grid
    grid = torch.linspace(-5, 10, 3001)
    cost = (w[None] * (R[None] - grid[:, None]) ** 2).sum(1)
    assert abs(float(grid[cost.argmin()]) - float(b)) < 0.01


# --- reward-to-go -----------------------------------------------------------------------------------
def test_reward_to_go_cuts_at_termination_and_bootstraps_cut_tails():
    T, N, gamma = 4, 1, 0.5
    rewards = torch.ones(T, N)
    term = torch.tensor([[False], [True], [False], [False]])
    trunc = torch.zeros(T, N, dtype=torch.bool)
    b = Batch(obs=torch.zeros(T, N, 1), actions=torch.zeros(T, N, dtype=torch.long), rewards=rewards,
              terminated=term, truncated=trunc, last_obs=torch.zeros(N, 1), final_obs=torch.zeros(0, 1),
              final_idx=torch.zeros(0, dtype=torch.long), env_steps=T)

    class Const(torch.nn.Module):
        def forward(self, x):
            return torch.full(x.shape[:1], 8.0)

    R = reward_to_go(b, Const(), gamma).squeeze(1)
    # episode 1: steps 0-1 terminate -> R_1 = 1, R_0 = 1 + 0.5; episode 2 is cut by the batch end
    # -> R_3 = 1 + 0.5 * V = 5, R_2 = 1 + 0.5 * 5 = 3.5
    np.testing.assert_allclose(R.numpy(), [1.5, 1.0, 3.5, 5.0])


# --- pg-l2 and npg step sizes on a quadratic ---------------------------------------------------------
def test_pg_l2_step_closed_form_on_a_quadratic():
    # J(theta) = b^T theta - 1/2 theta^T A theta; at theta0 the gradient is d = b - A theta0
    A = torch.tensor([[3.0, 1.0], [1.0, 2.0]])
    bvec, theta0, eps = torch.tensor([1.0, -2.0]), torch.tensor([0.5, 0.5]), 0.04
    d = bvec - A @ theta0
    step = l2_step(d, eps)
    np.testing.assert_allclose(step.numpy(), (math.sqrt(eps) / float(d.norm()) * d).numpy(), rtol=1e-6)
    assert float(step @ step) == pytest.approx(eps)
    assert torch.equal(l2_step(torch.zeros(3), eps), torch.zeros(3))


def test_npg_step_size_closed_form_on_a_quadratic():
    rng = np.random.default_rng(0)
    M = rng.normal(size=(5, 5))
    F = M @ M.T + 5 * np.eye(5)
    g = rng.normal(size=5)
    delta = 0.01
    nat = natural_step(torch.tensor(g), lambda v: torch.tensor(F) @ v, delta, cg_iters=10)
    gFg = g @ np.linalg.solve(F, g)
    assert nat.step_size == pytest.approx(math.sqrt(2 * delta / gFg), rel=1e-6)
    np.testing.assert_allclose(nat.step.numpy(), math.sqrt(2 * delta / gFg) * np.linalg.solve(F, g), rtol=1e-6)
    s = nat.step.numpy()
    assert 0.5 * s @ F @ s == pytest.approx(delta, rel=1e-6)


def test_npg_is_trpo_without_line_search_and_takes_the_full_step():
    torch.manual_seed(0)
    cfg = Config(algo="npg", batch_steps=32, num_envs=2, max_kl=0.01, fvp_subsample=1.0)  # F on all states
    actor, critic = CategoricalActor(3, 2, (8,)), Critic(3, (8,))
    learner = get_learner("npg")(actor, critic, cfg, torch.device("cpu"))
    assert learner.line_search is False and get_learner("trpo").line_search is True
    stats = learner.update(synthetic_batch())
    assert stats["step_accepted"] == 1 and stats["linesearch_steps"] == 0
    assert stats["kl"] == pytest.approx(0.01, rel=0.3)  # the quadratic model of the KL hits delta


# --- ppo / ppo-kl -----------------------------------------------------------------------------------
def test_clipped_surrogate_hand_values():
    ratio = torch.tensor([1.5, 0.5, 0.5, 1.5, 1.1])
    adv = torch.tensor([1.0, 1.0, -1.0, -1.0, 2.0])
    per = clipped_surrogate(ratio.log()[:, None].squeeze(1), torch.zeros(5), adv, 0.2)
    # min(r A, clip(r) A): 1.2, 0.5, -0.8, -1.5, 2.2
    assert float(per) == pytest.approx((1.2 + 0.5 - 0.8 - 1.5 + 2.2) / 5)


def test_kl_penalty_surrogate_and_value_clipping_hand_values():
    L = kl_penalty_surrogate(torch.log(torch.tensor([2.0, 0.5])), torch.zeros(2), torch.tensor([1.0, 2.0]),
                             torch.tensor([0.1, 0.3]), beta=2.0)
    assert float(L) == pytest.approx((2.0 + 1.0) / 2 - 2.0 * 0.2)
    v, v_old, R = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 0.0]), torch.tensor([0.0, 1.0])
    assert float(value_loss(v, v_old, R, None)) == pytest.approx(0.5 * (1 + 1) / 2)
    # v = 1 clipped to 0.2: max((1-0)^2, (0.2-0)^2) = 1; v = 0: max(1, 1) = 1
    assert float(value_loss(v, v_old, R, 0.2)) == pytest.approx(0.5 * (1 + 1) / 2)
    v2 = torch.tensor([0.5, 0.5])
    # target 0, v 0.5 -> 0.25 vs clipped 0.2 -> 0.04: max 0.25; target 1: 0.25 vs (0.8)^2 = 0.64
    assert float(value_loss(v2, v_old, R, 0.2)) == pytest.approx(0.5 * (0.25 + 0.64) / 2)


def test_adaptive_kl_schedule():
    target, beta, kls = 0.01, 1.0, [0.001, 0.0066, 0.0067, 0.01, 0.015, 0.0151, 0.05]
    out = []
    for kl in kls:
        beta = adapt_kl_coef(beta, kl, target)
        out.append(beta)
    # 0.001 < 0.00667 halve; 0.0066 halve; 0.0067 keep; 0.01 keep; 0.015 keep (not > 1.5 target);
    # 0.0151 double; 0.05 double
    assert out == [0.5, 0.25, 0.25, 0.25, 0.25, 0.5, 1.0]


def test_ppo_kl_adapts_its_coefficient_during_updates():
    torch.manual_seed(0)
    cfg = Config(algo="ppo-kl", batch_steps=32, num_envs=2, minibatch_size=8, epochs=2, kl_target=1e-9, lr=3e-4)
    learner = get_learner("ppo-kl")(CategoricalActor(3, 2, (8,)), Critic(3, (8,)), cfg, torch.device("cpu"))
    learner.update(synthetic_batch())
    assert learner.kl_coef == 2.0  # any step has KL > 1.5 * 1e-9: doubled


# --- every learner: one update on a batch, the interface, state round trip --------------------------
CASES = [("reinforce", {"baseline": b}) for b in ("none", "mean", "value", "optimal")] + \
        [("a2c", {"advantage_estimator": e}) for e in ("td", "nstep", "gae")] + \
        [("pg-l2", {}), ("npg", {}), ("ppo", {"clip_value": True}), ("ppo-kl", {}), ("trpo", {})]


@pytest.mark.parametrize("algo,extra", CASES)
@pytest.mark.parametrize("discrete", [True, False])
def test_every_learner_updates_and_reports(algo, extra, discrete):
    torch.manual_seed(0)
    cfg = Config(algo=algo, batch_steps=32, num_envs=2, minibatch_size=16, epochs=2, entropy_coef=0.01,
                 critic_epochs=1, **extra)
    from trpo.config import default_lr
    cfg = cfg.replace(lr=cfg.lr or default_lr(algo))  # resolved, as resolve_run does
    actor = CategoricalActor(3, 2, (8,)) if discrete else GaussianActor(3, 1, (8,))
    critic = Critic(3, (8,))
    learner = get_learner(algo)(actor, critic, cfg, torch.device("cpu"))
    theta0 = flat_params(actor).clone()
    stats = learner.update(synthetic_batch(discrete=discrete))
    for key in ("kl", "entropy", "value_loss"):
        assert math.isfinite(stats[key]), key
    assert not torch.equal(flat_params(actor), theta0)
    again = get_learner(algo)(actor, critic, cfg, torch.device("cpu"))
    again.load_state_dict(learner.state_dict())


def test_registry_and_per_algo_learning_rate():
    assert {"reinforce", "a2c", "pg-l2", "npg", "trpo", "ppo-kl", "ppo"} <= set(ALGOS)
    from trpo.resolve import resolve_run

    assert resolve_run(Config(algo="ppo"))[0].lr == 3e-4  # lr = 0 resolves to the algorithm's default
    assert resolve_run(Config(algo="a2c"))[0].lr == 1e-3
    assert resolve_run(Config(algo="ppo", lr=0.01))[0].lr == 0.01
    assert Config(algo="ppo").lr == 0.0  # validation changes nothing

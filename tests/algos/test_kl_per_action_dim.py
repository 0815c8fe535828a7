"""kl_per_action_dim: the trust region of sb3-contrib's TRPO, whose KL is the mean over states *and*
action dimensions. Checked against that definition written independently (torch.distributions,
autograd Hessian, plain CG) and against sb3-contrib's own step on one batch."""
import json
import math

import gymnasium as gym
import pytest
import torch

from trpo import Config
from trpo.algos.common import frozen_policy, normalize, policy_objective
from trpo.algos.trust_region import effective_trust_region, trust_region_step
from trpo.nets.policies import GaussianActor
import trpo
from trpo.resolve import resolve_run


def _per_dim_mean_step(actor, obs, acts, adv, delta, damping, iters):
    """The step of a trust region on (1/d) E_s[KL], written from its definition: autograd Hessian
    of the per-dimension KL averaged over states and dimensions, damped, CG, beta to delta, then
    backtracking on that same KL (no line search needed when the full step is accepted)."""
    params = list(actor.parameters())
    mu0, log_std0 = (t.detach() for t in actor.dist_params(obs))
    old = torch.distributions.Normal(mu0, log_std0.exp())

    def dist():
        mu, log_std = actor.dist_params(obs)
        return torch.distributions.Normal(mu, log_std.exp())

    d = dist()
    logp_old = old.log_prob(acts).sum(-1)
    L = (torch.exp(d.log_prob(acts).sum(-1) - logp_old) * adv).mean()
    g = torch.cat([x.reshape(-1) for x in torch.autograd.grad(L, params, retain_graph=True)])
    kl = torch.distributions.kl_divergence(d, old).mean()  # over states AND dims: shape (N, d) -> ()
    gk = torch.cat([x.reshape(-1) for x in torch.autograd.grad(kl, params, create_graph=True)])

    def Hv(v):
        return torch.cat([x.reshape(-1) for x in torch.autograd.grad(gk @ v, params, retain_graph=True)]) + damping * v

    x, r = torch.zeros_like(g), g.clone()
    p, rr = r.clone(), r @ r
    for _ in range(iters):
        Ap = Hv(p)
        a = rr / (p @ Ap)
        x, r = x + a * p, r - a * Ap
        rr_new = r @ r
        if rr_new < 1e-10:  # the usual CG stop (as sb3-contrib and ours)
            break
        p, rr = r + rr_new / rr * p, rr_new
    return math.sqrt(2 * delta / float(x @ Hv(x))) * x


def test_step_equals_the_per_dimension_mean_kl_trust_region():
    torch.manual_seed(0)
    torch.set_default_dtype(torch.float64)
    try:
        n, obs_dim, d = 256, 5, 4
        actor = GaussianActor(obs_dim, d, (16, 16), log_std_init=-0.3)
        obs = torch.randn(n, obs_dim)
        with torch.no_grad():
            acts = actor.sample(actor.dist_params(obs))
        adv = normalize(torch.randn(n) + acts.pow(2).sum(-1))  # advantages that depend on the actions
        theta0 = [t.detach().clone() for t in actor.parameters()]
        want = _per_dim_mean_step(actor, obs, acts, adv, delta=0.01, damping=0.1, iters=50)

        cfg = Config(env_id="Pendulum-v1", max_kl=0.01 * d, cg_damping=0.1 * d, cg_iters=50, fvp="hessian")
        old, logp_old = frozen_policy(actor, obs, acts)
        stats, _ = trust_region_step(actor, lambda: policy_objective(actor, obs, acts, logp_old, adv, 0.0)[0],
                                     obs, old, cfg, line_search=True)
        got = torch.cat([(t.detach() - t0).reshape(-1) for t, t0 in zip(actor.parameters(), theta0)])
        assert stats["step_accepted"] == 1 and stats["linesearch_steps"] == 0
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-10)
        # while the plain (joint-KL) trust region with the same numbers takes a different, smaller step
        with torch.no_grad():
            for t, t0 in zip(actor.parameters(), theta0):
                t.copy_(t0)
        trust_region_step(actor, lambda: policy_objective(actor, obs, acts, logp_old, adv, 0.0)[0], obs, old,
                          cfg.replace(max_kl=0.01, cg_damping=0.1), line_search=True)
        plain = torch.cat([(t.detach() - t0).reshape(-1) for t, t0 in zip(actor.parameters(), theta0)])
        assert plain.norm() < 0.8 * want.norm()
    finally:
        torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("space, d", [(gym.spaces.Box(-1, 1, (3,)), 3), (gym.spaces.Box(-1, 1, (2, 2)), 4),
                                      (gym.spaces.Discrete(4), 1)])
def test_effective_trust_region(space, d):
    cfg = Config(env_id="Hopper-v5", kl_per_action_dim=True, max_kl=0.01, cg_damping=0.1)
    eff = effective_trust_region(cfg, space)
    assert (eff.max_kl, eff.cg_damping) == (pytest.approx(0.01 * d), pytest.approx(0.1 * d))
    assert effective_trust_region(cfg.replace(kl_per_action_dim=False), space) == cfg.replace(kl_per_action_dim=False)


def test_a_run_steps_with_the_scaled_bound_and_its_config_replays_the_same(tmp_path, monkeypatch):
    """config.toml keeps max_kl as given with the flag; the learner gets max_kl * d; a replay of the
    recorded config (which re-applies its preset) and a resume do not scale twice."""
    import trpo.algos.trpo as trpo_mod
    from trpo.trainer import train

    seen = []
    step = trpo_mod.trust_region_step

    def spy(actor, objective, kl_obs, kl_old, cfg, *a, **kw):
        seen.append((cfg.max_kl, cfg.cg_damping))
        return step(actor, objective, kl_obs, kl_old, cfg, *a, **kw)

    monkeypatch.setattr(trpo_mod, "trust_region_step", spy)
    base = dict(total_steps=4096, eval_episodes=1, eval_periodic_episodes=0, check_env=False, critic_fit="inline")
    train(Config(env_id="HalfCheetah-v5", **base), tmp_path / "a", progress=False)  # its preset sets the flag
    saved = trpo.load_toml(tmp_path / "a" / "config.toml")
    assert saved.kl_per_action_dim and (saved.max_kl, saved.cg_damping) == (0.01, 0.1)
    assert seen == [(0.06, 0.6)] * 2  # HalfCheetah: 6 action dimensions
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["trust_region"] == {"max_kl": 0.06, "cg_damping": 0.6, "scale": 6}  # what the step used
    seen.clear()
    train(saved, tmp_path / "b", progress=False)  # trpo train --config a/config.toml
    assert seen == [(0.06, 0.6)] * 2
    seen.clear()
    train(saved.replace(total_steps=6144), progress=False, resume=tmp_path / "a")
    assert seen == [(0.06, 0.6)]


def test_the_report_draws_the_bound_the_run_used(tmp_path):
    from trpo.tools.report import Run, _kl_reference

    def run(**config):
        return Run(path=tmp_path, label="run", config={"env_id": "Hopper-v5", "algo": "trpo", "max_kl": 0.01, **config},
                   metrics={}, summary=None)

    label, delta = _kl_reference(run(kl_per_action_dim=True))  # an older run: d from its env
    assert delta == pytest.approx(0.03) and "3 action dims" in label
    assert _kl_reference(run()) == ("δ = max_kl", 0.01)
    # summary.json's record of the step's bound is read first (no env is built: this id has none)
    recorded = Run(path=tmp_path, label="run", config={"env_id": "NoSuchEnv-v0", "algo": "trpo", "max_kl": 0.01,
                                                       "kl_per_action_dim": True}, metrics={},
                   summary={"trust_region": {"max_kl": 0.05, "cg_damping": 0.5, "scale": 5}})
    label, delta = _kl_reference(recorded)
    assert delta == pytest.approx(0.05) and "5 action dims" in label


def test_the_halfcheetah_ant_and_humanoid_presets_use_it_and_the_others_do_not():
    for env_id, per_dim in [("HalfCheetah-v5", True), ("Ant-v5", True), ("Humanoid-v5", True), ("Hopper-v5", False),
                            ("Walker2d-v5", False), ("Swimmer-v5", False), ("HumanoidStandup-v5", False),
                            ("Pendulum-v1", False)]:
        cfg, _ = resolve_run(Config(env_id=env_id))
        assert cfg.kl_per_action_dim == per_dim and (cfg.max_kl, cfg.cg_damping) == (0.01, 0.1), env_id


def test_step_equals_sb3_contribs_trpo_step_on_one_batch():
    """The peer itself: sb3-contrib's TRPO update on one of its own rollouts against ours on the same
    data and weights with kl_per_action_dim (max_kl 0.01 * d, damping 0.1 * d): the same step."""
    sb3_contrib = pytest.importorskip("sb3_contrib")
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    torch.manual_seed(0)
    env = make_vec_env("Hopper-v5", n_envs=2, seed=0)
    model = sb3_contrib.TRPO("MlpPolicy", env, seed=0, device="cpu", n_steps=256, batch_size=128, cg_max_steps=25,
                             cg_damping=0.1, target_kl=0.01, n_critic_updates=1)

    class Noop(BaseCallback):
        def _on_step(self):
            return True

    cb = Noop()
    cb.init_callback(model)
    model._setup_learn(512, cb)
    model.collect_rollouts(model.env, cb, model.rollout_buffer, n_rollout_steps=model.n_steps)
    rb = model.rollout_buffer
    obs = torch.as_tensor(rb.observations.reshape(512, -1), dtype=torch.float32)
    acts = torch.as_tensor(rb.actions.reshape(512, -1), dtype=torch.float32)
    adv = normalize(torch.as_tensor(rb.advantages.reshape(-1), dtype=torch.float32))
    p = model.policy
    src = [p.mlp_extractor.policy_net[0], p.mlp_extractor.policy_net[2], p.action_net]
    peer_params = [p.log_std, *[t for lin in src for t in (lin.weight, lin.bias)]]
    actor = GaussianActor(obs.shape[1], acts.shape[1])
    with torch.no_grad():
        for ours, theirs in zip(actor.parameters(), peer_params):
            ours.copy_(theirs)
    before = [t.detach().clone() for t in peer_params]

    model.train()  # sb3-contrib's update (policy step, then its critic; the actor is what we compare)
    theirs = torch.cat([(t.detach() - b).reshape(-1) for t, b in zip(peer_params, before)])

    d = acts.shape[1]
    cfg = Config(env_id="Hopper-v5", max_kl=0.01 * d, cg_damping=0.1 * d, cg_iters=25)
    old, logp_old = frozen_policy(actor, obs, acts)
    trust_region_step(actor, lambda: policy_objective(actor, obs, acts, logp_old, adv, 0.0)[0], obs, old, cfg, True)
    ours = torch.cat([(t.detach() - b).reshape(-1) for t, b in zip(actor.parameters(), before)])
    assert theirs.norm() > 0
    cos = torch.nn.functional.cosine_similarity(ours, theirs, dim=0)
    assert cos > 0.9999 and abs(ours.norm() / theirs.norm() - 1) < 1e-3, (float(cos), float(ours.norm()), float(theirs.norm()))

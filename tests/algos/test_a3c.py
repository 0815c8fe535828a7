"""A3C: the workers' gradients against an independent loss, the master's update, and a real run
with Ray workers (staleness, run directory, errors)."""
import numpy as np
import pytest
import torch

from trpo import Config
from trpo.algos import get_learner
from trpo.algos.a3c import worker_gradients
from trpo.algos.common import advantages
from trpo.nets.policies import CategoricalActor, Critic

from test_family_updates import synthetic_batch  # tests/algos is on sys.path (pytest prepend mode)


def test_worker_gradients_match_an_independent_a2c_loss():
    torch.manual_seed(0)
    cfg = Config(algo="a3c", entropy_coef=0.01, advantage_estimator="gae")
    actor, critic = CategoricalActor(3, 2, (8,)), Critic(3, (8,))
    b = synthetic_batch()
    out = worker_gradients(actor, critic, b, cfg)
    d_theta, d_psi, stats = out["d_theta"], out["d_psi"], out["stats"]

    # the same losses written with torch.distributions (not the actor's own log_prob / entropy)
    adv, targets = advantages(b, critic, "gae", cfg.gamma, cfg.gae_lambda)
    adv, targets = adv.reshape(-1), targets.reshape(-1)
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    obs, actions = b.obs.reshape(-1, 3), b.actions.reshape(-1)
    dist = torch.distributions.Categorical(logits=actor.net(obs))
    loss = -(dist.log_prob(actions) * adv).mean() - 0.01 * dist.entropy().mean()
    ref_theta = torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, list(actor.parameters()))])
    v_loss = (critic(obs) - targets).pow(2).mean()
    ref_psi = torch.cat([g.reshape(-1) for g in torch.autograd.grad(v_loss, list(critic.parameters()))])
    torch.testing.assert_close(d_theta, ref_theta, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(d_psi, ref_psi, rtol=1e-5, atol=1e-7)
    assert stats["value_loss"] == pytest.approx(v_loss.item(), rel=1e-6)


def test_master_descends_along_the_workers_gradient():
    torch.manual_seed(1)
    cfg = Config(algo="a3c", lr=1e-3, critic_lr=1e-3, max_grad_norm=0.5, anneal_lr=False)
    actor, critic = CategoricalActor(3, 2, (8,)), Critic(3, (8,))
    learner = get_learner("a3c")(actor, critic, cfg, torch.device("cpu"))
    b = synthetic_batch()
    out = worker_gradients(actor, critic, b, cfg)
    d_theta, d_psi, stats = out["d_theta"], out["d_psi"], out["stats"]
    before = [torch.cat([p.detach().reshape(-1).clone() for p in m.parameters()]) for m in (actor, critic)]
    b.extras = {"d_theta": d_theta, "d_psi": d_psi, "stats": stats, "worker": 0, "staleness": 3}
    out = learner.update(b)
    after = [torch.cat([p.detach().reshape(-1) for p in m.parameters()]) for m in (actor, critic)]
    for g, x0, x1 in zip((d_theta, d_psi), before, after):
        # Adam's first step: -lr * g_c / (|g_c| + eps), g_c = g clipped to norm 0.5 (~ -lr sign(g))
        g_c = g * min(1.0, 0.5 / float(g.norm()))
        np.testing.assert_allclose((x1 - x0).numpy(), (-1e-3 * g_c / (g_c.abs() + 1e-8)).numpy(), rtol=1e-4, atol=1e-9)
    assert out["staleness"] == 3 and out["kl"] > 0
    assert out["grad_norm"] == pytest.approx(float(d_theta.norm()), rel=1e-5)


def test_nan_gradient_is_refused_before_any_change():
    cfg = Config(algo="a3c", lr=1e-3)
    actor, critic = CategoricalActor(3, 2, (8,)), Critic(3, (8,))
    learner = get_learner("a3c")(actor, critic, cfg, torch.device("cpu"))
    b = synthetic_batch()
    out = worker_gradients(actor, critic, b, cfg)
    d_theta, d_psi, stats = out["d_theta"], out["d_psi"], out["stats"]
    d_theta[0] = float("nan")
    b.extras = {"d_theta": d_theta, "d_psi": d_psi, "stats": stats, "worker": 0, "staleness": 0}
    before = [p.detach().clone() for p in actor.parameters()]
    with pytest.raises(Exception, match="non-finite"):
        learner.update(b)
    assert all(torch.equal(p, q) for p, q in zip(actor.parameters(), before))


def test_a3c_run_with_ray_workers(tmp_path):
    pytest.importorskip("ray")
    import csv

    from trpo.trainer import train

    cfg = Config(env_id="CartPole-v1", algo="a3c", total_steps=3000, num_envs=2, batch_steps=64,
                 eval_episodes=2, checkpoint_every=10)
    res = train(cfg, tmp_path / "run", progress=False)
    rows = list(csv.DictReader(open(tmp_path / "run" / "metrics.csv")))
    assert len(rows) == res.summary["iterations"] >= 3000 // 32
    assert res.summary["total_steps"] >= 3000
    stale = [int(float(r["staleness"])) for r in rows]
    assert min(stale) >= 0 and max(stale) >= 1          # the other worker's updates land in between
    assert {r["worker"] for r in rows} == {"0", "1"}     # both workers contribute
    assert all(float(r["kl"]) >= -1e-6 for r in rows)  # float32 rounding: a zero KL can read -1e-9
    assert (tmp_path / "run" / "summary.json").exists() and res.summary["final_eval_return_mean"] > 0

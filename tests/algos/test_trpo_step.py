"""TRPO step invariants on real batches (CartPole and Pendulum rollouts)."""
import pytest
import torch

from trpo import Config
from trpo.agent import Agent
from trpo.algos import get_learner
from trpo.algos import trust_region as tr
from trpo.algos.common import estimate_advantages
from trpo.nets.normalize import RewardScaler
from trpo.nets.policies import flat_params
from trpo.rollout.single_path import SinglePathSampler
from trpo.envs.make import make_vector_env


def setup(env_id, seed=0, **kw):
    cfg = Config(env_id=env_id, num_envs=4, batch_steps=512, seed=seed, **kw)
    torch.manual_seed(seed)
    envs = make_vector_env(env_id, cfg.num_envs)
    agent = Agent(cfg, envs.single_observation_space, envs.single_action_space, torch.device("cpu"))
    learner = get_learner("trpo")(agent.actor, agent.critic, cfg, torch.device("cpu"))
    sampler = SinglePathSampler(envs, agent.actor, agent.obs_norm, RewardScaler(4, cfg.gamma, True),
                                cfg.steps_per_env, seed, torch.device("cpu"))
    return cfg, agent, learner, sampler


def surrogate_and_kl(agent, batch, old_state, cfg):
    """Recompute L(theta_new) - L(theta_old) and the mean KL independently of the learner."""
    obs, act = batch.flat(batch.obs), batch.flat(batch.actions)
    new_state = {k: v.clone() for k, v in agent.actor.state_dict().items()}
    agent.actor.load_state_dict(old_state)
    with torch.no_grad():
        adv, _ = estimate_advantages(batch, agent.critic, cfg.gamma, cfg.gae_lambda)
        adv = batch.flat(adv)
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        old = agent.actor.dist_params(obs)
        lp_old = agent.actor.log_prob(old, act)
        agent.actor.load_state_dict(new_state)
        new = agent.actor.dist_params(obs)
        ratio = torch.exp(agent.actor.log_prob(new, act) - lp_old)
    return float((ratio * adv).mean() - adv.mean()), float(agent.actor.kl(old, new).mean())


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_accepted_steps_respect_the_trust_region_and_improve_the_surrogate(env_id):
    cfg, agent, learner, sampler = setup(env_id)
    try:
        for it in range(4):
            batch = sampler.collect()
            old_actor = {k: v.clone() for k, v in agent.actor.state_dict().items()}
            critic_before = flat_params(agent.critic).clone()
            # the critic must be untouched by the policy step: run the policy step alone
            stats = learner.update(batch)
            assert stats["step_accepted"] == 1
            gain, kl = surrogate_and_kl(agent, batch, old_actor, cfg)
            assert kl <= cfg.max_kl + 1e-7, kl
            assert gain > 0 and stats["surrogate_gain"] > 0
            assert stats["kl"] == pytest.approx(kl, rel=1e-4, abs=1e-9)
            learner.sync()  # critic_fit = "process": the fit may still be running
            assert not torch.equal(critic_before, flat_params(agent.critic))  # the critic fit ran
    finally:
        learner.close()
        sampler.close()


def test_policy_step_does_not_touch_the_critic():
    cfg, agent, learner, sampler = setup("CartPole-v1")
    try:
        batch = sampler.collect()
        obs, act = batch.flat(batch.obs), batch.flat(batch.actions)
        adv = torch.randn(obs.shape[0])
        with torch.no_grad():
            old = agent.actor.dist_params(obs)
            lp_old = agent.actor.log_prob(old, act)
        critic_before = flat_params(agent.critic).clone()
        actor_before = flat_params(agent.actor).clone()

        def objective():
            return (torch.exp(agent.actor.log_prob(agent.actor.dist_params(obs), act) - lp_old) * adv).mean()

        stats, _ = tr.trust_region_step(agent.actor, objective, obs, old, cfg, line_search=True)
        assert stats["step_accepted"] == 1
        assert torch.equal(critic_before, flat_params(agent.critic))
        assert not torch.equal(actor_before, flat_params(agent.actor))
    finally:
        sampler.close()


def test_rejected_step_restores_parameters_bit_identically(monkeypatch):
    cfg, agent, learner, sampler = setup("Pendulum-v1")
    real = tr.natural_step

    def uphill_backwards(*a, **k):  # force failure: step against the gradient, gain < 0 everywhere
        nat = real(*a, **k)
        return nat._replace(step=-nat.step)

    monkeypatch.setattr(tr, "natural_step", uphill_backwards)
    try:
        batch = sampler.collect()
        before = {k: v.clone() for k, v in agent.actor.state_dict().items()}
        stats = learner.update(batch)
        assert stats["step_accepted"] == 0 and stats["linesearch_steps"] == cfg.ls_max_backtracks
        assert stats["kl"] == 0.0 and stats["surrogate_gain"] == 0.0
        for k, v in agent.actor.state_dict().items():
            assert torch.equal(v, before[k]), k  # bit-identical
    finally:
        sampler.close()


def test_npg_style_step_without_line_search_lands_on_the_quadratic_kl():
    """Without a line search the measured KL is close to delta (the quadratic model is good for
    small steps), which is what the line search then guards."""
    cfg, agent, learner, sampler = setup("CartPole-v1", cg_damping=1e-3, cg_iters=50)
    try:
        batch = sampler.collect()
        obs, act = batch.flat(batch.obs), batch.flat(batch.actions)
        adv = torch.randn(obs.shape[0], generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            old = agent.actor.dist_params(obs)
            lp_old = agent.actor.log_prob(old, act)
        objective = lambda: (torch.exp(agent.actor.log_prob(agent.actor.dist_params(obs), act) - lp_old) * adv).mean()
        stats, _ = tr.trust_region_step(agent.actor, objective, obs, old, cfg, line_search=False)
        assert 0.5 * cfg.max_kl < stats["kl"] < 1.5 * cfg.max_kl
    finally:
        sampler.close()

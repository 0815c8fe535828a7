"""One batch, the same weights: sb3-contrib's TRPO step against ours (Ant-v5 without contact forces
by default), with our plain joint-KL bound or, with ``--per-dim``, max_kl and cg_damping times the
action dimensions (kl_per_action_dim, as sb3-contrib reads RL-Zoo's numbers). Prints the CPU, the
KLs, the log-std deltas, the norms and cosine of the two steps, and how the Fisher-vector products
compare.

    python benchmarks/peer_step.py [--per-dim]     # needs the bench extra (sb3-contrib)

tests/algos/test_kl_per_action_dim.py checks the same agreement on Hopper in every CI run.
"""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # this tree's trpo


def sb3_model_and_batch(env_id: str, env_kwargs: dict):
    """sb3-contrib's TRPO with RL-Zoo's MuJoCo settings after two updates (the critic fitted, the
    normaliser warm), and one more rollout collected without training: (model, obs, actions, adv)."""
    import torch
    from sb3_contrib import TRPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    env = VecNormalize(make_vec_env(env_id, n_envs=2, seed=0, env_kwargs=env_kwargs), gamma=0.99)
    m = TRPO("MlpPolicy", env, seed=0, device="cpu", verbose=0, batch_size=128, n_steps=1024, cg_max_steps=25,
             cg_damping=0.1, n_critic_updates=20, learning_rate=1e-3)
    m.learn(4096)

    class _Pass(BaseCallback):
        def _on_step(self):
            return True

    cb = _Pass()
    cb.init_callback(m)
    m.collect_rollouts(m.env, cb, m.rollout_buffer, n_rollout_steps=m.n_steps)
    rb = m.rollout_buffer
    flat = lambda x: torch.as_tensor(x.reshape(-1, x.shape[-1]), dtype=torch.float32)  # noqa: E731
    return m, flat(rb.observations), flat(rb.actions), torch.as_tensor(rb.advantages.reshape(-1), dtype=torch.float32)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--env", default="Ant-v5")
    p.add_argument("--per-dim", action="store_true", help="max_kl and cg_damping times the action dimensions")
    a = p.parse_args(argv)
    import torch
    from stable_baselines3.common.distributions import kl_divergence as sb3_kl

    from trpo.algos.common import frozen_policy, normalize, policy_objective
    from trpo.algos.trust_region import trust_region_step, written_out_fvp
    from trpo.config import Config
    from trpo.nets.policies import GaussianActor
    from trpo.system import cpu_model

    print(cpu_model())
    torch.set_num_threads(1)
    env_kwargs = dict(include_cfrc_ext_in_observation=False) if a.env.startswith("Ant") else {}
    m, obs, acts, adv = sb3_model_and_batch(a.env, env_kwargs)
    pol = m.policy
    src = [pol.mlp_extractor.policy_net[0], pol.mlp_extractor.policy_net[2], pol.action_net]
    params_sb3 = [pol.log_std, *[x for lay in src for x in (lay.weight, lay.bias)]]
    actor = GaussianActor(obs.shape[1], acts.shape[1])
    with torch.no_grad():  # the same weights on both sides
        for ours, theirs in zip([lay for lay in actor.net if isinstance(lay, torch.nn.Linear)], src):
            ours.weight.copy_(theirs.weight)
            ours.bias.copy_(theirs.bias)
        actor.log_std.copy_(pol.log_std)
    before_ours = [t.detach().clone() for t in actor.parameters()]
    before_sb3 = [t.detach().clone() for t in params_sb3]

    d = acts.shape[1] if a.per_dim else 1
    cfg = Config(env_id=a.env, max_kl=0.01 * d, cg_iters=25, cg_damping=0.1 * d)
    print("ours with max_kl", cfg.max_kl, "cg_damping", cfg.cg_damping)
    old, logp_old = frozen_policy(actor, obs, acts)
    adv_n = normalize(adv)
    stats = trust_region_step(actor, lambda: policy_objective(actor, obs, acts, logp_old, adv_n, 0.0)[0], obs, old,
                              cfg, True)
    print("ours", {k: round(v, 5) for k, v in stats.items()})
    m.rollout_buffer.generator_ready = False  # sb3's step on the same batch (train() also fits its critic)
    m.train()
    print("sb3 kl", m.logger.name_to_value.get("train/kl_divergence_loss"))
    d_sb3 = torch.cat([(t.detach() - b).flatten() for t, b in zip(params_sb3, before_sb3)])
    d_ours = torch.cat([(t.detach() - b).flatten() for t, b in zip(actor.parameters(), before_ours)])
    print("log_std delta ours", d_ours[:8].numpy().round(4))
    print("log_std delta sb3 ", d_sb3[:8].numpy().round(4))
    print("norms", d_ours.norm().item(), d_sb3.norm().item(), "cos",
          torch.nn.functional.cosine_similarity(d_ours, d_sb3, dim=0).item())

    # the pieces: our written-out Fisher-vector product against autograd on sb3's own KL
    with torch.no_grad():  # both back to the pre-step weights
        for t, b in zip(actor.parameters(), before_ours):
            t.copy_(b)
        for t, b in zip(params_sb3, before_sb3):
            t.copy_(b)
        old_d = copy.copy(pol.get_distribution(obs))
    kl = sb3_kl(pol.get_distribution(obs), old_d).mean()
    gk = torch.cat([x.reshape(-1) for x in torch.autograd.grad(kl, params_sb3, create_graph=True)])
    torch.manual_seed(1)
    v = torch.randn(gk.numel())
    hv_sb3 = torch.cat([x.reshape(-1) for x in torch.autograd.grad((gk * v).sum(), params_sb3)])
    hv_ours = written_out_fvp(actor, obs, old, 0.0)(v)
    print("FVP rel diff", ((hv_ours - hv_sb3).norm() / hv_sb3.norm()).item(), "log_std part ours/sb3", hv_ours[:4],
          hv_sb3[:4])
    return 0


if __name__ == "__main__":
    sys.exit(main())

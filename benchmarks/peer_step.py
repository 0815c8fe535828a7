"""One batch, the same weights: sb3-contrib's TRPO step against ours on Ant-v5 (without contact
forces), with our plain joint-KL bound and then with max_kl and cg_damping times the action
dimensions (kl_per_action_dim). Prints the KLs, the log-std deltas, the norms and cosine of the
two steps, and how the Fisher-vector products compare; with the CPU model.

    python benchmarks/peer_step.py          # needs the bench extra (sb3-contrib)

tests/algos/test_kl_per_action_dim.py checks the same agreement on Hopper in every CI run.
"""

from trpo.system import cpu_model

print(cpu_model())
import copy, torch
torch.set_num_threads(1)
from sb3_contrib import TRPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize
from trpo.config import Config
from trpo.nets.policies import GaussianActor
from trpo.algos.trust_region import trust_region_step
from trpo.algos.common import frozen_policy, policy_objective, normalize

env = VecNormalize(make_vec_env("Ant-v5", n_envs=2, seed=0, env_kwargs=dict(include_cfrc_ext_in_observation=False)), gamma=0.99)
m = TRPO("MlpPolicy", env, seed=0, device="cpu", verbose=0, batch_size=128, n_steps=1024, cg_max_steps=25, cg_damping=0.1, n_critic_updates=20, learning_rate=1e-3)
m.learn(4096)  # two updates, so the critic is fitted and stats warm
# collect one more rollout without training
from stable_baselines3.common.callbacks import BaseCallback
class _CB(BaseCallback):
    def _on_step(self): return True
cb = _CB(); cb.init_callback(m)
m.collect_rollouts(m.env, cb, m.rollout_buffer, n_rollout_steps=m.n_steps)
rb = m.rollout_buffer
obs = torch.as_tensor(rb.swap_and_flatten(rb.observations.copy()) if False else rb.observations.reshape(-1, rb.observations.shape[-1]), dtype=torch.float32)
acts = torch.as_tensor(rb.actions.reshape(-1, rb.actions.shape[-1]), dtype=torch.float32)
adv = torch.as_tensor(rb.advantages.reshape(-1), dtype=torch.float32)
p = m.policy
actor = GaussianActor(obs.shape[1], acts.shape[1])
with torch.no_grad():
    lin = [l for l in actor.net if isinstance(l, torch.nn.Linear)]
    src = [p.mlp_extractor.policy_net[0], p.mlp_extractor.policy_net[2], p.action_net]
    for a, b in zip(lin, src):
        a.weight.copy_(b.weight); a.bias.copy_(b.bias)
    actor.log_std.copy_(p.log_std)
before_ours = [t.detach().clone() for t in actor.parameters()]
before_sb3 = [t.detach().clone() for t in (p.log_std, *[x for l in src for x in (l.weight, l.bias)])]
# ours
import os
d = acts.shape[1] if os.environ.get("PER_DIM") else 1
cfg = Config(env_id="Ant-v5", max_kl=0.01 * d, cg_iters=25, cg_damping=0.1 * d)
print("ours with max_kl", cfg.max_kl, "cg_damping", cfg.cg_damping)
old, logp_old = frozen_policy(actor, obs, acts)
A = normalize(adv)
stats = trust_region_step(actor, lambda: policy_objective(actor, obs, acts, logp_old, A, 0.0)[0], obs, old, cfg, True)
print("ours", {k: round(v, 5) for k, v in stats.items()})
# sb3 (rollout buffer already holds the data; train() also fits the critic, harmless here)
rb.generator_ready = False
m.train()
print("sb3 kl", m.logger.name_to_value.get("train/kl_divergence_loss"))
after_sb3 = [t.detach().clone() for t in (p.log_std, *[x for l in src for x in (l.weight, l.bias)])]
d_sb3 = torch.cat([(a - b).flatten() for a, b in zip(after_sb3, before_sb3)])
d_ours = torch.cat([(a.detach() - b).flatten() for a, b in zip(actor.parameters(), before_ours)])
print("log_std delta ours", d_ours[:8].numpy().round(4))
print("log_std delta sb3 ", d_sb3[:8].numpy().round(4))
print("norms", d_ours.norm().item(), d_sb3.norm().item(), "cos", torch.nn.functional.cosine_similarity(d_ours, d_sb3, dim=0).item())

# ---- pieces: gradient and Fisher-vector product, ours vs autograd on sb3's own KL
from torch.distributions import kl_divergence
with torch.no_grad():  # back to the pre-step weights on both
    for a, b in zip(actor.parameters(), before_ours): a.copy_(b)
    for t, b in zip((p.log_std, *[x for l in src for x in (l.weight, l.bias)]), before_sb3): t.copy_(b)
params_sb3 = [p.log_std, *[x for l in src for x in (l.weight, l.bias)]]
with torch.no_grad():
    old_d = copy.copy(p.get_distribution(obs))
dist = p.get_distribution(obs)
kl = kl_divergence(dist.distribution, old_d.distribution).sum(-1).mean() if False else None
from stable_baselines3.common.distributions import kl_divergence as sb3_kl
kl = sb3_kl(dist, old_d).mean()
gk = torch.autograd.grad(kl, params_sb3, create_graph=True)
gk = torch.cat([x.reshape(-1) for x in gk])
torch.manual_seed(1)
v = torch.randn(gk.numel())
Hv_sb3 = torch.cat([x.reshape(-1) for x in torch.autograd.grad((gk * v).sum(), params_sb3)])
from trpo.algos.trust_region import written_out_fvp
fvp = written_out_fvp(actor, obs, old, 0.0)
Hv_ours = fvp(v)
print("FVP rel diff", ((Hv_ours - Hv_sb3).norm() / Hv_sb3.norm()).item(), "log_std part ours/sb3", Hv_ours[:4], Hv_sb3[:4])

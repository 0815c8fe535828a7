import sys, json, torch, numpy as np
torch.set_num_threads(1)
from sb3_contrib import TRPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize
from stable_baselines3.common.callbacks import BaseCallback
env_id, steps, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
kw = dict(include_cfrc_ext_in_observation=False) if env_id.startswith("Ant") else {}
env = VecNormalize(make_vec_env(env_id, n_envs=2, seed=seed, env_kwargs=kw), gamma=0.99)
m = TRPO("MlpPolicy", env, seed=seed, device="cpu", verbose=0, batch_size=128, n_steps=1024, gamma=0.99, gae_lambda=0.95, sub_sampling_factor=1, cg_max_steps=25, cg_damping=0.1, n_critic_updates=20, learning_rate=1e-3)
rows = []
class CB(BaseCallback):
    def _on_rollout_start(self):
        ep = [e["r"] for e in self.model.ep_info_buffer]; ln = [e["l"] for e in self.model.ep_info_buffer]
        kl = self.model.logger.name_to_value.get("train/kl_divergence_loss")
        ev = self.model.logger.name_to_value.get("train/explained_variance")
        rows.append([self.model.num_timesteps, float(np.mean(ep)) if ep else None, float(np.mean(ln)) if ln else None,
                     float(self.model.policy.log_std.exp().mean()), kl, ev])
    def _on_step(self): return True
m.learn(steps, callback=CB())
json.dump(rows, open(f"/tmp/cmp/sb3_{env_id}_{seed}.json", "w"))

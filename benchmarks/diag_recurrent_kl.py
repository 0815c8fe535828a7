"""Diagnostic (the family issue: why recurrent TRPO loses what it learned): the KL the trust region measures for recurrent TRPO (16-step chunks started from
pi_old's hidden state) against the KL over whole episodes (each policy unrolls its own state from
the episode start, as when deployed). CartPoleNoVelocity, GRU, seed from argv.

    python benchmarks/diag_recurrent_kl.py 0 benchmarks/records/recurrent-kl/CartPoleNoVelocity_gru_s0.jsonl

The run directory goes to /tmp/diag_recurrent_kl_sSEED; the reading: docs/results/recurrent.md."""
import copy, json, sys
import numpy as np, torch, gymnasium as gym
import trpo
from trpo import Config
from trpo.trainer import train

seed = int(sys.argv[1]); out = open(sys.argv[2], "w")
env = gym.make("trpo/CartPoleNoVelocity-v1")
prev = {"actor": None}
CH = 16

def measure(agent, old):
    actor = agent.actor
    obs_list = []
    o, _ = env.reset(seed=12345)
    h = actor.initial_state(1)
    rets = 0.0
    with torch.no_grad():
        for t in range(500):
            x = torch.as_tensor(agent.obs_norm(o[None]), dtype=torch.float32)
            obs_list.append(x)
            p, h = actor.step(x, h)
            a = int(actor.mode(p)[0])
            o, r, te, tr, _ = env.step(a)
            rets += r
            if te or tr:
                break
        # full unroll: each its own state
        ho, hn = old.initial_state(1), actor.initial_state(1)
        kl_full, kl_chunk, hos = [], [], []
        for x in obs_list:
            hos.append(ho)
            po, ho = old.step(x, ho)
            pn, hn = actor.step(x, hn)
            kl_full.append(float(actor.kl(po, pn).mean()))
        for c in range(0, len(obs_list), CH):
            hn = hos[c]
            ho2 = hos[c]
            for x in obs_list[c:c + CH]:
                po, ho2 = old.step(x, ho2)
                pn, hn = actor.step(x, hn)
                kl_chunk.append(float(actor.kl(po, pn).mean()))
    return rets, float(np.mean(kl_full)), float(np.max(kl_full)), float(np.mean(kl_chunk))

def cb(row, agent):
    old = prev["actor"]
    if old is not None and row["iteration"] % 5 == 0:
        ret, kf, kfmax, kc = measure(agent, old)
        rec = {"it": row["iteration"], "steps": row["env_steps"], "train_ret": row.get("episode_return_mean"),
               "kl_logged": row.get("kl"), "entropy": row.get("entropy"), "det_ret": ret, "kl_full": kf, "kl_full_max": kfmax, "kl_chunk": kc}
        out.write(json.dumps(rec) + "\n"); out.flush()
    prev["actor"] = copy.deepcopy(agent.actor)

cfg = Config(env_id="trpo/CartPoleNoVelocity-v1", policy="gru", preset="", total_steps=300_000, seed=seed, eval_every=10240)
train(cfg, f"/tmp/diag_recurrent_kl_s{seed}", progress=False, callback=cb, overwrite=True)

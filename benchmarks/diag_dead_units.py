"""Are the actor's features alive? For a run's checkpoint of an image policy: play ``--steps``
frames with the policy's sampled actions and count, per unit of the actor trunk's last layer (the
ReLU after the dense layer), the frames on which it fires (> 0); and read the optimiser's
first-moment estimate (Adam's exp_avg) per actor parameter: a layer whose gradient has been zero
for a long time keeps an exp_avg of ~0 (it decays by beta1 = 0.9 per step).

    python benchmarks/diag_dead_units.py RUN_DIR_OR_MANIFEST --steps 2000 --out RECORD.json

Written for docs/results/pong.md (PPO with the small TRPO-paper CNN on Pong, seed 100).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import machine, versions

from trpo.agent import Agent
from trpo.checkpoint import load_checkpoint


def actor_adam_moments(path: str) -> list[dict] | None:
    """Per actor parameter (in the optimiser's order): its name, shape and the largest |exp_avg|;
    None for a learner without Adam on the actor (trpo, npg: natural-gradient steps)."""
    state, _ = load_checkpoint(path)
    names = list(state["agent"]["actor"])
    if "opt" not in state["learner"]:
        return None
    opt = state["learner"]["opt"]["state"]
    out = []
    for i, name in enumerate(names):  # the learner's Adam holds the actor's parameters first
        s = opt[i]
        assert tuple(s["exp_avg"].shape) == tuple(state["agent"]["actor"][name].shape), name
        out.append({"param": name, "shape": list(s["exp_avg"].shape),
                    "max_abs_exp_avg": float(s["exp_avg"].abs().max()),
                    "max_exp_avg_sq": float(s["exp_avg_sq"].max())})
    return out


def firing(agent: Agent, steps: int, seed: int) -> np.ndarray:
    """Per unit of the actor trunk's output (``actor.net[0]``, ReLU last): the fraction of ``steps``
    frames, played with the policy's sampled actions from a reset with ``seed``, on which it is > 0."""
    fired: list[np.ndarray] = []
    hook = agent.actor.net[0].register_forward_hook(
        lambda m, i, o: fired.append((o.detach() > 0).reshape(-1, o.shape[-1]).cpu().numpy()))
    env = agent.env.make()
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    try:
        with torch.no_grad():
            for _ in range(steps):
                obs, _, term, trunc, _ = env.step(agent.act(obs, deterministic=False, rng=rng))
                if term or trunc:
                    obs, _ = env.reset()
    finally:
        hook.remove()
        env.close()
    return np.concatenate(fired).mean(0)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", help="a run directory (its latest checkpoint) or a checkpoint manifest")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fresh", action="store_true",
                   help="a freshly initialised agent of the checkpoint's config (torch seeded with its seed), "
                        "not the checkpoint's weights")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    agent = Agent.load(a.checkpoint)
    if a.fresh:
        torch.manual_seed(agent.cfg.seed)
        agent = Agent(agent.cfg, agent.obs_space, agent.act_space, env=agent.env)
    per_unit = firing(agent, a.steps, a.seed)
    rec = {"checkpoint": str(a.checkpoint), "weights": "fresh (its config, torch seeded with its seed)" if a.fresh
           else "the checkpoint's", "env": agent.cfg.env_id, "algo": agent.cfg.algo, "cnn": agent.cfg.cnn,
           "frames": a.steps, "actions": "sampled from the policy (seeded)",
           "units": int(per_unit.size), "units_firing_on_any_frame": int((per_unit > 0).sum()),
           "fraction_of_frames_each_unit_fires": [round(float(x), 4) for x in per_unit],
           "actor_adam": None if a.fresh else actor_adam_moments(a.checkpoint),
           "command": "python benchmarks/diag_dead_units.py " + " ".join(argv if argv is not None else sys.argv[1:]),
           "machine": {**machine(), "versions": versions()}}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(rec, indent=1) + "\n")
    print(f"{rec['units_firing_on_any_frame']} of {rec['units']} units fire on any of {rec['frames']} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())

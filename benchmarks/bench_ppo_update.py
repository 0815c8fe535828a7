"""PPO's update with a shared CNN trunk (``shared_trunk``, the ``atari-ppo`` preset): the trunk run
once for both heads wherever the update reads actor and critic on the same frames (each minibatch;
GAE's values with pi_old and V_old; the closing statistics: ``actor_critic_forward``, CleanRL's
layout) against once
per network (``learner.trunk = None``: what the learner did before), on the same networks and a
Pong-shaped batch, in one command.

    python benchmarks/bench_ppo_update.py                  # atari-ppo's shape: 8 x 128 frames of 4x84x84
    python benchmarks/bench_ppo_update.py --repeats 7

Each repeat times one full update (4 epochs of minibatches of 256, the preset's) per path,
interleaved (one-pass, two-pass, one-pass, ...) so a machine under varying load slows both alike;
the speed-up is the ratio of medians. The networks restart from the same weights for every update
(the work per update does not depend on them). Writes benchmarks/results/ppo-update-<time>.json
with the command, the commit, the CPU and every time.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from trpo import Config
from trpo.algos.ppo import PPO
from trpo.nets.factory import make_networks
from trpo.rollout import Batch
from trpo.system import cpu_model

HERE = Path(__file__).resolve().parent


def frames_batch(T: int, N: int, shape: tuple[int, ...], n_actions: int, seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    frames = lambda *s: torch.randint(0, 256, (*s, *shape), generator=g, dtype=torch.uint8)  # noqa: E731
    terminated = torch.zeros(T, N, dtype=torch.bool)
    terminated[T // 2, 0] = True
    return Batch(obs=frames(T, N), actions=torch.randint(0, n_actions, (T, N), generator=g),
                 rewards=torch.rand(T, N, generator=g), terminated=terminated,
                 truncated=torch.zeros(T, N, dtype=torch.bool), last_obs=frames(N), final_obs=frames(0),
                 final_idx=torch.zeros(0, dtype=torch.long), env_steps=T * N)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--envs", type=int, default=8)
    ap.add_argument("--steps", type=int, default=128, help="steps per env per batch")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    shape, n_actions = (4, 84, 84), 6  # ALE/Pong-v5 through EnvPool: 4 stacked 84x84 frames, 6 actions
    space = gym.spaces.Box(0, 255, shape, np.uint8)
    cfg = Config(algo="ppo", preset="atari-ppo", env_id="ALE/Pong-v5", num_envs=args.envs,
                 batch_steps=args.envs * args.steps, cnn="nature", shared_trunk=True, epochs=4,
                 minibatch_size=256, lr=2.5e-4, clip_range=0.1, clip_value=True, entropy_coef=0.01)
    cpu = torch.device("cpu")
    load = os.getloadavg()[0]  # at the start: above the core count, other work shared the machine
    torch.manual_seed(0)
    actor, critic, _ = make_networks(cfg, space, gym.spaces.Discrete(n_actions), cpu)
    start = {k: v.clone() for k, v in {**{"a." + k: v for k, v in actor.state_dict().items()},
                                        **{"c." + k: v for k, v in critic.state_dict().items()}}.items()}
    batch = frames_batch(args.steps, args.envs, shape, n_actions)
    times: dict[str, list[float]] = {"one trunk pass": [], "two trunk passes": []}
    for r in range(args.repeats + 1):  # the first round warms up, untimed
        for name in times:
            actor.load_state_dict({k[2:]: v for k, v in start.items() if k.startswith("a.")})
            critic.load_state_dict({k[2:]: v for k, v in start.items() if k.startswith("c.")})
            learner = PPO(actor, critic, cfg, cpu)
            if name == "two trunk passes":
                learner.trunk = None  # each network runs the trunk itself
            torch.manual_seed(r)
            t0 = time.perf_counter()
            learner.update(batch)
            if r:
                times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["two trunk passes"] / med["one trunk pass"]
    for k, v in times.items():
        print(f"{k:18s} median {med[k]:.2f} s per update  ({', '.join(f'{t:.2f}' for t in v)})")
    print(f"one pass is {ratio:.2f}x the two-pass update ({args.envs} x {args.steps} frames, 4 epochs of 256)")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=HERE, capture_output=True, text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=HERE.parent,
                                capture_output=True, text=True).stdout.strip())
    report = {"command": "python benchmarks/bench_ppo_update.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "commit": commit, "dirty": dirty, "cpu": cpu_model(), "python": platform.python_version(),
              "torch": torch.__version__, "loadavg_1min": load, "cores": os.cpu_count(), "threads": torch.get_num_threads(),
              "protocol": f"PPO update (atari-ppo: shared Nature CNN, 4 epochs of 256; one trunk pass per minibatch, for GAE's values with pi_old and V_old and for the closing statistics, against one per network) on {args.envs} x {args.steps} "
                          f"random 4x84x84 frames; {args.repeats} interleaved repeats after one untimed round; "
                          "ratio of medians",
              "seconds": times, "median_s": med, "speedup": ratio}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"ppo-update-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=1))
    print(f"wrote {path}")
    return report


if __name__ == "__main__":
    main()

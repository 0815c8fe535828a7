"""benchmarks/diag_dead_units.py, whose records pong.md's account of PPO's dead small CNN is
generated from: it counts the units of the actor's last layer that fire, and reads Adam's moments
of the actor's parameters, on a real checkpoint of a CNN policy."""
import importlib.util
import json
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

import trpo
from trpo.agent import Agent

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("diag_dead_units", ROOT / "benchmarks" / "diag_dead_units.py")
diag = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = diag
spec.loader.exec_module(diag)


class Frames(gym.Env):
    """Random 36x36 uint8 frames, two actions, no reward: only the frames matter here."""

    observation_space = gym.spaces.Box(0, 255, (1, 36, 36), np.uint8)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.np_random.integers(0, 256, (1, 36, 36), dtype=np.uint8), {}

    def step(self, a):
        return self.np_random.integers(0, 256, (1, 36, 36), dtype=np.uint8), 0.0, False, False, {}


gym.register("DeadUnitsFrames-v0", entry_point=Frames, max_episode_steps=50)


def test_counts_silent_and_firing_units_and_reads_adam(tmp_path):
    cfg = trpo.Config(env_id="DeadUnitsFrames-v0", algo="ppo", total_steps=512, num_envs=2, batch_steps=256,
                      cnn="trpo", check_env=False, warnings=False, eval_episodes=1, eval_periodic_episodes=0)
    trpo.train(cfg, run_dir=tmp_path / "run", progress=False)
    diag.main([str(tmp_path / "run"), "--steps", "40", "--out", str(tmp_path / "rec.json")])
    rec = json.loads((tmp_path / "rec.json").read_text())
    assert rec["units"] == 20 and len(rec["fraction_of_frames_each_unit_fires"]) == 20
    assert 0 <= rec["units_firing_on_any_frame"] <= 20 and rec["frames"] == 40
    agent = Agent.load(tmp_path / "run")
    names = [n for n, _ in agent.actor.named_parameters()]
    assert [a["param"] for a in rec["actor_adam"]] == names  # the actor's parameters, in the optimiser's order
    assert all(a["max_exp_avg_sq"] > 0 for a in rec["actor_adam"])  # two updates: every tensor had a gradient
    fc = agent.actor.net[0].net[5]  # the dense layer before the trunk's last ReLU
    with torch.no_grad():
        fc.bias.fill_(-1e3)
    assert diag.firing(agent, 30, 0).tolist() == [0.0] * 20  # none can fire
    with torch.no_grad():
        fc.weight.zero_()
        fc.bias.copy_(torch.tensor([1.0] * 10 + [-1.0] * 10))
    assert diag.firing(agent, 30, 0).tolist() == [1.0] * 10 + [0.0] * 10

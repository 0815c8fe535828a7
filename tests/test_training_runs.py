"""Short real training runs: repeatability, async envs, MultiDiscrete actions, MuJoCo."""
import csv

import gymnasium as gym
import numpy as np
import torch

import trpo


def metric_rows(run_dir):
    with open(run_dir / "metrics.csv") as f:
        return [{k: v for k, v in r.items() if k not in ("wall_s", "fps")} for r in csv.DictReader(f)]


def test_same_seed_same_run_on_cpu(tmp_path, tiny_cfg):
    cfg = tiny_cfg.replace(total_steps=768)
    a = trpo.train(cfg, run_dir=tmp_path / "a", progress=False)
    b = trpo.train(cfg, run_dir=tmp_path / "b", progress=False)
    assert metric_rows(tmp_path / "a") == metric_rows(tmp_path / "b")
    for (k, v), (_, w) in zip(a.agent.actor.state_dict().items(), b.agent.actor.state_dict().items()):
        assert torch.equal(v, w), k
    trpo.train(cfg.replace(seed=1), run_dir=tmp_path / "c", progress=False)
    assert metric_rows(tmp_path / "a") != metric_rows(tmp_path / "c")


def test_async_vector_env_gives_the_same_batches_as_sync(tmp_path, tiny_cfg):
    cfg = tiny_cfg.replace(total_steps=512, vector_mode="sync")
    trpo.train(cfg, run_dir=tmp_path / "s", progress=False)
    trpo.train(cfg.replace(vector_mode="async"), run_dir=tmp_path / "a", progress=False)
    assert metric_rows(tmp_path / "s") == metric_rows(tmp_path / "a")


class TwoDials(gym.Env):
    """MultiDiscrete([3, 2]): reward 1 when the dials match the observed targets."""

    observation_space = gym.spaces.Box(0, 2, (2,), np.float32)
    action_space = gym.spaces.MultiDiscrete([3, 2])

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.target = np.array([self.np_random.integers(3), self.np_random.integers(2)])
        return self.target.astype(np.float32), {}

    def step(self, a):
        r = float(np.all(np.asarray(a) == self.target))
        self.target = np.array([self.np_random.integers(3), self.np_random.integers(2)])
        return self.target.astype(np.float32), r, False, False, {}


gym.register("TwoDialsTest-v0", entry_point=TwoDials, max_episode_steps=20)


def test_multidiscrete_actions_learn(tmp_path):
    cfg = trpo.Config(env_id="TwoDialsTest-v0", total_steps=20_480, num_envs=4, batch_steps=1024,
                      max_kl=0.05, eval_episodes=10, check_env=False)
    r = trpo.train(cfg, run_dir=tmp_path / "m", progress=False)
    assert r.summary["final_eval_return_mean"] >= 15, r.summary  # random play scores 20/6 ~ 3.3


def test_mujoco_runs_out_of_the_box(tmp_path):
    cfg = trpo.Config(env_id="Hopper-v5", total_steps=512, num_envs=2, batch_steps=256, eval_episodes=1)
    r = trpo.train(cfg, run_dir=tmp_path / "h", progress=False)
    assert r.summary["total_steps"] == 512 and np.isfinite(r.summary["final_eval_return_mean"])


def test_periodic_evaluations_leave_training_as_it_is(tmp_path, tiny_cfg):
    """The learning tests run without periodic evaluations (their time, not their result): the
    deterministic and the sampled evaluation step their own envs with their own generator, so the
    batches, updates and final policy are those of a run without them, bit for bit (single-path and
    vine sampling, a categorical and a Gaussian policy)."""
    for algo, env_id, sampler in (("trpo", "CartPole-v1", "single-path"), ("ppo", "Pendulum-v1", "single-path"),
                                  ("trpo", "CartPole-v1", "vine")):
        cfg = tiny_cfg.replace(env_id=env_id, algo=algo, total_steps=1024, eval_every=256, sampler=sampler)
        algo = f"{algo}-{sampler}"
        a = trpo.train(cfg.replace(eval_periodic_episodes=2), run_dir=tmp_path / f"{algo}_e", progress=False)
        b = trpo.train(cfg.replace(eval_periodic_episodes=0), run_dir=tmp_path / f"{algo}_n", progress=False)
        evals = [r["eval_return_mean"] for r in metric_rows(tmp_path / f"{algo}_e")]
        assert sum(e != "" for e in evals) >= 3, evals  # the evaluations ran
        drop = ("eval_return_mean", "eval_return_std", "eval_stochastic_return_mean", "eval_stochastic_return_std")
        assert ([{k: v for k, v in r.items() if k not in drop} for r in metric_rows(tmp_path / f"{algo}_e")]
                == [{k: v for k, v in r.items() if k not in drop} for r in metric_rows(tmp_path / f"{algo}_n")])
        for (k, v), (_, w) in zip(a.agent.actor.state_dict().items(), b.agent.actor.state_dict().items()):
            assert torch.equal(v, w), (algo, k)
        assert a.summary["final_eval_return_mean"] == b.summary["final_eval_return_mean"]

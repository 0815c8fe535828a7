"""Bringing your own work: module:EnvId ids, env_kwargs, an env factory; resume with changes;
periodic evaluation with checkpoints/best; callbacks that stop a run; presets; the config listing."""
import json
import math

import gymnasium as gym
import numpy as np
import pytest

import trpo
from trpo.config import RESUMABLE, describe_fields, from_dict, parse_env_kwargs


class Target(gym.Env):
    """Move the point to the target: obs (position, target), reward -|position - target|."""

    observation_space = gym.spaces.Box(-10, 10, (2,), np.float32)
    action_space = gym.spaces.Discrete(3)

    def __init__(self, length: int = 20, target: float = 1.0):
        self.length, self.target = length, target

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x, self.t = 0.0, 0
        return self._obs(), {}

    def _obs(self):
        return np.array([self.x, self.target], np.float32)

    def step(self, a):
        self.x = float(np.clip(self.x + (int(a) - 1) * 0.5, -10, 10))
        self.t += 1
        return self._obs(), -abs(self.x - self.target), False, self.t >= self.length, {}


gym.register("TrpoTestTarget-v0", entry_point=f"{__name__}:Target")


def _cfg(**kw):
    base = dict(total_steps=1024, num_envs=2, batch_steps=256, eval_episodes=1, check_env=False,
                eval_periodic_episodes=1)
    return trpo.Config(**{**base, **kw})


def test_module_colon_env_id_is_imported_then_made(tmp_path):
    res = trpo.train(_cfg(env_id=f"{__name__}:TrpoTestTarget-v0", check_env=True), run_dir=tmp_path / "r",
                     progress=False)
    assert res.summary["total_steps"] == 1024
    assert trpo.load_toml(tmp_path / "r" / "config.toml").env_id == f"{__name__}:TrpoTestTarget-v0"
    agent = trpo.load(tmp_path / "r")  # the module is imported again on load
    assert agent.act(np.zeros(2, np.float32)) in (0, 1, 2)


def test_unknown_module_and_unknown_id_are_one_line_errors():
    with pytest.raises(trpo.EnvError, match="cannot import module 'no_such_pkg.envs'"):
        trpo.train(_cfg(env_id="no_such_pkg.envs:Foo-v0"), progress=False)
    with pytest.raises(trpo.EnvError, match=r"unknown environment .*after importing"):
        trpo.train(_cfg(env_id=f"{__name__}:Nope-v0"), progress=False)


def test_env_kwargs_reach_the_env_and_the_evaluation(tmp_path):
    cfg = _cfg(env_id="TrpoTestTarget-v0", env_kwargs={"length": 7, "target": 2.0})
    res = trpo.train(cfg, run_dir=tmp_path / "r", progress=False)
    assert res.agent.env.make().unwrapped.length == 7
    rows = (tmp_path / "r" / "metrics.csv").read_text().splitlines()
    assert float(rows[1].split(",")[4]) == 7.0  # episode_length_mean: the kwarg reached the training envs
    saved = trpo.load_toml(tmp_path / "r" / "config.toml")
    assert saved.env_kwargs == {"length": 7, "target": 2.0}
    with pytest.raises(trpo.EnvError, match="cannot make environment"):
        trpo.train(_cfg(env_id="TrpoTestTarget-v0", env_kwargs={"nonsense": 1}), progress=False)


def test_env_kwargs_parsing():
    assert parse_env_kwargs(["a=1", "b=0.5", "c=true", "d=rgb_array", "e='x y'"]) == \
        {"a": 1, "b": 0.5, "c": True, "d": "rgb_array", "e": "x y"}
    with pytest.raises(trpo.ConfigError, match="--env-kwargs expects KEY=VALUE"):
        parse_env_kwargs(["novalue"])


def test_env_fn_factory_trains_and_evaluates(tmp_path):
    made = []

    def factory():
        made.append(1)
        return Target(length=5)

    res = trpo.train(_cfg(env_id="my-own-target"), run_dir=tmp_path / "r", progress=False, env_fn=factory)
    assert res.summary["final_eval_return_mean"] is not None and len(made) >= 3
    assert res.summary["vector_mode"] == "sync"
    agent = trpo.load(tmp_path / "r", env_fn=factory)
    mean, _, _ = agent.evaluate(2)
    assert math.isfinite(mean)


class SnapshotTarget(Target):
    def get_snapshot(self) -> dict:
        return {"x": self.x, "t": self.t}

    def set_snapshot(self, s: dict) -> None:
        self.x, self.t = float(s["x"]), int(s["t"])


def test_vine_with_env_fn_needs_snapshots_or_says_so(tmp_path):
    with pytest.raises(trpo.EnvError, match="sampler 'vine' cannot snapshot Target: add get_snapshot"):
        trpo.train(_cfg(env_id="own", sampler="vine"), run_dir=tmp_path / "a", progress=False,
                   env_fn=lambda: Target(length=6))
    res = trpo.train(_cfg(env_id="own", sampler="vine", vine_branch_length=4), run_dir=tmp_path / "b",
                     progress=False, env_fn=lambda: SnapshotTarget(length=6))
    assert res.summary["total_steps"] >= 1024 and res.summary["sampler"] == "vine"


def test_resume_applies_allowed_changes_and_refuses_others(tmp_path, tiny_cfg):
    trpo.train(tiny_cfg, run_dir=tmp_path / "r", progress=False)
    with pytest.raises(trpo.ConfigError, match="--resume cannot change config key 'max_kl'"):
        trpo.train(trpo.Config(max_kl=0.05), resume=tmp_path / "r", progress=False)
    with pytest.raises(trpo.ConfigError, match="--resume cannot change config key 'env_id'"):
        trpo.train(tiny_cfg.replace(env_id="Acrobot-v1"), resume=tmp_path / "r", progress=False)
    res = trpo.train(trpo.Config(total_steps=1024, eval_periodic_episodes=0, keep_checkpoints=5),
                     resume=tmp_path / "r", progress=False)
    assert res.summary["total_steps"] == 1024
    saved = trpo.load_toml(tmp_path / "r" / "config.toml")
    assert saved.keep_checkpoints == 5 and saved.eval_periodic_episodes == 0  # recorded
    assert {"total_steps", "device", "eval_every", "checkpoint_every"} <= set(RESUMABLE)


def test_cli_resume_with_overrides(tmp_path, tiny_cfg):
    from trpo.cli import main

    trpo.train(tiny_cfg, run_dir=tmp_path / "r", progress=False)
    assert main(["train", "--resume", str(tmp_path / "r"), "--set", "gamma=0.5", "--quiet"]) == 2
    assert main(["train", "--resume", str(tmp_path / "r"), "--total-steps", "768", "--device", "cpu",
                 "--set", "eval_episodes=2", "--quiet"]) == 0
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["total_steps"] == 768
    assert trpo.load_toml(tmp_path / "r" / "config.toml").eval_episodes == 2


def test_best_checkpoint_survives_rotation_and_loads(tmp_path):
    cfg = _cfg(env_id="CartPole-v1", total_steps=4096, eval_every=512, keep_checkpoints=1, checkpoint_every=1)
    res = trpo.train(cfg, run_dir=tmp_path / "r", progress=False)
    ckpts = tmp_path / "r" / "checkpoints"
    assert len(list(ckpts.glob("ckpt-*.json"))) == 1          # rotation kept one
    best = list((ckpts / "best").glob("ckpt-*.json"))
    assert len(best) == 1
    import csv
    rows = list(csv.DictReader(open(tmp_path / "r" / "metrics.csv")))
    evals = [(int(r["iteration"]), float(r["eval_return_mean"])) for r in rows if r["eval_return_mean"]]
    assert len(evals) == 4096 // 512
    best_iter = max(evals, key=lambda e: e[1])[0]               # the first of the best evaluations
    assert json.loads(best[0].read_text())["counters"]["iteration"] == best_iter
    assert res.summary["best_eval_return"] == max(e[1] for e in evals)
    agent = trpo.load(tmp_path / "r", best=True)
    mean, _, _ = agent.evaluate(1, seed=cfg.seed + 20_000)     # the same start state as its evaluation
    assert mean == max(e[1] for e in evals)


def test_no_best_checkpoint_is_a_clear_error(tmp_path, tiny_cfg):
    trpo.train(tiny_cfg.replace(eval_periodic_episodes=0), run_dir=tmp_path / "r", progress=False)
    with pytest.raises(trpo.CheckpointError, match="no best checkpoint"):
        trpo.load(tmp_path / "r", best=True)


def test_stop_at_return_stops_with_a_checkpoint(tmp_path):
    cfg = _cfg(env_id="CartPole-v1", total_steps=50_000, eval_every=1024, stop_at_return=-1.0)  # any return
    res = trpo.train(cfg, run_dir=tmp_path / "r", progress=False)
    assert res.summary["stop_reason"].startswith("stop_at_return") and res.summary["total_steps"] == 1024
    assert not res.interrupted and res.summary["final_eval_return_mean"] is not None


def test_callback_stops_the_run_and_it_resumes(tmp_path, tiny_cfg):
    seen = []

    def cb(row, agent):
        seen.append((row["iteration"], type(agent).__name__))
        return row["iteration"] == 2

    cfg = tiny_cfg.replace(total_steps=2048, checkpoint_every=100)
    res = trpo.train(cfg, run_dir=tmp_path / "r", progress=False, callback=cb)
    assert seen == [(1, "Agent"), (2, "Agent")] and res.summary["stop_reason"] == "callback"
    assert res.summary["total_steps"] == 512
    res2 = trpo.train(None, resume=tmp_path / "r", progress=False)
    assert res2.summary["total_steps"] == 2048  # the saved total; a checkpoint was written at the stop


def test_presets_apply_to_default_keys_only_and_are_recorded():
    from trpo.resolve import resolve_run

    cfg, env = resolve_run(from_dict({"env_id": "Hopper-v5"}))
    assert cfg.preset == "mujoco" and cfg.batch_steps == 2048 and cfg.cg_iters == 25
    assert env.vector_mode in ("sync", "split")  # auto: split on 2+ cores (tests/rollout/test_vector_mode.py)
    cfg, _ = resolve_run(from_dict({"env_id": "Hopper-v5", "cg_iters": 12}))
    assert cfg.cg_iters == 12 and cfg.batch_steps == 2048                  # the user's key wins
    cfg, _ = resolve_run(from_dict({"env_id": "Swimmer-v5"}))
    assert cfg.preset == "mujoco-swimmer" and cfg.gamma == 0.9999
    cfg, _ = resolve_run(from_dict({"env_id": "Swimmer-v5", "algo": "ppo"}))  # RL-Zoo's Swimmer entry for ppo
    assert cfg.preset == "mujoco-swimmer-ppo" and cfg.gamma == 0.9999 and cfg.batch_steps == 4096
    assert not cfg.anneal_lr and cfg.clipped_action_logprob
    cfg, _ = resolve_run(from_dict({"env_id": "Swimmer-v5", "algo": "ppo-kl"}))  # not tuned there: the family's
    assert cfg.preset == "mujoco-ppo" and cfg.gamma == 0.99
    cfg, _ = resolve_run(from_dict({"env_id": "Hopper-v5", "algo": "ppo"}))   # presets name their algorithms
    assert cfg.preset == "mujoco-ppo" and cfg.batch_steps == 1024 and cfg.clipped_action_logprob
    cfg, _ = resolve_run(from_dict({"env_id": "Hopper-v5", "algo": "ppo-kl"}))
    assert cfg.preset == "mujoco-ppo" and cfg.clipped_action_logprob
    cfg, _ = resolve_run(from_dict({"env_id": "Hopper-v5", "algo": "a2c"}))
    assert cfg.preset == "mujoco-a2c" and cfg.batch_steps == 1024 and cfg.clipped_action_logprob
    cfg, _ = resolve_run(from_dict({"env_id": "Walker2d-v5", "algo": "a2c"}))   # the anchor's batch, chosen on seeds 0-1
    assert cfg.preset == "mujoco-walker2d-a2c" and (cfg.num_envs, cfg.batch_steps, cfg.lr) == (16, 80, 7e-4)
    cfg, _ = resolve_run(from_dict({"env_id": "Walker2d-v5", "algo": "a2c", "lr": 1e-3}))
    assert cfg.lr == 1e-3 and cfg.batch_steps == 80                        # the user's key wins
    cfg, _ = resolve_run(from_dict({"env_id": "Ant-v5", "algo": "a2c"}))       # and its log-std, on Ant
    assert cfg.preset == "mujoco-ant-a2c" and cfg.log_std_init == -0.5 and cfg.batch_steps == 80
    assert cfg.env_kwargs == {"include_cfrc_ext_in_observation": False}
    cfg, _ = resolve_run(from_dict({"env_id": "Ant-v5", "algo": "ppo"}))   # Ant: trpo's observation
    assert cfg.preset == "mujoco-ant-pg" and cfg.env_kwargs == {"include_cfrc_ext_in_observation": False}
    cfg, _ = resolve_run(from_dict({"env_id": "trpo/CartPoleNoVelocity-v1", "policy": "gru"}))
    assert cfg.preset == "cartpole-novelocity" and cfg.entropy_coef == 0.01
    cfg, _ = resolve_run(from_dict({"env_id": "trpo/CartPoleNoVelocity-v1", "policy": "gru", "entropy_coef": 0.0}))
    assert cfg.entropy_coef == 0.0                                          # given at the default: kept
    cfg, _ = resolve_run(from_dict({"env_id": "Hopper-v5", "algo": "reinforce"}))   # no MuJoCo preset
    assert cfg.preset == "" and cfg.batch_steps == 1024 and not cfg.clipped_action_logprob
    cfg, _ = resolve_run(from_dict({"env_id": "Hopper-v5", "preset": ""}))
    assert cfg.preset == "" and cfg.batch_steps == 1024
    cfg, _ = resolve_run(from_dict({"env_id": "CartPole-v1", "preset": "mujoco"}))   # named: applied anywhere
    assert cfg.batch_steps == 2048
    with pytest.raises(trpo.ConfigError, match="unknown preset 'nope'"):
        resolve_run(from_dict({"env_id": "CartPole-v1", "preset": "nope"}))


def test_a_key_the_user_gives_keeps_its_value_under_the_preset_even_at_its_default(tmp_path):
    from trpo.cli import main
    from trpo.resolve import resolve_run

    cfg, _ = resolve_run(from_dict({"env_id": "Hopper-v5", "cg_iters": 10}))
    assert cfg.preset == "mujoco" and cfg.cg_iters == 10 and cfg.batch_steps == 2048  # 10 is the default
    cfg, _ = resolve_run(trpo.Config(env_id="Hopper-v5", cg_iters=10))  # a Config knows what it was given
    assert cfg.cg_iters == 10 and cfg.provenance["cg_iters"] == "user"
    assert cfg.provenance["batch_steps"] == "preset mujoco" and cfg.provenance["gamma"] == "default"
    cfg, _ = resolve_run(trpo.Config(env_id="Hopper-v5"))
    assert cfg.cg_iters == 25
    # trpo train keeps what it is given (flags, --set, --config), and its config.toml replays the same
    common = ["--num-envs", "2", "--total-steps", "256", "--quiet", "--set", "batch_steps=256",
              "--set", "eval_episodes=1", "--set", "check_env=false"]
    assert main(["train", "CartPole-v1", "--preset", "mujoco", "--set", "cg_iters=10", "--run-dir",
                 str(tmp_path / "a"), *common]) == 0
    saved = trpo.load_toml(tmp_path / "a" / "config.toml")
    assert saved.preset == "mujoco" and saved.cg_iters == 10 and saved.critic_epochs == 20
    assert main(["train", "--config", str(tmp_path / "a" / "config.toml"), "--run-dir", str(tmp_path / "b"),
                 "--quiet"]) == 0
    assert trpo.load_toml(tmp_path / "b" / "config.toml") == saved


def test_every_config_key_is_listed_with_its_facts(capsys):
    from trpo.cli import main
    from trpo.config import FIELDS

    text = describe_fields()
    for name in FIELDS:
        assert f"  {name} (" in text
    assert "max_kl (float, default 0.01; range (0, inf); read by trpo, npg)" in text
    assert "algo (str, default 'trpo'; one of trpo," in text
    assert "Conjugate-gradient iterations" in (trpo.Config.__doc__ or "")
    assert main(["config"]) == 0 and "vine_branch_length" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "critic_minibatch (int, default 128" in capsys.readouterr().out
    assert main(["presets"]) == 0 and "mujoco" in capsys.readouterr().out


def test_evaluation_of_an_env_without_a_time_limit_ends(tmp_path, monkeypatch):
    """An env that never terminates and has no time limit (MinAtar's games have none: a
    deterministic Seaquest policy once hung a run's periodic evaluation for 35 minutes): each
    evaluation episode is cut at the env's own limit, else at EVAL_STEP_CAP steps."""
    import trpo.agent as A

    class Endless(Target):
        def step(self, a):
            obs, r, _, _, info = super().step(a)
            return obs, r, False, False, info

    monkeypatch.setattr(A, "EVAL_STEP_CAP", 300)
    res = trpo.train(_cfg(env_id="endless", total_steps=512), run_dir=tmp_path / "r", progress=False,
                     env_fn=lambda: Endless())
    assert math.isfinite(res.summary["final_eval_return_mean"])
    agent = trpo.load(tmp_path / "r", env_fn=lambda: Endless())
    seen = []
    real_step = Endless.step

    def counting(self, a):
        seen.append(1)
        return real_step(self, a)

    monkeypatch.setattr(Endless, "step", counting)
    agent.evaluate(2)
    assert len(seen) == 2 * 300
    seen.clear()
    agent.evaluate(1, max_episode_steps=40)
    assert len(seen) == 40

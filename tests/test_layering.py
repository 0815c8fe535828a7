"""What the user gives is what runs: every entry point x {a key given at its default value, at
another value} on an env with a preset (Hopper-v5: the mujoco preset sets cg_iters = 25, the
default is 10), and on resume. The value that runs is the value given, or a refusal by name."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import trpo
from trpo.cli import main

ENV = "Hopper-v5"
DEFAULT, OTHER, PRESET = 10, 12, 25  # cg_iters: the default, another value, the mujoco preset's
# a short run: one iteration of the preset's 2 x 1,024 layout, a one-episode final evaluation
SHORT = {"total_steps": 2048, "eval_periodic_episodes": 0, "eval_episodes": 1, "check_env": False,
         "critic_fit": "inline"}
SHORT_SET = [x for k, v in SHORT.items() if k != "total_steps" for x in ("--set", f"{k}={v}")]


def ran(run_dir) -> trpo.Config:
    return trpo.load_toml(run_dir / "config.toml")


def provenance(run_dir) -> dict:
    import tomllib

    return tomllib.loads((run_dir / "config.toml").read_text())["provenance"]


@pytest.mark.parametrize("value", [DEFAULT, OTHER])
def test_trpo_train_flags_and_set(tmp_path, value):
    assert main(["train", ENV, "--total-steps", "2048", "--set", f"cg_iters={value}", *SHORT_SET,
                 "--run-dir", str(tmp_path / "r"), "--quiet"]) == 0
    cfg = ran(tmp_path / "r")
    assert cfg.cg_iters == value and cfg.preset == "mujoco" and cfg.batch_steps == 2048
    prov = provenance(tmp_path / "r")
    assert prov["cg_iters"] == "user" and prov["batch_steps"] == "preset mujoco" and prov["gamma"] == "default"


@pytest.mark.parametrize("value", [DEFAULT, OTHER])
def test_config_file_and_its_replay(tmp_path, value):
    path = tmp_path / "my.toml"
    path.write_text(f'env_id = "{ENV}"\ncg_iters = {value}\ntotal_steps = 2048\n')
    assert main(["train", "--config", str(path), *SHORT_SET, "--run-dir", str(tmp_path / "a"), "--quiet"]) == 0
    assert ran(tmp_path / "a").cg_iters == value
    assert provenance(tmp_path / "a")["cg_iters"] == f"file {path}"
    # a flag beats the file
    assert main(["train", "--config", str(path), "--set", f"cg_iters={OTHER + 1}", *SHORT_SET,
                 "--run-dir", str(tmp_path / "b"), "--quiet"]) == 0
    assert ran(tmp_path / "b").cg_iters == OTHER + 1
    # the run's config.toml replays the run: the same config, key for key
    assert main(["train", "--config", str(tmp_path / "a" / "config.toml"), "--run-dir", str(tmp_path / "c"),
                 "--quiet"]) == 0
    assert ran(tmp_path / "c") == ran(tmp_path / "a")


@pytest.mark.parametrize("value", [DEFAULT, OTHER])
def test_python_config(tmp_path, value, capsys):
    res = trpo.train(trpo.Config(env_id=ENV, cg_iters=value, **SHORT), tmp_path / "r")
    assert res.agent.cfg.cg_iters == value and ran(tmp_path / "r").cg_iters == value
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith("preset mujoco: set ") and "batch_steps=2048" in line
    assert f"yours kept: cg_iters={value} (preset: {PRESET})" in line
    # replace() gives the key too
    res = trpo.train(trpo.Config(env_id=ENV, **SHORT).replace(cg_iters=value), tmp_path / "s", progress=False)
    assert res.agent.cfg.cg_iters == value
    # not given: the preset's
    res = trpo.train(trpo.Config(env_id=ENV, **SHORT), tmp_path / "t", progress=False)
    assert res.agent.cfg.cg_iters == PRESET


@pytest.mark.parametrize("value", [DEFAULT, OTHER])
def test_tune_trial_and_written_preset(tmp_path, value):
    pytest.importorskip("optuna")
    from trpo.tools.tune import tune

    study = tune(ENV, "trpo", 1, total_steps=4096, quiet=True, storage=tmp_path / "s.db",
                 output=tmp_path / "best.toml", overrides={"cg_iters": str(value), "eval_periodic_episodes": "1",
                                                           "check_env": "false", "critic_fit": "inline"})
    (t,) = study.trials
    assert ran(tmp_path / "Hopper-v5_trpo" / "trial_0").cg_iters == value
    assert t.user_attrs["env_steps"] <= 4096  # never past the budget
    assert t.user_attrs["fixed"]["cg_iters"] == value
    best = trpo.load_toml(tmp_path / "best.toml")
    assert best.cg_iters == value and best.preset == "mujoco"
    from trpo.resolve import layer
    assert layer(best).cg_iters == value  # trpo train --config best.toml runs it


@pytest.mark.parametrize("value", [DEFAULT, OTHER])
def test_compare(tmp_path, value):
    out = subprocess.run([sys.executable, "-m", "trpo", "compare", ENV, "--algos", "trpo", "--seeds", "1",
                          "--total-steps", "2048", "-o", str(tmp_path), "--jobs", "1",
                          "--set", f"cg_iters={value}", *SHORT_SET], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert ran(tmp_path / "runs" / f"{ENV}_trpo_s0").cg_iters == value


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A finished Hopper run (cg_iters from the preset, eval_episodes = 1), copied per test."""
    d = tmp_path_factory.mktemp("saved") / "r"
    trpo.train(trpo.Config(env_id=ENV, **SHORT), d, progress=False)
    return d


@pytest.fixture
def run(saved_run, tmp_path):
    import shutil

    return shutil.copytree(saved_run, tmp_path / "r")


@pytest.mark.parametrize("value", [1, 10, 3])  # the saved value, the default, another
def test_resume_applies_a_resumable_key_whatever_its_value(run, value):
    assert main(["train", "--resume", str(run), "--total-steps", "4096", "--set", f"eval_episodes={value}",
                 "--quiet"]) == 0
    assert ran(run).eval_episodes == value and ran(run).total_steps == 4096
    assert provenance(run)["eval_episodes"].startswith("user, on resume at iteration 1")
    assert provenance(run)["cg_iters"] == "preset mujoco"  # the rest as saved
    assert json.loads((run / "summary.json").read_text())["final_eval_episodes"] == value


@pytest.mark.parametrize("value", [DEFAULT, OTHER, PRESET])  # the default, another, the saved value
def test_resume_refuses_any_other_key_by_name_whatever_its_value(run, value, capsys):
    before = (run / "config.toml").read_text()
    assert main(["train", "--resume", str(run), "--total-steps", "4096", "--set", f"cg_iters={value}"]) == 2
    err = capsys.readouterr().err
    assert "--resume cannot change config key 'cg_iters'" in err and err.count("\n") == 1
    assert (run / "config.toml").read_text() == before  # nothing touched
    if value != PRESET:  # from Python, a key at the run's own value is kept (a whole config gives every key)
        with pytest.raises(trpo.ConfigError, match="'cg_iters'"):
            trpo.train(trpo.Config(cg_iters=value), resume=run, progress=False)

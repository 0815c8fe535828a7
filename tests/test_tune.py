"""trpo tune: Optuna search over tiny CartPole runs (a few seconds each), resume, pruning, the preset
TOML, the optional extra and the one-line errors."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

from trpo import ConfigError, load_toml, train  # noqa: E402
from trpo.cli import main  # noqa: E402
from trpo.tools.tune import MISSING_OPTUNA, _base_config, _preset_dict, search_space, suggest, tune  # noqa: E402

TINY = ["batch_steps=512", "eval_every=1024", "eval_periodic_episodes=2", "eval_episodes=1", "check_env=false",
        "warnings=false"]


def test_cli_tune_resume_and_preset(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["tune", "CartPole-v1", "--algo", "trpo", "--trials", "3", "--total-steps", "4096", "--seed", "1"]
    for kv in TINY:
        args += ["--set", kv]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "best trials of CartPole-v1_trpo" in out and "trial 2:" in out

    db, preset = tmp_path / "tune" / "CartPole-v1_trpo.db", tmp_path / "tune" / "CartPole-v1_trpo.toml"
    assert db.exists() and preset.exists()
    assert all((tmp_path / "tune" / "CartPole-v1_trpo" / f"trial_{i}" / "summary.json").exists() for i in range(3))

    # resume: the same study, one more trial
    study = tune("CartPole-v1", "trpo", 1, total_steps=4096, seed=1, overrides=TINY, quiet=True,
                 storage=db)
    assert len(study.trials) == 4 and [t.number for t in study.trials] == [0, 1, 2, 3]
    assert (tmp_path / "tune" / "CartPole-v1_trpo" / "trial_3" / "metrics.csv").exists()
    states = {t.state for t in study.trials}
    assert states <= {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED}

    # the objective: the mean of the last 3 periodic evaluations, reported at the eval grid's steps
    from trpo.tools.curves import read_metrics
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    for t in done:
        ev = np.asarray(read_metrics(t.user_attrs["run_dir"])["eval_return_mean"], dtype=float)
        ev = ev[np.isfinite(ev)]
        assert t.value == pytest.approx(ev[-3:].mean())
        assert set(t.intermediate_values) == {1024, 2048, 3072, 4096}
        assert "batch_steps" not in t.params  # fixed with --set: not searched

    # the preset: flat keys, the best trial's values, loads and trains
    best = max(done, key=lambda t: t.value)
    cfg = load_toml(preset)
    run_cfg = load_toml(f"{best.user_attrs['run_dir']}/config.toml")
    text = preset.read_text()
    assert not any(line.lstrip().startswith("[") for line in text.splitlines())  # flat keys, no tables
    keys = {line.split("=")[0].strip() for line in text.splitlines() if "=" in line and not line.startswith("#")}
    assert keys == {"env_id", "algo", "preset", "batch_steps", *search_space("trpo")}
    assert (cfg.env_id, cfg.algo, cfg.batch_steps) == ("CartPole-v1", "trpo", 512)
    for k in search_space("trpo"):
        assert getattr(cfg, k) == getattr(run_cfg, k), k
    r = train(cfg.replace(total_steps=1024, eval_episodes=1, check_env=False), tmp_path / "from_preset",
              progress=False)
    assert r.summary["total_steps"] >= 1024


def test_pruning_stops_the_run(tmp_path):
    # a constructed case: every intermediate value is below the threshold, so the first report prunes
    study = tune("CartPole-v1", "ppo", 1, total_steps=4096, overrides=TINY, quiet=True,
                 storage=tmp_path / "p.db", output=tmp_path / "best.toml",
                 pruner=optuna.pruners.ThresholdPruner(lower=1e9))
    (t,) = study.trials
    assert t.state == optuna.trial.TrialState.PRUNED
    assert list(t.intermediate_values) == [1024]
    assert t.user_attrs["pruned_at"] == 1024 and t.user_attrs["env_steps"] == 1024  # stopped, not run on
    assert not (tmp_path / "best.toml").exists()  # no complete trial: no preset yet


def test_missing_optuna_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna -> ImportError
    with pytest.raises(ConfigError) as e:
        tune("CartPole-v1", "trpo", 1)
    assert str(e.value) == MISSING_OPTUNA == "trpo tune needs Optuna: pip install 'trpo[tune]'"
    assert main(["tune", "CartPole-v1", "--trials", "1"]) == 2
    assert capsys.readouterr().err == f"trpo: error: {MISSING_OPTUNA}\n"
    assert not (tmp_path / "tune").exists()


@pytest.mark.parametrize("argv, msg", [
    (["--algo", "nope"], "unknown algorithm 'nope'"),
    (["--trials", "0"], "--trials must be a positive integer"),
    (["--set", "no_such_key=1"], "unknown config key 'no_such_key'"),
    (["--set", "total_steps=5"], "use --total-steps"),
])
def test_bad_arguments_are_one_line(tmp_path, monkeypatch, capsys, argv, msg):
    monkeypatch.chdir(tmp_path)
    full = ["tune", "CartPole-v1", "--trials", "1", *argv] if "--trials" not in argv else ["tune", "CartPole-v1", *argv]
    assert main(full) == 2
    err = capsys.readouterr().err
    assert err.startswith("trpo: error: ") and msg in err and err.count("\n") == 1
    assert not (tmp_path / "tune").exists()  # nothing created


def test_importing_trpo_does_not_import_optuna():
    code = ("import sys, trpo, trpo.tools.tune, trpo.cli; trpo.cli.build_parser(); "
            "print('optuna' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("algo", ["trpo", "npg", "ppo", "ppo-kl", "reinforce", "a2c", "a3c", "pg-l2"])
def test_every_search_space_gives_valid_configs(algo):
    from trpo.algos import ALGOS

    assert algo in ALGOS
    base, _ = _base_config("CartPole-v1", algo, 100_000, 0, {})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0), direction="maximize")
    space = search_space(algo)
    for _ in range(20):
        trial = study.ask()
        params = suggest(trial, space, base.num_envs)
        cfg = base.replace(**params)  # validated
        assert all(getattr(cfg, k) == (tuple(v) if isinstance(v, list) else v) for k, v in params.items())
        study.tell(trial, 0.0)


def test_a_tuned_value_equal_to_a_default_survives_the_preset():
    # Hopper has the mujoco preset (batch_steps 2048); a tuned batch_steps of 1024 (the default) must
    # stay 1024 in the run and in the written file, which names the preset it was tuned under
    from trpo.config import load_toml
    from trpo.resolve import layer

    base, layered = _base_config("Hopper-v5", "trpo", 10_000, 0, {"cg_iters": "10"})
    assert layered.preset == "mujoco" and layered.batch_steps == 2048 and layered.cg_iters == 10
    cfg = base.replace(batch_steps=1024)
    assert layer(cfg).batch_steps == 1024 and layer(cfg).cg_iters == 10
    d = _preset_dict(cfg, ["batch_steps"], ["cg_iters"], layered.preset)
    assert d == {"env_id": "Hopper-v5", "algo": "trpo", "preset": "mujoco", "cg_iters": 10, "batch_steps": 1024}
    import tomli_w
    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(tomli_w.dumps(d))
    replay = layer(load_toml(f.name))  # what trpo train --config FILE runs
    assert (replay.batch_steps, replay.cg_iters, replay.critic_epochs) == (1024, 10, 20)


def test_batch_sizes_that_do_not_fit_the_budget_are_not_sampled():
    from trpo.tools.tune import fitting_space

    base, layered = _base_config("Hopper-v5", "trpo", 4096, 0, {})
    space = fitting_space(search_space("trpo"), layered, 4096, 3)
    assert space["batch_steps"] == ("cat", (512, 1024))  # 3 iterations of each fit in 4,096 steps
    with pytest.raises(ConfigError, match="too small"):
        fitting_space(search_space("trpo"), layered, 1000, 3)


def test_activation_is_searched_and_can_be_fixed(tmp_path):
    """``activation`` is in the trust-region and PPO spaces; ``--set activation=relu`` fixes it (not
    searched, the trial runs with it); layer sizes given as "64,64" strings become lists for
    actor_hidden / critic_hidden as for hidden."""
    assert search_space("trpo")["activation"] == ("cat", ("tanh", "relu")) == search_space("ppo")["activation"]
    study = tune("CartPole-v1", "trpo", 1, total_steps=2048, overrides=[*TINY, "activation=relu"], quiet=True,
                 storage=tmp_path / "a.db", output=tmp_path / "best.toml")
    (t,) = study.trials
    assert "activation" not in t.params and "hidden" in t.params
    assert load_toml(f"{t.user_attrs['run_dir']}/config.toml").activation == "relu"
    base, _ = _base_config("CartPole-v1", "trpo", 100_000, 0, {})
    trial = optuna.create_study().ask()
    got = suggest(trial, {"actor_hidden": ("cat", ("32,16",)), "critic_hidden": ("cat", ("8",))}, base.num_envs)
    assert got == {"actor_hidden": [32, 16], "critic_hidden": [8]}
    cfg = base.replace(**got)
    assert cfg.actor_hidden == (32, 16) and cfg.critic_hidden == (8,)

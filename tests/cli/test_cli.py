"""The command line through subprocess: train, eval, plot, resume, and bad arguments."""
import json
import os
import subprocess
import sys

import pytest

TRPO = [sys.executable, "-m", "trpo"]
FAST = ["--set", "batch_steps=256", "--num-envs", "2", "--set", "check_env=false", "--set", "eval_episodes=2", "--quiet"]


def run(*args, timeout=120):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run([*TRPO, *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_train_eval_plot_resume(tmp_path):
    rd = tmp_path / "run"
    p = run("train", "CartPole-v1", "--total-steps", "768", "--seed", "3", "--run-dir", str(rd), *FAST)
    assert p.returncode == 0, p.stderr
    for name in ("config.toml", "metrics.csv", "summary.json", "checkpoints"):
        assert (rd / name).exists(), name
    assert list((rd / "tb").glob("events.out.tfevents.*"))
    summary = json.loads((rd / "summary.json").read_text())
    for key in ("algo", "env_id", "seed", "total_steps", "wall_s", "steps_per_s", "final_eval_return_mean",
                "final_eval_return_std", "final_eval_episodes", "version"):
        assert key in summary, key
    assert summary["total_steps"] == 768 and summary["seed"] == 3
    from trpo.system import cpu_model
    assert summary["machine"]["cpu"] == cpu_model() and summary["machine"]["usable_cores"] >= 1
    assert summary["trust_region"] == {"max_kl": 0.01, "cg_damping": 0.1, "scale": 1}  # CartPole: discrete
    header = (rd / "metrics.csv").read_text().splitlines()[0].split(",")
    for col in ("iteration", "env_steps", "wall_s", "episode_return_mean", "episode_length_mean", "kl", "entropy",
                "value_loss", "fps", "surrogate_gain", "linesearch_steps", "cg_residual", "step_accepted"):
        assert col in header, col

    p = run("eval", str(rd), "--episodes", "3")
    assert p.returncode == 0 and "over 3 episodes" in p.stdout, p.stderr
    p = run("eval", str(rd), "--episodes", "2", "--stochastic")
    assert p.returncode == 0 and "stochastic" in p.stdout

    out = tmp_path / "curve.png"
    p = run("plot", str(rd), str(rd), "-o", str(out))
    assert p.returncode == 0 and out.stat().st_size > 1000

    p = run("train", "--resume", str(rd), "--total-steps", "1280", "--quiet")
    assert p.returncode == 0, p.stderr
    lines = (rd / "metrics.csv").read_text().splitlines()[1:]
    assert [int(l.split(",")[0]) for l in lines] == [1, 2, 3, 4, 5]
    assert json.loads((rd / "summary.json").read_text())["total_steps"] == 1280

    # the resolved config reproduces the run
    p = run("train", "--config", str(rd / "config.toml"), "--total-steps", "256", "--run-dir", str(tmp_path / "again"), "--quiet")
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("args,needle", [
    (["train", "NoSuchEnv-v9"], "unknown environment 'NoSuchEnv-v9'"),
    (["train", "CartPole-v1", "--set", "max_kl=-1"], "'max_kl'"),
    (["train", "CartPole-v1", "--set", "gamma=1.0"], "'gamma'"),
    (["train", "CartPole-v1", "--set", "batch_steps=0"], "'batch_steps'"),
    (["train", "CartPole-v1", "--set", "gama=0.9"], "did you mean 'gamma'"),
    (["train", "CartPole-v1", "--set", "gamma"], "KEY=VALUE"),
    (["train", "CartPole-v1", "--set", "gamma=abc"], "'gamma'"),
    (["train", "CartPole-v1", "--algo", "nope"], "invalid choice"),
    (["train", "CartPole-v1", "--total-steps", "x"], "invalid int"),
    (["train", "CartPole-v1", "--config", "/no/such.toml"], "not found"),
    (["eval", "/no/such/run"], "no such run directory"),
    (["plot", "/no/such/run"], "not a run directory"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_arguments_exit_2_with_one_line(args, needle):
    p = run(*args)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert needle in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "Traceback" not in p.stderr


def test_help_and_bad_arguments_answer_before_torch_loads():
    """`trpo --help`, `trpo config` and an argument error need no torch (~3 s of imports): the
    parser and `import trpo` stay light; the commands import what they run."""
    code = ("import sys\nfrom trpo.cli import main\n"
            "for argv in (['frobnicate'], ['export', '--help'], ['train', '--help'], ['config']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "print('torch' in sys.modules)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.strip().splitlines()[-1] == "False", p.stdout[-500:] + p.stderr[-2000:]


def test_export_formats_of_the_parser_are_the_exporters():
    from trpo.cli import EXPORT_FORMATS
    from trpo.tools.export import FORMATS
    assert EXPORT_FORMATS == tuple(FORMATS)

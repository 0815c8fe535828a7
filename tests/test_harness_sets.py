"""The results harness keeps each run to one core when runs share the cores (-j 2+ or --shared):
what ``trpo compare --jobs 2+`` adds, the same for every suite."""
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def harness():
    spec = importlib.util.spec_from_file_location("harness_under_test", ROOT / "benchmarks" / "harness.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_shared_runs_keep_to_one_core(harness, monkeypatch):
    import trpo.system

    monkeypatch.setattr(trpo.system, "usable_cores", lambda: 4)
    assert harness.one_core_sets("Hopper-v5") == ["critic_fit=inline", "vector_mode=sync"]  # auto would split
    assert harness.one_core_sets("HalfCheetah-v5") == ["critic_fit=inline"]  # auto keeps sync there


def test_shared_flag_parsed(harness, monkeypatch):
    seen = {}
    monkeypatch.setattr(harness, "cmd_status", lambda a: seen.update(vars(a)) or 0)
    monkeypatch.setattr(harness, "cmd_run", lambda a: seen.update(vars(a)) or 0)
    monkeypatch.setattr(sys, "argv", ["harness.py"])
    assert harness.main(["run", "mujoco-heldout", "-j", "1", "--shared"]) == 0
    assert seen["shared"] is True and seen["jobs"] == 1


def _set_args(cmd: list[str]) -> list[str]:
    """The KEY=VALUE of each --set of a worker's command line."""
    return [cmd[i + 1] for i, x in enumerate(cmd) if x == "--set"]


def test_an_env_s_own_sets_replace_the_suite_s_for_their_keys(harness):
    suite = harness.Suite("t", ("Walker2d-v5", "Ant-v5"), ("a2c",), ("ours",), (0,), 1000, 500,
                          sets=("preset=mujoco-a2c", "lr=7e-4"), env_sets={"Ant-v5": ("preset=mujoco-ant-pg",)})

    walker, ant = suite.runs()
    assert _set_args(harness.worker_cmd(suite, walker, False)) == ["preset=mujoco-a2c", "lr=7e-4", "algo=a2c"]
    # one preset on Ant, the env's own
    assert _set_args(harness.worker_cmd(suite, ant, False)) == ["lr=7e-4", "preset=mujoco-ant-pg", "algo=a2c"]
    with pytest.raises(ValueError, match="Ant-v4"):  # a misspelt env would be ignored: refused instead
        harness.Suite("t", ("Ant-v5",), ("a2c",), ("ours",), (0,), 1000, 500, env_sets={"Ant-v4": ("lr=1",)})


def test_a_baseline_suite_names_the_settings_it_compares_against(harness):
    """A tuning suite's baseline must not follow auto: a preset adopted from it would turn its
    later runs into the variant's (a2c-tuning's Walker2d seeds 2-3 once did)."""
    from trpo.config import Config, parse_overrides
    from trpo.resolve import resolve_run

    for name in ("a2c-tuning", "a2c-tuning-walker2d", "a2c-tuning-short", "a2c-tuning-short-walker2d"):
        suite = harness.SUITES[name]
        for run in suite.runs():
            over = parse_overrides(_set_args(harness.worker_cmd(suite, run, True)))
            cfg, _ = resolve_run(Config(env_id=run["env"]).replace(**over))
            short = "short" in name
            assert (cfg.batch_steps, cfg.log_std_init) == ((80, 0.0) if short else (1024, 0.0)), (name, run["env"])
            assert cfg.clipped_action_logprob
            assert cfg.env_kwargs == ({"include_cfrc_ext_in_observation": False} if run["env"] == "Ant-v5" else {})


def test_a_stopped_ours_run_resumes_and_its_record_equals_one_process(harness, tmp_path, monkeypatch):
    """A session's stop kills the suite's runs; ``harness.py run`` again resumes ours from its
    newest checkpoint (trpo's exact resume), so the record holds the numbers of an uninterrupted
    run, and says it came in two segments. A run whose src/ changed starts over."""
    import os
    import signal
    import subprocess
    import time

    git = harness.machine()["git"]
    if harness.src_tree(git) is None:
        pytest.skip("src/ has uncommitted changes (or no git): the harness would start over, by design")
    monkeypatch.setattr(harness, "RUNS", tmp_path / "runs")
    suite = harness.Suite("test", ("CartPole-v1",), ("trpo",), ("ours",), (0,), 8192, 2048, eval_episodes=2,
                          sets=("num_envs=2", "batch_steps=512", "check_env=false", "checkpoint_every=3"))
    (run,) = suite.runs()
    whole = harness.run_one(suite, run, True)  # one process, no run home
    # the first segment, stopped (SIGKILL, as a session's end) once its first checkpoints are on disk
    cmd = harness.worker_cmd(suite, run, True)
    home, _ = harness.run_home("test", run["name"], {**git, "commit": "abc"}, harness.run_key(suite, run))
    cmd += ["--run-dir", str(home)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    t = time.monotonic()
    while not list((home / "checkpoints").glob("ckpt-000003.json")) and p.poll() is None and time.monotonic() - t < 120:
        time.sleep(0.01)
    assert p.poll() is None, "the first segment ended before it could be stopped"
    time.sleep(0.15)  # an iteration or so past the checkpoint (of 16): rows that the resume must drop
    p.send_signal(signal.SIGKILL)
    p.wait()
    rec = harness.run_one(suite, run, True, "test")
    harness.finish_home("test", run["name"])
    assert len(rec["segments"]) == 2 and rec["segments"][0]["commit"] == "abc"
    a, b = whole["result"], rec["result"]
    # the resumed process ran only the iterations after the checkpoint: it measured no outside-clock
    # time for the earlier ones (a worker that started over would have)
    assert b["train_curve"][1][3] is None and b["train_curve"][-2][3] is not None
    assert [(s, r) for s, _, r in a["eval_curve"]] == [(s, r) for s, _, r in b["eval_curve"]]
    assert [(s, r) for s, _, r, _ in a["train_curve"]] == [(s, r) for s, _, r, _ in b["train_curve"]]
    for k in ("steps", "final_eval_return", "final_eval_stochastic_return", "best_eval_return"):
        assert a[k] == b[k], k
    assert not home.exists() and not (home.parent / f"{home.name}.json").exists()  # a finished run leaves nothing
    # a run home made under another src/ tree is not resumed
    tree, new = harness.src_tree(git), {**git, "commit": "new"}
    for first in ({"src_tree": "0" * 40, "key": "k"}, {"src_tree": tree, "key": "other"}):
        harness.write_atomic(home.parent / "x.json", {"segments": [{**first, "commit": "old"}]})
        (home.parent / "x" / "checkpoints").mkdir(parents=True)
        (home.parent / "x" / "checkpoints" / "ckpt-000001.json").write_text("{}")
        d, segs = harness.run_home("test", "x", new, "k")
        assert len(segs) == 1 and segs[0]["commit"] == "new" and not (d / "checkpoints").exists()
    # a run stopped before its first checkpoint is one segment, not two
    harness.write_atomic(home.parent / "y.json", {"segments": [{"src_tree": tree, "key": "k", "commit": "old"}]})
    _, segs = harness.run_home("test", "y", new, "k")
    assert len(segs) == 1
    # one harness at a time per run
    with harness.run_lock("test", "z") as first, harness.run_lock("test", "z") as second:
        assert first and not second


def test_stepcost_layers_step_the_same_episodes_and_write_a_record(harness, tmp_path, monkeypatch, capsys):
    """``harness.py stepcost``: the one env and our vector env of it step the same pre-drawn actions
    from the same seed, so they end the same episodes (the layers time the same work); a MuJoCo env
    gets its simulator alone as a layer; the record names the machine and its command."""
    import json

    monkeypatch.setattr(harness, "RECORDS", tmp_path)
    assert harness.main(["stepcost", "--env", "Hopper-v5", "--steps", "300", "--repeats", "2"]) == 0
    (rec_path,) = (tmp_path / "stepcost").glob("Hopper-v5_*.json")
    rec = json.loads(rec_path.read_text())
    assert list(rec["median_us"])[:5] == ["simulator (mj_step)", "env", "vector env", "sampler loop",
                                          "policy alone (no env)"]
    assert rec["resets"]["env"] == rec["resets"]["vector env"] > 0
    assert all(len(v) == 2 and min(v) > 0 for v in rec["layers"].values())
    assert rec["machine"]["cpu"] and "--steps 300 --repeats 2" in rec["command"]
    assert "sampler loop" in capsys.readouterr().out


def test_stepcost_of_an_env_without_a_simulator(harness):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import step_cost

    m = step_cost.measure("CartPole-v1", steps=200, repeats=1)
    assert "simulator (mj_step)" not in m["median_us"]
    assert m["resets"]["env"] == m["resets"]["vector env"] > 0

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


def test_a_stopped_ours_run_resumes_and_its_record_equals_one_process(harness, tmp_path, monkeypatch):
    """A session's stop kills the suite's runs; ``harness.py run`` again resumes ours from its
    newest checkpoint (trpo's exact resume), so the record holds the numbers of an uninterrupted
    run, and says it came in two segments. A run whose src/ changed starts over."""
    import os
    import signal
    import subprocess
    import time

    if harness.src_tree() is None:
        pytest.skip("src/ has uncommitted changes (or no git): the harness would start over, by design")
    monkeypatch.setattr(harness, "RUNS", tmp_path / "runs")
    suite = harness.Suite("test", ("CartPole-v1",), ("trpo",), ("ours",), (0,), 8192, 2048, eval_episodes=2,
                          sets=("num_envs=2", "batch_steps=512", "check_env=false", "checkpoint_every=1"))
    (run,) = suite.runs()
    whole = harness.run_one(suite, run, True)  # one process, no run home
    # the first segment, stopped (SIGKILL, as a session's end) once its first checkpoints are on disk
    home, _ = harness.run_home("test", run["name"], "abc")
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_trpo.py"), "--worker", "ours", "--env", "CartPole-v1",
           "--steps", "8192", "--seed", "0", "--eval-every", "2048", "--eval-episodes", "2", "--peer-threads", "1",
           "--run-dir", str(home)]
    for s in (*suite.sets, "algo=trpo", *harness.one_core_sets("CartPole-v1")):
        cmd += ["--set", s]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    t = time.monotonic()
    while len(list((home / "checkpoints").glob("ckpt-*.json"))) < 3 and p.poll() is None and time.monotonic() - t < 120:
        time.sleep(0.01)
    killed = p.poll() is None
    p.send_signal(signal.SIGKILL)
    p.wait()
    rec = harness.run_one(suite, run, True, "test")
    if killed:
        assert len(rec["segments"]) == 2 and rec["segments"][0]["commit"] == "abc"
    a, b = whole["result"], rec["result"]
    assert [(s, r) for s, _, r in a["eval_curve"]] == [(s, r) for s, _, r in b["eval_curve"]]
    assert [(s, r) for s, _, r, _ in a["train_curve"]] == [(s, r) for s, _, r, _ in b["train_curve"]]
    for k in ("steps", "final_eval_return", "final_eval_stochastic_return", "best_eval_return"):
        assert a[k] == b[k], k
    assert not home.exists() and not (home.parent / f"{home.name}.json").exists()  # a finished run leaves nothing
    # a run home made under another src/ tree is not resumed
    harness.write_atomic(home.parent / "x.json", {"segments": [{"src_tree": "0" * 40, "commit": "old"}]})
    (home.parent / "x" / "checkpoints").mkdir(parents=True)
    d, segs = harness.run_home("test", "x", "new")
    assert len(segs) == 1 and segs[0]["commit"] == "new" and not (d / "checkpoints").exists()

"""Exact resume in a fresh process, Ctrl-C / SIGTERM during a real CLI run, then --resume."""
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from trpo.checkpoint import list_checkpoints, load_checkpoint
from trpo.cli import main

COMMON = ["--num-envs", "4", "--set", "batch_steps=64", "--set", "check_env=false", "--set", "eval_episodes=1",
          "--set", "checkpoint_every=3", "--seed", "7", "--quiet"]
K = 5  # iterations before the interruption


def _cli_subprocess(*argv, **kw):
    return subprocess.Popen([sys.executable, "-m", "trpo", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONHASHSEED": "0"}, **kw)


def _rows(run):
    with open(Path(run) / "metrics.csv", newline="") as f:
        return [{k: v for k, v in r.items() if k not in ("wall_s", "fps")} for r in csv.DictReader(f)]


def _assert_same_state(a, b, path="state"):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            if k in ("python_rng", "numpy_rng"):  # global RNGs nothing in training draws from; the
                continue  # interpreter itself may (test_rng_states_roundtrip checks their restore)
            _assert_same_state(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same_state(x, y, f"{path}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b), path
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b), path
    else:
        assert a == b, path


@pytest.mark.parametrize("vector_mode", ["vector_entry_point", "sync"])  # CartPole's auto choice; sync
def test_exact_resume_in_fresh_process_is_bitwise(tmp_path, vector_mode):
    """K iterations, save, resume in a fresh process to 2K == 2K uninterrupted (CPU, bitwise)."""
    steps = 64 * K
    half, full = tmp_path / "half", tmp_path / "full"
    common = [*COMMON, "--set", f"vector_mode={vector_mode}"]
    assert main(["train", "CartPole-v1", "--total-steps", str(steps), "--run-dir", str(half), *common]) == 0
    p = _cli_subprocess("train", "--resume", str(half), "--total-steps", str(2 * steps), "--quiet")
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert "not bitwise" not in out  # the CartPole envs were snapshotted and restored
    assert main(["train", "CartPole-v1", "--total-steps", str(2 * steps), "--run-dir", str(full), *common]) == 0

    a, ma = load_checkpoint(half)
    b, mb = load_checkpoint(full)
    assert ma["counters"]["iteration"] == mb["counters"]["iteration"] == 2 * K
    assert ma["counters"]["env_steps"] == mb["counters"]["env_steps"]
    _assert_same_state(a, b)  # actor, critic, Adam moments, obs/reward statistics, envs, every RNG
    ra, rb = _rows(half), _rows(full)
    assert len(ra) == 2 * K and [int(r["iteration"]) for r in ra] == list(range(1, 2 * K + 1))
    assert ra == rb


def test_resume_carries_the_last_training_return_into_batches_where_no_episode_ends(tmp_path):
    """metrics.csv's episode_return_mean is the last batch with an ended episode's mean; Pendulum's
    episodes are 200 steps, so the batches after a resume at 256 steps end none: their rows carry
    the value from before the resume, as the uninterrupted run's do (it was NaN after a resume)."""
    common = ["--num-envs", "1", "--set", "batch_steps=64", "--set", "check_env=false", "--set", "eval_episodes=1",
              "--set", "eval_periodic_episodes=0", "--seed", "3", "--quiet"]
    half, full = tmp_path / "half", tmp_path / "full"
    assert main(["train", "Pendulum-v1", "--total-steps", "256", "--run-dir", str(half), *common]) == 0
    assert main(["train", "--resume", str(half), "--total-steps", "384", "--quiet"]) == 0
    assert main(["train", "Pendulum-v1", "--total-steps", "384", "--run-dir", str(full), *common]) == 0
    ra, rb = _rows(half), _rows(full)
    assert [r["episode_return_mean"] for r in ra[4:]] == [ra[3]["episode_return_mean"]] * 2 != ["nan"] * 2
    assert ra == rb


@pytest.mark.parametrize("activation", ["tanh", "relu", "elu", "gelu", "silu"])
def test_exact_resume_for_every_activation(tmp_path, activation):
    """The networks keys survive a resume: K iterations, then resumed to 2K (in this process, from
    the checkpoint's config) == 2K uninterrupted, bitwise (its own layouts and, but for tanh,
    PyTorch's default init)."""
    steps = 64 * 3
    half, full = tmp_path / "half", tmp_path / "full"
    nets = ["--set", f"activation={activation}", "--set", "actor_hidden=16", "--set", "critic_hidden=8,8",
            "--set", f"ortho_init={activation == 'tanh'}", "--set", "critic_fit=inline"]
    assert main(["train", "CartPole-v1", "--total-steps", str(steps), "--run-dir", str(half), *COMMON, *nets]) == 0
    assert main(["train", "--resume", str(half), "--total-steps", str(2 * steps), "--quiet"]) == 0
    assert main(["train", "CartPole-v1", "--total-steps", str(2 * steps), "--run-dir", str(full), *COMMON,
                 *nets]) == 0
    a, ma = load_checkpoint(half)
    b, _ = load_checkpoint(full)
    assert ma["config"]["activation"] == activation and ma["config"]["critic_hidden"] == [8, 8]
    assert a["agent"]["actor"]["net.0.weight"].shape == (16, 4)
    _assert_same_state(a, b)
    assert _rows(half) == _rows(full)


def _wait_for_rows(run, n, proc, timeout=90):
    t0 = time.time()
    while time.time() - t0 < timeout:
        assert proc.poll() is None, proc.communicate()
        try:
            if len(_rows(run)) >= n:
                return
        except (FileNotFoundError, KeyError, StopIteration):
            pass
        time.sleep(0.1)
    raise AssertionError("the run made no progress")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_and_resume_finishes(tmp_path, sig):
    run = tmp_path / "run"
    total = 64 * 80
    p = _cli_subprocess("train", "CartPole-v1", "--total-steps", str(total), "--run-dir", str(run), *COMMON)
    _wait_for_rows(run, 4, p)
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert f"{sig.name}: saved a checkpoint" in out and f"trpo train --resume {run}" in out
    assert "Traceback" not in err
    state, manifest = load_checkpoint(run)
    it = manifest["counters"]["iteration"]
    rows = _rows(run)
    assert it >= 4 and [int(r["iteration"]) for r in rows] == list(range(1, it + 1))  # nothing lost or doubled
    assert it < 80, "the run finished before the signal arrived"
    # --resume finishes the run: the metrics continue without gaps or duplicates
    if sig == signal.SIGINT:
        q = _cli_subprocess("train", "--resume", str(run), "--quiet")
        _, err = q.communicate(timeout=120)
        assert q.returncode == 0, err
    else:
        assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert [int(r["iteration"]) for r in _rows(run)] == list(range(1, 81))
    assert load_checkpoint(run)[1]["counters"]["iteration"] == 80


def test_hard_interrupt_mid_iteration_keeps_last_checkpoint(tmp_path, monkeypatch):
    """A KeyboardInterrupt inside an iteration (second Ctrl-C) saves nothing half-done: the latest
    checkpoint is the last complete periodic one and resume drops the rows logged after it."""
    import trpo.algos.trpo as trpo_mod

    run = tmp_path / "run"
    calls = {"n": 0}
    real = trpo_mod.TRPO.update

    def update(self, batch):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real(self, batch)

    monkeypatch.setattr(trpo_mod.TRPO, "update", update)
    rc = main(["train", "CartPole-v1", "--total-steps", str(6 * 64), "--run-dir", str(run), *COMMON])
    assert rc == 130
    assert [p.name for p in list_checkpoints(run / "checkpoints")] == ["ckpt-000003.json"]
    monkeypatch.undo()
    assert len(_rows(run)) == 4  # iteration 4 was logged but not checkpointed
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert [int(r["iteration"]) for r in _rows(run)] == list(range(1, 7))


def test_rng_states_roundtrip():
    import random

    from trpo.trainer import _set_rng_states

    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    saved = {"torch_rng": torch.get_rng_state(), "python_rng": random.getstate(), "numpy_rng": np.random.get_state()}
    from trpo.checkpoint import save_checkpoint
    save_checkpoint(Path(os.environ.get("TMPDIR", "/tmp")) / f"rng-{os.getpid()}", 1, saved, {})
    state, _ = load_checkpoint(Path(os.environ.get("TMPDIR", "/tmp")) / f"rng-{os.getpid()}")
    expect = (random.random(), np.random.random(), torch.rand(1).item())
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    _set_rng_states(state)
    assert (random.random(), np.random.random(), torch.rand(1).item()) == expect

"""Checkpoints never strand a run: eval, resume and export fall back to the newest valid
checkpoint with one line naming the damaged one; --checkpoint PATH picks one; eval and resume say
which checkpoint they use."""
import json

import pytest

import trpo
from trpo.checkpoint import list_checkpoints
from trpo.cli import main


@pytest.fixture
def run(tmp_path):
    cfg = trpo.Config(env_id="CartPole-v1", total_steps=2048, num_envs=2, batch_steps=256, checkpoint_every=2,
                      keep_checkpoints=5, eval_periodic_episodes=0, eval_episodes=1, check_env=False)
    trpo.train(cfg, tmp_path / "r", progress=False)
    return tmp_path / "r"


def damage_newest(run):
    ckpts = list_checkpoints(run / "checkpoints")
    newest = ckpts[-1].with_suffix(".safetensors")
    newest.write_bytes(newest.read_bytes()[:100])  # truncated
    return ckpts


def test_eval_resume_and_export_fall_back_to_the_newest_valid_checkpoint(run, capsys):
    ckpts = damage_newest(run)
    assert main(["eval", str(run), "--episodes", "1"]) == 0
    out, err = capsys.readouterr()
    assert f"skipping damaged checkpoint {ckpts[-1].name}" in err and "checksum mismatch" in err
    assert f"checkpoint: {ckpts[-2]} (iteration 6" in out
    assert main(["train", "--resume", str(run), "--total-steps", "2304", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert "skipping damaged checkpoint" in err and f"resuming from {ckpts[-2]} (iteration 6, 1,536 env steps)" in out
    assert json.loads((run / "summary.json").read_text())["total_steps"] == 2304
    pytest.importorskip("torch")
    assert main(["export", str(run), "--format", "torchscript", "-o", str(run / "p.pt")]) == 0


def test_checkpoint_flag_picks_one(run, capsys):
    ckpts = list_checkpoints(run / "checkpoints")
    assert main(["eval", str(run), "--episodes", "1", "--checkpoint", str(ckpts[0])]) == 0
    assert f"checkpoint: {ckpts[0]} (iteration 2, 512 env steps)" in capsys.readouterr().out
    assert main(["train", "--resume", str(run), "--checkpoint", str(ckpts[1]), "--total-steps", "2048",
                 "--quiet"]) == 0
    assert f"resuming from {ckpts[1]} (iteration 4, 1,024 env steps)" in capsys.readouterr().out
    # a damaged checkpoint named explicitly is refused, not replaced
    damage_newest(run)
    assert main(["eval", str(run), "--checkpoint", str(list_checkpoints(run / "checkpoints")[-1])]) == 2
    assert "checksum mismatch" in capsys.readouterr().err


def test_every_checkpoint_damaged_is_one_line(run, capsys):
    for c in list_checkpoints(run / "checkpoints"):
        c.with_suffix(".safetensors").write_bytes(b"x")
    assert main(["eval", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("trpo: error: every checkpoint in") and len(err[-1].splitlines()) == 1


def test_small_messages(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "nope"), "--best"]) == 2
    assert "no such run directory" in capsys.readouterr().err


def test_helper_processes_die_with_a_killed_trainer(tmp_path):
    """SIGKILL the trainer mid-run: no process of the run is left (the critic-fit helper included)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    code = ("import trpo; trpo.train(trpo.Config(env_id='Pendulum-v1', total_steps=10**7, critic_fit='process', "
            f"eval_periodic_episodes=0, check_env=False), {str(tmp_path / 'r')!r}, progress=False)")
    p = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.time() + 120
        children = []
        while time.time() < deadline and not children:
            out = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True).stdout.split()
            children = [int(c) for c in out]
            time.sleep(0.5)
        assert children, "the trainer started no helper process"
        os.kill(p.pid, signal.SIGKILL)
        p.wait(30)
        deadline = time.time() + 10
        alive = children
        while time.time() < deadline and alive:
            alive = [c for c in children if os.path.exists(f"/proc/{c}") and
                     "Z" not in open(f"/proc/{c}/stat").read().split(")")[1].split()[0]]
            time.sleep(0.2)
        assert not alive, f"helper processes {alive} outlived the killed trainer"
    finally:
        if p.poll() is None:
            p.kill()

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

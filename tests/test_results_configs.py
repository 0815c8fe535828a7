"""The committed MuJoCo results (docs/results/mujoco.md) were made with the settings the package
ships: `trpo train ENV --seed S --total-steps 1000000` resolves today to each run's config.toml."""
from pathlib import Path

import pytest

import trpo
from trpo.algos.trust_region import effective_trust_region
from trpo.config import from_dict
from trpo.resolve import resolve_run

RAW = Path(__file__).resolve().parents[1] / "benchmarks" / "records" / "pre-harness" / "mujoco" / "raw"


def _as_run(cfg, act_space):
    """The settings the run steps with: kl_per_action_dim folded into max_kl and cg_damping (some
    committed runs were made while the option recorded the folded values), the preset's name
    left out (Hopper's runs were made when its settings were the `mujoco` preset's), and `split`
    read as `sync` (the runs were made with `sync`; `auto` now picks `split` on some envs: the same
    batches bit for bit, tests/rollout/test_split.py)."""
    mode = "sync" if cfg.vector_mode == "split" else cfg.vector_mode
    return effective_trust_region(cfg, act_space).replace(kl_per_action_dim=False, preset="", vector_mode=mode)


def test_the_raw_runs_are_there():  # an empty glob would make the test below pass vacuously
    assert len(list(RAW.glob("*_s*"))) == 25


@pytest.mark.parametrize("run", sorted(RAW.glob("*_s*")), ids=lambda p: p.name)
def test_shipped_presets_resolve_to_the_committed_runs_configs(run):
    saved = trpo.load_toml(run / "config.toml")
    cfg, env = resolve_run(from_dict({"env_id": saved.env_id, "seed": saved.seed, "total_steps": saved.total_steps,
                                      "critic_fit": saved.critic_fit}))
    _, act_space = env.spaces()
    assert _as_run(cfg, act_space) == _as_run(saved, act_space)

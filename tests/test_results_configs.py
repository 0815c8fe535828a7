"""The committed MuJoCo results (docs/results/mujoco.md) were made with the settings the package
ships: `trpo train ENV --seed S --total-steps 1000000` resolves today to each run's config.toml."""
from pathlib import Path

import pytest

import trpo
from trpo.config import from_dict
from trpo.resolve import resolve_run

RAW = Path(__file__).resolve().parents[1] / "docs" / "results" / "mujoco" / "raw"


@pytest.mark.parametrize("run", sorted(RAW.glob("*_s*")), ids=lambda p: p.name)
def test_shipped_presets_resolve_to_the_committed_runs_configs(run):
    saved = trpo.load_toml(run / "config.toml")
    cfg, _ = resolve_run(from_dict({"env_id": saved.env_id, "seed": saved.seed, "total_steps": saved.total_steps,
                                    "critic_fit": saved.critic_fit}))
    assert cfg == saved

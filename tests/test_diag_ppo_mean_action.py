"""benchmarks/diag_ppo_mean_action.py, whose records family.md's PPO account is generated from:
E[clip(mu + s eps, -1, 1)] in closed form against Monte Carlo, and the compact log's round trip."""
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("diag_ppo_mean_action", ROOT / "benchmarks" / "diag_ppo_mean_action.py")
diag = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = diag
spec.loader.exec_module(diag)


def test_expected_clipped_action_matches_monte_carlo():
    rng = np.random.default_rng(0)
    mu = np.array([-2.0, -0.9, 0.0, 0.5, 1.2, 3.0])
    s = np.array([0.3, 0.1, 1.0, 0.7, 0.2, 2.0])
    mc = np.clip(mu + s * rng.standard_normal((400_000, mu.size)), -1, 1).mean(0)
    assert np.allclose(diag.expected_clipped(mu, s), mc, atol=4e-3)
    assert np.allclose(diag.expected_clipped(np.array([0.3]), np.array([1e-6])), 0.3)  # no spread: the mean
    assert np.allclose(diag.expected_clipped(np.array([5.0]), np.array([1e-3])), 1.0)  # far past the bound


def test_compact_keeps_the_fields_the_page_reads(tmp_path):
    rows = [{"it": i, "lr": 3e-4 / i, "kl": 0.01 * i, "kl_max": 0.02 * i, "adam_step_max_over_lr": 1.23456,
             "log_std": [-0.1, -0.2, -0.3], "frac_mu_out": 0.333333, "ep_len": [1000],
             "top": [{"obs_absmax": 2.5}, {"obs_absmax": 3.25}]} for i in (1, 2)]
    src = tmp_path / "diag.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    diag.compact(str(src), str(tmp_path / "out.csv"))
    back = diag.read_compact(tmp_path / "out.csv")
    assert [r["it"] for r in back] == [1, 2]
    assert back[1]["kl"] == 0.02 and back[0]["adam_step_max_over_lr"] == 1.235 and back[0]["top_kl_obs_absmax"] == 3.25
    assert (back[0]["log_std_0"], back[0]["log_std_2"]) == (-0.1, -0.3)

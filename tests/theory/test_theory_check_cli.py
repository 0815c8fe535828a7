"""The check battery, the autograd first-order match, the CLI and the demo."""

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trpo.theory import TabularMDP, bounds, random_policy, softmax_gradient
from trpo.theory.check import autograd_gradients, format_report, run_check
from trpo.theory.cli import configure, register

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _run_module(*args, timeout=120):
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "trpo.theory", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_first_order_match_by_autograd():
    """grad_theta eta(pi_theta) = grad_theta L_pi0(pi_theta) at theta0 (TRPO eq. 4), both by
    torch autograd through the exact linear solve, and equal to the closed form rho pi A."""
    rng = np.random.default_rng(0)
    for gamma in (0.5, 0.9, 0.99):
        mdp = TabularMDP.random(5, 3, gamma, rng)
        theta0 = np.log(random_policy(5, 3, rng))
        g_eta, g_L = autograd_gradients(mdp, theta0)
        scale = np.abs(g_eta).max()
        np.testing.assert_allclose(g_L, g_eta, rtol=0, atol=1e-10 * scale)
        np.testing.assert_allclose(softmax_gradient(mdp, theta0), g_eta, rtol=0, atol=1e-10 * scale)
        # ... and the match is only first order: away from theta0 the gradients differ
        g_eta_far, _ = autograd_gradients(mdp, theta0 + rng.standard_normal(theta0.shape))
        assert np.abs(g_eta_far - g_eta).max() > 1e-6 * scale


def test_check_battery_passes_and_reports_every_claim():
    report = run_check(n_mdps=3, n_states=4, n_actions=3, gamma=0.9, seed=1)
    assert report.ok
    names = [r.name for r in report.results]
    assert len(names) == 9 and "MIGT, TV form" in names and "Algorithm 1 monotone" in names
    for r in report.results:
        assert r.trials > 0 and r.violations == 0
        if r.kind == "identity":
            assert -1e-12 < r.worst_slack <= 0 and r.median_tightness is None
        else:
            assert r.worst_slack >= 0 and 0 < r.median_tightness <= 1
    text = format_report(report)
    assert "all claims hold" in text and "performance difference lemma" in text


def test_check_battery_detects_a_wrong_bound(monkeypatch):
    """The battery can fail: the "Monotonic Improvement" post's sign (eta <= L - C alpha^2 read as a lower bound
    L + C alpha^2) is caught, and so is a bound with the penalty divided by 100."""
    monkeypatch.setattr(bounds, "migt_bound", lambda m, p, q: bounds.surrogate(m, p, q) + bounds.migt_penalty(m, p, q))
    monkeypatch.setattr(bounds, "migt_bound_kl", lambda m, p, q: bounds.surrogate(m, p, q)
                        - bounds.penalty_coefficient(m, p) * bounds.kl_max(p, q) / 100)
    report = run_check(n_mdps=3, n_states=4, n_actions=3, gamma=0.9, seed=1)
    assert not report.ok
    assert report["MIGT, TV form"].violations > 0
    assert report["MIGT, intermediate form"].violations == 0
    assert "SOME CLAIMS VIOLATED" in format_report(report)


def test_register_adds_theory_to_a_main_parser():
    parser = argparse.ArgumentParser(prog="trpo")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(["theory", "check", "--mdps", "2", "--states", "3", "--gamma", "0.5", "--seed", "4"])
    assert (args.mdps, args.states, args.actions, args.gamma, args.seed) == (2, 3, 3, 0.5, 4)
    assert args.func(args) == 0
    args = parser.parse_args(["theory", "demo", "-o", "somewhere"])
    assert args.output == "somewhere" and callable(args.func)
    for bad in (["theory"], ["theory", "check", "--gamma", "1"], ["theory", "check", "--mdps", "0"],
                ["theory", "check", "--states", "x"], ["theory", "demo"], ["theory", "nope"]):
        with pytest.raises(SystemExit) as err:
            parser.parse_args(bad)
        assert err.value.code == 2


def test_module_cli_check_exits_zero():
    result = _run_module("check", "--mdps", "5")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all claims hold" in result.stdout
    assert "MIGT" in result.stdout


@pytest.mark.parametrize("args", [["check", "--gamma", "1.5"], ["check", "--mdps", "-1"], ["check", "--bogus"], []])
def test_module_cli_bad_arguments_exit_two(args):
    result = _run_module(*args)
    assert result.returncode == 2
    assert "error:" in result.stderr and result.stdout == ""


def test_demo_writes_figures(tmp_path, capsys):
    from trpo.theory.demo import make_figures

    parser = argparse.ArgumentParser()
    configure(parser)
    paths = make_figures(tmp_path / "figs", seed=1, iters=4, tightness_mdps=2)
    assert len(paths) == 5
    for p in paths:
        assert p.exists() and p.stat().st_size > 10_000
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "learning_curves" in capsys.readouterr().out

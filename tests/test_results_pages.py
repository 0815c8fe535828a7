"""Every number of a generated block (README, docs/benchmarks.md, docs/results/) is what
`make results` writes from the committed raw records: a page that drifts from its records fails."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_generated_blocks_match_the_raw_records():
    pytest.importorskip("rliable")
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "pages.py"), "--check"], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_check_fails_on_a_page_that_differs(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import pages

    text = "a\n<!-- generated:x -->\nold\n<!-- /generated:x -->\nb\n"
    assert pages.render(text, "x", "new") == "a\n<!-- generated:x -->\nnew\n<!-- /generated:x -->\nb\n"
    assert pages.render(pages.render(text, "x", "new"), "x", "new") == pages.render(text, "x", "new")
    with pytest.raises(SystemExit):
        pages.render("no markers", "x", "new")


def test_the_family_anchor_measures_follow_each_anchors_protocol():
    """CleanRL's number is the training return at the end, Tianshou's the highest point of the
    mean curve over seeds (not the mean of each seed's best): checked against a hand count."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import pages_family as pf

    nan = float("nan")
    a = {"result": {"eval_curve": [[1, 0, 10.0], [2, 0, 30.0], [3, 0, 20.0]],
                    "train_curve": [[i, 0, float(i)] for i in range(1, 13)] + [[13, 0, nan]]}}
    b = {"result": {"eval_curve": [[1, 0, 40.0], [2, 0, 0.0], [3, 0, 20.0]],
                    "train_curve": [[1, 0, 100.0]]}}
    # mean curve (25, 15, 20): its highest point is 25, where the mean of the bests would be 35
    assert pf._best_of_mean_curve({0: a, 1: b}) == 25.0
    # the last 10 iterations that ended an episode: 3..12 -> 7.5 (the NaN one is skipped)
    assert pf._train_end(a["result"]) == 7.5
    assert pf._anchor_measure("ppo", {0: a, 1: b}) == (7.5 + 100.0) / 2
    assert pf._verdict(90.0, 100.0, 3, 5) == "10% below (n = 3 of 5)"
    assert pf._verdict(100.0, 100.0, 5, 5) == "at or above"


def test_the_family_aggregate_needs_the_same_held_out_seeds_on_every_env():
    """A method counts as complete only with seeds 100.. on every env (not just as many seeds), and
    the keep rule reads negative returns as within 10% of the best."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import pages_family as pf

    rec = {"result": {"final_eval_return": 1.0}}
    recs = {(e, "trpo"): {s: rec for s in pf.HELD_OUT} for e in pf.MUJOCO5}
    recs.update({(e, "a2c"): {s: rec for s in (100, 101, 103)} for e in pf.MUJOCO5})  # 3 seeds, not 100-102
    assert pf._complete(recs)[0] == ["trpo"]
    recs.update({(e, "a2c"): {s: rec for s in (100, 101, 102)} for e in pf.MUJOCO5})
    assert pf._complete(recs)[0] == ["trpo", "a2c"]
    assert pf.keeps(450.0, 500.0) and not pf.keeps(449.0, 500.0)
    assert pf.keeps(-110.0, -100.0) and not pf.keeps(-111.0, -100.0)


def test_probability_of_improvement_is_three_floats_in_order():
    """rliable gives the interval as a (2, 1) array: the page's P(X > Y) reads it as two floats
    (it failed the first time a table had both sides complete)."""
    import numpy as np

    from pagelib import prob_improvement

    rng = np.random.default_rng(0)
    x, y = rng.random((5, 3)), rng.random((5, 3))
    p, lo, hi = prob_improvement(x, y)
    assert all(isinstance(v, float) for v in (p, lo, hi)) and 0 <= lo <= p <= hi <= 1
    assert prob_improvement(x, x)[0] == 0.5  # ties count half
    assert prob_improvement(x + 2, x)[0] == 1.0


def test_the_family_reading_counts_ties_apart_and_needs_ten_pairs(monkeypatch):
    """The lecture's questions: a pair counts only the seeds both methods have; an equal final (NPG
    that is TRPO's run) is neither a win nor a loss; "ahead" needs 10 pairs and 75% of them."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import pages_family as pf

    def rec(x):
        return {"result": {"final_eval_return": x}}

    envs = pf.MUJOCO5
    recs = {(e, "trpo"): {s: rec(100.0 + s) for s in pf.HELD_OUT} for e in envs}
    recs.update({(e, "npg"): {s: rec(100.0 + s) for s in (100, 101)} for e in envs})  # equal: ties
    recs.update({(e, "ppo"): {s: rec(50.0) for s in (100, 101, 102)} for e in envs})  # lower: trpo ahead
    recs[("Hopper-v5", "ppo")][103] = rec(10_000.0)  # trpo lower on one of 16
    monkeypatch.setattr(pf, "family_records", lambda: recs)
    monkeypatch.setattr(pf, "normalised", lambda env, x: x / 1000.0)
    monkeypatch.setattr(pf, "_cost_lines", lambda: [])
    text = pf.block_family_reading()
    line = next(x for x in text.splitlines() if x.startswith("- does the line search pay?"))
    assert "higher on 0, equal on 10, lower on 0 of 10" in line and line.endswith("no clear winner.")
    line = next(x for x in text.splitlines() if x.startswith("- the trust region or the clipped objective?"))
    assert "higher on 15, equal on 0, lower on 1 of 16" in line and line.endswith("trpo ahead.")
    assert "no seed that both ppo and ppo-kl have yet" in text
    recs = {k: v for k, v in recs.items() if k[0] == "Hopper-v5"}  # 3 pairs: too few
    monkeypatch.setattr(pf, "family_records", lambda: recs)
    assert "too few runs to answer" in pf.block_family_reading()


def test_the_pong_blocks_read_a_harness_record(monkeypatch, tmp_path):
    """pong.md's and the README's Pong blocks from a pong-heldout record (a constructed one: the
    suite's records come from 1M-step runs): final evaluations both ways, the periodic curve, the
    training return's running mean, the commit and CPU."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import pages

    train = [[1024 * (i + 1), float(i), None if i % 3 == 0 else -21.0 + i / 50, None] for i in range(1000)]
    rec = {"run": {"algo": "trpo", "seed": 100},
           "protocol": {"periodic": {"episodes": 5, "env_seeds": "seed + 20000 + i"}, "final": {"episodes": 10}},
           "machine": {"cpu": "Intel(R) Xeon(R) Processor", "git": {"commit": "abcdef0123", "dirty": False}},
           "result": {"steps": 1_024_000, "wall_s": 3600.0, "steps_per_s": 284.4, "best_eval_return": -9.2,
                      "final_eval_return": -10.5, "final_eval_std": 2.1, "final_eval_stochastic_return": -12.25,
                      "final_eval_stochastic_std": 1.5, "summary": {"preset": "atari"},
                      "eval_curve": [[100_352, 1.0, -20.0], [200_704, 2.0, -15.5]], "train_curve": train}}
    f = tmp_path / "ALE_Pong-v5_trpo_ours_s100.json"
    monkeypatch.setattr(pages, "pong_heldout_records", lambda: {"trpo": (f, rec)})
    block = pages.block_pong_heldout()
    assert "| trpo (atari) | 1,024,000 | 60 min | 284 | -9.2 | **-10.5** ± 2.1 | -12.2 ± 1.5 |" in block
    assert "| ppo, two CNNs (atari-ppo) | no record yet" in block
    assert "| ppo, shared trunk (atari-ppo) | no record yet (`python benchmarks/harness.py run pong-ppo-shared`)" in block
    assert "| 100,000 | -20.0 |" in block and "| 200,000 | -15.5 |" in block
    last = [-21.0 + i / 50 for i in range(1000) if i % 3 and 1024 * (i + 1) > 1_024_000 - 100_000]  # the last 100k steps
    assert f"| {sum(last) / len(last):.1f} |" in block and "trpo on Intel Xeon at commit abcdef0" in block
    readme = pages.block_readme_pong()
    assert "after 1.0M env steps on seed 100" in readme and "trpo (`atari`) -10.5 with the mean action" in readme
    assert "-12.2 sampling (best periodic -9.2)" in readme and "ppo, shared trunk: no record yet" in readme
    assert "`python benchmarks/harness.py run pong-heldout`" in block  # the suite of the records shown

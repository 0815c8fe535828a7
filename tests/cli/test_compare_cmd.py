"""``trpo compare``: runs every (algo, seed) pair, writes the table, the CSV and the figure."""
import csv

import numpy as np
import pytest

from trpo.cli import main
from trpo.tools.compare import bootstrap_ci


def test_bootstrap_ci_brackets_the_mean_and_shrinks_with_agreement():
    lo, hi = bootstrap_ci(np.array([1.0, 2.0, 3.0, 4.0]))
    assert lo < 2.5 < hi and lo >= 1.0 and hi <= 4.0
    lo2, hi2 = bootstrap_ci(np.array([2.4, 2.5, 2.6, 2.5]))
    assert hi2 - lo2 < hi - lo


def test_compare_end_to_end(tmp_path, capsys):
    tiny = ["--set", "batch_steps=128", "--set", "num_envs=2", "--set", "eval_episodes=1",
            "--set", "check_env=false", "--set", "critic_epochs=1"]
    rc = main(["compare", "CartPole-v1", "--algos", "ppo", "--seeds", "2", "--total-steps", "128",
               "-o", str(tmp_path), "--jobs", "2", *tiny])
    assert rc == 0
    rows = list(csv.DictReader(open(tmp_path / "compare_CartPole-v1.csv")))
    assert [r["algo"] for r in rows] == ["ppo"] and rows[0]["runs"] == "2"
    assert float(rows[0]["ci95_low"]) <= float(rows[0]["final_return_mean"]) <= float(rows[0]["ci95_high"])
    assert (tmp_path / "compare_CartPole-v1.png").stat().st_size > 1000
    assert "trpo compare CartPole-v1" in (tmp_path / "compare_CartPole-v1.md").read_text()
    # the run directories are ordinary runs that `trpo plot` reads; a second call re-uses them
    run = tmp_path / "runs" / "CartPole-v1_ppo_s1"
    assert main(["plot", str(run), "-o", str(tmp_path / "p.png")]) == 0
    assert main(["compare", "CartPole-v1", "--algos", "ppo", "--seeds", "2", "-o", str(tmp_path), "--no-train"]) == 0
    assert main(["compare", "CartPole-v1", "--algos", "nope", "-o", str(tmp_path)]) == 2


@pytest.fixture
def compare_sets(tmp_path, monkeypatch):
    """`trpo compare` with training and summary stubbed out: the --set list each call hands its runs."""
    import trpo.tools.compare as C

    seen: list = []
    monkeypatch.setattr(C, "run_all", lambda *a: seen.append(a[-1]))
    monkeypatch.setattr(C, "summarise", lambda *a: (tmp_path / "t.md", tmp_path / "f.png"))
    (tmp_path / "t.md").write_text("")
    return seen


def test_parallel_compare_runs_fit_critics_inline(tmp_path, compare_sets):
    """Parallel runs fill the cores themselves: no critic-fit helper process per trpo/npg run,
    unless the user asks for one."""
    seen = compare_sets
    base = ["compare", "CartPole-v1", "--algos", "trpo", "-o", str(tmp_path)]
    assert main([*base, "--jobs", "2"]) == 0
    assert main([*base, "--jobs", "1"]) == 0
    assert main([*base, "--jobs", "2", "--set", "critic_fit=process"]) == 0
    assert seen == [["critic_fit=inline"], [], ["critic_fit=process"]]


def test_compare_resumes_an_interrupted_run_and_never_reports_it_as_final(tmp_path):
    """A run stopped by Ctrl-C leaves summary.json marked interrupted and a checkpoint: compare
    leaves it out of the table, then resumes it (not from scratch) to the full length."""
    import json

    import trpo
    from trpo.tools.compare import run_dir_for, run_state, summarise

    runs = tmp_path / "runs"
    cfg = trpo.Config(env_id="CartPole-v1", algo="ppo", seed=0, total_steps=512, batch_steps=128, num_envs=2,
                      eval_episodes=1, check_env=False, critic_epochs=1, eval_periodic_episodes=0)
    done = run_dir_for(runs, "CartPole-v1", "ppo", 0)
    trpo.train(cfg, run_dir=done, progress=False)
    cut = run_dir_for(runs, "CartPole-v1", "ppo", 1)

    def interrupt(row, agent):  # as Ctrl-C after the second iteration
        if row["iteration"] == 2:
            raise KeyboardInterrupt

    res = trpo.train(cfg.replace(seed=1), run_dir=cut, progress=False, callback=interrupt)
    assert res.interrupted and json.loads((cut / "summary.json").read_text())["interrupted"]
    assert run_state(done) == "finished" and run_state(cut) == "resumable"
    md, _ = summarise("CartPole-v1", ["ppo"], [0, 1], runs, tmp_path, "test")
    assert "| ppo | 1 of 2 |" in md.read_text()          # the partial run is not in the table
    first_rows = (cut / "metrics.csv").read_text().splitlines()[1:3]
    assert main(["compare", "CartPole-v1", "--algos", "ppo", "--seeds", "2", "--total-steps", "512",
                 "--runs-dir", str(runs), "-o", str(tmp_path), "--jobs", "1"]) == 0
    s = json.loads((cut / "summary.json").read_text())
    assert not s["interrupted"] and s["total_steps"] == 512
    assert (cut / "metrics.csv").read_text().splitlines()[1:3] == first_rows  # resumed, not restarted
    assert "| ppo | 2 of 2 |" in (tmp_path / "compare_CartPole-v1.md").read_text()


def test_rliable_lines_match_an_independent_computation():
    """IQM and mean with rliable's intervals; P(X > Y) against counting the pairs by hand."""
    import pytest

    pytest.importorskip("rliable")
    from trpo.tools.compare import rliable_lines

    x = np.array([500.0, 480, 499, 120, 500])
    y = np.array([300.0, 450, 470, 499, 100])
    lines = rliable_lines({"trpo": x, "ppo": y}, reps=500)
    row = next(ln for ln in lines if ln.startswith("| trpo |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    iqm = np.sort(x)[1:4].mean()  # 5 runs: the middle 3 with rliable's trimming (scipy trim_mean, 25%)
    assert float(cells[2]) == pytest.approx(iqm, abs=0.05) and float(cells[4]) == pytest.approx(x.mean(), abs=0.05)
    p = np.mean([(a > b) + 0.5 * (a == b) for a in x for b in y])
    pair = next(ln for ln in lines if ln.startswith("| trpo > ppo |"))
    assert float(pair.split("|")[2]) == pytest.approx(p, abs=0.005)
    assert not any("wide" in ln for ln in lines)  # 5 runs each: no small-n warning
    assert any("wide" in ln for ln in rliable_lines({"a": x[:3], "b": y[:3]}, reps=200))


def test_parallel_compare_runs_step_split_envs_in_one_process(tmp_path, monkeypatch, compare_sets):
    """On Hopper auto would give each of the parallel runs an env helper spinning on a core the other
    runs need: parallel runs take sync (the same batches), unless the user names a vector_mode."""
    import trpo.system

    monkeypatch.setattr(trpo.system, "usable_cores", lambda: 2)
    seen = compare_sets
    base = ["compare", "Hopper-v5", "--algos", "trpo", "-o", str(tmp_path)]
    assert main([*base, "--jobs", "2"]) == 0
    assert main([*base, "--jobs", "1"]) == 0
    assert main([*base, "--jobs", "2", "--set", "vector_mode=split"]) == 0
    assert seen == [["vector_mode=sync", "critic_fit=inline"], [], ["critic_fit=inline", "vector_mode=split"]]

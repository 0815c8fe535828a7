"""``trpo report``: figure panels, Markdown sections and tables, grouping, and bad inputs."""
import argparse
import csv
import json
import math
import subprocess
import sys

import numpy as np
import pytest

import trpo
from trpo.tools import report
from trpo.errors import ConfigError

W, H = 1500, 840  # figsize (15, 8.4) at 100 dpi
PANEL_LETTERS = "abcdef"


# --- helpers ------------------------------------------------------------------------------------
def write_run(d, rows, *, env_id="CartPole-v1", algo="trpo", seed=0, max_kl=0.01, summary=True,
              interrupted=False, total_steps=None):
    """A run directory written by hand: config.toml, metrics.csv (columns: union of the row keys,
    '' for missing or NaN cells, as the trainer writes them), optionally summary.json."""
    d.mkdir(parents=True)
    steps = rows[-1]["env_steps"] if rows else 0
    (d / "config.toml").write_text(f'env_id = "{env_id}"\nalgo = "{algo}"\nseed = {seed}\nmax_kl = {max_kl}\n'
                                   f"kl_target = 0.01\ntotal_steps = {total_steps or steps}\n")
    cols = list(dict.fromkeys(k for r in rows for k in r))
    with open(d / "metrics.csv", "w", newline="") as f:
        w = csv.DictWriter(f, cols)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()})
    if summary:
        s = {"algo": algo, "env_id": env_id, "seed": seed, "total_steps": steps, "wall_s": 12.5,
             "steps_per_s": 800.0, "interrupted": interrupted}
        if not interrupted:
            s.update(final_eval_return_mean=100.0 + 10 * seed, final_eval_return_std=2.0, final_eval_episodes=5)
        (d / "summary.json").write_text(json.dumps(s))
    return d


def synth_rows(n, *, seed=0, algo="trpo", eval_every=0, ev=False, nan_first=0, reject_tail=False):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(1, n + 1):
        r = {"iteration": i, "env_steps": 512 * i, "wall_s": 0.5 * i,
             "episode_return_mean": float("nan") if i <= nan_first else 20.0 + 5 * i + rng.normal(),
             "episode_length_mean": 20.0 + 5 * i, "kl": 0.008 + 0.004 * rng.random(),
             "entropy": 0.69 * (1 - 0.5 * i / n), "value_loss": 1.0 / i, "fps": 1000 + 10 * rng.random()}
        if algo in ("trpo", "npg"):
            r.update(surrogate_gain=0.01, linesearch_steps=0, cg_residual=1e-6,
                     step_accepted=int(not (reject_tail and i > 0.8 * n and i % 2)))
        if eval_every:
            on = i % eval_every == 0
            r["eval_return_mean"] = 30.0 + 6 * i if on else float("nan")
            r["eval_return_std"] = 1.5 if on else float("nan")
        if ev:
            r["explained_variance"] = min(0.95, 0.1 * i)
        rows.append(r)
    return rows


def section(md, name):
    """The lines of one '## name' section."""
    lines = md.splitlines()
    start = lines.index(f"## {name}") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    return lines[start:end]


def table_rows(lines):
    """Body rows of the first Markdown table in ``lines`` (header and separator excluded)."""
    rows = [ln for ln in lines if ln.startswith("|")]
    return rows[2:]


def panel_titles(md):
    return {ln[2:5]: ln[2:] for ln in section(md, "Figure") if ln.startswith("- (")}


def panel_cells(png):
    """The six panel cells of the figure (2 x 3 grid, below the suptitle), as RGB arrays."""
    import matplotlib.image

    img = matplotlib.image.imread(png)
    assert img.shape[:2] == (H, W), img.shape
    rgb = img[..., :3]
    assert rgb.std() > 0.05, "blank image"
    top = 25
    ch, cw = (H - top) // 2, W // 3
    return {PANEL_LETTERS[3 * i + j]: rgb[top + i * ch: top + (i + 1) * ch, j * cw: (j + 1) * cw]
            for i in range(2) for j in range(3)}


def check_figure(png, md):
    """Every panel is drawn (ink in its cell); those with data have coloured curves, the n/a ones
    have none and say n/a in their title."""
    titles = panel_titles(md)
    assert sorted(titles) == [f"({c})" for c in PANEL_LETTERS], titles
    for letter, cell in panel_cells(png).items():
        ink = (cell < 0.8).any(axis=-1).mean()
        colour = ((cell.max(axis=-1) - cell.min(axis=-1)) > 0.3).mean()
        assert ink > 0.003, f"panel ({letter}) is blank"
        if "n/a" in titles[f"({letter})"]:
            assert colour < 1e-4, f"panel ({letter}) says n/a but has curves"
        else:
            assert colour > 5e-4, f"panel ({letter}) has no curve: {titles[f'({letter})']}"
    return titles


# --- real runs ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def three_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    dirs = []
    for s in (0, 1, 2):
        cfg = trpo.Config(env_id="CartPole-v1", algo="trpo", seed=s, total_steps=4096, batch_steps=512,
                          num_envs=2, eval_episodes=1, check_env=False, critic_fit="inline")
        trpo.train(cfg, run_dir=root / f"s{s}", progress=False)
        dirs.append(root / f"s{s}")
    return dirs


def test_report_of_three_real_trpo_runs(three_runs, tmp_path):
    paths = report.make_report(three_runs, tmp_path / "rep")
    assert [p.name for p in paths] == ["CartPole-v1_trpo.png", "CartPole-v1_trpo.md"]
    png, md_path = paths
    md = md_path.read_text()
    assert md.startswith("# CartPole-v1 — trpo")
    for name in ("Runs", "Final evaluation (deterministic policy)", "Best periodic evaluation", "Figure", "Readings"):
        assert f"## {name}" in md, name
    runs_rows = table_rows(section(md, "Runs"))
    assert len(runs_rows) == 3 and all("| finished |" in r and "4,096 / 4,096" in r for r in runs_rows)
    evals = table_rows(section(md, "Final evaluation (deterministic policy)"))
    assert len(evals) == 4 and "mean ± std over seeds" in evals[-1] and "3 of 3 runs" in evals[-1]
    assert "![CartPole-v1 trpo](CartPole-v1_trpo.png)" in md
    titles = check_figure(png, md)
    for letter in "abcdf":
        assert "n/a" not in titles[f"({letter})"], titles
    readings = "\n".join(section(md, "Readings"))
    assert "KL above the bound (δ = max_kl = 0.01)" in readings
    assert "line search rejected" in readings and "last 20% of the run" in readings
    assert "entropy fell to" in readings or "entropy rose to" in readings


# --- synthetic runs: edge cases -------------------------------------------------------------------
def test_eval_columns_nan_returns_different_lengths_and_missing_summary(tmp_path):
    runs = [
        write_run(tmp_path / "a", synth_rows(20, seed=0, eval_every=5, ev=True, nan_first=3, reject_tail=True), seed=0),
        write_run(tmp_path / "b", synth_rows(12, seed=1, eval_every=5, ev=True), seed=1, interrupted=True,
                  total_steps=20 * 512),
        write_run(tmp_path / "c", synth_rows(16, seed=2, eval_every=5, ev=True), seed=2, summary=False,
                  total_steps=20 * 512),
    ]
    png, md_path = report.make_report(runs, tmp_path / "rep")
    md = md_path.read_text()
    status = [r.split("|")[5].strip() for r in table_rows(section(md, "Runs"))]
    assert status == ["finished", "interrupted", "unfinished"]
    assert "6,144 / 10,240" in md  # the interrupted run: steps done / target

    evals = table_rows(section(md, "Final evaluation (deterministic policy)"))
    assert len(evals) == 4
    assert "100.0" in evals[0] and "n/a (interrupted)" in evals[1] and "n/a (unfinished)" in evals[2]
    assert "1 of 3 runs" in evals[3] and "100.0 ± n/a" in evals[3]

    best = table_rows(section(md, "Best periodic evaluation"))
    assert len(best) == 3
    assert best[0].split("|")[3].strip() == "150.0" and best[0].split("|")[5].strip() == "10,240"  # eval at it. 20

    titles = check_figure(png, md)
    assert all("n/a" not in t for t in titles.values()), titles
    assert "no periodic evaluation" not in titles["(a)"]
    readings = "\n".join(section(md, "Readings"))
    assert "2 of 3 runs not finished" in readings
    assert "seed 0: no episode ended before env step 2,048" in readings
    assert "runs have different lengths" in readings
    assert "line search rejected 18% of steps in the last 20% of the run (2 of 11" in readings
    assert "explained variance" in readings


def test_two_algorithms_give_two_pages_and_na_panels(tmp_path):
    runs = [write_run(tmp_path / f"t{s}", synth_rows(10, seed=s), seed=s) for s in (0, 1)]
    runs += [write_run(tmp_path / f"p{s}", synth_rows(8, seed=s, algo="ppo"), algo="ppo", seed=s) for s in (0, 1)]
    paths = report.make_report(runs[::-1], tmp_path / "rep")  # any order
    assert sorted(p.name for p in paths) == ["CartPole-v1_ppo.md", "CartPole-v1_ppo.png",
                                             "CartPole-v1_trpo.md", "CartPole-v1_trpo.png"]
    pages = {p.stem: p.read_text() for p in paths if p.suffix == ".md"}
    assert len(table_rows(section(pages["CartPole-v1_ppo"], "Runs"))) == 2
    assert len(table_rows(section(pages["CartPole-v1_trpo"], "Runs"))) == 2
    ppo = check_figure(tmp_path / "rep" / "CartPole-v1_ppo.png", pages["CartPole-v1_ppo"])
    assert "n/a (no line search in ppo)" in ppo["(c)"]
    assert "n/a (no 'explained_variance' column)" in ppo["(e)"]
    assert "no KL bound in ppo" in ppo["(b)"]
    assert "line search" not in "\n".join(section(pages["CartPole-v1_ppo"], "Readings"))
    trpo_t = check_figure(tmp_path / "rep" / "CartPole-v1_trpo.png", pages["CartPole-v1_trpo"])
    assert "n/a" not in trpo_t["(c)"]


def test_run_without_any_episode_or_optional_columns(tmp_path):
    rows = [{"iteration": i, "env_steps": 256 * i, "episode_return_mean": float("nan")} for i in (1, 2, 3)]
    d = write_run(tmp_path / "r", rows, algo="a2c", summary=False)
    empty = tmp_path / "e"
    empty.mkdir()
    (empty / "config.toml").write_text('env_id = "CartPole-v1"\nalgo = "a2c"\nseed = 1\n')  # started, nothing logged
    png, md_path = report.make_report([d, empty], tmp_path / "rep")
    md = md_path.read_text()
    titles = check_figure(png, md)
    assert all("n/a" in t for t in titles.values()), titles
    assert "no episode has ended yet" in titles["(a)"] and "no 'kl' column" in titles["(b)"]
    assert "unfinished (no iteration logged yet)" in md
    readings = "\n".join(section(md, "Readings"))
    assert "seed 0: no episode ended in 3 logged iterations" in readings
    assert "No periodic evaluation" in md and "| 0 of 2 runs | **n/a** |" in md
    assert "seed 1: no iteration logged yet." in readings


def test_non_run_directories_give_one_line_config_errors(tmp_path):
    good = write_run(tmp_path / "runs" / "good", synth_rows(3))
    (tmp_path / "plain").mkdir()
    (tmp_path / "file.txt").write_text("x")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.toml").write_text("env_id = \n")
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.toml").write_text('name = "x"\n')
    cases = {tmp_path / "plain": "is not a run directory (no config.toml)",
             tmp_path / "file.txt": "is not a run directory (not a directory)",
             tmp_path / "missing": "no such run directory",
             bad: "config.toml is not valid TOML",
             other: "config.toml has no env_id or algo",
             tmp_path / "runs": "it holds 1 run directories: pass them"}
    out = tmp_path / "rep"
    for path, msg in cases.items():
        with pytest.raises(ConfigError) as e:
            report.make_report([good, path], out)
        assert msg in str(e.value) and "\n" not in str(e.value), str(e.value)
    assert not out.exists()  # nothing written when an input is wrong
    with pytest.raises(ConfigError):
        report.make_report([], out)


def test_register_adds_the_report_subcommand(tmp_path, capsys, monkeypatch):
    d = write_run(tmp_path / "r", synth_rows(4))
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command", required=True)
    report.register(sub)
    monkeypatch.chdir(tmp_path)
    args = p.parse_args(["report", str(d), str(d)])  # the same run twice counts once
    assert args.output == "report"
    assert args.func(args) == 0
    printed = capsys.readouterr().out.split()
    assert printed == ["report/CartPole-v1_trpo.png", "report/CartPole-v1_trpo.md"]
    assert len(table_rows(section((tmp_path / printed[1]).read_text(), "Runs"))) == 1
    args = p.parse_args(["report", str(d), "-o", str(tmp_path / "o")])
    args.func(args)
    assert (tmp_path / "o" / "CartPole-v1_trpo.png").exists()


def test_importing_trpo_and_report_does_not_load_matplotlib():
    code = "import sys, trpo, trpo.tools.report; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0

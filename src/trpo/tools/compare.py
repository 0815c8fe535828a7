"""``trpo compare``: every (algorithm, seed) pair on one environment, then a table and a figure.

    trpo compare CartPole-v1 --algos reinforce,a2c,npg,trpo,ppo-kl,ppo --seeds 3 \\
        --total-steps 100000 -o results/

Each pair is an ordinary ``trpo train`` run in its own subprocess (``--jobs`` at a time) writing a
run directory under ``RUNS_DIR`` (default ``OUT/runs``) that ``trpo plot`` reads; pairs with
a finished ``summary.json`` are not re-run, and interrupted or killed runs resume from their
latest checkpoint, so an interrupted comparison continues where it stopped; only finished runs
enter the table. Then:

* ``OUT/compare_ENV.md`` / ``.csv``: per algorithm the final evaluation return (mean over seeds)
  with a 95% bootstrap confidence interval over seeds, wall time and steps/s;
* ``OUT/compare_ENV.png``: mean learning curves with 95% bootstrap bands (as Figure 3 of the PPO
  paper, with bands).

Interval estimates: percentile bootstrap of the mean over runs (``scipy.stats.bootstrap``), which is
what ``rliable``'s stratified bootstrap reduces to for one task. Where ``rliable`` is installed (the
``results`` extra: it pulls in arch, statsmodels, pandas and seaborn, ~270 MB, so it is not a core
dependency) the table also gets its interquartile means and means with 95% intervals and the
probability that a run of one algorithm beats a run of another (Agarwal et al. 2021).
"""
from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from trpo.errors import ConfigError, TrpoError
from trpo.tools.curves import GRID_POINTS, on_grid, read_metrics

DEFAULT_ALGOS = "reinforce,a2c,npg,trpo,ppo-kl,ppo"


def bootstrap_ci(x: np.ndarray, axis: int = 0, confidence: float = 0.95,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """95% percentile-bootstrap interval of the mean of ``x`` along ``axis`` (runs). With one run
    the interval is the point itself."""
    from scipy.stats import bootstrap

    x = np.asarray(x, float)
    if x.shape[axis] < 2:
        m = x.mean(axis=axis)
        return m, m
    res = bootstrap((x,), np.mean, axis=axis, confidence_level=confidence, n_resamples=2000,
                    method="percentile", random_state=np.random.default_rng(seed), vectorized=True)
    return np.asarray(res.confidence_interval.low), np.asarray(res.confidence_interval.high)


def run_dir_for(runs_dir: Path, env_id: str, algo: str, seed: int) -> Path:
    from trpo.envs.ids import safe_name

    return runs_dir / f"{safe_name(env_id)}_{algo}_s{seed}"


def run_state(run_dir: Path) -> str:
    """``finished`` (summary.json of a run that was not interrupted), ``resumable`` (checkpoints:
    an interrupted or killed run), or ``new``."""
    summary = run_dir / "summary.json"
    if summary.exists():
        try:
            if not json.loads(summary.read_text()).get("interrupted", False):
                return "finished"
        except (json.JSONDecodeError, UnicodeDecodeError):
            pass
    from trpo.checkpoint import list_checkpoints

    return "resumable" if list_checkpoints(run_dir / "checkpoints") else "new"


def _train_one(env_id: str, algo: str, seed: int, total_steps: int, run_dir: Path,
               overrides: list[str]) -> tuple[str, int, int]:
    state = run_state(run_dir)
    if state == "finished":
        return algo, seed, 0
    if state == "resumable":  # interrupted or killed: continue from its latest checkpoint
        cmd = [sys.executable, "-m", "trpo", "train", "--resume", str(run_dir), "--total-steps", str(total_steps),
               "--quiet"]
    else:
        cmd = [sys.executable, "-m", "trpo", "train", env_id, "--algo", algo, "--seed", str(seed),
               "--total-steps", str(total_steps), "--run-dir", str(run_dir), "--quiet", "--overwrite"]
        for kv in overrides:
            cmd += ["--set", kv]
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "compare.log", "a") as log:
        rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)
    return algo, seed, rc


def run_all(env_id: str, algos: list[str], seeds: list[int], total_steps: int, runs_dir: Path,
            jobs: int, overrides: list[str]) -> None:
    pairs = [(a, s) for a in algos for s in seeds]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futs = [pool.submit(_train_one, env_id, a, s, total_steps, run_dir_for(runs_dir, env_id, a, s), overrides)
                for a, s in pairs]
        for f in futs:
            algo, seed, rc = f.result()
            status = ("ok" if rc == 0
                      else f"FAILED (exit {rc}; see {run_dir_for(runs_dir, env_id, algo, seed)}/compare.log)")
            print(f"{env_id} {algo} seed {seed}: {status}", flush=True)


def rliable_lines(finals: dict[str, np.ndarray], reps: int = 2000, seed: int = 0) -> list[str]:
    """Interval estimates with rliable (Agarwal et al. 2021), where it is installed (the results
    extra): per algorithm the interquartile mean and the mean of the final returns with
    stratified-bootstrap 95% intervals, and the probability that each algorithm's run beats
    another's (P(X > Y), ties counted half). With fewer than 5 runs the lines say so."""
    try:
        from rliable import library as rly
        from rliable import metrics
    except ImportError:
        return ["", "(rliable's interquartile means and probabilities of improvement: pip install 'trpo[results]')"]
    algos = [a for a, v in finals.items() if len(v) >= 2]
    if not algos:
        return []
    scores = {a: np.asarray(finals[a], float).reshape(-1, 1) for a in algos}  # runs x 1 task

    def agg(x):
        return np.array([metrics.aggregate_iqm(x), metrics.aggregate_mean(x)])
    np.random.seed(seed)  # rliable draws from numpy's global generator
    point, ci = rly.get_interval_estimates(scores, agg, reps=reps)
    n_min = min(len(finals[a]) for a in algos)
    out = ["", f"Interval estimates (rliable, Agarwal et al. 2021; stratified bootstrap, {reps:,} resamples)"
               + (f"; with {n_min} runs per algorithm these intervals are wide and the IQM is close to the mean"
                  if n_min < 5 else "") + ":", "",
           "| algo | runs | IQM | 95% CI | mean | 95% CI |", "|---|---:|---:|---:|---:|---:|"]
    for a in algos:
        out.append(f"| {a} | {len(finals[a])} | {point[a][0]:.1f} | [{ci[a][0, 0]:.1f}, {ci[a][1, 0]:.1f}] | "
                   f"{point[a][1]:.1f} | [{ci[a][0, 1]:.1f}, {ci[a][1, 1]:.1f}] |")
    if len(algos) > 1:
        pairs = {f"{x} > {y}": (scores[x], scores[y]) for i, x in enumerate(algos) for y in algos[i + 1:]}
        np.random.seed(seed)
        pp, pci = rly.get_interval_estimates(pairs, metrics.probability_of_improvement, reps=max(200, reps // 10))
        out += ["", "| P(a run of X beats a run of Y) | estimate | 95% CI |", "|---|---:|---:|"]
        for k in pairs:
            lo_hi = np.ravel(pci[k])
            out.append(f"| {k} | {float(np.ravel(pp[k])[0]):.2f} | [{lo_hi[0]:.2f}, {lo_hi[-1]:.2f}] |")
    return out


def _curve(run_dir: Path, grid: np.ndarray) -> np.ndarray:
    """The training return on ``grid``; a step function of env steps (the last logged value held)."""
    m = read_metrics(run_dir)
    return on_grid(m["env_steps"], m["episode_return_mean"], grid, hold=True)


def summarise(env_id: str, algos: list[str], seeds: list[int], runs_dir: Path, out_dir: Path,
              command: str) -> tuple[Path, Path]:
    """Write the table (md + csv) and the learning-curve figure; return their paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    from trpo.envs.ids import safe_name

    safe = safe_name(env_id)
    rows, curves = [], {}
    max_steps = 0
    for algo in algos:
        done = [s for s in seeds if run_state(run_dir_for(runs_dir, env_id, algo, s)) == "finished"]
        sums = [json.loads((run_dir_for(runs_dir, env_id, algo, s) / "summary.json").read_text()) for s in done]
        sums = [s for s in sums if s.get("final_eval_return_mean") is not None]
        if not sums:
            continue
        finals = np.array([s["final_eval_return_mean"] for s in sums])
        lo, hi = bootstrap_ci(finals)
        rows.append({"algo": algo, "runs": len(sums), "final_return_mean": float(finals.mean()),
                     "ci95_low": float(lo), "ci95_high": float(hi),
                     "final_returns": " ".join(f"{v:.1f}" for v in finals),
                     "wall_s_mean": float(np.mean([s["wall_s"] for s in sums])),
                     "steps_per_s_mean": float(np.mean([s["steps_per_s"] for s in sums]))})
        max_steps = max(max_steps, max(int(s["total_steps"]) for s in sums))
        curves[algo] = [run_dir_for(runs_dir, env_id, algo, s["seed"]) for s in sums]
    if not rows:
        raise TrpoError(f"no finished runs for {env_id} under {runs_dir}")

    csv_path = out_dir / f"compare_{safe}.csv"
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    md = [f"# {env_id}: final evaluation return (deterministic policy, {len(seeds)} seeds)", "",
          f"Command: `{command}`", "",
          "| algo | finished runs | final return (mean over seeds) | 95% CI (bootstrap over seeds) | per seed | "
          "wall time (s) | steps/s |",
          "|---|---:|---:|---:|---|---:|---:|"]
    for r in rows:
        md.append(f"| {r['algo']} | {r['runs']} of {len(seeds)} | {r['final_return_mean']:.1f} | "
                  f"[{r['ci95_low']:.1f}, {r['ci95_high']:.1f}] | "
                  f"{r['final_returns']} | {r['wall_s_mean']:.1f} | {r['steps_per_s_mean']:,.0f} |")
    md += rliable_lines({str(r["algo"]): np.array([float(v) for v in str(r["final_returns"]).split()]) for r in rows})
    md_path = out_dir / f"compare_{safe}.md"
    md_path.write_text("\n".join(md) + "\n")

    grid = np.linspace(0, max_steps, GRID_POINTS)
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for algo, dirs in curves.items():
        ys = np.stack([_curve(d, grid) for d in dirs])
        mean = np.nanmean(ys, axis=0)
        lo, hi = bootstrap_ci(ys, axis=0)
        line, = ax.plot(grid, mean, label=f"{algo} ({len(dirs)})", lw=1.6)
        ax.fill_between(grid, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
    ax.set_xlabel("env steps")
    ax.set_ylabel("episode return (training)")
    ax.set_title(f"{env_id}: mean over seeds, 95% bootstrap band")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    png_path = out_dir / f"compare_{safe}.png"
    fig.savefig(png_path)
    plt.close(fig)
    return md_path, png_path


def cmd_compare(args) -> int:
    from trpo.algos import ALGOS

    algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    unknown = [a for a in algos if a not in ALGOS]
    if unknown:
        raise ConfigError(f"--algos: unknown algorithm '{unknown[0]}'; allowed: {', '.join(ALGOS)}")
    if args.seeds < 1:
        raise ConfigError("--seeds must be at least 1")
    seeds = list(range(args.seed_start, args.seed_start + args.seeds))
    out = Path(args.output)
    runs_dir = Path(args.runs_dir) if args.runs_dir else out / "runs"
    from trpo.system import usable_cores

    jobs = args.jobs or usable_cores()
    sets = args.set or []
    given = {s.split("=")[0].strip() for s in sets}
    if jobs > 1 and "critic_fit" not in given:
        sets = ["critic_fit=inline", *sets]  # the parallel runs already fill the cores: no helper processes
    if jobs > 1 and "vector_mode" not in given:
        from trpo.resolve import splits_well

        if splits_well(args.env_id, 2):  # auto would give each run an env helper process on an already-full core
            sets = ["vector_mode=sync", *sets]
    command = "trpo compare " + " ".join(args.argv_echo)
    t0 = time.time()
    if not args.no_train:
        run_all(args.env_id, algos, seeds, args.total_steps, runs_dir, jobs, sets)
    md, png = summarise(args.env_id, algos, seeds, runs_dir, out, command)
    print(md.read_text())
    print(f"table: {md}\nfigure: {png}\nruns: {runs_dir} ({time.time() - t0:.0f} s)")
    return 0


def register(subparsers) -> None:
    c = subparsers.add_parser("compare", help="train several algorithms x seeds on one env; table + figure")
    c.add_argument("env_id")
    c.add_argument("--algos", default=DEFAULT_ALGOS, help=f"comma-separated (default {DEFAULT_ALGOS})")
    c.add_argument("--seeds", type=int, default=3, help="number of seeds (default 3)")
    c.add_argument("--seed-start", type=int, default=0, help="first seed (default 0)")
    c.add_argument("--total-steps", type=int, default=100_000)
    c.add_argument("-o", "--output", required=True, help="directory for the table and figure")
    c.add_argument("--runs-dir", help="where the run directories go (default OUTPUT/runs)")
    c.add_argument("--jobs", type=int, default=0, help="runs in parallel (default: CPU cores)")
    c.add_argument("--set", action="append", metavar="KEY=VALUE", help="config override for every run (repeatable)")
    c.add_argument("--no-train", action="store_true", help="only summarise existing runs")
    c.set_defaults(func=_with_argv(cmd_compare))


def _with_argv(fn):
    def run(args):
        args.argv_echo = sys.argv[2:] if len(sys.argv) > 2 and sys.argv[1] == "compare" else [args.env_id]
        return fn(args)
    return run

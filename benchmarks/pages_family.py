"""docs/results/family.md's held-out blocks: the policy-gradient family at 1M steps on the five
MuJoCo envs (harness suites ``family-heldout`` for ppo and npg, ``mujoco-heldout`` for trpo and
the peer), each method beside its published anchor under the anchor's own protocol, and rliable's
aggregates across envs.

Blocks (page docs/results/family.md):
  family-heldout    per env and method: final deterministic and stochastic evaluations, the best
                    periodic one, the anchor's measure computed from our records, wall time
  family-aggregate  across envs: IQM and mean with 95% CIs, P(row beats column)
Figures (written by ``make results``, not checked: matplotlib's bytes vary by version):
  docs/results/family/heldout_curves.png, docs/results/family/heldout_profile.png
"""
from __future__ import annotations

import json

import numpy as np
from diag_ppo_mean_action import read_compact  # the compact log's reader (beside this file, as pagelib)
from pagelib import (
    BOOT_REPS,
    HELD_OUT,
    HELD_SHARE,
    MUJOCO5,
    RECORDS,
    ROOT,
    _iqm,
    interval,
    made_on,
    normalised,
    prob_improvement,
    profile_records,
    short_commit,
    suite_records,
)

from trpo.config import FIELDS

METHODS = ("trpo", "ppo", "npg", "a2c", "ppo-kl")
PEERS = ("peer-trpo", "peer-ppo", "peer-a2c")
LABEL = {"trpo": "trpo (mujoco presets)", "ppo": "ppo (mujoco-ppo; on Swimmer its own)", "npg": "npg (mujoco presets)",
         "a2c": "a2c (mujoco-a2c; on Walker2d, Ant their own)", "ppo-kl": "ppo-kl (mujoco-ppo presets)",
         "peer-trpo": "sb3-contrib TRPO (RL-Zoo)", "peer-ppo": "sb3 PPO (RL-Zoo)", "peer-a2c": "sb3 A2C (RL-Zoo)"}
SEEDS_WANTED = {"trpo": 5, "ppo": 5, "npg": 5, "a2c": 3, "ppo-kl": 3, "peer-trpo": 5, "peer-ppo": 5, "peer-a2c": 3}
FIG = ROOT / "docs" / "results" / "family"

# Published anchors, each with the protocol it was measured under; ``measure`` names what of our
# records is computed the same way (see _anchor_measure).
ANCHORS = {
    "ppo": {"source": "CleanRL ppo_continuous_action.py, docs/benchmark/ppo_continuous_action.md (tag pr-424)",
            "protocol": "MuJoCo v4, 3 seeds, the mean training episode return at 1M steps (stochastic policy)",
            "measure": "train_end",
            "values": {"HalfCheetah-v5": 1442.64, "Walker2d-v5": 2287.95, "Hopper-v5": 2382.86}},
    "npg": {"source": "Tianshou examples/mujoco README",
            "protocol": "MuJoCo v3, 10 seeds, the highest point of the mean test-return curve over 1M steps",
            "measure": "best_of_mean_curve",
            "values": {"Hopper-v5": 1915, "Walker2d-v5": 2503, "HalfCheetah-v5": 3485, "Swimmer-v5": 31.5,
                       "Ant-v5": 2358}},
    "a2c": {"source": "Tianshou examples/mujoco README (its A2C table at 1M steps)",
            "protocol": "MuJoCo v3, 10 seeds, the highest point of the mean test-return curve over 1M steps",
            "measure": "best_of_mean_curve",
            "values": {"Hopper-v5": 1253.2, "Walker2d-v5": 1091.6, "HalfCheetah-v5": 1829.9, "Swimmer-v5": 36.6,
                       "Ant-v5": 3485.4}},
}
TRAIN_END_ITERS = 10  # "the training return at 1M": the mean of the last 10 iterations' episode means


def family_records() -> dict[tuple[str, str], dict[int, dict]]:
    """(env, method) -> seed -> record: family-heldout's methods, mujoco-heldout's trpo and its peer,
    family-peers-heldout's peers (method ``peer-ALGO``)."""
    out: dict[tuple[str, str], dict[int, dict]] = {}
    for suite in ("family-heldout", "mujoco-heldout", "family-peers-heldout"):
        for _, rec in suite_records(suite):
            run = rec["run"]
            method = f"peer-{run['algo']}" if run["side"] == "peer" else run["algo"]
            if run["seed"] in HELD_OUT:
                out.setdefault((run["env"], method), {})[run["seed"]] = rec
    return out


def _train_end(res: dict) -> float:
    vals = [row[2] for row in res["train_curve"] if row[2] == row[2]][-TRAIN_END_ITERS:]  # NaN: no episode ended
    return float(np.mean(vals))


def _best_of_mean_curve(runs: dict[int, dict]) -> float:
    """The highest point of the curve of the mean over seeds (periodic deterministic evaluations at
    the same step counts in every run)."""
    curves = [np.array([e[2] for e in r["result"]["eval_curve"]]) for r in runs.values()]
    n = min(len(c) for c in curves)
    return float(np.max(np.mean([c[:n] for c in curves], axis=0)))


def _anchor_measure(method: str, runs: dict[int, dict]) -> float:
    if ANCHORS[method]["measure"] == "train_end":
        return float(np.mean([_train_end(r["result"]) for r in runs.values()]))
    return _best_of_mean_curve(runs)


def _verdict(ours: float, anchor: float, n: int, want: int) -> str:
    gap = (ours - anchor) / abs(anchor)
    where = "at or above" if ours >= anchor else f"{-gap:.0%} below"
    return f"{where}{'' if n >= want else f' (n = {n} of {want})'}"


def block_family_heldout() -> str:
    recs = family_records()
    L = ["| env | method | seeds | final deterministic per seed | mean ± sd | stochastic mean | "
         "deterministic - stochastic | best periodic (mean) | anchor's measure, ours / anchor | "
         "wall time per run |",
         "|---|---|---:|---|---:|---:|---:|---:|---|---:|"]
    for env in MUJOCO5:
        for m in (*METHODS, *PEERS):
            runs = recs.get((env, m))
            if not runs:
                if m in ("trpo", "ppo", "npg"):
                    L.append(f"| {env} | {LABEL[m]} | 0 | not run yet | | | | | | |")
                continue
            seeds = sorted(runs)
            res = [runs[s]["result"] for s in seeds]
            fin = np.array([r["final_eval_return"] for r in res])
            sd = f" ± {fin.std(ddof=1):,.0f}" if fin.size > 1 else ""
            sto = [r.get("final_eval_stochastic_return") for r in res]
            if all(v is not None for v in sto):
                diff = fin - np.array(sto)
                sto_s = f"{np.mean(sto):,.0f}"
                diff_s = f"{diff.mean():+,.0f}" + (f" ± {diff.std(ddof=1):,.0f}" if diff.size > 1 else "")
            else:
                sto_s = diff_s = "-"
            best = np.mean([r["best_eval_return"] if "best_eval_return" in r else max(e[2] for e in r["eval_curve"])
                            for r in res])
            anchor = "-"
            if m in ANCHORS and env in ANCHORS[m]["values"] and not m.startswith("peer"):
                ours, a = _anchor_measure(m, runs), ANCHORS[m]["values"][env]
                anchor = f"{ours:,.0f} / {a:,.0f}: {_verdict(ours, a, fin.size, SEEDS_WANTED[m])}"
            wall = np.mean([runs[s]["process_wall_s"] for s in seeds]) / 60
            L.append(f"| {env} | {LABEL[m]} | {fin.size} | {', '.join(f'{v:,.0f}' for v in fin)} | "
                     f"{fin.mean():,.0f}{sd} | {sto_s} | {diff_s} | {best:,.0f} | {anchor} | {wall:.0f} min |")
    same = [f"{env} seed {seed}" for env in MUJOCO5 for seed in sorted(recs.get((env, "npg"), {}))
            if seed in recs.get((env, "trpo"), {}) and [e[2] for e in recs[(env, "npg")][seed]["result"]["eval_curve"]]
            == [e[2] for e in recs[(env, "trpo")][seed]["result"]["eval_curve"]]]
    if same:
        L += ["", "NPG runs that are TRPO's run to the last digit (every periodic evaluation equal): "
              + ", ".join(same) + ". TRPO's line search accepted every full natural step there, so its check "
              "never changed a step: NPG is TRPO without that check (the same step, scaled to the KL bound)."]
    L += ["", "Protocol of our numbers: the final deterministic evaluation (the mean action), 10 episodes on env "
          "seeds seed + 10,000 + i after 1M env steps; the stochastic one samples from the same policy on the "
          "same env seeds; the best periodic evaluation is the best of the deterministic evaluations every "
          "50,000 steps (10 episodes each), mean over seeds. Held-out seeds 100-104 (no setting was chosen on "
          "them). The anchors, each compared under its own protocol (our records measured the same way; "
          "env versions differ, so read the ratio for scale):"]
    for m, a in ANCHORS.items():
        how = ("our mean training episode return over the last "
               f"{TRAIN_END_ITERS} iterations, mean over seeds" if a["measure"] == "train_end" else
               "the highest point of our mean periodic-evaluation curve")
        L.append(f"- {m}: {a['source']}; {a['protocol']}. Ours: {how}.")
    L += ["- trpo: the published numbers and their protocols are in [mujoco.md](mujoco.md#held-out-seeds).",
          "", "Wall time: the harness's process time per run on the machine each record names, under whatever "
          "else ran there (most runs shared the 2 cores with a second run): read it as an order of magnitude. "
          "Raw records: " + ", ".join(f"[benchmarks/records/{d}/](../../benchmarks/records/{d}/)" for d in
                                      ("family-heldout", "mujoco-heldout", "family-peers-heldout")
                                      if (RECORDS / d).is_dir()) + ". The peers: sb3-contrib's TRPO with "
          "RL-Zoo's trpo.yml, sb3's PPO and A2C with RL-Zoo's ppo.yml and a2c.yml (their MuJoCo entries; "
          "benchmarks/bench_trpo.py), evaluated as ours (deterministic, observations through their training "
          "normalisation)."]
    made = sorted({(r["machine"]["cpu"].split(",")[0], short_commit(r["machine"]))
                   for v in recs.values() for r in v.values()})
    L.append("Made on: " + "; ".join(f"{c} at commit {g}" for c, g in made) + ".")
    return "\n".join(L)


def _complete(recs) -> tuple[list[str], list[str]]:
    """The methods with every wanted held-out seed on every env, and those envs."""
    methods = [m for m in (*METHODS, *PEERS)
               if all(s in recs.get((e, m), {}) for e in MUJOCO5 for s in HELD_OUT[:SEEDS_WANTED[m]])]
    return methods, list(MUJOCO5)


def scores(recs, methods) -> dict[str, np.ndarray]:
    """method -> runs x tasks of normalised final deterministic evaluations (the first n seeds)."""
    n = min(SEEDS_WANTED[m] for m in methods)
    return {m: np.stack([normalised(e, np.array([recs[(e, m)][s]["result"]["final_eval_return"]
                                                  for s in HELD_OUT[:n]])) for e in MUJOCO5], axis=1)
            for m in methods}


def block_family_aggregate() -> str:
    recs = family_records()
    methods, _ = _complete(recs)
    have = {m: sum(len(recs.get((e, m), {})) for e in MUJOCO5) for m in (*METHODS, *PEERS)}
    if len(methods) < 2:
        return ("The aggregate across envs waits for two methods with every held-out seed on all five envs "
                "(records so far: " + ", ".join(f"{m} {have[m]} of {5 * SEEDS_WANTED[m]}" for m in have) + ").")
    sc = scores(recs, methods)
    n = next(iter(sc.values())).shape[0]
    iqm, mean = interval(sc, _iqm), interval(sc, lambda x: float(np.mean(x)))
    L = [f"Across the five envs, {n} held-out seeds each, scores normalised by a random policy (0) and the "
         "published TRPO number (1) of each env:", "", "| method | IQM [95% CI] | mean [95% CI] |", "|---|---:|---:|"]
    for m in methods:
        L.append(f"| {LABEL[m]} | {iqm[m][0]:.2f} [{iqm[m][1]:.2f}, {iqm[m][2]:.2f}] | "
                 f"{mean[m][0]:.2f} [{mean[m][1]:.2f}, {mean[m][2]:.2f}] |")
    L += ["", "Probability that the row's method beats the column's on a run of a random env (Agarwal et al. "
          "2021), with its 95% CI:", "", "| | " + " | ".join(LABEL[m] for m in methods) + " |",
          "|---|" + "---:|" * len(methods)]
    for a in methods:
        cells = []
        for b in methods:
            if a == b:
                cells.append("")
            else:
                p, lo, hi = prob_improvement(sc[a], sc[b])
                cells.append(f"{p:.2f} [{lo:.2f}, {hi:.2f}]")
        L.append(f"| {LABEL[a]} | " + " | ".join(cells) + " |")
    L += ["", f"Stratified bootstrap over runs ({BOOT_REPS:,} resamples each). "
          f"With {n} runs per env the intervals are wide: read them as such. Methods still missing seeds: "
          + (", ".join(f"{m} ({have[m]} of {5 * SEEDS_WANTED[m]})" for m in have if m not in methods) or "none")
          + ".", "",
          "![Performance profiles (Agarwal et al. 2021): the fraction of runs whose normalised score exceeds tau, "
          "with 95% stratified-bootstrap bands](family/heldout_profile.png)"]
    return "\n".join(L)


def figures() -> list[str]:
    """The curves (mean over seeds with a band of one standard deviation) and the performance
    profile; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = family_records()
    written = []
    fig, axes = plt.subplots(1, len(MUJOCO5), figsize=(4 * len(MUJOCO5), 3.4))
    for ax, env in zip(axes, MUJOCO5):
        for m in (*METHODS, *PEERS):
            runs = recs.get((env, m))
            if not runs:
                continue
            curves = [np.array(r["result"]["eval_curve"], dtype=float) for r in runs.values()]
            n = min(len(c) for c in curves)
            x = curves[0][:n, 0]
            y = np.stack([c[:n, 2] for c in curves])
            mu, sd = y.mean(0), y.std(0)
            ax.plot(x, mu, label=f"{m} (n={len(curves)})")
            ax.fill_between(x, mu - sd, mu + sd, alpha=0.2)
        ax.set_title(env)
        ax.set_xlabel("env steps")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("deterministic evaluation return")
    fig.tight_layout()
    FIG.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIG / "heldout_curves.png", dpi=80)
    plt.close(fig)
    written.append("docs/results/family/heldout_curves.png")

    methods, _ = _complete(recs)
    if len(methods) >= 2:
        from rliable import library as rly

        sc = scores(recs, methods)
        taus = np.linspace(-0.25, 1.75, 81)
        np.random.seed(0)
        prof, cis = rly.create_performance_profile(sc, taus, reps=2000)
        fig, ax = plt.subplots(figsize=(5, 3.4))
        for m in methods:
            ax.plot(taus, prof[m], label=LABEL[m])
            ax.fill_between(taus, cis[m][0], cis[m][1], alpha=0.2)
        ax.set_xlabel("normalised score tau (0 random, 1 published TRPO)")
        ax.set_ylabel("fraction of runs with score > tau")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(FIG / "heldout_profile.png", dpi=80)
        plt.close(fig)
        written.append("docs/results/family/heldout_profile.png")
    return written


def block_readme_family() -> str:
    """README: one sentence per algorithm of the family on MuJoCo, with its verdict against its anchor."""
    recs = family_records()
    out = []
    for m in ("trpo", "ppo", "npg", "a2c", "ppo-kl"):
        have = {e: recs[(e, m)] for e in MUJOCO5 if recs.get((e, m))}
        if not have:
            out.append(f"- **{m}**: no held-out run yet (its preset's check on tuning seed 0: "
                       "[docs/results/family.md](docs/results/family.md)).")
            continue
        per = "; ".join(f"{e.split('-')[0]} {np.mean([r['result']['final_eval_return'] for r in runs.values()]):,.0f}"
                        f"{'' if len(runs) >= SEEDS_WANTED[m] else f' (n = {len(runs)})'}" for e, runs in have.items())
        txt = f"- **{m}**: {per}"
        if m in ANCHORS:
            v = [f"{e.split('-')[0]} {_verdict(_anchor_measure(m, have[e]), a, len(have[e]), SEEDS_WANTED[m])}"
                 for e, a in ANCHORS[m]["values"].items() if e in have]
            txt += (f". Against {ANCHORS[m]['source'].split(',')[0]} under its protocol: " + "; ".join(v)
                    if v else "")
        elif m == "trpo":
            peer = {e: recs[(e, "peer-trpo")] for e in MUJOCO5 if len(recs.get((e, "peer-trpo"), {})) >= 5}
            if peer:
                txt += ". sb3-contrib's TRPO run here: " + "; ".join(
                    f"{e.split('-')[0]} {np.mean([r['result']['final_eval_return'] for r in p.values()]):,.0f}"
                    for e, p in peer.items())
        missing = [e.split("-")[0] for e in MUJOCO5 if e not in have]
        out.append(txt + (f"; not yet run: {', '.join(missing)}" if missing else "") + ".")
    return ("The family on the same envs, held-out seeds 100-104 as they complete (1M steps, mean final "
            "deterministic evaluation; n is the number of seeds where fewer than planned; "
            "[docs/results/family.md](docs/results/family.md) has every seed, the stochastic evaluations and "
            "the anchors' protocols):\n\n" + "\n".join(out))


def block_family_tuning() -> str:
    """The a2c and ppo-kl presets' check on tuning seed 0 (suites family-tuning, family-tuning-density)."""
    L = ["| method | seed | log-probability | best periodic (deterministic) | final deterministic (10 ep) | "
         "final stochastic (10 ep) | raw record |", "|---|---:|---|---:|---:|---:|---|"]
    n = 0
    final: dict[tuple[str, str, int], dict] = {}
    for algo in ("a2c", "ppo-kl"):
        for suite, kind in (("family-tuning-density", "Gaussian density"), ("family-tuning", "clipped-action (CAPG)")):
            for f in sorted((RECORDS / suite).glob(f"*_{algo}_ours_s*.json")):
                r = json.loads(f.read_text())
                res = r["result"]
                n += 1
                final[(algo, suite, r["run"]["seed"])] = res
                L.append(f"| {algo} | {r['run']['seed']} | {kind} | {res['best_eval_return']:,.0f} | "
                         f"**{res['final_eval_return']:,.0f}** | {res['final_eval_stochastic_return']:,.0f} | "
                         f"[{f.name}](../../benchmarks/records/{suite}/{f.name}) |")
    if not n:
        return "Not run yet (`python benchmarks/harness.py run family-tuning -j 1`, then `family-tuning-density`)."
    runs = list(final.values())
    above = sum(r["final_eval_return"] >= r["final_eval_stochastic_return"] for r in runs)
    pairs = []
    for (algo, suite, seed), r in final.items():
        other = final.get((algo, "family-tuning-density", seed))
        if suite == "family-tuning" and other:
            x, y = r["final_eval_return"], other["final_eval_return"]
            pairs.append(f"{algo} ended {abs(x / y - 1):.0%} {'higher' if x >= y else 'lower'} ({x:,.0f} against "
                         f"{y:,.0f})")
    fell = [f"{a} ({'CAPG' if s == 'family-tuning' else 'density'}, seed {sd})" for (a, s, sd), r in final.items()
            if r["final_eval_return"] < 0.5 * r["final_eval_stochastic_return"]]
    L += ["", f"Reading ({len({k[2] for k in final})} seed, so a direction, not a result): "
          + (f"the mean action fell below half of sampling's return in {', '.join(fell)}"
             if fell else "neither method's mean action fell over without the clipped-action log-probability on this "
             "seed") + f" (deterministic at or above sampling in {above} of {len(runs)} runs); with it, "
          + " and ".join(pairs) + ". One seed does not separate them. The presets keep it for the failure it "
          "prevents in PPO, measured on both of PPO's tuning seeds (below), and the held-out runs will say whether "
          "a2c pays for it."]
    return "\n".join(L)


# the A2C variants tried on tuning seeds (harness suites; each adds to the one before it)
A2C_VARIANTS = (("a2c-tuning", "the mujoco-a2c preset before (8 x 128 per update, lr 1e-3)"),
                ("a2c-tuning-short", "+ the anchor's batch and step size (16 x 5, lr 7e-4)"),
                ("a2c-tuning-short-std", "+ its initial log-std -0.5"),
                ("a2c-tuning-short-std-ent", "+ its entropy bonus 0.01"))
A2C_TUNING_ENVS = ("Hopper-v5", "Walker2d-v5", "Ant-v5")


def block_a2c_tuning() -> str:
    """A2C's variants on tuning seeds (Hopper, Walker2d, Ant at 1M): which of the anchor's
    settings close its gap (suites A2C_VARIANTS)."""
    runs = {(suite, r["run"]["env"], r["run"]["seed"]): (n, r) for suite, _ in A2C_VARIANTS
            for n, r in suite_records(suite)}
    if not runs:
        return "Not run yet (`python benchmarks/harness.py run a2c-tuning -j 1`, then the other a2c-tuning-* suites)."
    L = ["| env | variant | final deterministic, per seed | mean | final stochastic (mean) | best periodic (mean) "
         "| raw records |", "|---|---|---|---:|---:|---:|---|"]
    finals: dict[tuple[str, str], dict[int, float]] = {}
    for env in A2C_TUNING_ENVS:
        for suite, label in A2C_VARIANTS:
            have = [runs[(suite, env, s)] for s in range(5) if (suite, env, s) in runs]
            if not have:
                L.append(f"| {env} | {label} | not run yet | | | | |")
                continue
            res = [r["result"] for _, r in have]
            final = [x["final_eval_return"] for x in res]
            finals[(env, suite)] = {r["run"]["seed"]: x for (_, r), x in zip(have, final)}
            links = ", ".join(f"[s{r['run']['seed']}](../../benchmarks/records/{suite}/{n})" for n, r in have)
            per_seed = ", ".join(f"s{r['run']['seed']} {x:,.0f}" for (_, r), x in zip(have, final))
            L.append(f"| {env} | {label} | {per_seed} | **{np.mean(final):,.0f}** | "
                     f"{np.mean([x.get('final_eval_stochastic_return', np.nan) for x in res]):,.0f} | "
                     f"{np.mean([x['best_eval_return'] for x in res]):,.0f} | {links} |")
    base = A2C_VARIANTS[0][0]

    def seeds_of(xs) -> str:
        return f"seed {xs[0]}" if len(xs) == 1 else f"seeds {', '.join(map(str, xs))}"

    reads = []
    for suite, _ in A2C_VARIANTS[1:]:
        pairs = []
        for env in A2C_TUNING_ENVS:
            a, b = finals.get((env, base), {}), finals.get((env, suite), {})
            both = sorted(set(a) & set(b))
            if both:
                pairs.append(f"{env} {np.mean([a[x] for x in both]):,.0f} -> {np.mean([b[x] for x in both]):,.0f} "
                             f"({seeds_of(both)})")
        if pairs:
            reads.append(f"`{suite}`: " + ", ".join(pairs))
    L += ["", "Mean final deterministic return, the preset before -> each variant, on the tuning seeds both have "
          "(generated): " + ("; ".join(reads) if reads else "no variant run yet") + "."]
    # held-out seeds: the replaced settings' runs (kept apart) against the shipped presets' (the table at the top)
    shipped = {(r["run"]["env"], r["run"]["seed"]): r["result"]["final_eval_return"]
               for _, r in suite_records("family-heldout") if r["run"]["algo"] == "a2c"}
    before: dict[str, dict[int, float]] = {}
    for _, r in suite_records("a2c-heldout-before"):
        before.setdefault(r["run"]["env"], {})[r["run"]["seed"]] = r["result"]["final_eval_return"]
    if before:
        held = []
        for env, old in sorted(before.items()):
            both = sorted(s for s in old if (env, s) in shipped)
            line = (f"- {env}: the replaced settings {', '.join(format(old[s], ',.0f') for s in sorted(old))} "
                    f"(mean {np.mean(list(old.values())):,.0f}); ")
            if both:
                was, now = np.mean([old[s] for s in both]), np.mean([shipped[(env, s)] for s in both])
                line += (f"mean on the seeds both have ({seeds_of(both)}) {was:,.0f} -> {now:,.0f} with the shipped "
                         f"preset: the tuning seeds' choice {'held' if now >= was else 'did not hold'}")
            else:
                line += "the shipped preset's runs not in yet"
            held.append(line)
        L += ["", "On held-out seeds 100-102, the replaced settings' runs (kept in "
              "[benchmarks/records/a2c-heldout-before/](../../benchmarks/records/a2c-heldout-before/), out of the "
              "table at the top) against the shipped presets' (generated):", "", *held]
    cpus = made_on([r["machine"] for _, r in runs.values()])
    L += ["", "Protocol: as the held-out table's (1M env steps; the final deterministic evaluation, 10 episodes; the "
          "stochastic one on the same env seeds; the best of the deterministic evaluations every 50,000 steps). "
          f"Made on {cpus} by `python benchmarks/harness.py run SUITE -j 1 --shared` for each suite named."]
    return "\n".join(L)


def keeps(final: float, best: float) -> bool:
    """The family issue's rule: the final evaluation at least 90% of the best periodic one; for a
    negative best, within 10% of it (final >= best - 0.1 |best|)."""
    return final >= best - 0.1 * abs(best)


def block_family_keep() -> str:
    """Does every method keep what it learned on the small envs (seeds 0-4)? From the per-run
    final and best evaluations of docs/results/family/final_vs_best_*.csv."""
    import csv

    L = ["| env | method | seeds | final / best periodic, per seed | keeps (rule below) | misses, by how much |",
         "|---|---|---:|---|---:|---|"]
    for env in ("CartPole-v1", "Pendulum-v1"):
        rows = list(csv.reader((FIG / f"final_vs_best_{env}.csv").read_text().splitlines()))[1:]
        by: dict[str, list[tuple[int, float, float]]] = {}
        for algo, seed, final, best in rows:
            by.setdefault(algo, []).append((int(seed), float(final), float(best)))
        for algo in sorted(by):
            runs = sorted(by[algo])
            ok = [keeps(f, b) for _, f, b in runs]
            miss = [f"seed {s}: {f:,.0f} of {b:,.0f} ({(f - b) / abs(b):+.0%})" for (s, f, b), k in zip(runs, ok)
                    if not k]
            L.append(f"| {env} | {algo} | {len(runs)} | {', '.join(f'{f:,.0f} / {b:,.0f}' for _, f, b in runs)} | "
                     f"{sum(ok)} of {len(runs)} | {'; '.join(miss) or '-'} |")
    L += ["", "Rule (the family issue's): the final deterministic evaluation (10 episodes, env seeds seed + 10,000 + "
          "i) at least 90% of the best periodic one (5 episodes every ~10k steps, env seeds seed + 20,000 + i); "
          "for negative returns, within 10% of it. Raw: [family/final_vs_best_CartPole-v1.csv]"
          "(family/final_vs_best_CartPole-v1.csv), [family/final_vs_best_Pendulum-v1.csv]"
          "(family/final_vs_best_Pendulum-v1.csv) (2026-12-01, seeds 0-4, the defaults of that day)."]
    return "\n".join(L)


def _keep_noise_bullet(r: dict) -> str:
    """One diagnosed miss (records/keep-noise): the final policy on the periodic evaluations' own
    start states against what those evaluations read from 50k steps on; a loss where it scores
    more than 10% below their median there (the keep rule's tolerance)."""
    every = r["steps"] // len(r["periodic"])
    late = r["periodic"][50_000 // every - 1:]
    med, on_periodic = float(np.median(late)), r["final_policy_on_periodic_states"]
    lost = not keeps(on_periodic, med)
    head = (f"* **{r['algo']}, seed {r['seed']}** (final {r['final_eval_10']:,.0f}, best {r['best_periodic']:,.0f}): "
            f"its final policy scores {on_periodic:,.0f} on the periodic start states, where its {len(late)} "
            f"evaluations from 50k steps on read {min(late):,.0f} to {max(late):,.0f} (median {med:,.0f}; the last "
            f"two {late[-2]:,.0f} and {late[-1]:,.0f}), and {r['final_policy_fresh_mean']:,.0f} ± "
            f"{r['final_policy_fresh_se']:,.0f} over {r['fresh_episodes']} fresh start states")
    if lost:
        why = (" NPG takes its full natural step with no line search and no check of the KL it reached (the "
               "lecture's NPG, by definition); TRPO's line search is the remedy, and the run's `checkpoints/best` "
               "keeps the best evaluation's policy." if r["algo"] == "npg" else "")
        return head + f": {abs(on_periodic - med):,.0f} below that median on the same states, a real loss at the end." \
            + why
    easier = r["final_policy_fresh_mean"] - on_periodic
    return (head + f". The policy did not get worse (within 10% of that median on the same states): the periodic "
            f"states are {'easier' if easier < 0 else 'harder'} than average by {abs(easier):,.0f}, and the best, "
            f"{r['best_periodic']:,.0f}, is one of {sum(1 for x in late if x >= med + 0.1 * abs(med))} evaluations "
            f"more than 10% above the median. Not a loss.")


def block_keep_noise() -> str:
    """Why the Pendulum runs miss the keep rule, from the diagnostic records (records/keep-noise,
    benchmarks/diag_keep_noise.py) and the per-run finals and bests of final_vs_best_Pendulum-v1.csv."""
    import csv

    recs = [json.loads(f.read_text()) for f in sorted((RECORDS / "keep-noise").glob("*.json"))]
    if not recs:
        return "No diagnostic record yet (`python benchmarks/diag_keep_noise.py`)."
    recs.sort(key=lambda r: ["trpo", "npg"].index(r["algo"]) if r["algo"] in ("trpo", "npg") else 9)
    commits = sorted({r["git"][:7] for r in recs})
    seeds = sorted({r["seed"] for r in recs})
    L = [f"Why the Pendulum misses, measured on the two largest of the methods that learned it (seed "
         f"{', '.join(map(str, seeds))}, rerun at commit {', '.join(commits)} with the same command, the same metrics "
         "to the last digit; `benchmarks/diag_keep_noise.py`, raw records "
         "[records/keep-noise/](../../benchmarks/records/keep-noise/)): the periodic evaluations replay the same "
         f"{recs[0]['per_eval']} start states every time, the final one 10 others, and a Pendulum episode's return "
         "depends on its start angle (the final policies' per-episode standard deviation over "
         f"{recs[0]['fresh_episodes']} fresh start states: "
         + ", ".join(f"{r['final_policy_episode_std']:,.0f} for {r['algo']}" for r in recs) + ").", ""]
    L += [_keep_noise_bullet(r) for r in recs]
    rows = list(csv.reader((FIG / "final_vs_best_Pendulum-v1.csv").read_text().splitlines()))[1:]
    done = {(r["algo"], r["seed"]) for r in recs}
    learned = [(a, int(s), float(f), float(b)) for a, s, f, b in rows if float(b) > -400]  # near -150: learned it
    others = [(a, s, f, b) for a, s, f, b in learned if (a, s) not in done and not keeps(f, b)]
    unlearned = sorted({a for a, s, f, b in rows if float(b) <= -400 and not keeps(float(f), float(b))})
    if others:
        pct = [abs(f - b) / abs(b) for _, _, f, b in others]
        pts = [abs(f - b) for _, _, f, b in others]
        L.append("* The others, not measured one by one: " + ", ".join(f"{a} seed {s}" for a, s, _, _ in others)
                 + f" miss by {min(pct):.0%}-{max(pct):.0%} ({min(pts):,.0f}-{max(pts):,.0f} points), about the size "
                 "of the start-state difference above" + (f"; {' and '.join(unlearned)} have not learned Pendulum at "
                 "this budget (their best below -400), and their final and best wander." if unlearned else "."))
    return "\n".join(L)


HUMANOID_ANCHORS = (  # published Humanoid numbers at 1M steps, each under its own protocol: for scale
    "TRPO+ 1,030 (Engstrom et al. 2020, \"Implementation Matters in Deep Policy Gradients\", Humanoid-v2)",
    "Tianshou's TRPO 810 (examples/mujoco README, Humanoid-v3, 10 seeds, the highest point of the mean curve)")


def block_humanoid() -> str:
    """Humanoid-v5 at 1M steps: every record of the suites humanoid-tuning (trpo and ppo, shipped
    presets, seed 0), humanoid-tuning-perdim (trpo, the KL bound per action dimension),
    humanoid-tuning-s1 and -kl2 (tuning seeds 0-1: twice the bound) and humanoid-heldout (seeds
    100-104), with the anchors for scale."""
    L = ["| suite | algo | settings | seed | best periodic (deterministic) | final deterministic (10 ep) | "
         "final stochastic (10 ep) | raw record |", "|---|---|---|---:|---:|---:|---:|---|"]
    n = 0
    for suite in ("humanoid-tuning", "humanoid-tuning-perdim", "humanoid-tuning-s1", "humanoid-tuning-kl2",
                  "humanoid-heldout"):
        for name, r in suite_records(suite):
            res, run = r["result"], r["run"]
            c = res["config"]
            bound = "per action dimension" if c.get("kl_per_action_dim") else "on the joint KL"
            wider = run["algo"] == "trpo" and c["max_kl"] != FIELDS["max_kl"].default  # humanoid-tuning-kl2
            how = f"preset `{c['preset']}`, KL bound {bound}" + (f" (max_kl {c['max_kl']:g})" if wider else "")
            L.append(f"| `{suite}` | {run['algo']} | {how} | {run['seed']} | {res['best_eval_return']:,.0f} | "
                     f"**{res['final_eval_return']:,.1f}** | {res['final_eval_stochastic_return']:,.1f} | "
                     f"[{name}](../../benchmarks/records/{suite}/{name}) |")
            n += 1
    if not n:
        return ("No Humanoid-v5 record yet (`python benchmarks/harness.py run humanoid-tuning -j 1`, "
                "`... run humanoid-tuning-perdim -j 1`, then `... run humanoid-heldout -j 2`).")
    L += ["", "For scale, not comparable (other Humanoid versions and protocols): " + "; ".join(HUMANOID_ANCHORS)
          + ". The family issue's bar for trpo is 1,030 on held-out seeds; the tuning runs above choose what ships."]
    held: dict[str, list[float]] = {}
    for _, r in suite_records("humanoid-heldout"):
        held.setdefault(r["run"]["algo"], []).append(r["result"]["final_eval_return"])
    if held:
        parts = []
        ci = interval({a: np.array(v)[:, None] for a, v in held.items() if len(v) > 1}, np.mean)
        for algo in sorted(held):
            v = np.array(held[algo])
            band = f", 95% CI of the mean [{ci[algo][1]:,.0f}, {ci[algo][2]:,.0f}]" if algo in ci else ""
            verdict = ""
            if algo == "trpo":
                verdict = (f": the bar of 1,030 {'met' if v.mean() >= 1030 else 'missed'}, "
                           f"{v.mean() / 1030:.0%} of it")
                if algo in ci:
                    verdict += (" (the bar lies inside the interval: five seeds cannot tell the mean from it)"
                                if ci[algo][1] <= 1030 <= ci[algo][2] else
                                " (the bar lies outside the interval)")
            parts.append(f"{algo} {v.mean():,.0f} over {len(v)} of 5 seeds (range {v.min():,.0f}-{v.max():,.0f}"
                         f"{band}){verdict}")
        L += ["", "Held-out means of the final deterministic evaluation so far: " + "; ".join(parts) + ". Intervals: "
              f"percentile bootstrap over the seeds (rliable, {BOOT_REPS:,} resamples)."]
    return "\n".join(L)


# PPO on Swimmer-v5, the variants tried on tuning seeds 0-1 (harness suites)
PPO_SWIMMER_VARIANTS = (("ppo-swimmer-tuning", "mujoco-ppo (8 x 128, gamma 0.99)"),
                        ("ppo-swimmer-tuning-gamma", "+ gamma 0.9999"),
                        ("ppo-swimmer-tuning-gamma-1x2048", "+ gamma 0.9999, 1 env x 2,048 steps"),
                        ("ppo-swimmer-tuning-gamma-1x2048-const", "+ gamma 0.9999, 1 x 2,048, constant lr"),
                        ("ppo-swimmer-tuning-zoo", "RL-Zoo's Swimmer entry (gamma 0.9999, lambda 0.98, 4 x 1,024, "
                         "minibatch 256, lr 6e-4 constant)"))


def block_ppo_swimmer() -> str:
    """ppo on Swimmer-v5 at 1M steps, tuning seeds 0-1: the mujoco-ppo preset against gamma 0.9999
    and the peer's layout (suites ppo-swimmer-tuning*), one row per record, then each variant's mean."""
    L = ["| settings | seed | best periodic (deterministic) | final deterministic (10 ep) | final stochastic (10 ep) | "
         "raw record |", "|---|---:|---:|---:|---:|---|"]
    means = []
    for suite, label in PPO_SWIMMER_VARIANTS:
        finals = []
        for name, r in suite_records(suite):
            res = r["result"]
            finals.append(res["final_eval_return"])
            L.append(f"| {label} | {r['run']['seed']} | {res['best_eval_return']:,.0f} | "
                     f"**{res['final_eval_return']:,.1f}** | {res['final_eval_stochastic_return']:,.1f} | "
                     f"[{name}](../../benchmarks/records/{suite}/{name}) |")
        if finals:
            means.append(f"{label}: {np.mean(finals):,.0f} ({len(finals)} of 2 seeds)")
    if not means:
        return "Not run yet (`python benchmarks/harness.py run ppo-swimmer-tuning -j 1`, and its variants)."
    L += ["", "Mean final deterministic evaluation: " + "; ".join(means) + "."]
    # held-out seeds: the replaced preset's runs (kept apart) against the shipped one's (family-heldout)
    old = {r["run"]["seed"]: r["result"]["final_eval_return"] for _, r in suite_records("ppo-swimmer-heldout-before")}
    new = {r["run"]["seed"]: r["result"]["final_eval_return"] for _, r in suite_records("family-heldout")
           if r["run"]["algo"] == "ppo" and r["run"]["env"] == "Swimmer-v5"}
    if old:
        both = sorted(set(old) & set(new))
        kept = "benchmarks/records/ppo-swimmer-heldout-before/"
        line = (f"On held-out seeds 100-104: mujoco-ppo (the preset before; its runs kept in [{kept}](../../{kept}), "
                f"out of the family table) {', '.join(format(old[k], ',.0f') for k in sorted(old))}; "
                "mujoco-swimmer-ppo (shipped, in the family table) "
                + (", ".join(format(new[k], ",.0f") for k in sorted(new)) if new else "not in yet"))
        tuned = [r["result"]["final_eval_return"] for _, r in suite_records("ppo-swimmer-tuning-zoo")]
        if both and tuned:
            was, now, level = np.mean([old[k] for k in both]), np.mean([new[k] for k in both]), np.mean(tuned)
            near = sum(new[k] >= HELD_SHARE * level for k in both)
            line += (f"; mean on the {len(both)} seeds both have {was:,.0f} -> {now:,.0f}, against "
                     f"{level:,.0f} on the tuning seeds: higher than the preset before on "
                     f"{sum(new[k] > old[k] for k in both)} of {len(both)} seeds; the tuning seeds' level "
                     f"{'held' if now >= HELD_SHARE * level else 'not held'} on the mean (within "
                     f"{1 - HELD_SHARE:.0%} of it on {near} of {len(both)} seeds)")
        L += ["", line + "."]
    return "\n".join(L)


def block_ppo_mean_action() -> str:
    """What made PPO's mean action fall over on Hopper-v5 (generic settings, seed 0, 1M steps),
    from records/ppo-mean-action/ (benchmarks/diag_ppo_mean_action.py) and records/ppo-capg/."""
    d = RECORDS / "ppo-mean-action"
    probe = json.loads((d / "probe_base_1m_s0.json").read_text())
    base, capg = read_compact(d / "diag_base_1m_s0.csv"), read_compact(d / "diag_capg_1m_s0.csv")
    curve = json.loads((RECORDS / "ppo-capg" / "base_1m_s0.json").read_text())["eval_curve"]
    m = probe["modes"]

    def span(xs, fmt="{:,.0f}"):
        return fmt.format(min(xs)) if fmt.format(min(xs)) == fmt.format(max(xs)) else \
            f"{fmt.format(min(xs))}-{fmt.format(max(xs))}"

    falls = [(r, n) for r, n in zip(m["sample"]["returns"], m["sample"]["lengths"]) if n < 1000]
    path = probe["mean_path"]
    names = ("thigh", "leg", "foot")  # Hopper-v5's three actuators, in order
    gaps = ", ".join(f"{n} {g:.3f}" for n, g in zip(names, path["gap_mean_per_dim"]))
    best_i = max(range(len(curve)), key=lambda i: curve[i][1])
    decline = [c for c in curve[best_i:] if c[0] <= 1_000_000]
    at = {r["it"]: r for r in base}
    it_best, it_low = round(decline[0][0] / 1024), round(decline[-1][0] / 1024)
    late_b = [r["frac_mu_out"] for r in base if r["it"] * 1024 >= 100_000]
    late_c = [r["frac_mu_out"] for r in capg if r["it"] * 1024 >= 100_000]
    pb, pc = np.percentile(late_b, [5, 95]), np.percentile(late_c, [5, 95])
    kl = max(base, key=lambda r: r["kl"])
    adam = [r["adam_step_max_over_lr"] for r in base]
    tail_obs = max(r["top_kl_obs_absmax"] for r in base[-20:])

    def kl_of(run: str, it: int) -> tuple[float, float]:
        last = json.loads((RECORDS / "ppo-capg" / f"{run}.json").read_text())["last_updates_iteration_kl_lr"]
        return next((k, lr) for i, k, lr in last if i == it)

    (k0, lr0), (k1, lr1) = kl_of("base_1m_s0", 977), kl_of("base_1m_s1", 976)
    sb = np.exp(probe["log_std"])  # the final policy's (each log row holds the policy before its update)
    last_c = capg[-1]  # the CAPG run's final policy was not probed: its log's last row, before the last update
    sc = np.exp([last_c["log_std_0"], last_c["log_std_1"], last_c["log_std_2"]])
    L = [f"What it was, measured on the final seed-0 checkpoint ({probe['checkpoint']}, {probe['episodes']} episodes "
         f"each on env seeds 10,000 + k; raw records in "
         f"[records/ppo-mean-action/](../../benchmarks/records/ppo-mean-action/meta.json), made by "
         f"`benchmarks/diag_ppo_mean_action.py`, the instrumented runs' code and commands in its meta.json):",
         "",
         f"* the network is fine: acting with E[clip(a)], the mean of the action the env receives, scores "
         f"{span(m['expected_clipped']['returns'])} over {span(m['expected_clipped']['lengths'])} steps, and sampling "
         f"{span(m['sample']['returns'])}" + (f" ({len(falls)} of {probe['episodes']} fell, at step "
                                                f"{', '.join(str(n) for _, n in falls)})" if falls else "")
         + f"; acting with clip(mu), the mean action, scores {span(m['mean']['returns'])} and falls at step "
         f"{span(m['mean']['lengths'])}. Along the mean action's path the two deterministic actions differ by "
         f"{path['gap_mean']:.3f} on average ({path['gap_p90']:.3f} at the 90th percentile; per actuator: {gaps}): "
         f"where the mean is past a bound (the thigh's ends at {path['mu_end'][0]:.2f}) clip(mu) sits on it and "
         f"E[clip(a)] just inside;",
         "* the decline is gradual, not the last updates: the periodic deterministic evaluations went "
         + " -> ".join(f"{c[1]:,.0f}" for c in decline)
         + f" ({decline[0][0] / 1000:.0f}k to {decline[-1][0] / 1000:.0f}k steps) "
         f"while the thigh's log-std fell from {at[it_best + 1]['log_std_0']:.2f} to "
         f"{at[it_low + 1]['log_std_0']:.2f};",
         f"* the mean outside the box is not by itself the failure: {pb[0]:.0%}-{pb[1]:.0%} of the state-dimensions "
         f"have |mu| > 1 from 100k steps on (5th to 95th percentile over the updates), without growing at the end "
         f"(and {pc[0]:.0%}-{pc[1]:.0%} with the fix below);",
         f"* nothing moves the policy at the end of the run but its gradient steps. The issue's \"KL of 5.53 and 9.82 "
         f"at learning rates of 6e-7 and 3e-7\" are {k0:.3g} at lr {lr0:.2g} (seed 0, update 977) and {k1:.3g} at lr "
         f"{lr1:.2g} (seed 1, update 976) in metrics.csv (the exponent was dropped when read; records/ppo-capg/); "
         f"per update, the mean KL falls with the annealed learning rate to the end (largest of "
         f"the run: "
         f"{kl['kl']:.3f}, at update {kl['it']}), Adam's largest per-element step stays within "
         f"{min(adam):.1f}-{max(adam):.1f} x lr, and the states of the largest KL in the last 20 updates are ordinary "
         f"(normalised |obs| <= {tail_obs:.1f}).",
         "",
         f"The final policy's standard deviations: {', '.join(f'{x:.2f}' for x in sb)} (thigh, leg, foot) without the "
         f"fix, {', '.join(f'{x:.2f}' for x in sc)} with it (before its last update, at an annealed learning rate of "
         f"{last_c['lr']:.1e})."]
    return "\n".join(L)


# The lecture's questions, each a pair of methods (the first the more conservative or the one with
# the extra safeguard): what each pair's difference measures
QUESTIONS = (
    ("trpo", "npg", "does the line search pay? (TRPO is NPG with its KL check)"),
    ("trpo", "ppo", "the trust region or the clipped objective?"),
    ("ppo", "ppo-kl", "clipping or the adaptive KL penalty?"),
    ("trpo", "a2c", "a conservative update or the plain gradient? (TRPO against A2C)"),
    ("ppo", "a2c", "a conservative update or the plain gradient? (PPO against A2C)"),
)


def block_family_reading() -> str:
    """The lecture's questions on the held-out seeds so far: each pair of methods on the seeds both
    have, env by env, and across envs in normalised scores; the cost in steps/s on one CPU model."""
    recs = family_records()
    L = ["| question | env | seeds both have | first: mean final | second: mean final | first higher / equal / lower |",
         "|---|---|---:|---:|---:|---|"]
    summary = []
    for a, b, question in QUESTIONS:
        diffs, wins, ties, n = [], 0, 0, 0
        for env in MUJOCO5:
            ra, rb = recs.get((env, a), {}), recs.get((env, b), {})
            both = sorted(set(ra) & set(rb))
            if not both:
                continue
            fa = np.array([ra[s]["result"]["final_eval_return"] for s in both])
            fb = np.array([rb[s]["result"]["final_eval_return"] for s in both])
            w, eq = int((fa > fb).sum()), int((fa == fb).sum())
            wins, ties, n = wins + w, ties + eq, n + len(both)
            diffs += list(normalised(env, fa) - normalised(env, fb))
            L.append(f"| {a} vs {b}: {question} | {env} | {len(both)} | {fa.mean():,.0f} | {fb.mean():,.0f} | "
                     f"{w} / {eq} / {len(both) - w - eq} |")
        if n == 0:
            summary.append(f"- {question}: no seed that both {a} and {b} have yet.")
            continue
        mean = float(np.mean(diffs))
        lower = n - wins - ties
        say = ("too few runs to answer (under 10 pairs)" if n < 10 else
               f"{a} ahead" if wins >= 0.75 * n else f"{b} ahead" if lower >= 0.75 * n else "no clear winner")
        summary.append(f"- {question}: {a} higher on {wins}, equal on {ties}, lower on {lower} of {n} (env, seed) "
                       f"pairs; mean difference in normalised score {mean:+.2f}: {say}.")
    L += ["", "Across envs, so far:", *summary, "",
          "A pair counts only the held-out seeds both methods have (final deterministic evaluation at 1M steps; "
          "equal: the same number, as when TRPO's line search never changed a step). Normalised score: 0 a random "
          "policy, 1 the published TRPO number of the env. \"Ahead\" needs 10 or more "
          "pairs and one method higher on at least 75% of them; otherwise the line says so.", "", *_cost_lines()]
    return "\n".join(L)


def _cost_lines() -> list[str]:
    """The cost in wall time: one profiled iteration of each method's shipped Hopper-v5 settings, one
    command after another (``harness.py profile --set algo=ALGO --label family``)."""
    recs = profile_records("Hopper-v5_family_*.json")
    if not recs:
        return ["The cost in wall time: no profile of the family yet."]
    ref = next((r for r in recs if r["resolved"]["algo"] == "trpo"), recs[0])
    L = ["The cost in wall time, Hopper-v5, one iteration of each method's shipped settings (its preset's "
         "layout and update), profiled one after another:", "",
         "| method | envs x steps | ms per iteration | of which the update | env steps/s | steps/s / trpo's |",
         "|---|---|---:|---:|---:|---:|"]
    for r in recs:
        c = r["resolved"]
        upd = sum(v for k, v in r["parts_ms"].items() if k.startswith("update"))
        L.append(f"| {c['algo']} | {c['num_envs']} x {c['batch_steps'] // c['num_envs']:,} | {r['ms_per_iter']:.0f} | "
                 f"{upd:.0f} ms ({upd / r['ms_per_iter']:.0%}) | {r['steps_per_s']:,.0f} | "
                 f"{r['steps_per_s'] / ref['steps_per_s']:.2f}x |")
    cpus = made_on([r["machine"] for r in recs])
    L += ["", f"Made by `benchmarks/harness.py profile --env Hopper-v5 --iters {recs[0]['iters']} --set algo=ALGO "
          f"--label family` on {cpus}, this project's background runs paused; raw: "
          + ", ".join(f"[{r['_file'].name}](../../benchmarks/records/profile/{r['_file'].name})" for r in recs)
          + "."]
    by_fit: dict[str, list[str]] = {}
    for r in recs:
        by_fit.setdefault(r["resolved"]["critic_fit"], []).append(r["resolved"]["algo"])
    if "process" in by_fit:
        L[-1] += (f" The critic fit of {', '.join(by_fit['process'])} runs in a helper process beside the next batch's "
                  "sampling (not in the update's time)" + (f"; that of {', '.join(by_fit['inline'])} in the update"
                                                           if "inline" in by_fit else "") + ".")
    return L


BLOCKS = {
    ("docs/results/family.md", "ppo-mean-action"): block_ppo_mean_action,
    ("docs/results/family.md", "humanoid"): block_humanoid,
    ("docs/results/family.md", "ppo-swimmer"): block_ppo_swimmer,
    ("README.md", "family"): block_readme_family,
    ("docs/results/family.md", "family-tuning"): block_family_tuning,
    ("docs/results/family.md", "a2c-tuning"): block_a2c_tuning,
    ("docs/results/README.md", "family-keep"): block_family_keep,
    ("docs/results/README.md", "keep-noise"): block_keep_noise,
    ("docs/results/family.md", "family-heldout"): block_family_heldout,
    ("docs/results/family.md", "family-aggregate"): block_family_aggregate,
    ("docs/results/family.md", "family-reading"): block_family_reading,
}

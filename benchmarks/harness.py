"""The results harness: named suites of runs (env x algorithm x side x seed at one budget), ours and
the peers through the same code, one raw record per run.

    python benchmarks/harness.py list                          # the suites and their size
    python benchmarks/harness.py run mujoco-heldout -j 2       # run what is missing (resumable)
    python benchmarks/harness.py status mujoco-heldout         # done / missing
    python benchmarks/harness.py run mujoco-heldout --only "Hopper-v5 *"   # a part of it (fnmatch on the run's name)
    python benchmarks/harness.py profile --env Hopper-v5 --iters 10          # where an iteration's time goes
    python benchmarks/harness.py speed --env Hopper-v5 --steps 40960 --repeats 3 --only env,ours,peer
    python benchmarks/harness.py startup --tree before=7452ef3 --tree after=HEAD   # cold start vs steady

A run is one subprocess (``bench_trpo.py --worker ours|peer``: clean imports, RSS and thread
settings). Its record, ``benchmarks/records/<suite>/<name>.json``, holds: the suite, the run's
axes, what the worker returned (the resolved config or the peer's hyperparameters, the learning
curves, the final deterministic and (ours) stochastic evaluations, the best periodic evaluation,
speed), the evaluation protocol (episodes, deterministic, env seeds), and where it ran: the git
commit of this tree and whether ``src/`` had uncommitted changes, the package version, the CPU
model, usable cores, the load average at start and end, the library versions. A record that
exists is not run again, so the same command resumes an interrupted suite; records are written
atomically, never half. Ours' runs live in ``benchmarks/runs/<suite>/`` (git-ignored) while they
run, so a run the suite's stop killed continues from its newest checkpoint when the suite runs
again (trpo's exact resume: the numbers of one process; the record lists its ``segments``), if
``src/``'s git tree is the one it started under; otherwise, and for the peers (sb3 cannot resume a
run exactly), it starts over. ``-j``: runs at once (default: usable cores); with 2+ (or ``--shared``,
when another suite runs beside this one) each of ours keeps to one core: the critic fit inline and
the envs in-process (``vector_mode=sync`` where ``auto`` would split them), bitwise the same
results as the helper processes.

Seeds: 0-4 are tuning seeds (presets and settings were chosen on them); suites that publish
tables use held-out seeds 100-104 (docs/results/README.md). A tuning suite whose baseline is a
preset names it (``sets``, and per env ``env_sets``): ``auto`` follows the presets a tuning suite
adopts, and would turn the baseline's later runs into the variant's.
"""
from __future__ import annotations

import argparse
import contextlib
import fnmatch
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# this tree's trpo for the commands that run in this process (profile, speed), before anything
# imports another checkout's (an editable install's path comes later in sys.path)
sys.path.insert(0, str(ROOT / "src"))
RECORDS = ROOT / "benchmarks" / "records"
RUNS = ROOT / "benchmarks" / "runs"  # ours' run directories while they run (git-ignored): a stopped suite resumes them
HELD_OUT = (100, 101, 102, 103, 104)
# A2C with the anchor's (Tianshou's mujoco_a2c.py) batch and step size: the a2c-tuning-short* suites
A2C_SHORT = ("num_envs=16", "batch_steps=80", "lr=7e-4", "critic_lr=7e-4", "critic_epochs=1", "critic_minibatch=80",
             "log_std_init=0.0")
MUJOCO5 = ("Hopper-v5", "Walker2d-v5", "HalfCheetah-v5", "Swimmer-v5", "Ant-v5")
MINATAR5 = tuple(f"MinAtar/{g}-v1" for g in ("Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders"))
# the peer of each algorithm, with RL-Zoo's settings: sb3-contrib's TRPO (npg's too has none); sb3's PPO and A2C
PEERS = {"trpo": "trpo", "ppo": "ppo", "a2c": "a2c"}
PERIODIC_EVAL_SEED, FINAL_EVAL_SEED = 20_000, 10_000  # as the trainer (trpo.evaluation)
FINAL_EPISODES = 10  # the final deterministic and stochastic evaluations of every run


@dataclass(frozen=True)
class Suite:
    """A grid of runs: every env x algo x side x seed, ``steps`` env steps each."""
    description: str
    envs: tuple[str, ...]
    algos: tuple[str, ...]
    sides: tuple[str, ...]        # "ours"; "peer" (PEERS: the algorithm's peer with RL-Zoo's settings)
    seeds: tuple[int, ...]
    steps: int
    eval_every: int
    eval_episodes: int = 10       # of each periodic evaluation (the final one: 10)
    sets: tuple[str, ...] = ()    # KEY=VALUE for ours
    env_sets: dict = field(default_factory=dict)  # env id -> KEY=VALUE for ours on that env (replacing ``sets``' keys)
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.env_sets) - set(self.envs)
        if unknown:
            raise ValueError(f"env_sets names envs the suite does not run: {', '.join(sorted(unknown))}")

    def runs(self) -> list[dict]:
        out = []
        for side in self.sides:  # ours first (the table), then each peer
            for seed in self.seeds:  # seed-major: an interrupted suite still covers every env
                for env in self.envs:
                    for algo in self.algos:
                        if side == "peer" and algo not in PEERS:
                            continue
                        name = f"{env.replace('/', '_')}_{algo}_{side}_s{seed}"
                        out.append({"name": name, "env": env, "algo": algo, "side": side, "seed": seed})
        return out


SUITES: dict[str, Suite] = {
    "mujoco-heldout": Suite(
        "TRPO (shipped settings) and sb3-contrib's TRPO (RL-Zoo's settings) at 1M steps on five MuJoCo "
        "v5 envs, held-out seeds 100-104", MUJOCO5, ("trpo",), ("ours", "peer"), HELD_OUT, 1_000_000, 50_000),
    "mujoco-heldout-ours": Suite(
        "ours only of mujoco-heldout (the same records)", MUJOCO5, ("trpo",), ("ours",), HELD_OUT, 1_000_000,
        50_000, extra={"records_of": "mujoco-heldout"}),
    "ppo-hopper-heldout": Suite(
        "PPO with the shipped mujoco-ppo preset (the clipped-action log-probability, chosen on seeds 0-1) at 1M "
        "steps on Hopper-v5, held-out seeds", ("Hopper-v5",), ("ppo",), ("ours",), (100, 101), 1_000_000, 50_000),
    "family-heldout": Suite(
        "PPO (the mujoco-ppo preset) and NPG (the mujoco preset) at 1M steps on five MuJoCo v5 envs, held-out "
        "seeds 100-104: the family beside TRPO's mujoco-heldout table (Hopper PPO seeds 100-101: the records of "
        "ppo-hopper-heldout, copied)", MUJOCO5, ("ppo", "npg"), ("ours",), HELD_OUT, 1_000_000, 50_000),
    "family-heldout-3": Suite(
        "a2c (mujoco-a2c) and ppo-kl (mujoco-ppo) at 1M steps on five MuJoCo v5 envs, held-out seeds 100-102: "
        "the family issue's three seeds for these two", MUJOCO5, ("a2c", "ppo-kl"), ("ours",), HELD_OUT[:3],
        1_000_000, 50_000, extra={"records_of": "family-heldout"}),
    "family-peers-heldout": Suite(
        "sb3's PPO with RL-Zoo's settings (ppo.yml) at 1M steps on five MuJoCo v5 envs, held-out seeds 100-104: "
        "the peer of family-heldout's ppo", MUJOCO5, ("ppo",), ("peer",), HELD_OUT, 1_000_000, 50_000),
    "family-peers-heldout-3": Suite(
        "sb3's A2C with RL-Zoo's settings (a2c.yml) at 1M steps on five MuJoCo v5 envs, held-out seeds 100-102",
        MUJOCO5, ("a2c",), ("peer",), HELD_OUT[:3], 1_000_000, 50_000, extra={"records_of": "family-peers-heldout"}),
    "family-tuning": Suite(
        "a2c and ppo-kl with their MuJoCo presets (mujoco-a2c, mujoco-ppo: the clipped-action log-probability) "
        "at 1M steps on Hopper-v5, tuning seed 0: the presets' check", ("Hopper-v5",), ("a2c", "ppo-kl"),
        ("ours",), (0,), 1_000_000, 50_000),
    "family-tuning-density": Suite(
        "the same with the Gaussian density of the unclipped sample (clipped_action_logprob = false)",
        ("Hopper-v5",), ("a2c", "ppo-kl"), ("ours",), (0,), 1_000_000, 50_000,
        sets=("clipped_action_logprob=false",)),
    "a2c-tuning": Suite(
        "a2c with the mujoco-a2c preset (one Adam step per 8 x 128 batch: ~980 updates in 1M steps; on Ant "
        "mujoco-ant-pg, the same settings without contact forces), what auto picked for a2c before Walker2d and Ant "
        "got their own presets, at 1M steps on Walker2d-v5, Ant-v5 and Hopper-v5, tuning seeds 0-1: the baseline of "
        "a2c-tuning-short", ("Walker2d-v5", "Ant-v5", "Hopper-v5"), ("a2c",), ("ours",), (0, 1), 1_000_000, 50_000,
        sets=("preset=mujoco-a2c",), env_sets={"Ant-v5": ("preset=mujoco-ant-pg",)}),
    "a2c-tuning-walker2d": Suite(
        "a2c-tuning on Walker2d-v5, tuning seeds 2-4 (its records beside a2c-tuning's)", ("Walker2d-v5",), ("a2c",),
        ("ours",), (2, 3, 4), 1_000_000, 50_000, sets=("preset=mujoco-a2c",), extra={"records_of": "a2c-tuning"}),
    "a2c-tuning-short": Suite(
        "the same with the anchor's (Tianshou's mujoco_a2c.py) batch and step size: 16 envs x 5 steps per update "
        "(12,500 updates in 1M steps), lr 7e-4 for the policy and the critic, one critic step per batch (and the "
        "initial log-std at its default, 0, which mujoco-ant-a2c sets otherwise)",
        ("Walker2d-v5", "Ant-v5", "Hopper-v5"), ("a2c",), ("ours",), (0, 1), 1_000_000, 50_000, sets=A2C_SHORT),
    "a2c-tuning-short-walker2d": Suite(
        "a2c-tuning-short on Walker2d-v5, tuning seeds 2-4 (its records beside a2c-tuning-short's)", ("Walker2d-v5",),
        ("a2c",), ("ours",), (2, 3, 4), 1_000_000, 50_000, sets=A2C_SHORT, extra={"records_of": "a2c-tuning-short"}),
    "a2c-tuning-short-std": Suite(
        "a2c-tuning-short with the anchor's initial log-std, -0.5 (Tianshou's mujoco_a2c.py; ours starts at 0)",
        ("Walker2d-v5", "Ant-v5", "Hopper-v5"), ("a2c",), ("ours",), (0, 1), 1_000_000, 50_000,
        sets=A2C_SHORT[:-1] + ("log_std_init=-0.5",)),
    "a2c-tuning-short-std-ent": Suite(
        "a2c-tuning-short-std with the anchor's entropy bonus, 0.01 (Tianshou's mujoco_a2c.py)",
        ("Walker2d-v5", "Ant-v5", "Hopper-v5"), ("a2c",), ("ours",), (0, 1), 1_000_000, 50_000,
        sets=A2C_SHORT[:-1] + ("log_std_init=-0.5", "entropy_coef=0.01")),
    "ppo-swimmer-tuning": Suite(
        "ppo with the mujoco-ppo preset on Swimmer-v5 at 1M steps, tuning seeds 0-1: the baseline of "
        "ppo-swimmer-tuning-gamma (ppo's held-out Swimmer mean is a fifth of trpo's, whose preset there sets "
        "gamma 0.9999)", ("Swimmer-v5",), ("ppo",), ("ours",), (0, 1), 1_000_000, 50_000),
    "ppo-swimmer-tuning-gamma": Suite(
        "the same with gamma 0.9999 (RL-Zoo's ppo.yml for Swimmer, and this package's trpo preset there)",
        ("Swimmer-v5",), ("ppo",), ("ours",), (0, 1), 1_000_000, 50_000, sets=("gamma=0.9999",)),
    "ppo-swimmer-tuning-gamma-1x2048": Suite(
        "ppo-swimmer-tuning-gamma with the peer's layout, 1 env x 2,048 steps (sb3's PPO defaults under RL-Zoo's "
        "Swimmer entry: whole episodes in each batch, no cut every 128 steps for the critic to bootstrap)",
        ("Swimmer-v5",), ("ppo",), ("ours",), (0, 1), 1_000_000, 50_000,
        sets=("gamma=0.9999", "num_envs=1", "batch_steps=2048")),
    "ppo-swimmer-tuning-gamma-1x2048-const": Suite(
        "ppo-swimmer-tuning-gamma-1x2048 with a constant learning rate (sb3's default; ours anneals it to 0)",
        ("Swimmer-v5",), ("ppo",), ("ours",), (0, 1), 1_000_000, 50_000,
        sets=("gamma=0.9999", "num_envs=1", "batch_steps=2048", "anneal_lr=false")),
    "ppo-swimmer-tuning-zoo": Suite(
        "ppo on Swimmer-v5 with RL-Zoo's ppo.yml Swimmer entry (the peer's): gamma 0.9999, GAE lambda 0.98, 4 envs x "
        "1,024 steps, minibatch 256, lr 6e-4 constant; the rest mujoco-ppo's (10 epochs, clip 0.2, the clipped-action "
        "log-probability), tuning seeds 0-1", ("Swimmer-v5",), ("ppo",), ("ours",), (0, 1), 1_000_000, 50_000,
        sets=("gamma=0.9999", "gae_lambda=0.98", "num_envs=4", "batch_steps=4096", "minibatch_size=256", "lr=6e-4",
              "anneal_lr=false")),
    "humanoid-tuning": Suite(
        "Humanoid-v5 at 1M steps, tuning seed 0: trpo with the KL bound on the joint KL (the mujoco preset's; "
        "its record was made when auto picked mujoco, before mujoco-humanoid: the same config) and ppo with "
        "mujoco-ppo; what Humanoid ships is chosen on these and humanoid-tuning-perdim", ("Humanoid-v5",),
        ("trpo", "ppo"), ("ours",), (0,), 1_000_000, 50_000, sets=("kl_per_action_dim=false",)),
    "humanoid-tuning-perdim": Suite(
        "the trpo run of humanoid-tuning with the KL bound per action dimension (17: 0.17 on the joint KL; "
        "chosen on seed 0: the mujoco-humanoid preset)", ("Humanoid-v5",), ("trpo",), ("ours",), (0,),
        1_000_000, 50_000, sets=("kl_per_action_dim=true",)),
    "humanoid-tuning-s1": Suite(
        "the shipped trpo preset for Humanoid (mujoco-humanoid) on tuning seed 1: the baseline's second tuning seed "
        "for humanoid-tuning-kl2", ("Humanoid-v5",), ("trpo",), ("ours",), (1,), 1_000_000, 50_000),
    "humanoid-tuning-kl2": Suite(
        "mujoco-humanoid with twice its KL bound (max_kl 0.02 per action dimension: 0.34 on the joint KL), tuning "
        "seeds 0-1: the held-out curves still rise steeply at 1M steps (a candidate for the 1,030 bar)",
        ("Humanoid-v5",), ("trpo",), ("ours",), (0, 1), 1_000_000, 50_000, sets=("max_kl=0.02",)),
    "humanoid-heldout": Suite(
        "trpo (mujoco-humanoid) and ppo (mujoco-ppo) with their shipped presets on Humanoid-v5 at 1M steps, "
        "held-out seeds 100-104 (after humanoid-tuning)", ("Humanoid-v5",), ("trpo", "ppo"), ("ours",), HELD_OUT,
        1_000_000, 50_000),
    "recurrent-keep": Suite(
        "recurrent TRPO (GRU) on CartPole without velocities, 300k steps, tuning seeds 0-4: does the final "
        "evaluation keep the best? (the family issue's check; default settings)", ("trpo/CartPoleNoVelocity-v1",),
        ("trpo",), ("ours",), (0, 1, 2, 3, 4), 300_000, 10_240,
        sets=("policy=gru", "preset=")),  # no preset: the default settings (cartpole-novelocity came from this)
    "recurrent-keep-ent": Suite(
        "the same with an entropy bonus of 0.01 (the remedy tried on seed 0 on 2026-12-01)",
        ("trpo/CartPoleNoVelocity-v1",), ("trpo",), ("ours",), (0, 1, 2, 3, 4), 300_000, 10_240,
        sets=("policy=gru", "entropy_coef=0.01", "preset=")),
    "recurrent-keep-heldout": Suite(
        "recurrent TRPO (GRU) on CartPole without velocities with its shipped preset (cartpole-novelocity: the "
        "entropy bonus of 0.01 chosen on seeds 0-4 by recurrent-keep and recurrent-keep-ent), held-out seeds",
        ("trpo/CartPoleNoVelocity-v1",), ("trpo",), ("ours",), HELD_OUT, 300_000, 10_240, sets=("policy=gru",)),
    "minatar-heldout": Suite(
        "TRPO with its shipped minatar preset (cg_damping 0.001, chosen on seeds 0-2) at 300k steps on the five "
        "MinAtar games, held-out seeds 100-102: minatar.md's 300k table on seeds that served no choice",
        MINATAR5, ("trpo",), ("ours",), HELD_OUT[:3], 300_000, 50_000),
    "minatar-ppo-heldout": Suite(
        "PPO with its shipped minatar-ppo preset (the MinAtar paper's network and gamma; PPO's defaults, as run on "
        "seeds 0-2) at 300k steps on the five MinAtar games, held-out seeds 100-102", MINATAR5, ("ppo",), ("ours",),
        HELD_OUT[:3], 300_000, 50_000),
    "pong-heldout": Suite(
        "TRPO (the atari preset) and PPO (atari-ppo: CleanRL's ppo_atari settings and Nature CNN, adopted as given) at 1M env "
        "steps on ALE/Pong-v5, held-out seed 100, with periodic deterministic evaluations (5 episodes every 100k)",
        ("ALE/Pong-v5",), ("trpo", "ppo"), ("ours",), HELD_OUT[:1], 1_000_000, 100_000, eval_episodes=5),
    "pong-ppo-shared": Suite(
        "PPO (atari-ppo with its shared trunk: actor and critic on one Nature CNN, CleanRL's network) at 1M env steps "
        "on ALE/Pong-v5, held-out seed 100, periodic deterministic evaluations (5 episodes every 100k), after the "
        "separate networks of pong-heldout did not learn", ("ALE/Pong-v5",), ("ppo",), ("ours",), HELD_OUT[:1],
        1_000_000, 100_000, eval_episodes=5),
    "pong-heldout-101": Suite(
        "PPO (atari-ppo, shared trunk) and TRPO (atari) at 1M env steps on ALE/Pong-v5, seed 101: held out for the "
        "shared trunk too (seed 100 served its choice), periodic deterministic evaluations (5 episodes every 100k)",
        ("ALE/Pong-v5",), ("ppo", "trpo"), ("ours",), HELD_OUT[1:2], 1_000_000, 100_000, eval_episodes=5),
    "hopper-quick": Suite(
        "a smoke test of the harness: Hopper 20k steps, one held-out seed, both sides", ("Hopper-v5",), ("trpo",),
        ("ours", "peer"), (100,), 20_000, 10_000, eval_episodes=2),
}


def records_dir(name: str) -> Path:
    return RECORDS / SUITES[name].extra.get("records_of", name)


def machine() -> dict:
    """Where a record was made: the CPU, the usable cores and this tree's git state (the code
    the workers run: ROOT/src on their PYTHONPATH). Read from ROOT itself, not from the ``trpo``
    this process imported, which may be another checkout (an editable install)."""
    import subprocess as sp

    sys.path.insert(0, str(ROOT / "src"))
    from trpo.system import cpu_model, usable_cores

    try:
        sha = sp.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout
        dirty = sp.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "--", "src"],
                       capture_output=True, text=True, check=True).stdout.strip() != ""
        git = {"commit": sha.strip(), "dirty": dirty}
    except (OSError, sp.SubprocessError):
        git = None
    return {"cpu": cpu_model(), "usable_cores": usable_cores(), "git": git}


def moment() -> dict:
    """A record's start: the time and the load average then."""
    return {"time": time.strftime("%Y-%m-%d %H:%M:%S"), "loadavg": os.getloadavg()}


def machine_since(start: dict, where: dict | None = None) -> dict:
    """A record's ``machine``: ``machine()`` (or ``where``, one taken earlier), the load at ``start``
    (``moment()``) and now, the versions."""
    return {**(where or machine()), "loadavg_start": start["loadavg"], "loadavg_end": os.getloadavg(),
            "versions": versions()}


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("trpo", "torch", "numpy", "gymnasium", "mujoco", "envpool", "stable-baselines3", "sb3-contrib"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def one_core_sets(env_id: str) -> list[str]:
    """What ``trpo compare --jobs 2+`` adds when runs share the cores: no helper processes (the critic
    fit inline, the envs in-process where ``auto`` would split them). Speed only: the same batches."""
    from trpo.resolve import splits_well  # this tree's trpo: ROOT/src is first in sys.path

    return ["critic_fit=inline"] + (["vector_mode=sync"] if splits_well(env_id, 2) else [])


def src_tree(git: dict | None) -> str | None:
    """The git tree of this checkout's src/ (the code a run executes), given ``machine()["git"]``;
    None when src/ has uncommitted changes (or no git): a run resumes only under the very code it
    started with."""
    import subprocess as sp

    if not git or git["dirty"]:
        return None
    try:
        return sp.run(["git", "-C", str(ROOT), "rev-parse", "HEAD:src"], capture_output=True, text=True,
                      check=True).stdout.strip()
    except (OSError, sp.SubprocessError):
        return None


def run_key(suite: Suite, run: dict) -> str:
    """What must not change between a run's segments besides src/: the worker's command without
    the one-core sets (which leave the numbers as they are) and the worker's own code."""
    import hashlib

    cmd = worker_cmd(suite, run, False)[2:]  # flag-value pairs, one a line (the runs in flight use this key)
    worker = hashlib.sha1((ROOT / "benchmarks" / "bench_trpo.py").read_bytes()).hexdigest()
    return hashlib.sha1(("\n".join(f"{a} {b}" for a, b in zip(cmd[::2], cmd[1::2])) + worker).encode()).hexdigest()


def run_home(suite_dir: str, name: str, git: dict | None, key: str) -> tuple[Path, list[dict]]:
    """Where ours' run lives while it runs, and its segments so far: a run a stop interrupted
    resumes from its newest checkpoint (trpo's exact resume, the same numbers as one process) if
    src/'s tree and the run's key (``run_key``) are those it started with and it has a
    checkpoint; otherwise it starts over."""
    import shutil

    from trpo.checkpoint import list_checkpoints

    d, mark = RUNS / suite_dir / name, RUNS / suite_dir / f"{name}.json"
    tree = src_tree(git)
    segments = json.loads(mark.read_text())["segments"] if mark.exists() else []
    same = tree is not None and segments and segments[0]["src_tree"] == tree and segments[0].get("key") == key
    if segments and not same:
        print(f"{name}: src/ or the run's command changed since its start: it starts over", flush=True)
    if not same or not list_checkpoints(d / "checkpoints"):
        segments = []
        shutil.rmtree(d, ignore_errors=True)
    else:
        print(f"{name}: resumes from its newest checkpoint (segment {len(segments) + 1})", flush=True)
    segments.append({"started": time.strftime("%Y-%m-%d %H:%M:%S"), "commit": (git or {}).get("commit"),
                     "src_tree": tree, "key": key})
    write_atomic(mark, {"segments": segments})
    return d, segments


def finish_home(suite_dir: str, name: str) -> None:
    """A run's directory and marker, removed once its record is written."""
    import shutil

    shutil.rmtree(RUNS / suite_dir / name, ignore_errors=True)
    (RUNS / suite_dir / f"{name}.json").unlink(missing_ok=True)


@contextlib.contextmanager
def run_lock(suite_dir: str, name: str):
    """Held while a run of ours runs: a second harness (the same suite twice, or a suite that shares
    its records, such as mujoco-heldout-ours beside mujoco-heldout) skips the run instead of
    sharing its directory. Yields False when another process holds it."""
    import fcntl

    path = RUNS / suite_dir / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def worker_cmd(suite: Suite, run: dict, shared: bool) -> list[str]:
    """The worker's command line of one run (bench_trpo.py --worker ours|peer)."""
    mine = suite.env_sets.get(run["env"], ())  # this env's own values replace the suite's for the same keys
    keys = {s.split("=", 1)[0] for s in mine}
    sets = ([s for s in suite.sets if s.split("=", 1)[0] not in keys] + list(mine) + [f"algo={run['algo']}"]
            + (one_core_sets(run["env"]) if shared else []))
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_trpo.py"), "--worker", run["side"], "--env", run["env"],
           "--steps", str(suite.steps), "--seed", str(run["seed"]), "--eval-every", str(suite.eval_every),
           "--eval-episodes", str(suite.eval_episodes), "--peer-threads", "1"]
    if run["side"] == "peer":
        cmd += ["--peer", PEERS[run["algo"]]]
    for s in sets:
        cmd += ["--set", s]
    return cmd


def run_one(suite: Suite, run: dict, shared: bool, suite_dir: str = "") -> dict:
    cmd = worker_cmd(suite, run, shared)
    segments = None
    if run["side"] == "ours" and suite_dir:  # sb3's peers cannot resume exactly: they start over
        home, segments = run_home(suite_dir, run["name"], machine()["git"], run_key(suite, run))
        cmd += ["--run-dir", str(home)]
    start = moment()
    t = time.perf_counter()
    # this tree's src/ first: a frozen copy (git worktree) runs its own code, not the installed one
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    if p.returncode:
        raise RuntimeError(f"{run['name']} failed (exit {p.returncode}): {p.stderr.strip().splitlines()[-1:]}")
    result = json.loads(p.stdout.strip().splitlines()[-1])
    return {"suite": suite.description, "run": run, "steps": suite.steps, "command": " ".join(cmd),
            **({"segments": segments} if segments and len(segments) > 1 else {}),
            "protocol": {"final": {"episodes": FINAL_EPISODES, "deterministic": True,
                                   "env_seeds": f"seed + {FINAL_EVAL_SEED} + i"},
                         "final_stochastic": ({"episodes": FINAL_EPISODES, "deterministic": False,
                                               "env_seeds": f"seed + {FINAL_EVAL_SEED} + i"}
                                              if run["side"] == "ours" else None),
                         "periodic": {"every_steps": suite.eval_every, "episodes": suite.eval_episodes,
                                      "deterministic": True, "env_seeds": f"seed + {PERIODIC_EVAL_SEED} + i"}},
            "machine": machine_since(start),
            "started": start["time"], "process_wall_s": round(time.perf_counter() - t, 1),  # this segment's
            "result": result}


def write_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(path)


def selected(name: str, only: str | None) -> list[dict]:
    return [r for r in SUITES[name].runs() if only is None or fnmatch.fnmatch(f"{r['env']} {r['algo']} {r['side']} "
                                                                             f"{r['seed']}", only)]


def cmd_run(a) -> int:
    suite, out = SUITES[a.suite], records_dir(a.suite)
    todo = [r for r in selected(a.suite, a.only) if not (out / f"{r['name']}.json").exists()]
    for r in selected(a.suite, a.only):  # the leftovers of runs recorded by a harness stopped before its cleanup
        if (out / f"{r['name']}.json").exists():
            finish_home(out.name, r["name"])
    print(f"{a.suite}: {len(todo)} runs to do, {a.jobs} at once; records in {out}", flush=True)

    def one(r):
        t = time.perf_counter()
        with run_lock(out.name, r["name"]) as mine:
            if not mine or (out / f"{r['name']}.json").exists():  # running elsewhere, or done there meanwhile
                print(f"skipped {r['name']}: another harness is running it or has run it", flush=True)
                return True
            try:
                rec = run_one(suite, r, a.jobs > 1 or a.shared, out.name)
            except RuntimeError as e:
                print(f"FAILED {e}", flush=True)
                return False
            write_atomic(out / f"{r['name']}.json", rec)
            finish_home(out.name, r["name"])  # after the record: a stop in between loses nothing
        res = rec["result"]
        print(f"done {r['name']}: final {res.get('final_eval_return', float('nan')):.1f} "
              f"({time.perf_counter() - t:.0f} s)", flush=True)
        return True

    with ThreadPoolExecutor(a.jobs) as ex:
        ok = list(ex.map(one, todo))
    return 0 if all(ok) else 1


def cmd_status(a) -> int:
    out = records_dir(a.suite)
    runs = selected(a.suite, a.only)
    done = [r for r in runs if (out / f"{r['name']}.json").exists()]
    print(f"{a.suite}: {len(done)} of {len(runs)} records in {out}")
    from trpo.checkpoint import list_checkpoints

    for r in runs:
        if r not in done:
            ckpts = list_checkpoints(RUNS / out.name / r["name"] / "checkpoints")
            where = f" (stopped at {ckpts[-1].stem}: the next run resumes it)" if ckpts else ""
            print(f"  missing {r['name']}{where}")
    return 0


def cmd_random(a) -> int:
    """The random-policy reference of the normalised scores: uniform random actions, ``--episodes``
    episodes on env seeds 0.. (the env's own time limit), one record per env in records/random-policy/."""
    import gymnasium as gym
    import numpy as np

    sys.path.insert(0, str(ROOT / "src"))
    import trpo  # noqa: F401  (the package's own env ids)

    for env_id in a.envs:
        env = gym.make(env_id)
        env.action_space.seed(0)
        returns = []
        for ep in range(a.episodes):
            env.reset(seed=ep)
            total, done = 0.0, False
            while not done:
                _, r, term, trunc, _ = env.step(env.action_space.sample())
                total += float(r)
                done = term or trunc
            returns.append(total)
        env.close()
        rec = {"env": env_id, "policy": "uniform random actions (action_space.sample, seeded 0)",
               "episodes": a.episodes, "env_seeds": f"0..{a.episodes - 1}", "returns": returns,
               "mean": float(np.mean(returns)), "std": float(np.std(returns)),
               "machine": {**machine(), "versions": versions()}}
        write_atomic(RECORDS / "random-policy" / f"{env_id.replace('/', '_')}.json", rec)
        print(f"{env_id}: {rec['mean']:.1f} ± {rec['std']:.1f} over {a.episodes} episodes")
    return 0


def cmd_profile(a) -> int:
    """Where one iteration's time goes (benchmarks/profile_iteration.py: the library's explicit
    timers, trpo.timing), as a raw record in records/profile/ and a table on stdout."""
    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from profile_iteration import breakdown, table

    from trpo.config import Config, parse_overrides

    cfg = Config(env_id=a.env, seed=a.seed, eval_periodic_episodes=0, eval_episodes=1, check_env=False)
    cfg = cfg.replace(**parse_overrides(a.set or []))
    start = moment()
    b = breakdown(cfg, a.iters, a.warmup)
    text = table(b)
    rec = {"kind": "profile", "env": a.env, "sets": a.set or [], "iters": b["iters"], "warmup": a.warmup,
           "command": "python benchmarks/harness.py " + " ".join(sys.argv[1:]) if a.record_command else None,
           "resolved": b["resolved"].to_dict(), "ms_per_iter": b["ms_per_iter"], "steps_per_s": b["steps_per_s"],
           "cpu_ms_per_iter": b["cpu_ms_per_iter"], "parts_ms": b["parts_ms"], "parts_cpu_ms": b["parts_cpu_ms"],
           "calls_per_iter": b["calls_per_iter"], "table": text, "started": start["time"],
           "machine": machine_since(start)}
    name = f"{a.env.replace('/', '_')}{'_' + a.label if a.label else ''}_{time.strftime('%Y%m%d-%H%M%S')}.json"
    write_atomic(RECORDS / "profile" / name, rec)
    print(f"{rec['machine']['cpu']}\n\n{text}\n\nrecord: {(RECORDS / 'profile' / name).relative_to(ROOT)}")
    return 0


def cmd_stepcost(a) -> int:
    """What one env step costs, layer by layer (benchmarks/step_cost.py): the simulator, one
    ``gym.make`` env, our vector env of one, the sampler's per-step loop; a raw record in
    records/stepcost/ and a table on stdout."""
    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import step_cost

    start = moment()
    m = step_cost.measure(a.env, a.steps, a.repeats, a.seed)
    rec = {"kind": "stepcost", "env": a.env, **m, "table": step_cost.table(m), "started": start["time"],
           "command": f"python benchmarks/harness.py stepcost --env {a.env} --steps {a.steps} --repeats {a.repeats} "
                      f"--seed {a.seed}",
           "machine": machine_since(start)}
    path = RECORDS / "stepcost" / f"{a.env.replace('/', '_')}_{time.strftime('%Y%m%d-%H%M%S')}.json"
    write_atomic(path, rec)
    print(f"{rec['machine']['cpu']}\n\n{rec['table']}\n\nrecord: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


def cmd_speed(a) -> int:
    """Steps per second of ours against the peer (and the env alone), in one command: the
    benchmark of benchmarks/bench_trpo.py, its record written to records/speed/ (every option
    after ``speed`` is bench_trpo's: --env, --steps, --repeats, --only, --set, ...)."""
    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_trpo

    bench_trpo.main([*a.extra, "--out", str(RECORDS / "speed")])
    return 0


def cmd_startup(a) -> int:
    """A run from a cold start against the steady rate, two or more commits in one command
    (benchmarks/startup.py); a record in records/startup/."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import startup

    start = moment()
    where = machine()  # its git state is HEAD's: the tree the runs labelled HEAD use
    rec = startup.run(ROOT, where["git"], a.env, a.steps, a.first, a.tree, a.repeats, a.seed, a.algo)
    rec.update(command="python benchmarks/harness.py " + " ".join(sys.argv[1:]), started=start["time"],
               machine=machine_since(start, where))
    rec["table"] = startup.table(rec)
    algo = "" if a.algo == "trpo" else f"-{a.algo}"  # trpo's records keep their names
    name = f"{a.env.replace('/', '_')}{algo}-{a.steps}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    write_atomic(RECORDS / "startup" / name, rec)
    print(rec["table"])
    print(f"(raw record: {RECORDS / 'startup' / name})")
    return 0


def cmd_list(a) -> int:
    for name, s in SUITES.items():
        print(f"{name}: {len(s.runs())} runs of {s.steps:,} steps - {s.description}")
    return 0


def main(argv=None) -> int:
    from trpo.system import usable_cores

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list").set_defaults(func=cmd_list)
    r = sub.add_parser("random", help="random-policy returns: the 0 of the normalised scores")
    r.add_argument("--envs", nargs="+", default=list(MUJOCO5))
    r.add_argument("--episodes", type=int, default=30)
    r.set_defaults(func=cmd_random)
    pr = sub.add_parser("profile", help="where one iteration's time goes: a raw record in records/profile/")
    pr.add_argument("--env", default="Hopper-v5")
    pr.add_argument("--iters", type=int, default=10)
    pr.add_argument("--warmup", type=int, default=1)
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument("--set", action="append", help="KEY=VALUE config key (the run's own preset applies)")
    pr.add_argument("--label", default="", help="a word for the record's name (e.g. before, after)")
    pr.set_defaults(func=cmd_profile, record_command=True)
    sc = sub.add_parser("stepcost", help="what one env step costs, layer by layer (simulator, env, vector env, "
                                         "the sampler's loop): a raw record in records/stepcost/")
    sc.add_argument("--env", default="Hopper-v5")
    sc.add_argument("--steps", type=int, default=2048, help="steps per layer and round")
    sc.add_argument("--repeats", type=int, default=7, help="rounds, the layers alternating")
    sc.add_argument("--seed", type=int, default=0)
    sc.set_defaults(func=cmd_stepcost)
    su = sub.add_parser("startup", help="a cold start against the steady rate, commits side by side in one "
                                        "command (benchmarks/startup.py); a record in records/startup/")
    su.add_argument("--env", default="ALE/Pong-v5")
    su.add_argument("--steps", type=int, default=16384, help="env steps per run")
    su.add_argument("--first", type=int, default=4096, help="the cold figure: the first this many env steps")
    su.add_argument("--tree", action="append", required=True, help="LABEL=COMMIT (HEAD: this tree), in order; "
                    "ratios are to the first")
    su.add_argument("--repeats", type=int, default=2)
    su.add_argument("--seed", type=int, default=0)
    su.add_argument("--algo", default="trpo")
    su.set_defaults(func=cmd_startup)
    sp = sub.add_parser("speed", help="steps/s of ours, the peer and the env alone in one command (bench_trpo's "
                                      "options); a record in records/speed/")
    sp.set_defaults(func=cmd_speed)
    for name, func in (("run", cmd_run), ("status", cmd_status)):
        s = sub.add_parser(name)
        s.add_argument("suite", choices=list(SUITES))
        s.add_argument("--only", help="fnmatch pattern on 'ENV ALGO SIDE SEED', e.g. 'Hopper-v5 *'")
        s.add_argument("-j", "--jobs", type=int, default=usable_cores())
        s.add_argument("--shared", action="store_true", help="other runs share the cores (e.g. a second suite "
                       "running): each run keeps to one core, as with -j 2+")
        s.set_defaults(func=func)
    a, extra = p.parse_known_args(argv)
    if extra and a.func is not cmd_speed:
        p.error(f"unrecognized arguments: {' '.join(extra)}")
    a.extra = extra
    return a.func(a)


if __name__ == "__main__":
    sys.exit(main())

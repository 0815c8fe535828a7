"""The Ray backend (trpo.rollout.ray) on a local Ray instance of 2 CPUs.

* same batches: W workers of n envs give, bit for bit, the local sampler's batches with W * n
  envs (sync vector env), also its observation statistics, reward scaler and checkpoint format;
  single path (categorical, Gaussian, multi-categorical actors) and vine;
* faults: a worker killed (SIGKILL) between or during batches, or hung past worker_timeout_s, is
  replaced and its share sampled again: the batches stay the same; after max_worker_failures
  consecutive failures the sampler raises WorkerFailureError with one line;
* Ray is optional: without it ``backend = ray`` is a one-line ConfigError, and the local path
  never imports it;
* slow: trpo learns CartPole-v1 with 2 workers; a training run whose worker dies mid-batch, then
  resumed, has the metrics of the local run; A3C replaces a dead worker.
"""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from functools import partial

import gymnasium as gym
import numpy as np
import pytest
import torch

from trpo.config import Config, validate
from trpo.errors import ConfigError
from trpo.nets.normalize import RewardScaler
from trpo.nets.factory import make_networks
from trpo.resolve import resolve_run
from trpo.rollout.base import SamplerContext
from trpo.rollout.single_path import SinglePathSampler
from trpo.rollout.vine import VineSampler

ray = pytest.importorskip("ray")

from trpo.errors import WorkerFailureError  # noqa: E402
from trpo.rollout.ray.sampler import RaySampler  # noqa: E402


@pytest.fixture(scope="module")
def ray_local():
    """One local Ray instance for the module (2 CPUs); the test envs below travel by value."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    started = not ray.is_initialized()
    if started:
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                 object_store_memory=128 * 2**20)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    if started:
        ray.shutdown()


# --- test envs (made in the workers: pickled by value) -------------------------------------------
class Faulty(gym.Wrapper):
    """CartPole (20-step episodes, so truncations happen) that misbehaves inside a Ray worker
    (never in the driver, ``driver_pid``) once the file ``flag`` exists: ``die`` (SIGKILL its own
    process) or ``hang`` (sleep) in the one env that removes the flag first; ``die-always``:
    every env dies while the flag exists."""

    def __init__(self, flag: str, driver_pid: int, mode: str):
        super().__init__(gym.make("CartPole-v1", max_episode_steps=20))
        self.flag, self.driver_pid, self.mode = flag, driver_pid, mode

    def step(self, action):
        if os.getpid() != self.driver_pid and os.path.exists(self.flag):
            try:
                if self.mode != "die-always":
                    os.remove(self.flag)
            except FileNotFoundError:
                pass
            else:
                if self.mode == "hang":
                    time.sleep(600)
                os.kill(os.getpid(), signal.SIGKILL)
        return self.env.step(action)


class TwoHeads(gym.Env):
    """A MultiDiscrete([3, 2]) task (the multi-categorical actor's noise), classic-control style
    state (snapshottable via get_snapshot/set_snapshot)."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
    action_space = gym.spaces.MultiDiscrete([3, 2])

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.x = 0, self.np_random.uniform(-1, 1, 3).astype(np.float32)
        return self.x.copy(), {}

    def step(self, a):
        r = float(a[0] == int(self.x[0] > 0) + int(self.x[1] > 0)) + float(a[1] == int(self.x[2] > 0))
        self.t += 1
        self.x = self.np_random.uniform(-1, 1, 3).astype(np.float32)
        return self.x.copy(), r, False, self.t >= 15, {}

    def get_snapshot(self):
        return {"t": self.t, "x": self.x.copy()}

    def set_snapshot(self, s):
        self.t, self.x = int(s["t"]), np.array(s["x"], np.float32)


# --- helpers -------------------------------------------------------------------------------------
def context(cfg: Config, env_fn=None) -> SamplerContext:
    cfg, env = resolve_run(validate(cfg), env_fn)
    obs_space, act_space = env.spaces()
    torch.manual_seed(0)
    actor, critic, obs_norm = make_networks(cfg, obs_space, act_space, torch.device("cpu"))
    scaler = RewardScaler(cfg.num_envs, cfg.gamma, cfg.normalize_rewards)
    return SamplerContext(cfg, env, actor, critic, obs_norm, scaler, torch.device("cpu"))


def pair(env_fn=None, **kw):
    """(local context with W * n envs, Ray context with W workers of n envs), same weights."""
    base = dict(backend="ray", workers=2, num_envs=2, batch_steps=64, vector_mode="sync", check_env=False,
                vine_branch_length=5)
    base.update(kw)
    ray_ctx = context(Config(**base), env_fn)
    local_ctx = context(Config(**{**base, "backend": "local", "num_envs": base["workers"] * base["num_envs"]}), env_fn)
    local_ctx.actor.load_state_dict(ray_ctx.actor.state_dict())
    return local_ctx, ray_ctx


def step_both(a: SamplerContext, b: SamplerContext, scale: float = 0.1) -> None:
    """The same parameter change in both actors (as if the learner had updated)."""
    with torch.no_grad():
        for p, q in zip(a.actor.parameters(), b.actor.parameters()):
            d = scale * torch.randn_like(p)
            p.add_(d)
            q.add_(d)


def assert_same(a, b) -> None:
    for f in ("obs", "actions", "rewards", "terminated", "truncated", "last_obs", "final_obs", "final_idx"):
        x, y = getattr(a, f), getattr(b, f)
        assert x.dtype == y.dtype and x.shape == y.shape and torch.equal(x, y), f
    assert (a.env_steps, a.episode_returns, a.episode_lengths) == (b.env_steps, b.episode_returns, b.episode_lengths)
    assert (a.vine is None) == (b.vine is None)
    if a.vine is not None:
        assert a.vine.enumerated == b.vine.enumerated
        for f in ("obs", "actions", "q"):
            assert torch.equal(getattr(a.vine, f), getattr(b.vine, f)), f"vine.{f}"


def assert_same_statistics(a: SamplerContext, b: SamplerContext) -> None:
    for x, y in ((a.obs_norm.rms, b.obs_norm.rms), (a.reward_scaler.rms, b.reward_scaler.rms)):
        assert np.array_equal(x.mean, y.mean) and np.array_equal(x.var, y.var) and x.count == y.count
    assert np.array_equal(a.reward_scaler.ret, b.reward_scaler.ret)


# --- same batches as the local sampler -------------------------------------------------------------
def test_same_batches_as_the_local_sampler_also_across_a_killed_worker(ray_local):
    local_ctx, ray_ctx = pair(env_id="CartPole-v1", env_kwargs={"max_episode_steps": 20})
    local, remote = SinglePathSampler.build(local_ctx), RaySampler.build(ray_ctx)
    try:
        assert remote.summary()["workers"] == 2 and remote.T == local.T == 16
        truncated = 0
        for it in range(4):
            if it == 2:  # SIGKILL a worker process between two batches: replaced, same batch
                os.kill(remote.worker_pids()[0], signal.SIGKILL)
            a, b = local.collect(), remote.collect()
            assert_same(a, b)
            assert_same_statistics(local_ctx, ray_ctx)
            step_both(local_ctx, ray_ctx)
            truncated += b.final_idx.numel()
        assert truncated > 0  # final observations of truncated steps were merged too
        s = remote.summary()
        assert s["worker_restarts"] == 1 and s["worker_timeouts"] == 0
        assert remote.worker_pids()[0] != remote.worker_pids()[1]
        # the checkpoint is the local sampler's, value for value
        ls, rs = local.state_dict(), remote.state_dict()
        assert ls["rng"] == rs["rng"] and len(ls["envs"]) == len(rs["envs"]) == 4
        for k in ("ep_return", "ep_length", "raw_obs"):
            assert np.array_equal(ls[k], rs[k]), k
    finally:
        local.close()
        remote.close()


def test_gaussian_and_multicategorical_actors_and_an_exact_resume(ray_local):
    local_ctx, ray_ctx = pair(env_id="Pendulum-v1", env_kwargs={"max_episode_steps": 30})
    local, remote = SinglePathSampler.build(local_ctx), RaySampler.build(ray_ctx)
    try:
        for _ in range(2):
            assert_same(local.collect(), remote.collect())
            step_both(local_ctx, ray_ctx)
        # a checkpoint of the Ray sampler (and the statistics), then one batch, then back
        saved = (remote.state_dict(), ray_ctx.obs_norm.rms.state_dict(), ray_ctx.reward_scaler.state_dict())
        b3 = remote.collect()
        assert_same(local.collect(), b3)
        assert remote.load_state_dict(saved[0]) is True
        ray_ctx.obs_norm.rms.load_state_dict(saved[1])
        ray_ctx.reward_scaler.load_state_dict(saved[2])
        assert_same(b3, remote.collect())
        # and a local sampler of 4 envs resumes the Ray sampler's checkpoint exactly
        other_ctx = context(Config(env_id="Pendulum-v1", env_kwargs={"max_episode_steps": 30}, num_envs=4,
                                   batch_steps=64, vector_mode="sync", check_env=False))
        other_ctx.actor.load_state_dict(ray_ctx.actor.state_dict())
        other_ctx.obs_norm.rms.load_state_dict(saved[1])
        other_ctx.reward_scaler.load_state_dict(saved[2])
        other = SinglePathSampler.build(other_ctx)
        assert other.load_state_dict(saved[0]) is True
        assert_same(b3, other.collect())
        other.close()
    finally:
        local.close()
        remote.close()
    local_ctx, ray_ctx = pair(env_id="TwoHeads", env_fn=TwoHeads)
    local, remote = SinglePathSampler.build(local_ctx), RaySampler.build(ray_ctx)
    try:
        for _ in range(2):
            assert_same(local.collect(), remote.collect())
            step_both(local_ctx, ray_ctx)
    finally:
        local.close()
        remote.close()


def test_vine_batches_equal_the_local_vine_sampler(ray_local):
    # sampled branch actions (K = 2 Gaussian draws per state), states spread over both workers
    local_ctx, ray_ctx = pair(env_id="Pendulum-v1", env_kwargs={"max_episode_steps": 30}, sampler="vine",
                              vine_actions=2, vine_rollout_states=6)
    local, remote = VineSampler.build(local_ctx), RaySampler.build(ray_ctx)
    try:
        for it in range(3):
            a, b = local.collect(), remote.collect()
            assert_same(a, b)
            assert b.vine.q.shape == (6, 2) and b.env_steps > 32
            assert_same_statistics(local_ctx, ray_ctx)
            step_both(local_ctx, ray_ctx)
        ls, rs = local.state_dict(), remote.state_dict()
        assert ls["rng"] == rs["rng"] and ls["trunk"]["rng"] == rs["trunk"]["rng"]
    finally:
        local.close()
        remote.close()


# --- faults ----------------------------------------------------------------------------------------
def test_a_hung_worker_is_replaced_after_the_timeout(ray_local, tmp_path, capsys):
    flag = tmp_path / "hang"
    env_fn = partial(Faulty, str(flag), os.getpid(), "hang")
    # 10 s: far above a healthy collect even on a loaded 2-core machine, far below the 600-s hang
    local_ctx, ray_ctx = pair(env_id="Faulty", env_fn=env_fn, worker_timeout_s=10.0)
    local, remote = SinglePathSampler.build(local_ctx), RaySampler.build(ray_ctx)
    try:
        assert_same(local.collect(), remote.collect())
        a = local.collect()
        flag.touch()  # the next env step in a worker sleeps
        t = time.monotonic()
        b = remote.collect()
        assert 10.0 <= time.monotonic() - t < 120
        assert_same(a, b)
        assert not flag.exists()
        s = remote.summary()
        assert s["worker_timeouts"] == 1 and s["worker_restarts"] == 1
        assert "no reply within 10 s (hung)" in capsys.readouterr().err
    finally:
        local.close()
        remote.close()


def test_too_many_consecutive_failures_stop_with_one_line(ray_local, tmp_path):
    flag = tmp_path / "die"
    env_fn = partial(Faulty, str(flag), os.getpid(), "die-always")
    _, ray_ctx = pair(env_id="Faulty", env_fn=env_fn, max_worker_failures=2)
    remote = RaySampler.build(ray_ctx)
    try:
        remote.collect()
        before = remote.state_dict()
        flag.touch()
        with pytest.raises(WorkerFailureError, match=r"failed 2 times in a row \(max_worker_failures = 2\)") as e:
            remote.collect()
        assert "\n" not in str(e.value)
        after = remote.state_dict()  # what a checkpoint now saves: the state after the last good batch
        assert after["rng"] == before["rng"] and np.array_equal(after["raw_obs"], before["raw_obs"])
    finally:
        remote.close()


# --- configuration and the optional dependency ------------------------------------------------------
def test_batch_steps_must_be_a_multiple_of_workers_times_num_envs():
    ray_ctx = context(Config(env_id="CartPole-v1", backend="ray", workers=3, num_envs=2, batch_steps=64))
    with pytest.raises(ConfigError, match=r"'batch_steps' = 64 must be a multiple of workers \* num_envs = 3 \* 2"):
        RaySampler.build(ray_ctx)


def test_without_ray_the_backend_is_a_one_line_error(monkeypatch):
    _, ray_ctx = pair(env_id="CartPole-v1")
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ConfigError, match=r"^backend 'ray' needs Ray: pip install 'trpo\[ray\]'$"):
        RaySampler.build(ray_ctx)


def test_the_local_path_never_imports_ray(tmp_path):
    code = ("import sys; from trpo import Config; from trpo.trainer import train; "
            "train(Config(env_id='CartPole-v1', total_steps=64, batch_steps=64, num_envs=2, eval_episodes=1, "
            f"eval_periodic_episodes=0, check_env=False), {str(tmp_path / 'run')!r}, progress=False); "
            "assert 'ray' not in sys.modules, 'ray imported'")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]


# --- training runs (slow) ------------------------------------------------------------------------------
SOLVING_SEED = 0  # this layout equals the local run with 8 sync envs, which solves seed 0 at 10,240 steps
def _metrics(run_dir) -> list[dict]:
    rows = list(csv.DictReader(open(run_dir / "metrics.csv")))
    timing = ("wall_s", "fps")
    return [{k: v for k, v in r.items() if k not in timing and not k.endswith("_s")} for r in rows]


@pytest.mark.slow
def test_trpo_learns_cartpole_with_two_workers(ray_local, tmp_path):
    from trpo.trainer import train

    cfg = Config(env_id="CartPole-v1", backend="ray", workers=2, num_envs=4, vector_mode="sync",
                 total_steps=100_000, seed=SOLVING_SEED, stop_at_return=475, eval_every=10240, checkpoint_every=1000)
    res = train(cfg, tmp_path / "run", progress=False)
    s = res.summary
    assert s["backend"] == "ray" and s["workers"] == 2 and s["worker_restarts"] == 0
    assert s["best_eval_return"] >= 475 and s["final_eval_return_mean"] >= 475, s


@pytest.mark.slow
def test_a_run_with_a_worker_killed_mid_batch_then_resumed_equals_the_local_run(ray_local, tmp_path):
    """The Ray run (2 workers x 2 envs) loses a worker process in its 2nd batch and stops after 2
    iterations; resumed to 4 iterations, its metrics equal, value for value, those of the local
    run with 4 envs."""
    from trpo.trainer import train

    flag = tmp_path / "die"
    env_fn = partial(Faulty, str(flag), os.getpid(), "die")
    common = dict(env_id="Faulty", algo="trpo", batch_steps=256, seed=3, eval_periodic_episodes=0, eval_episodes=1,
                  checkpoint_every=1, check_env=False)
    local = train(Config(**common, total_steps=1024, num_envs=4), tmp_path / "local", progress=False, env_fn=env_fn)
    on_ray = dict(common, backend="ray", workers=2, num_envs=2)

    def kill_in_next_batch(row, agent):
        if row["iteration"] == 1:
            flag.touch()

    first = train(Config(**on_ray, total_steps=512), tmp_path / "ray", progress=False, env_fn=env_fn,
                  callback=kill_in_next_batch)
    assert not flag.exists()  # a worker's env took it and died
    assert first.summary["worker_restarts"] == 1 and first.summary["total_steps"] == 512
    assert first.summary["iterations"] == 2 and first.summary["workers"] == 2
    resumed = train(Config(**on_ray, total_steps=1024), resume=tmp_path / "ray", progress=False, env_fn=env_fn)
    assert resumed.summary["total_steps"] == local.summary["total_steps"] == 1024
    assert _metrics(tmp_path / "ray") == _metrics(tmp_path / "local")


@pytest.mark.slow
def test_a3c_replaces_a_dead_worker(ray_local, tmp_path):
    from trpo.trainer import train

    flag = tmp_path / "die"
    env_fn = partial(Faulty, str(flag), os.getpid(), "die")

    def kill(row, agent):
        if row["iteration"] == 4:
            flag.touch()

    cfg = Config(env_id="Faulty", algo="a3c", total_steps=1600, num_envs=2, batch_steps=64, eval_episodes=1,
                 eval_periodic_episodes=0, checkpoint_every=100, check_env=False)
    res = train(cfg, tmp_path / "run", progress=False, env_fn=env_fn, callback=kill)
    assert not flag.exists()
    assert res.summary["worker_restarts"] == 1 and res.summary["total_steps"] >= 1600

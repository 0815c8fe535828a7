"""vector_mode "split" (trpo.envs.split): the envs in slices, one here and one per other core in a
helper process (a whole batch per call, or a step at a time through shared memory). Its steps
equal sync's with the same envs, bit for bit, across episode ends (final observations included);
snapshots restore exactly; a helper's error or death is a one-line EnvError; a whole training run
equals sync's metrics."""
import csv
import os

import numpy as np
import pytest

from trpo import Config
from trpo.envs.make import make_vector_env
from trpo.envs.split import SplitVectorEnv, _slices
from trpo.errors import EnvError


def test_slices_cover_every_env_once():
    assert _slices(2, 2) == [(0, 1), (1, 2)]
    assert _slices(5, 2) == [(0, 3), (3, 5)]
    assert _slices(1, 4) == [(0, 1)]


def _run(envs, actions):
    out = [envs.reset(seed=7)[0]]
    finals = []
    for a in actions:
        obs, r, te, tr, info = envs.step(a)
        out += [obs, r, te, tr]
        done = te | tr
        finals += [np.asarray(info["final_obs"][i]) for i in np.flatnonzero(done)] if done.any() else []
    return out, finals


@pytest.mark.parametrize("env_id,n", [("Hopper-v5", 2), ("CartPole-v1", 3), ("Pendulum-v1", 4)])
def test_the_same_steps_as_sync_bit_for_bit(env_id, n):
    sync = make_vector_env(env_id, n, "sync")
    split = SplitVectorEnv(lambda k: make_vector_env(env_id, k, "sync"), n, helpers=min(n - 1, 2))
    try:
        assert len(split.helpers) >= 1
        rng = np.random.default_rng(0)
        actions = [sync.action_space.sample() for _ in range(300)] if env_id == "CartPole-v1" else \
            [rng.uniform(-1, 1, sync.action_space.shape).astype(np.float32) for _ in range(300)]
        (a, fa), (b, fb) = _run(sync, actions), _run(split, actions)
        assert len(fa) == len(fb) > 0  # episodes ended (and were reset) on the way
        for x, y in zip(a + fa, b + fb):
            assert x.dtype == y.dtype and np.array_equal(x, y)
    finally:
        sync.close()
        split.close()


def test_snapshots_restore_exactly():
    split = make_vector_env("Hopper-v5", 2, "split")
    try:
        split.reset(seed=3)
        acts = np.random.default_rng(1).uniform(-1, 1, (40, 2, 3)).astype(np.float32)
        for a in acts[:20]:
            split.step(a)
        state = split.env_snapshots()
        first = [split.step(a)[0] for a in acts[20:]]
        assert split.restore_env_snapshots(state)
        again = [split.step(a)[0] for a in acts[20:]]
        assert all(np.array_equal(x, y) for x, y in zip(first, again))
    finally:
        split.close()


DRIVER = os.getpid()


def _broken_in_helpers(change):
    """An env fn: CartPole whose step results go through ``change`` after 5 steps in a helper
    process (the envs of slices other than the first), never in this one."""
    def make():
        import gymnasium as gym

        class _Broken(gym.Wrapper):
            t = 0

            def step(self, a):
                self.t += 1
                out = self.env.step(a)
                return change(out) if self.t > 5 and os.getpid() != DRIVER else out
        return _Broken(gym.make("CartPole-v1"))
    return make


def _raise(out):
    raise ValueError("the env broke")


Boom = _broken_in_helpers(_raise)                                                    # its step raises
NanInHelper = _broken_in_helpers(lambda out: (np.full_like(out[0], np.nan), *out[1:]))  # NaN observations


def test_a_helpers_error_and_death_are_one_line_errors():
    import gymnasium as gym

    def make(k):
        return gym.vector.SyncVectorEnv([Boom] * k, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    split = SplitVectorEnv(make, 2, helpers=1)
    try:
        split.reset(seed=0)
        with pytest.raises(EnvError, match="the env broke"):
            for _ in range(10):
                split.step(np.zeros(2, np.int64))
    finally:
        split.close()
    split = SplitVectorEnv(lambda k: make_vector_env("CartPole-v1", k, "sync"), 2, helpers=1)
    try:
        split.reset(seed=0)
        os.kill(split.helpers[0]["proc"].pid, 9)
        with pytest.raises(EnvError, match="helper process died"):
            for _ in range(10):
                split.step(np.zeros(2, np.int64))
    finally:
        split.close()


def test_a_helpers_error_in_a_whole_batch_is_raised_here():
    """map_slices (a batch of a slice run by its process): a trpo error of the helper's (a
    non-finite observation) is raised here as itself, naming the step; any other as a one-line
    EnvError."""
    import gymnasium as gym
    import torch

    from trpo.agent import Agent
    from trpo.errors import NonFiniteError
    from trpo.nets.normalize import ObsNormalizer, RewardScaler
    from trpo.rollout.single_path import SinglePathSampler

    def sampler(env_cls):
        envs = SplitVectorEnv(lambda k: gym.vector.SyncVectorEnv(
            [env_cls] * k, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP), 2, helpers=1)
        agent = Agent(Config(env_id="CartPole-v1"), envs.single_observation_space, envs.single_action_space,
                      torch.device("cpu"))
        return SinglePathSampler(envs, agent.actor, ObsNormalizer((4,), True), RewardScaler(2, 0.99, True),
                                 16, 0, torch.device("cpu"))
    s = sampler(NanInHelper)
    try:
        with pytest.raises(NonFiniteError, match="non-finite observation from the environment at step 5 of the batch"):
            s.collect()
        assert "envs" not in s.state_dict() and "raw_obs" not in s.state_dict()  # not a state to resume
    finally:
        s.close()
    s = sampler(Boom)
    try:
        with pytest.raises(EnvError, match="the env broke"):
            s.collect()
    finally:
        s.close()


def _count_envs(envs, lo, hi):
    return lo, hi, envs.num_envs


def _slow_then_fail(envs, lo, hi, fail_at):
    import time

    time.sleep(0.3)
    if lo in fail_at:
        raise ValueError(f"slice {lo} failed")
    return lo


def test_a_reply_not_read_is_dropped_before_the_next_command():
    """A call whose replies were not all read (this process's own slice failed while the helpers
    ran theirs; the first of two helpers failed) leaves nothing in the pipes: the next commands
    get their own replies."""
    split = SplitVectorEnv(lambda k: make_vector_env("CartPole-v1", k, "sync"), 3, helpers=2)
    try:
        split.reset(seed=0)
        with pytest.raises(ValueError, match="slice 0 failed"):
            split.map_slices(_slow_then_fail, lambda lo, hi: (lo, hi, {0}))
        assert len(split.env_snapshots()) == 3
        with pytest.raises(EnvError, match="slice 1 failed"):
            split.map_slices(_slow_then_fail, lambda lo, hi: (lo, hi, {1}))
        assert split.map_slices(_count_envs, lambda lo, hi: (lo, hi)) == [(0, 1, 1), (1, 2, 1), (2, 3, 1)]
        assert split.reset(seed=1)[0].shape == (3, 4)
    finally:
        split.close()


def _count_envs(envs, lo, hi):
    return lo, hi, envs.num_envs


def _metrics(run_dir) -> list[dict]:
    rows = list(csv.DictReader(open(run_dir / "metrics.csv")))
    return [{k: v for k, v in r.items() if k not in ("wall_s", "fps") and not k.endswith("_s")} for r in rows]


def test_a_training_run_and_its_resume_equal_sync(tmp_path):
    from trpo.trainer import train

    common = dict(env_id="Hopper-v5", batch_steps=512, num_envs=2, eval_episodes=1,
                  eval_periodic_episodes=0, check_env=False, checkpoint_every=1, seed=4)
    train(Config(**common, vector_mode="sync", total_steps=2048), tmp_path / "sync", progress=False)
    train(Config(**common, vector_mode="split", total_steps=1024), tmp_path / "split", progress=False)
    train(Config(**common, vector_mode="split", total_steps=2048), resume=tmp_path / "split", progress=False)
    assert _metrics(tmp_path / "split") == _metrics(tmp_path / "sync")


def test_a_checkpoint_resumes_exactly_in_the_other_mode(tmp_path):
    """sync and split hold the same envs: a run saved under one resumes bit for bit under the other."""
    from trpo.trainer import train

    common = dict(env_id="Hopper-v5", batch_steps=256, num_envs=2, eval_episodes=1,
                  eval_periodic_episodes=0, check_env=False, checkpoint_every=1, seed=5)
    train(Config(**common, vector_mode="sync", total_steps=768), tmp_path / "ref", progress=False)
    for first, then in (("sync", "split"), ("split", "sync")):
        train(Config(**common, vector_mode=first, total_steps=512), tmp_path / first, progress=False)
        train(Config(**common, vector_mode=then, total_steps=768), resume=tmp_path / first, progress=False)
        assert _metrics(tmp_path / first) == _metrics(tmp_path / "ref"), (first, then)


def test_one_snapshot_format_for_both_modes_and_the_old_split_one_read():
    """env_snapshots gives the same per-env list under sync and split; a split checkpoint of the
    old layout ({"split_envs": [...]}) is still restored, in either mode."""
    from trpo.rollout.single_path import env_snapshots, restore_env_snapshots

    acts = np.random.default_rng(2).uniform(-1, 1, (30, 2, 3)).astype(np.float32)
    sync, split = make_vector_env("Hopper-v5", 2, "sync"), make_vector_env("Hopper-v5", 2, "split")
    try:
        for v in (sync, split):
            v.reset(seed=7)
            for a in acts[:10]:
                v.step(a)
        s_sync, s_split = env_snapshots(sync), env_snapshots(split)
        assert isinstance(s_split, list) and len(s_split) == 2 and len(s_sync) == 2
        ref = [sync.step(a)[0] for a in acts[10:]]
        for v, states in ((split, s_sync), (sync, [{"split_envs": s_split}]), (split, [{"split_envs": s_split}])):
            assert restore_env_snapshots(v, states)
            assert all(np.array_equal(x, v.step(a)[0]) for x, a in zip(ref, acts[10:]))
        assert not restore_env_snapshots(split, s_sync[:1])  # another number of envs: refused
    finally:
        sync.close()
        split.close()

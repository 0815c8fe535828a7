"""The EnvPool adapter gives same-step autoreset: no dummy transition after an episode ends."""
import numpy as np
import pytest

pytest.importorskip("envpool")

from trpo.envs.make import make_vector_env  # noqa: E402


def test_envpool_same_step_autoreset_cartpole():
    envs = make_vector_env("CartPole-v1", 3, "envpool")
    try:
        obs, _ = envs.reset(seed=0)
        assert obs.shape == (3, 4)
        rng = np.random.default_rng(0)
        ended = 0
        for _ in range(200):
            obs, r, te, tr, info = envs.step(rng.integers(0, 2, 3))
            assert np.all(r == 1.0)  # CartPole pays 1 on every real step: a dummy reset step pays 0
            done = te | tr
            for i in np.flatnonzero(done):
                ended += 1
                fo = info["final_obs"][i]
                assert fo.shape == (4,)
                assert abs(fo[2]) > 0.2 or abs(fo[0]) > 2.4 or tr[i]  # the final state is a failed one
                assert np.all(np.abs(obs[i]) <= 0.05)                  # the row is already the reset state
        assert ended > 5
    finally:
        envs.close()


def test_mujoco_ids_import_only_envpools_mujoco_registrations_and_the_rest_still_works():
    """vector_mode auto on a MuJoCo id must not pay for every family EnvPool ships (+105 MB RSS);
    code that later asks the package for anything gets the whole of EnvPool."""
    import subprocess
    import sys

    code = """
import sys
from trpo.envs.envpool_env import EnvPoolVectorEnv, envpool_knows
assert envpool_knows("Hopper-v5")
envs = EnvPoolVectorEnv("Hopper-v5", 2, seed=0)
obs, _ = envs.reset()
obs, r, te, tr, info = envs.step(envs.single_action_space.sample()[None].repeat(2, 0))
assert obs.shape == (2, 11)
envs.close()
assert "envpool.atari.registration" not in sys.modules and "envpool.entry" not in sys.modules
import envpool
assert "CartPole-v1" in envpool.list_all_envs() and callable(envpool.make_gymnasium)
assert "envpool.atari.registration" in sys.modules
from envpool import make_gymnasium
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]

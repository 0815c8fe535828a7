"""The EnvPool adapter gives same-step autoreset: no dummy transition after an episode ends."""
import numpy as np
import pytest

pytest.importorskip("envpool")

from trpo.rollout.envs import make_vector_env  # noqa: E402


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

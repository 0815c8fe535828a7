import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # pygame renders frames for videos without a display
# Ray starts its workers at nice 15: beside the other test process (nice 0) on 2 cores they then wait
# for minutes to import torch. The tests' Ray instances and clusters start them at the test's own nice.
os.environ.setdefault("RAY_worker_niceness", "0")


@pytest.fixture
def tiny_cfg():
    """A fast CartPole config for tests that need a real training run."""
    from trpo import Config
    return Config(env_id="CartPole-v1", total_steps=512, num_envs=2, batch_steps=256, check_env=False,
                  eval_episodes=1, checkpoint_every=1)

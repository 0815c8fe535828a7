import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # pygame renders frames for videos without a display


@pytest.fixture
def tiny_cfg():
    """A fast CartPole config for tests that need a real training run."""
    from trpo import Config
    return Config(env_id="CartPole-v1", total_steps=512, num_envs=2, batch_steps=256, check_env=False,
                  eval_episodes=1, checkpoint_every=1)

"""The image path learns: uint8 frames in the batch, CNN actor and critic, the autograd Gauss-Newton
Fisher through convolutions, CG, line search, critic fit. A task only pixels can solve."""
import gymnasium as gym
import numpy as np
import pytest

import trpo


class Spot(gym.Env):
    """A bright 6x6 square on the left or the right half of a dark 36x36 frame, at a random
    height; action 0 = left, 1 = right; reward 1 when it names the side. A new frame every step."""

    observation_space = gym.spaces.Box(0, 255, (1, 36, 36), np.uint8)
    action_space = gym.spaces.Discrete(2)

    def _frame(self):
        self.side = int(self.np_random.integers(2))
        frame = np.zeros((1, 36, 36), np.uint8)
        y, x = int(self.np_random.integers(0, 30)), int(self.np_random.integers(0, 12)) + 18 * self.side
        frame[0, y:y + 6, x:x + 6] = 255
        return frame

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self._frame(), {}

    def step(self, a):
        r = float(int(a) == self.side)
        return self._frame(), r, False, False, {}


gym.register("SpotTest-v0", entry_point=Spot, max_episode_steps=16)


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["trpo", "ppo"])
def test_cnn_policy_learns_to_read_the_frame(tmp_path, algo):
    cfg = trpo.Config(env_id="SpotTest-v0", algo=algo, total_steps=12_288, num_envs=4, batch_steps=512,
                      max_kl=0.05, eval_episodes=10, check_env=False)
    r = trpo.train(cfg, run_dir=tmp_path / algo, progress=False)
    assert r.summary["final_eval_return_mean"] >= 14, r.summary  # random play scores 8 of 16

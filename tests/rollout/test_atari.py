"""Atari: the DQN preprocessing, the image networks, their Fisher product, snapshots, a short run."""
import gymnasium as gym
import numpy as np
import pytest
import torch

pytest.importorskip("ale_py")
pytest.importorskip("cv2")

import trpo  # noqa: E402
from trpo.functional.fisher import fisher_vector_product, gauss_newton_fvp  # noqa: E402
from trpo.nets.policies import ImageTrunk, make_actor, make_critic  # noqa: E402
from trpo.envs.make import make_env, make_vector_env  # noqa: E402
from tests.rollout.test_snapshot import _roundtrip  # noqa: E402

ENV = "ALE/Pong-v5"


def test_preprocessing_gives_stacked_84x84_uint8_frames():
    env = make_env(ENV)
    assert env.observation_space.shape == (4, 84, 84) and env.observation_space.dtype == np.uint8
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
    assert env.unwrapped._frameskip == 1  # the skip is the wrapper's (4 frames, max of the last two)
    env.close()
    raw = make_env(ENV, atari_preprocessing=False)
    assert raw.observation_space.shape == (210, 160, 3)
    raw.close()
    envs = make_vector_env(ENV, 2, "sync")
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (2, 4, 84, 84) and obs.dtype == np.uint8
    envs.close()


@pytest.mark.parametrize("kind,units", [("trpo", 20), ("nature", 512)])
def test_image_networks_take_both_channel_layouts(kind, units):
    first = ImageTrunk((4, 84, 84), kind)
    last = ImageTrunk((210, 160, 3), kind)
    assert not first.channels_last and last.channels_last
    assert first(torch.randint(0, 256, (5, 4, 84, 84), dtype=torch.uint8)).shape == (5, units)
    assert last(torch.randint(0, 256, (2, 3, 210, 160, 3), dtype=torch.uint8)).shape == (2, 3, units)
    with pytest.raises(ValueError, match="too small"):
        ImageTrunk((4, 8, 8), kind)
    space = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    actor = make_actor(space, gym.spaces.Discrete(6), (64, 64), cnn=kind)
    critic = make_critic(space, (64, 64), cnn=kind)
    x = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
    assert actor.dist_params(x)[0].shape == (3, 6) and critic(x).shape == (3,)
    assert not any(a is b for a in actor.parameters() for b in critic.parameters())  # separate networks


def test_cnn_gauss_newton_fvp_equals_the_hessian_of_the_mean_kl():
    """The autograd Gauss-Newton product through convolutions and ReLUs against the independent
    double-backward Hessian of the mean KL (float64)."""
    torch.manual_seed(0)
    space = gym.spaces.Box(0, 255, (2, 22, 22), np.uint8)
    actor = make_actor(space, gym.spaces.Discrete(4), (), cnn="trpo").double()
    obs = torch.randint(0, 256, (16, 2, 22, 22), dtype=torch.uint8)
    params = list(actor.parameters())
    with torch.no_grad():
        old = actor.dist_params(obs)
    gn = gauss_newton_fvp(lambda: actor.dist_params(obs), actor.kl, old, params, 0.0)
    hess = fisher_vector_product(actor.kl(old, actor.dist_params(obs)).mean(), params, 0.0)
    for _ in range(3):
        v = torch.randn(sum(p.numel() for p in params), dtype=torch.float64)
        torch.testing.assert_close(gn(v), hess(v), rtol=1e-8, atol=1e-10)


def test_snapshot_of_the_wrapped_env_restores_frames_and_stack():
    # ALE cannot save the last sticky action: sticky actions off
    _roundtrip(ENV, warmup=30, horizon=40, repeat_action_probability=0.0)


def test_a_short_trpo_run_on_pong(tmp_path):
    cfg = trpo.Config(env_id=ENV, total_steps=128, batch_steps=64, num_envs=2, eval_episodes=1,
                      eval_periodic_episodes=0)  # one Pong episode is ~800 steps: the final evaluation only
    res = trpo.train(cfg, run_dir=tmp_path / "pong", progress=False)
    assert res.summary["total_steps"] >= 128 and res.summary["final_eval_return_mean"] >= -21
    agent = trpo.load(tmp_path / "pong")
    frame = make_env(ENV).reset(seed=0)[0]
    assert 0 <= int(agent.act(frame)) < 6
    saved = trpo.load_toml(tmp_path / "pong" / "config.toml")
    assert saved.cnn == "trpo" and saved.atari_preprocessing

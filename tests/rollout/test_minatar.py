"""MinAtar out of the box: the ids, the grids as uint8 images, the MinAtar paper's network,
snapshots (vine, exact resume), the preset, and smoke runs of trpo (single path and vine)."""
import gymnasium as gym
import numpy as np
import pytest
import torch

pytest.importorskip("minatar")

import trpo  # noqa: E402
from trpo.nets.policies import ImageTrunk, image_spec, make_actor, make_critic  # noqa: E402
from trpo.envs.ids import is_atari, is_minatar, lookup  # noqa: E402
from trpo.envs.make import check_env, make_env, make_vector_env  # noqa: E402
from trpo.envs.snapshot import supports  # noqa: E402
from tests.rollout.test_snapshot import _roundtrip  # noqa: E402

GAMES = {"Asterix": (4, 5), "Breakout": (4, 3), "Freeway": (7, 3), "Seaquest": (10, 6), "SpaceInvaders": (6, 4)}


@pytest.mark.parametrize("game", sorted(GAMES))
def test_every_game_is_a_uint8_channels_first_image(game):
    env_id = f"MinAtar/{game}-v1"
    assert lookup(env_id) == env_id and is_minatar(env_id) and not is_atari(env_id)
    channels, n_actions = GAMES[game]
    env = make_env(env_id)
    assert env.observation_space == gym.spaces.Box(0, 255, (channels, 10, 10), np.uint8)
    assert env.action_space == gym.spaces.Discrete(n_actions)
    obs, _ = env.reset(seed=0)
    raw = env.unwrapped.game.state()  # bool (10, 10, C)
    assert obs.dtype == np.uint8 and set(np.unique(obs)) <= {0, 255}
    assert np.array_equal(obs, raw.transpose(2, 0, 1).astype(np.uint8) * 255)
    env.close()


def test_unknown_minatar_id_and_v0_ids():
    with pytest.raises(trpo.EnvError, match="did you mean 'MinAtar/Breakout-v1'"):
        lookup("MinAtar/Breakout-v2")
    env = make_env("MinAtar/Breakout-v0")  # all 6 actions
    assert env.action_space == gym.spaces.Discrete(6)
    env.close()


def test_env_checks_pass_and_runs_repeat():
    check_env("MinAtar/Seaquest-v1")
    runs = []
    for _ in range(2):
        envs = make_vector_env("MinAtar/Seaquest-v1", 2, "sync")
        obs, _ = envs.reset(seed=5)
        out = [obs]
        rng = np.random.default_rng(0)
        for _ in range(50):
            out.append(envs.step(rng.integers(0, 6, 2))[0])
        runs.append(np.stack(out))
        envs.close()
    assert np.array_equal(*runs)


def test_the_minatar_network_is_picked_for_small_grids():
    space = gym.spaces.Box(0, 255, (4, 10, 10), np.uint8)
    assert image_spec((4, 10, 10), "trpo") == image_spec((4, 10, 10), "nature") == "minatar"
    assert image_spec((4, 84, 84), "trpo") == "trpo" and image_spec((4, 84, 84), "nature") == "nature"
    assert image_spec((4, 84, 84), "minatar") == "minatar"
    actor = make_actor(space, gym.spaces.Discrete(3), (64, 64), cnn="trpo")
    critic = make_critic(space, (64, 64), cnn="minatar")
    for net in (actor.net[0], critic.net[0]):
        convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
        fcs = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
        assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [(16, (3, 3), (1, 1))]
        assert fcs[0].in_features == 16 * 8 * 8 and fcs[0].out_features == 128
    x = torch.randint(0, 2, (5, 4, 10, 10), dtype=torch.uint8) * 255
    assert actor.dist_params(x)[0].shape == (5, 3) and critic(x).shape == (5,)
    assert ImageTrunk((10, 10, 10), "minatar").channels_last is False  # Seaquest: (C, H, W)


@pytest.mark.parametrize("game", ["Breakout", "Seaquest", "Asterix"])
def test_snapshot_restores_the_game_and_its_random_state(game):
    env = make_env(f"MinAtar/{game}-v1")
    assert supports(env)
    env.close()
    _roundtrip(f"MinAtar/{game}-v1", warmup=15, horizon=60)


def test_auto_applies_the_minatar_preset():
    from trpo.resolve import resolve_run

    cfg, spec = resolve_run(trpo.Config(env_id="MinAtar/Breakout-v1"))
    assert cfg.preset == "minatar" and cfg.cnn == "minatar" and cfg.vector_mode == "sync"
    obs_space, _ = spec.spaces()
    assert obs_space.shape == (4, 10, 10)
    cfg, _ = resolve_run(trpo.Config(env_id="MinAtar/Breakout-v1", algo="ppo"))   # PPO's own preset
    assert cfg.preset == "minatar-ppo" and cfg.cnn == "minatar" and cfg.batch_steps == 1024


def test_smoke_run_ppo_with_its_preset(tmp_path):
    cfg = trpo.Config(env_id="MinAtar/Breakout-v1", algo="ppo", total_steps=2048, eval_episodes=2,
                      eval_periodic_episodes=0)
    res = trpo.train(cfg, run_dir=tmp_path / "ppo", progress=False)
    saved = trpo.load_toml(tmp_path / "ppo" / "config.toml")
    assert saved.preset == "minatar-ppo" and saved.cnn == "minatar"
    assert res.summary["total_steps"] >= 2048 and np.isfinite(res.summary["final_eval_return_mean"])


@pytest.mark.parametrize("sampler", ["single-path", "vine"])
def test_smoke_runs_trpo(tmp_path, sampler):
    cfg = trpo.Config(env_id="MinAtar/Breakout-v1", sampler=sampler, total_steps=3072, batch_steps=1024,
                      num_envs=4, eval_episodes=2, eval_periodic_episodes=0, preset="")
    res = trpo.train(cfg, run_dir=tmp_path / sampler, progress=False)
    s = res.summary
    assert s["total_steps"] >= 3072 and np.isfinite(s["final_eval_return_mean"])
    agent = trpo.load(tmp_path / sampler)
    obs = make_env("MinAtar/Breakout-v1").reset(seed=0)[0]
    assert 0 <= int(agent.act(obs)) < 3

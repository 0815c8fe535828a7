"""``vector_mode = "auto"`` picks the backend, and a run records the one it used."""
import pytest

import trpo
from trpo.resolve import resolve_vector_mode


def test_auto_picks_gymnasiums_own_envs():
    assert resolve_vector_mode("Hopper-v5", "auto") == "sync"  # the env the user named, not EnvPool's port
    assert resolve_vector_mode("Acrobot-v1", "auto") == "sync"         # classic control: sync is faster
    assert resolve_vector_mode("CartPole-v1", "auto") == "vector_entry_point"  # Gymnasium's numpy CartPole
    assert resolve_vector_mode("CartPole-v1", "auto", sampler="vine") == "sync"
    assert resolve_vector_mode("CartPole-v1", "auto", custom_env=True) == "sync"  # a user's env_fn
    import importlib.util

    explicit = ["sync", "async", "vector_entry_point"] + (["envpool"] if importlib.util.find_spec("envpool") else [])
    for mode in explicit:                                                    # explicit modes are kept
        assert resolve_vector_mode("Hopper-v5", mode) == mode


def test_auto_splits_the_costly_mujoco_envs_on_two_cores(monkeypatch):
    import trpo.system

    monkeypatch.setattr(trpo.system, "usable_cores", lambda: 2)
    for env in ("Hopper-v5", "Walker2d-v5", "Ant-v5", "Humanoid-v5", "Hopper-v4"):
        assert resolve_vector_mode(env, "auto", num_envs=2) == "split", env
    for env in ("HalfCheetah-v5", "Swimmer-v5", "InvertedPendulum-v5", "Reacher-v5"):  # split measured slower
        assert resolve_vector_mode(env, "auto", num_envs=2) == "sync", env
    assert resolve_vector_mode("Hopper-v5", "auto", num_envs=1) == "sync"                # nothing to split
    assert resolve_vector_mode("Hopper-v5", "auto", num_envs=2, backend="ray") == "sync"  # a worker is one core
    assert resolve_vector_mode("Hopper-v5", "auto", sampler="vine", num_envs=2) == "sync"
    assert resolve_vector_mode("Hopper-v5", "sync", num_envs=2) == "sync"                # what the user gave
    assert resolve_vector_mode("Ant-v5", "auto", num_envs=2, env_kwargs={"include_cfrc_ext_in_observation": False}) \
        == "split"                                                                       # split takes env kwargs
    monkeypatch.setattr(trpo.system, "usable_cores", lambda: 1)
    assert resolve_vector_mode("Hopper-v5", "auto", num_envs=2) == "sync"


def test_the_mujoco_preset_leaves_the_mode_to_auto(monkeypatch):
    import trpo.system
    from trpo.resolve import resolve_run

    monkeypatch.setattr(trpo.system, "usable_cores", lambda: 2)
    cfg, env = resolve_run(trpo.Config(env_id="Hopper-v5"))
    assert cfg.preset == "mujoco" and cfg.vector_mode == env.vector_mode == "split"
    assert "resolved" in cfg.provenance["vector_mode"]
    cfg, _ = resolve_run(trpo.Config(env_id="Hopper-v5", vector_mode="sync"))
    assert cfg.vector_mode == "sync"
    cfg, _ = resolve_run(trpo.Config(env_id="HalfCheetah-v5"))
    assert cfg.vector_mode == "sync"
    for algo in ("trpo", "ppo", "a2c"):  # Ant's presets leave the contact forces out (env_kwargs)
        cfg, _ = resolve_run(trpo.Config(env_id="Ant-v5", algo=algo))
        assert cfg.env_kwargs and cfg.vector_mode == "split", algo
        cfg, _ = resolve_run(trpo.Config(env_id="Hopper-v5", algo=algo))
        assert cfg.vector_mode == "split", algo


def test_unknown_env_is_a_clear_error():
    with pytest.raises(trpo.EnvError, match="unknown environment"):
        resolve_vector_mode("CartPol-v1", "auto")


def test_run_records_the_resolved_mode(tmp_path):
    cfg = trpo.Config(env_id="CartPole-v1", total_steps=64, num_envs=2, batch_steps=64, eval_episodes=1)
    assert cfg.vector_mode == "auto"
    trpo.train(cfg, run_dir=tmp_path / "r", progress=False)
    saved = trpo.load_toml(tmp_path / "r" / "config.toml")
    assert saved.vector_mode == "vector_entry_point"


def test_envpool_without_envpool_falls_back_with_a_note(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "envpool" else real(name, *a))
    assert resolve_vector_mode("Hopper-v5", "envpool") == "sync"
    assert "pip install 'trpo[envpool]'" in capsys.readouterr().err

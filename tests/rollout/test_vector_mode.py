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

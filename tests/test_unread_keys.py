"""A key the caller gave that the run's algorithm never reads is said in one line, not dropped
silently: ``trpo.algos.LEARNER_KEYS`` against what short runs of every algorithm read, and the note
itself."""
import os
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch

import trpo
from trpo import Config
from trpo.algos import ALGOS, LEARNER_KEYS
from trpo.algos.a3c import worker_gradients
from trpo.config import FIELDS
from trpo.nets.factory import make_networks
from trpo.resolve import describe_unread, unread_keys
from trpo.rollout import Batch

# the code that learns: a learner, its math, its sampler's workers (a3c's gradients are computed there)
LEARNING_CODE = tuple(os.sep + os.path.join("trpo", d) + os.sep for d in ("algos", "functional", "rollout"))


def _networks(discrete: bool):
    obs = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
    act = gym.spaces.Discrete(2) if discrete else gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    actor, critic, _ = make_networks(Config(), obs, act, torch.device("cpu"))
    return actor, critic


def _batch(discrete: bool, T: int = 8, N: int = 2) -> Batch:
    g = torch.Generator().manual_seed(0)
    actions = torch.randint(0, 2, (T, N), generator=g) if discrete else torch.randn(T, N, 1, generator=g)
    return Batch(obs=torch.randn(T, N, 3, generator=g), actions=actions, rewards=torch.rand(T, N, generator=g),
                 terminated=torch.zeros(T, N, dtype=torch.bool), truncated=torch.zeros(T, N, dtype=torch.bool),
                 last_obs=torch.randn(N, 3, generator=g), final_obs=torch.zeros(0, 3),
                 final_idx=torch.zeros(0, dtype=torch.long), env_steps=T * N)


def _record_reads(tmp_path, monkeypatch) -> dict[str, set[str]]:
    """Train every algorithm briefly on CartPole-v1 and Pendulum-v1 and record which config keys the
    learning code reads, per algorithm. Reads are appended to a file, so that forked workers (a3c's)
    are heard too."""
    log = tmp_path / "reads.log"
    original = Config.__getattribute__
    current = {"algo": ""}

    def recording(self, name):
        if name in FIELDS and current["algo"]:
            caller = sys._getframe(1).f_code.co_filename
            if any(d in caller for d in LEARNING_CODE):
                with open(log, "a") as f:
                    f.write(f"{current['algo']} {name}\n")
        return original(self, name)

    monkeypatch.setattr(Config, "__getattribute__", recording)
    for algo in ALGOS:
        for env in ("CartPole-v1", "Pendulum-v1"):
            current["algo"] = algo
            kw = dict(env_id=env, algo=algo, total_steps=1024, batch_steps=512, num_envs=2, eval_episodes=1,
                      eval_periodic_episodes=0, warnings=False, check_env=False, preset="")
            if algo == "a3c":
                kw.update(sampler="async", workers=2)
            trpo.train(Config(**kw), run_dir=tmp_path / f"{algo}-{env}", progress=False)
            current["algo"] = ""
    # a3c's workers are Ray actors (processes of their own): their gradient step, here in-process
    current["algo"] = "a3c"
    for discrete in (True, False):
        worker_gradients(*_networks(discrete), _batch(discrete), Config(algo="a3c", sampler="async"))
    current["algo"] = ""
    reads: dict[str, set[str]] = {}
    for line in log.read_text().splitlines():
        algo, key = line.split()
        reads.setdefault(key, set()).add(algo)
    return reads


def test_the_table_is_what_each_algorithm_reads(tmp_path, monkeypatch):
    reads = _record_reads(tmp_path, monkeypatch)
    for key, readers in LEARNER_KEYS.items():
        assert set(readers) <= set(ALGOS), key
        # every algorithm said to read it does, and no other: no false note, no missed one
        assert reads.get(key, set()) == set(readers), (key, sorted(reads.get(key, set())), readers)


def test_a_given_key_the_run_does_not_read_is_said_and_kept(tmp_path, capsys, monkeypatch):
    from trpo import trainer
    monkeypatch.setattr(trainer, "_SAID", set())  # said once per process: from a clean slate here
    cfg = Config(env_id="CartPole-v1", algo="trpo", clip_range=0.1, epochs=3, cg_iters=5, log_std_init=-1.0,
                 total_steps=512, batch_steps=512, eval_episodes=1, eval_periodic_episodes=0)
    assert list(unread_keys(cfg)) == ["epochs", "clip_range"]  # cg_iters is trpo's
    assert list(unread_keys(cfg, image=False, gaussian=False)) == ["log_std_init", "epochs", "clip_range"]
    trpo.train(cfg, run_dir=tmp_path / "run", progress=False)
    out = capsys.readouterr().out
    line = [x for x in out.splitlines() if x.startswith("note: given, but not read by this run")]
    assert line == [describe_unread(cfg, image=False, gaussian=False)]
    assert "epochs (algo 'trpo' does not read it; ppo-kl, ppo do)" in line[0]
    assert "log_std_init (discrete actions: no Gaussian)" in line[0] and "cg_iters" not in line[0]
    trpo.train(cfg, run_dir=tmp_path / "again", progress=False)  # the same keys again (trpo tune's trials)
    assert "note: given" not in capsys.readouterr().out
    text = (tmp_path / "run" / "config.toml").read_text()
    assert "clip_range = 0.1" in text and "epochs = 3" in text and "log_std_init = -1.0" in text  # as given
    # nothing given that it does not read: no note; a preset's keys and defaults are not the user's
    assert describe_unread(Config(env_id="CartPole-v1", algo="ppo", clip_range=0.1, epochs=3)) is None
    assert describe_unread(Config(env_id="Hopper-v5", algo="trpo"), image=False, gaussian=True) is None
    assert list(unread_keys(Config(algo="pg-l2", lr=1e-3))) == ["lr"]  # pg-l2 steps by pg_l2_eps
    assert list(unread_keys(Config(algo="reinforce", gae_lambda=0.9))) == ["gae_lambda"]
    # a run's config.toml lists every key: replayed, it says the keys its run's caller chose, not
    # the defaults and presets it recorded (max_kl here: trpo reads it; ortho_init: every run does)
    replay = trpo.load_toml(tmp_path / "run" / "config.toml")
    assert list(unread_keys(replay)) == ["epochs", "clip_range"]
    assert "vine_actions" in replay.given and "cg_iters" in replay.given
    assert replay.sources["vine_actions"].endswith("(its run's default)")  # unread, but the run's, not a person's
    ppo_replay = trpo.load_toml(tmp_path / "run" / "config.toml").replace(algo="ppo")
    assert "cg_iters" in unread_keys(ppo_replay) and "vine_actions" not in unread_keys(ppo_replay)
    # a config file a person wrote: every key is theirs (trpo train --config my.toml)
    (tmp_path / "mine.toml").write_text('env_id = "CartPole-v1"\nclip_range = 0.3\nmax_kl = 0.02\n')
    mine = trpo.load_toml(tmp_path / "mine.toml")
    assert unread_keys(mine) == {"clip_range": "algo 'trpo' does not read it; ppo-kl, ppo do"}
    # the networks: an MLP's keys on images, the CNN's on vectors; a recurrent policy on images reads hidden
    mlp_keys = Config(hidden=(32,), activation="relu", cnn="nature")
    assert list(unread_keys(mlp_keys, image=True)) == ["hidden", "activation"]
    assert list(unread_keys(mlp_keys, image=False)) == ["cnn"]
    assert list(unread_keys(mlp_keys.replace(policy="gru"), image=True)) == []


def test_the_recurrent_vine_and_ray_keys_are_unread_by_a_local_mlp_single_path_run(tmp_path):
    """The claim behind those notes: the same run with and without them, metric for metric."""
    import csv
    base = dict(env_id="CartPole-v1", algo="trpo", total_steps=2048, batch_steps=512, num_envs=2, eval_episodes=1,
                eval_periodic_episodes=0, warnings=False, preset="")
    extra = dict(rnn_hidden=8, seq_len=7, vine_actions=3, vine_branch_length=5, vine_trunk_fraction=0.3,
                 vine_rollout_states=4, workers=3, ray_address="127.0.0.1:1", worker_timeout_s=5.0,
                 max_worker_failures=1)
    assert list(unread_keys(Config(**base, **extra))) == sorted(extra, key=list(FIELDS).index)
    assert list(unread_keys(Config(algo="a3c", sampler="async", workers=3, worker_timeout_s=5.0))) == ["workers"]
    rows = []
    for name, kw in (("plain", base), ("given", {**base, **extra})):
        trpo.train(Config(**kw), run_dir=tmp_path / name, progress=False)
        with open(tmp_path / name / "metrics.csv") as f:
            rows.append([{k: v for k, v in r.items() if k not in ("wall_s", "fps")} for r in csv.DictReader(f)])
    assert rows[0] == rows[1] and len(rows[0]) == 4


def test_the_network_keys_are_unread_with_own_networks(tmp_path):
    """With one's own actor and critic the built-in networks' keys build nothing: the same run with
    and without them, metric for metric; with only one's own actor, hidden still builds the critic."""
    import csv

    def own(seed=0):
        torch.manual_seed(seed)
        return (torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2)),
                torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)))
    base = dict(env_id="CartPole-v1", algo="a2c", total_steps=1024, batch_steps=256, num_envs=2, eval_episodes=1,
                eval_periodic_episodes=0, warnings=False, preset="")
    extra = dict(hidden=(8,), actor_hidden=(9,), critic_hidden=(7,), activation="relu", ortho_init=False, cnn="nature")
    assert list(unread_keys(Config(**base, **extra), own=(True, True))) == list(extra)
    assert list(unread_keys(Config(**base, **extra), own=(True, False))) == ["actor_hidden"]
    rows = []
    for name, kw in (("plain", base), ("given", {**base, **extra})):
        actor, critic = own()
        trpo.train(Config(**kw), run_dir=tmp_path / name, progress=False, actor=actor, critic=critic)
        with open(tmp_path / name / "metrics.csv") as f:
            rows.append([{k: v for k, v in r.items() if k not in ("wall_s", "fps")} for r in csv.DictReader(f)])
    assert rows[0] == rows[1] and len(rows[0]) == 4


def test_the_mlp_keys_on_images_are_unread_indeed():
    """The claim behind the image note: on image observations hidden and activation build the same
    networks as the defaults (a CNN trunk, then one linear layer)."""
    from trpo.nets.policies import flat_params
    frames, act = gym.spaces.Box(0, 255, (4, 10, 10), np.uint8), gym.spaces.Discrete(3)
    nets = []
    for cfg in (Config(), Config(hidden=(7, 5), activation="relu")):
        torch.manual_seed(0)
        nets.append(make_networks(cfg, frames, act, torch.device("cpu"))[:2])
    for a, b in zip(*nets):
        assert str(a) == str(b) and torch.equal(flat_params(a), flat_params(b))


@pytest.mark.parametrize("algo", sorted(ALGOS))
def test_every_listed_key_is_a_config_key(algo):
    assert set(LEARNER_KEYS) <= set(FIELDS)
    assert unread_keys(Config(algo=algo), image=True, gaussian=False) == {}  # nothing given, nothing to say


def _metrics(run_dir):
    import csv
    with open(run_dir / "metrics.csv") as f:
        return [{k: v for k, v in r.items() if k not in ("wall_s", "fps")} for r in csv.DictReader(f)]


def test_the_env_and_normaliser_keys_are_unread_where_said(tmp_path, capsys, monkeypatch):
    """atari_preprocessing off an ALE id, clip_obs with normalize_obs off: the notes, and the claim
    behind them (the same run with and without the keys, metric for metric)."""
    from trpo import trainer
    monkeypatch.setattr(trainer, "_SAID", set())
    base = dict(env_id="CartPole-v1", algo="trpo", total_steps=1024, batch_steps=256, num_envs=2, eval_episodes=1,
                eval_periodic_episodes=0, warnings=False, preset="", normalize_obs=False)
    extra = dict(clip_obs=0.5, atari_preprocessing=False)  # 0.5 would cut CartPole's observations if read
    assert list(unread_keys(Config(**base, **extra), atari=False)) == ["clip_obs", "atari_preprocessing"]
    assert list(unread_keys(Config(**base, **extra), atari=True)) == ["clip_obs"]  # an ALE id reads it
    assert list(unread_keys(Config(**{**base, "normalize_obs": True}, **extra))) == []  # atari unknown: not said
    for name, kw in (("plain", base), ("given", {**base, **extra})):
        trpo.train(Config(**kw), run_dir=tmp_path / name, progress=False)
    assert _metrics(tmp_path / "plain") == _metrics(tmp_path / "given")
    out = capsys.readouterr().out
    assert "clip_obs (normalize_obs is off" in out and "atari_preprocessing (not an ALE env" in out
    # with normalize_obs on, clip_obs is read: the same keys change the run
    on = {**base, "normalize_obs": True}
    trpo.train(Config(**on), run_dir=tmp_path / "on", progress=False)
    trpo.train(Config(**on, clip_obs=0.5), run_dir=tmp_path / "on-clipped", progress=False)
    assert _metrics(tmp_path / "on") != _metrics(tmp_path / "on-clipped")
    assert "clip_obs" not in capsys.readouterr().out


def test_the_normaliser_keys_are_unread_on_images(tmp_path):
    pytest.importorskip("minatar")
    base = dict(env_id="MinAtar/Breakout-v1", algo="ppo", total_steps=512, batch_steps=128, num_envs=2,
                eval_episodes=1, eval_periodic_episodes=0, warnings=False, preset="", cnn="minatar")
    extra = dict(normalize_obs=False, clip_obs=0.5)
    assert list(unread_keys(Config(**base, **extra), image=True)) == ["normalize_obs", "clip_obs"]
    assert list(unread_keys(Config(**base, normalize_obs=True, clip_obs=0.5), image=False)) == ["cnn"]
    for name, kw in (("plain", base), ("given", {**base, **extra})):
        trpo.train(Config(**kw), run_dir=tmp_path / name, progress=False)
    assert _metrics(tmp_path / "plain") == _metrics(tmp_path / "given")

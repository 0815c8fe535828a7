"""shared_trunk: PPO's actor and critic read one CNN trunk (CleanRL's ppo_atari network), trained by
the joint loss; saved, loaded and resumed as one module; refused where it cannot mean that."""
import gymnasium as gym
import numpy as np
import pytest
import torch

import trpo
from trpo import Config, ConfigError
from trpo.agent import Agent
from trpo.algos.ppo import PPO
from trpo.checkpoint import load_checkpoint, save_checkpoint, unshared
from trpo.config import from_dict
from trpo.nets.factory import make_networks

CPU = torch.device("cpu")
FRAMES = gym.spaces.Box(0, 255, (1, 36, 36), np.uint8)


class Bright(gym.Env):
    """Random 36x36 frames; the reward is the frame's mean brightness (a value the trunk must see)."""

    observation_space = FRAMES
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._obs = self.np_random.integers(0, 256, (1, 36, 36), dtype=np.uint8)
        return self._obs, {}

    def step(self, a):
        r = float(self._obs.mean()) / 255.0
        self._obs = self.np_random.integers(0, 256, (1, 36, 36), dtype=np.uint8)
        return self._obs, r, False, False, {}


gym.register("SharedTrunkFrames-v0", entry_point=Bright, max_episode_steps=40)


def _cfg(**kw):
    base = {"env_id": "SharedTrunkFrames-v0", "algo": "ppo", "shared_trunk": True, "total_steps": 512, "num_envs": 2,
            "batch_steps": 256, "minibatch_size": 64, "check_env": False, "warnings": False, "eval_episodes": 1,
            "eval_periodic_episodes": 0}
    return Config(**{**base, **kw})


def test_one_trunk_in_both_networks_and_once_in_the_optimiser():
    actor, critic, _ = make_networks(Config(algo="ppo", shared_trunk=True), FRAMES, gym.spaces.Discrete(3), CPU)
    assert critic.net[0] is actor.net[0]
    trunk = {id(p) for p in actor.net[0].parameters()}
    assert trunk and trunk <= {id(p) for p in critic.parameters()}
    opt = PPO(actor, critic, Config(algo="ppo", shared_trunk=True, lr=1e-3), CPU).opt
    params = opt.param_groups[0]["params"]
    assert len(params) == len({id(p) for p in params}) == len(list(actor.parameters())) + 2  # + the value head
    separate_actor, separate_critic, _ = make_networks(Config(algo="ppo"), FRAMES, gym.spaces.Discrete(3), CPU)
    assert separate_critic.net[0] is not separate_actor.net[0]
    assert not {id(p) for p in separate_actor.parameters()} & {id(p) for p in separate_critic.parameters()}


def test_train_saves_loads_and_resumes_one_trunk(tmp_path):
    torch.manual_seed(0)
    fresh, _, _ = make_networks(_cfg(), FRAMES, gym.spaces.Discrete(2), CPU)
    trpo.train(_cfg(), run_dir=tmp_path / "run", progress=False)
    agent = Agent.load(tmp_path / "run")
    assert agent.critic.net[0] is agent.actor.net[0]  # loaded as one module again
    state, _ = load_checkpoint(tmp_path / "run")
    a = {k: v for k, v in state["agent"]["actor"].items() if k.startswith("net.0.")}
    c = {k: v for k, v in state["agent"]["critic"].items() if k.startswith("net.0.")}
    assert a.keys() == c.keys() and all(torch.equal(a[k], c[k]) for k in a)  # saved under both names, equal
    assert not all(torch.equal(p, q) for p, q in zip(fresh.net[0].parameters(), agent.actor.net[0].parameters()))
    # the optimiser holds each parameter once: its state has one entry per unique tensor
    n_unique = len({id(p) for p in (*agent.actor.parameters(), *agent.critic.parameters())})
    assert len(state["learner"]["opt"]["state"]) == n_unique
    trpo.train(Config(total_steps=1024), resume=tmp_path / "run", progress=False)
    again = Agent.load(tmp_path / "run")
    assert again.critic.net[0] is again.actor.net[0]
    assert not all(torch.equal(p, q) for p, q in zip(agent.actor.net[0].parameters(), again.actor.net[0].parameters()))


def test_the_value_loss_reaches_the_policys_features():
    """With one trunk the critic's loss moves the features the policy reads; with two it cannot."""
    def trunk_grad(shared: bool) -> float:
        torch.manual_seed(0)
        actor, critic, _ = make_networks(Config(algo="ppo", shared_trunk=shared), FRAMES, gym.spaces.Discrete(2), CPU)
        x = torch.randint(0, 256, (16, 1, 36, 36), dtype=torch.uint8)
        critic(x).pow(2).mean().backward()  # a value loss alone
        return sum(float(p.grad.abs().sum()) for p in actor.net[0].parameters() if p.grad is not None)
    assert trunk_grad(True) > 0 and trunk_grad(False) == 0


def test_refused_where_it_cannot_mean_one_trunk(tmp_path):
    for algo in ("trpo", "npg", "a2c", "reinforce"):
        with pytest.raises(ConfigError, match="shared_trunk"):
            from_dict({"algo": algo, "shared_trunk": True})
    with pytest.raises(ConfigError, match="recurrent"):
        from_dict({"algo": "ppo", "shared_trunk": True, "policy": "gru"})
    with pytest.raises(ConfigError, match="not images"):  # CartPole's vector observations
        trpo.train(Config(algo="ppo", shared_trunk=True, total_steps=256), run_dir=tmp_path / "cp", progress=False)
    own = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(1))
    with pytest.raises(ConfigError, match="own networks"):
        trpo.train(_cfg(), run_dir=tmp_path / "own", critic=own, progress=False)
    with pytest.raises(ValueError, match="own networks"):  # nets/ raises ValueError; the Agent makes it a ConfigError
        make_networks(Config(algo="ppo", shared_trunk=True), FRAMES, gym.spaces.Discrete(2), CPU, critic=own)


def test_checkpoint_tensors_that_share_memory(tmp_path):
    w = torch.arange(6.0)
    t = {"a": w, "b": w, "c": w[2:], "d": torch.ones(2)}
    out = unshared(t)
    assert out["a"] is w and out["d"] is t["d"]  # the first user of a memory and unshared ones: as they are
    assert out["b"] is not w and torch.equal(out["b"], w) and torch.equal(out["c"], w[2:])
    save_checkpoint(tmp_path, 1, {"x": {"a": w, "b": w}}, {})
    state, _ = load_checkpoint(tmp_path / "ckpt-000001.json")
    assert torch.equal(state["x"]["a"], w) and torch.equal(state["x"]["b"], w)


def _frames_batch(T=32, N=2, seed=0):
    from trpo.rollout import Batch
    g = torch.Generator().manual_seed(seed)
    frames = lambda *s: torch.randint(0, 256, (*s, 1, 36, 36), generator=g, dtype=torch.uint8)  # noqa: E731
    terminated = torch.zeros(T, N, dtype=torch.bool)
    terminated[7, 0] = True
    return Batch(obs=frames(T, N), actions=torch.randint(0, 3, (T, N), generator=g), rewards=torch.rand(T, N, generator=g),
                 terminated=terminated, truncated=torch.zeros(T, N, dtype=torch.bool), last_obs=frames(N),
                 final_obs=frames(0), final_idx=torch.zeros(0, dtype=torch.long), env_steps=T * N)


@pytest.mark.parametrize("algo", ["ppo", "ppo-kl"])
def test_one_trunk_pass_per_minibatch_is_the_two_pass_update(algo):
    """The features computed once for both heads (CleanRL's forward) give the update that running
    the trunk once per network gives: the same loss function, so the same parameters after an
    update, up to floating-point order."""
    from trpo.algos import get_learner
    from trpo.nets.policies import actor_critic_forward, shared_trunk_of
    cfg = Config(algo=algo, shared_trunk=True, lr=1e-3, epochs=2, minibatch_size=16, batch_steps=64, num_envs=2)
    out = []
    for one_pass in (True, False):
        torch.manual_seed(0)
        actor, critic, _ = make_networks(cfg, FRAMES, gym.spaces.Discrete(3), CPU)
        learner = get_learner(algo)(actor, critic, cfg, CPU)
        assert learner.trunk is shared_trunk_of(actor, critic) is actor.net[0]
        if not one_pass:
            learner.trunk = None  # each network runs the trunk itself
        torch.manual_seed(1)  # the minibatches' order
        stats = learner.update(_frames_batch())
        out.append((torch.cat([p.detach().flatten() for p in dict.fromkeys([*actor.parameters(),
                                                                              *critic.parameters()])]), stats))
    (one, s1), (two, s2) = out
    torch.manual_seed(0)
    a0, c0, _ = make_networks(cfg, FRAMES, gym.spaces.Discrete(3), CPU)
    start = torch.cat([p.detach().flatten() for p in dict.fromkeys([*a0.parameters(), *c0.parameters()])])
    moved = float((one - start).abs().max())
    assert moved > 1e-4  # the update moved the networks ...
    assert float((one - two).abs().max()) < 1e-3 * moved  # ... and the two paths moved them alike
    for key in ("kl", "entropy", "value_loss", "clip_fraction"):  # pi_old, V_old and the closing statistics too
        assert s1[key] == pytest.approx(s2[key], rel=1e-3, abs=1e-7), key
    # the frozen quantities row by row: GAE's advantages and targets, pi_old and V_old (the pass over
    # every frame GAE values, sliced to the batch's steps, against each network on the rows)
    learner = get_learner(algo)(a0, c0, cfg, CPU)
    one_pass = learner.frozen(_frames_batch())
    learner.trunk = None
    two_pass = learner.frozen(_frames_batch())
    flat = lambda xs: [t for x in xs for t in (x if isinstance(x, tuple) else (x,))]  # noqa: E731
    for x, y in zip(flat(one_pass), flat(two_pass), strict=True):
        assert x.shape == y.shape and torch.allclose(x.float(), y.float(), atol=1e-5)
    # and the forward itself: the same outputs as each network's own
    x = torch.randint(0, 256, (5, 1, 36, 36), dtype=torch.uint8)
    (logits,), v = actor_critic_forward(a0, c0, x, x, shared_trunk_of(a0, c0))
    assert torch.allclose(logits, a0.dist_params(x)[0], atol=1e-6) and torch.allclose(v, c0(x), atol=1e-6)
    separate_actor, separate_critic, _ = make_networks(Config(algo="ppo"), FRAMES, gym.spaces.Discrete(3), CPU)
    assert shared_trunk_of(separate_actor, separate_critic) is None

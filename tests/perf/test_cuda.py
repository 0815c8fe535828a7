"""The update on a GPU (``--device cuda``): these run only where torch sees a CUDA device (no GPU on
this project's CI machines); each compares the GPU's result with the CPU's, so it can fail there."""
import pytest
import torch

import trpo
from trpo.optim import FusedAdam

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
@pytest.mark.parametrize("algo", ["trpo", "ppo", "a2c"])
@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_training_runs_on_cuda(tmp_path, algo, env_id):
    cfg = trpo.Config(env_id=env_id, algo=algo, total_steps=2048, batch_steps=512, eval_episodes=1, device="cuda")
    res = trpo.train(cfg, run_dir=tmp_path / "r", progress=False)
    assert all(p.device.type == "cuda" for p in res.agent.actor.parameters())
    assert res.summary["total_steps"] >= 2048
    assert trpo.load_toml(tmp_path / "r" / "config.toml").critic_fit == "inline"  # the helper is CPU-only


@cuda
def test_fused_adam_on_cuda_matches_the_cpu():
    g = torch.Generator().manual_seed(0)
    cpu = [torch.randn(16, 8, generator=g).requires_grad_()]
    gpu = [cpu[0].detach().cuda().requires_grad_()]
    a, b = FusedAdam(cpu, lr=1e-2), FusedAdam(gpu, lr=1e-2)
    for _ in range(20):
        grad = torch.randn(16, 8, generator=g)
        cpu[0].grad, gpu[0].grad = grad, grad.cuda()
        a.step()
        b.step()
    torch.testing.assert_close(gpu[0].cpu(), cpu[0], rtol=1e-5, atol=1e-6)


@cuda
def test_written_out_fvp_on_cuda_matches_the_cpu():
    from trpo.algos.trust_region import written_out_fvp
    from trpo.nets.policies import GaussianActor

    torch.manual_seed(0)
    actor = GaussianActor(11, 3, (64, 64))
    obs = torch.randn(512, 11)
    v = torch.randn(sum(p.numel() for p in actor.parameters()))
    with torch.no_grad():
        want = written_out_fvp(actor, obs, actor.dist_params(obs), 0.1)(v)
        actor.cuda()
        got = written_out_fvp(actor, obs.cuda(), actor.dist_params(obs.cuda()), 0.1)(v.cuda())
    torch.testing.assert_close(got.cpu(), want, rtol=1e-4, atol=1e-5)


@cuda
def test_atari_cnn_training_runs_on_cuda(tmp_path):
    pytest.importorskip("ale_py")
    pytest.importorskip("cv2")
    cfg = trpo.Config(env_id="ALE/Pong-v5", total_steps=256, batch_steps=128, num_envs=2, eval_episodes=1,
                      device="cuda")
    res = trpo.train(cfg, run_dir=tmp_path / "pong", progress=False)
    assert all(p.device.type == "cuda" for p in res.agent.critic.parameters())
    assert res.summary["total_steps"] >= 256


@cuda
def test_shared_trunk_ppo_on_cuda_matches_the_cpu():
    """PPO with one CNN trunk for both heads (the atari-ppo network) on the GPU: the frozen rows of an
    update (GAE's advantages and targets from the one pass, pi_old, V_old) as on the CPU, and a whole
    update runs there and moves the networks. (Whole updates are not compared: the minibatches'
    permutation comes from another generator on the GPU.)"""
    import gymnasium as gym
    import numpy as np

    from trpo.algos.ppo import PPO
    from trpo.nets.factory import make_networks
    from trpo.rollout import Batch

    frames, acts = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8), gym.spaces.Discrete(6)
    cfg = trpo.Config(algo="ppo", cnn="nature", shared_trunk=True, lr=2.5e-4, epochs=2, minibatch_size=64,
                      batch_steps=128, num_envs=2)
    g = torch.Generator().manual_seed(0)
    T, N = 64, 2
    batch = Batch(obs=torch.randint(0, 256, (T, N, 4, 84, 84), generator=g, dtype=torch.uint8),
                  actions=torch.randint(0, 6, (T, N), generator=g), rewards=torch.rand(T, N, generator=g),
                  terminated=torch.zeros(T, N, dtype=torch.bool), truncated=torch.zeros(T, N, dtype=torch.bool),
                  last_obs=torch.randint(0, 256, (N, 4, 84, 84), generator=g, dtype=torch.uint8),
                  final_obs=torch.zeros(0, 4, 84, 84, dtype=torch.uint8), final_idx=torch.zeros(0, dtype=torch.long),
                  env_steps=T * N)
    frozen = []
    for device in ("cpu", "cuda"):
        torch.manual_seed(0)
        actor, critic, _ = make_networks(cfg, frames, acts, torch.device(device))
        learner = PPO(actor, critic, cfg, torch.device(device))
        assert learner.trunk is actor.net[0]
        rows = learner.frozen(batch.to(torch.device(device)))
        frozen.append([t.cpu() for x in rows for t in (x if isinstance(x, tuple) else (x,))])
    for got, want in zip(frozen[1], frozen[0], strict=True):
        torch.testing.assert_close(got.float(), want.float(), rtol=1e-4, atol=1e-4)
    before = torch.cat([p.detach().flatten() for p in actor.parameters()]).clone()  # the cuda networks
    learner.update(batch)
    assert all(p.device.type == "cuda" for p in actor.parameters())
    assert not torch.equal(before, torch.cat([p.detach().flatten() for p in actor.parameters()]))

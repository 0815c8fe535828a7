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

"""The critic fit in a helper process (critic_fit = "process"): the same numbers as inline, the
helper's Adam state in checkpoints, clear errors when the helper fails, no process left behind."""
import os
import signal
import time

import pytest
import torch

from trpo import Config, train
from trpo.algos.common import adam, critic_permutations, fit_critic
from trpo.algos.critic_process import CriticFitProcess
from trpo.resolve import resolve_critic_fit
from trpo.errors import ConfigError, TrpoError
from trpo.nets.policies import Critic

from tests.algos.test_trpo_step import setup


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _params(agent):
    return [p.detach().clone() for p in [*agent.actor.parameters(), *agent.critic.parameters()]]


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_process_fit_is_bitwise_the_inline_fit_over_several_updates(env_id):
    """Same seed, same batches: every parameter and the critic's Adam state are bitwise equal."""
    results = {}
    for mode in ("inline", "process"):
        cfg, agent, learner, sampler = setup(env_id, critic_fit=mode)
        assert learner.critic_fit == mode
        try:
            losses = [learner.update(sampler.collect())["value_loss"] for _ in range(3)]
            assert (learner._helper is not None) == (mode == "process")
            learner.sync()  # process mode: the last fit may still be running
            results[mode] = (_params(agent), losses, learner.state_dict()["critic_opt"])
        finally:
            learner.close()
            sampler.envs.close()
    (p_in, l_in, opt_in), (p_pr, l_pr, opt_pr) = results["inline"], results["process"]
    assert all(torch.equal(a, b) for a, b in zip(p_in, p_pr))
    assert l_in == l_pr
    for k, st in opt_in["state"].items():
        for name, t in st.items():
            assert torch.equal(t, opt_pr["state"][k][name]), (k, name)


def test_helper_fit_matches_fit_critic_with_the_same_permutations():
    torch.manual_seed(0)
    obs, targets = torch.randn(300, 5), torch.randn(300)
    ref, mine = Critic(5), Critic(5)
    mine.load_state_dict(ref.state_dict())
    perms = critic_permutations(300, 3)
    ref_mse = fit_critic(ref, adam(ref.parameters(), 1e-3), obs, targets, 3, 64, perms=perms)
    helper = CriticFitProcess(mine, adam(mine.parameters(), 1e-3))
    try:
        helper.submit(obs, targets, perms, 3, 64)
        assert helper.result() == ref_mse
    finally:
        helper.close()
    assert all(torch.equal(a, b) for a, b in zip(ref.parameters(), mine.parameters()))
    assert not _alive(helper.pid)


def test_a_loaded_optimizer_state_reaches_the_helper_and_comes_back():
    torch.manual_seed(0)
    obs, targets = torch.randn(256, 4), torch.randn(256)
    src = Critic(4)
    src_opt = adam(src.parameters(), 1e-3)
    fit_critic(src, src_opt, obs, targets, 2, 64)  # a state with 8 Adam steps of moments
    state = src_opt.state_dict()
    ref, mine = Critic(4), Critic(4)
    ref_opt = adam(ref.parameters(), 1e-3)
    helper = CriticFitProcess(mine, adam(mine.parameters(), 1e-3))
    try:
        helper.submit(obs, targets, critic_permutations(256, 1), 1, 64)  # the helper's own state moves on
        helper.result()
        for m in (ref, mine):
            m.load_state_dict(src.state_dict())
        ref_opt.load_state_dict(state)
        helper.load_optimizer_state(state)
        perms = critic_permutations(256, 2)
        fit_critic(ref, ref_opt, obs, targets, 2, 64, perms=perms)
        helper.submit(obs, targets, perms, 2, 64)
        helper.result()
        assert all(torch.equal(a, b) for a, b in zip(ref.parameters(), mine.parameters()))
        got = helper.optimizer_state()
        for k, st in ref_opt.state_dict()["state"].items():
            assert float(got["state"][k]["step"]) == 16
            assert torch.equal(st["exp_avg_sq"], got["state"][k]["exp_avg_sq"])
    finally:
        helper.close()


def test_an_error_in_the_helper_is_one_clear_line():
    critic = Critic(3)
    helper = CriticFitProcess(critic, adam(critic.parameters(), 1e-3))
    try:
        helper.submit(torch.randn(10, 4), torch.randn(10), critic_permutations(10, 1), 1, 5)  # 4 != 3 inputs
        with pytest.raises(TrpoError, match="critic fit failed in its helper process: RuntimeError") as e:
            helper.result()
        assert "\n" not in str(e.value)
        helper.submit(torch.randn(10, 3), torch.randn(10), critic_permutations(10, 1), 1, 5)  # still serving
        assert helper.result() >= 0
    finally:
        helper.close()


def test_a_dead_helper_is_reported_not_waited_for():
    critic = Critic(3)
    helper = CriticFitProcess(critic, adam(critic.parameters(), 1e-3))
    os.kill(helper.pid, signal.SIGKILL)
    time.sleep(0.2)
    with pytest.raises(TrpoError, match="exited unexpectedly .*critic_fit=inline"):
        helper.submit(torch.randn(10, 3), torch.randn(10), critic_permutations(10, 1), 1, 5)
        helper.result()
    helper.close()


def test_the_helper_ignores_ctrl_c_the_parent_handles_it():
    critic = Critic(3)
    helper = CriticFitProcess(critic, adam(critic.parameters(), 1e-3))
    try:
        time.sleep(0.2)  # the helper has installed its handler
        os.kill(helper.pid, signal.SIGINT)
        helper.submit(torch.randn(10, 3), torch.randn(10), critic_permutations(10, 1), 1, 5)
        assert helper.result() >= 0
    finally:
        helper.close()


def test_a_training_run_records_the_mode_and_leaves_no_process(tmp_path, tiny_cfg, monkeypatch):
    import trpo.algos.critic_process as cp
    import trpo.system as system

    monkeypatch.setattr(system, "usable_cores", lambda: 2)
    pids = []
    orig = cp.CriticFitProcess.__init__

    def spy(self, *a, **kw):
        orig(self, *a, **kw)
        pids.append(self.pid)

    monkeypatch.setattr(cp.CriticFitProcess, "__init__", spy)
    res = train(tiny_cfg, tmp_path / "run", progress=False)
    assert 'critic_fit = "process"' in (res.run_dir / "config.toml").read_text()
    assert len(pids) == 1 and not _alive(pids[0])
    # a resume uses the recorded mode and forks a fresh helper that starts from the saved state
    res2 = train(tiny_cfg.replace(total_steps=1024), resume=res.run_dir, progress=False)
    assert res2.summary["total_steps"] == 1024
    assert len(pids) == 2 and not _alive(pids[1])


def test_resolution_rules(monkeypatch):
    import trpo.system as system

    monkeypatch.setattr(system, "usable_cores", lambda: 2)
    assert resolve_critic_fit("auto", "trpo", "cpu") == "process"
    assert resolve_critic_fit("auto", "npg", "cpu") == "process"
    assert resolve_critic_fit("auto", "ppo", "cpu") == "inline"
    assert resolve_critic_fit("auto", "trpo", "cuda") == "inline"
    assert resolve_critic_fit("inline", "trpo", "cpu") == "inline"
    monkeypatch.setattr(system, "usable_cores", lambda: 1)
    assert resolve_critic_fit("auto", "trpo", "cpu") == "inline"
    assert resolve_critic_fit("process", "trpo", "cpu") == "process"  # asked for: allowed, just not faster
    with pytest.raises(ConfigError, match="critic_fit.*ppo"):
        resolve_critic_fit("process", "ppo", "cpu")
    with pytest.raises(ConfigError, match="critic_fit.*GPU"):
        resolve_critic_fit("process", "trpo", "cuda")


def test_bad_value_is_a_config_error():
    from trpo.config import validate

    with pytest.raises(ConfigError, match="critic_fit"):
        validate(Config(critic_fit="thread"))


@pytest.mark.parametrize("mode", ["inline", "process"])
def test_value_loss_is_the_error_before_the_fit_and_sync_brings_the_fit_in(mode):
    from trpo.algos.common import gae_batch
    from trpo.nets.policies import flat_params

    cfg, agent, learner, sampler = setup("CartPole-v1", critic_fit=mode)
    try:
        learner.update(sampler.collect())
        batch = sampler.collect()
        learner.sync()
        before = flat_params(agent.critic).clone()
        with torch.no_grad():
            obs, _, _, _, targets = gae_batch(batch, agent.critic, cfg)
            expected = float((agent.critic(obs) - targets).pow(2).mean())
        stats = learner.update(batch)
        assert stats["value_loss"] == pytest.approx(expected, rel=1e-6)
        # process mode: the fit may still be running; after sync() the critic has moved either way
        learner.sync()
        assert not torch.equal(before, flat_params(agent.critic))
        if mode == "process":
            assert not learner._helper.pending
    finally:
        learner.close()
        sampler.envs.close()


def test_a_non_finite_fit_is_not_applied(monkeypatch):
    from trpo.errors import NonFiniteError

    critic = Critic(3)
    before = [p.detach().clone() for p in critic.parameters()]
    helper = CriticFitProcess(critic, adam(critic.parameters(), 1e-3))
    try:
        targets = torch.full((10,), float("nan"))
        helper.submit(torch.randn(10, 3), targets, critic_permutations(10, 1), 1, 5)
        with pytest.raises(NonFiniteError, match="critic parameters"):
            helper.result()
        assert all(torch.equal(a, b) for a, b in zip(before, critic.parameters()))
    finally:
        helper.close()


def test_a_second_submit_first_applies_the_pending_fit():
    """Two fits in a row without reading the first: the second starts from the first's result."""
    torch.manual_seed(4)
    obs, targets = torch.randn(64, 3), torch.randn(64)
    ref, mine = Critic(3), Critic(3)
    mine.load_state_dict(ref.state_dict())
    ref_opt = adam(ref.parameters(), 1e-3)
    helper = CriticFitProcess(mine, adam(mine.parameters(), 1e-3))
    try:
        p1, p2 = critic_permutations(64, 1), critic_permutations(64, 1)
        fit_critic(ref, ref_opt, obs, targets, 1, 16, perms=p1)
        fit_critic(ref, ref_opt, obs, targets, 1, 16, perms=p2)
        helper.submit(obs, targets, p1, 1, 16)
        helper.submit(obs, targets, p2, 1, 16)
        helper.result()
        assert all(torch.equal(a, b) for a, b in zip(ref.parameters(), mine.parameters()))
    finally:
        helper.close()


@pytest.mark.timeout(120)
def test_the_helper_fits_after_the_parent_ran_on_several_threads():
    """The helper is forked: a parent that ran OpenMP work on 2+ threads (torch_threads = 2) must
    not leave it hanging in its first fit (libgomp is not fork-safe; the helper runs one thread)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        torch.manual_seed(0)
        for _ in range(3):  # the parent's OpenMP pool in use before the fork
            torch.nn.functional.conv2d(torch.randn(64, 4, 84, 84), torch.randn(32, 4, 8, 8), stride=4).sum()
        critic = torch.nn.Sequential(torch.nn.Conv2d(4, 16, 8, stride=4), torch.nn.Flatten(),
                                     torch.nn.Linear(16 * 20 * 20, 1), torch.nn.Flatten(0))
        obs, targets = torch.randn(256, 4, 84, 84), torch.randn(256)
        helper = CriticFitProcess(critic, adam(critic.parameters(), 1e-3))
        try:
            helper.submit(obs, targets, critic_permutations(256, 2), 2, 64)
            assert helper.result() > 0
        finally:
            helper.close()
    finally:
        torch.set_num_threads(threads)

"""trpo.optim.FusedAdam against torch.optim.Adam(fused=True), the reference it must equal bitwise."""
import copy
import subprocess
import sys

import pytest
import torch

from trpo.optim import FusedAdam


def _params(seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(7, 5, generator=g).requires_grad_(), torch.randn(5, generator=g).requires_grad_(),
            torch.randn(3, generator=g).requires_grad_()]


def _grads(step, params):
    g = torch.Generator().manual_seed(1000 + step)
    out = [torch.randn(p.shape, generator=g) for p in params]
    if step % 3 == 1:
        out[2] = None  # a parameter without a gradient this step: skipped, as torch.optim.Adam does
    return out


def _step(opt, params, grads):
    opt.zero_grad(set_to_none=True)
    for p, g in zip(params, grads):
        p.grad = None if g is None else g.clone()
    opt.step()


@pytest.mark.parametrize("kw", [{}, {"eps": 1e-5, "weight_decay": 0.01, "betas": (0.8, 0.99)}])
def test_steps_bitwise_like_torch_optim_adam(kw):
    ours, ref = _params(0), _params(0)
    a = FusedAdam(ours, lr=3e-3, **kw)
    b = torch.optim.Adam(ref, lr=3e-3, fused=True, **kw)
    for t in range(40):
        if t == 20:  # a learning-rate schedule writes param_groups between steps
            a.param_groups[0]["lr"] = b.param_groups[0]["lr"] = 1e-3
        grads = _grads(t, ours)
        _step(a, ours, grads)
        _step(b, ref, grads)
    for p, q in zip(ours, ref):
        assert torch.equal(p, q)
    _assert_same_state(a, b)
    assert a.state_dict()["param_groups"][0]["params"] == b.state_dict()["param_groups"][0]["params"]


def _assert_same_state(a, b):
    """The two optimisers' per-parameter states are bitwise equal (step, exp_avg, exp_avg_sq)."""
    sa, sb = a.state_dict(), b.state_dict()
    assert sa["state"].keys() == sb["state"].keys()
    for i in sb["state"]:
        for k in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(sa["state"][i][k], sb["state"][i][k]), (i, k)


def _loaded_both_ways(ref, ref_p, **kw):
    """ref (a torch.optim.Adam over ref_p) stepped 5 times; a FusedAdam over a copy of ref_p with
    ref's live state loaded (copied, not shared); a fused torch.optim.Adam(lr=1e-2, **kw) over
    another copy with that FusedAdam's state loaded. Returns (ours, ours_p, back, back_p)."""
    for t in range(5):
        _step(ref, ref_p, _grads(t, ref_p))
    ours_p = [p.detach().clone().requires_grad_() for p in ref_p]
    ours = FusedAdam(ours_p, lr=0.5)
    ours.load_state_dict(ref.state_dict())
    back_p = [p.detach().clone().requires_grad_() for p in ours_p]
    back = torch.optim.Adam(back_p, lr=1e-2, fused=True, **kw)
    back.load_state_dict(copy.deepcopy(ours.state_dict()))  # ours into torch's (its load keeps references)
    return ours, ours_p, back, back_p


def test_state_dicts_load_across_both_ways():
    ref_p = _params(1)
    ref = torch.optim.Adam(ref_p, lr=1e-2, fused=True)
    ours, ours_p, back, back_p = _loaded_both_ways(ref, ref_p)
    assert ours.param_groups[0]["lr"] == 1e-2
    for t in range(5, 10):
        g = _grads(t, ref_p)
        for opt, ps in ((ref, ref_p), (ours, ours_p), (back, back_p)):
            _step(opt, ps, g)
    for p, q, r in zip(ref_p, ours_p, back_p):
        assert torch.equal(p, q) and torch.equal(p, r)
    with pytest.raises(ValueError, match="parameters"):
        FusedAdam(_params(2)[:2]).load_state_dict(ref.state_dict())


def test_a_training_run_does_not_import_torch_dynamo():
    """The point of FusedAdam: torch.optim's Optimizer imports torch._dynamo (+77 MB RSS)."""
    code = ("import sys, trpo\n"
            "cfg = trpo.Config(env_id='CartPole-v1', total_steps=1024, batch_steps=512, eval_episodes=1)\n"
            "for algo in ('trpo', 'ppo', 'a2c'):\n"
            "    trpo.train(cfg.replace(algo=algo, critic_fit='inline'), run_dir=sys.argv[1] + algo, progress=False)\n"
            "assert 'torch._dynamo' not in sys.modules, 'torch._dynamo was imported'\n")
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        out = subprocess.run([sys.executable, "-c", code, d + "/"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]


@pytest.mark.parametrize("kw", [{}, {"eps": 1e-5, "weight_decay": 0.01, "betas": (0.8, 0.99)}])
def test_step_with_is_torch_optim_adams_step_bitwise(kw):
    """step_with(grads) (the critic fit's path: gradients as a list, the fused kernel called
    directly) against torch.optim.Adam(fused=True) stepping the same gradients through .grad."""
    ours, ref = _params(3), _params(3)
    a = FusedAdam(ours, lr=3e-3, **kw)
    b = torch.optim.Adam(ref, lr=3e-3, fused=True, **kw)
    for t in range(40):
        if t == 20:
            a.param_groups[0]["lr"] = b.param_groups[0]["lr"] = 1e-3
        g = torch.Generator().manual_seed(2000 + t)
        grads = [torch.randn(p.shape, generator=g) for p in ours]
        a.step_with([x.clone() for x in grads])
        _step(b, ref, grads)
    for p, q in zip(ours, ref):
        assert torch.equal(p, q)
        assert p.grad is None  # step_with leaves .grad alone
    _assert_same_state(a, b)


def test_step_with_other_dtypes_goes_through_step_and_checks_its_count():
    ours = [torch.randn(3, dtype=torch.float64).requires_grad_(), torch.randn(2).requires_grad_()]
    ref = [p.detach().clone().requires_grad_() for p in ours]
    a, b = FusedAdam(ours, lr=1e-2), torch.optim.Adam(ref, lr=1e-2, fused=True)
    grads = [torch.ones(3, dtype=torch.float64), torch.ones(2)]
    a.step_with(grads)
    _step(b, ref, grads)
    assert all(torch.equal(p, q) for p, q in zip(ours, ref))
    with pytest.raises(ValueError, match="1 gradients for 2 parameters"):
        a.step_with(grads[:1])


def test_step_with_refuses_a_gradient_unlike_its_parameter():
    """The fused kernel checks no shapes (a short gradient would be read past its end)."""
    ps = [torch.randn(3, 4).requires_grad_(), torch.randn(4).requires_grad_()]
    a = FusedAdam(ps, lr=1e-2)
    for bad in ([torch.ones(4, 3), torch.ones(4)], [torch.ones(2), torch.ones(4)],
                [torch.ones(3, 4, dtype=torch.float64), torch.ones(4)]):
        with pytest.raises(ValueError, match="gradient 0 is"):
            a.step_with(bad)
    assert a.state == {}  # nothing stepped


def test_step_with_after_loading_a_state_is_torch_optim_adams_step():
    ref_p = _params(4)
    ref = torch.optim.Adam(ref_p, lr=1e-2, weight_decay=0.01)  # another kernel's state, loaded into ours
    ours, ours_p, back, back_p = _loaded_both_ways(ref, ref_p, weight_decay=0.01)
    for t in range(5, 10):
        g = torch.Generator().manual_seed(3000 + t)
        grads = [torch.randn(p.shape, generator=g) for p in ours_p]
        ours.step_with([x.clone() for x in grads])
        _step(back, back_p, grads)
    assert all(torch.equal(p, q) for p, q in zip(ours_p, back_p))

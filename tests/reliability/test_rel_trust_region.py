"""Trust-region guarantees under injected faults: a rejected line search leaves the parameters
bit-identical, NaN in the Fisher / CG stops the run with one line and an intact checkpoint, the
accepted KL never exceeds delta, the log-std stays in its documented bounds."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import trpo.algos.trust_region as tr
from trpo.checkpoint import load_checkpoint
from trpo.cli import main
from trpo.config import RANGES, Config
from trpo.errors import NonFiniteError
from trpo.functional import backtracking_line_search, natural_step
from trpo.nets.policies import LOG_STD_MAX, LOG_STD_MIN, GaussianActor, flat_params
from trpo.tools.curves import read_metrics

ARGS = ["--num-envs", "2", "--set", "batch_steps=64", "--set", "check_env=false", "--set", "eval_episodes=1",
        "--set", "checkpoint_every=1", "--quiet"]


def test_forced_line_search_failure_keeps_parameters_bit_identical(tmp_path, monkeypatch):
    """Every step makes the surrogate worse: the real line search rejects it, theta_old stays."""
    real = tr.backtracking_line_search

    def losing(evaluate, full_step, *a):
        return real(lambda s: (-1.0 - abs(evaluate(s)[0]), evaluate(s)[1]), full_step, *a)

    monkeypatch.setattr(tr, "backtracking_line_search", losing)
    from trpo.trainer import train

    torch.manual_seed(0)
    cfg = Config(env_id="CartPole-v1", total_steps=256, num_envs=2, batch_steps=64, check_env=False, eval_episodes=1)
    res = train(cfg, tmp_path / "run", progress=False)
    # the actor is exactly its initialisation (re-create it with the same seed)
    torch.manual_seed(cfg.seed)
    from trpo.agent import Agent
    fresh = Agent(cfg, res.agent.obs_space, res.agent.act_space)
    assert torch.equal(flat_params(res.agent.actor), flat_params(fresh.actor))
    m = read_metrics(tmp_path / "run")
    assert m["step_accepted"].tolist() == [0.0] * 4
    assert m["linesearch_steps"].tolist() == [float(cfg.ls_max_backtracks)] * 4
    assert m["kl"].tolist() == [0.0] * 4


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(-1, 1), st.floats(0, 0.05) | st.just(float("nan"))), min_size=1, max_size=12),
       st.floats(0.001, 0.03))
def test_line_search_never_accepts_kl_above_delta(evals, delta):
    seq = iter(evals * 20)
    res = backtracking_line_search(lambda s: next(seq), torch.ones(3), delta, len(evals), 0.5)
    if res.accepted:
        assert res.kl <= delta and res.surrogate_gain > 0
    else:
        assert res.step_fraction == 0.0


@pytest.mark.parametrize("fault", ["nan", "negative", "zero"])
def test_natural_step_guards_the_step_size(fault):
    g = torch.ones(4)
    fvp = {"nan": lambda v: v * float("nan"), "negative": lambda v: -v, "zero": lambda v: 0 * v}[fault]
    with pytest.raises(FloatingPointError):
        natural_step(g, fvp, 0.01)


@pytest.mark.parametrize("fault", ["fvp_nan", "grad_nan"])
def test_nan_in_update_is_one_line_and_last_checkpoint_intact(tmp_path, monkeypatch, capsys, fault):
    """Two good iterations, then the Fisher (or the gradient) turns NaN in the third: the run stops
    with one line naming the source, parameters never became NaN, checkpoint 2 loads."""
    calls = {"n": 0}
    if fault == "fvp_nan":
        # whichever form builds the product (the written-out one for the default actor)
        for name in ("written_out_fvp", "gauss_newton_fvp", "fisher_vector_product"):
            def fvp(*a, _real=getattr(tr, name), **k):
                f = _real(*a, **k)
                if f is None:  # written_out_fvp declined: the autograd form follows
                    return None
                calls["n"] += 1
                return (lambda v: f(v) * float("nan")) if calls["n"] == 3 else f
            monkeypatch.setattr(tr, name, fvp)
        expect = "x^T F x"
    else:
        real = tr.flat_grad

        def grad(*a, **k):
            calls["n"] += 1
            g = real(*a, **k)
            return g * float("nan") if calls["n"] == 3 else g
        monkeypatch.setattr(tr, "flat_grad", grad)
        expect = "policy gradient"
    run = tmp_path / "run"
    rc = main(["train", "CartPole-v1", "--total-steps", "640", "--run-dir", str(run), *ARGS])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1 and expect in err[0] and "not applied" in err[0], err
    assert "last good checkpoint" in err[0] and "ckpt-000002" in err[0]
    state, manifest = load_checkpoint(run)
    assert manifest["counters"]["iteration"] == 2
    assert all(torch.isfinite(t).all() for t in state["agent"]["actor"].values())
    # --debug shows the traceback instead
    monkeypatch.setattr(tr, "flat_grad", lambda *a, **k: (_ for _ in ()).throw(NonFiniteError("boom")))
    with pytest.raises(NonFiniteError):
        main(["--debug", "train", "CartPole-v1", "--total-steps", "64", "--run-dir", str(tmp_path / "r2"), *ARGS])


def test_log_std_stays_within_documented_bounds():
    actor = GaussianActor(3, 2)
    obs = torch.randn(5, 3)
    for value in (-50.0, 50.0, float(LOG_STD_MIN) - 1, float(LOG_STD_MAX) + 1):
        with torch.no_grad():
            actor.log_std.fill_(value)
        _, log_std = actor.dist_params(obs)
        assert LOG_STD_MIN <= log_std.min() and log_std.max() <= LOG_STD_MAX
        from trpo.nets.policy_runner import NumpyPolicy
        assert LOG_STD_MIN <= NumpyPolicy(actor).log_std.min() <= NumpyPolicy(actor).log_std.max() <= LOG_STD_MAX
    assert RANGES["log_std_init"][:2] == (LOG_STD_MIN, LOG_STD_MAX)  # the config cannot start outside


def test_cli_config_errors_are_one_line_exit_2(tmp_path, capsys):
    for argv, needle in [(["--set", "max_kl=-1"], "'max_kl'"), (["--set", "gamma=1"], "'gamma'"),
                         (["--set", "batch_steps=0"], "'batch_steps'"), (["--set", "nope=1"], "'nope'"),
                         (["--set", "gamma=abc"], "'gamma'")]:
        rc = main(["train", "CartPole-v1", "--run-dir", str(tmp_path / "x"), *argv])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and needle in err[0] and "Traceback" not in err[0]
    bad = tmp_path / "bad.toml"
    bad.write_text("gamma = __import__('os').system('touch PWNED')\n")
    assert main(["train", "CartPole-v1", "--config", str(bad)]) == 2
    assert "not valid TOML" in capsys.readouterr().err and not (tmp_path / "PWNED").exists()

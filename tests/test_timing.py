"""The explicit timers (trpo.timing) the profiler reads: off by default, and when on every part of
a TRPO iteration is counted once, inside its half of the iteration."""
from trpo import Config
from trpo.timing import TIMERS, part, timed
from trpo.trainer import train


def test_off_by_default_and_nothing_counted():
    assert not TIMERS.on

    @timed("x")
    def f(v):
        return v + 1

    with part("y"):
        assert f(1) == 2
    assert "x" not in TIMERS.wall and "y" not in TIMERS.wall


def test_a_trpo_run_counts_each_part_inside_its_half(tmp_path):
    cfg = Config(env_id="CartPole-v1", total_steps=1024, batch_steps=512, num_envs=2, eval_episodes=1,
                 eval_periodic_episodes=0, check_env=False, critic_fit="inline")
    TIMERS.start()
    try:
        train(cfg, tmp_path / "run", progress=False)
    finally:
        TIMERS.stop()
    w, calls = TIMERS.wall, TIMERS.calls
    assert calls["sampling"] == calls["update"] == 2
    assert calls["sampling: env step"] == 2 * 256 and calls["update: line search"] == 2
    assert calls["update: Fisher-vector products (CG)"] >= 2 * 2  # CG (it may stop early) and s^T F s
    for half in ("sampling", "update"):
        inside = sum(v for k, v in w.items() if k.startswith(half + ": "))
        assert 0 < inside <= w[half]

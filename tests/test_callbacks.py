"""trpo.callbacks: StopOnThreshold, CheckpointEvery, CallbackList, and the plain-function form."""
import json

import pytest

import trpo
from trpo.callbacks import Callback, CallbackList, CheckpointEvery, StopOnThreshold, as_callback
from trpo.checkpoint import list_checkpoints


@pytest.fixture
def cfg(tiny_cfg):
    # 256 steps per iteration; an evaluation every second iteration
    return tiny_cfg.replace(total_steps=2048, eval_every=512, eval_periodic_episodes=1, checkpoint_every=100)


def test_stop_on_threshold_stops_at_the_first_evaluation_that_reaches_it(tmp_path, cfg):
    seen = []
    res = trpo.train(cfg, run_dir=tmp_path / "r", progress=False,
                     callback=[StopOnThreshold(0.0), lambda row, agent: seen.append(row["eval_return_mean"])])
    # iteration 1 has no evaluation (ignored); iteration 2's evaluation (any return >= 0) stops the run
    assert seen[0] is None and seen[1] is not None and len(seen) == 2
    assert res.summary["total_steps"] == 512 and res.summary["iterations"] == 2
    assert res.summary["stop_reason"].startswith("callback: StopOnThreshold: eval_return_mean ")
    assert not res.interrupted and res.summary["final_eval_return_mean"] is not None
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["stop_reason"] == res.summary["stop_reason"]
    # the stop wrote a checkpoint from which the run resumes
    assert json.loads(list_checkpoints(tmp_path / "r" / "checkpoints")[-1].read_text())["counters"]["iteration"] == 2


def test_stop_on_threshold_unit():
    stop = StopOnThreshold(10, on="episode_return_mean")
    assert stop({"episode_return_mean": float("nan")}, None) is None
    assert stop({"episode_return_mean": 9.5}, None) is None
    assert stop({"episode_return_mean": 10.0}, None) == "StopOnThreshold: episode_return_mean 10 >= 10"
    assert StopOnThreshold(1)({"eval_return_mean": None}, None) is None
    with pytest.raises(KeyError, match="no column 'eval_retrun_mean'"):
        StopOnThreshold(1, on="eval_retrun_mean")({"eval_return_mean": 3.0}, None)


def test_checkpoint_every_n_steps_writes_loadable_checkpoints(tmp_path, cfg):
    every = CheckpointEvery(600)
    res = trpo.train(cfg.replace(total_steps=1536), run_dir=tmp_path / "r", progress=False, callback=every)
    # env steps 256, 512, ..., 1536: 600 is crossed at 768 (iteration 3), 1200 at 1280 (iteration 5)
    d = tmp_path / "r" / "checkpoints" / "every"
    ckpts = list_checkpoints(d)
    assert [p.name for p in ckpts] == ["ckpt-000003.json", "ckpt-000005.json"] and every.saved == ckpts
    for p, steps in zip(ckpts, (768, 1280)):
        assert json.loads(p.read_text())["counters"]["env_steps"] == steps
        agent = trpo.load(p)
        assert agent.checkpoint.startswith(str(p)) and agent.act(agent.obs_space.sample()) in (0, 1)
    assert trpo.load(d).checkpoint.startswith(str(ckpts[-1]))  # the folder: its newest
    # the run's own rotation is untouched: resume reads RUN/checkpoints, not the extra folder
    assert list_checkpoints(tmp_path / "r" / "checkpoints")[-1].name == "ckpt-000006.json"
    assert res.summary["stop_reason"] is None


def test_checkpoint_every_own_path_keep_and_resume_continues_the_count(tmp_path, cfg):
    every = CheckpointEvery(256, path="mine", keep=2)
    trpo.train(cfg.replace(total_steps=1024), run_dir=tmp_path / "r", progress=False, callback=every)
    assert [p.name for p in list_checkpoints(tmp_path / "r" / "mine")] == ["ckpt-000003.json", "ckpt-000004.json"]
    again = CheckpointEvery(256, path=tmp_path / "abs")
    trpo.train(cfg.replace(total_steps=1536), resume=tmp_path / "r", progress=False, callback=again)
    assert [p.name for p in list_checkpoints(tmp_path / "abs")] == ["ckpt-000005.json", "ckpt-000006.json"]


def test_a_list_stops_when_any_asks_and_calls_them_all(tmp_path, cfg):
    calls = []

    class Count(Callback):
        def on_start(self, run):
            calls.append(("start", run.iteration, run.path.name))

        def __call__(self, row, agent):
            calls.append(row["iteration"])

    every = CheckpointEvery(256)
    res = trpo.train(cfg, run_dir=tmp_path / "r", progress=False,
                     callback=[lambda row, agent: row["iteration"] == 3, Count(), every])
    assert calls == [("start", 0, "r"), 1, 2, 3] and res.summary["stop_reason"] == "callback"
    assert len(every.saved) == 3  # the last row still reached the callbacks after the stopping one
    lst = as_callback([StopOnThreshold(1, on="x"), lambda r, a: "mine"])
    assert isinstance(lst, CallbackList) and lst({"x": 0.0}, None) == "mine" and lst({"x": 2.0}, None).startswith(
        "StopOnThreshold")


def test_the_plain_function_form_keeps_working(tmp_path, cfg):
    seen = []

    def cb(row, agent):
        seen.append((row["iteration"], type(agent).__name__))
        return row["iteration"] == 2

    res = trpo.train(cfg, run_dir=tmp_path / "r", progress=False, callback=cb)
    assert seen == [(1, "Agent"), (2, "Agent")] and res.summary["stop_reason"] == "callback"
    res = trpo.train(cfg.replace(total_steps=256), run_dir=tmp_path / "s", progress=False,
                     callback=lambda row, agent: "enough")
    assert res.summary["stop_reason"] == "callback: enough"


def test_a_wrong_callback_is_a_type_error_before_anything_runs(tmp_path, cfg):
    with pytest.raises(TypeError, match="callback must be"):
        trpo.train(cfg, run_dir=tmp_path / "r", progress=False, callback=42)
    assert not (tmp_path / "r").exists()
    with pytest.raises(ValueError, match="at least 1"):
        CheckpointEvery(0)

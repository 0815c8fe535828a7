"""trpo.envs.mujoco_lean: each lean step against Gymnasium's own ``env.step`` on a twin env, side by
side: the same observation (values and dtype), reward (bits and type), terminated and truncated,
step after step across falls, time limits and resets, for the default settings and the options
each env's observation and reward read; and no lean step where it would not be Gymnasium's."""
import gymnasium as gym
import numpy as np
import pytest

from trpo.envs.mujoco_lean import lean_stepper

# per env: its defaults; every setting the port reads at a distinct non-default value (frame_skip
# too); the observation's and the termination's switches flipped
CASES = [
    ("Hopper-v5", {}),
    ("Hopper-v5", {"forward_reward_weight": 1.3, "healthy_reward": 0.7, "ctrl_cost_weight": 2e-3,
                   "healthy_state_range": (-5.0, 5.0), "healthy_z_range": (0.8, 1.9),
                   "healthy_angle_range": (-0.3, 0.3), "frame_skip": 3}),
    ("Hopper-v5", {"exclude_current_positions_from_observation": False, "terminate_when_unhealthy": False,
                   "healthy_angle_range": (-0.1, 0.1)}),
    ("Walker2d-v5", {}),
    ("Walker2d-v5", {"forward_reward_weight": 1.3, "healthy_reward": 0.7, "ctrl_cost_weight": 0.3,
                     "healthy_z_range": (0.9, 2.0), "healthy_angle_range": (-0.5, 0.5), "frame_skip": 3}),
    ("Walker2d-v5", {"exclude_current_positions_from_observation": False, "terminate_when_unhealthy": False}),
    ("HalfCheetah-v5", {}),
    ("HalfCheetah-v5", {"forward_reward_weight": 0.7, "ctrl_cost_weight": 0.3, "frame_skip": 3}),
    ("HalfCheetah-v5", {"exclude_current_positions_from_observation": False}),
    ("Swimmer-v5", {}),
    ("Swimmer-v5", {"forward_reward_weight": 0.7, "ctrl_cost_weight": 3e-4, "frame_skip": 3}),
    ("Swimmer-v5", {"exclude_current_positions_from_observation": False}),
    ("Ant-v5", {}),
    ("Ant-v5", {"forward_reward_weight": 1.3, "healthy_reward": 0.7, "ctrl_cost_weight": 0.3,
                "contact_cost_weight": 1e-3, "contact_force_range": (-0.5, 0.5), "healthy_z_range": (0.3, 0.9),
                "main_body": "torso", "frame_skip": 3}),
    ("Ant-v5", {"include_cfrc_ext_in_observation": False, "exclude_current_positions_from_observation": False,
                "terminate_when_unhealthy": False}),
    ("Humanoid-v5", {}),
    ("Humanoid-v5", {"forward_reward_weight": 1.3, "healthy_reward": 4.0, "ctrl_cost_weight": 0.3,
                     "contact_cost_weight": 5e-5, "contact_cost_range": (0.5, 2.0), "healthy_z_range": (1.1, 1.9),
                     "frame_skip": 3}),
    ("Humanoid-v5", {"include_cinert_in_observation": False, "include_cvel_in_observation": False,
                     "include_qfrc_actuator_in_observation": False, "include_cfrc_ext_in_observation": False,
                     "exclude_current_positions_from_observation": False, "terminate_when_unhealthy": False}),
]


def _same(a, b):
    oa, ra, ta, tra = a[:4]
    ob, rb, tb, trb = b[:4]
    assert oa.dtype == ob.dtype and oa.shape == ob.shape and np.array_equal(oa, ob)
    assert type(ra) is type(rb)
    assert np.float64(ra).tobytes() == np.float64(rb).tobytes()
    assert bool(ta) == bool(tb) and bool(tra) == bool(trb)


@pytest.mark.parametrize("env_id,kw", CASES, ids=[f"{e}-{i % 3}" for i, (e, _) in enumerate(CASES)])
def test_lean_step_is_gymnasium_step_bit_for_bit(env_id, kw):
    ref, env = (gym.make(env_id, max_episode_steps=60, **kw) for _ in range(2))
    lean = lean_stepper(env)
    assert lean is not None
    rng = np.random.default_rng(0)
    ends = lean_steps = 0
    for ep in range(40):
        if lean_steps >= 300 and ends >= 5:
            break
        ro, _ = ref.reset(seed=ep)
        lo, _ = env.reset(seed=ep)
        assert np.array_equal(ro, lo)
        for t in range(60):
            # float32 (what the samplers hand over) and float64 actions; some past the bounds
            a = rng.uniform(-1.5, 1.5, ref.action_space.shape).astype(np.float32 if t % 3 else np.float64)
            checked = env.env.env.checked_step  # the checker's first step goes through env.step
            r, s = ref.step(a), lean(a)
            lean_steps += checked
            _same(r, s)
            if r[2] or r[3]:
                ends += 1
                break
    assert ends >= 5 and lean_steps >= 300
    # a snapshot restore (vine, resume) writes the same data in place: the lean step follows it
    from trpo.envs.snapshot import restore, snapshot
    ref.reset(seed=9), env.reset(seed=9)
    for _ in range(3):
        a = rng.uniform(-1, 1, ref.action_space.shape).astype(np.float32)
        ref.step(a), lean(a)
    state = snapshot(ref)
    env.reset(seed=10)  # elsewhere, then back to ref's state
    for _ in range(5):
        lean(rng.uniform(-1, 1, ref.action_space.shape).astype(np.float32))
    restore(env, state)
    for _ in range(20):
        a = rng.uniform(-1, 1, ref.action_space.shape).astype(np.float32)
        _same(ref.step(a), lean(a))


def test_lean_step_keeps_gymnasium_checks_and_errors():
    env = gym.make("Hopper-v5")
    lean = lean_stepper(env)
    with pytest.raises(gym.error.ResetNeeded):
        lean(np.zeros(3, np.float32))
    env.reset(seed=0)
    for _ in range(3):
        lean(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="Action dimension mismatch"):
        lean(np.zeros(4, np.float32))


def test_no_lean_step_where_it_would_not_be_gymnasiums():
    from gymnasium.envs.mujoco.hopper_v5 import HopperEnv

    class MyHopper(HopperEnv):
        def step(self, action):
            obs, r, te, tr, info = super().step(action)
            return obs, 2 * r, te, tr, info

    assert lean_stepper(gym.make("Hopper-v5")) is not None
    assert lean_stepper(gym.make("Hopper-v5", disable_env_checker=True)) is not None
    assert lean_stepper(gym.make("Hopper-v5", render_mode="rgb_array")) is None
    assert lean_stepper(gym.wrappers.ClipReward(gym.make("Hopper-v5"), -1, 1)) is None
    assert lean_stepper(gym.wrappers.TimeLimit(MyHopper(), 100)) is None
    assert lean_stepper(gym.make("Pendulum-v1")) is None
    assert lean_stepper(gym.make("InvertedPendulum-v5")) is None


def test_no_lean_step_on_a_gymnasium_not_read(monkeypatch):
    import trpo.envs.mujoco_lean as ml
    monkeypatch.setattr(ml.gym, "__version__", "1.5.0")
    assert lean_stepper(gym.make("Hopper-v5")) is None
    monkeypatch.setattr(ml.gym, "__version__", "1.4.1")
    assert lean_stepper(gym.make("Hopper-v5")) is not None

"""EnvPool behind the interface the samplers expect: a Gymnasium vector env with SAME-STEP autoreset.

EnvPool (``envpool.make_gymnasium``) steps all envs in a C++ thread pool, so its stepping runs
outside the GIL and on every core. Its autoreset is NEXT-STEP: the step after an episode ends
ignores the action and only returns the reset observation (reward 0). A sampler that trusted it
would record one dummy transition per episode. This adapter resets the finished envs at once
(``reset(env_ids)``, which EnvPool supports for a subset), returns the reset observation in their
row, and puts the last observation of the finished episode in ``info["final_obs"]`` — exactly what
``gym.vector`` gives with ``AutoresetMode.SAME_STEP``.

Two families go through it: Gymnasium's MuJoCo ids (EnvPool's ports under the same names) and
ALE v5 ids (``ALE/Pong-v5`` -> EnvPool's ``Pong-v5``), whose C++ DQN preprocessing EnvPool is set
up to match ``trpo.envs.make.atari_wrappers`` option for option (``ATARI_OPTIONS``; checked in
tests/rollout/test_envpool_atari.py: same uint8 (4, 84, 84) frames, the same pixels from the same
ALE state, episodes that end on game over only).
"""
from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from typing import Any

import numpy as np

from trpo.envs.ids import is_atari, is_gym_mujoco
from trpo.errors import EnvError
from trpo.system import usable_cores

# EnvPool's registrations of Gymnasium's MuJoCo ids and of its Atari games
MUJOCO_REGISTRATION = "envpool.mujoco.gym.registration"
ATARI_REGISTRATION = "envpool.atari.registration"

# EnvPool's Atari options, each set to what ``atari_wrappers`` does on an ALE v5 id (Gymnasium's
# ``AtariPreprocessing`` + ``FrameStackObservation`` on ``gym.make("ALE/<Game>-v5", frameskip=1)``):
ATARI_OPTIONS = dict(
    img_height=84, img_width=84,     # screen_size=84
    gray_scale=True,                 # grayscale_obs=True (ALE's grayscale palette in both)
    use_inter_area_resize=True,      # AtariPreprocessing resizes with cv2.INTER_AREA
    stack_num=4,                     # FrameStackObservation(env, 4); at reset both repeat the first frame
    frame_skip=4,                    # frame_skip=4, the max over the last two frames in both
    noop_max=30,                     # noop_max=30: 1 to 30 no-op *frames* at reset in both
    use_fire_reset=False,            # AtariPreprocessing presses no FIRE at reset (EnvPool's default does)
    episodic_life=False,             # terminal_on_life_loss=False: an episode is a whole game
    zero_discount_on_life_loss=False,
    reward_clip=False,               # rewards unclipped: returns stay game scores (trpo scales rewards)
    repeat_action_probability=0.25,  # ALE v5's sticky actions (EnvPool's default is 0)
    full_action_space=False,         # ALE v5's default: the game's minimal action set (Pong: 6)
    # ALE v5 truncates at max_num_frames_per_episode = 108,000 frames = 27,000 agent steps of 4
    # frames (ALE also counts the reset no-op frames, so Gymnasium's cut comes <= 8 steps earlier)
    max_episode_steps=108_000 // 4,
)
_ALE_V5 = re.compile(r"ALE/([A-Za-z0-9]+)-v5")  # not the -ram- variants: EnvPool has no RAM observations


def envpool_task_id(env_id: str) -> str:
    """EnvPool's name for ``env_id``: ``ALE/Pong-v5`` -> ``Pong-v5`` (EnvPool names its Atari games
    without the namespace); any other id as it is (its MuJoCo ports carry Gymnasium's names)."""
    m = _ALE_V5.fullmatch(env_id)
    return f"{m.group(1)}-v5" if m else env_id


def envpool_options(env_id: str) -> dict:
    """The ``make_gymnasium`` options that make EnvPool's env ``env_id`` match ours: Atari's above."""
    return dict(ATARI_OPTIONS) if _ALE_V5.fullmatch(env_id) else {}


def _family_registration(env_id: str) -> str | None:
    """The one EnvPool registration module ``env_id`` needs, if it is one of the light families."""
    if is_gym_mujoco(env_id):
        return MUJOCO_REGISTRATION
    if _ALE_V5.fullmatch(env_id):  # the ALE/ namespace is ale-py's: registered or not yet, an Atari game
        return ATARI_REGISTRATION
    return None


def envpool_available() -> bool:
    return importlib.util.find_spec("envpool") is not None


def registry(env_id: str | None = None):
    """EnvPool's registry (``list_all_envs``, ``make_gymnasium``), with ``env_id`` registered
    (under ``envpool_task_id(env_id)``: an ALE v5 id or EnvPool's own name for it).

    ``import envpool`` imports the registrations of every env family EnvPool ships (Atari,
    Procgen, Jumanji, MyoSuite, ...): +105 MB of RSS and ~1.3 s here. For a Gymnasium MuJoCo id only
    ``envpool.mujoco.gym`` is needed (+9 MB), for an ALE v5 id only ``envpool.atari``: then the
    package is set up without running its ``__init__``, which runs in full the first time anything
    else asks the package for an attribute (``envpool.make``, ``from envpool import ...``), so other
    code in the process still sees all of EnvPool. Any other id, or an EnvPool laid out otherwise,
    takes ``import envpool``.
    """
    family = _family_registration(env_id) if env_id is not None else None
    pkg = sys.modules.get("envpool")
    if family is not None and (pkg is None or ("__getattr__" in vars(pkg) and family not in sys.modules)):
        try:  # nothing imported yet, or a light import for the other family: this family's names
            _light_import(family) if pkg is None else importlib.import_module(family)
        except Exception:  # noqa: BLE001 - another EnvPool layout: the full import below
            for m in [m for m in sys.modules if m == "envpool" or m.startswith("envpool.")]:
                del sys.modules[m]
    reg = sys.modules.get("envpool.registration")
    if reg is not None and env_id is not None and envpool_task_id(env_id) in reg.list_all_envs():
        return reg
    import envpool

    envpool.list_all_envs  # noqa: B018 - after a light import: runs the package's __init__ (every family)
    return envpool


def _light_import(registration: str) -> None:
    spec = importlib.util.find_spec("envpool")
    pkg = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]  # the package object; __init__ not run yet

    def finish(name):  # PEP 562: anything else asked of the package runs envpool's own __init__ now
        del pkg.__dict__["__getattr__"]
        spec.loader.exec_module(pkg)  # type: ignore[union-attr]  # envpool is installed
        return getattr(pkg, name)

    pkg.__getattr__ = finish  # type: ignore[method-assign]  # PEP 562: a module's __getattr__
    sys.modules["envpool"] = pkg
    importlib.import_module(registration)
    importlib.import_module("envpool.registration")


def envpool_knows(env_id: str) -> bool:
    """envpool is installed and ships ``env_id`` (an ALE v5 id: EnvPool's game of that name; other
    Atari ids, ``PongNoFrameskip-v4`` or an older ale-py's ``ALE/Pong-ram-v5``, have other settings
    and are not EnvPool's)."""
    if (env_id.startswith("ALE/") or is_atari(env_id)) and not _ALE_V5.fullmatch(env_id):
        return False
    return envpool_available() and envpool_task_id(env_id) in registry(env_id).list_all_envs()


def envpool_seed(seed: int, num_envs: int) -> int:
    """The seed to hand EnvPool for trpo's ``seed`` (0 .. 2**32 - 1).

    EnvPool asserts that its seed is an int32 and seeds env i with ``seed + i`` in C++ ``int``, so
    a seed >= 2**31 used to fail (``AssertionError: Seed should be in range of int32``) and one
    just below 2**31 overflowed for the last envs. Seeds up to 2**31 - num_envs are kept as they
    are (runs made with them stay reproducible); larger ones are hashed into that range (not taken
    modulo it, which would give 2**31 + 1 the env streams of the commonly used seed 1 or so)."""
    top = 2**31 - num_envs  # the largest seed whose seed + num_envs - 1 is still an int32
    seed = int(seed)
    if 0 <= seed <= top:
        return seed
    return int(np.random.SeedSequence(seed).generate_state(1, np.uint64)[0] % (top + 1))


class EnvPoolVectorEnv:
    """``num_envs`` copies of ``env_id`` in EnvPool, stepped synchronously (batch = all envs).
    ``env_id``: a Gymnasium id EnvPool ships (MuJoCo, classic control) or an ALE v5 id, made with
    ``ATARI_OPTIONS`` (the frames of ``atari_wrappers``); ``options`` override EnvPool's options."""

    def __init__(self, env_id: str, num_envs: int, num_threads: int = 0, seed: int = 0, **options):
        if not envpool_available():
            raise EnvError("vector_mode 'envpool' needs envpool: pip install 'trpo[envpool]'")
        if not envpool_knows(env_id):
            raise EnvError(f"environment '{env_id}' is not available in EnvPool; use vector_mode 'sync' or 'async'")
        self.env_id, self.num_envs, self.num_threads = env_id, num_envs, num_threads
        self.task_id = envpool_task_id(env_id)
        self.options = {**envpool_options(env_id), **options}
        self._pool: Any = None  # the envpool env (untyped)
        self._ids = np.arange(num_envs, dtype=np.int32)
        self._make(seed)
        self.single_observation_space = self._pool.observation_space  # type: ignore[attr-defined]  # set by _make
        self.single_action_space = self._pool.action_space  # type: ignore[attr-defined]  # set by _make

    def _make(self, seed: int) -> None:
        if self._pool is not None:
            self._pool.close()
        self._pool = registry(self.env_id).make_gymnasium(
            self.task_id, num_envs=self.num_envs, batch_size=self.num_envs,
            num_threads=self.num_threads or min(self.num_envs, usable_cores()),
            seed=envpool_seed(seed, self.num_envs), **self.options)

    def reset(self, seed: int | None = None, options=None):
        if seed is not None:  # EnvPool is seeded at construction only
            self._make(seed)
        obs, info = self._pool.reset()
        return obs[np.argsort(info["env_id"])], {}

    def step(self, actions):
        obs, rew, term, trunc, info = self._pool.step(np.asarray(actions), self._ids)
        order = info["env_id"]
        if not np.array_equal(order, self._ids):  # rows in env order, as a gym vector env returns them
            inv = np.argsort(order)
            obs, rew, term, trunc = obs[inv], rew[inv], term[inv], trunc[inv]
        done = np.logical_or(term, trunc)
        out_info = {}
        if done.any():
            ids = np.flatnonzero(done)
            final = np.empty(self.num_envs, dtype=object)
            final[ids] = list(obs[ids])           # the last observation of each finished episode
            obs = obs.copy()
            reset_obs, reset_info = self._pool.reset(ids.astype(np.int32))
            obs[reset_info["env_id"]] = reset_obs
            out_info = {"final_obs": final, "_final_obs": done}
        return obs, rew, term, trunc, out_info

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

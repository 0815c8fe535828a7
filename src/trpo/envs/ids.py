"""Environment ids: finding them in Gymnasium's registry and telling their family.

``module:EnvId`` is Gymnasium's way to reach a third-party env (``gym.make`` imports ``module``,
whose import registers ``EnvId``); ``lookup`` does the same, with one-line errors. Two families
register themselves on demand: ``ALE/...`` ids (ale-py) and ``MinAtar/...`` ids (the ``minatar``
package: ``MinAtar/Breakout-v1`` etc., Young & Tian 2019).
"""
from __future__ import annotations

import difflib
import importlib
import re

import gymnasium as gym

import trpo.envs.pomdp  # noqa: F401  registers the package's own ids (trpo/CartPoleNoVelocity-v1, ...)
from trpo.errors import EnvError


def safe_name(env_id: str) -> str:
    """The env id as a file or directory name: every run of characters other than letters,
    digits, ``.``, ``_`` and ``-`` becomes ``_`` (``ALE/Pong-v5`` -> ``ALE_Pong-v5``,
    ``my_pkg.envs:MyEnv-v0`` -> ``my_pkg.envs_MyEnv-v0``). The one sanitiser of the package."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", env_id)


def split_id(env_id: str) -> tuple[str | None, str]:
    """``"my_pkg.envs:MyEnv-v0"`` -> ("my_pkg.envs", "MyEnv-v0"); a plain id -> (None, id)."""
    if ":" in env_id:
        module, name = env_id.split(":", 1)
        return module, name
    return None, env_id


def lookup(env_id: str) -> str:
    """Make sure ``env_id`` is registered (importing its module, or ale-py for ``ALE/`` ids) and
    return the registered name; an unknown id is an EnvError with the closest match."""
    module, name = split_id(env_id)
    if module is not None:
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise EnvError(f"environment '{env_id}': cannot import module '{module}': {e}") from None
        except Exception as e:  # noqa: BLE001 - the user's module failed while importing
            raise EnvError(f"environment '{env_id}': importing module '{module}' failed: "
                           f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
    if name in gym.registry:
        return name
    if name.startswith("ALE/"):
        try:
            import ale_py  # registers the Atari envs
            gym.register_envs(ale_py)
        except ImportError:
            raise EnvError(f"environment '{env_id}' needs the Atari extra: pip install 'trpo[atari]'") from None
        if name in gym.registry:
            return name
    if name.startswith("MinAtar/"):
        _register_minatar(env_id)
        if name in gym.registry:
            return name
    close = difflib.get_close_matches(name, list(gym.registry), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    where = f" after importing '{module}'" if module else ""
    raise EnvError(f"unknown environment '{env_id}'{where}{hint}")


def _register_minatar(env_id: str) -> None:
    """Register MinAtar's ids (``MinAtar/{Asterix,Breakout,Freeway,Seaquest,SpaceInvaders}-v0/v1``):
    the package registers them in ``minatar.gym.register_envs()``, which nothing calls on import."""
    try:
        import minatar.gym as minatar_gym
    except ImportError:
        raise EnvError(f"environment '{env_id}' needs the MinAtar package: pip install 'minatar>=1.0.15'") from None
    if not any(k.startswith("MinAtar/") for k in gym.registry):
        minatar_gym.register_envs()


def _entry_point(env_id: str) -> str:
    try:
        return str(gym.spec(split_id(env_id)[1]).entry_point)
    except gym.error.Error:
        return ""


def is_atari(env_id: str) -> bool:
    """An ALE id (``ALE/Pong-v5``, ...): registered by ale-py."""
    return _entry_point(env_id).startswith("ale_py")


def env_class(env_id: str) -> str:
    """The class name of a registered id's entry point (``Hopper-v5`` -> ``HopperEnv``), or ''."""
    return _entry_point(env_id).rsplit(":", 1)[-1]


def is_gym_mujoco(env_id: str) -> bool:
    """A registered id whose env is one of Gymnasium's MuJoCo envs."""
    return _entry_point(env_id).startswith("gymnasium.envs.mujoco")


def is_minatar(env_id: str) -> bool:
    """A MinAtar id (``MinAtar/Breakout-v1``, ...): named so, or registered by the ``minatar``
    package (``minatar.gym:BaseEnv``) under another name."""
    return split_id(env_id)[1].startswith("MinAtar/") or _entry_point(env_id).startswith("minatar")

"""trpo: Trust Region Policy Optimization and the policy-gradient family on Gymnasium."""
import trpo.envs.pomdp  # noqa: F401  registers trpo/CartPoleNoVelocity-v1 and trpo/PendulumNoVelocity-v1
from trpo._version import __version__
from trpo.config import Config, load_toml
from trpo.errors import CheckpointError, ConfigError, EnvError, NonFiniteError, TrpoError


def train(*args, **kwargs):
    """Train an agent; see :func:`trpo.trainer.train` (the module is ``trpo.trainer`` so that
    ``trpo.train`` stays this function)."""
    from trpo.trainer import train as _train
    return _train(*args, **kwargs)


def load(path, device=None, best: bool = False, env_fn=None, actor=None, critic=None):
    """Load an :class:`trpo.agent.Agent` from a run directory or checkpoint manifest (``best``: the
    best-evaluated policy, ``checkpoints/best``; ``env_fn``: the env factory the run trained with;
    ``actor`` / ``critic``: the own networks it trained with, given again)."""
    from trpo.agent import Agent
    return Agent.load(path, device=device, best=best, env_fn=env_fn, actor=actor, critic=critic)


__all__ = ["Config", "load_toml", "train", "load", "TrpoError", "ConfigError", "CheckpointError",
           "EnvError", "NonFiniteError", "__version__"]

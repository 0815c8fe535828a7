"""trpo: Trust Region Policy Optimization and the policy-gradient family on Gymnasium."""
__version__ = "0.1.0"

from trpo.config import Config, load_toml  # noqa: E402
from trpo.errors import CheckpointError, ConfigError, EnvError, NonFiniteError, TrpoError  # noqa: E402


def train(*args, **kwargs):
    """Train an agent; see :func:`trpo.trainer.train` (the module is ``trpo.trainer`` so that
    ``trpo.train`` stays this function)."""
    from trpo.trainer import train as _train
    return _train(*args, **kwargs)


def load(path, device=None):
    """Load an :class:`trpo.agent.Agent` from a run directory or checkpoint manifest."""
    from trpo.agent import Agent
    return Agent.load(path, device=device)


__all__ = ["Config", "load_toml", "train", "load", "TrpoError", "ConfigError", "CheckpointError",
           "EnvError", "NonFiniteError", "__version__"]

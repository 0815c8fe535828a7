"""The networks a config asks for: the one place that chooses between the MLP networks
(``trpo.nets.policies``) and the recurrent ones (``trpo.nets.recurrent``), so that neither of
those modules imports the other's users; and where a user's own networks
(``trpo.train(cfg, actor=..., critic=...)``) are fitted to the same interfaces.

Own networks, the protocol (docs/networks.md):

* ``actor``: either an ``trpo.nets.policies.Actor`` (a built-in ``CategoricalActor`` /
  ``MultiCategoricalActor`` / ``GaussianActor`` with a ``net`` of one's own, or a subclass of
  ``Actor`` implementing its vocabulary: ``dist_params``, ``log_prob``, ``kl``, ``entropy``,
  ``mode``, ``sample``), used as it is; or any ``nn.Module`` mapping a batch of observations
  (B, *obs_shape) to the head's outputs (B, n): the logits of a Discrete space (n actions), of
  every MultiDiscrete component (concatenated), or a Box's Gaussian mean (n = its dimension). The
  built-in head for the action space wraps it (as its ``net``; a Gaussian adds its
  state-independent log-std, ``log_std_init``).
* ``critic``: an ``nn.Module`` mapping (B, *obs_shape) to values (B,) (or (B, 1)).
* Each may be an instance (used, and trained, in place), a factory of no arguments, or a
  factory of ``(obs_space, act_space)``. Observations arrive normalised (float32) or, for image
  spaces, as uint8 frames. MLP policies only (``policy = "mlp"``).
"""
from __future__ import annotations

import inspect
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn

from trpo.nets.normalize import ObsNormalizer
from trpo.nets.policies import Actor, Critic, ImageTrunk, is_image_space, make_actor, make_critic
from trpo.nets.recurrent import RecurrentActor, RecurrentCritic


def make_networks(cfg, obs_space: gym.Space, act_space: gym.Space, device: torch.device,
                  actor=None, critic=None):
    """The actor, the critic and the observation normaliser a config asks for (the ``Agent``'s
    parts; also built by samplers' remote workers). ``actor`` / ``critic``: one's own networks
    (``own_actor`` / ``own_critic``: the protocol above) in place of the built-in ones."""
    actor_hidden, critic_hidden = cfg.actor_hidden or cfg.hidden, cfg.critic_hidden or cfg.hidden
    nets = {"activation": cfg.activation, "ortho_init": cfg.ortho_init}
    if (actor is not None or critic is not None) and cfg.policy != "mlp":
        raise ValueError(f"own actor/critic networks need policy = 'mlp' (got {cfg.policy!r})")
    if cfg.shared_trunk and (actor is not None or critic is not None):
        raise ValueError("config key 'shared_trunk' = true builds both networks; with own networks, share "
                         "layers between them in one's own modules instead")
    if actor is not None:
        actor = own_actor(actor, obs_space, act_space, cfg.log_std_init, cfg.clipped_action_logprob).to(device)
    if critic is not None:
        critic = own_critic(critic, obs_space, act_space).to(device)
    if cfg.policy == "mlp":
        if actor is None:
            actor = make_actor(obs_space, act_space, actor_hidden, cfg.log_std_init, cfg.cnn,
                               cfg.clipped_action_logprob, **nets).to(device)
        if critic is None:
            critic = make_critic(obs_space, critic_hidden, cfg.cnn, **nets,
                                 trunk=shared_trunk(cfg, obs_space, actor)).to(device)
    else:
        actor = RecurrentActor(obs_space, act_space, actor_hidden, cfg.policy, cfg.rnn_hidden, cfg.log_std_init,
                               cfg.cnn, cfg.clipped_action_logprob, **nets).to(device)
        critic = RecurrentCritic(obs_space, critic_hidden, cfg.policy, cfg.rnn_hidden, cfg.cnn, **nets).to(device)
    image = is_image_space(obs_space)  # frames: scaled by the CNN, kept in their dtype (uint8)
    obs_norm = ObsNormalizer(obs_space.shape, cfg.normalize_obs and not image, cfg.clip_obs,  # type: ignore[arg-type]  # Box spaces
                             dtype=obs_space.dtype if image else np.float32)
    return actor, critic, obs_norm


def shared_trunk(cfg, obs_space: gym.Space, actor: Actor) -> ImageTrunk | None:
    """The actor's CNN trunk for the critic to read too (``cfg.shared_trunk``), else None."""
    if not cfg.shared_trunk:
        return None
    if not is_image_space(obs_space):
        raise ValueError(f"config key 'shared_trunk' = true shares a CNN trunk; observations of shape "
                         f"{obs_space.shape} ({obs_space.dtype}) are not images (a 3-D uint8 Box)")
    return actor.net[0]  # type: ignore[index]  # make_actor on images: Sequential(trunk, head)


# --- one's own networks ------------------------------------------------------------------------------
def _instance(spec, obs_space: gym.Space, act_space: gym.Space, role: str) -> nn.Module:
    """An ``nn.Module`` given as itself or by a factory of () or (obs_space, act_space)."""
    if isinstance(spec, nn.Module):
        return spec
    if not callable(spec):
        raise ValueError(f"{role}= must be an nn.Module or a factory returning one, got {type(spec).__name__}")
    try:
        n = len([p for p in inspect.signature(spec).parameters.values()
                 if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])
    except (TypeError, ValueError):  # no signature to read (a builtin): call it with the spaces
        n = 2
    module = spec() if n == 0 else spec(obs_space, act_space)
    if not isinstance(module, nn.Module):
        raise ValueError(f"the {role} factory returned {type(module).__name__}, not an nn.Module")
    return module


def _probe(obs_space: gym.Space, n: int = 2) -> Tensor:
    dtype = np.uint8 if is_image_space(obs_space) else np.float32
    return torch.zeros((n, *(obs_space.shape or ())), dtype=torch.from_numpy(np.zeros(0, dtype)).dtype)


def _head_size(act_space: gym.Space) -> int:
    if isinstance(act_space, gym.spaces.Discrete):
        return int(act_space.n)
    if isinstance(act_space, gym.spaces.MultiDiscrete):
        return int(np.sum(act_space.nvec))
    return int(np.prod(act_space.shape or ()))


def own_actor(spec, obs_space: gym.Space, act_space: gym.Space, log_std_init: float = 0.0,
              clipped_logprob: bool = False) -> Actor:
    """One's own actor (the protocol in this module's docstring): an ``Actor`` as it is, any other
    module wrapped by the built-in head for ``act_space`` as its ``net``."""
    module = _instance(spec, obs_space, act_space, "actor")
    if isinstance(module, Actor):
        if module.recurrent:
            raise ValueError("an own actor must not be recurrent (policy = 'mlp' networks only)")
        return module
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    with torch.no_grad():
        out = module(_probe(obs_space).to(device))
    want = (2, _head_size(act_space))
    if not isinstance(out, Tensor) or tuple(out.shape) != want:
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"the actor module {type(module).__name__} gives {got} for a batch of 2 observations; "
                         f"the head of {act_space} needs {want}")
    # the built-in head of this action space on a placeholder input, its net then replaced
    head = make_actor(gym.spaces.Box(-1.0, 1.0, (1,), np.float32), act_space, (), log_std_init,
                      clipped_logprob=clipped_logprob)
    head.net = module
    return head


class ModuleCritic(nn.Module):
    """A critic of one's own: ``net`` maps observations to values, (B,) or (B, 1); this gives (B,)."""

    recurrent = False

    def __init__(self, net: nn.Module, obs_ndim: int):
        super().__init__()
        self.net, self.obs_ndim = net, obs_ndim

    def forward(self, obs: Tensor) -> Tensor:
        v = self.net(obs)
        lead = tuple(obs.shape[:obs.dim() - self.obs_ndim])
        if tuple(v.shape) == (*lead, 1):
            v = v.squeeze(-1)
        if tuple(v.shape) != lead:
            raise ValueError(f"the critic module {type(self.net).__name__} gives values of shape {tuple(v.shape)} "
                             f"for observations {tuple(obs.shape)}; expected {lead} (or {(*lead, 1)})")
        return v


def own_critic(spec, obs_space: gym.Space, act_space: gym.Space) -> nn.Module:
    """One's own critic: a built-in ``Critic`` as it is, any other module wrapped as ``ModuleCritic``
    (checked once on a batch of 2 observations)."""
    module = _instance(spec, obs_space, act_space, "critic")
    if isinstance(module, Critic):
        return module
    critic = module if isinstance(module, ModuleCritic) else ModuleCritic(module, len(obs_space.shape or ()))
    device = next((p.device for p in critic.parameters()), torch.device("cpu"))
    with torch.no_grad():
        critic(_probe(obs_space).to(device))  # the shape check, before any training
    return critic


def network_name(module: nn.Module) -> str:
    """The class of one's own network as a checkpoint records it (the wrapped module's)."""
    inner: Any = module.net if isinstance(module, ModuleCritic) else module
    if type(inner).__module__.startswith("trpo.nets") and hasattr(inner, "net"):
        inner = inner.net  # a built-in head around one's own net
    return f"{type(inner).__module__}.{type(inner).__qualname__}"

"""The networks a config asks for: the one place that chooses between the MLP networks
(``trpo.nets.policies``) and the recurrent ones (``trpo.nets.recurrent``), so that neither of
those modules imports the other's users."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from trpo.nets.normalize import ObsNormalizer
from trpo.nets.policies import is_image_space, make_actor, make_critic
from trpo.nets.recurrent import RecurrentActor, RecurrentCritic


def make_networks(cfg, obs_space: gym.Space, act_space: gym.Space, device: torch.device):
    """The actor, the critic and the observation normaliser a config asks for (the ``Agent``'s
    parts; also built by samplers' remote workers)."""
    actor_hidden, critic_hidden = cfg.actor_hidden or cfg.hidden, cfg.critic_hidden or cfg.hidden
    nets = {"activation": cfg.activation, "ortho_init": cfg.ortho_init}
    if cfg.policy == "mlp":
        actor = make_actor(obs_space, act_space, actor_hidden, cfg.log_std_init, cfg.cnn,
                           cfg.clipped_action_logprob, **nets).to(device)
        critic: torch.nn.Module = make_critic(obs_space, critic_hidden, cfg.cnn, **nets).to(device)
    else:
        actor = RecurrentActor(obs_space, act_space, actor_hidden, cfg.policy, cfg.rnn_hidden, cfg.log_std_init,
                               cfg.cnn, cfg.clipped_action_logprob, **nets).to(device)
        critic = RecurrentCritic(obs_space, critic_hidden, cfg.policy, cfg.rnn_hidden, cfg.cnn, **nets).to(device)
    image = is_image_space(obs_space)  # frames: scaled by the CNN, kept in their dtype (uint8)
    obs_norm = ObsNormalizer(obs_space.shape, cfg.normalize_obs and not image, cfg.clip_obs,  # type: ignore[arg-type]  # Box spaces
                             dtype=obs_space.dtype if image else np.float32)
    return actor, critic, obs_norm

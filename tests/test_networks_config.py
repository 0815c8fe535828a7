"""The networks keys: actor_hidden / critic_hidden (empty: hidden), activation, ortho_init, wired
through make_networks for MLP, recurrent and image networks."""
import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from trpo import Config, ConfigError
from trpo.config import from_dict
from trpo.nets.factory import make_networks
from trpo.nets.policies import ACTIVATIONS, plain_actor_class, plain_critic_mlp

BOX = gym.spaces.Box(-1.0, 1.0, (5,), np.float32)
CPU = torch.device("cpu")


def _linears(net):
    return [m for m in net.modules() if type(m) is nn.Linear]


def test_layer_sizes_per_network_and_the_default():
    cfg = Config(hidden=(16, 16), actor_hidden=(32,), critic_hidden=())
    actor, critic, _ = make_networks(cfg, BOX, gym.spaces.Discrete(3), CPU)
    assert [m.out_features for m in _linears(actor.net)] == [32, 3]
    assert [m.out_features for m in _linears(critic.net)] == [16, 16, 1]  # empty: hidden
    assert from_dict({"actor_hidden": ""}).actor_hidden == ()
    with pytest.raises(ConfigError, match="positive integers"):
        from_dict({"critic_hidden": [0]})


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_activation_everywhere_but_the_cnn(activation):
    cls = ACTIVATIONS[activation][0]
    cfg = Config(activation=activation, hidden=(8, 8))
    actor, critic, _ = make_networks(cfg, BOX, gym.spaces.Box(-1, 1, (2,)), CPU)
    assert all(type(m) is cls for m in (*actor.net[1::2], *critic.net[1::2]))
    assert plain_actor_class(actor) is not None and plain_critic_mlp(critic)[1] == activation
    rec_actor, rec_critic, _ = make_networks(cfg.replace(policy="gru"), BOX, gym.spaces.Discrete(2), CPU)
    assert all(type(m) is cls for m in (*rec_actor.head.net[1::2], *rec_critic.net[1::2]))
    frames = gym.spaces.Box(0, 255, (4, 36, 36), np.uint8)
    img_actor, img_critic, _ = make_networks(cfg, frames, gym.spaces.Discrete(2), CPU)
    acts = {type(m) for m in (*img_actor.modules(), *img_critic.modules()) if type(m) in
            {c for c, _ in ACTIVATIONS.values()}}
    assert acts == {nn.ReLU}  # the trunks keep ReLU; the head is one Linear layer


def test_ortho_init_false_is_pytorchs_default_init():
    torch.manual_seed(0)
    a, c, _ = make_networks(Config(ortho_init=False), BOX, gym.spaces.Discrete(2), CPU)
    torch.manual_seed(0)
    want = [nn.Linear(5, 64), nn.Linear(64, 64), nn.Linear(64, 2)]  # the same draws, nothing after them
    for got, ref in zip(_linears(a.net), want):
        assert torch.equal(got.weight, ref.weight) and torch.equal(got.bias, ref.bias)
    torch.manual_seed(0)
    b, _, _ = make_networks(Config(), BOX, gym.spaces.Discrete(2), CPU)
    assert all(float(m.bias.abs().sum()) == 0 for m in _linears(b.net))  # orthogonal init: zero biases
    assert float(_linears(a.net)[0].bias.abs().sum()) > 0

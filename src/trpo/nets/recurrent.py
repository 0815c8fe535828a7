"""Recurrent actors and critics (``policy = "gru"`` or ``"lstm"``): memory for partially observed envs.

The policy gradient needs no Markov assumption (policy-gradients lecture notes, Remark 3.3): with
a history-dependent policy pi_theta(a_t | o_1, ..., o_t) = pi_theta(a_t | h_t), where the hidden
state h_t = f_theta(h_{t-1}, o_t) summarises the history, the likelihood-ratio gradient is
E[sum_t grad log pi_theta(a_t | h_t) A_t], the gradient of log pi flowing back through the
recurrence. The trust region carries over the same way: the mean KL over the visited histories,
whose Hessian at theta_old is the Fisher; its products come from autograd through the unrolled
network (``trpo.functional.fisher``), so TRPO and NPG need nothing new.

A network reads observations in two ways:
  ``step(obs, state) -> (out, state')``   one step of N envs (acting, evaluation, export, vine);
  ``forward``/``dist_params(Sequences)``  M chunks of L steps (training; ``functional.sequences``),
                                          each from its stored first state, reset to zero at
                                          every episode start inside the chunk.
Actor and critic each have their own recurrent core (separate parameters, as the MLP ones).

Layout: observation -> (an ``ImageTrunk`` for images) -> GRU or LSTM cell of ``rnn_hidden`` units
-> the MLP ``actor_hidden`` / ``critic_hidden`` (default ``hidden``; ``activation``) -> the head
(the built-in actors' distributions, or V). The cells are
written out from two Linear layers so that differentiating through their backward pass (both
Fisher-vector product forms do) never depends on a fused kernel having a double backward;
initialisation as sb3-contrib's RecurrentPPO (orthogonal weights, zero biases).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from trpo.functional.sequences import Sequences
from trpo.nets.policies import Actor, ImageTrunk, flat_obs_dim, image_spec, is_image_space, make_actor, mlp

KINDS = ("gru", "lstm")


class RecurrentCore(nn.Module):
    """A GRU (Cho et al. 2014) or LSTM (Hochreiter & Schmidhuber 1997, with the forget gate of Gers
    et al. 2000) cell, in PyTorch's gate convention. The state is h (GRU) or [h, c] (LSTM)."""

    def __init__(self, in_dim: int, hidden: int, kind: str):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"unknown recurrent cell {kind!r}; choose from {', '.join(KINDS)}")
        self.kind, self.hidden = kind, hidden
        gates = 3 if kind == "gru" else 4
        self.x2h = nn.Linear(in_dim, gates * hidden)
        self.h2h = nn.Linear(hidden, gates * hidden)
        for lin in (self.x2h, self.h2h):
            nn.init.orthogonal_(lin.weight)
            nn.init.zeros_(lin.bias)
        self.state_size = hidden if kind == "gru" else 2 * hidden

    def cell(self, gx: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        """One step from the input's gate pre-activations ``gx = W_x x + b_x``: (output, state')."""
        H = self.hidden
        if self.kind == "gru":
            h = state
            gh = self.h2h(h)
            r = torch.sigmoid(gx[..., :H] + gh[..., :H])                   # reset gate
            z = torch.sigmoid(gx[..., H:2 * H] + gh[..., H:2 * H])         # update gate
            n = torch.tanh(gx[..., 2 * H:] + r * gh[..., 2 * H:])          # candidate
            h = (1.0 - z) * n + z * h                                      # h' = (1 - z) n + z h
            return h, h
        h, c = state[..., :H], state[..., H:]
        g = gx + self.h2h(h)
        i, f, o = torch.sigmoid(g[..., :H]), torch.sigmoid(g[..., H:2 * H]), torch.sigmoid(g[..., 3 * H:])
        c = f * c + i * torch.tanh(g[..., 2 * H:3 * H])                    # c' = f c + i tanh(g)
        h = o * torch.tanh(c)                                              # h' = o tanh(c')
        return h, torch.cat([h, c], -1)

    def step(self, x: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        return self.cell(self.x2h(x), state)

    def unroll(self, x: Tensor, starts: Tensor, state0: Tensor) -> Tensor:
        """Outputs (M, L, hidden) for inputs (M, L, in): the state reset to zero where ``starts``."""
        gx = self.x2h(x)  # every step's input projection in one product
        keep = (~starts).to(gx.dtype).unsqueeze(-1)
        state, outs = state0, []
        for t in range(x.shape[1]):
            out, state = self.cell(gx[:, t], state * keep[:, t])
            outs.append(out)
        return torch.stack(outs, 1)


class _Encoder(nn.Module):
    """Observation -> recurrent output: the optional image trunk, then the cell."""

    def __init__(self, obs_space, rnn_hidden: int, kind: str, cnn: str):
        super().__init__()
        self.trunk = (ImageTrunk(obs_space.shape, image_spec(obs_space.shape, cnn)) if is_image_space(obs_space)
                      else None)
        self.obs_ndim = len(obs_space.shape)
        in_dim = self.trunk.out_dim if self.trunk is not None else flat_obs_dim(obs_space)
        self.core = RecurrentCore(in_dim, rnn_hidden, kind)

    def _features(self, obs: Tensor) -> Tensor:
        if self.trunk is not None:
            return self.trunk(obs)
        lead = obs.shape[:obs.dim() - self.obs_ndim]
        return obs.reshape(*lead, self.core.x2h.in_features).to(self.core.x2h.weight.dtype)

    def unroll(self, x: Sequences) -> Tensor:
        return self.core.unroll(self._features(x.obs), x.starts, x.state0)

    def step(self, obs: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        return self.core.step(self._features(obs), state)


class _Memory:
    """What a recurrent actor and critic share: the flag, the state's size, its zero at a start."""

    recurrent = True
    encoder: _Encoder

    @property
    def state_size(self) -> int:
        return self.encoder.core.state_size

    def initial_state(self, n: int, device: torch.device | None = None) -> Tensor:
        return torch.zeros(n, self.state_size, device=device or self.encoder.core.x2h.weight.device)


class RecurrentActor(_Memory, Actor):
    """pi_theta(a_t | h_t): the encoder's output fed to a built-in actor (its MLP and its
    distribution: Categorical, MultiCategorical or diagonal Gaussian)."""

    def __init__(self, obs_space, act_space, hidden: tuple[int, ...], kind: str, rnn_hidden: int,
                 log_std_init: float = 0.0, cnn: str = "trpo", clipped_logprob: bool = False,
                 activation: str = "tanh", ortho_init: bool = True):
        super().__init__()
        self.encoder = _Encoder(obs_space, rnn_hidden, kind, cnn)
        from gymnasium.spaces import Box
        self.head = make_actor(Box(-1.0, 1.0, (rnn_hidden,)), act_space, hidden, log_std_init,
                               clipped_logprob=clipped_logprob, activation=activation, ortho_init=ortho_init)
        self.discrete = self.head.discrete

    def dist_params(self, x: Sequences) -> tuple[Tensor, ...]:  # type: ignore[override]  # reads Sequences
        if not isinstance(x, Sequences):
            raise TypeError("a recurrent actor reads Sequences (training) or steps with actor.step(obs, state)")
        return self.head.dist_params(x.read(self.encoder.unroll(x)))

    def step(self, obs: Tensor, state: Tensor) -> tuple[tuple[Tensor, ...], Tensor]:
        out, state = self.encoder.step(obs, state)
        return self.head.dist_params(out), state

    def log_prob(self, params, a):
        return self.head.log_prob(params, a)

    def kl(self, old, new):
        return self.head.kl(old, new)

    def entropy(self, params):
        return self.head.entropy(params)

    def mode(self, params):
        return self.head.mode(params)

    def sample(self, params, generator=None):
        return self.head.sample(params, generator)


class RecurrentCritic(_Memory, nn.Module):
    """V_psi(h_t): its own encoder (cell and state), then an MLP (tanh by default) with a scalar output."""

    def __init__(self, obs_space, hidden: tuple[int, ...], kind: str, rnn_hidden: int, cnn: str = "trpo",
                 activation: str = "tanh", ortho_init: bool = True):
        super().__init__()
        self.encoder = _Encoder(obs_space, rnn_hidden, kind, cnn)
        self.net = mlp([rnn_hidden, *hidden, 1], activation, out_gain=1.0, ortho_init=ortho_init)

    def forward(self, x: Sequences) -> Tensor:
        if not isinstance(x, Sequences):
            raise TypeError("a recurrent critic reads Sequences (training) or steps with critic.step(obs, state)")
        return self.net(x.read(self.encoder.unroll(x))).squeeze(-1)

    def step(self, obs: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        out, state = self.encoder.step(obs, state)
        return self.net(out).squeeze(-1), state

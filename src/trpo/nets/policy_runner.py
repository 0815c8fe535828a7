"""Acting fast: one batched forward per vector-env step, no autograd, no per-step torch objects.

For the plain MLP actors (tanh, or another activation of ``policies.ACTIVATIONS``) the forward
pass runs in numpy (float64) on a copy of the weights
taken once per iteration: a batch-of-8 forward costs a few microseconds here, against ~0.5 ms for a
torch forward plus a ``torch.distributions`` sample. Any other actor falls back to torch under
``inference_mode``. Only actions are produced: log-probabilities under pi_old are recomputed in
torch by the learner, so the importance ratio is exactly 1 at theta_old.
"""
from __future__ import annotations

import numpy as np
import torch

from trpo.nets.policies import ACTIVATIONS, Actor, CategoricalActor, GaussianActor, plain_actor_class, plain_mlp


class NumpyPolicy:
    """The built-in actors' sampling rules in numpy, for actors that compute exactly those
    (``plain_actor_class``: the one rule every fast path uses)."""

    def __init__(self, actor: Actor):
        self.kind = plain_actor_class(actor)
        if self.kind is None:
            raise TypeError(f"{type(actor).__name__} is not a plain built-in actor; use TorchPolicy")
        # (W^T, b): the transposed views made once, not at every step (the same strides, the same sums)
        self.layers = [(w.T, b) for w, b in actor.numpy_layers()]
        plain = plain_mlp(actor.net)
        assert plain is not None  # plain_actor_class: a plain MLP
        self.activation_name = plain[1]
        self.activation = ACTIVATIONS[plain[1]][1]  # numpy forward of the hidden layers
        self.log_std = actor.clamped_log_std().detach().double().numpy() if self.kind is GaussianActor else None  # type: ignore[operator]  # a GaussianActor
        self.std = np.exp(self.log_std) if self.log_std is not None else None
        self.nvec = getattr(actor, "nvec", None)

    @staticmethod
    def supports(actor: Actor) -> bool:
        return plain_actor_class(actor) is not None

    # pickled by activation name (some activations are lambdas): a split helper acts with a copy
    def __getstate__(self) -> dict:
        return {**self.__dict__, "activation": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.activation = ACTIVATIONS[self.activation_name][1]

    @property
    def numpy_only(self) -> bool:
        """Whether the forward is numpy alone (tanh, relu, elu; gelu and silu call torch): what a
        forked process may run (a forked child must not enter the parent's OpenMP pool)."""
        return self.activation_name in ("tanh", "relu", "elu")

    @property
    def draws_ahead(self) -> bool:
        """Whether a batch's noise can be drawn before it (``noise``): the Gaussian's and the
        categorical's draws, one array per step, are one array per batch from the same stream."""
        return self.kind is GaussianActor or self.kind is CategoricalActor

    def _draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        """The Gaussian's or the categorical's noise, ``shape`` of it (``draws_ahead`` kinds)."""
        return rng.standard_normal(shape) if self.kind is GaussianActor else rng.gumbel(size=shape)

    def _sample(self, out: np.ndarray, scaled: np.ndarray) -> np.ndarray:
        """The sample from the head's output (added to in place) and its noise as ``scale_noise``
        gives it: mean + std * eps (float32), or Gumbel-max for a categorical (argmax(logits + G)
        is a sample of softmax(logits))."""
        if self.kind is GaussianActor:
            out += scaled
            return out.astype(np.float32)
        return (out + scaled).argmax(-1)

    def noise(self, rng: np.random.Generator, steps: int, n: int) -> np.ndarray:
        """The noise of ``steps`` calls of ``act`` on n observations, drawn at once: (steps, n, k).
        numpy's generators fill an array in order, so these are the values (and the generator's
        state after them) that ``act`` draws one step at a time."""
        return self._draw(rng, (steps, n, self.layers[-1][0].shape[1]))

    def act_with(self, obs: np.ndarray, noise: np.ndarray, rows: slice = slice(None)) -> np.ndarray:
        """``act``'s sample with its noise given (a step of ``noise``), for ``rows`` of ``obs``. The
        forward runs on every row of ``obs``: the last bits of a row's float64 product depend on
        how many rows the matrix has (BLAS takes another kernel for one row), not on their
        values, so a process that fills only its own rows gets the bits ``act`` gives on the
        whole batch (the float32 action hides most such differences; this leaves none)."""
        return self.act_scaled(obs, self.scale_noise(noise), rows)

    def scale_noise(self, noise: np.ndarray) -> np.ndarray:
        """``noise`` as the sample adds it to the head's output: std * eps for a Gaussian (one
        product for a whole batch of steps, the values each step's product gives), a
        categorical's Gumbel draws as they are. For ``act_scaled``."""
        return self.std * noise if self.kind is GaussianActor else noise

    def act_scaled(self, obs: np.ndarray, scaled: np.ndarray, rows: slice = slice(None)) -> np.ndarray:
        """``act_with`` with its step of noise already scaled (``scale_noise``): the same sample."""
        return self._sample(self._out(obs)[rows], scaled)

    def _out(self, obs: np.ndarray) -> np.ndarray:
        x = obs.astype(np.float64)
        last = len(self.layers) - 1
        for i, (wt, b) in enumerate(self.layers):
            x = x @ wt
            x += b  # (x @ W^T) + b, in place
            if i < last:
                x = self.activation(x)
        return x

    def act(self, obs: np.ndarray, rng: np.random.Generator, deterministic: bool = False) -> np.ndarray:
        out = self._out(obs)
        if self.draws_ahead:
            if deterministic:
                return out.astype(np.float32) if self.kind is GaussianActor else out.argmax(-1)
            return self._sample(out, self.scale_noise(self._draw(rng, out.shape)))
        parts = np.split(out, np.cumsum(self.nvec)[:-1], axis=-1)  # type: ignore[arg-type]  # MultiCategorical: set
        return np.stack([(p if deterministic else p + rng.gumbel(size=p.shape)).argmax(-1) for p in parts], -1)


class TorchPolicy:
    def __init__(self, actor: Actor, device: torch.device):
        self.actor, self.device = actor, device

    def act(self, obs: np.ndarray, rng: np.random.Generator, deterministic: bool = False) -> np.ndarray:
        gen = torch.Generator(device=self.device).manual_seed(int(rng.integers(2**63 - 1)))
        with torch.inference_mode():
            params = self.actor.dist_params(torch.as_tensor(obs, dtype=torch.float32, device=self.device))
            a = self.actor.mode(params) if deterministic else self.actor.sample(params, gen)
        return a.cpu().numpy()


class RecurrentPolicy:
    """Acting with a recurrent actor (``trpo.nets.recurrent``): one step of every env from its hidden
    state, ``act(obs, state, rng) -> (actions, state')``. The caller keeps the states between steps
    (the sampler, an evaluation) and zeroes an env's state when its episode ends (``reset``).
    With a ``critic`` its state is stepped along (the sampler stores it for the learner's values);
    ``state`` is then the pair (actor state, critic state). Sampling draws as ``TorchPolicy``."""

    def __init__(self, actor: Actor, device: torch.device, critic: torch.nn.Module | None = None):
        self.actor, self.critic, self.device = actor, critic, device

    def initial_state(self, n: int) -> tuple[torch.Tensor, ...]:
        nets = (self.actor,) if self.critic is None else (self.actor, self.critic)
        return tuple(net.initial_state(n, self.device) for net in nets)  # type: ignore[operator]  # recurrent networks

    @torch.no_grad()
    def act(self, obs: np.ndarray, state: tuple[torch.Tensor, ...], rng: np.random.Generator,
            deterministic: bool = False) -> tuple[np.ndarray, tuple[torch.Tensor, ...]]:
        gen = torch.Generator(device=self.device).manual_seed(int(rng.integers(2**63 - 1)))
        x = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        params, h = self.actor.step(x, state[0])  # type: ignore[operator]  # a RecurrentActor
        a = self.actor.mode(params) if deterministic else self.actor.sample(params, gen)
        new = (h,) if self.critic is None else (h, self.critic.step(x, state[1])[1])  # type: ignore[operator]  # a RecurrentCritic
        return a.cpu().numpy(), new

    @staticmethod
    def reset(state: tuple[torch.Tensor, ...], done: np.ndarray) -> tuple[torch.Tensor, ...]:
        """The states with the rows of finished episodes zeroed (their next step starts afresh)."""
        if not done.any():
            return state
        keep = torch.as_tensor(~done, device=state[0].device).unsqueeze(-1)
        return tuple(h * keep for h in state)


def make_policy(actor: Actor, device: torch.device):
    if getattr(actor, "recurrent", False):
        raise TypeError("a recurrent actor acts with RecurrentPolicy (it needs a hidden state per env)")
    return NumpyPolicy(actor) if NumpyPolicy.supports(actor) else TorchPolicy(actor, device)

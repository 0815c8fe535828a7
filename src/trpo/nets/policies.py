"""Actors and critics. Actor and critic are separate modules with separate parameters.

An actor maps observations to the parameters of its action distribution (its "head"):
``CategoricalActor`` -> (logits,), ``GaussianActor`` -> (mean, log_std) with a
state-independent log-std, ``MultiCategoricalActor`` -> (logits of every sub-space, concatenated).
Every actor offers the same small vocabulary the algorithms use:
``dist_params(obs)``, ``log_prob(params, a)``, ``kl(params_old, params_new)``, ``entropy(params)``,
``mode(params)`` — so no algorithm ever looks inside a network or picks parameters by name.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn

from trpo.functional import kl as K
from trpo.functional.mlp import ACTIVATIONS as MLP_ACTIVATIONS

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0  # documented bounds on the Gaussian log-std (std in [0.0067, 7.4])


def _gelu_np(x: np.ndarray) -> np.ndarray:
    return torch.nn.functional.gelu(torch.from_numpy(x)).numpy()  # erf: torch's, on the array itself


def _silu_np(x: np.ndarray) -> np.ndarray:
    return torch.nn.functional.silu(torch.from_numpy(x)).numpy()


#: the activations a config may name (``activation``): each one's module and its numpy forward for
#: ``policy_runner`` (float64); their derivatives are ``trpo.functional.mlp.ACTIVATIONS``. The one
#: table behind the fast-path rule (``plain_mlp``): an activation that is not here (or a module
#: configured otherwise, as ELU with alpha != 1 or GELU's tanh approximation) takes the torch path.
ACTIVATIONS: dict[str, tuple[type[nn.Module], Callable[[np.ndarray], np.ndarray]]] = {
    "tanh": (nn.Tanh, np.tanh),
    "relu": (nn.ReLU, lambda x: np.maximum(x, 0.0)),
    "elu": (nn.ELU, lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))),
    "gelu": (nn.GELU, _gelu_np),
    "silu": (nn.SiLU, _silu_np),
}


def activation_name(m: nn.Module) -> str | None:
    """The ``ACTIVATIONS`` name of the activation module ``m`` when the written-out paths compute
    exactly what it does; None otherwise."""
    for name, (cls, _) in ACTIVATIONS.items():
        if type(m) is cls and name in MLP_ACTIVATIONS:
            if (name == "elu" and m.alpha != 1.0) or (name == "gelu" and m.approximate != "none"):
                return None
            return name
    return None


def mlp(sizes: list[int], activation: str | type[nn.Module] = nn.Tanh, out_gain: float = 1.0,
        ortho_init: bool = True) -> nn.Sequential:
    """MLP (tanh by default; ``activation`` a module class or an ``ACTIVATIONS`` name) with
    orthogonal init (gain sqrt 2 on hidden layers, ``out_gain`` on the last, zero biases), the
    peers' default; ``ortho_init=False`` keeps PyTorch's default Linear init."""
    act = ACTIVATIONS[activation][0] if isinstance(activation, str) else activation
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        lin = nn.Linear(sizes[i], sizes[i + 1])
        last = i == len(sizes) - 2
        if ortho_init:
            nn.init.orthogonal_(lin.weight, gain=out_gain if last else math.sqrt(2))
            nn.init.zeros_(lin.bias)
        layers.append(lin)
        if not last:
            layers.append(act())
    return nn.Sequential(*layers)


def plain_mlp(net: nn.Module) -> tuple[list[nn.Linear], str] | None:
    """(its Linear layers, its activation's name) when ``net`` is exactly Linear, f, Linear, ...,
    Linear with one activation f of ``ACTIVATIONS`` throughout (a single Linear: "tanh", unused);
    else None. The rule behind every fast path (numpy acting, the written-out critic gradient and
    Fisher product): what it does not recognise takes the torch / autograd path."""
    if not isinstance(net, nn.Sequential) or len(net) % 2 == 0:
        return None
    mods: list[nn.Module] = list(net.children())
    linears = [m for m in mods[::2] if type(m) is nn.Linear]
    names = [n for n in map(activation_name, mods[1::2]) if n is not None]
    if len(linears) != len(mods[::2]) or len(names) != len(mods[1::2]) or len(set(names)) > 1:
        return None
    return linears, (names[0] if names else "tanh")


def tanh_mlp_linears(net: nn.Module) -> list[nn.Linear] | None:
    """The Linear layers of ``net`` when it is exactly Linear, Tanh, ..., Linear; else None."""
    found = plain_mlp(net)
    return found[0] if found is not None and found[1] == "tanh" else None


def flat_obs_dim(space: gym.Space) -> int:
    if not isinstance(space, gym.spaces.Box):
        raise ValueError(f"unsupported observation space {space}: trpo supports Box observations")
    return int(np.prod(space.shape))


def is_image_space(space: gym.Space) -> bool:
    """A 3-D uint8 Box: frames, channels first (C, H, W) as ``atari_wrappers`` gives, or last (H, W, C).
    MinAtar's bool (10, 10, C) grids reach the networks as uint8 (C, 10, 10) images of 0/255
    (``trpo.envs.make.MinAtarFrames``), so they are images too; a bool Box itself is not (the
    env checks reject non-numeric observations)."""
    return isinstance(space, gym.spaces.Box) and len(space.shape) == 3 and space.dtype == np.uint8


class ImageTrunk(nn.Module):
    """Pixels -> features: conv layers, then one fully connected layer, ReLU throughout.

    ``trpo``: the TRPO paper's Atari network (Schulman et al. 2015, Fig. 3): 16 4x4 filters with
    stride 2, twice, then 20 units. ``nature``: the DQN network (Mnih et al. 2015): 32 8x8/4,
    64 4x4/2, 64 3x3/1, then 512 units. ``minatar``: the MinAtar paper's network for 10x10 grids
    (Young & Tian 2019, Sec. 4: one conv layer of 16 3x3 filters with stride 1, then 128 units).
    Pixels are scaled by 1/255 here, so batches can carry uint8 frames (4x less memory than
    float32). Orthogonal init with gain sqrt(2), as ``mlp``."""

    #: kind -> ([(channels, kernel, stride) per conv layer], width of the dense layer)
    SPECS: ClassVar[dict[str, tuple[list[tuple[int, int, int]], int]]] = {
        "trpo": ([(16, 4, 2), (16, 4, 2)], 20), "nature": ([(32, 8, 4), (64, 4, 2), (64, 3, 1)], 512),
        "minatar": ([(16, 3, 1)], 128)}

    def __init__(self, obs_shape: tuple[int, ...], kind: str = "trpo"):
        super().__init__()
        convs, units = self.SPECS[kind]
        # channels last (H, W, C) when the last axis looks like colour or stacked frames and the first does not
        self.channels_last = obs_shape[-1] <= 4 < obs_shape[0]
        c, h, w = (obs_shape[2], obs_shape[0], obs_shape[1]) if self.channels_last else obs_shape
        layers: list[nn.Module] = []
        for out, k, stride in convs:
            conv = nn.Conv2d(c, out, k, stride)
            nn.init.orthogonal_(conv.weight, gain=math.sqrt(2))
            nn.init.zeros_(conv.bias)  # type: ignore[arg-type]  # bias=True
            layers += [conv, nn.ReLU()]
            c, h, w = out, (h - k) // stride + 1, (w - k) // stride + 1
        if h < 1 or w < 1:
            raise ValueError(f"image observations of shape {tuple(obs_shape)} are too small for the '{kind}' network")
        fc = nn.Linear(c * h * w, units)
        nn.init.orthogonal_(fc.weight, gain=math.sqrt(2))
        nn.init.zeros_(fc.bias)
        self.net = nn.Sequential(*layers, nn.Flatten(), fc, nn.ReLU())
        self.out_dim = units

    def forward(self, obs: Tensor) -> Tensor:
        lead = obs.shape[:-3]  # any batch shape
        x = obs.reshape(-1, *obs.shape[-3:])
        if self.channels_last:
            x = x.permute(0, 3, 1, 2)  # (B, C, H, W), a view
        # frames laid out NHWC in memory: oneDNN's convolutions run 1.4x faster forward and the
        # Fisher-vector product 1.6x faster here than on NCHW (the values are the same)
        dtype: torch.dtype = self.net[0].weight.dtype  # type: ignore[assignment]  # net[0]: a Conv2d
        x = x.contiguous(memory_format=torch.channels_last).to(dtype) / 255.0
        return self.net(x).reshape(*lead, self.out_dim)


def image_spec(obs_shape: tuple[int, ...], kind: str) -> str:
    """The ``ImageTrunk`` spec for images of ``obs_shape``: ``kind``, unless its convolutions would
    leave less than 2x2 of a small grid (``trpo`` and ``nature`` on MinAtar's 10x10: 1x1 and
    nothing), where the ``minatar`` network, made for such grids, is used instead."""
    if kind not in ImageTrunk.SPECS:
        raise ValueError(f"unknown cnn {kind!r}; choose from {', '.join(ImageTrunk.SPECS)}")
    channels_last = obs_shape[-1] <= 4 < obs_shape[0]  # as ImageTrunk decides it
    h, w = obs_shape[:2] if channels_last else obs_shape[1:]
    for _, k, stride in ImageTrunk.SPECS[kind][0]:
        h, w = (h - k) // stride + 1, (w - k) // stride + 1
    return kind if min(h, w) >= 2 else "minatar"


class Actor(nn.Module):
    """Base class: ``net`` maps flat observations to the head's raw outputs."""

    net: nn.Module
    discrete = False
    recurrent = False  # trpo.nets.recurrent.RecurrentActor: reads Sequences, steps with a hidden state

    def dist_params(self, obs: Tensor) -> tuple[Tensor, ...]:
        raise NotImplementedError

    def head_params(self, out: Tensor) -> tuple[Tensor, ...]:
        """The distribution's parameters from ``net``'s outputs: the built-in actors'
        ``dist_params(obs)`` is ``head_params(net(obs))`` (``actor_critic_forward`` feeds it features
        computed once for actor and critic)."""
        raise NotImplementedError

    def log_prob(self, params: tuple[Tensor, ...], a: Tensor) -> Tensor:
        raise NotImplementedError

    def kl(self, old: tuple[Tensor, ...], new: tuple[Tensor, ...]) -> Tensor:
        raise NotImplementedError

    def entropy(self, params: tuple[Tensor, ...]) -> Tensor:
        raise NotImplementedError

    def mode(self, params: tuple[Tensor, ...]) -> Tensor:
        raise NotImplementedError

    def sample(self, params: tuple[Tensor, ...], generator: torch.Generator | None = None) -> Tensor:
        raise NotImplementedError

    def fisher_parts(
            self, old: tuple[Tensor, ...],
    ) -> tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor] | None, int] | None:
        """For the written-out Gauss-Newton Fisher (``functional.fisher.tanh_mlp_gauss_newton_fvp``):
        ``(head_fisher, extra_fisher, n_extra)`` with head_fisher(u) = M_s u_s per state, M_s the
        Hessian of KL(pi_old(.|s) || pi_q) in the net's outputs q at q_old, in closed form; and
        the Fisher block of the ``n_extra`` parameters before the net's. None: use autograd."""
        return None

    def numpy_layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(W, b) of every Linear layer of a plain MLP (``plain_mlp``), for the fast numpy sampler."""
        return [(m.weight.detach().cpu().double().numpy().copy(), m.bias.detach().cpu().double().numpy().copy())
                for m in self.net if isinstance(m, nn.Linear)]  # type: ignore[attr-defined]  # a Sequential


class CategoricalActor(Actor):
    discrete = True

    def __init__(self, obs_dim: int, n_actions: int, hidden: tuple[int, ...] = (64, 64), activation: str = "tanh",
                 ortho_init: bool = True):
        super().__init__()
        self.net = mlp([obs_dim, *hidden, n_actions], activation, out_gain=0.01, ortho_init=ortho_init)

    def dist_params(self, obs):
        return self.head_params(self.net(obs))

    def head_params(self, out):
        return (out,)

    def log_prob(self, params, a):
        return K.categorical_log_prob(params[0], a)

    def fisher_parts(self, old):
        if plain_actor_class(self) is not CategoricalActor:
            return None
        p = torch.softmax(old[0], -1)
        return _categorical_fisher(p), None, 0

    def kl(self, old, new):
        return K.categorical_kl(old[0], new[0])

    def entropy(self, params):
        return K.categorical_entropy(params[0])

    def mode(self, params):
        return params[0].argmax(-1)

    def sample(self, params, generator=None):
        probs = torch.softmax(params[0], -1)
        return torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1, generator=generator).reshape(probs.shape[:-1])


class MultiCategoricalActor(Actor):
    """A product of independent categoricals, one per MultiDiscrete component."""

    discrete = True

    def __init__(self, obs_dim: int, nvec: list[int], hidden: tuple[int, ...] = (64, 64), activation: str = "tanh",
                 ortho_init: bool = True):
        super().__init__()
        self.nvec = [int(n) for n in nvec]
        self.net = mlp([obs_dim, *hidden, sum(self.nvec)], activation, out_gain=0.01, ortho_init=ortho_init)

    def _split(self, logits):
        return torch.split(logits, self.nvec, dim=-1)

    def dist_params(self, obs):
        return self.head_params(self.net(obs))

    def head_params(self, out):
        return (out,)

    def log_prob(self, params, a):
        return sum(K.categorical_log_prob(lg, a[..., i]) for i, lg in enumerate(self._split(params[0])))

    def fisher_parts(self, old):
        if plain_actor_class(self) is not MultiCategoricalActor:
            return None
        blocks = [_categorical_fisher(torch.softmax(lg, -1)) for lg in self._split(old[0])]  # M block-diagonal
        return (lambda u: torch.cat([m(ui) for m, ui in zip(blocks, self._split(u))], -1)), None, 0

    def kl(self, old, new):
        return sum(K.categorical_kl(p, q) for p, q in zip(self._split(old[0]), self._split(new[0])))

    def entropy(self, params):
        return sum(K.categorical_entropy(lg) for lg in self._split(params[0]))

    def mode(self, params):
        return torch.stack([lg.argmax(-1) for lg in self._split(params[0])], -1)

    def sample(self, params, generator=None):
        outs = []
        for lg in self._split(params[0]):
            probs = torch.softmax(lg, -1)
            outs.append(torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1, generator=generator)
                        .reshape(probs.shape[:-1]))
        return torch.stack(outs, -1)


class GaussianActor(Actor):
    """pi(a|s) = N(mu_theta(s), diag(exp(2 log_std))), log_std a free parameter vector."""

    act_low: Tensor   # buffers, with clipped_logprob
    act_high: Tensor

    def __init__(self, obs_dim: int, act_dim: int, hidden: tuple[int, ...] = (64, 64), log_std_init: float = 0.0,
                 bounds: tuple[np.ndarray, np.ndarray] | None = None, activation: str = "tanh",
                 ortho_init: bool = True):
        super().__init__()
        self.net = mlp([obs_dim, *hidden, act_dim], activation, out_gain=0.01, ortho_init=ortho_init)
        self.log_std = nn.Parameter(torch.full((act_dim,), float(log_std_init)))
        # ``bounds`` (low, high): the Box the env clips actions to. Given, log_prob is the log-probability
        # of the clipped action (clipped-action policy gradient, Fujita & Maeda 2018); None: the density.
        # Buffers that travel with .to() but stay out of the state dict (checkpoints are unchanged).
        self.clipped_logprob = bounds is not None
        if bounds is not None:
            self.register_buffer("act_low", torch.as_tensor(np.asarray(bounds[0], np.float32)), persistent=False)
            self.register_buffer("act_high", torch.as_tensor(np.asarray(bounds[1], np.float32)), persistent=False)

    def clamped_log_std(self) -> Tensor:
        # clamp keeps the std inside documented bounds; inside them the gradient is untouched
        return self.log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)

    def dist_params(self, obs):
        return self.head_params(self.net(obs))

    def head_params(self, mu):
        return mu, self.clamped_log_std().expand_as(mu)

    def log_prob(self, params, a):
        if self.clipped_logprob:
            return K.clipped_gaussian_log_prob(params[0], params[1], a, self.act_low, self.act_high)
        return K.diag_gaussian_log_prob(params[0], params[1], a)

    def fisher_parts(self, old):
        """KL(N(mu0, s0) || N(mu, s)) per dimension has Hessian 1/s0^2 in mu, 2 in log s and 0 across
        at (mu0, s0). The log-std is one vector for all states (J = I per state, through the clamp),
        so its block is 2 v (0 where the clamp is active): the mean over states of 2."""
        if plain_actor_class(self) is not GaussianActor or next(self.parameters()) is not self.log_std:
            return None
        inv_var = torch.exp(-2.0 * old[1])
        inside = ((self.log_std >= LOG_STD_MIN) & (self.log_std <= LOG_STD_MAX)).to(self.log_std.dtype).detach()
        return (lambda u: u * inv_var), (lambda v: 2.0 * inside * v), self.log_std.numel()

    def kl(self, old, new):
        return K.diag_gaussian_kl(old[0], old[1], new[0], new[1])

    def entropy(self, params):
        return K.diag_gaussian_entropy(params[1])

    def mode(self, params):
        return params[0]

    def sample(self, params, generator=None):
        mu, log_std = params
        noise = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
        return mu + log_std.exp() * noise


# The methods that define a built-in actor's distribution: a subclass that overrides any of them
# computes something the written-out formulas do not know.
_DISTRIBUTION_METHODS = ("dist_params", "log_prob", "kl", "entropy", "mode", "sample", "fisher_parts",
                         "clamped_log_std", "_split")


def plain_actor_class(actor: nn.Module) -> type | None:
    """The one rule for every fast path (numpy acting in ``nets.policy_runner``, the written-out
    Gauss-Newton Fisher product): the built-in actor class (``CategoricalActor``,
    ``MultiCategoricalActor`` or ``GaussianActor``) whose formulas ``actor`` computes, or None.

    ``actor`` qualifies when it is an instance of that class, its own type overrides none of the
    methods that define the distribution, and its ``net`` is a plain MLP (``plain_mlp``: Linear, f,
    ..., Linear with f one activation of ``ACTIVATIONS``). A
    user's subclass that only adds things takes the fast path; one that changes the distribution
    falls back to autograd and torch sampling, never to the wrong formula."""
    for cls in (GaussianActor, MultiCategoricalActor, CategoricalActor):
        if isinstance(actor, cls):
            same = all(getattr(type(actor), m, None) is getattr(cls, m, None) for m in _DISTRIBUTION_METHODS)
            return cls if same and plain_mlp(actor.net) is not None else None
    return None


class Critic(nn.Module):
    """V_psi(s): an MLP (tanh by default) with a scalar output."""

    recurrent = False

    def __init__(self, obs_dim: int, hidden: tuple[int, ...] = (64, 64), activation: str = "tanh",
                 ortho_init: bool = True):
        super().__init__()
        self.net = mlp([obs_dim, *hidden, 1], activation, out_gain=1.0, ortho_init=ortho_init)

    def forward(self, obs: Tensor) -> Tensor:
        return self.net(obs).squeeze(-1)


def plain_critic_mlp(critic: nn.Module) -> tuple[list[nn.Linear], str] | None:
    """The critic's fast path (backpropagation written out in ``fit_critic``), by the same rule as
    ``plain_actor_class``: a ``Critic`` whose type keeps ``forward`` and whose net is a plain MLP
    (``plain_mlp``) ending in Linear(-, 1); (its Linear layers, its activation), else None."""
    if not isinstance(critic, Critic) or type(critic).forward is not Critic.forward:
        return None
    found = plain_mlp(critic.net)
    return found if found is not None and found[0][-1].out_features == 1 else None


def plain_critic_layers(critic: nn.Module) -> list[nn.Linear] | None:
    """``plain_critic_mlp``'s Linear layers for a tanh critic (what ``tanh_mlp_mse_grads``
    computes); None for any other."""
    found = plain_critic_mlp(critic)
    return found[0] if found is not None and found[1] == "tanh" else None


def _categorical_fisher(p: Tensor) -> Callable[[Tensor], Tensor]:
    """u -> (diag(p) - p p^T) u per state: the Hessian of KL(p || softmax(z)) in the logits z at p."""
    def m(u: Tensor) -> Tensor:
        pu = p * u
        return pu.sub_(p * pu.sum(-1, keepdim=True))
    return m


def make_actor(obs_space: gym.Space, act_space: gym.Space, hidden: tuple[int, ...], log_std_init: float = 0.0,
               cnn: str = "trpo", clipped_logprob: bool = False, activation: str = "tanh",
               ortho_init: bool = True) -> Actor:
    """The actor for these spaces: an MLP (``activation``, tanh by default) on flat observations;
    for images an ``ImageTrunk`` (ReLU, orthogonal init, always) followed by the head's linear
    layer (``net = Sequential(trunk, Linear)``)."""
    shape: tuple[int, ...] = obs_space.shape  # type: ignore[assignment]  # Box and Discrete spaces have one
    trunk = ImageTrunk(shape, image_spec(shape, cnn)) if is_image_space(obs_space) else None
    obs_dim, hidden = (trunk.out_dim, ()) if trunk else (flat_obs_dim(obs_space), hidden)
    if isinstance(act_space, gym.spaces.Discrete):
        actor: Actor = CategoricalActor(obs_dim, int(act_space.n), hidden, activation, ortho_init)
    elif isinstance(act_space, gym.spaces.MultiDiscrete) and act_space.nvec.ndim == 1:
        actor = MultiCategoricalActor(obs_dim, list(act_space.nvec), hidden, activation, ortho_init)
    elif isinstance(act_space, gym.spaces.Box) and len(act_space.shape) == 1:
        bounded = clipped_logprob and bool(np.isfinite(act_space.low).any() or np.isfinite(act_space.high).any())
        actor = GaussianActor(obs_dim, int(act_space.shape[0]), hidden, log_std_init,
                              bounds=(act_space.low, act_space.high) if bounded else None, activation=activation,
                              ortho_init=ortho_init)
    else:
        raise ValueError(f"unsupported action space {act_space}: trpo supports Discrete, "
                         "1-D MultiDiscrete and 1-D Box action spaces")
    if trunk is not None:
        actor.net = nn.Sequential(trunk, actor.net)
    return actor


def make_critic(obs_space: gym.Space, hidden: tuple[int, ...], cnn: str = "trpo", activation: str = "tanh",
                ortho_init: bool = True, trunk: ImageTrunk | None = None) -> Critic:
    """V_psi: an MLP (``activation``); for images its own ``ImageTrunk`` followed by a linear layer,
    or ``trunk``, the actor's (``shared_trunk``: one module in both networks, its parameters the
    same tensors)."""
    if not is_image_space(obs_space):
        return Critic(flat_obs_dim(obs_space), hidden, activation, ortho_init)
    shape: tuple[int, ...] = obs_space.shape  # type: ignore[assignment]  # an image space: a Box
    trunk = trunk if trunk is not None else ImageTrunk(shape, image_spec(shape, cnn))
    critic = Critic(trunk.out_dim, (), activation, ortho_init)
    critic.net = nn.Sequential(trunk, critic.net)
    return critic


def shared_trunk_of(actor: nn.Module, critic: nn.Module) -> ImageTrunk | None:
    """The CNN trunk that the built-in actor and critic share (``shared_trunk``: both ``net`` are
    ``Sequential(trunk, head)`` with one ``trunk`` module), else None."""
    a, c = getattr(actor, "net", None), getattr(critic, "net", None)
    if (isinstance(a, nn.Sequential) and isinstance(c, nn.Sequential) and len(a) == len(c) == 2
            and a[0] is c[0] and isinstance(a[0], ImageTrunk) and isinstance(actor, Actor)
            and type(critic) is Critic):
        return a[0]
    return None


def actor_critic_forward(actor: Actor, critic: nn.Module, obs: Tensor, critic_obs: Tensor,
                         trunk: ImageTrunk | None = None) -> tuple[tuple[Tensor, ...], Tensor]:
    """(pi's distribution parameters on ``obs``, V on ``critic_obs``). With the ``trunk`` they
    share (``shared_trunk_of``; then ``obs`` is ``critic_obs``), its features are computed once and
    read by both heads, as CleanRL's ppo_atari does: one forward and one backward through the CNN
    instead of two, the same function and the same gradient up to floating-point order."""
    if trunk is None:
        return actor.dist_params(obs), critic(critic_obs)
    features = trunk(obs)
    actor_head: nn.Module = actor.net[1]  # type: ignore[index]  # Sequential(trunk, head)
    critic_head: nn.Module = critic.net[1]  # type: ignore[index,assignment]  # a Critic: Sequential(trunk, head)
    return actor.head_params(actor_head(features)), critic_head(features).squeeze(-1)  # Critic.forward's squeeze


def flat_params(module: nn.Module) -> Tensor:
    return torch.cat([p.data.reshape(-1) for p in module.parameters()])


def set_flat_params(module: nn.Module, flat: Tensor) -> None:
    i = 0
    for p in module.parameters():
        n = p.numel()
        p.data.copy_(flat[i:i + n].view_as(p))
        i += n

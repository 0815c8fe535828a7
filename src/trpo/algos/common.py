"""Pieces every learner shares: advantage estimation, the critic fit, the policy objective."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from trpo.algos.base import LearnerBase
from trpo.functional import gae
from trpo.functional.mlp import mlp_mse_grads
from trpo.functional.sequences import row_length
from trpo.nets.policies import Actor, Critic, plain_critic_mlp
from trpo.optim import FusedAdam
from trpo.rollout import Batch
from trpo.timing import timed


def value_inputs(batch: Batch) -> Tensor:
    """Every observation an MLP critic values for GAE, in one tensor: the batch's steps (flat,
    t * N + n), then ``last_obs``, then the final observations of truncated steps."""
    return torch.cat([batch.flat(batch.obs), batch.last_obs, batch.final_obs])


@torch.no_grad()
def values_and_next_values(batch: Batch, critic: nn.Module, v_all: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """V(s_t) and V(s_{t+1}) for every step, (T, N) each.

    V(s_{t+1}) is the value of the next observation of the same episode: the following row of the
    batch, ``last_obs`` after the last row, and the final observation at a truncated step (the
    row after it already belongs to the next episode). At terminated steps it is unused.
    ``v_all``: the critic's values on ``value_inputs(batch)``, where the learner has them already
    (PPO with a shared trunk: one pass for both heads); MLP critics only.
    """
    T, N = batch.T, batch.N
    if batch.seq is not None:  # a recurrent critic: each value from the critic's state at that step
        values = batch.unrows(critic(batch.inputs(critic=True)))
        v_last = critic.step(batch.last_obs, batch.seq.last_critic_state)[0]  # type: ignore[operator]  # recurrent
        next_values = torch.cat([values[1:], v_last[None]]).reshape(-1).clone()
        next_values[batch.final_idx] = critic.step(  # type: ignore[operator]  # a RecurrentCritic
            batch.final_obs, batch.seq.final_critic_states)[0]
        return values, next_values.reshape(T, N)
    if v_all is None:
        v_all = critic(value_inputs(batch))
    values = v_all[: T * N].reshape(T, N)
    v_last = v_all[T * N: T * N + N]
    next_values = torch.cat([values[1:], v_last[None]]).reshape(-1).clone()
    next_values[batch.final_idx] = v_all[T * N + N:]
    return values, next_values.reshape(T, N)


def estimate_advantages(batch: Batch, critic: nn.Module, gamma: float, lam: float,
                        v_all: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """GAE(gamma, lambda) advantages and the critic's regression targets A_t + V(s_t) (the
    lambda-return), both (T, N). Truncation bootstraps, termination does not. ``v_all``: as in
    ``values_and_next_values``."""
    values, next_values = values_and_next_values(batch, critic, v_all)
    adv = gae(batch.rewards, values, next_values, batch.terminated, batch.done, gamma, lam)
    return adv, adv + values


def resolved_lr(cfg) -> float:
    """The run's learning rate. ``lr = 0`` (the algorithm's default) is resolved once, by
    ``trpo.resolve.resolve_run``, before a learner is built; a learner never decides it again."""
    if not cfg.lr:
        raise ValueError(f"algo {cfg.algo!r} got lr = 0: resolve the config first (trpo.resolve.resolve_run, "
                         "which sets the algorithm's default learning rate)")
    return float(cfg.lr)


def adam(params, lr: float, **kw) -> FusedAdam:
    """Adam with the fused kernel (one call for all parameters; CPU and CUDA): for our small MLPs
    a step costs half of the single-tensor loop and a third of the foreach default on a CPU.
    ``FusedAdam`` is torch.optim.Adam(fused=True)'s update without the Optimizer class, whose first
    use imports torch._dynamo (+77 MB RSS; trpo/optim.py)."""
    return FusedAdam(params, lr=lr, **kw)


class PolicyAndCriticAdam(LearnerBase):
    """The optimiser state of the first-order learners with a separate critic (reinforce, a2c and
    the a3c master): Adam on the policy at ``lr`` (0 = the algorithm's default), the critic's own
    Adam at ``critic_lr``, the update counter the learning-rate schedule reads, and their
    checkpoint state."""

    def __init__(self, actor: Actor, critic: Critic, cfg, device: torch.device):
        self.actor, self.critic, self.cfg, self.device = actor, critic, cfg, device
        self.base_lr = resolved_lr(cfg)
        self.opt = adam(actor.parameters(), self.base_lr)
        self.critic_opt = adam(critic.parameters(), cfg.critic_lr)
        self.updates = 0

    def state_dict(self) -> dict:
        return {"opt": self.opt.state_dict(), "critic_opt": self.critic_opt.state_dict(), "updates": self.updates}

    def load_state_dict(self, d: dict) -> None:
        self.opt.load_state_dict(d["opt"])
        self.critic_opt.load_state_dict(d["critic_opt"])
        self.updates = int(d["updates"])


def normalize(x: Tensor) -> Tensor:
    """Advantage standardisation: mean 0, std 1 over the batch."""
    return (x - x.mean()) / (x.std() + 1e-8) if x.numel() > 1 else x - x.mean()


def explained_variance(mse: float, targets: Tensor) -> float:
    """1 - E[(V - R)^2] / Var[R]: 1 for a perfect critic, 0 for one no better than the mean of
    the targets, negative for a worse one (the debugging checklist's "is the critic learning").
    NaN where the targets hardly vary (Var[R] < 1e-4 E[R^2], e.g. a solved CartPole whose every
    episode scores the same): the ratio then measures rounding, not the critic."""
    if targets.numel() < 2:
        return float("nan")
    var, ms = float(targets.var()), float(targets.pow(2).mean())
    return 1.0 - mse / var if var > 1e-4 * ms and var > 0 else float("nan")


@torch.no_grad()
def update_stats(actor: Actor, old: tuple[Tensor, ...], obs: Tensor, value_loss: float, targets: Tensor,
                 kl: float | None = None, new: tuple[Tensor, ...] | None = None) -> dict[str, float]:
    """The metrics contract (``trpo.algos.CRITIC_METRICS``), computed here for every learner with
    a critic: the mean KL(pi_old || pi_new) over the batch (``kl``: the learner's own measure of
    the same, e.g. the accepted line-search step's), the new policy's mean entropy, the critic's
    mean squared error ``value_loss`` and its explained variance against ``targets`` (NaN where the
    targets hardly vary: not measurable, not a useless critic). ``new``: the new policy's
    parameters on ``obs`` where the learner has them already (its accepted line-search trial)."""
    new = actor.dist_params(obs) if new is None else new
    return {"kl": actor.kl(old, new).mean().item() if kl is None else kl,
            "entropy": actor.entropy(new).mean().item(), "value_loss": value_loss,
            "explained_variance": explained_variance(value_loss, targets)}


def rescale(x: Tensor) -> Tensor:
    """Divide by the batch std only, not centred: for weights whose per-sample baseline must stay
    (reinforce's R_t - b_t, vine's per-state advantages)."""
    return x / (x.std() + 1e-8) if x.numel() > 1 else x


@timed("update: GAE + critic values")
def gae_batch(b: Batch, critic: nn.Module, cfg,
              v_all: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """The rows every actor-critic update starts from: (obs, critic_obs, actions, A, targets), with
    GAE(gamma, lambda) advantages from the current critic (standardised if
    ``cfg.normalize_advantages``) and the critic's lambda-return targets A + V (unstandardised).
    Rows are steps for MLP policies, and ``obs`` is the flat observations for actor and critic
    alike; for recurrent ones rows are chunks of steps and ``obs``/``critic_obs`` the actor's and
    the critic's Sequences (``Batch.rows``, ``Batch.inputs``). ``v_all``: as in
    ``values_and_next_values``."""
    adv, targets = estimate_advantages(b, critic, cfg.gamma, cfg.gae_lambda, v_all)
    adv, targets = b.rows(adv), b.rows(targets)
    if cfg.normalize_advantages:
        adv = normalize(adv)
    check_finite("advantages", adv)
    # recurrent policies: obs and critic_obs are Sequences, which the recurrent networks read
    return b.inputs(), b.inputs(critic=True), b.rows(b.actions), adv, targets  # type: ignore[return-value]  # see above


@torch.no_grad()
@timed("update: pi_old forward")
def frozen_policy(actor: Actor, obs: Tensor, actions: Tensor) -> tuple[tuple[Tensor, ...], Tensor]:
    """pi_old, detached: its distribution parameters on ``obs`` and log pi_old(a|s)."""
    old = actor.dist_params(obs)
    return old, actor.log_prob(old, actions)


@timed("update: critic fit")
def fit_critic(critic: nn.Module, opt: FusedAdam, obs: Tensor, targets: Tensor,
               epochs: int, minibatch: int, perms: Tensor | None = None) -> float:
    """min_psi E[(V_psi(s_t) - R_t)^2] by minibatch Adam (policy-gradients lecture notes §3.3, the value baseline).
    Returns the mean squared error over the batch after the fit.

    For a plain MLP critic (``plain_critic_mlp``: tanh or another activation the written-out
    derivatives know) the gradients come from ``mlp_mse_grads`` (backpropagation written out: ~2x
    cheaper than autograd at this size); any other critic uses autograd.
    ``perms`` (epochs, B): the minibatch order of each epoch, else drawn here with torch.randperm
    (``critic_permutations`` draws the same ones ahead of time).
    A recurrent critic's rows are chunks (``obs`` its Sequences): minibatches of
    ``minibatch / seq_len`` chunks, the same number of steps."""
    B = obs.shape[0]
    minibatch = max(1, minibatch // row_length(obs))
    plain = plain_critic_mlp(critic)
    layers, activation = plain if plain is not None else (None, "")
    if layers:
        weights: list[Tensor] = [m.weight for m in layers]
        biases: list[Tensor] = [m.bias for m in layers]
        # the optimiser's parameters are the layers' (a critic's own Adam): its fused step takes the
        # gradients as a list; otherwise they go through .grad
        mine = [p for m in layers for p in (m.weight, m.bias)]
        plain_opt = type(opt) is FusedAdam  # not a subclass with its own step
        if plain_opt:
            theirs = opt.param_groups[0]["params"]
            plain_opt = len(theirs) == len(mine) and all(a is b for a, b in zip(theirs, mine))
    for e in range(epochs):
        perm = torch.randperm(B, device=obs.device) if perms is None else perms[e]
        obs_p, targets_p = obs[perm], targets[perm]  # one gather per epoch; minibatches are slices
        if layers:
            targets_p = targets_p.unsqueeze(-1)  # (B, 1): the net's output's shape
        for i in range(0, B, minibatch):
            o, y = obs_p[i:i + minibatch], targets_p[i:i + minibatch]
            if layers:
                _, gw, gb = mlp_mse_grads(weights, biases, o, y, activation, loss=False)
                grads = [g for pair in zip(gw, gb) for g in pair]
                if plain_opt:  # the gradients straight into the fused kernel (bitwise opt.step())
                    opt.step_with(grads)
                    continue
                for p, g in zip(mine, grads):
                    p.grad = g
            else:
                loss = (critic(o) - y).pow(2).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
            opt.step()
    with torch.no_grad():
        return float((critic(obs) - targets).pow(2).mean())


def critic_permutations(n: int, epochs: int) -> Tensor:
    """The (epochs, n) minibatch orders ``fit_critic`` would draw on a CPU, drawn now."""
    return torch.stack([torch.randperm(n) for _ in range(epochs)]) if epochs else torch.zeros(0, n, dtype=torch.long)


def policy_objective(actor: Actor, obs: Tensor, actions: Tensor, logp_old: Tensor, adv: Tensor,
                     entropy_coef: float, new: tuple[Tensor, ...] | None = None) -> tuple[Tensor, tuple[Tensor, ...]]:
    """L(theta) = E[ratio * A] + c_H * E[H(pi_theta(.|s))], and the new distribution parameters
    (``new``: pi_theta's parameters on ``obs`` when the caller already has them from this theta)."""
    from trpo.functional import importance_sampled_surrogate

    new = actor.dist_params(obs) if new is None else new
    L = importance_sampled_surrogate(actor.log_prob(new, actions), logp_old, adv)
    if entropy_coef:
        L = L + entropy_coef * actor.entropy(new).mean()
    return L, new


def check_finite(name: str, x: Tensor) -> None:
    from trpo.errors import NonFiniteError

    if not torch.isfinite(x).all():
        raise NonFiniteError(f"non-finite values in {name}; the update was not applied")


# --- first-order methods (reinforce, a2c, ppo, ppo-kl) --------------------------------------------

@timed("update: GAE + critic values")
def advantages(batch: Batch, critic: nn.Module, estimator: str, gamma: float, lam: float,
               n: int = 1) -> tuple[Tensor, Tensor]:
    """Actor-critic advantages and critic targets (A_t + V(s_t)), (T, N) each (policy-gradients lecture notes §3.4):

      ``td``    A_t = r_t + gamma V(s_{t+1}) - V(s_t)                 (§3.4.1; GAE with lambda = 0)
      ``nstep`` A_t = sum_{i<n} gamma^i r_{t+i} + gamma^n V(s_{t+n}) - V(s_t)   (§3.4.2, index typo fixed)
      ``gae``   A_t = sum_l (gamma lambda)^l delta_{t+l}               (§3.4.2; GAE paper eq. 16)
    """
    from trpo.functional import n_step_advantages

    if estimator == "nstep":
        values, next_values = values_and_next_values(batch, critic)
        adv = n_step_advantages(batch.rewards, values, next_values, batch.terminated, batch.done, gamma, n)
        return adv, adv + values
    return estimate_advantages(batch, critic, gamma, 0.0 if estimator == "td" else lam)


def reward_to_go(batch: Batch, critic: nn.Module, gamma: float) -> Tensor:
    """Monte Carlo reward-to-go R_t = sum_{l>=0} gamma^l r_{t+l} (policy-gradients lecture notes §3.2-3.3), (T, N).

    A batch cuts episodes: where the sum is cut before the episode terminated (a time-limit
    truncation, or the end of the batch) the tail is bootstrapped with gamma V_psi(s_{t+1});
    at a termination nothing is added. Everywhere else R_t is the pure Monte Carlo sum.
    """
    from trpo.functional import discounted_returns

    _, next_values = values_and_next_values(batch, critic)
    cut = batch.truncated.clone()
    cut[-1] = ~batch.terminated[-1]  # the batch end cuts every still-running episode
    boot = torch.where(cut, next_values, torch.zeros_like(next_values))
    return discounted_returns(batch.rewards, batch.done | cut, gamma, bootstrap=boot)


def annealed_lr(base_lr: float, updates_done: int, cfg) -> float:
    """Linear decay of the learning rate to 0 over the run (CleanRL's ``anneal_lr``)."""
    if not cfg.anneal_lr:
        return base_lr
    total = max(1, -(-cfg.total_steps // cfg.batch_steps))
    return base_lr * max(0.0, 1.0 - updates_done / total)


def set_annealed_lr(opt: FusedAdam, base_lr: float, updates_done: int, cfg) -> float:
    """Set ``opt``'s learning rate to ``annealed_lr`` for this update; returns it."""
    lr = annealed_lr(base_lr, updates_done, cfg)
    for g in opt.param_groups:
        g["lr"] = lr
    return lr


def gradient_step(opt: FusedAdam, loss: Tensor, max_grad_norm: float) -> float:
    """One first-order step on ``loss`` (to be minimised), the global gradient norm clipped to
    ``max_grad_norm`` (0 = no clipping). Returns the norm before clipping. A non-finite
    gradient raises before anything is applied."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    params = [p for g in opt.param_groups for p in g["params"] if p.grad is not None]
    norm = torch.nn.utils.clip_grad_norm_(params, max_grad_norm if max_grad_norm > 0 else float("inf"))
    check_finite("the gradient", norm)
    opt.step()
    return float(norm)


class _DistParams(nn.Module):
    """``actor.dist_params`` as a ``forward``, so ``torch.func.functional_call`` can run it."""

    def __init__(self, actor: Actor):
        super().__init__()
        self.actor = actor

    def forward(self, obs: Tensor) -> tuple[Tensor, ...]:
        return self.actor.dist_params(obs)


def per_sample_sq_grad_norms(actor: Actor, obs: Tensor, actions: Tensor) -> Tensor:
    """||grad_theta log pi_theta(a_i | s_i)||^2 for every sample i, with ``torch.func``
    (vmap over the batch of per-sample gradients; no Python loop, no n x n matrix)."""
    from torch.func import functional_call, grad, vmap

    module = _DistParams(actor)
    params = {k: v.detach() for k, v in module.named_parameters()}

    def logp(p: dict, o: Tensor, a: Tensor) -> Tensor:
        return actor.log_prob(functional_call(module, p, (o[None],)), a[None]).sum()

    grads = vmap(grad(logp), in_dims=(None, 0, 0))(params, obs, actions)
    return sum(g.reshape(g.shape[0], -1).pow(2).sum(1) for g in grads.values())


def optimal_baseline(sq_grad_norms: Tensor, returns: Tensor) -> Tensor:
    """The variance-minimising constant baseline (policy-gradients lecture notes §3.3, "weighted average"):

        b = E[ ||grad log pi(a|s)||^2 R ] / E[ ||grad log pi(a|s)||^2 ]

    (the policy-gradients lecture notes puts the denominator's norm outside the expectation, "|| E[grad log pi ||^2]";
    the minimiser of E||g (R - b)||^2 has E[||g||^2] there: Greensmith et al. 2004,
    Peters & Schaal 2008.)
    """
    return (sq_grad_norms * returns).sum() / sq_grad_norms.sum().clamp_min(1e-12)

"""The debugging checklist of the policy-gradients lecture, as features: look at the initial
policy and the env before training; while training, watch the entropy, the KL, the critic and the
observations, and say so (once) when one of them goes wrong, with the remedy.

``initial_report`` prints one screen before training; ``RunWatch.observe`` is called with every
metrics row and returns the warnings that fire for the first time (``RunWatch.fired`` lists them
for summary.json).
"""
from __future__ import annotations

import math
from collections import deque

import gymnasium as gym
import numpy as np

from trpo import seeds

# thresholds of the warnings (docs/debugging.md explains each)
ENTROPY_FRACTION = 0.05       # discrete: entropy below 5% of its initial value
GAUSSIAN_COLLAPSE_NATS = math.log(20.0)  # Gaussian: the mean log-std fell by log 20 (std / 20)
REJECT_WINDOW, REJECT_RATE = 10, 0.5     # ... while at least half of the last 10 steps were rejected
SMALL_KL_FRACTION, SMALL_KL_ITERS = 0.01, 20   # KL below 1% of max_kl for 20 iterations in a row
EV_FLOOR, EV_ITERS, EV_GRACE = 0.05, 20, 10    # explained variance below 0.05 for 20 iterations
# first-order learners (no trust region): a discrete policy's KL per update below 1e-5 for 20 updates in a
# row while its entropy is still above half the uniform policy's (log n) and lr above 10% of the configured one
FROZEN_KL, FROZEN_ITERS, FROZEN_ENTROPY, FROZEN_LR = 1e-5, 20, 0.5, 0.1
OBS_STD_LIMIT = 1e4           # raw observation std (normalisation on) or |obs| (off) beyond this
# the mean action scores 25% (of the sampled return's size) and two standard errors below sampling, twice
MODE_GAP, MODE_EVALS = 0.25, 2


class RunWatch:
    """Each warning fires at most once per run."""

    def __init__(self, cfg, agent=None, enabled: bool = True, algo=None, eval_episodes: int = 5):
        """``cfg``: the trust region (``max_kl``); ``algo``: the algorithm's registry entry
        (``trpo.algos.ALGOS``), which says whether its steps pass a line search and what KL bound
        it works against; None: the rows' columns say. ``eval_episodes``: the episodes of each
        periodic evaluation (for the standard errors of its returns)."""
        self.cfg, self.agent, self.enabled, self.algo = cfg, agent, enabled, algo
        self.eval_episodes = max(1, eval_episodes)
        self.fired: list[str] = []
        self.entropy0: float | None = None
        self.accepted: deque = deque(maxlen=REJECT_WINDOW)
        self.small_kl = self.low_ev = self.iters = self.mode_gaps = self.frozen = 0
        # the configured lr (resolved: the algorithm's default where lr = 0 was given), not the first row's:
        # a resumed run's first row may be late in an annealing
        lr = getattr(cfg, "lr", 0.0)
        self.lr0: float | None = float(lr) if isinstance(lr, (int, float)) and lr > 0 else None

    def _fire(self, key: str, msg: str) -> list[str]:
        if key in self.fired:
            return []
        self.fired.append(key)
        return [msg]

    def observe(self, row: dict, batch=None) -> list[str]:
        if not self.enabled:
            return []
        self.iters += 1
        out: list[str] = []
        out += self._entropy(row)
        out += self._kl(row)
        out += self._frozen(row)
        out += self._critic(row)
        out += self._observations(batch)
        out += self._policy_modes(row)
        return out

    def _policy_modes(self, row: dict) -> list[str]:
        """The periodic evaluation's deterministic return (the mean action) against its stochastic
        one (sampled actions, the same start states): the policy a user gets from ``trpo eval`` and
        ``export`` is the deterministic one."""
        det, sto = row.get("eval_return_mean"), row.get("eval_stochastic_return_mean")
        if det is None or sto is None or not (math.isfinite(det) and math.isfinite(sto)):
            return []
        gap = sto - det
        # and beyond noise: two standard errors of the difference of the two evaluations' means
        sd_d, sd_s = row.get("eval_return_std") or 0.0, row.get("eval_stochastic_return_std") or 0.0
        noise = 2.0 * math.sqrt((sd_d ** 2 + sd_s ** 2) / self.eval_episodes)
        self.mode_gaps = self.mode_gaps + 1 if gap > max(MODE_GAP * max(abs(sto), 1.0), noise) else 0
        if self.mode_gaps < MODE_EVALS:
            return []
        gaussian = self.agent is not None and not getattr(self.agent.actor, "discrete", True)
        if gaussian and not getattr(self.cfg, "clipped_action_logprob", False):
            remedy = ("for a Gaussian policy on a bounded action box, --set clipped_action_logprob=true (the "
                      "clipped-action policy gradient; the mujoco-ppo preset sets it)")
        else:  # a discrete policy, or the clipped-action log-probability already on: the mean has not caught up
            remedy = "more training, or a smaller entropy bonus"
        return self._fire("deterministic_worse", (
            f"the mean action scores {det:.1f} where sampled actions score {sto:.1f} (periodic evaluation, the "
            f"same start states, {MODE_EVALS} evaluations in a row): the deterministic policy that trpo eval and "
            f"export hand out is worse than the one that learned. Remedies: {remedy}; meanwhile trpo eval "
            "--stochastic evaluates the sampled policy"))

    def _entropy(self, row: dict) -> list[str]:
        h = row.get("entropy")
        if h is None or not math.isfinite(h):
            return []
        if self.entropy0 is None:
            self.entropy0 = h
        searched = self.algo.line_search if self.algo is not None else "step_accepted" in row
        if searched:
            self.accepted.append(row["step_accepted"])
        rejecting = (not searched
                     or (len(self.accepted) == REJECT_WINDOW and np.mean(self.accepted) <= 1 - REJECT_RATE))
        discrete = self.agent is None or getattr(self.agent.actor, "discrete", True)
        if discrete:
            collapsed = self.entropy0 > 0 and h < ENTROPY_FRACTION * self.entropy0
            what = f"{h:.3g} ({100 * h / self.entropy0:.1f}% of its initial {self.entropy0:.3g})" if collapsed else ""
        else:
            dims = int(np.prod(self.agent.act_space.shape))
            collapsed = (self.entropy0 - h) / dims > GAUSSIAN_COLLAPSE_NATS
            what = f"{h:.3g} (the action std fell {math.exp((self.entropy0 - h) / dims):.0f}x)" if collapsed else ""
        if not (collapsed and rejecting):
            return []
        why = (f" while the line search rejected {REJECT_WINDOW - int(sum(self.accepted))} of the last "
               f"{REJECT_WINDOW} steps" if searched else "")
        return self._fire("entropy_collapse", (
            f"policy entropy collapsed to {what}{why}: the policy is nearly deterministic and stops exploring. "
            "Remedies: an entropy bonus (--set entropy_coef=0.01), larger batches (batch_steps), a smaller "
            "max_kl; the best policy so far is in checkpoints/best"))

    def _kl(self, row: dict) -> list[str]:
        bounded = self.algo.kl_bound == "max_kl" if self.algo is not None else "surrogate_gain" in row
        if not bounded or "kl" not in row:  # trust-region learners only
            return []
        small = math.isfinite(row["kl"]) and row["kl"] < SMALL_KL_FRACTION * self.cfg.max_kl
        self.small_kl = self.small_kl + 1 if small else 0
        if self.small_kl < SMALL_KL_ITERS:
            return []
        return self._fire("small_kl", (
            f"the mean KL per update stayed below {SMALL_KL_FRACTION:.0%} of max_kl = {self.cfg.max_kl:g} for "
            f"{SMALL_KL_ITERS} iterations: the steps are too small to matter (the line search shrinks every "
            "step, or the advantages carry no signal). Check linesearch_steps and the returns; remedies: "
            "larger batch_steps, more cg_iters, normalize_advantages"))

    def _frozen(self, row: dict) -> list[str]:
        """A first-order learner whose discrete policy stopped moving far from deterministic: no
        gradient reaches it (seen with PPO on Pong, the 20-unit CNN: every ReLU unit fell silent on
        every frame, the output bias alone moved, the entropy bonus pulled it back to uniform), or
        its steps are too small to matter."""
        bounded = self.algo.kl_bound == "max_kl" if self.algo is not None else "surrogate_gain" in row
        discrete = self.agent is None or getattr(self.agent.actor, "discrete", True)
        kl, h, lr = row.get("kl"), row.get("entropy"), row.get("lr")
        if bounded or not discrete or kl is None or h is None or not math.isfinite(h):
            return []
        # far from deterministic: against the uniform policy's entropy (log n), which a resumed run knows
        # too; without the action space (constructed rows), against the first entropy seen
        n = getattr(getattr(self.agent, "act_space", None), "n", None)
        h_max = math.log(int(n)) if n else self.entropy0
        if lr is not None and math.isfinite(lr) and self.lr0 is None:
            self.lr0 = lr
        moving_lr = lr is None or self.lr0 is None or lr >= FROZEN_LR * self.lr0  # not the annealing's tail
        frozen = (math.isfinite(kl) and kl < FROZEN_KL and moving_lr and h_max is not None and h_max > 0
                  and h > FROZEN_ENTROPY * h_max)
        self.frozen = self.frozen + 1 if frozen else 0
        if self.frozen < FROZEN_ITERS:
            return []
        return self._fire("policy_frozen", (
            f"the policy stopped moving: the KL per update stayed below {FROZEN_KL:g} for {FROZEN_ITERS} updates "
            f"at lr {lr if lr is not None else float('nan'):.3g} while the entropy is {h:.3g} "
            f"({100 * h / h_max:.0f}% of the uniform policy's {h_max:.3g}): no gradient reaches the policy, or "
            "its steps are too small to matter. A ReLU network whose units have all fallen silent moves only its "
            "output bias: a wider network (on images cnn = \"nature\", else larger hidden), on images with ppo "
            "one trunk for actor and critic (shared_trunk = true: the value loss keeps the features alive) or "
            "activation = \"tanh\" helps there; where lr (or pg_l2_eps) is very small, a larger one. The best "
            "policy so far is in checkpoints/best"))

    def _critic(self, row: dict) -> list[str]:
        ev = row.get("explained_variance")
        if ev is None or not math.isfinite(ev) or self.iters <= EV_GRACE:
            return []
        self.low_ev = self.low_ev + 1 if ev < EV_FLOOR else 0
        if self.low_ev < EV_ITERS:
            return []
        return self._fire("critic_useless", (
            f"the critic explained less than {EV_FLOOR:.0%} of the return variance for {EV_ITERS} iterations "
            f"(explained variance {ev:.3f}): the advantages are mostly noise. Remedies: more critic_epochs, "
            "a larger critic_lr, normalize_rewards, a smaller gamma"))

    def _observations(self, batch) -> list[str]:
        if self.agent is None:
            return []
        norm = self.agent.obs_norm
        if norm.enabled:
            std = float(np.sqrt(np.max(norm.rms.var)))
            if std > OBS_STD_LIMIT:
                return self._fire("exploding_obs", (
                    f"an observation dimension has a running std of {std:.3g}: the env's observations are "
                    "exploding (a diverging simulation?). Check the env; clip_obs bounds what the policy sees"))
        elif batch is not None and batch.obs.dtype.is_floating_point:
            peak = float(batch.obs.abs().max())
            if peak > OBS_STD_LIMIT:
                return self._fire("exploding_obs", (
                    f"observations reach |x| = {peak:.3g} with normalize_obs off: the network saturates. "
                    "Turn normalize_obs on, or rescale the env's observations"))
        return []


def initial_report(cfg, env, agent, episodes: int = 5, max_steps: int = 5_000) -> list[str]:
    """Before training: the env's spaces, a random policy's return, the initial policy's entropy,
    observation and reward statistics, and the warnings they call for. Prints it; returns the
    warnings."""
    import torch

    if env.vector:
        returns, obs_seen, rewards = _random_rollout_vector(env, cfg.seed + seeds.INITIAL_REPORT, episodes, max_steps)
    else:
        returns, obs_seen, rewards = _random_rollout(env, cfg.seed + seeds.INITIAL_REPORT, episodes, max_steps)
    obs = np.stack(obs_seen) if obs_seen else np.zeros((1, 1))
    with torch.no_grad():
        x = torch.as_tensor(agent.obs_norm(np.stack(obs_seen[:256]).reshape(-1, *agent.obs_space.shape)
                                           .astype(agent.obs_space.dtype)), device=agent.device)
        if x.is_floating_point():
            x = x.float()
        actor = agent.actor
        # a recurrent actor: each observation as the first of an episode (from the zero state)
        params = actor.step(x, actor.initial_state(len(x)))[0] if actor.recurrent else actor.dist_params(x)
        entropy = float(actor.entropy(params).mean())
    act = agent.act_space
    max_h = (f" (max {math.log(act.n):.3g})" if isinstance(act, gym.spaces.Discrete) else "")
    lines = [f"{cfg.env_id}: observations {agent.obs_space}, actions {act}",
             f"random policy: return {np.mean(returns):.4g} ± {np.std(returns):.3g} over {len(returns)} episode(s)"
             if returns else f"random policy: no episode ended within {max_steps} steps",
             f"initial policy: entropy {entropy:.3g}{max_h}",
             f"observations (random policy, {len(obs)} steps): |mean| up to {np.abs(obs.mean(0)).max():.3g}, "
             f"std from {obs.std(0).min():.3g} to {obs.std(0).max():.3g}",
             f"rewards per step: mean {np.mean(rewards):.3g}, std {np.std(rewards):.3g}, "
             f"range [{np.min(rewards):.3g}, {np.max(rewards):.3g}]" if rewards else "rewards: none"]
    warnings = _initial_warnings(cfg, agent, obs, np.asarray(rewards))
    print("\n".join(lines + [f"warning: {w}" for w in warnings]))
    return warnings


def _random_rollout(env, seed: int, episodes: int, max_steps: int) -> tuple[list, list, list]:
    """A random policy's returns (episodes that ended), up to 1,000 observations and every reward."""
    e = env.make()
    rng = np.random.default_rng(seed)
    e.action_space.seed(seed)
    obs_seen: list[np.ndarray] = []
    returns, rewards, steps = [], [], 0
    try:
        for _ep in range(episodes):
            o, _ = e.reset(seed=int(rng.integers(2**31)))
            total, done = 0.0, False
            while not done and steps < max_steps:
                if len(obs_seen) < 1_000:
                    obs_seen.append(np.asarray(o, np.float64).ravel())
                o, r, term, trunc, _ = e.step(e.action_space.sample())
                total += float(r)
                rewards.append(float(r))
                steps += 1
                done = term or trunc
            if done:
                returns.append(total)
            if steps >= max_steps:
                break
    finally:
        e.close()
    return returns, obs_seen, rewards


def _random_rollout_vector(env, seed: int, episodes: int, max_steps: int) -> tuple[list, list, list]:
    """``_random_rollout`` on the user's VectorEnv (``EnvSpec.vector``): every env at once, until
    ``episodes`` episodes ended or ``max_steps`` env steps were taken."""
    e = env.make_vector(env.vector)
    e.action_space.seed(seed)
    obs_seen: list[np.ndarray] = []
    returns: list[float] = []
    rewards: list[float] = []
    steps = 0
    try:
        o, _ = e.reset(seed=seed)
        total = np.zeros(e.num_envs)
        while len(returns) < episodes and steps < max_steps:
            if len(obs_seen) < 1_000:
                obs_seen.extend(np.asarray(o, np.float64).reshape(e.num_envs, -1))
            o, r, term, trunc, _ = e.step(e.action_space.sample())
            total += r
            rewards.extend(float(x) for x in r)
            steps += e.num_envs
            done = np.asarray(term) | np.asarray(trunc)
            returns.extend(float(total[i]) for i in np.flatnonzero(done))
            total[done] = 0.0
    finally:
        e.close()
    return returns[:episodes], obs_seen, rewards


def _initial_warnings(cfg, agent, obs: np.ndarray, rewards: np.ndarray) -> list[str]:
    out = []
    image = obs.shape[1] > 1024
    if not cfg.normalize_obs and not image and np.abs(obs).max() > 10:
        out.append(f"observations reach |x| = {np.abs(obs).max():.3g} with normalize_obs off: turn it on "
                   "(--set normalize_obs=true) or rescale them")
    act = agent.act_space
    if isinstance(act, gym.spaces.Box):
        std = math.exp(cfg.log_std_init)
        lo, hi = act.low.astype(np.float64), act.high.astype(np.float64)
        finite = np.isfinite(lo) & np.isfinite(hi)
        width = (hi - lo)[finite]
        if width.size and (width.max() > 100 * std or width.min() < 0.1 * std):
            out.append(f"the action bounds span [{width.min():.3g}, {width.max():.3g}] per dimension against an "
                       f"initial policy std of {std:.3g}: the Gaussian "
                       f"{'barely explores' if width.max() > 100 * std else 'is clipped almost always'}; "
                       "rescale the actions to [-1, 1] (gymnasium.wrappers.RescaleAction) or set log_std_init")
    if rewards.size and not cfg.normalize_rewards:
        s = float(np.std(rewards))
        if s > 100 or (0 < s < 1e-3):
            out.append(f"rewards have std {s:.3g} per step with normalize_rewards off: the critic's targets are "
                       "badly scaled; turn normalize_rewards on")
    return out

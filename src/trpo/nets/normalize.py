"""Running statistics for observation and reward normalisation (float64, checkpointable).

Gymnasium's NormalizeObservation/NormalizeReward wrappers keep their statistics inside the env
(per worker process for async envs) where a checkpoint cannot reach them; these live in the
learner, are updated once per batch by the sampler and are frozen during updates and evaluation.
"""
from __future__ import annotations

import numpy as np


class RunningMeanStd:
    """Mean and variance of a stream by the parallel-merge formula (Chan et al. 1979)."""

    def __init__(self, shape: tuple[int, ...] = (), epsilon: float = 1e-4):
        self.mean: np.ndarray = np.zeros(shape, np.float64)
        self.var: np.ndarray | np.float64 = np.ones(shape, np.float64)
        self.count = float(epsilon)

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float64).reshape(-1, *self.mean.shape)
        if len(x) == 0:
            return
        b_mean = x.mean(0)
        b_var, b_count = np.square(x - b_mean).mean(0), float(len(x))  # x.var(0), without its overhead
        delta = b_mean - self.mean
        tot = self.count + b_count
        self.mean = self.mean + delta * b_count / tot
        m2 = self.var * self.count + b_var * b_count + delta**2 * self.count * b_count / tot
        self.var = m2 / tot
        self.count = tot

    def update_sequence(self, xs: np.ndarray) -> np.ndarray:
        """``update(xs[0]); ...; update(xs[T-1])`` for a scalar stream in one pass; returns the
        variance after each of the T updates, (T,). The merged moments of a prefix are those of
        all its values, so with the data shifted by the old mean m0 (old data: count c0, shifted
        mean 0, variance v0): mean_k = S1_k / n_k and n_k var_k = c0 v0 + S2_k - n_k mean_k^2,
        with S1_k, S2_k the prefix sums of (x - m0) and (x - m0)^2 and n_k = c0 + k N."""
        assert self.mean.shape == ()
        y = np.asarray(xs, np.float64).reshape(len(xs), -1) - self.mean
        n = self.count + y.shape[1] * np.arange(1, len(y) + 1)
        m = np.cumsum(y.sum(1)) / n
        var = (self.count * self.var + np.cumsum(np.square(y).sum(1))) / n - np.square(m)
        var = np.maximum(var, 0.0)  # rounding can leave -1e-16 where the values are (nearly) all equal
        if len(y):
            self.mean, self.var, self.count = self.mean + m[-1], np.float64(var[-1]), float(n[-1])
        return var

    def state_dict(self) -> dict:
        return {"mean": self.mean.copy(), "var": self.var.copy(), "count": float(self.count)}

    def load_state_dict(self, d: dict) -> None:
        self.mean = np.asarray(d["mean"], np.float64).copy()
        self.var = np.asarray(d["var"], np.float64).copy()
        self.count = float(np.asarray(d["count"]).reshape(-1)[0])


class ObsNormalizer:
    """o -> clip((o - mean) / sqrt(var + eps), -clip, clip) in float32; when disabled, o as
    ``dtype`` (float32, or uint8 for image frames, which the CNN scales itself)."""

    def __init__(self, shape: tuple[int, ...], enabled: bool, clip: float = 10.0, dtype=np.float32):
        self.rms = RunningMeanStd(shape)
        self.enabled = enabled
        self.clip = clip
        self.dtype = np.dtype(np.float32 if enabled else dtype)

    def __call__(self, obs: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Normalised observations of ``self.dtype`` (written into ``out`` when given)."""
        obs = np.asarray(obs, self.dtype)
        if not self.enabled:
            if out is None:
                return obs
            out[...] = obs
            return out
        mean, std = self.frozen()
        if out is None:
            out = np.empty(obs.shape, np.float32)
        # clip(x, lo, hi) is min(max(x, lo), hi), NaN kept; the two ufuncs skip np.clip's Python layers
        return np.minimum(np.maximum((obs - mean) / std, -self.clip, out=out), self.clip, out=out)

    def frozen(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, sqrt(var + eps)), recomputed only after the statistics change."""
        rms = self.rms  # ``update`` and ``load_state_dict`` replace the arrays, never modify them
        cached = getattr(self, "_cache", None)
        if cached is None or cached[0] is not rms.mean or cached[1] is not rms.var:
            self._cache = cached = (rms.mean, rms.var, np.sqrt(rms.var + 1e-8))
        return cached[0], cached[2]


class RewardScaler:
    """r -> r / std(R) with R the running discounted return of each env (as in PPO's reference
    implementation and Gymnasium's NormalizeReward): keeps critic targets of order one."""

    def __init__(self, num_envs: int, gamma: float, enabled: bool):
        self.rms = RunningMeanStd(())
        self.ret = np.zeros(num_envs, np.float64)
        self.gamma = gamma
        self.enabled = enabled

    def __call__(self, rewards: np.ndarray, done: np.ndarray) -> np.ndarray:
        """A batch's rewards (T, N) -> scaled (T, N): step t's rewards divided by the std of all
        returns seen up to step t (the running statistics take each step's N returns in turn)."""
        if not self.enabled:
            return rewards
        rets = np.empty(rewards.shape, np.float64)
        ret = self.ret
        if rewards.shape[1] <= 8:  # few envs: each env's recursion in Python floats, the same IEEE
            ret = ret.copy()       # double operations as numpy's, with ~10x fewer calls per step
            g = self.gamma
            for i in range(rewards.shape[1]):
                r_i, out = ret[i].item(), []
                for r, d in zip(rewards[:, i].tolist(), done[:, i].tolist()):
                    r_i = r_i * g + r
                    out.append(r_i)
                    if d:
                        r_i = 0.0
                rets[:, i], ret[i] = out, r_i
        else:
            for t in range(len(rewards)):
                ret = ret * self.gamma + rewards[t]
                rets[t] = ret
                ret = np.where(done[t], 0.0, ret)
        self.ret = ret
        return rewards / np.sqrt(self.rms.update_sequence(rets) + 1e-8)[:, None]

    def state_dict(self) -> dict:
        return {"rms": self.rms.state_dict(), "ret": self.ret.copy()}

    def load_state_dict(self, d: dict) -> None:
        self.rms.load_state_dict(d["rms"])
        if "ret" in d and np.shape(d["ret"]) == self.ret.shape:
            self.ret = np.asarray(d["ret"], np.float64).copy()

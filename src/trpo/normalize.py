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
        self.mean = np.zeros(shape, np.float64)
        self.var = np.ones(shape, np.float64)
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

    def state_dict(self) -> dict:
        return {"mean": self.mean.copy(), "var": self.var.copy(), "count": float(self.count)}

    def load_state_dict(self, d: dict) -> None:
        self.mean = np.asarray(d["mean"], np.float64).copy()
        self.var = np.asarray(d["var"], np.float64).copy()
        self.count = float(np.asarray(d["count"]).reshape(-1)[0])


class ObsNormalizer:
    """o -> clip((o - mean) / sqrt(var + eps), -clip, clip); the identity when disabled."""

    def __init__(self, shape: tuple[int, ...], enabled: bool, clip: float = 10.0):
        self.rms = RunningMeanStd(shape)
        self.enabled = enabled
        self.clip = clip

    def __call__(self, obs: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Normalised float32 observations (written into ``out`` when given)."""
        obs = np.asarray(obs, np.float32)
        if not self.enabled:
            if out is None:
                return obs
            out[...] = obs
            return out
        mean, std = self.frozen()
        if out is None:
            out = np.empty(obs.shape, np.float32)
        return np.clip((obs - mean) / std, -self.clip, self.clip, out=out)

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
        if not self.enabled:
            return rewards
        self.ret = self.ret * self.gamma + rewards
        self.rms.update(self.ret)
        self.ret[done] = 0.0
        return rewards / np.sqrt(self.rms.var + 1e-8)

    def state_dict(self) -> dict:
        return {"rms": self.rms.state_dict(), "ret": self.ret.copy()}

    def load_state_dict(self, d: dict) -> None:
        self.rms.load_state_dict(d["rms"])
        if "ret" in d and np.shape(d["ret"]) == self.ret.shape:
            self.ret = np.asarray(d["ret"], np.float64).copy()

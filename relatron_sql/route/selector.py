"""The meta-selector: P(RDL beats DFS) from task signals, fitted on the bank.

An L2-regularised logistic regression on standardised signals (undefined signals imputed at
the bank mean), small enough to refit on every call.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .signals import KEYS, vector


@dataclasses.dataclass
class Selector:
    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray
    bias: float
    n_tasks: int

    def probability(self, signals: dict) -> float:
        z = np.nan_to_num((vector(signals) - self.mean) / self.std)
        return float(1.0 / (1.0 + np.exp(-(z @ self.weights + self.bias))))

    def explain(self, signals: dict, top: int = 3) -> list[tuple[str, float]]:
        """The signals that pushed the decision most, with their signed contribution."""
        z = np.nan_to_num((vector(signals) - self.mean) / self.std)
        contrib = z * self.weights
        order = np.argsort(-np.abs(contrib))[:top]
        return [(KEYS[i], float(contrib[i])) for i in order]


def fit(outcomes: list[dict], l2: float = 1.0, steps: int = 2000, lr: float = 0.1) -> Selector:
    """Fit on bank outcomes (each with signals and rdl_wins)."""
    x = np.array([vector(o["signals"]) for o in outcomes])
    y = np.array([1.0 if o["rdl_wins"] else 0.0 for o in outcomes])
    mean = np.nanmean(x, axis=0) if len(x) else np.zeros(len(KEYS))
    mean = np.where(np.isfinite(mean), mean, 0.0)
    std = np.nanstd(x, axis=0) if len(x) else np.ones(len(KEYS))
    std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
    z = np.nan_to_num((x - mean) / std)
    w = np.zeros(len(KEYS))
    prior = (y.sum() + 1) / (len(y) + 2)
    b = float(np.log(prior / (1 - prior)))
    for _ in range(steps if len(y) else 0):
        p = 1.0 / (1.0 + np.exp(-(z @ w + b)))
        grad_w = z.T @ (p - y) / len(y) + l2 * w / len(y)
        grad_b = float((p - y).mean())
        w -= lr * grad_w
        b -= lr * grad_b
    return Selector(mean, std, w, b, len(y))

"""The meta-selector: P(RDL beats DFS) from task signals, fitted on the bank.

The two affinities measure each family's raw material on the task itself: a small LightGBM on
depth-1 DFS features, and a ridge fit on an untrained GNN's embeddings. The selector is a
one-parameter logistic model of their gap, P(RDL wins) = sigmoid(slope * (path_affinity -
feature_affinity)), with the slope fitted on the bank: even odds when the two affinities are
equal, and more confidence the larger the gap. Without affinities it answers the bank's base
rate of RDL wins. (A logistic regression on all signals overfits a bank of a few dozen tasks;
benchmarks/bench_routing.py prints it beside this one.)
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np


def affinity_gap(signals: dict) -> float | None:
    a, b = signals.get("path_affinity"), signals.get("feature_affinity")
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        return None
    return float(a - b)


@dataclasses.dataclass
class Selector:
    slope: float
    base_rate: float
    n_tasks: int

    def probability(self, signals: dict) -> float:
        gap = affinity_gap(signals)
        if gap is None:
            return self.base_rate
        return float(1.0 / (1.0 + math.exp(-max(min(self.slope * gap, 50.0), -50.0))))

    def explain(self, signals: dict, top: int = 3) -> list[tuple[str, float]]:
        """The signal behind the decision, with its signed contribution to the log-odds."""
        gap = affinity_gap(signals)
        if gap is None:
            return [("bank base rate", math.log(self.base_rate / (1 - self.base_rate)))]
        return [("path_affinity - feature_affinity", self.slope * gap)]


def fit(outcomes: list[dict], l2: float = 1e-3, steps: int = 50) -> Selector:
    """Fit the slope on bank outcomes (each with signals and rdl_wins): the L2-penalised
    maximum likelihood, by Newton's method (one parameter; the objective is convex)."""
    y_all = np.array([1.0 if o["rdl_wins"] else 0.0 for o in outcomes])
    base = float((y_all.sum() + 1) / (len(y_all) + 2))
    pairs = [(affinity_gap(o["signals"]), o["rdl_wins"]) for o in outcomes]
    gap = np.array([g for g, _ in pairs if g is not None])
    y = np.array([1.0 if w else 0.0 for g, w in pairs if g is not None])
    def loss(s: float) -> float:
        z = s * gap
        return float((np.logaddexp(0.0, z) - y * z).mean()) + 0.5 * l2 * s * s

    slope = 0.0
    for _ in range(steps if len(y) else 0):
        p = 1.0 / (1.0 + np.exp(-np.clip(slope * gap, -50, 50)))
        grad = float(((p - y) * gap).mean()) + l2 * slope
        step = grad / (float((p * (1 - p) * gap * gap).mean()) + l2)
        while loss(slope - step) > loss(slope) and abs(step) > 1e-12:
            step /= 2  # a Newton step can overshoot where the curvature changes fast
        slope -= step
        if abs(step) < 1e-10 * max(1.0, abs(slope)):
            break
    return Selector(max(slope, 0.0), base, len(outcomes))

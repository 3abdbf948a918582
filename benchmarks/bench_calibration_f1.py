"""How well the two families' probabilities are calibrated on rel-f1's driver-dnf.

Trains family 'dfs' (the anchor: LightGBM on DFS features) and family 'rdl' in one run, seed 0,
default budgets, and prints for validation and test: AUROC, mean predicted probability against
the observed positive rate, Brier score, and the expected calibration error over the report's
ten equal-width probability bins. It also prints the test figures after a logistic (Platt)
recalibration fitted on validation, to show whether such a step would help on this task.
Usage: .venv/bin/python benchmarks/bench_calibration_f1.py [F1_DIR] [TASK]
"""
from __future__ import annotations

import pathlib
import sys

import numpy as np

import relatron_sql
from relatron_sql import metrics, models
from relatron_sql.report import calibration_bins

DATA = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                    pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "f1")
TASK = sys.argv[2] if len(sys.argv) > 2 else "driver-dnf"


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    which = calibration_bins(p, bins)
    return float(sum(abs(p[which == b].mean() - y[which == b].mean()) * (which == b).mean()
                     for b in range(bins) if (which == b).any()))


def line(label: str, y: np.ndarray, p: np.ndarray) -> str:
    return (f"{label:22s} auroc {metrics.auroc(y, p):.4f}  mean p {p.mean():.3f}  rate "
            f"{y.mean():.3f}  brier {np.mean((p - y) ** 2):.4f}  ece "
            f"{expected_calibration_error(y, p):.4f}  range {p.min():.3f}-{p.max():.3f}")


def platt(y: np.ndarray, p: np.ndarray):
    """sigmoid(a * logit(p) + b), (a, b) by maximum likelihood on (y, p): Newton's method."""
    def design(q):
        q = np.clip(q, 1e-6, 1 - 1e-6)
        return np.stack([np.log(q / (1 - q)), np.ones_like(q)], 1)

    x, w = design(p), np.array([1.0, 0.0])
    for _ in range(50):
        z = 1 / (1 + np.exp(-x @ w))
        step = np.linalg.solve(x.T @ (x * (z * (1 - z))[:, None]) + 1e-9 * np.eye(2),
                               x.T @ (y - z))
        w += step
        if np.abs(step).max() < 1e-10:
            break
    return lambda q: 1 / (1 + np.exp(-design(q) @ w))


def main() -> None:
    con = relatron_sql.connect(":memory:")
    relatron_sql.load(con, "ergast_f1", str(DATA))
    for family in ("dfs", "rdl"):
        models.train(con, TASK, family=family, seed=0, retrain=True)
        task, _, _, model = models.active_model(con, TASK)
        scored = {}
        for split in ("val", "test"):
            rows = models.split_rows(con, task, split)
            scored[split] = (np.asarray(rows.label, float),
                             np.asarray(model.predict(con, task, rows), float))
            print(line(f"{family} {split}", *scored[split]), flush=True)
        recalibrate = platt(*scored["val"])
        y, p = scored["test"]
        print(line(f"{family} test, Platt", y, recalibrate(p)), flush=True)


if __name__ == "__main__":
    main()

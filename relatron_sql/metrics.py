"""Metrics per task kind, in plain numpy (AUROC and AP for binary, MAE/RMSE/R² for regression)."""
from __future__ import annotations

import numpy as np


def auroc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve via the rank statistic (ties get average ranks)."""
    y = np.asarray(y, dtype=float)
    score = np.asarray(score, dtype=float)
    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0 or np.isnan(score).any():   # a NaN score has no rank
        return float("nan")
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score), dtype=float)
    sorted_scores = score[order]
    # average ranks over ties
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_scores)) + 1]
    ends = np.r_[starts[1:], len(score)]
    avg = (starts + ends - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, ends - starts)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def average_precision(y: np.ndarray, score: np.ndarray) -> float:
    """Precision at each distinct score, weighted by the recall it adds (sklearn's definition):
    rows that tie on a score enter together, so the value does not depend on their order."""
    y = np.asarray(y, dtype=float)
    score = np.asarray(score, dtype=float)
    if y.sum() == 0 or np.isnan(score).any():
        return float("nan")
    order = np.argsort(-score, kind="mergesort")
    hits = np.cumsum(y[order])
    ends = np.r_[np.flatnonzero(np.diff(score[order])), len(score) - 1]  # last row of each score
    true_pos = hits[ends]
    precision = true_pos / (ends + 1)
    gained = np.diff(np.r_[0.0, true_pos])
    return float((precision * gained).sum() / hits[-1])


def regression(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    y = np.asarray(y, dtype=float)
    err = np.asarray(pred, dtype=float) - y
    var = float(((y - y.mean()) ** 2).sum()) if len(y) else 0.0
    return {"mae": float(np.abs(err).mean()), "rmse": float(np.sqrt((err ** 2).mean())),
            "r2": float(1 - (err ** 2).sum() / var) if var > 0 else float("nan")}


def evaluate(kind: str, y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """All metrics of ``kind``; ``pred`` is P(1) (binary), a value (regression) or a class."""
    if len(y) == 0:
        return {}
    if kind == "binary":
        return {"auroc": auroc(y, pred), "average_precision": average_precision(y, pred),
                "accuracy": float(((np.asarray(pred) >= 0.5) == (np.asarray(y) == 1)).mean()),
                "rows": int(len(y))}
    if kind == "regression":
        return {**regression(y, pred), "rows": int(len(y))}
    return {"accuracy": float((np.asarray(pred) == np.asarray(y)).mean()), "rows": int(len(y))}


def primary(kind: str, metrics: dict[str, float]) -> float:
    return metrics.get({"binary": "auroc", "regression": "mae", "multiclass": "accuracy"}[kind],
                       float("nan"))

"""LightGBM searched with Optuna (TPE, seeded) under early stopping on the validation split,
after the bank's configurations for similar tasks when there are any.

Objectives and early-stopping metrics follow the task kind: binary (AUROC), regression (MAE, the
search also tries L1 / L2 / Huber losses) and multiclass (accuracy). Models are kept as LightGBM
text; nothing is pickled.

A regression search given an offset per row (the entity's last known label) also tries boosting
from it (``"offset": "history"``): the trees then learn the change from the offset, where a tree
alone can only approximate the identity in steps, which costs much on counts that persist from
one window to the next (benchmarks/RESULTS.md). The study's first two trials are the default
configuration without and with the offset, so that even a small budget compares the two.

Huber's threshold (LightGBM's ``alpha``, 0.9 by default, in the label's units) is set from the
labels: the 90th percentile of their distance from where the booster starts. At 0.9 on counts
in the hundreds every residual is clipped to 0.9 and each round moves a prediction by at most
the learning rate times that, so the booster cannot reach the labels in its rounds.
"""
from __future__ import annotations

import itertools
import math
import time

import lightgbm as lgb
import numpy as np

from .. import metrics


MAX_ROUNDS = 2000
EARLY_STOPPING = 50
#: the first trial: a sound configuration, so that small budgets start from good ground
DEFAULT_PARAMS = {"learning_rate": 0.03, "num_leaves": 15, "min_data_in_leaf": 40,
                  "feature_fraction": 0.5, "bagging_fraction": 0.8, "lambda_l2": 1.0}


def base_params(kind: str, num_classes: int | None, seed: int) -> dict:
    params = {"verbose": -1, "seed": int(seed), "deterministic": True, "force_row_wise": True,
              "num_threads": 1, "bagging_freq": 1}
    if kind == "binary":
        params.update(objective="binary", metric="auc")
    elif kind == "regression":
        params.update(objective="l1", metric="l1")
    else:
        params.update(objective="multiclass", metric="multi_error",
                      num_class=max(int(num_classes or 2), 2))
    return params


def predict_booster(booster: lgb.Booster, kind: str, X: np.ndarray, offset=None
                    ) -> np.ndarray:
    """Predictions; ``offset``: what a regression booster fitted from offsets adds back."""
    raw = booster.predict(X, num_iteration=booster.best_iteration or None)
    if kind == "multiclass":
        return np.argmax(raw, axis=1).astype(float)
    raw = np.asarray(raw, dtype=float)
    return raw if offset is None else raw + offset


#: where a regression booster starts: at LightGBM's own average, or at the given offset
OFFSETS = ("none", "history")


#: the share of the starting residuals that Huber's loss treats as squared, not absolute
HUBER_QUANTILE = 0.9


def huber_alpha(y_train, init_train=None) -> float:
    """Huber's threshold for these labels: the ``HUBER_QUANTILE`` of their distance from the
    start (the offsets when given, else the labels' mean, where LightGBM's Huber starts)."""
    y = np.asarray(y_train, dtype=float)
    gap = np.abs(y - (y.mean() if init_train is None else np.asarray(init_train, dtype=float)))
    alpha = float(np.quantile(gap, HUBER_QUANTILE))
    if alpha > 0:
        return alpha
    positive = gap[gap > 0]   # most labels already at the start: the smallest nonzero gap
    return float(positive.min()) if len(positive) else 1.0


def fit_one(params: dict, X_train, y_train, X_val, y_val, init_train=None, init_val=None
            ) -> lgb.Booster:
    """A booster under early stopping on validation; ``init_*``: offsets it boosts from."""
    params = {k: v for k, v in params.items() if k != "offset"}   # ours, not LightGBM's
    train = lgb.Dataset(X_train, y_train, init_score=init_train, free_raw_data=False)
    val = lgb.Dataset(X_val, y_val, init_score=init_val, reference=train, free_raw_data=False)
    return lgb.train(params, train, num_boost_round=MAX_ROUNDS, valid_sets=[val],
                     callbacks=[lgb.early_stopping(EARLY_STOPPING, verbose=False)])


def _suggest(trial, kind: str, offsets: bool = False) -> dict:
    p = {"learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
         "num_leaves": trial.suggest_int("num_leaves", 4, 64, log=True),
         "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 5, 200, log=True),
         "feature_fraction": trial.suggest_float("feature_fraction", 0.2, 1.0),
         "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
         "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 10.0, log=True)}
    if kind == "regression":
        p["objective"] = trial.suggest_categorical("objective", ["l1", "l2", "huber"])
        if offsets:
            p["offset"] = trial.suggest_categorical("offset", list(OFFSETS))
    return p


_RANGES = {"learning_rate": (0.01, 0.2), "num_leaves": (4, 64), "min_data_in_leaf": (5, 200),
           "feature_fraction": (0.2, 1.0), "bagging_fraction": (0.5, 1.0),
           "lambda_l2": (1e-3, 10.0)}


def _stored_params(prior):
    return prior.get("params", prior) if isinstance(prior, dict) else None


def prior_problem(prior) -> str | None:
    """Why a stored configuration (ours, or its ``params``) cannot be a DFS trial, or None."""
    params = _stored_params(prior)
    if not isinstance(params, dict):
        return f"a configuration must be an object, not {type(params).__name__}"
    for key in _RANGES:
        value = params.get(key)
        if value is None:
            return f"{key} is missing"
        if not isinstance(value, (int, float)) or isinstance(value, bool) \
                or not math.isfinite(value):
            return f"{key} {value!r} is not a finite number"
    return None


def prior_params(prior: dict, kind: str, offsets: bool = False) -> dict | None:
    """A stored configuration clipped into the search space, or None when it cannot be one
    (one stored before offsets, or searched without them, starts at LightGBM's average)."""
    if prior_problem(prior) is not None:
        return None
    params = _stored_params(prior)
    out = {}
    for key, (lo, hi) in _RANGES.items():
        value = min(max(params[key], lo), hi)
        out[key] = int(round(value)) if isinstance(lo, int) else float(value)
    if kind == "regression":
        out["objective"] = params.get("objective") if params.get("objective") in (
            "l1", "l2", "huber") else "l1"
        if offsets:
            out["offset"] = params.get("offset") if params.get("offset") in OFFSETS else "none"
    return out


def usable_priors(priors, kind: str, offsets: bool = False) -> list[dict]:
    """The stored configurations the search can try, clipped into its space; others dropped."""
    return [p for p in (prior_params(prior, kind, offsets) for prior in priors or ())
            if p is not None]


def planned_trials(budget: int, priors, kind: str) -> int:
    """Trials a search runs when time allows: the usable priors on top of ``budget``."""
    return budget + len(usable_priors(priors, kind))


def search(kind: str, num_classes: int | None, X_train, y_train, X_val, y_val, budget: int,
           seed: int, time_budget: float | None = None, trial_log=None,
           progress=None, priors=(), offsets=None) -> tuple[lgb.Booster, dict, float]:
    """Best booster, its parameters and validation metric: the bank's configurations
    (``priors``) first, then ``budget`` Optuna trials starting from the default configuration
    (and, given offsets, the same from the offsets).
    ``offsets``: (train, val) arrays a regression booster may start from, or None.

    The priors are extra candidates outside the TPE study. Enqueued into it, they took the place
    of its random start-up trials and pulled its density towards them, and the search ended lower
    on validation on more bank tasks than it helped (benchmarks/RESULTS.md). Kept apart, the study
    samples what it samples unseeded, and the priors can only add a better candidate.
    """
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    higher = kind != "regression"
    offsets = offsets if kind == "regression" else None
    defaults = dict(DEFAULT_PARAMS)
    if kind == "regression":
        defaults["objective"] = "l1"
        if offsets is not None:
            defaults["offset"] = "none"
    seeded = usable_priors(priors, kind, offsets is not None)
    best: dict = {"booster": None, "params": None, "score": None}
    started = time.perf_counter()
    numbers = itertools.count()

    def evaluate(sampled: dict) -> float:
        t0 = time.perf_counter()
        number = next(numbers)
        params = {**base_params(kind, num_classes, seed), **sampled}
        if kind == "regression" and params["objective"] != "l1":
            params["metric"] = "l1"
        start = offsets if params.get("offset") == "history" else (None, None)
        if params.get("objective") == "huber":
            params["alpha"] = huber_alpha(y_train, start[0])
        booster = fit_one(params, X_train, y_train, X_val, y_val, *start)
        predicted = predict_booster(booster, kind, X_val, start[1])
        score = metrics.primary(kind, metrics.evaluate(kind, y_val, predicted))
        if not np.isfinite(score):
            score = -np.inf if higher else np.inf
        better = best["score"] is None or (score > best["score"] if higher
                                           else score < best["score"])
        if better:
            best.update(booster=booster, params=params, score=score)
        if trial_log is not None:
            trial_log(trial=number, config={**params, "rounds": booster.best_iteration},
                      val_metric=score, seconds=time.perf_counter() - t0)
        if progress is not None:
            progress(f"dfs trial {number}: val {score:.4f} ({booster.best_iteration} rounds)")
        return score

    def out_of_time() -> bool:
        return time_budget is not None and time.perf_counter() - started > time_budget

    for params in seeded:
        evaluate(params)
        if out_of_time():
            return best["booster"], best["params"], float(best["score"])

    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(8, max(budget // 3, 1)))
    study = optuna.create_study(direction="maximize" if higher else "minimize", sampler=sampler)
    study.enqueue_trial(defaults)
    if offsets is not None:
        study.enqueue_trial({**defaults, "offset": "history"})

    def stop_when_out_of_time(study_, trial_):
        if out_of_time():
            study_.stop()

    study.optimize(lambda trial: evaluate(_suggest(trial, kind, offsets is not None)),
                   n_trials=budget,
                   callbacks=[stop_when_out_of_time])
    return best["booster"], best["params"], float(best["score"])

"""The order of an RDL search: the bank's priors, the fixed trials, then Optuna TPE.

The fixed trials (``TRIALS``) are a small portfolio chosen by hand: the default network, then
one change each (attention, uniform sampling with wider fanouts, mean aggregation, a smaller
network with a larger step). A budget beyond them is spent by Optuna's TPE sampler over
``SPACE``; every fixed trial lies in that space, so the study starts from their validation
scores on this task instead of from random start-up trials. The bank's priors (the best
configurations of the most similar bank tasks, in auto mode) run first; their scores join the
study too when their configuration lies in the space.
"""
from __future__ import annotations

import math

from .train import DEFAULTS


TRIALS = (
    {},
    {"conv": "gat"},
    {"strategy": "uniform", "fanouts": [64, 32]},
    {"aggr": "mean"},
    {"channels": 64, "lr": 0.01},
)

#: Largest first-hop fanout at three layers: the sampled neighbourhood grows with the product
#: of the fanouts, and [32, 16, 8] already takes seconds per batch on two cores.
MAX_DEEP_FANOUT = 32


def _space() -> dict:
    from optuna.distributions import (CategoricalDistribution, FloatDistribution,
                                      IntDistribution)
    return {"conv": CategoricalDistribution(["sage", "gat"]),
            "aggr": CategoricalDistribution(["sum", "mean", "max"]),   # GraphSAGE only
            "layers": IntDistribution(1, 3),
            "fanout": CategoricalDistribution([16, 32, 64, 128]),    # first hop; halved per hop
            "channels": CategoricalDistribution([64, 128, 256]),
            "strategy": CategoricalDistribution(["last", "uniform"]),
            "lr": FloatDistribution(1e-3, 3e-2, log=True),
            "dropout": FloatDistribution(0.0, 0.5)}


def fanouts(first: int, layers: int) -> list[int]:
    """Per-hop fanouts: ``first`` at the first hop, halved at each further one."""
    if layers >= 3:
        first = min(first, MAX_DEEP_FANOUT)
    return [max(2, first >> hop) for hop in range(layers)]


def config_of(params: dict) -> dict:
    """The RDL options (overrides of ``DEFAULTS``) for a point of the space."""
    out = {"conv": params["conv"], "layers": params["layers"],
           "fanouts": fanouts(params["fanout"], params["layers"]),
           "channels": params["channels"], "strategy": params["strategy"],
           "lr": params["lr"], "dropout": params["dropout"]}
    if params["conv"] == "sage":
        out["aggr"] = params["aggr"]
    return out


def params_of(overrides: dict) -> dict | None:
    """The point of the space a configuration is, or None when it lies outside."""
    space = _space()
    full = {**DEFAULTS, **overrides}
    fixed = set(DEFAULTS) - {"conv", "aggr", "layers", "fanouts", "channels", "strategy", "lr",
                             "dropout"}
    if any(full[k] != DEFAULTS[k] for k in fixed):
        return None
    try:
        layers, given = full["layers"], list(full["fanouts"])
        if not given or layers not in range(1, 4) or given != fanouts(given[0], layers):
            return None
        params = {"conv": full["conv"], "layers": layers, "fanout": given[0],
                  "channels": full["channels"], "strategy": full["strategy"],
                  "lr": float(full["lr"]), "dropout": float(full["dropout"])}
    except (TypeError, ValueError):
        return None
    if full["conv"] == "sage":
        params["aggr"] = full["aggr"]
    return params if all(_inside(space[k], v) for k, v in params.items()) else None


def fixed_trials(priors=()) -> list[dict]:
    """Bank priors first (only the options RDL knows), then the fixed trials, without repeats
    (a stored config that spells out the defaults repeats the empty one)."""
    out: list[dict] = []
    seen: list[dict] = []
    for config in [*filter(_usable, priors or ()), *TRIALS]:
        known = {k: v for k, v in (config or {}).items() if k in DEFAULTS}
        full = {**DEFAULTS, **known}
        if full not in seen:
            seen.append(full)
            out.append(known)
    return out


_POSITIVE_INTS = ("channels", "layers", "batch_size", "max_epochs", "patience")


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _positive_whole(value) -> bool:
    return _number(value) and value == int(value) and value >= 1


def _usable(config) -> bool:
    # a bank row written by hand or by another release: skipped, not fatal (the caller that
    # collects the bank's priors says so once, in the training's warnings)
    return prior_problem(config) is None


def prior_problem(config) -> str | None:
    """Why a stored configuration cannot be an RDL trial (the options RDL knows, checked the
    way a user's would be), or None."""
    if config is None:
        return None
    if not isinstance(config, dict):
        return f"a configuration must be an object, not {type(config).__name__}"
    space = _space()
    for key in ("conv", "aggr", "strategy"):   # the choices of the search space
        if key in config and config[key] not in space[key].choices:
            return f"{key} {config[key]!r} is not one of {list(space[key].choices)}"
    for key in _POSITIVE_INTS:
        if key in config and not _positive_whole(config[key]):
            return f"{key} {config[key]!r} is not a positive whole number"
    if "fanouts" in config and not (isinstance(config["fanouts"], list) and config["fanouts"]
                                    and all(map(_positive_whole, config["fanouts"]))):
        return f"fanouts {config['fanouts']!r} is not a list of positive whole numbers"
    if "lr" in config and not (_number(config["lr"]) and config["lr"] > 0):
        return f"lr {config['lr']!r} is not a positive number"
    for key in ("dropout", "weight_decay", "max_seconds"):
        if key in config and not (_number(config[key]) and config[key] >= 0
                                  and (key != "dropout" or config[key] < 1)):
            return f"{key} {config[key]!r} is out of range"
    for key in ("history", "amp"):
        if key in config and not isinstance(config[key], bool):
            return f"{key} {config[key]!r} is not true or false"
    return None


class Search:
    """Asks for ``budget`` configurations in turn and is told each one's validation score."""

    def __init__(self, budget: int, seed: int, higher_is_better: bool, priors=()):
        self.fixed = fixed_trials(priors)
        self.budget = max(1, int(budget))
        self.seed, self.higher_is_better = seed, higher_is_better
        self.done: list[tuple[dict, float]] = []
        self.study = self._asked = None

    def ask(self) -> dict | None:
        """The next configuration, or None once the budget is spent."""
        n = len(self.done)
        if n >= self.budget:
            return None
        if n < len(self.fixed):
            self._asked = None
            return dict(self.fixed[n])
        if self.study is None:
            self.study = self._start()
        self._asked = self.study.ask()
        space = _space()
        params = {name: _suggest(self._asked, name, space[name]) for name in
                  ("conv", "layers", "fanout", "channels", "strategy", "lr", "dropout")}
        if params["conv"] == "sage":
            params["aggr"] = _suggest(self._asked, "aggr", space["aggr"])
        return config_of(params)

    def tell(self, overrides: dict, score: float) -> None:
        self.done.append((overrides, score))
        if self._asked is not None:
            from optuna.trial import TrialState
            if math.isfinite(score):
                self.study.tell(self._asked, score)
            else:
                self.study.tell(self._asked, state=TrialState.FAIL)
            self._asked = None

    def _start(self):
        import optuna
        from optuna.trial import create_trial
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.TPESampler(seed=self.seed, n_startup_trials=len(TRIALS))
        study = optuna.create_study(
            direction="maximize" if self.higher_is_better else "minimize", sampler=sampler)
        space = _space()
        for overrides, score in self.done:
            params = params_of(overrides)
            if params is not None and math.isfinite(score):
                study.add_trial(create_trial(params=params, value=score,
                                             distributions={k: space[k] for k in params}))
        return study


def _inside(dist, value) -> bool:
    from optuna.distributions import CategoricalDistribution
    if isinstance(dist, CategoricalDistribution):
        return value in dist.choices
    return dist.low <= value <= dist.high


def _suggest(trial, name: str, dist):
    from optuna.distributions import CategoricalDistribution, IntDistribution
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, log=dist.log)
    return trial.suggest_float(name, dist.low, dist.high, log=dist.log)

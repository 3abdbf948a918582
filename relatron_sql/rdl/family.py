"""The RDL family: heterogeneous GNNs on the temporal relational graph.

A search runs ``budget`` trials, as many as the time budget leaves room for: the bank's priors,
five fixed trials (GraphSAGE with sum aggregation on the most recent neighbours first, then GAT
attention, uniform sampling with wider fanouts, mean aggregation, a smaller network), then
Optuna TPE started from their scores (see ``search``). Among the best trials the final one is
chosen by validation score and loss-landscape flatness. Its explanation is permutation
importance per source table (and for the label history) on the validation split.
"""
from __future__ import annotations

import json
import math
import time

from ..families import FitOptions, Fitted
from ..models import check_device, split_rows
from ..task import Task
from . import train as engine
from .search import Search, fixed_trials, prior_problem


class RDLFamily:
    name = "rdl"
    default_budget = 1

    def auto_budget(self, priors) -> int:
        """Trials when auto mode searches both families and the caller names no budget: the
        bank's priors and the fixed trials."""
        return len(fixed_trials(priors))

    @staticmethod
    def prior_problem(config) -> str | None:
        """Why a bank configuration cannot be a trial of this family, or None."""
        return prior_problem(config)

    #: Weight of flatness against the validation metric when choosing among the best trials
    #: (0 = plain best-validation selection).
    flatness_weight = 0.5
    #: Trials whose best checkpoints compete on flatness.
    TOP_TRIALS = 3

    def fit(self, con, task: Task, options: FitOptions) -> Fitted:
        check_device(options.device)
        started = time.perf_counter()
        deadline = None if options.time_budget is None else started + options.time_budget
        prepared = engine.Prepared.build(con, task)
        splits = {s: split_rows(con, task, s) for s in ("train", "val")}
        # one per trial: (val score, trial, model, info); the model only while the trial is
        # among the best ``keep``, which are all that selection reads (see ``shortlist``)
        candidates, last = [], 0.0
        keep = self.TOP_TRIALS if self.flatness_weight > 0 else 1
        search = Search(options.budget, options.seed, task.higher_is_better, options.priors)
        while (overrides := search.ask()) is not None:
            trial = len(candidates)
            if deadline is not None and trial > 0 and time.perf_counter() + last >= deadline:
                break  # not enough time left for another trial as long as the last one
            t0 = time.perf_counter()
            config = engine.check_config(overrides)
            options.progress(f"rdl trial {trial}: {overrides or 'defaults'}")
            model, score, info = engine.fit(con, task, prepared, config, options.seed + trial,
                                            options.device, trial, options.trial_log,
                                            options.progress, deadline, splits)
            candidates.append((score, trial, model, info))
            del model   # only the shortlist holds it, so a dropped model is freed now
            shortlist(candidates, keep, task.sort_key)
            search.tell(overrides, score)
            last = time.perf_counter() - t0
        ranked = sorted(candidates, key=lambda c: task.sort_key(c[0]))
        landscape = self.select_checkpoint(con, task, ranked, splits["val"], options, started)
        score, trial, model, info = ranked[landscape["chosen"] if landscape else 0]
        config = {**engine.stored_config(model, prepared), "trial": trial,
                  "epochs": info["epochs"], "best_epoch": info["best_epoch"],
                  "epoch_seconds": info["epoch_seconds"], "stopped": info["stopped"],
                  "device": options.device, "landscape": landscape}
        model.config = config
        options.progress("rdl: permutation importance on the validation split")
        features = engine.permutation_importance(con, task, model, splits["val"],
                                                 options.seed)
        if options.device != "cpu":
            model.net.to("cpu")
            model.device = "cpu"
        artifacts = {"config": ("json", json.dumps(config).encode()),
                     "weights": ("torch", model.state_bytes())}
        return Fitted(model, config, artifacts, features, score,
                      {"seconds": time.perf_counter() - started,
                       "warnings": time_warnings(len(candidates), search.budget, info,
                                                 config["max_seconds"],
                                                 [c[3] for c in candidates if c[1] != trial])})

    def select_checkpoint(self, con, task: Task, ranked: list, val, options: FitOptions,
                          started: float) -> dict | None:
        """Among the ``TOP_TRIALS`` best trials by validation score (each at its best epoch),
        prefer flat minima (see relatron_sql.route.landscape). Skipped with fewer than two
        trials, at flatness weight 0, or when the time budget is spent."""
        from ..route import landscape
        ranked = [c for c in ranked[:self.TOP_TRIALS] if math.isfinite(c[0])]
        if self.flatness_weight <= 0 or len(ranked) < 2 or (
                options.time_budget is not None and
                time.perf_counter() - started > options.time_budget):
            return None
        options.progress(f"rdl: loss landscape of the {len(ranked)} best trials")
        measured = []
        for s, trial, model, info in ranked:
            loss_fn = engine.probe_loss(con, task, model, val, seed=options.seed)
            flat = landscape.measure(model.net, loss_fn, seed=options.seed)
            measured.append({"val_metric": s, "trial": trial, "epoch": info["best_epoch"],
                             "flatness": flat.as_dict()})
        chosen = landscape.select(measured, task.higher_is_better, self.flatness_weight)
        return {"candidates": measured, "chosen": chosen, "weight": self.flatness_weight}

    def load(self, config: dict, artifacts: dict[str, bytes]) -> engine.RDLModel:
        return engine.load_model(config, artifacts)


def shortlist(candidates: list, keep: int, sort_key) -> None:
    """Drop, in place, the model of every candidate ``(val score, trial, model, info)`` outside
    the ``keep`` best by ``sort_key`` of the score; scores, trials and infos stay.

    Ties go to the earlier trial, as in the final (stable) ranking, so the candidates holding
    a model after each trial are exactly the ``keep`` that lead the ranking of all trials: a
    search holds at most ``keep`` trained models (and one in training) instead of one per trial.
    """
    order = sorted(range(len(candidates)), key=lambda i: sort_key(candidates[i][0]))
    for i in order[keep:]:
        score, trial, model, info = candidates[i]
        if model is not None:
            candidates[i] = (score, trial, None, info)


def time_warnings(trials: int, planned: int, chosen: dict, max_seconds: float,
                  others: list[dict] = ()) -> list[str]:
    """What time cut short: trials the budget left out, the chosen trial's epochs (stopped by
    the caller's time budget or by the trial's own ``max_seconds`` cap), or other trials',
    which might have won with more time."""
    out = []
    if trials < planned:
        out.append(f"rdl: the time budget allowed {trials} of {planned} trials")
    epochs = (f"after {chosen['epochs']} epoch(s) "
              f"({', '.join(f'{s:g}' for s in chosen['epoch_seconds'])} s), before it stopped "
              "improving; the model may be undertrained")
    if chosen["stopped"] == "time":
        out.append(f"rdl: the time budget stopped the chosen trial {epochs}: raise time_budget")
    elif chosen["stopped"] == "max_seconds":
        out.append(f"rdl: the chosen trial reached RDL's cap of {max_seconds:g} s per trial "
                   f"{epochs}")
    cut = sum(o["stopped"] in ("time", "max_seconds") for o in others)
    if cut:
        out.append(f"rdl: {cut} other trial(s) stopped on time before they stopped improving; "
                   "with more time one of them might have won")
    return out


FAMILY = RDLFamily()

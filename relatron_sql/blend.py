"""A weighted blend of a DFS and an RDL model, which auto mode keeps when searching both
families gives a blend that scores better on validation than either family alone.

Binary tasks pool the two probabilities on the log-odds scale (a weighted geometric pooling,
renormalised); regression averages the predictions. The weight is chosen on the validation
split from a grid of steps of 0.05; multiclass tasks (whose models predict a class) are not
blended. The blend is stored as its members' own artifacts under ``dfs/`` and ``rdl/``, and
loads through the members' families: nothing goes through pickle.
"""
from __future__ import annotations

import numpy as np

from . import families, metrics
from .families import Fitted, Rows

MEMBERS = ("dfs", "rdl")
#: the weights of the first member tried on validation (the second gets one minus it)
GRID = tuple(round(i / 20, 2) for i in range(21))
#: probabilities are clipped this far from 0 and 1 (in float64) before their log-odds
_EPS = 1e-15


def pool(kind: str, weight: float, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``weight`` of ``first`` and ``1 - weight`` of ``second``: on the log-odds scale for a
    binary task (probabilities in, a probability out), else as a weighted mean."""
    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    if kind != "binary":
        return weight * first + (1 - weight) * second

    def logit(p):
        p = np.clip(p, _EPS, 1 - _EPS)
        return np.log(p) - np.log1p(-p)
    z = weight * logit(first) + (1 - weight) * logit(second)
    return 1.0 / (1.0 + np.exp(-z))


def choose_weight(task, label: np.ndarray, first: np.ndarray, second: np.ndarray
                  ) -> tuple[float, dict[float, float]]:
    """The first member's weight with the best validation metric, and the metric at every
    weight of the grid. A tie goes to the weight nearer the better member alone (1 or 0), so a
    blend is kept only where it scores strictly better than both members."""
    scores = {w: metrics.primary(task.kind, metrics.evaluate(
        task.kind, label, pool(task.kind, w, first, second))) for w in GRID}
    lead = 1.0 if not task.better(scores[0.0], scores[1.0]) else 0.0
    best = min(GRID, key=lambda w: (task.sort_key(scores[w]), abs(w - lead)))
    return best, scores


def worth_keeping(task, weight: float, scores: dict[float, float], best_alone: float) -> bool:
    """Whether the blend at ``weight`` (from :func:`choose_weight`) is kept: a true blend,
    strictly better on validation than the better family alone (``best_alone``)."""
    return weight not in (0.0, 1.0) and task.better(scores[weight], best_alone)


def weights_of(family: str, config: dict | None) -> dict[str, float] | None:
    """A kept blend's member weights, from its stored config; None for any other family."""
    weights = (config or {}).get("weights") if family == "blend" else None
    return {m: float(w) for m, w in weights.items()} if isinstance(weights, dict) else None


class BlendModel:
    def __init__(self, members: dict, weights: dict[str, float], kind: str):
        self.members, self.weights, self.kind = members, weights, kind

    def predict(self, con, task, rows: Rows) -> np.ndarray:
        if len(rows) == 0:
            return np.array([])
        return self.combine({m: self.members[m].predict(con, task, rows) for m in MEMBERS})

    def combine(self, predictions: dict[str, np.ndarray]) -> np.ndarray:
        """The blend of the members' predictions of the same rows (by member name)."""
        return pool(self.kind, self.weights[MEMBERS[0]], *(predictions[m] for m in MEMBERS))

    def entity_time_column(self, task) -> tuple[bool, str | None]:
        """The DFS member's (its feature plan dates entity rows), else the RDL member's."""
        for name in MEMBERS:
            own = getattr(self.members[name], "entity_time_column", None)
            if own is not None:
                known, column = own(task)
                if known:
                    return known, column
        return False, None


def blended(task, fits: dict[str, Fitted], weight: float, val_metric: float,
            scores: dict[float, float]) -> Fitted:
    """The kept blend of ``fits`` (by member name) with ``weight`` on the first member."""
    weights = {MEMBERS[0]: weight, MEMBERS[1]: round(1 - weight, 2)}
    config = {"kind": task.kind, "pooling": "log-odds" if task.kind == "binary" else "mean",
              "weights": weights, "members": {m: fits[m].config for m in MEMBERS},
              "val_by_weight": {f"{w:.2f}": scores[w] for w in GRID}}
    artifacts = {f"{m}/{part}": stored for m in MEMBERS
                 for part, stored in fits[m].artifacts.items()}
    model = BlendModel({m: fits[m].model for m in MEMBERS}, weights, task.kind)
    return Fitted(model, config, artifacts, _features(fits, weights), val_metric)


def _features(fits: dict[str, Fitted], weights: dict[str, float]) -> list[dict]:
    """Each member's features under its family's name, with its share of that member's
    positive importance times the member's weight (DFS gains and RDL permutation drops are on
    different scales; shares are not)."""
    out = []
    for m in MEMBERS:
        total = sum(max(f.get("importance") or 0.0, 0.0) for f in fits[m].features) or 1.0
        for f in fits[m].features:
            share = (f.get("importance") or 0.0) / total
            out.append({**f, "feature": f"{m}: {f['feature']}", "importance": weights[m] * share,
                        "description": f"({m.upper()}, weight {weights[m]:g}) "
                                       f"{f.get('description') or ''}".rstrip()})
    return out


class BlendFamily:
    """Loads a stored blend; blends are made by auto mode, not searched on their own."""
    name = "blend"
    members = MEMBERS

    def load(self, config: dict, artifacts: dict[str, bytes]) -> BlendModel:
        members = {}
        for m in MEMBERS:
            own = {part.split("/", 1)[1]: payload for part, payload in artifacts.items()
                   if part.startswith(f"{m}/")}
            members[m] = families.get(m).load(config["members"][m], own)
        return BlendModel(members, {m: float(w) for m, w in config["weights"].items()},
                          config["kind"])


FAMILY = BlendFamily()

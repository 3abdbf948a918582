"""Task signals that predict which model family will win, computed without the test split.

The graph signals (homophily, autocorrelation, size) at an anchor t use links and rows with
time <= t and labels of training anchors only, so planting rows after the last training anchor
changes none of them. The history baseline and the two affinities are validation scores, as
model selection is: fitted on training rows and scored on validation rows, they see nothing
after the validation period, and their encodings come from rows known at the training cutoff
(the last training anchor).
"""
from __future__ import annotations

import datetime as dt
import logging
import math
import time

import numpy as np

from ..schema import read_schema
from ..sqlbuild import column, render, table as table_ref
from ..task import Task
from .metapaths import MetaPath, metapaths

log = logging.getLogger(__name__)

#: Links older than this before an anchor no longer count (recent co-occurrence).
LOOKBACK = dt.timedelta(days=365)
#: At most this many evenly spaced training anchors are used for graph signals.
MAX_ANCHORS = 40
#: Entities linked through one shared row are sampled down to this many (a fixed hash order),
#: so a hub (an airport every plane uses) adds at most MAX_GROUP^2 / 2 pairs per anchor.
MAX_GROUP = 50

# The numeric signals the meta-selector reads, in a fixed order.
KEYS = ("homophily_min", "homophily_max", "homophily_mean", "homophily_wmean",
        "adj_homophily_min", "adj_homophily_max", "adj_homophily_mean", "adj_homophily_wmean",
        "autocorr_lag1", "autocorr_lag2", "rows_per_entity", "log_train_rows",
        "label_std", "history_baseline", "feature_affinity", "path_affinity", "is_regression")


def _anchor_sample(con, task: Task) -> list:
    times = [r[0] for r in con.execute("SELECT DISTINCT anchor_time FROM relatron.task_rows "
                                       "WHERE task = ? AND split = 'train' ORDER BY 1",
                                       [task.name]).fetchall()]
    if len(times) <= MAX_ANCHORS:
        return times
    idx = np.linspace(0, len(times) - 1, MAX_ANCHORS).round().astype(int)
    return [times[i] for i in sorted(set(idx))]


# the sampled training anchors and their labels, shared by both kinds of meta-path
_LABELLED = """
WITH a AS (SELECT unnest(?) AS anchor_time),
lab AS (SELECT anchor_time, entity_id, label FROM relatron.task_rows
        WHERE task = ? AND split = 'train' AND anchor_time IN (SELECT anchor_time FROM a)),
"""

_PAIRS = _LABELLED + """
links AS (
  SELECT DISTINCT a.anchor_time, :ekey AS e, c.:sc AS p
  FROM a JOIN :tbl AS c ON :visible
  WHERE c.:ec IS NOT NULL AND c.:sc IS NOT NULL),
nodes AS (SELECT * FROM (
            SELECT l.anchor_time, l.e, l.p, lab.label, row_number() OVER (
                PARTITION BY l.anchor_time, l.p ORDER BY hash(l.e), l.e) AS k
            FROM links AS l JOIN lab ON lab.anchor_time = l.anchor_time
            AND lab.entity_id = l.e) WHERE k <= ?),
pairs AS (SELECT x.label AS y1, y.label AS y2 FROM nodes AS x JOIN nodes AS y
          ON x.anchor_time = y.anchor_time AND x.p = y.p AND x.e < y.e)
SELECT y1, y2 FROM pairs
"""


_DIRECT_PAIRS = _LABELLED + """
ends AS (
  SELECT a.anchor_time, :ekey AS e1, :skey AS e2
  FROM a JOIN :tbl AS c ON :visible
  WHERE c.:ec IS NOT NULL AND c.:sc IS NOT NULL),
links AS (SELECT DISTINCT anchor_time, least(e1, e2) AS e1, greatest(e1, e2) AS e2 FROM ends
          WHERE e1 <> e2)
SELECT x.label AS y1, y.label AS y2
FROM links AS l JOIN lab AS x ON x.anchor_time = l.anchor_time AND x.entity_id = l.e1
JOIN lab AS y ON y.anchor_time = l.anchor_time AND y.entity_id = l.e2
"""


def _as_entity_id(name: str, key_type: str):
    """A key column of the entity's table written as ``task_rows.entity_id`` writes the entity's
    key: through the key's own type, so a DOUBLE foreign key 1.0 names entity '1'."""
    from sqlglot import exp
    typed = exp.TryCast(this=column(name, "c"),
                        to=exp.DataType.build(key_type, dialect="duckdb"))
    return exp.cast(typed, "VARCHAR")


def _pairs(con, task: Task, path: MetaPath, anchors: list) -> tuple[np.ndarray, np.ndarray]:
    import sqlglot
    from sqlglot import exp
    recent = path.time_column is not None and path.event
    if path.time_column is None:
        visible = exp.true()
    else:
        visible = sqlglot.parse_one(
            render("c.:t <= a.anchor_time" + (" AND c.:t > a.anchor_time - ?" if recent else ""),
                   t=path.time_column), read="duckdb")
    sql = render(_DIRECT_PAIRS if path.direct else _PAIRS, tbl=table_ref(path.table),
                 ec=path.entity_column, sc=path.shared_column, visible=visible,
                 ekey=_as_entity_id(path.entity_column, task.entity_key_type),
                 skey=_as_entity_id(path.shared_column, task.entity_key_type))
    # a direct link joins two entities, no group: no hub to sample down
    params = [anchors, task.name] + ([LOOKBACK] if recent else []) + (
        [] if path.direct else [MAX_GROUP])
    out = con.execute(sql, params).fetchnumpy()
    return np.asarray(out["y1"], dtype=float), np.asarray(out["y2"], dtype=float)


def homophily(kind: str, y1: np.ndarray, y2: np.ndarray) -> dict:
    """Edge homophily of labels on pairs (y1, y2): same-label rate and the degree-adjusted
    (h - a) / (1 - a) with a = sum_k (D_k / 2|E|)^2; Pearson correlation for regression."""
    n = len(y1)
    if n == 0:
        return {"edges": 0, "h": None, "h_adj": None}
    both = np.concatenate([y1, y2])
    if kind == "regression":
        if both.std() == 0:
            return {"edges": n, "h": None, "h_adj": None}
        r = float(np.corrcoef(np.concatenate([y1, y2]), np.concatenate([y2, y1]))[0, 1])
        return {"edges": n, "h": r, "h_adj": r}
    h = float((y1 == y2).mean())
    _, degree = np.unique(both, return_counts=True)
    a = float(((degree / (2.0 * n)) ** 2).sum())
    h_adj = (h - a) / (1 - a) if a < 1 else None
    return {"edges": n, "h": h, "h_adj": h_adj}


def _autocorr(con, task: Task, lag: int) -> float | None:
    out = con.execute("SELECT corr(x.label, y.label), COUNT(*) FROM relatron.task_rows x JOIN "
                      "relatron.task_rows y ON x.task = y.task AND x.entity_id = y.entity_id AND "
                      "y.anchor_time = x.anchor_time + ? * ? WHERE x.task = ? AND x.split = "
                      "'train' AND y.split = 'train'", [lag, task.horizon, task.name]
                      ).fetchall()[0]
    return None if out[0] is None or out[1] < 10 or math.isnan(out[0]) else float(out[0])


def _summaries(prefix: str, values: list[tuple[float, int]]) -> dict:
    if not values:
        return {f"{prefix}_{s}": None for s in ("min", "max", "mean", "wmean")}
    v = np.array([x for x, _ in values])
    w = np.array([n for _, n in values], dtype=float)
    return {f"{prefix}_min": float(v.min()), f"{prefix}_max": float(v.max()),
            f"{prefix}_mean": float(v.mean()), f"{prefix}_wmean": float((v * w).sum() / w.sum())}


def compute(con, task: Task, affinities: bool = True) -> dict:
    """All signals of ``task`` with the seconds each group took."""
    seconds = {}
    started = time.perf_counter()
    schema = read_schema(con, count_dangling=False)
    anchors = _anchor_sample(con, task)
    paths = {}
    for path in metapaths(schema, task.entity):
        y1, y2 = _pairs(con, task, path, anchors)
        paths[path.name] = homophily(task.kind, y1, y2)
    defined = [(p["h"], p["edges"]) for p in paths.values() if p["h"] is not None]
    adjusted = [(p["h_adj"], p["edges"]) for p in paths.values() if p["h_adj"] is not None]
    out = {"metapaths": paths}
    out.update(_summaries("homophily", defined))
    out.update(_summaries("adj_homophily", adjusted))
    if not defined:
        out["homophily_note"] = ("homophily undefined: no meta-path links two labelled "
                                 "entities; routing uses the other signals")
    seconds["homophily"] = time.perf_counter() - started

    t0 = time.perf_counter()
    out["autocorr_lag1"] = _autocorr(con, task, 1)
    out["autocorr_lag2"] = _autocorr(con, task, 2)
    n, entities, std = con.execute("SELECT COUNT(*), COUNT(DISTINCT entity_id), stddev_pop(label)"
                                   " FROM relatron.task_rows WHERE task = ? AND split = 'train'",
                                   [task.name]).fetchall()[0]
    out["rows_per_entity"] = n / max(entities, 1)
    out["log_train_rows"] = math.log(max(n, 1))
    out["label_std"] = float(std or 0.0)
    out["is_regression"] = 1.0 if task.kind == "regression" else 0.0
    out["global_rate"] = con.execute("SELECT AVG(label) FROM relatron.task_rows WHERE task = ? "
                                     "AND split = 'train'", [task.name]).fetchall()[0][0]
    out["history_baseline"] = _history_baseline(con, task)
    seconds["autocorrelation_size_baselines"] = time.perf_counter() - t0

    if affinities:
        from .affinity import PATH_DEPTHS, SELECTOR_DEPTH, feature_affinity, path_affinities
        t0 = time.perf_counter()
        out["feature_affinity"] = feature_affinity(con, task)
        seconds["feature_affinity"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        by_depth = path_affinities(con, task)
        for layers in PATH_DEPTHS:
            out[f"path_affinity_{layers}"] = by_depth.get(layers)
        out["path_affinity"] = by_depth.get(SELECTOR_DEPTH)
        seconds["path_affinity"] = time.perf_counter() - t0
    out["seconds"] = {k: round(v, 3) for k, v in seconds.items()}
    return out


def _history_baseline(con, task: Task) -> float | None:
    """Validation score of the entity-history mean, oriented so that higher is better."""
    from .. import metrics
    from ..baseline import HistoryMean
    from ..models import split_rows
    rows = split_rows(con, task, "val")
    if len(rows) == 0:
        return None
    mean, std = con.execute("SELECT AVG(label), stddev_pop(label) FROM relatron.task_rows "
                            "WHERE task = ? AND split = 'train'", [task.name]).fetchall()[0]
    score = metrics.primary(task.kind, metrics.evaluate(
        task.kind, rows.label, HistoryMean(float(mean or 0.0)).predict(con, task, rows)))
    return orient(task.metric, score, std)


def orient(metric: str, score: float | None, label_std: float | None) -> float | None:
    """A metric turned so that higher is better and scale-free: AUROC/accuracy as they are,
    MAE as 1 - MAE / std(train labels)."""
    if score is None or (isinstance(score, float) and math.isnan(score)):
        return None
    if metric != "mae":
        return float(score)
    return float(1.0 - score / (1.0 if label_std is None else max(label_std, 1e-9)))


def vector(signals: dict) -> np.ndarray:
    """The signals the selector reads, as a fixed-order vector (NaN where undefined)."""
    return np.array([np.nan if signals.get(k) is None else float(signals[k]) for k in KEYS])

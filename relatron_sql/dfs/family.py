"""The DFS family: enumerate features along foreign-key paths, compute them with one set-based
query per call, prune them by importance, and search LightGBM with Optuna.

Besides the relational aggregates, a task's own label history is a feature group: labels of the
entity's earlier anchors whose window (anchor, anchor + horizon] had closed by t. The model is
stored as LightGBM text plus the feature plan as JSON, so prediction recompiles the same query.
"""
from __future__ import annotations

import json
import time

import lightgbm as lgb
import numpy as np

from ..errors import TrainError, bad_argument
from ..families import FitOptions, Fitted, Rows
from ..task import Task, task_rows
from . import lightgbm_model
from .compile import compile_plan, schema_info, to_sql
from .enumerate import FeaturePlan, add_label_history, enumerate_features
from .matrix import feature_matrix


DEFAULT_DEPTH = 2
#: the feature budget: at most this many features reach the search (the most useful by gain)
MAX_FEATURES = 300


class DfsModel:
    def __init__(self, plan: FeaturePlan, info: dict, booster: lgb.Booster, kind: str,
                 offset: "Offset | None" = None):
        self.plan, self.info, self.booster, self.kind = plan, info, booster, kind
        self.offset = offset   # where a regression booster starts, when it was fitted so

    def features(self, con, rows: Rows) -> np.ndarray:
        return feature_matrix(con, self.plan, self.info, rows.anchor_time, rows.entity_id)

    def predict(self, con, task: Task, rows: Rows) -> np.ndarray:
        if len(rows) == 0:
            return np.array([])
        X = self.features(con, rows)
        offset = None if self.offset is None else self.offset.values(con, self.info, rows,
                                                                    self.plan, X)
        return lightgbm_model.predict_booster(self.booster, self.kind, X, offset)

    def entity_time_column(self, task: Task) -> tuple[bool, str | None]:
        """(known, the time column the model dates its entity rows by): its feature plan's."""
        return True, self.plan.entity_time


class Offset:
    """Where a regression booster starts for a row: the entity's last known label (of an
    earlier anchor whose window had closed), else the mean of its known labels, else the
    training mean. Read by the label-history features' own query, so it is as point-in-time
    as they are."""

    def __init__(self, plan: FeaturePlan, fallback: float):
        self.plan, self.fallback = plan, float(fallback)   # plan: the "last" and "mean" features

    @classmethod
    def of(cls, plan: FeaturePlan, y_train: np.ndarray) -> "Offset | None":
        """The offset of ``plan``'s label history, or None when it has none."""
        named = {(f["agg"], f["window"] is None): f["name"] for f in plan.features
                 if f["group"] == "history"}
        if ("last", True) not in named or ("mean", True) not in named:
            return None
        return cls(plan.subset([named[("last", True)], named[("mean", True)]]),
                   float(np.mean(y_train)))

    def from_matrix(self, full: FeaturePlan, X: np.ndarray) -> np.ndarray:
        """The offsets of rows whose features of ``full`` (a plan holding ours) are ``X``."""
        names = [f["name"] for f in full.features]
        return self._combine(X[:, [names.index(f["name"]) for f in self.plan.features]])

    def values(self, con, info: dict, rows: Rows, full: FeaturePlan | None = None,
               X: np.ndarray | None = None) -> np.ndarray:
        """The offsets of ``rows``: read from ``X``, their features of ``full``, where those
        hold ours, else by the label-history query."""
        if full is not None and {f["name"] for f in self.plan.features} <= {
                f["name"] for f in full.features}:
            return self.from_matrix(full, X)
        return self._combine(feature_matrix(con, self.plan, info, rows.anchor_time,
                                            rows.entity_id))

    def _combine(self, X: np.ndarray) -> np.ndarray:
        order = [f["agg"] for f in self.plan.features]
        last, mean = X[:, order.index("last")], X[:, order.index("mean")]
        return np.where(np.isnan(last), np.where(np.isnan(mean), self.fallback, mean), last)

    def to_json(self) -> dict:
        return {"plan": self.plan.to_json(), "fallback": self.fallback}

    @classmethod
    def from_json(cls, data: dict | None) -> "Offset | None":
        return None if data is None else cls(FeaturePlan.from_json(data["plan"]),
                                             data["fallback"])


def _split(con, task: Task, split: str) -> Rows:
    r = task_rows(con, task.name, split)
    return Rows(r["anchor_time"], r["entity_id"], r["split"], r["label"])


def build_plan(con, task: Task, depth: int = DEFAULT_DEPTH, history: bool = True):
    schema = task.schema(con, as_of=task.training_cutoff)
    plan = enumerate_features(con, schema, task.entity, depth=depth, as_of=task.training_cutoff)
    if history:
        add_label_history(plan, task)
    return plan, schema_info(schema, plan)


def _informative(X: np.ndarray) -> np.ndarray:
    """Columns with at least two distinct non-NULL values on the training rows."""
    keep = np.zeros(X.shape[1], dtype=bool)
    for j in range(X.shape[1]):
        col = X[:, j]
        col = col[~np.isnan(col)]
        keep[j] = col.size > 0 and np.nanmin(col) != np.nanmax(col)
    return keep


def feature_sql(plan: FeaturePlan, info: dict, name: str, dialect: str = "duckdb") -> str:
    return to_sql(compile_plan(plan.subset([name]), info), dialect)


class DfsFamily:
    name = "dfs"
    default_budget = 20

    def auto_budget(self, priors) -> int:
        """Study trials when auto mode searches both families and the caller names no budget
        (the bank's priors come on top)."""
        return self.default_budget

    @staticmethod
    def prior_problem(config) -> str | None:
        """Why a bank configuration cannot be a trial of this family, or None."""
        return lightgbm_model.prior_problem(config)

    def fit(self, con, task: Task, options: FitOptions, depth: int = DEFAULT_DEPTH,
            max_features: int = MAX_FEATURES) -> Fitted:
        if options.budget is None or options.budget <= 0:
            raise bad_argument("budget", f"must be a positive number of trials, got "
                               f"{options.budget}", None, TrainError)
        started = time.perf_counter()
        train, val = _split(con, task, "train"), _split(con, task, "val")
        for split, rows in (("train", train), ("val", val)):
            if len(rows) == 0:
                raise bad_argument("name", f"task {task.name!r} has no {split} rows; redefine it "
                                   "with other timestamps", None, TrainError)
        plan, info = build_plan(con, task, depth)
        options.progress(f"dfs: {len(plan.features)} features enumerated to depth {depth}")
        X = feature_matrix(con, plan, info, np.concatenate([train.anchor_time, val.anchor_time]),
                           np.concatenate([train.entity_id, val.entity_id]))
        X_train, X_val = X[:len(train)], X[len(train):]
        offset = Offset.of(plan, train.label) if task.kind == "regression" else None
        offsets = None if offset is None else (offset.from_matrix(plan, X_train),
                                               offset.from_matrix(plan, X_val))
        matrix_seconds = time.perf_counter() - started
        keep = _informative(X_train)
        names = [f["name"] for f, k in zip(plan.features, keep) if k]
        X_train, X_val = X_train[:, keep], X_val[:, keep]
        if not names:
            raise bad_argument("name", f"task {task.name!r}: every feature is NULL or constant on "
                               "the training rows", None, TrainError)
        if len(names) > max_features:
            params = {**lightgbm_model.base_params(task.kind, task.num_classes, options.seed),
                      **lightgbm_model.DEFAULT_PARAMS}
            quick = lightgbm_model.fit_one(params, X_train, train.label, X_val, val.label)
            gain = quick.feature_importance("gain")
            order = np.argsort(-gain, kind="stable")[:max_features]
            order.sort()
            names = [names[i] for i in order]
            X_train, X_val = X_train[:, order], X_val[:, order]
        options.progress(f"dfs: {len(names)} features kept; matrix took {matrix_seconds:.1f}s")
        remaining = None
        if options.time_budget is not None:
            remaining = max(options.time_budget - (time.perf_counter() - started), 1.0)
        priors = getattr(options, "priors", ())
        trials: list[dict] = []

        def log_trial(**row):
            trials.append(row)
            if options.trial_log is not None:
                options.trial_log(**row)

        booster, params, score = lightgbm_model.search(
            task.kind, task.num_classes, X_train, train.label, X_val, val.label, options.budget,
            options.seed, remaining, log_trial, options.progress, priors, offsets)
        if params.get("offset") != "history":
            offset = None
        planned = lightgbm_model.planned_trials(options.budget, priors, task.kind)
        warnings = ([f"dfs: the time budget allowed {len(trials)} of {planned} trials"]
                    if len(trials) < planned else [])
        plan = plan.subset(names)
        model = DfsModel(plan, info, booster, task.kind, offset)
        gains = booster.feature_importance("gain")
        features = [{"feature": f["name"], "importance": float(g),
                     "description": f["description"], "sql": feature_sql(plan, info, f["name"])}
                    for f, g in zip(plan.features, gains)]
        config = {"depth": depth, "features": len(names), "params": params,
                  "rounds": booster.best_iteration, "kind": task.kind,
                  "matrix_seconds": round(matrix_seconds, 2)}
        artifacts = {"model": ("lightgbm-text", booster.model_to_string(
                         num_iteration=booster.best_iteration or None).encode()),
                     "plan": ("json", json.dumps({"plan": plan.to_json(), "info": info,
                                                  "offset": offset and offset.to_json()},
                                                 default=str).encode())}
        return Fitted(model, config, artifacts, features, score, {"warnings": warnings})

    def load(self, config: dict, artifacts: dict[str, bytes]) -> DfsModel:
        stored = json.loads(artifacts["plan"])
        booster = lgb.Booster(model_str=artifacts["model"].decode())
        return DfsModel(FeaturePlan.from_json(stored["plan"]), stored["info"], booster,
                        config["kind"], Offset.from_json(stored.get("offset")))


FAMILY = DfsFamily()


def features_sql(con, name: str, dialect: str = "duckdb", pretty: bool = True) -> str:
    """The feature query of task ``name`` in ``dialect``: the active DFS model's features (or
    a blend's DFS member's), or (with no such model) every feature the family would enumerate
    for the task.

    The query reads the anchors from ``relatron_feature_anchors(anchor_time, entity_id)``.
    """
    from ..task import check_entity_table, load_task
    from .compile import check_dialect
    check_dialect(dialect)
    task = load_task(con, name)
    check_entity_table(con, task, task_rows=False)   # the query reads no task row
    rows = con.execute("SELECT version, family FROM relatron.models WHERE name = ? AND active "
                       "AND family IN ('dfs', 'blend')", [name]).fetchall()
    if rows:   # a blend keeps its DFS member's artifacts under dfs/
        part = "plan" if rows[0][1] == "dfs" else "dfs/plan"
        stored = con.execute("SELECT payload FROM relatron.artifacts WHERE name = ? AND "
                             "version = ? AND part = ?", [name, rows[0][0], part]).fetchall()
        data = json.loads(bytes(stored[0][0]))
        plan, info = FeaturePlan.from_json(data["plan"]), data["info"]
    else:
        plan, info = build_plan(con, task)
    return to_sql(compile_plan(plan, info), dialect, pretty=pretty)

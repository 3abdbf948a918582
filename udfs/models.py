"""SQL functions for models: train, predict, predictions, evaluate, explain."""
from __future__ import annotations

import threading
import time
import uuid

from relatron_sql import models

from .base import as_json, macro, sql_function
from .core import required


#: trained models waiting for the second step of their statement: token -> (when, commit)
_STAGED: dict[str, tuple[float, object]] = {}
_STAGED_LOCK = threading.Lock()
#: a staged model not committed within this many seconds belongs to an interrupted statement
_STALE_SECONDS = 600.0


@sql_function("relatron_train", [
    ("name", "VARCHAR", None), ("family", "VARCHAR", "'auto'"), ("budget", "INTEGER", "NULL"),
    ("seed", "INTEGER", "0"), ("device", "VARCHAR", "'cpu'"), ("time_budget", "DOUBLE", "NULL"),
    ("retrain", "BOOLEAN", "false")], "VARCHAR", commit="relatron_train_commit")
def train(con, name, family, budget, seed, device, time_budget, retrain):
    """Step one: search and evaluate, registering nothing; returns a token for step two."""
    commit = models.train(con, required(name, "name"), required(family, "family"), budget,
                          0 if seed is None else seed, required(device, "device"), time_budget,
                          bool(retrain), defer=True)
    token = uuid.uuid4().hex
    now = time.monotonic()
    with _STAGED_LOCK:
        for old in [t for t, (when, _) in _STAGED.items() if now - when > _STALE_SECONDS]:
            del _STAGED[old]
        _STAGED[token] = (now, commit)
    return token


@sql_function("relatron_train_commit", [("token", "VARCHAR", None)], "VARCHAR", hidden=True)
def train_commit(con, token):
    """Step two: register the model staged under ``token`` (one transaction)."""
    with _STAGED_LOCK:
        _, commit = _STAGED.pop(token)
    return as_json(commit(con))


@sql_function("relatron_predict", [("name", "VARCHAR", None), ("split", "VARCHAR", "'test'"),
                                   ("anchor_time", "TIMESTAMP", "NULL")], "BIGINT")
def predict(con, name, split, anchor_time):
    return models.predict(con, required(name, "name"), split, anchor_time)


macro("relatron_predictions(name)",
      "TABLE WITH checked AS (SELECT relatron_task_check_udf(name) AS name) "
      "SELECT p.entity_id, p.anchor_time, p.prediction, p.model_version, p.split, p.written_at "
      "FROM relatron.predictions AS p JOIN checked USING (name) "
      "ORDER BY p.split, p.anchor_time, p.entity_id")


@sql_function("relatron_evaluate", [("name", "VARCHAR", None), ("split", "VARCHAR", "'test'")],
              "VARCHAR")
def evaluate(con, name, split):
    return as_json(models.evaluate(con, required(name, "name"), required(split, "split")))


_EXPLAIN_ROW = ("STRUCT(feature VARCHAR, importance DOUBLE, share DOUBLE, description VARCHAR, "
                "sql VARCHAR, warning VARCHAR)[]")


@sql_function("relatron_explain", [("name", "VARCHAR", None)], _EXPLAIN_ROW, table=True)
def explain(con, name):
    return models.explain(con, required(name, "name"))

"""SQL functions for models: train, predict, predictions, evaluate, explain."""
from __future__ import annotations

from relatron_sql import models

from .base import as_json, macro, sql_function
from .core import required


@sql_function("relatron_train", [
    ("name", "VARCHAR", None), ("family", "VARCHAR", "'auto'"), ("budget", "INTEGER", "NULL"),
    ("seed", "INTEGER", "0"), ("device", "VARCHAR", "'cpu'"), ("time_budget", "DOUBLE", "NULL"),
    ("retrain", "BOOLEAN", "false")], "VARCHAR")
def train(con, name, family, budget, seed, device, time_budget, retrain):
    return as_json(models.train(con, required(name, "name"), required(family, "family"),
                                budget, 0 if seed is None else seed, required(device, "device"),
                                time_budget, bool(retrain)))


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

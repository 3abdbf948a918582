"""SQL functions for models: train, predict, predictions, evaluate, explain."""
from __future__ import annotations

import collections
import threading
import uuid

from relatron_sql import models, progress
from relatron_sql.errors import TrainError

from .base import as_json, call_sql, macro, sql_function
from .core import reading_query, required


#: work waiting for the second step of its statement (a trained model to register, predictions
#: to write), oldest first. A statement over many rows runs every first step before any second
#: step, so entries wait for the whole statement; an interrupted or failed statement's entries
#: are never taken, and the oldest beyond ``_MAX_STAGED`` are dropped.
_STAGED: collections.OrderedDict[str, object] = collections.OrderedDict()
_STAGED_LOCK = threading.Lock()
_MAX_STAGED = 64


def _stage(commit) -> str:
    token = uuid.uuid4().hex
    with _STAGED_LOCK:
        _STAGED[token] = commit
        while len(_STAGED) > _MAX_STAGED:
            _STAGED.popitem(last=False)
    return token


def _take(token: str, what: str, done: str, action: str):
    with _STAGED_LOCK:
        commit = _STAGED.pop(token, None)
    if commit is None:
        raise TrainError(f"{what} by this statement was dropped before it could be {done}: "
                         f"more than {_MAX_STAGED} waited at once; {action} fewer tasks per "
                         "statement")
    return commit


@sql_function("relatron_train", [
    ("name", "VARCHAR", None), ("family", "VARCHAR", "'auto'"), ("budget", "BIGINT", "NULL"),
    ("seed", "BIGINT", "0"), ("device", "VARCHAR", "'cpu'"), ("time_budget", "DOUBLE", "NULL"),
    ("retrain", "BOOLEAN", "false")], "VARCHAR", commit="relatron_train_commit")
def train(con, name, family, budget, seed, device, time_budget, retrain):
    """Step one: search and evaluate, registering nothing; returns a token for step two."""
    commit = models.train(con, required(name, "name"), required(family, "family"), budget,
                          0 if seed is None else seed, required(device, "device"), time_budget,
                          bool(retrain), defer=True)
    return _stage(commit)


@sql_function("relatron_train_commit", [("token", "VARCHAR", None)], "VARCHAR", hidden=True)
def train_commit(con, token):
    """Step two: register the model staged under ``token`` (one transaction)."""
    commit = _take(token, "a model trained", "registered", "train")
    line = progress.current()
    if line is not None:
        line.check_interrupt()   # a Ctrl-C during evaluation still registers nothing
    return as_json(commit(con))


@sql_function("relatron_predict", [("name", "VARCHAR", None), ("split", "VARCHAR", "'test'"),
                                   ("anchor_time", "TIMESTAMP", "NULL")], "VARCHAR",
              commit="relatron_predict_commit")
def predict(con, name, split, anchor_time):
    """Step one: score, writing nothing; returns a token for step two."""
    return _stage(models.predict(con, required(name, "name"), split, anchor_time, defer=True))


@sql_function("relatron_predict_commit", [("token", "VARCHAR", None)], "BIGINT", hidden=True)
def predict_commit(con, token):
    """Step two: write the predictions staged under ``token`` (one transaction); rows written."""
    return _take(token, "predictions made", "written", "predict")(con)


@sql_function("relatron_predictions_query", [("name", "VARCHAR", None)], "VARCHAR",
              hidden=True)
def predictions_query(con, name):
    return reading_query(con, name, "SELECT entity_id, anchor_time, prediction, model_version, "
                         "split, written_at FROM relatron.predictions WHERE name = {name} "
                         "ORDER BY split, anchor_time, entity_id")


macro("relatron_predictions(name)",
      "TABLE FROM query(" + call_sql("relatron_predictions_query", "relatron_predictions") + ")")


@sql_function("relatron_evaluate", [("name", "VARCHAR", None), ("split", "VARCHAR", "'test'")],
              "VARCHAR")
def evaluate(con, name, split):
    return as_json(models.evaluate(con, required(name, "name"), required(split, "split")))


_EXPLAIN_ROW = ("STRUCT(feature VARCHAR, importance DOUBLE, share DOUBLE, description VARCHAR, "
                "sql VARCHAR, warning VARCHAR)[]")


@sql_function("relatron_explain", [("name", "VARCHAR", None)], _EXPLAIN_ROW, table=True)
def explain(con, name):
    return models.explain(con, required(name, "name"))

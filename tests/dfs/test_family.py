"""The DFS family end to end from SQL: train, predict, evaluate, explain, features SQL."""
import json

import lightgbm as lgb
import numpy as np
import pytest

from relatron_sql import models
from relatron_sql.families import Rows
from relatron_sql.task import create_task, task_rows

MULTI_SQL = """
SELECT a.anchor_time, u.user_id,
       LEAST((SELECT COUNT(*) FROM orders o WHERE o.user_id = u.user_id
              AND o.time > a.anchor_time AND o.time <= a.window_end), 2) AS label
FROM relatron_anchors a JOIN users u ON u.signup <= a.anchor_time"""


def test_train_predict_evaluate_explain_from_sql(fresh_gen):
    con = fresh_gen
    out = json.loads(con.execute("SELECT relatron_train('user-active', family := 'dfs', "
                                 "budget := 2, seed := 1)").fetchall()[0][0])
    assert out["family"] == "dfs" and out["metric"] == "auroc"
    assert 0.5 < out["test"]["auroc"] <= 1.0
    trials = con.execute("SELECT COUNT(*) FROM relatron.trials WHERE name = 'user-active' AND "
                         "family = 'dfs'").fetchall()[0][0]
    assert trials == 2
    fmt = con.execute("SELECT format FROM relatron.artifacts WHERE name = 'user-active' AND "
                      "part = 'model'").fetchall()[0][0]
    assert fmt == "lightgbm-text"
    written = con.execute("SELECT relatron_predict('user-active', split := 'test')").fetchall()
    n_test = len(task_rows(con, "user-active", "test")["label"])
    assert written[0][0] == n_test
    preds = con.execute("SELECT prediction FROM relatron_predictions('user-active')").fetchnumpy()
    assert ((preds["prediction"] >= 0) & (preds["prediction"] <= 1)).all()
    ev = json.loads(con.execute("SELECT relatron_evaluate('user-active')").fetchall()[0][0])
    assert ev["metrics"]["auroc"] == pytest.approx(out["test"]["auroc"])
    rows = con.execute("SELECT feature, importance, description, sql FROM "
                       "relatron_explain('user-active')").fetchall()
    assert rows and all(r[2] and r[3] for r in rows)
    assert rows[0][1] >= rows[-1][1]
    # each feature's SQL runs on its own and names that feature
    feature, _, _, sql = rows[0]
    assert '"' + feature + '"' in sql


def test_loaded_model_predicts_like_the_trained_one(fresh_gen):
    con = fresh_gen
    summary = models.train(con, "user-spend", family="dfs", budget=1, seed=0)
    assert summary["metric"] == "mae"
    evaluated = models.evaluate(con, "user-spend")
    assert evaluated["metrics"]["mae"] == summary["test"]["mae"]
    assert summary["test"]["mae"] < evaluated["baseline"]["mae"], evaluated
    task, _, family, model = models.active_model(con, "user-spend")
    assert family == "dfs"
    r = task_rows(con, "user-spend", "val")
    rows = Rows(r["anchor_time"], r["entity_id"])
    again = model.predict(con, task, rows)
    val = models.evaluate(con, "user-spend", "val")["metrics"]["mae"]
    assert np.abs(again - r["label"]).mean() == pytest.approx(val)
    assert np.abs(again - r["label"]).mean() == pytest.approx(summary["val"]["mae"])
    # the stored booster is LightGBM text
    text = con.execute("SELECT payload FROM relatron.artifacts WHERE name = 'user-spend' AND "
                       "part = 'model'").fetchall()[0][0]
    assert lgb.Booster(model_str=bytes(text).decode()).num_feature() == len(model.plan.features)


def test_seeded_search_is_deterministic(fresh_gen):
    a = models.train(fresh_gen, "user-active", family="dfs", budget=2, seed=5)
    b = models.train(fresh_gen, "user-active", family="dfs", budget=2, seed=5, retrain=True)
    assert a["val"] == b["val"] and a["test"] == b["test"]
    assert a["config"]["params"] == b["config"]["params"]


def test_multiclass(fresh_gen):
    con = fresh_gen
    create_task(con, "user-orders", "users", MULTI_SQL, kind="multiclass",
                horizon=__import__("datetime").timedelta(days=30),
                val_timestamp="2020-08-07", test_timestamp="2020-10-19", replace=True)
    out = models.train(con, "user-orders", family="dfs", budget=1, seed=0)
    assert out["metric"] == "accuracy" and 0.3 < out["test"]["accuracy"] <= 1.0
    preds = con.execute("SELECT relatron_predict('user-orders')").fetchall()
    values = con.execute("SELECT DISTINCT prediction FROM relatron.predictions WHERE "
                         "name = 'user-orders'").fetchall()
    assert preds[0][0] > 0 and {v[0] for v in values} <= {0.0, 1.0, 2.0}


def test_a_class_first_seen_on_test_rows_changes_no_model(fresh_gen):
    """The output width (and with it the models) comes from the training and validation labels:
    the same train and val rows train the same model whether or not test has an extra class."""
    con = fresh_gen
    results = {}
    for name, cap in (("capped", "2"), ("extra", "CASE WHEN a.split = 'test' THEN 3 ELSE 2 END")):
        sql = MULTI_SQL.replace("2) AS label", cap + ") AS label")
        create_task(con, name, "users", sql, kind="multiclass",
                    horizon=__import__("datetime").timedelta(days=30),
                    val_timestamp="2020-08-07", test_timestamp="2020-10-19", replace=True)
        results[name] = models.train(con, name, family="dfs", budget=1, seed=0)
    classes = dict(con.execute("SELECT name, num_classes FROM relatron.tasks").fetchall())
    tests = dict(con.execute("SELECT task, MAX(label) FROM relatron.task_rows WHERE split = "
                             "'test' GROUP BY task").fetchall())
    assert tests["extra"] == 3 and classes["extra"] == classes["capped"] == 3
    assert results["extra"]["val"] == results["capped"]["val"]
    models_text = con.execute("SELECT name, payload FROM relatron.artifacts WHERE part = 'model' "
                              "AND name IN ('capped', 'extra')").fetchall()
    assert models_text[0][1] == models_text[1][1]


def test_fresh_predictions_at_a_new_anchor(fresh_gen):
    con = fresh_gen
    models.train(con, "user-active", family="dfs", budget=1, seed=0)
    n = con.execute("SELECT relatron_predict('user-active', anchor_time := "
                    "TIMESTAMP '2020-12-31')").fetchall()[0][0]
    users = con.execute("SELECT COUNT(*) FROM users").fetchall()[0][0]
    assert n == users
    values = con.execute("SELECT prediction FROM relatron.predictions WHERE split = 'fresh'"
                         ).fetchnumpy()["prediction"]
    assert np.isfinite(values).all()


def test_feature_budget_keeps_the_most_useful(fresh_gen):
    from relatron_sql.dfs.family import FAMILY
    from relatron_sql.families import FitOptions
    from relatron_sql.task import load_task
    fitted = FAMILY.fit(fresh_gen, load_task(fresh_gen, "user-active"), FitOptions(
        budget=1, seed=0, device="cpu", time_budget=None, trial_log=lambda **kw: None),
        max_features=8)
    assert len(fitted.features) == 8 == len(fitted.model.plan.features)
    assert sum(f["importance"] > 0 for f in fitted.features) >= 4


def test_explain_flags_a_feature_that_holds_most_of_the_importance(fresh_gen):
    con = fresh_gen
    create_task(con, "user-segment-a", "users", """
        SELECT a.anchor_time, u.user_id, CASE WHEN u.segment = 'a' THEN 1 ELSE 0 END AS label
        FROM relatron_anchors a JOIN users u ON u.signup <= a.anchor_time""",
                horizon=__import__("datetime").timedelta(days=30),
                val_timestamp="2020-08-07", test_timestamp="2020-10-19", replace=True)
    models.train(con, "user-segment-a", family="dfs", budget=1, seed=0)
    rows = con.execute("SELECT feature, share, warning FROM relatron_explain('user-segment-a')"
                       ).fetchall()
    assert rows[0][1] > 0.5 and "leakage" in rows[0][2]
    assert all(r[2] is None for r in rows[1:])

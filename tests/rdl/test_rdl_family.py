"""The RDL family through SQL and Python: train, predict, evaluate, explain, reload, leakage."""
import datetime as dt
import json

import numpy as np
import pytest

import relatron_sql
from relatron_sql import models
from relatron_sql.families import FitOptions, Rows
from relatron_sql.rdl import train as engine
from relatron_sql.rdl.family import FAMILY
from relatron_sql.task import load_task
from relatron_sql.testing import make_database


@pytest.fixture(scope="module")
def trained():
    con = relatron_sql.connect(":memory:")
    make_database(con, n_users=150, seed=5)
    summary = json.loads(con.execute(
        "SELECT relatron_train('user-active', family := 'rdl', seed := 1, time_budget := 8)"
    ).fetchall()[0][0])
    yield con, summary
    con.close()


def test_sql_train_reports_metrics_and_logs_epochs(trained):
    con, summary = trained
    assert summary["family"] == "rdl"
    assert 0.5 < summary["test"]["auroc"] <= 1.0
    assert summary["config"]["conv"] == "sage" and summary["config"]["aggr"] == "sum"
    epochs = con.execute("SELECT COUNT(*), MIN(val_metric) FROM relatron.trials WHERE name = "
                         "'user-active' AND family = 'rdl'").fetchall()[0]
    assert epochs[0] == summary["config"]["epochs"] and epochs[1] is not None


def test_sql_predict_evaluate_explain(trained):
    con, summary = trained
    n = con.execute("SELECT relatron_predict('user-active')").fetchall()[0][0]
    assert n == con.execute("SELECT COUNT(*) FROM relatron_task_rows('user-active') "
                            "WHERE split = 'test'").fetchall()[0][0]
    preds = np.array([r[0] for r in con.execute(
        "SELECT prediction FROM relatron_predictions('user-active')").fetchall()])
    assert len(preds) == n and np.all((preds >= 0) & (preds <= 1))
    ev = json.loads(con.execute("SELECT relatron_evaluate('user-active')").fetchall()[0][0])
    assert ev["family"] == "rdl"
    assert ev["metrics"]["auroc"] == pytest.approx(summary["test"]["auroc"])
    rows = con.execute("SELECT feature, importance, description FROM "
                       "relatron_explain('user-active')").fetchall()
    features = {r[0] for r in rows}
    assert {"table orders", "table users", "label history"} <= features
    assert all(r[1] is not None and r[2] for r in rows)


def test_reloaded_weights_predict_the_same():
    con = relatron_sql.connect(":memory:")
    make_database(con, n_users=80, seed=2)
    task = load_task(con, "user-spend")
    fitted = FAMILY.fit(con, task, FitOptions(budget=1, seed=0, device="cpu", time_budget=3,
                                              trial_log=lambda **k: None))
    rows = models.split_rows(con, task, "test")
    loaded = FAMILY.load(json.loads(json.dumps(fitted.config)),
                         {p: payload for p, (_, payload) in fitted.artifacts.items()})
    a = fitted.model.predict(con, task, rows)
    b = loaded.predict(con, task, rows)
    assert np.allclose(a, b, atol=1e-5)
    assert fitted.artifacts["weights"][0] == "torch"
    assert np.std(a) > 0


def test_gat_variant_trains(gen_con):
    task = load_task(gen_con, "user-active")
    prepared = engine.Prepared.build(gen_con, task)
    model, score, info = engine.fit(gen_con, task, prepared,
                                    {"conv": "gat", "max_epochs": 2, "channels": 32}, 0, "cpu")
    assert info["epochs"] == 2 and 0.0 <= score <= 1.0
    assert any("att_src" in k for k in model.net.state_dict())


def test_planted_future_rows_change_no_prediction(gen_con):
    models.train(gen_con, "user-active", family="rdl", time_budget=4)
    task = load_task(gen_con, "user-active")
    rows = models.split_rows(gen_con, task, "test")
    before = models.active_model(gen_con, "user-active")[3].predict(gen_con, task, rows)
    last = gen_con.execute("SELECT MAX(anchor_time) FROM relatron.task_rows").fetchall()[0][0]
    gen_con.execute("INSERT INTO orders SELECT 500000 + order_id, user_id, item_id, "
                    "CAST(? AS TIMESTAMP) + INTERVAL 1 DAY, amount * 10, 'web' FROM orders",
                    [last])
    gen_con.execute("INSERT INTO users SELECT 9000 + user_id, group_id, CAST(? AS TIMESTAMP) + "
                    "INTERVAL 2 DAY, age, segment FROM users", [last])
    after = models.active_model(gen_con, "user-active")[3].predict(gen_con, task, rows)
    assert np.allclose(before, after, atol=1e-6)


def test_time_budget_bounds_training(gen_con):
    task = load_task(gen_con, "user-spend")
    prepared = engine.Prepared.build(gen_con, task)
    import time
    _, score, info = engine.fit(gen_con, task, prepared, {"max_seconds": 0.1}, 0, "cpu")
    assert info["epochs"] == 1 and info["stopped"] == "max_seconds"
    assert np.isfinite(score)
    _, score, info = engine.fit(gen_con, task, prepared, {}, 0, "cpu",
                                deadline=time.perf_counter() + 0.1)
    assert info["epochs"] == 1 and info["stopped"] == "time"


def test_fresh_predictions_when_only_the_first_users_exist(gen_con):
    models.train(gen_con, "user-active", family="rdl", time_budget=3)
    first = gen_con.execute("SELECT MIN(signup) FROM users").fetchall()[0][0]
    n = models.predict(gen_con, "user-active", split=None, anchor_time=first)
    preds = gen_con.execute("SELECT prediction FROM relatron.predictions WHERE split = 'fresh'"
                            ).fetchall()
    assert n == len(preds) == gen_con.execute("SELECT COUNT(*) FROM users WHERE signup = ?",
                                              [first]).fetchall()[0][0]
    assert all(0 <= p[0] <= 1 for p in preds)
    # before any user exists there is no one to score; the sampler still handles such seeds
    model = models.active_model(gen_con, "user-active")[3]
    task = load_task(gen_con, "user-active")
    rows = Rows(np.array(["1900-01-01"] * 3, dtype="datetime64[us]"), np.array(["0", "1", "2"]))
    prepared = model.prepared(gen_con, task)
    nodes, times, _ = model.seeds(gen_con, task, rows, prepared)
    from relatron_sql.rdl.sampler import NeighborSampler
    out = NeighborSampler(prepared.graph, [8, 8], "uniform").sample("users", nodes, times)
    # in 1900 no user has signed up: a seed's own row is not known yet, so it does not reach
    # its group either (static as groups are), and no order exists
    assert out.num_seeds == 3 and len(out.src) == 0 and not np.any(out.hop > 0)


def test_training_and_prediction_follow_the_sessions_threads_setting(gen_con, monkeypatch):
    """SET threads = 1 holds for torch and the neighbour sampler as for DuckDB's own queries;
    without it they use every core the process may run on."""
    import numba
    import torch
    from relatron_sql.rdl import sampler as sampler_mod
    seen = []

    class Recording(sampler_mod.NeighborSampler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            seen.append((self.threads, torch.get_num_threads()))

    monkeypatch.setattr(engine, "NeighborSampler", Recording)
    cores = engine.set_threads()
    task = load_task(gen_con, "user-active")
    try:
        gen_con.execute("SET threads = 1")
        model, _, _ = engine.fit(gen_con, task, engine.Prepared.build(gen_con, task),
                                 {"max_epochs": 1, "channels": 16}, 0, "cpu")
        assert seen and set(seen) == {(1, 1)}
        gen_con.execute(f"SET threads = {cores + 4}")   # more than there are: every core
        seen.clear()
        model.predict(gen_con, task, models.split_rows(gen_con, task, "test"))
        assert set(seen) == {(cores, cores)} and numba.get_num_threads() == min(
            cores, numba.config.NUMBA_NUM_THREADS)
    finally:
        gen_con.execute("RESET threads")
        engine.set_threads()

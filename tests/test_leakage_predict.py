"""Point-in-time correctness of what a trained model is asked afterwards: fresh predictions
(``anchor_time :=``), the metrics ``relatron_train`` and ``relatron_evaluate`` report, the
baseline beside them, and a model reused or read again after the database changed."""
import datetime as dt

import numpy as np
import pytest

import relatron_sql
from relatron_sql import models, report
from relatron_sql.families import Rows
from relatron_sql.rdl import train as engine
from relatron_sql.schema import declare
from relatron_sql.task import load_task
from relatron_sql.testing import START, make_database

TASK = "user-active"
#: inside the test period (test anchors start on day 292, every 30 days), off the anchor grid
FRESH = START + dt.timedelta(days=300, hours=5)


@pytest.fixture
def db(monkeypatch):
    monkeypatch.setitem(engine.DEFAULTS, "max_epochs", 2)   # a short, deterministic RDL fit
    con = relatron_sql.connect(":memory:")
    make_database(con, n_users=120, seed=3)
    yield con
    con.close()


def _train(con, family: str) -> dict:
    return models.train(con, TASK, family=family, budget=2 if family == "dfs" else 1, seed=0)


def _fresh(con, t) -> dict:
    models.predict(con, TASK, split=None, anchor_time=t)
    return dict(con.execute("SELECT entity_id, prediction FROM relatron.predictions WHERE "
                            "name = ? AND split = 'fresh' AND anchor_time = ?",
                            [TASK, t]).fetchall())


def _flip(con, where: str, params=()) -> int:
    n = con.execute("SELECT COUNT(*) FROM relatron.task_rows WHERE task = ? AND " + where,
                    [TASK, *params]).fetchall()[0][0]
    con.execute("UPDATE relatron.task_rows SET label = 1 - label WHERE task = ? AND " + where,
                [TASK, *params])
    return n


def _plant_after(con, t) -> None:
    """A new item, a copy of every order dated after ``t`` (ten times the amount, a new channel,
    the new item) and a copy of every user signed up after ``t``."""
    later = t + dt.timedelta(microseconds=1)
    con.execute("INSERT INTO items VALUES (10000, 'q', 99999.0)")
    con.execute("INSERT INTO orders SELECT 10000000 + order_id, user_id, 10000, CAST(? AS "
                "TIMESTAMP) + to_days(CAST(order_id % 30 AS INTEGER)), amount * 10, 'new' "
                "FROM orders", [later])
    con.execute("INSERT INTO users SELECT 9000 + user_id, group_id, ?, age, 'zz' FROM users",
                [later])


@pytest.mark.parametrize("family", ["dfs", "rdl"])
def test_fresh_predictions_ignore_rows_and_open_windows_after_the_anchor(db, family):
    _train(db, family)
    before = _fresh(db, FRESH)
    assert len(before) == db.execute("SELECT COUNT(*) FROM users WHERE signup <= ?",
                                     [FRESH]).fetchall()[0][0]
    _plant_after(db, FRESH)
    # every label whose window (anchor, anchor + 30 days] is still open at the anchor
    assert _flip(db, "anchor_time + INTERVAL 30 DAY > ?", [FRESH]) > 0
    after = _fresh(db, FRESH)
    assert after.keys() == before.keys()
    assert max(abs(after[k] - before[k]) for k in before) == 0.0
    # the closed windows are read: the check above can see a label history
    assert _flip(db, "anchor_time + INTERVAL 30 DAY <= ?", [FRESH]) > 0
    closed = _fresh(db, FRESH)
    assert max(abs(closed[k] - before[k]) for k in before) > 0.0


@pytest.mark.parametrize("family", ["dfs", "rdl"])
def test_a_fresh_prediction_at_a_test_anchor_is_the_test_prediction(db, family):
    """Features, samples and the label history at a fresh anchor are those of a task row."""
    _train(db, family)
    task = load_task(db, TASK)
    rows = models.split_rows(db, task, "test")
    first = rows.anchor_time.min()
    at = rows.anchor_time == first
    split = models.active_model(db, TASK)[3].predict(db, task, rows)
    fresh = _fresh(db, first.astype("datetime64[us]").item())
    assert [fresh[e] for e in rows.entity_id[at]] == pytest.approx(split[at], abs=1e-6)


def test_fresh_predictions_leave_out_an_entity_dated_nanoseconds_after_the_anchor(db):
    models.train(db, TASK, family="baseline")
    t = dt.datetime(2020, 8, 7)
    db.execute("ALTER TABLE users ALTER signup TYPE TIMESTAMP_NS")
    db.execute("INSERT INTO users VALUES (5000, 0, TIMESTAMP_NS '2020-08-07 00:00:00.0000004', "
               "30, 'a'), (5001, 0, TIMESTAMP_NS '2020-08-07 00:00:00', 30, 'a')")
    scored = _fresh(db, t)
    assert "5001" in scored and "5000" not in scored
    assert len(scored) == db.execute("SELECT COUNT(*) FROM users WHERE signup <= ?",
                                     [t]).fetchall()[0][0]


def test_an_rdl_model_keeps_the_time_columns_it_was_trained_with(db):
    """A time column declared away after training would make every order visible at every
    anchor; the model dates rows as it was trained to, as a DFS model does."""
    _train(db, "rdl")
    task = load_task(db, TASK)
    rows = models.split_rows(db, task, "test")
    before = models.active_model(db, TASK)[3].predict(db, task, rows)
    declare(db, "orders", time_column="")
    _plant_after(db, rows.anchor_time.max().astype("datetime64[us]").item())
    after = models.active_model(db, TASK)[3].predict(db, task, rows)
    assert np.abs(after - before).max() == 0.0
    # a model stored without its time columns is refused rather than read with the new ones
    model = models.active_model(db, TASK)[3]
    del model.config["time_columns"]
    with pytest.raises(relatron_sql.RelatronError, match=r"other time columns for \['orders'\]"):
        model.predict(db, task, rows)


@pytest.mark.parametrize("family", ["dfs", "rdl"])
def test_test_labels_shape_no_model_and_no_validation_metric(family, monkeypatch):
    """Search, early stopping and checkpoint choice read no test label. (The test metric moves
    by more than 1 - AUROC: later test rows read the flipped labels of closed test windows as
    their label history, as they may.)"""
    monkeypatch.setitem(engine.DEFAULTS, "max_epochs", 2)
    out = []
    for flip in (False, True):
        con = relatron_sql.connect(":memory:")
        make_database(con, n_users=120, seed=3)
        if flip:
            assert _flip(con, "split = 'test'") > 0
        summary = _train(con, family)
        part = "model" if family == "dfs" else "weights"
        payload = con.execute("SELECT payload FROM relatron.artifacts WHERE name = ? AND part = ?",
                              [TASK, part]).fetchall()[0][0]
        out.append((bytes(payload), summary))
        con.close()
    (model_a, a), (model_b, b) = out
    assert model_a == model_b
    timeless = [{k: v for k, v in s["config"].items() if "seconds" not in k} for s in (a, b)]
    assert a["val"] == b["val"] and timeless[0] == timeless[1]
    assert a["test"] != b["test"]


def test_validation_metrics_and_the_baseline_read_no_later_label(db):
    _train(db, "dfs")
    task = load_task(db, TASK)
    val = models.evaluate(db, TASK, "val")
    gathered = report.gather(db, TASK)["baseline"]["val"]
    rows = models.split_rows(db, task, "val")
    first = rows.anchor_time == rows.anchor_time.min()
    rows = Rows(rows.anchor_time[first], rows.entity_id[first], None, rows.label[first].copy())
    base_first = models.baseline_metrics(db, task, rows)
    assert _flip(db, "split = 'test'") > 0
    assert models.evaluate(db, TASK, "val") == val
    assert report.gather(db, TASK)["baseline"]["val"] == gathered == val["baseline"]
    # at the first validation anchor no validation window has closed: the baseline there is
    # the training mean and the entities' training windows, whatever the later labels say
    assert _flip(db, "split = 'val'") > 0
    assert models.baseline_metrics(db, task, rows) == base_first


def test_a_changed_test_label_trains_anew_rather_than_reporting_the_old_metric(db):
    first = _train(db, "dfs")
    assert _train(db, "dfs").get("reused")
    _flip(db, "split = 'test'")
    again = _train(db, "dfs")
    assert not again.get("reused") and again["version"] == first["version"] + 1
    assert again["val"] == first["val"]
    assert again["test"] == models.evaluate(db, TASK, "test")["metrics"] != first["test"]


@pytest.mark.parametrize("family", ["dfs", "rdl"])
def test_fresh_predictions_date_entities_by_the_time_column_the_model_was_trained_with(
        db, family):
    """With the entity's time column declared away after training, users who sign up after the
    anchor are still not scored at it: the model dates its rows as it was trained to."""
    _train(db, family)
    exists = set(_fresh(db, FRESH))
    declare(db, "users", time_column="")
    db.execute("INSERT INTO users SELECT 9000 + user_id, group_id, CAST(? AS TIMESTAMP) + "
               "INTERVAL 1 DAY, age, segment FROM users", [FRESH])
    assert set(_fresh(db, FRESH)) == exists
    db.execute("ALTER TABLE users RENAME signup TO joined")
    with pytest.raises(relatron_sql.RelatronError, match="dates users rows by column 'signup'"):
        _fresh(db, FRESH)


def test_fresh_predictions_say_which_entities_a_null_time_leaves_out(gen_con, caplog):
    """A row whose time is NULL is never visible to an anchor (as for features): it is not
    scored, and a warning says how many."""
    gen_con.execute("UPDATE users SET signup = NULL WHERE user_id < 4")
    gen_con.execute("SELECT relatron_train('user-active', family := 'baseline')").fetchall()
    written = gen_con.execute("SELECT relatron_predict('user-active', anchor_time := "
                              "TIMESTAMP '2020-12-01')").fetchall()[0][0]
    assert written == gen_con.execute("SELECT COUNT(*) FROM users WHERE signup <= "
                                      "TIMESTAMP '2020-12-01'").fetchall()[0][0]
    assert "users: 4 rows have a NULL signup and are not scored at 2020-12-01" in caplog.text

"""The entity-history baseline: the mean of an entity's closed windows, else the training mean."""
import numpy as np

from relatron_sql import baseline
from relatron_sql.families import Rows
from relatron_sql.task import load_task, task_rows


def test_an_entity_without_closed_history_gets_the_training_mean(gen_con):
    task = load_task(gen_con, "user-spend")
    train = task_rows(gen_con, "user-spend", "train")
    first = train["anchor_time"] == train["anchor_time"].min()   # nobody has history yet
    mean = float(train["label"].mean())
    rows = Rows(train["anchor_time"][first], train["entity_id"][first], None,
                train["label"][first])
    assert np.allclose(baseline.HistoryMean(mean).predict(gen_con, task, rows), mean)


def test_an_entity_with_history_gets_the_mean_of_its_closed_windows(gen_con):
    task = load_task(gen_con, "user-spend")
    test = task_rows(gen_con, "user-spend", "test")
    rows = Rows(test["anchor_time"], test["entity_id"], None, test["label"])
    got = baseline.HistoryMean(-1.0).predict(gen_con, task, rows)
    everything = task_rows(gen_con, "user-spend")
    for i in np.random.default_rng(0).choice(len(rows.entity_id), 20, replace=False):
        closed = ((everything["entity_id"] == rows.entity_id[i])
                  & (everything["anchor_time"] + np.timedelta64(task.horizon)
                     <= rows.anchor_time[i]))
        expected = everything["label"][closed].mean() if closed.any() else -1.0
        assert np.isclose(got[i], expected)


def test_a_multiclass_entity_gets_the_class_its_closed_windows_held_most_often(gen_con):
    """Not the rounded mean: an entity whose windows held classes 0 and 3 is not predicted 2."""
    import datetime as dt
    from relatron_sql.task import create_task
    create_task(gen_con, "user-orders", "users", """
        SELECT a.anchor_time, u.user_id, LEAST(COUNT(o.order_id), 3) AS label
        FROM relatron_anchors a JOIN users u ON u.signup <= a.anchor_time
        LEFT JOIN orders o ON o.user_id = u.user_id AND o.time > a.anchor_time
             AND o.time <= a.window_end
        GROUP BY ALL""", kind="multiclass", horizon=dt.timedelta(days=30),
                val_timestamp="2020-08-07", test_timestamp="2020-10-19")
    task = load_task(gen_con, "user-orders")
    everything = task_rows(gen_con, "user-orders")
    train = task_rows(gen_con, "user-orders", "train")
    classes, counts = np.unique(train["label"], return_counts=True)
    common = classes[counts == counts.max()].min()
    test = task_rows(gen_con, "user-orders", "test")
    rows = Rows(test["anchor_time"], test["entity_id"], None, test["label"])
    got = baseline.HistoryMean(float(train["label"].mean())).predict(gen_con, task, rows)
    seen_tie = False
    for i in range(len(rows.entity_id)):
        closed = ((everything["entity_id"] == rows.entity_id[i])
                  & (everything["anchor_time"] + np.timedelta64(task.horizon)
                     <= rows.anchor_time[i]))
        if not closed.any():
            assert got[i] == common
            continue
        held, n = np.unique(everything["label"][closed], return_counts=True)
        seen_tie |= (n == n.max()).sum() > 1
        assert got[i] == held[n == n.max()].min()
    assert seen_tie   # the tie rule was exercised
    assert set(np.unique(got)) <= set(classes) and len(np.unique(got)) > 1

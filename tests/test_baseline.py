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

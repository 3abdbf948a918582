"""The trivial baseline every model must beat: an entity's historical mean label.

For an anchor t it averages the entity's labels of earlier anchors whose windows had closed by
t (anchor + horizon <= t), so it never sees a label from the future; entities without history
get the training mean. For a multiclass task it predicts the class those labels held most often
(the training split's most common class without history).
"""
from __future__ import annotations

import json
import time

import numpy as np

from . import metrics
from .arrays import floats
from .families import FitOptions, Fitted, Rows
from .task import Task


class HistoryMean:
    def __init__(self, global_mean: float):
        self.global_mean = global_mean

    def predict(self, con, task: Task, rows: Rows) -> np.ndarray:
        con.execute("CREATE OR REPLACE TEMP TABLE relatron_score_rows AS SELECT * FROM "
                    "(SELECT unnest(?) AS i, unnest(?) AS anchor_time, unnest(?) AS entity_id) ",
                    [list(range(len(rows.entity_id))), list(rows.anchor_time),
                     list(rows.entity_id)])
        try:
            if task.kind == "multiclass":
                return self._modes(con, task)
            out = con.execute(
                "SELECT AVG(h.label) FROM relatron_score_rows AS r LEFT JOIN relatron.task_rows "
                "AS h ON h.task = ? AND h.entity_id = r.entity_id AND h.anchor_time + ? <= "
                "r.anchor_time GROUP BY r.i ORDER BY r.i", [task.name, task.horizon]).fetchnumpy()
            values = floats(next(iter(out.values())))
            return np.where(np.isnan(values), self.global_mean, values)
        finally:
            con.execute("DROP TABLE relatron_score_rows")

    @staticmethod
    def _modes(con, task: Task) -> np.ndarray:
        """Per row of relatron_score_rows, the class the entity's closed windows held most often
        (the smaller class on a tie); without history, the training split's most common class."""
        common = con.execute("SELECT label FROM relatron.task_rows WHERE task = ? AND split = "
                             "'train' GROUP BY label ORDER BY COUNT(*) DESC, label LIMIT 1",
                             [task.name]).fetchall()
        fallback = float(common[0][0]) if common else 0.0
        out = con.execute(
            "WITH counted AS (SELECT r.i, h.label, COUNT(*) AS n FROM relatron_score_rows AS r "
            "JOIN relatron.task_rows AS h "
            "ON h.task = ? AND h.entity_id = r.entity_id AND h.anchor_time + ? <= r.anchor_time "
            "GROUP BY r.i, h.label), "
            "best AS (SELECT i, label FROM counted QUALIFY row_number() OVER (PARTITION BY i "
            "ORDER BY n DESC, label) = 1) "
            "SELECT best.label FROM relatron_score_rows AS r LEFT JOIN best USING (i) "
            "ORDER BY r.i",
            [task.name, task.horizon]).fetchnumpy()
        values = floats(next(iter(out.values())))
        return np.where(np.isnan(values), fallback, values)


class Baseline:
    name = "baseline"
    default_budget = 1

    def fit(self, con, task: Task, options: FitOptions) -> Fitted:
        started = time.perf_counter()
        train_mean = con.execute("SELECT AVG(label) FROM relatron.task_rows WHERE task = ? AND "
                                 "split = 'train'", [task.name]).fetchall()[0][0]
        model = HistoryMean(float(train_mean if train_mean is not None else 0.0))
        val = _rows(con, task, "val")
        score = metrics.primary(task.kind, metrics.evaluate(task.kind, val.label,
                                                            model.predict(con, task, val)))
        config = {"global_mean": model.global_mean}
        options.trial_log(trial=0, config=config, val_metric=score,
                          seconds=time.perf_counter() - started)
        return Fitted(model, config, {"config": ("json", json.dumps(config).encode())},
                      [{"feature": "entity_history_mode" if task.kind == "multiclass"
                        else "entity_history_mean", "importance": 1.0,
                        "description": ("most frequent class" if task.kind == "multiclass"
                                        else "mean label") + " of the entity's earlier, closed "
                                       "windows",
                        "sql": None}], score)

    def load(self, config: dict, artifacts: dict[str, bytes]) -> HistoryMean:
        return HistoryMean(float(config["global_mean"]))


def _rows(con, task: Task, split: str) -> Rows:
    from .task import task_rows
    r = task_rows(con, task.name, split)
    return Rows(r["anchor_time"], r["entity_id"], r["split"], r["label"])


FAMILY = Baseline()

"""The feature matrix and a seeded DFS training are repeatable on real data.

DuckDB aggregates rel-f1's joined rows in parallel, so floating-point sums (standard deviations
above all) arrive in a different order on every run and differ in their last bits; the matrix
rounds them away. The small generated database is too small to be aggregated in parallel, hence
rel-f1 here.
"""
import json

import numpy as np

from relatron_sql.dfs.family import _split, build_plan
from relatron_sql.dfs.matrix import feature_matrix
from relatron_sql.task import load_task


def test_feature_matrix_is_the_same_to_the_bit_on_every_run(f1_con):
    task = load_task(f1_con, "driver-dnf")
    plan, info = build_plan(f1_con, task)
    train, val = _split(f1_con, task, "train"), _split(f1_con, task, "val")
    at = np.concatenate([train.anchor_time, val.anchor_time])
    ids = np.concatenate([train.entity_id, val.entity_id])
    first = feature_matrix(f1_con, plan, info, at, ids)
    assert first.dtype == np.float32 and first.shape == (len(ids), len(plan.features))
    assert any(f["agg"] == "std" for f in plan.features)
    for _ in range(3):
        again = feature_matrix(f1_con, plan, info, at, ids)
        assert np.array_equal(first, again, equal_nan=True)


def test_seeded_dfs_training_on_f1_is_repeatable(f1_con):
    runs = []
    for _ in range(2):
        out = json.loads(f1_con.execute(
            "SELECT relatron_train('driver-top3', family := 'dfs', seed := 0, budget := 2)"
        ).fetchall()[0][0])
        model = f1_con.execute(
            "SELECT payload FROM relatron.artifacts WHERE name = 'driver-top3' AND part = 'model' "
            "AND version = ?", [out["version"]]).fetchall()[0][0]
        runs.append((out["val"], out["test"], bytes(model)))
    assert runs[0] == runs[1]

"""relatron_features_sql: the feature query in every dialect; the DuckDB form runs."""
import numpy as np
import pytest
import sqlglot

from relatron_sql import models
from relatron_sql.dfs.compile import DIALECTS
from relatron_sql.dfs.matrix import anchors_table
from relatron_sql.task import task_rows


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_dialect_parses_back(gen_con, dialect):
    sql = gen_con.execute("SELECT relatron_features_sql('user-active', dialect := ?)",
                          [dialect]).fetchall()[0][0]
    assert "relatron_feature_anchors" in sql
    tree = sqlglot.parse_one(sql, read=dialect)
    assert tree.find(sqlglot.exp.Join) is not None
    assert "ASOF" not in sql.upper()


def test_duckdb_form_computes_the_model_features(fresh_gen):
    con = fresh_gen
    models.train(con, "user-active", family="dfs", budget=1, seed=0)
    task, _, _, model = models.active_model(con, "user-active")
    sql = con.execute("SELECT relatron_features_sql('user-active')").fetchall()[0][0]
    r = task_rows(con, "user-active", "test")
    con.register("relatron_feature_anchors", anchors_table(r["anchor_time"], r["entity_id"]))
    out = con.execute("SELECT * FROM (" + sql + ") ORDER BY anchor_time, entity_id").fetchnumpy()
    con.unregister("relatron_feature_anchors")
    names = [f["name"] for f in model.plan.features]
    assert list(out)[2:] == names
    order = np.lexsort((r["entity_id"], r["anchor_time"]))
    mine = model.features(con, type("R", (), {"anchor_time": r["anchor_time"][order],
                                              "entity_id": r["entity_id"][order]})())
    theirs = np.column_stack([np.ma.filled(np.ma.asarray(out[n], dtype=float), np.nan)
                              for n in names])
    assert np.allclose(mine, theirs, equal_nan=True)

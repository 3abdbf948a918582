"""Bad input to the DFS family: clear errors that leave the database as it was, or documented
fallbacks."""
import datetime as dt

import duckdb
import numpy as np
import pytest

from relatron_sql.dfs import family
from relatron_sql.dfs.compile import compile_plan, schema_info, to_sql
from relatron_sql.dfs.enumerate import enumerate_features
from relatron_sql.dfs.matrix import feature_matrix
from relatron_sql.errors import CompileError, TrainError
from relatron_sql.families import FitOptions
from relatron_sql import models
from relatron_sql.schema import declare, read_schema
from relatron_sql.task import create_task, load_task
from snapshot import snapshot


def _options(budget):
    return FitOptions(budget=budget, seed=0, device="cpu", time_budget=None,
                      trial_log=lambda **kw: None)


def test_unknown_dialect(fresh_gen):
    before = snapshot(fresh_gen)
    with pytest.raises(duckdb.Error, match="dialect.*'oracle'.*valid:.*'spark'"):
        fresh_gen.execute("SELECT relatron_features_sql('user-active', dialect := 'oracle')"
                          ).fetchall()
    with pytest.raises(CompileError, match="argument 'dialect'"):
        family.features_sql(fresh_gen, "user-active", "mysql-ish")
    schema = read_schema(fresh_gen, count_dangling=False)
    plan = enumerate_features(fresh_gen, schema, "users", depth=1)
    with pytest.raises(CompileError, match="argument 'dialect'"):
        to_sql(compile_plan(plan, schema_info(schema, plan)), "oracle")
    assert snapshot(fresh_gen) == before


def test_bad_depth(gen_con):
    schema = read_schema(gen_con, count_dangling=False)
    with pytest.raises(CompileError, match="argument 'depth'"):
        enumerate_features(gen_con, schema, "users", depth=4)


@pytest.mark.parametrize("budget", [0, -3])
def test_budget_not_positive(fresh_gen, budget):
    before = snapshot(fresh_gen)
    with pytest.raises(duckdb.Error, match="argument 'budget'"):
        fresh_gen.execute("SELECT relatron_train('user-active', family := 'dfs', budget := ?)",
                          [budget]).fetchall()
    with pytest.raises(TrainError, match="argument 'budget'"):
        family.FAMILY.fit(fresh_gen, load_task(fresh_gen, "user-active"), _options(budget))
    assert snapshot(fresh_gen) == before


def test_task_with_no_rows_in_a_split(fresh_gen):
    con = fresh_gen
    create_task(con, "early-active", "users", "SELECT * FROM (" + """
        SELECT a.anchor_time, u.user_id, 1 AS label FROM relatron_anchors a
        JOIN users u ON u.signup <= a.anchor_time) WHERE anchor_time < TIMESTAMP '2020-08-07'""",
                horizon=dt.timedelta(days=30), val_timestamp="2020-08-07",
                test_timestamp="2020-10-19", replace=True)
    before = snapshot(con)
    with pytest.raises(duckdb.Error, match="argument 'name'.*no val rows"):
        con.execute("SELECT relatron_train('early-active', family := 'dfs')").fetchall()
    with pytest.raises(TrainError, match="argument 'name'.*no val rows"):
        family.FAMILY.fit(con, load_task(con, "early-active"), _options(1))
    assert snapshot(con) == before


def test_entity_whose_every_feature_is_null(fresh_gen):
    """Documented fallback: counts are 0, every other feature NULL, and LightGBM scores the row
    through its missing-value branches; the prediction is finite."""
    con = fresh_gen
    models.train(con, "user-active", family="dfs", budget=1, seed=0)
    con.execute("INSERT INTO users VALUES (5000, NULL, TIMESTAMP '2020-01-01', NULL, NULL)")
    task, _, _, model = models.active_model(con, "user-active")
    at = np.array(["2020-12-01"], dtype="datetime64[us]")
    X = feature_matrix(con, model.plan, model.info, at, np.array(["5000"], dtype=object))[0]
    counting = np.array([f["agg"] in ("count", "category_count", "count_distinct")
                         for f in model.plan.features])
    assert np.isnan(X[~counting & ~np.array([f["name"] == "entity_signup_days_since"
                                             for f in model.plan.features])]).all()
    assert (X[counting] == 0).all()
    rows = type("R", (), {"anchor_time": at, "entity_id": np.array(["5000"], dtype=object),
                          "__len__": lambda self: 1})()
    p = model.predict(con, task, rows)
    assert np.isfinite(p).all() and 0 <= p[0] <= 1


def test_categorical_column_with_a_million_values_is_left_out(fresh_gen, caplog):
    con = fresh_gen
    con.execute("CREATE TABLE clicks AS SELECT i AS click_id, i % 300 AS user_id, "
                "TIMESTAMP '2020-01-01' + INTERVAL (i % 300) DAY AS time, "
                "'tag-' || CAST(i AS VARCHAR) AS tag, "
                "CASE WHEN i % 3 = 0 THEN 'a' ELSE 'b' END AS kind FROM range(1000000) t(i)")
    declare(con, "clicks", primary_key="click_id", foreign_keys={"user_id": "users"},
            time_column="time")
    schema = read_schema(con, count_dangling=False)
    with pytest.warns(UserWarning, match=r"clicks\.tag has about \d+ distinct values"):
        plan = enumerate_features(con, schema, "users", depth=1)
    names = [f["name"] for f in plan.features]
    assert not [n for n in names if n.startswith("clicks_tag")]
    assert "clicks_kind_category_count_eq_b" in names and "clicks_count" in names
    assert "left out of per-category counts" in caplog.text


@pytest.mark.parametrize("table", ["a", "G_events", "relatron_feature_anchors"])
def test_a_table_named_like_a_part_of_the_query_is_named_in_the_error(table):
    import relatron_sql
    con = relatron_sql.connect(":memory:")
    con.execute("CREATE TABLE users (user_id BIGINT)")
    con.execute("INSERT INTO users VALUES (1), (2)")
    con.execute("CREATE TABLE events (event_id BIGINT, user_id BIGINT, time TIMESTAMP, "
                "amount DOUBLE)")
    con.execute("INSERT INTO events VALUES (1, 1, '2020-01-01', 1.0), (2, 2, '2020-02-01', 2)")
    con.execute(f'CREATE TABLE "{table}" (x_id BIGINT, user_id BIGINT, v DOUBLE)')
    con.execute(f'INSERT INTO "{table}" VALUES (1, 1, 10), (2, 1, 20)')
    declare(con, "users", primary_key="user_id")
    declare(con, "events", primary_key="event_id", foreign_keys={"user_id": "users"},
            time_column="time")
    declare(con, table, primary_key="x_id", foreign_keys={"user_id": "users"})
    schema = read_schema(con, count_dangling=False)
    plan = enumerate_features(con, schema, "users", depth=1)
    with pytest.raises(CompileError, match=f"table '{table}' has the name the feature query "
                                           "gives one of its own parts"):
        compile_plan(plan, schema_info(schema, plan))

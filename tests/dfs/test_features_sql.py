"""relatron_features_sql: the feature query in every dialect; the DuckDB form runs."""
import re

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


def _history_plan(con, horizon):
    """A depth-1 plan with label history for a task of the given horizon."""
    import datetime as dt

    from relatron_sql.dfs.compile import compile_plan, schema_info
    from relatron_sql.dfs.enumerate import add_label_history, enumerate_features
    from relatron_sql.schema import read_schema
    from relatron_sql.task import create_task, load_task
    from relatron_sql.testing import ACTIVE_SQL, make_database
    make_database(con, n_users=30, seed=1, tasks=False)
    start = dt.datetime(2020, 1, 1)
    create_task(con, "act", "users", ACTIVE_SQL, horizon=horizon,
                val_timestamp=start + dt.timedelta(days=219),
                test_timestamp=start + dt.timedelta(days=292))
    schema = read_schema(con, count_dangling=False)
    plan = add_label_history(enumerate_features(con, schema, "users", depth=1),
                             load_task(con, "act"))
    return compile_plan(plan, schema_info(schema, plan))


def test_trino_gets_a_fractional_horizon_in_seconds(con):
    """Trino has no MICROSECOND interval: 30 days and 0.9 s is written as fractional seconds,
    which Trino's millisecond intervals hold exactly."""
    import datetime as dt

    from relatron_sql.dfs.compile import to_sql
    tree = _history_plan(con, dt.timedelta(days=30, milliseconds=900))
    assert "INTERVAL '2592000900000' MICROSECOND" in to_sql(tree, "duckdb")
    sql = to_sql(tree, "trino")
    assert "MICROSECOND" not in sql.upper()
    assert "INTERVAL '2592000.900' SECOND" in sql
    sqlglot.parse_one(sql, read="trino")


def test_trino_refuses_a_horizon_finer_than_milliseconds(con):
    import datetime as dt

    from relatron_sql.dfs.compile import to_sql
    from relatron_sql.errors import CompileError
    tree = _history_plan(con, dt.timedelta(days=30, microseconds=1))
    with pytest.raises(CompileError, match="argument 'dialect': trino intervals hold "
                                            "milliseconds.*2592000000001 microseconds"):
        to_sql(tree, "trino")
    assert "MICROSECOND" in to_sql(tree, "postgres").upper()


@pytest.mark.parametrize("dialect, counts", [("bigquery", "UNIX_MICROS(CAST("),
                                             ("snowflake", "DATE_PART(EPOCH_MICROSECOND, ")])
def test_days_between_keep_microseconds_in_bigquery_and_snowflake(gen_con, dialect, counts):
    """Their seconds since the epoch are whole seconds (and BigQuery's UNIX_SECONDS refuses the
    DATETIME a naive timestamp becomes there): days_since features count microseconds."""
    sql = gen_con.execute("SELECT relatron_features_sql('user-active', dialect := ?)",
                          [dialect]).fetchall()[0][0]
    assert counts in sql
    for whole_seconds in ("UNIX_SECONDS", "TIME_TO_UNIX", "EPOCH_SECOND"):
        assert whole_seconds not in sql.upper()
    if dialect == "bigquery":
        tree = sqlglot.parse_one(sql, read="bigquery")
        for call in tree.find_all(sqlglot.exp.Anonymous):
            if call.name.upper() == "UNIX_MICROS":
                assert call.expressions[0].to.sql("bigquery") == "TIMESTAMP"


def test_boolean_columns_become_numbers_without_a_boolean_cast():
    """Postgres and BigQuery cannot cast a boolean to a floating-point type: the query turns
    one into 1 / 0 (NULL stays NULL) and gets the same numbers DuckDB's cast would."""
    import datetime as dt

    import relatron_sql
    from relatron_sql.dfs.compile import compile_plan, schema_info, to_sql
    from relatron_sql.dfs.enumerate import enumerate_features
    from relatron_sql.dfs.matrix import feature_matrix
    from relatron_sql.schema import declare, read_schema
    con = relatron_sql.connect(":memory:")
    t0 = dt.datetime(2021, 1, 1)
    con.execute("CREATE TABLE users (user_id BIGINT, vip BOOLEAN)")
    con.execute("INSERT INTO users VALUES (1, true), (2, NULL)")
    con.execute("CREATE TABLE events (event_id BIGINT, user_id BIGINT, time TIMESTAMP, "
                "refunded BOOLEAN)")
    con.execute("INSERT INTO events VALUES (1, 1, ?, true), (2, 1, ?, false), (3, 1, ?, NULL),"
                " (4, 2, ?, false)", [t0, t0 + dt.timedelta(days=1), t0 + dt.timedelta(days=2),
                                      t0])
    declare(con, "users", primary_key="user_id")
    declare(con, "events", primary_key="event_id", foreign_keys={"user_id": "users"},
            time_column="time")
    schema = read_schema(con, count_dangling=False)
    plan = enumerate_features(con, schema, "users", depth=1)
    info = schema_info(schema, plan)
    at = np.array([t0 + dt.timedelta(days=5)] * 2, dtype="datetime64[us]")
    got = dict(zip([f["name"] for f in plan.features],
                   feature_matrix(con, plan, info, at, np.array([1, 2])).T))
    mean = [n for n in got if "refunded" in n and n.endswith("_mean")][0]
    last = [n for n in got if "refunded" in n and n.endswith("_last")][0]
    vip = "entity_vip_value"
    assert got[mean].tolist() == [0.5, 0.0]
    assert np.isnan(got[last][0]) and got[last][1] == 0.0   # user 1's latest is NULL
    assert got[vip][0] == 1.0 and np.isnan(got[vip][1])
    for dialect in ("postgres", "bigquery"):
        sql = to_sql(compile_plan(plan, info), dialect)
        for c in ("refunded", "vip"):
            assert c in sql and not re.search(rf'CAST\((?:["`]\w+["`]\.)?["`]{c}["`] AS', sql)

"""Rows of a table without a primary key that tie on time: the features of their entity do not
depend on the order the rows were stored in."""
import datetime as dt

import numpy as np

import relatron_sql
from relatron_sql.dfs.compile import schema_info
from relatron_sql.dfs.enumerate import enumerate_features
from relatron_sql.dfs.matrix import feature_matrix
from relatron_sql.schema import declare, read_schema

T0 = dt.datetime(2021, 1, 1)
# user 1 has two events at one instant (values and kinds differ), user 2 one event a day
EVENTS = [(1, T0, 1.0, "a"), (1, T0, 5.0, "b"), (1, T0 - dt.timedelta(days=3), 2.0, "c"),
          (2, T0 - dt.timedelta(days=1), 7.0, "a"), (2, T0, 3.0, "b")]


def _matrix(order):
    con = relatron_sql.connect(":memory:")
    con.execute("CREATE TABLE users (user_id BIGINT, signup TIMESTAMP)")
    con.execute("INSERT INTO users VALUES (1, ?), (2, ?)", [T0 - dt.timedelta(days=30)] * 2)
    con.execute("CREATE TABLE events (user_id BIGINT, time TIMESTAMP, amount DOUBLE, "
                "kind VARCHAR)")
    for i in order:
        con.execute("INSERT INTO events VALUES (?, ?, ?, ?)", list(EVENTS[i]))
    declare(con, "users", primary_key="user_id", time_column="signup")
    declare(con, "events", foreign_keys={"user_id": "users"}, time_column="time")
    schema = read_schema(con, count_dangling=False)
    plan = enumerate_features(con, schema, "users", depth=1)
    at = np.array([T0 + dt.timedelta(hours=1)] * 2, dtype="datetime64[us]")
    matrix = feature_matrix(con, plan, schema_info(schema, plan), at, np.array([1, 2]))
    names = [f["name"] for f in plan.features]
    con.close()
    return names, matrix


def test_tied_rows_give_the_same_features_in_any_stored_order():
    names, forward = _matrix(range(len(EVENTS)))
    assert any("last" in n for n in names)
    for order in ([1, 0, 2, 3, 4], [4, 3, 2, 1, 0], [2, 1, 4, 0, 3]):
        again_names, again = _matrix(order)
        assert again_names == names
        differ = [n for j, n in enumerate(names)
                  if not np.allclose(forward[:, j], again[:, j], equal_nan=True)]
        assert differ == [], differ

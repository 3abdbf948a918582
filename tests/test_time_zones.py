"""A TIMESTAMPTZ time column read under a session time zone: labels, DFS features and RDL
node times all read a naive anchor time as the same instant."""
import datetime as dt

import numpy as np

from relatron_sql.dfs.family import build_plan
from relatron_sql.dfs.matrix import feature_matrix
from relatron_sql.rdl.graph import graph_for
from relatron_sql.task import create_task, load_task
from relatron_sql.testing import ACTIVE_SQL, make_database

START = dt.datetime(2020, 1, 1)


def _plant_an_order_three_hours_after(con, anchor):
    """A user with no order near ``anchor``, and one order 3 h after it in UTC (8 h before it
    in Los Angeles); returns the user."""
    user = con.execute("SELECT MIN(user_id) FROM users WHERE signup <= ? AND user_id NOT IN "
                       "(SELECT user_id FROM orders WHERE time > ?::TIMESTAMPTZ - INTERVAL 40 DAY"
                       " AND time <= ?::TIMESTAMPTZ + INTERVAL 40 DAY)",
                       [anchor, anchor, anchor]).fetchall()[0][0]
    con.execute("INSERT INTO orders VALUES (999999, ?, 0, ?::TIMESTAMPTZ, 1.0, 'web')",
                [user, (anchor + dt.timedelta(hours=3)).isoformat() + "+00:00"])
    return user


def _los_angeles(con):
    make_database(con, n_users=60, seed=1, tasks=False)
    con.execute("ALTER TABLE orders ALTER time TYPE TIMESTAMPTZ")
    con.execute("SET TimeZone = 'America/Los_Angeles'")


def test_labels_and_features_read_a_timestamptz_column_in_the_session_time_zone(con):
    _los_angeles(con)
    anchor = START + dt.timedelta(days=219)
    user = _plant_an_order_three_hours_after(con, anchor)
    create_task(con, "act", "users", ACTIVE_SQL, kind="binary", horizon=dt.timedelta(days=30),
                val_timestamp=anchor, test_timestamp=START + dt.timedelta(days=292))
    label = con.execute("SELECT label FROM relatron.task_rows WHERE task = 'act' AND "
                        "anchor_time = ? AND entity_id = ?", [anchor, str(user)]).fetchall()
    task = load_task(con, "act")
    plan, info = build_plan(con, task, depth=1, history=False)
    names = [f["name"] for f in plan.features]
    x = feature_matrix(con, plan, info, np.array([anchor], dtype="datetime64[us]"),
                       np.array([str(user)]))[0]
    # in Los Angeles the order is in the anchor's past: a feature, not the label
    assert label == [(0.0,)]
    assert x[names.index("orders_count")] >= 1
    g = graph_for(con, "users")
    planted = g.type_offset[g.type_id("orders")] + int(np.argmax(g.keys["orders"] == "999999"))
    assert g.node_time[planted] <= np.datetime64(anchor, "us").astype(np.int64)


def test_sql_functions_read_time_in_the_calling_session_time_zone(con):
    _los_angeles(con)
    anchor = START + dt.timedelta(days=219)
    user = _plant_an_order_three_hours_after(con, anchor)
    con.execute("SELECT relatron_task('act', entity := 'users', label_sql := ?, "
                "val_timestamp := ?, test_timestamp := ?)",
                [ACTIVE_SQL, anchor, START + dt.timedelta(days=292)])
    stored = con.execute("SELECT label FROM relatron_task_rows('act') WHERE anchor_time = ? AND "
                         "entity_id = ?", [anchor, str(user)]).fetchall()
    # the caller's own reading of the label query, in its session
    own = con.execute("SELECT label FROM (" + ACTIVE_SQL.replace(
        "relatron_anchors a", "(SELECT ?::TIMESTAMP AS anchor_time, ?::TIMESTAMP AS window_end) a")
        + ") WHERE user_id = ?", [anchor, anchor + dt.timedelta(days=30), user]).fetchall()
    assert stored == own == [(0.0,)]

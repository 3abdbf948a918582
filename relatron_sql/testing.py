"""A small generated relational database used by tests, benchmarks and the bank.

groups <- users <- orders -> items, with order times over one year. Each user's order rate
mixes a personal propensity with its group's, weighted by ``homophily`` in [0, 1], so the
label homophily over the meta-path user -> group -> user is a knob.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from . import registry
from .schema import declare
from .task import create_task

START = dt.datetime(2020, 1, 1)

ACTIVE_SQL = """
SELECT a.anchor_time, u.user_id,
       CAST(EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.user_id
                    AND o.time > a.anchor_time AND o.time <= a.window_end) AS INTEGER) AS label
FROM relatron_anchors a JOIN users u ON u.signup <= a.anchor_time"""

SPEND_SQL = """
SELECT a.anchor_time, u.user_id, COALESCE(SUM(o.amount), 0) AS label
FROM relatron_anchors a JOIN users u ON u.signup <= a.anchor_time
LEFT JOIN orders o ON o.user_id = u.user_id AND o.time > a.anchor_time AND o.time <= a.window_end
GROUP BY a.anchor_time, u.user_id"""


def make_database(con, n_users: int = 300, n_items: int = 40, n_groups: int = 15,
                  days: int = 365, homophily: float = 0.5, seed: int = 0,
                  tasks: bool = True) -> dict:
    """Create tables groups, users, items, orders (declared) and tasks 'user-active' and
    'user-spend' on ``con``; returns row counts."""
    rng = np.random.default_rng(seed)
    group_rate = rng.gamma(2.0, 1.0, n_groups)
    user_group = rng.integers(0, n_groups, n_users)
    own_rate = rng.gamma(2.0, 1.0, n_users)
    rate = homophily * group_rate[user_group] + (1 - homophily) * own_rate  # orders per 30 days
    signup_day = rng.integers(0, days // 3, n_users)
    orders_user, orders_day = [], []
    for u in range(n_users):
        span = days - signup_day[u]
        k = rng.poisson(rate[u] * span / 30.0)
        orders_user.append(np.full(k, u))
        orders_day.append(signup_day[u] + rng.uniform(0, span, k))
    o_user = np.concatenate(orders_user)
    o_day = np.concatenate(orders_day)
    n_orders = len(o_user)
    item_price = np.round(rng.lognormal(3.0, 0.6, n_items), 2)
    o_item = rng.integers(0, n_items, n_orders)
    start = np.datetime64(START, "us")
    tables = {
        "groups": pa.table({"group_id": np.arange(n_groups),
                            "kind": rng.choice(["club", "team", "school"], n_groups)}),
        "users": pa.table({"user_id": np.arange(n_users), "group_id": user_group,
                           "signup": start + (signup_day * 86400e6).astype("timedelta64[us]"),
                           "age": rng.integers(18, 80, n_users),
                           "segment": rng.choice(["a", "b", "c", "d"], n_users)}),
        "items": pa.table({"item_id": np.arange(n_items),
                           "category": rng.choice(["x", "y", "z"], n_items),
                           "price": item_price}),
        "orders": pa.table({"order_id": np.arange(n_orders), "user_id": o_user,
                            "item_id": o_item,
                            "time": start + (o_day * 86400e6).astype("timedelta64[us]"),
                            "amount": np.round(item_price[o_item] * rng.uniform(0.8, 1.2,
                                                                                 n_orders), 2),
                            "channel": rng.choice(["web", "app", "store"], n_orders)}),
    }
    keys = {"groups": ("group_id", {}, None),
            "users": ("user_id", {"group_id": "groups"}, "signup"),
            "items": ("item_id", {}, None),
            "orders": ("order_id", {"user_id": "users", "item_id": "items"}, "time")}
    with registry.transaction(con) as cur:
        for name, data in tables.items():
            cur.register("relatron_generated", data)
            cur.execute("CREATE OR REPLACE TABLE " + name + " AS SELECT * FROM relatron_generated")
            cur.unregister("relatron_generated")
        for name, (pk, fks, time_col) in keys.items():
            declare(cur, name, primary_key=pk, foreign_keys=fks, time_column=time_col,
                    replace=True)
        if tasks:
            horizon = dt.timedelta(days=30)
            val = START + dt.timedelta(days=int(days * 0.6))
            test = START + dt.timedelta(days=int(days * 0.8))
            create_task(cur, "user-active", "users", ACTIVE_SQL, kind="binary", horizon=horizon,
                        val_timestamp=val, test_timestamp=test, replace=True,
                        description="Will the user order in the next 30 days?")
            create_task(cur, "user-spend", "users", SPEND_SQL, kind="regression",
                        horizon=horizon, val_timestamp=val, test_timestamp=test, replace=True,
                        description="How much will the user spend in the next 30 days?")
    return {name: t.num_rows for name, t in tables.items()}

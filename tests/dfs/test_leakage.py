"""Point-in-time correctness: rows after an anchor change nothing; a row at t counts, t + 1 µs
does not."""
import datetime as dt

import numpy as np

from relatron_sql.dfs.compile import schema_info
from relatron_sql.dfs.enumerate import add_label_history, enumerate_features
from relatron_sql.dfs.matrix import feature_matrix
from relatron_sql.schema import read_schema
from relatron_sql.task import load_task, task_rows


def _plan(con, entity, task_name, depth):
    schema = read_schema(con, count_dangling=False)
    plan = add_label_history(enumerate_features(con, schema, entity, depth=depth),
                             load_task(con, task_name))
    return plan, schema_info(schema, plan)


def _sample(con, task_name, split, n, seed=0):
    rows = task_rows(con, task_name, split)
    pick = np.random.default_rng(seed).choice(len(rows["entity_id"]), n, replace=False)
    return rows["anchor_time"][pick], rows["entity_id"][pick]


def _same(a, b):
    """Equal, NULLs included, up to the last bits of floating-point sums (DuckDB's parallel
    aggregation may add the same rows in another order)."""
    return np.array_equal(np.isnan(a), np.isnan(b)) and np.allclose(a, b, rtol=1e-12,
                                                                     atol=1e-12, equal_nan=True)


def test_generated_future_rows_change_nothing(fresh_gen):
    con = fresh_gen
    plan, info = _plan(con, "users", "user-active", 3)
    at, ei = _sample(con, "user-active", "val", 60)
    before = feature_matrix(con, plan, info, at, ei)
    t = at.max().astype("datetime64[us]").item()
    later = t + dt.timedelta(microseconds=1)
    # a future order for every sampled user on every path table (orders, and items through it),
    # a future user, and future task rows whose windows are still open
    con.execute("INSERT INTO items SELECT 10000, 'x', 99999.0")
    con.execute("INSERT INTO orders SELECT 10000000 + row_number() OVER (), CAST(e AS BIGINT), "
                "10000, ?, 123456.0, 'a-new-channel' FROM (SELECT DISTINCT unnest(?) AS e)",
                [later, list(ei)])
    con.execute("INSERT INTO users SELECT 99999, 0, ?, 30, 'a'", [later])
    con.execute("INSERT INTO relatron.task_rows SELECT 'user-active', 'test', ?, e, 1.0 FROM "
                "(SELECT DISTINCT unnest(?) AS e)", [t, list(ei)])
    after = feature_matrix(con, plan, info, at, ei)
    assert _same(before, after)
    # the same orders moved to exactly the latest anchor change that anchor's rows only
    con.execute("UPDATE orders SET time = ? WHERE order_id >= 10000000", [t])
    at_t = feature_matrix(con, plan, info, at, ei)
    changed = ~np.all(np.isclose(before, at_t, equal_nan=True), axis=1)
    assert changed[at == at.max()].all()
    assert not changed[at < at.max()].any()


def test_boundary_row_at_t_counts_and_t_plus_1us_does_not(fresh_gen):
    con = fresh_gen
    plan, info = _plan(con, "users", "user-active", 2)
    names = [f["name"] for f in plan.features]
    at, ei = _sample(con, "user-active", "train", 1, seed=3)
    t = at[0].astype("datetime64[us]").item()
    base = feature_matrix(con, plan, info, at, ei)[0]
    count = names.index("orders_count")
    last = names.index("orders_amount_last")
    con.execute("INSERT INTO orders VALUES (20000000, ?, 0, ?, 777.0, 'app')",
                [int(ei[0]), t + dt.timedelta(microseconds=1)])
    assert _same(feature_matrix(con, plan, info, at, ei)[0], base)
    con.execute("INSERT INTO orders VALUES (20000001, ?, 0, ?, 555.0, 'app')", [int(ei[0]), t])
    now = feature_matrix(con, plan, info, at, ei)[0]
    assert now[count] == base[count] + 1
    assert now[last] == 555.0
    assert now[names.index("orders_days_since_last")] == 0.0


def test_history_only_sees_closed_windows(fresh_gen):
    con = fresh_gen
    plan, info = _plan(con, "users", "user-active", 1)
    names = [f["name"] for f in plan.features]
    at, ei = _sample(con, "user-active", "test", 1, seed=1)
    t = at[0].astype("datetime64[us]").item()
    base = feature_matrix(con, plan, info, at, ei)[0]
    horizon = dt.timedelta(days=30)
    # a window ending 1 µs after t is still open at t
    con.execute("INSERT INTO relatron.task_rows VALUES ('user-active', 'test', ?, ?, 1.0)",
                [t - horizon + dt.timedelta(microseconds=1), str(ei[0])])
    assert _same(feature_matrix(con, plan, info, at, ei)[0], base)
    con.execute("INSERT INTO relatron.task_rows VALUES ('user-active', 'test', ?, ?, 1.0)",
                [t - horizon, str(ei[0])])
    now = feature_matrix(con, plan, info, at, ei)[0]
    assert now[names.index("history_label_count")] == base[names.index("history_label_count")] + 1


def test_f1_future_rows_on_every_path_table_change_nothing(f1_con):
    con = f1_con
    schema = read_schema(con, count_dangling=False)
    plan = add_label_history(enumerate_features(con, schema, "drivers", depth=3, windows=(
        ("events", 3), ("days", 365)), numeric_aggs=("mean", "max", "last"),
        window_aggs=("mean",)), load_task(con, "driver-dnf"))
    info = schema_info(schema, plan)
    tables = {h["table"] for g in plan.groups.values() for h in g.chain}
    tables |= {l["table"] for g in plan.groups.values() for l in g.lookups}
    assert {"results", "standings", "qualifying", "races", "circuits", "constructors"} <= tables
    at, ei = _sample(con, "driver-dnf", "val", 80)
    before = feature_matrix(con, plan, info, at, ei)
    later = at.max().astype("datetime64[us]").item() + dt.timedelta(microseconds=1)
    drivers = [int(e) for e in np.unique(ei)]
    # a future race at a new circuit, and for every sampled driver a future result, standing and
    # qualifying row in it with a new constructor
    con.execute("INSERT INTO circuits (circuitId, name, lat, lng, alt) VALUES "
                "(9999, 'future', 1.0, 2.0, 3.0)")
    con.execute("INSERT INTO constructors (constructorId, name, nationality) VALUES "
                "(9999, 'future', 'Nowhere')")
    con.execute("INSERT INTO races (raceId, year, round, circuitId, name, date) VALUES "
                "(99999, 2100, 99, 9999, 'future', ?)", [later])
    for i, d in enumerate(drivers):
        con.execute("INSERT INTO results (resultId, raceId, driverId, constructorId, grid, "
                    "position, positionOrder, points, laps, statusId, date) VALUES "
                    "(?, 99999, ?, 9999, 1, 1, 1, 100, 99, 2, ?)", [900000 + i, d, later])
        con.execute("INSERT INTO standings (driverStandingsId, raceId, driverId, points, "
                    "position, wins, date) VALUES (?, 99999, ?, 999, 1, 99, ?)",
                    [900000 + i, d, later])
        con.execute("INSERT INTO qualifying (qualifyId, raceId, driverId, constructorId, "
                    "position, date) VALUES (?, 99999, ?, 9999, 1, ?)", [900000 + i, d, later])
    con.execute("INSERT INTO relatron.task_rows SELECT 'driver-dnf', 'val', ?, e, 1.0 FROM "
                "(SELECT DISTINCT unnest(?) AS e)", [later, list(ei)])
    after = feature_matrix(con, plan, info, at, ei)
    assert _same(before, after)
    # a forward hop respects time too: an old result pointing at the future race sees no
    # race columns
    con.execute("UPDATE results SET date = ? WHERE resultId = 900000", [at.max()])
    moved = feature_matrix(con, plan, info, at, ei)
    j = [f["name"] for f in plan.features].index("results_races_year_max")
    assert np.nanmax(moved[:, j]) < 2100


def test_label_history_waits_for_a_fractional_horizon_to_close(con):
    """A horizon of 30 days and 0.9 s: 0.4 s after 30 days, the first window is still open,
    so its label is not history yet (the horizon is not cut to whole seconds)."""
    from relatron_sql.task import create_task
    from relatron_sql.testing import ACTIVE_SQL, make_database
    make_database(con, n_users=60, seed=1, tasks=False)
    start = dt.datetime(2020, 1, 1)
    create_task(con, "act", "users", ACTIVE_SQL, horizon=dt.timedelta(days=30, milliseconds=900),
                val_timestamp=start + dt.timedelta(days=219),
                test_timestamp=start + dt.timedelta(days=292))
    task = load_task(con, "act")
    rows = task_rows(con, "act", "train")
    first = rows["anchor_time"].min().astype("datetime64[us]")
    entity = rows["entity_id"][rows["anchor_time"] == rows["anchor_time"].min()][:1]
    plan, info = _plan(con, "users", "act", 1)
    count = [f["name"] for f in plan.features].index("history_label_count")
    for after, expected in ((np.timedelta64(400, "ms"), 0), (np.timedelta64(900, "ms"), 1)):
        at = np.array([first + np.timedelta64(30, "D") + after])
        assert feature_matrix(con, plan, info, at, entity)[0][count] == expected

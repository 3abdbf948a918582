"""rel-f1 loads exactly as RelBench builds it: table sizes, split sizes and label rates."""
import json

import pytest

SPLITS = {
    "driver-dnf": ((11411, 566, 702), (0.88, 0.78, 0.71)),
    "driver-top3": ((1353, 588, 726), (0.17, 0.20, 0.18)),
    "driver-position": ((7453, 499, 760), None),
}


@pytest.mark.parametrize("task", sorted(SPLITS))
def test_split_sizes_and_rates_match_relbench(f1_con, task):
    sizes, rates = SPLITS[task]
    rows = dict(f1_con.execute(
        "SELECT split, COUNT(*) FROM relatron_task_rows(?) GROUP BY split", [task]).fetchall())
    assert (rows["train"], rows["val"], rows["test"]) == sizes
    if rates:
        means = dict(f1_con.execute("SELECT split, AVG(label) FROM relatron_task_rows(?) "
                                    "GROUP BY split", [task]).fetchall())
        for split, rate in zip(("train", "val", "test"), rates):
            assert means[split] == pytest.approx(rate, abs=0.006)


def test_tables_keys_and_times(f1_con):
    rows = dict(f1_con.execute("SELECT table_name, estimated_size FROM duckdb_tables() "
                               "WHERE schema_name = 'main'").fetchall())
    assert set(rows) == {"circuits", "drivers", "constructors", "races", "results", "standings",
                         "constructor_results", "constructor_standings", "qualifying"}
    schema = {(r[0], r[1]): r for r in f1_con.execute(
        "SELECT table_name, column_name, role, references_table FROM relatron_schema()").fetchall()}
    assert schema[("results", "driverId")][2:] == ("fk", "drivers")
    assert schema[("qualifying", "date")][2] == "time"
    assert schema[("drivers", "driverId")][2] == "pk"
    # dropped as RelBench drops them
    assert ("results", "positionText") not in schema
    assert ("drivers", "url") not in schema and ("drivers", "number") not in schema
    assert ("races", "time") not in schema


def test_event_dates_come_from_races(f1_con):
    race, result, quali = f1_con.execute(
        "SELECT r.date, (SELECT MIN(date) FROM results WHERE raceId = 1), "
        "(SELECT MIN(date) FROM qualifying WHERE raceId = 1) FROM races r WHERE raceId = 1"
    ).fetchall()[0]
    assert str(race) == "2009-03-29 06:00:00"  # date plus start time
    assert result == race
    assert str(quali) == "2009-03-28 06:00:00"  # the day before the race


def test_ergast_nulls_are_null(f1_con):
    nulls = f1_con.execute("SELECT COUNT(*) FROM results WHERE position IS NULL").fetchall()[0][0]
    assert nulls > 5000  # '\\N' positions of non-finishers


def test_task_counts_are_returned_and_stored(f1_con):
    counts = json.loads(f1_con.execute("SELECT counts FROM relatron.tasks WHERE name = "
                                       "'driver-top3'").fetchall()[0][0])
    assert counts["val"]["rows"] == 588


@pytest.mark.parametrize("task", sorted(SPLITS))
def test_the_shipped_bank_knows_each_relbench_task_by_its_test_key(f1_con, task):
    """Routing a RelBench task must leave out the shipped bank's record of it (which holds its
    test result), so that record must carry the key the task computes here."""
    from relatron_sql.route import bank
    from relatron_sql.task import load_task
    keys = {r.get("test_key") for r in bank.load() if r["task"] == f"f1/{task}"}
    assert keys == {bank.test_key(load_task(f1_con, task))}

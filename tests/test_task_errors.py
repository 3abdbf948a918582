"""Bad input to tasks, declarations and loaders: a clear error naming the argument, and the
database left exactly as it was."""
import json

import duckdb
import pytest

from snapshot import snapshot

GOOD = dict(entity="'drivers'", kind="'binary'", horizon="INTERVAL 30 DAY",
            val_timestamp="'2005-01-01'", test_timestamp="'2010-01-01'",
            label_sql="'SELECT a.anchor_time, r.driverId, MAX(r.position = 1)::INT AS label "
                      "FROM relatron_anchors a JOIN results r ON r.date > a.anchor_time AND "
                      "r.date <= a.window_end GROUP BY ALL'")


def call_task(con, name="t", **override):
    args = {**GOOD, **override}
    named = ", ".join(f"{k} := {v}" for k, v in args.items() if v is not None)
    return con.execute(f"SELECT relatron_task('{name}', {named})").fetchall()[0][0]


def test_good_task_is_created(f1_con):
    call_task(f1_con, "driver-wins")
    n = f1_con.execute("SELECT COUNT(*) FROM relatron_task_rows('driver-wins')").fetchall()[0][0]
    assert n > 1000


CASES = [
    (dict(entity="'nope'"), "entity.*no table 'nope'.*'drivers'"),
    (dict(entity="'results; DROP TABLE races'"), "entity.*no table"),
    (dict(kind="'ranking'"), "kind.*'binary', 'multiclass', 'regression'"),
    (dict(horizon="INTERVAL 0 DAY"), "horizon.*positive"),
    (dict(horizon="-INTERVAL 3 DAY"), "horizon.*positive"),
    (dict(val_timestamp="'2011-01-01'"), "val_timestamp.*before test_timestamp"),
    (dict(val_timestamp="'2010-01-01'"), "val_timestamp.*before test_timestamp"),
    (dict(eval_windows="0"), "eval_windows.*at least 1"),
    (dict(label_sql="'SELECT 1'"), "label_sql.*returns 1 columns"),
    (dict(label_sql="'SELECT a.anchor_time, 1 AS d, ''x'' AS label FROM relatron_anchors a'"),
     "label_sql.*label column.*VARCHAR"),
    (dict(label_sql="'SELECT a.anchor_time, r.driverId, r.position AS label FROM "
                    "relatron_anchors a JOIN results r ON r.date > a.anchor_time AND "
                    "r.date <= a.window_end AND r.position > 3'", kind="'regression'"),
     "label_sql.*duplicated \\(anchor_time, entity\\) pairs"),
    (dict(label_sql="'DROP TABLE races'"), "label_sql.*single SELECT"),
    (dict(label_sql="'SELECT * FROM nowhere'"), "label_sql.*failed to run"),
    (dict(label_sql="'SELECT TIMESTAMP ''1999-01-01'', 1, 1'"), "label_sql.*anchor_time is not"),
    (dict(label_sql="'SELECT a.anchor_time, -5, 1 FROM relatron_anchors a'"),
     "label_sql.*not a drivers.driverId"),
    (dict(label_sql="'SELECT a.anchor_time, 1, 2 FROM relatron_anchors a'"),
     "label_sql.*binary labels must be 0 or 1"),
    # columns in the wrong order: the entity first
    (dict(label_sql="'SELECT r.driverId, a.anchor_time, 1 FROM relatron_anchors a "
                    "JOIN results r ON r.date > a.anchor_time AND r.date <= a.window_end'"),
     "label_sql.*first column 'driverId' has type BIGINT; it must be the anchor_time"),
    (dict(label_sql="'SELECT a.anchor_time, r.driverId, MAX(r.position) - 0.5 FROM "
                    "relatron_anchors a JOIN results r ON r.date > a.anchor_time AND "
                    "r.date <= a.window_end GROUP BY ALL'", kind="'multiclass'"),
     "label_sql.*multiclass labels must be class numbers"),
    (dict(label_sql="'SELECT a.anchor_time, r.driverId, -MIN(r.position) FROM "
                    "relatron_anchors a JOIN results r ON r.date > a.anchor_time AND "
                    "r.date <= a.window_end GROUP BY ALL'", kind="'multiclass'"),
     "label_sql.*multiclass labels must be class numbers"),
    (dict(entity="'standings'", val_timestamp="'1949-01-01'", test_timestamp="'1950-01-01'"),
     "val_timestamp.*leaves no train anchor"),
    (dict(test_timestamp="'2005-01-15'"), "val_timestamp.*leaves no val anchor"),
    (dict(test_timestamp="'2030-01-01'"), "test_timestamp.*leaves no test anchor"),
    (dict(label_sql="'SELECT FROM WHERE (('"), "label_sql.*does not parse"),
    (dict(label_sql="'SELECT ''unterminated'"), "label_sql.*does not parse"),
    (dict(label_sql="'SELECT 1; SELECT 2'"), "label_sql.*single SELECT"),
    (dict(label_sql="''"), "label_sql.*is empty"),
    (dict(label_sql="'   '"), "label_sql.*is empty"),
    (dict(label_sql="NULL"), "label_sql.*NULL"),
    (dict(label_sql="'SELECT CAST(NULL AS TIMESTAMP), 1, 1'"),
     "label_sql.*NULL anchor_time or entity id"),
    (dict(label_sql="'SELECT a.anchor_time, CAST(NULL AS INTEGER), 1 FROM relatron_anchors a'"),
     "label_sql.*NULL anchor_time or entity id"),
    (dict(label_sql="'SELECT a.anchor_time, 1, CAST(''inf'' AS DOUBLE) FROM relatron_anchors a'",
          kind="'regression'"), "label_sql.*infinite or NaN"),
    (dict(label_sql="'SELECT a.anchor_time, 1, CAST(''nan'' AS DOUBLE) FROM relatron_anchors a'",
          kind="'regression'"), "label_sql.*infinite or NaN"),
    (dict(label_sql="'SELECT a.anchor_time, 1, -1e39 FROM relatron_anchors a'",
          kind="'regression'"), "label_sql.*labels as large as 1e\\+39, beyond what the models' "
                                "32-bit floats hold"),
]


@pytest.mark.parametrize("override,match", CASES)
def test_bad_task_argument(f1_con, override, match):
    before = snapshot(f1_con)
    with pytest.raises(duckdb.Error, match=match):
        call_task(f1_con, **override)
    assert snapshot(f1_con) == before


@pytest.mark.parametrize("name", ["", "   "])
def test_empty_task_name(f1_con, name):
    before = snapshot(f1_con)
    with pytest.raises(duckdb.Error, match="name.*non-empty"):
        call_task(f1_con, name)
    assert snapshot(f1_con) == before


@pytest.mark.parametrize("end", [";", " ;\n", "; -- done", " -- note\n;", ";;"])
def test_label_sql_may_end_with_a_semicolon_or_comment(f1_con, end):
    label_sql = GOOD["label_sql"][:-1] + end + "'"
    counts = json.loads(call_task(f1_con, "wins", label_sql=label_sql))
    plain = json.loads(call_task(f1_con, "wins-plain"))
    assert counts == plain and counts["train"]["rows"] > 0
    stored = f1_con.execute("SELECT label_sql FROM relatron.tasks WHERE name = 'wins'"
                            ).fetchall()[0][0]
    assert stored.endswith("GROUP BY ALL")


def test_entity_without_primary_key(f1_con):
    f1_con.execute("CREATE TABLE nokey AS SELECT 1 AS id")
    before = snapshot(f1_con)
    with pytest.raises(duckdb.Error, match="entity.*no primary key"):
        call_task(f1_con, entity="'nokey'")
    assert snapshot(f1_con) == before


def test_entity_with_no_timed_table_linked_to_it(f1_con):
    f1_con.execute("CREATE TABLE teams AS SELECT range AS team_id FROM range(5)")
    f1_con.execute("SELECT relatron_declare('teams', primary_key := 'team_id')").fetchall()
    before = snapshot(f1_con)
    with pytest.raises(duckdb.Error, match="argument 'entity': no table linked to 'teams' has a "
                                           "time column; declare one"):
        call_task(f1_con, entity="'teams'", label_sql="'SELECT a.anchor_time, t.team_id, 1 "
                                                      "FROM relatron_anchors a, teams t'")
    assert snapshot(f1_con) == before


def test_existing_name_needs_replace(f1_con):
    before = snapshot(f1_con)
    with pytest.raises(duckdb.Error, match="name.*exists; pass replace := true"):
        call_task(f1_con, "driver-dnf")
    assert snapshot(f1_con) == before
    call_task(f1_con, "driver-dnf", replace="true")
    call_task(f1_con, "same-definition")
    rows = "SELECT split, anchor_time, entity_id, label FROM relatron_task_rows(?) ORDER BY ALL"
    # redefined with the new label query: its rows are exactly the new query's, old rows gone
    assert (f1_con.execute(rows, ["driver-dnf"]).fetchall()
            == f1_con.execute(rows, ["same-definition"]).fetchall())
    stored = f1_con.execute("SELECT label_sql FROM relatron.tasks WHERE name = 'driver-dnf'"
                            ).fetchall()[0][0]
    assert "MAX(r.position = 1)" in stored


def test_null_required_arguments(f1_con):
    before = snapshot(f1_con)
    with pytest.raises(duckdb.Error, match="entity.*required"):
        f1_con.execute("SELECT relatron_task('x', entity := NULL)").fetchall()
    with pytest.raises(duckdb.Error, match="val_timestamp.*required"):
        call_task(f1_con, val_timestamp="NULL")
    assert snapshot(f1_con) == before


def test_unknown_task_rows(f1_con):
    with pytest.raises(duckdb.Error, match="name.*no task 'nope'.*'driver-dnf'"):
        f1_con.execute("FROM relatron_task_rows('nope')").fetchall()


@pytest.mark.parametrize("sql,match", [
    ("SELECT relatron_declare('nope', primary_key := 'id')", "'table_name'.*no table 'nope'"),
    ("SELECT relatron_declare(NULL, primary_key := 'id')", "'table_name'.*NULL"),
    ("SELECT relatron_declare('races', primary_key := 'nope')", "primary_key.*no column 'nope'"),
    ("SELECT relatron_declare('races', time_column := 'nope')", "time_column.*no column 'nope'"),
    ("SELECT relatron_declare('races', time_column := 'name')", "time_column.*VARCHAR"),
    ("SELECT relatron_declare('races', foreign_keys := MAP {'circuitId': 'x; DROP TABLE races'})",
     "foreign_keys.*unknown table"),
    ("SELECT relatron_declare('races', foreign_keys := MAP {'nope': 'circuits'})",
     "foreign_keys.*no column 'nope'"),
])
def test_bad_declarations(f1_con, sql, match):
    before = snapshot(f1_con)
    with pytest.raises(duckdb.Error, match=match):
        f1_con.execute(sql).fetchall()
    assert snapshot(f1_con) == before


def test_declaration_is_used(f1_con):
    f1_con.execute("CREATE TABLE pits AS SELECT 1 AS pit_id, 18 AS raceId, "
                   "TIMESTAMP '2008-03-16' AS at")
    f1_con.execute("SELECT relatron_declare('pits', primary_key := 'pit_id', "
                   "foreign_keys := MAP {'raceId': 'races'}, time_column := 'at')").fetchall()
    roles = dict(f1_con.execute("SELECT column_name, role FROM relatron_schema() "
                                "WHERE table_name = 'pits'").fetchall())
    assert roles == {"pit_id": "pk", "raceId": "fk", "at": "time"}


def test_declaration_keeps_what_is_not_given(f1_con):
    f1_con.execute("CREATE TABLE pits AS SELECT 1 AS pit_id, 18 AS raceId, 4 AS driverId, "
                   "TIMESTAMP '2008-03-16' AS at")

    def roles():
        return dict(f1_con.execute("SELECT column_name, role FROM relatron_schema() "
                                   "WHERE table_name = 'pits'").fetchall())
    f1_con.execute("SELECT relatron_declare('pits', primary_key := 'pit_id', "
                   "foreign_keys := MAP {'raceId': 'races', 'driverId': 'drivers'})").fetchall()
    f1_con.execute("SELECT relatron_declare('pits', time_column := 'at')").fetchall()
    assert roles() == {"pit_id": "pk", "raceId": "fk", "driverId": "fk", "at": "time"}
    # foreign_keys given replaces the declared foreign keys as a whole
    f1_con.execute("SELECT relatron_declare('pits', foreign_keys := MAP {'raceId': 'races'})"
                   ).fetchall()
    assert roles() == {"pit_id": "pk", "raceId": "fk", "driverId": "feature", "at": "time"}
    f1_con.execute("SELECT relatron_declare('pits', primary_key := 'driverId')").fetchall()
    assert roles() == {"pit_id": "feature", "raceId": "fk", "driverId": "pk", "at": "time"}


@pytest.mark.parametrize("sql,match", [
    ("SELECT relatron_load('ergast_f1', '/nonexistent')", "path.*not a folder"),
    ("SELECT relatron_load('nope')", "dataset.*unknown dataset 'nope'.*'ergast_f1'"),
    ("SELECT relatron_load('ergast_f1')", "path.*needs the folder"),
])
def test_bad_loader_arguments(con, sql, match):
    before = snapshot(con)
    with pytest.raises(duckdb.Error, match=match):
        con.execute(sql).fetchall()
    assert snapshot(con) == before


def test_loader_path_missing_files(con, tmp_path):
    (tmp_path / "races.csv").write_text("raceId\n1\n")
    before = snapshot(con)
    with pytest.raises(duckdb.Error, match="path.*lacks .*results.csv"):
        con.execute("SELECT relatron_load('ergast_f1', ?)", [str(tmp_path)]).fetchall()
    with pytest.raises(duckdb.Error, match="path.*lacks .*users.parquet"):
        con.execute("SELECT relatron_load('stackexchange', ?)", [str(tmp_path)]).fetchall()
    assert snapshot(con) == before


def test_loader_does_not_clobber_without_replace(f1_con, f1_path):
    before = snapshot(f1_con)
    with pytest.raises(duckdb.Error, match="replace.*tables .*races.* exist"):
        f1_con.execute("SELECT relatron_load('ergast_f1', ?)", [str(f1_path)]).fetchall()
    assert snapshot(f1_con) == before

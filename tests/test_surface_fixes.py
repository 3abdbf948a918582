"""Errors and guarantees of the SQL surface: a loader never replaces a user's task unasked, a
statement over several rows writes nothing when one fails, a read-only file opens, training
options are checked, a bad data folder is named, and metrics JSON is strict (no NaN)."""
import json
import re

import duckdb
import pytest

import relatron_sql
from relatron_sql import models, registry
from relatron_sql.datasets import f1
from relatron_sql.testing import ACTIVE_SQL, make_database
from relatron_sql.udfs.base import as_json
from snapshot import snapshot

DATES = "val_timestamp := TIMESTAMP '2020-07-01', test_timestamp := TIMESTAMP '2020-10-01'"


@pytest.fixture
def small():
    """Tasks user-active (trained with the baseline, test predictions written) and user-spend."""
    con = relatron_sql.connect(":memory:")
    make_database(con, n_users=100)
    con.execute("SELECT relatron_train('user-active', family := 'baseline')").fetchall()
    con.execute("SELECT relatron_predict('user-active')").fetchall()
    yield con
    con.close()


# -- 1. a loader does not replace a user's task of the same name -----------------------------
def _users_task_named_driver_dnf():
    """A database whose user defined a task called like one of rel-f1's."""
    con = relatron_sql.connect(":memory:")
    make_database(con, n_users=100)
    con.execute(f"SELECT relatron_task('driver-dnf', entity := 'users', label_sql := ?, {DATES})",
                [ACTIVE_SQL]).fetchall()
    return con


def test_load_refuses_to_replace_a_users_task_of_the_same_name(f1_path):
    con = _users_task_named_driver_dnf()
    con.execute("SELECT relatron_train('driver-dnf', family := 'baseline')").fetchall()
    before = snapshot(con)
    with pytest.raises(duckdb.Error, match=r"argument 'replace': task 'driver-dnf' exists.*"
                                           r"pass replace := true"):
        con.execute("SELECT relatron_load('ergast_f1', ?)", [str(f1_path)]).fetchall()
    assert snapshot(con) == before
    assert con.execute("SELECT entity FROM relatron.tasks WHERE name = 'driver-dnf'"
                       ).fetchall() == [("users",)]
    assert con.execute("SELECT active FROM relatron.models WHERE name = 'driver-dnf'"
                       ).fetchall() == [(True,)]
    con.close()


def test_load_with_replace_redefines_the_users_task(f1_path):
    con = _users_task_named_driver_dnf()
    con.execute("SELECT relatron_load('ergast_f1', ?, replace := true)",
                [str(f1_path)]).fetchall()
    assert con.execute("SELECT entity FROM relatron.tasks WHERE name = 'driver-dnf'"
                       ).fetchall() == [("drivers",)]
    con.close()


# -- 6. a folder with the right names but the wrong contents names `path` -------------------
def test_load_folder_with_wrong_contents_names_path(con, tmp_path):
    for name in f1.FILES:
        (tmp_path / (name + ".csv")).write_text("a,b\n1,2\n")
    before = snapshot(con)
    with pytest.raises(duckdb.Error, match=r"argument 'path': '.*' does not hold the ergast_f1 "
                                           r"files: .*circuitId"):
        con.execute("SELECT relatron_load('ergast_f1', ?)", [str(tmp_path)]).fetchall()
    assert snapshot(con) == before
    assert con.execute("SELECT COUNT(*) FROM duckdb_tables() WHERE temporary").fetchall() == [(0,)]


# -- 2. a statement over several rows is all or nothing for predictions ---------------------
def test_predict_over_rows_writes_nothing_when_a_later_row_fails(small):
    small.execute("SELECT relatron_predict('user-active', "
                  "anchor_time := TIMESTAMP '2020-06-01')").fetchall()
    before = snapshot(small)
    predictions = small.execute("SELECT * FROM relatron.predictions ORDER BY ALL").fetchall()
    with pytest.raises(duckdb.Error, match="argument 'name': no task 'nope'"):
        small.execute("SELECT relatron_predict(name, split := 'val') "
                      "FROM (VALUES ('user-active'), ('nope')) t(name)").fetchall()
    with pytest.raises(duckdb.Error, match="argument 'name': task 'user-spend' has no trained"):
        small.execute("SELECT relatron_predict(name, anchor_time := TIMESTAMP '2020-08-01') "
                      "FROM (VALUES ('user-active'), ('user-spend')) t(name)").fetchall()
    assert small.execute("SELECT * FROM relatron.predictions ORDER BY ALL").fetchall() == \
        predictions
    assert snapshot(small) == before


def test_predict_over_rows_writes_every_row_when_all_succeed(small):
    small.execute("SELECT relatron_train('user-spend', family := 'baseline')").fetchall()
    rows = small.execute("SELECT name, relatron_predict(name, split := 'val') FROM "
                         "(VALUES ('user-active'), ('user-spend')) t(name) ORDER BY name"
                         ).fetchall()
    counts = dict(small.execute("SELECT name, COUNT(*) FROM relatron.predictions "
                                "WHERE split = 'val' GROUP BY name").fetchall())
    assert rows == [("user-active", counts["user-active"]), ("user-spend", counts["user-spend"])]
    assert all(n > 0 for n in counts.values())


def test_predict_in_python_still_writes_at_once(small):
    n = models.predict(small, "user-active", "val")
    assert small.execute("SELECT COUNT(*) FROM relatron.predictions WHERE split = 'val'"
                         ).fetchall() == [(n,)]
    commit = models.predict(small, "user-active", "train", defer=True)
    assert small.execute("SELECT COUNT(*) FROM relatron.predictions WHERE split = 'train'"
                         ).fetchall() == [(0,)]
    assert commit(small) > 0


# -- 3. a read-only file that holds the registry opens and can be read ----------------------
def test_connect_read_only_reads_the_registry(tmp_path):
    path = str(tmp_path / "ro.duckdb")
    con = relatron_sql.connect(path)
    make_database(con, n_users=100)
    con.execute("SELECT relatron_train('user-active', family := 'baseline')").fetchall()
    con.execute("SELECT relatron_predict('user-active')").fetchall()
    written = con.execute("FROM relatron_predictions('user-active')").fetchall()
    evaluated = json.loads(con.execute("SELECT relatron_evaluate('user-active')").fetchall()[0][0])
    con.close()

    ro = relatron_sql.connect(path, read_only=True)
    before = snapshot(ro)
    assert ro.execute("FROM relatron_predictions('user-active')").fetchall() == written
    assert json.loads(ro.execute("SELECT relatron_evaluate('user-active')").fetchall()[0][0]
                      ) == evaluated
    assert ro.execute("SELECT COUNT(*) FROM relatron_task_rows('user-active')"
                      ).fetchall()[0][0] > 0
    with pytest.raises(duckdb.Error, match="relatron_predict writes task "
                                           "'user-active''s predictions into relatron.predictions,"
                                           " and this database is open read-only"):
        ro.execute("SELECT relatron_predict('user-active')").fetchall()
    # the same training is reused; another one is refused before it searches
    assert json.loads(ro.execute("SELECT relatron_train('user-active', family := 'baseline')"
                                 ).fetchall()[0][0])["reused"] is True
    with pytest.raises(duckdb.Error, match="relatron_train registers a model of task "
                                           "'user-active' .* open read-only"):
        ro.execute("SELECT relatron_train('user-active', family := 'dfs', budget := 1)"
                   ).fetchall()
    # the writing functions say so first: not DuckDB's error at their first write, nor a
    # missing-files error for the loader
    for sql, phrase in (
            ("SELECT relatron_load('nycflights13')", "relatron_load creates the nycflights13 "
             "dataset's tables, and this database is open read-only"),
            ("SELECT relatron_declare('users', primary_key := 'user_id')", "relatron_declare "
             "records keys in relatron.declarations, and this database is open read-only"),
            ("SELECT relatron_task('t2', entity := 'users', label_sql := $$" + ACTIVE_SQL +
             "$$, " + DATES + ")", "relatron_task writes the task and its rows to the "
             "registry, and this database is open read-only")):
        with pytest.raises(duckdb.Error, match=phrase) as e:
            ro.execute(sql).fetchall()
        assert "Invalid Input Error: Cannot execute" not in str(e.value), sql
    assert snapshot(ro) == before
    ro.close()


def test_an_empty_bank_path_is_refused_not_read_as_the_shipped_bank():
    con = relatron_sql.connect(":memory:")
    make_database(con, n_users=60, days=300)
    decision = json.loads(con.execute("SELECT relatron_route('user-active', bank := '')"
                                      ).fetchall()[0][0])
    assert decision["family"] == "both" and decision["probability"] is None
    assert decision["reason"] == ("argument 'bank': is empty (NULL for the shipped bank); "
                                  "searching both families")


def test_an_error_suggests_a_call_a_user_can_paste():
    con = relatron_sql.connect(":memory:")
    make_database(con, n_users=60, days=300)
    con.execute("""CREATE TABLE "it's" AS SELECT 1 AS id""")
    suggested = re.escape("relatron_declare('it''s', primary_key := ...)")
    with pytest.raises(duckdb.Error, match=suggested):
        con.execute("SELECT relatron_declare('users', foreign_keys := MAP {'age': 'it''s'})"
                    ).fetchall()


def test_ensure_still_creates_the_registry_when_writable(tmp_path):
    path = str(tmp_path / "plain.duckdb")
    duckdb.connect(path).close()
    con = relatron_sql.connect(path)
    assert not registry.is_read_only(con)
    assert con.execute("SELECT COUNT(*) FROM duckdb_tables() WHERE schema_name = 'relatron'"
                       ).fetchall()[0][0] >= 9
    con.close()


# -- 4, 5. training options: seed, time_budget, budget --------------------------------------
@pytest.mark.parametrize("sql, argument, phrase", [
    ("SELECT relatron_train('user-spend', family := 'baseline', seed := -1)", "seed",
     "must be from 0 to 2,147,483,647"),
    ("SELECT relatron_train('user-spend', family := 'baseline', time_budget := 'nan'::DOUBLE)",
     "time_budget", "got nan"),
    ("SELECT relatron_train('user-spend', family := 'baseline', time_budget := 'inf'::DOUBLE)",
     "time_budget", "finite"),
    ("SELECT relatron_train('user-spend', family := 'baseline', time_budget := -2.5)",
     "time_budget", "positive"),
])
def test_bad_training_options_name_the_argument(small, sql, argument, phrase):
    before = snapshot(small)
    with pytest.raises(duckdb.Error, match=f"argument '{argument}': .*{phrase}"):
        small.execute(sql).fetchall()
    assert snapshot(small) == before


def test_nan_budget_from_python_names_budget(small):
    with pytest.raises(ValueError, match="argument 'budget'"):
        models.train(small, "user-spend", family="baseline", budget=float("nan"))


def test_seed_zero_and_positive_still_train(small):
    out = json.loads(small.execute("SELECT relatron_train('user-spend', family := 'baseline', "
                                   "seed := 7)").fetchall()[0][0])
    assert out["version"] == 1
    assert small.execute("SELECT seed FROM relatron.models WHERE name = 'user-spend'"
                         ).fetchall() == [(7,)]


# -- 7. metrics JSON is strict: NaN and infinities are null ---------------------------------
def _strict(text: str):
    def refuse(constant):
        raise AssertionError(f"not strict JSON: {constant}")
    return json.loads(text, parse_constant=refuse)


def test_metrics_json_writes_nan_as_null():
    con = relatron_sql.connect(":memory:")
    make_database(con, n_users=100)
    # every test label is 1: test AUROC and the baseline's are undefined
    one_class = ACTIVE_SQL.replace("AS INTEGER) AS label",
                                   "AS INTEGER) | CAST(a.split = 'test' AS INTEGER) AS label")
    assert one_class != ACTIVE_SQL
    con.execute(f"SELECT relatron_task('one-class', entity := 'users', label_sql := ?, {DATES})",
                [one_class]).fetchall()
    trained = _strict(con.execute("SELECT relatron_train('one-class', family := 'baseline')"
                                  ).fetchall()[0][0])
    assert trained["test"]["auroc"] is None and trained["val"]["auroc"] is not None
    stored = _strict(con.execute("SELECT metrics FROM relatron.models WHERE name = 'one-class'"
                                 ).fetchall()[0][0])
    assert stored["test"]["auroc"] is None and stored["test"]["rows"] > 0
    evaluated = _strict(con.execute("SELECT relatron_evaluate('one-class')").fetchall()[0][0])
    assert evaluated["metrics"]["auroc"] is None
    assert evaluated["baseline"]["auroc"] is None
    # the same call again reuses the stored model, whose metrics now hold null
    again = _strict(con.execute("SELECT relatron_train('one-class', family := 'baseline')"
                                ).fetchall()[0][0])
    assert again.get("reused") and again["test"]["auroc"] is None
    con.close()


def test_json_helpers_turn_nan_and_infinities_into_null():
    import numpy as np
    value = {"a": float("nan"), "b": [float("inf"), -np.inf, np.float32(0.5)],
             "c": (np.float64("nan"), 1, "x"), "d": 0.25, "e": None}
    for text in (registry.to_json(value), as_json(value)):
        assert _strict(text) == {"a": None, "b": [None, None, 0.5], "c": [None, 1, "x"],
                                 "d": 0.25, "e": None}


# -- 6. fresh predictions score the entities that exist at their anchor time -----------------
def _fresh(con, anchor: str) -> set:
    con.execute(f"SELECT relatron_predict('user-active', anchor_time := TIMESTAMP '{anchor}')"
                ).fetchall()
    return {r[0] for r in con.execute(
        "SELECT entity_id FROM relatron_predictions('user-active') WHERE anchor_time = "
        f"TIMESTAMP '{anchor}'").fetchall()}


def test_fresh_predictions_leave_out_entities_created_after_the_anchor(small):
    signed_up = {r[0] for r in small.execute(
        "SELECT CAST(user_id AS VARCHAR) FROM users WHERE signup <= TIMESTAMP '2020-02-15'"
    ).fetchall()}
    assert 0 < len(signed_up) < small.execute("SELECT COUNT(*) FROM users").fetchall()[0][0]
    assert _fresh(small, "2020-02-15") == signed_up
    # a user whose signup is unknown never exists, as no feature ever sees its row
    small.execute("UPDATE users SET signup = NULL WHERE user_id = 0")
    later = _fresh(small, "2021-06-01")
    assert "0" not in later and len(later) == small.execute(
        "SELECT COUNT(*) - 1 FROM users").fetchall()[0][0]


def test_fresh_predictions_before_any_entity_exists_name_anchor_time(small):
    before = snapshot(small)
    with pytest.raises(duckdb.Error, match=r"argument 'anchor_time': no users row exists at "
                                           r"1900-01-01 00:00:00 \(the earliest signup is 2020-"):
        small.execute("SELECT relatron_predict('user-active', "
                      "anchor_time := TIMESTAMP '1900-01-01')").fetchall()
    assert snapshot(small) == before


def test_fresh_predictions_of_a_static_entity_table_cover_every_row():
    con = relatron_sql.connect(":memory:")
    make_database(con, n_users=100, tasks=False)
    label = ("SELECT a.anchor_time, g.group_id, CAST(EXISTS (SELECT 1 FROM orders o JOIN users u "
             "USING (user_id) WHERE u.group_id = g.group_id AND o.time > a.anchor_time AND "
             "o.time <= a.window_end AND o.amount > 60) AS INTEGER) FROM relatron_anchors a, "
             "groups g")
    con.execute(f"SELECT relatron_task('group-big', entity := 'groups', label_sql := ?, {DATES})",
                [label]).fetchall()
    con.execute("SELECT relatron_train('group-big', family := 'baseline')").fetchall()
    assert con.execute("SELECT relatron_predict('group-big', anchor_time := "
                       "TIMESTAMP '1900-01-01')").fetchall() == \
        con.execute("SELECT COUNT(*) FROM groups").fetchall()
    con.close()


# -- 7. a task whose entity table was dropped or renamed its key says so ---------------------
CALLS = ["SELECT relatron_train('user-active', family := 'baseline', retrain := true)",
         "SELECT relatron_route('user-active')",
         "SELECT relatron_predict('user-active')",
         "SELECT relatron_evaluate('user-active')",
         "SELECT relatron_features_sql('user-active')"]


@pytest.mark.parametrize("change, phrase", [
    ("DROP TABLE orders; DROP TABLE users",
     "task 'user-active' predicts rows of table 'users', which no longer exists"),
    ("ALTER TABLE users RENAME COLUMN user_id TO uid",
     "task 'user-active' identifies users rows by column 'user_id', which the table no longer"),
])
def test_a_task_whose_entity_table_changed_names_it(small, change, phrase):
    small.execute(change)
    before = snapshot(small)
    for call in CALLS:
        with pytest.raises(duckdb.Error, match=f"argument 'name': {phrase}"):
            small.execute(call).fetchall()
        assert snapshot(small) == before
    # what needs no data still reads
    assert small.execute("SELECT COUNT(*) FROM relatron_predictions('user-active')"
                         ).fetchall()[0][0] > 0


# -- 8. a family whose libraries are missing is named as such -------------------------------
def test_a_family_whose_module_is_missing(small, monkeypatch):
    from relatron_sql import families

    def missing(module):
        raise ModuleNotFoundError(f"No module named 'torch' (needed by {module})")
    monkeypatch.setattr(families.importlib, "import_module", missing)
    before = snapshot(small)
    with pytest.raises(duckdb.Error, match=r"argument 'family': 'rdl' is not available "
                                           r"\(No module named 'torch'"):
        small.execute("SELECT relatron_train('user-active', family := 'rdl')").fetchall()
    # a stored model of a family that cannot load here names the task, not a family argument
    for call in ("SELECT relatron_predict('user-active')",
                 "SELECT relatron_evaluate('user-active')"):
        with pytest.raises(duckdb.Error, match=r"argument 'name': the model of task 'user-active' "
                                               r"\(version 1\) is a baseline model, and baseline "
                                               r"is not available here \(No module named"):
            small.execute(call).fetchall()
    assert snapshot(small) == before
    # explaining reads the registry only: it does not raise
    small.execute("FROM relatron_explain('user-active')").fetchall()
    # a family this version does not know at all
    small.execute("UPDATE relatron.models SET family = 'forest' WHERE name = 'user-active'")
    with pytest.raises(duckdb.Error, match=r"is a forest model, and forest is not available here "
                                           r"\(this version does not know it\); install it"):
        small.execute("SELECT relatron_predict('user-active')").fetchall()


# -- 9. one statement that names a task on several rows registers each ------------------------
def test_one_statement_registers_a_task_named_on_several_rows(small):
    versions = ("SELECT version, seed, active FROM relatron.models WHERE name = 'user-spend' "
                "ORDER BY version")
    out = small.execute("SELECT relatron_train('user-spend', family := 'baseline', seed := s) "
                        "FROM (VALUES (1), (2)) t(s)").fetchall()
    assert sorted(json.loads(r[0])["version"] for r in out) == [1, 2]
    stored = small.execute(versions).fetchall()
    assert [v for v, _, _ in stored] == [1, 2] and [a for _, _, a in stored] == [False, True]
    assert {s for _, s, _ in stored} == {1, 2}


def test_one_statement_writes_two_splits_of_a_task(small):
    out = small.execute("SELECT relatron_predict('user-active', split := s) FROM (VALUES "
                        "('val'), ('test')) t(s)").fetchall()
    written = dict(small.execute("SELECT split, COUNT(*) FROM relatron.predictions WHERE name = "
                                 "'user-active' GROUP BY split").fetchall())
    rows = dict(small.execute("SELECT split, COUNT(*) FROM relatron.task_rows WHERE task = "
                              "'user-active' AND split IN ('val', 'test') GROUP BY split"
                              ).fetchall())
    assert written == rows and sorted(r[0] for r in out) == sorted(rows.values())


def test_a_failing_commit_reports_its_own_error():
    con = relatron_sql.connect(":memory:")
    con.execute("CREATE TABLE k (id INTEGER PRIMARY KEY)")
    con.execute("INSERT INTO k VALUES (1)")
    other = con.cursor()
    other.begin()
    other.execute("INSERT INTO k VALUES (2)")
    with pytest.raises(duckdb.Error, match="PRIMARY KEY or UNIQUE constraint"):
        with registry.transaction(con) as cur:
            cur.execute("INSERT INTO k VALUES (2)")
            other.commit()   # the same key committed first: this transaction's commit fails
    assert con.execute("SELECT COUNT(*) FROM k").fetchall() == [(2,)]
    con.close()

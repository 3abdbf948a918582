"""Bad input from SQL gives one clear error line in the shell, never a traceback, and leaves
the database as it was."""
import datetime as dt
import io
import subprocess
import sys

import pytest

import relatron_sql
from relatron_sql import models
from relatron_sql.shell import Shell, error_line
from relatron_sql.task import create_task
from relatron_sql.testing import ACTIVE_SQL, START, make_database

REGISTRY = ("tasks", "task_rows", "models", "artifacts", "trials", "features", "predictions",
            "bank", "declarations")


def _snapshot(con) -> dict:
    out = {}
    for table in REGISTRY:
        out[table] = con.execute("SELECT COUNT(*), COALESCE(SUM(hash(t)), 0) FROM relatron." +
                                 table + " AS t").fetchall()[0]
    out["tables"] = con.execute("SELECT table_name, estimated_size FROM duckdb_tables() "
                                "WHERE schema_name = 'main' ORDER BY 1").fetchall()
    return out


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    """Tasks user-active (trained, with test predictions) and user-spend (never trained);
    no-train (no train rows), constant (binary, every label 0) and flat (regression, every
    label 1), none of them trainable."""
    path = tmp_path_factory.mktemp("errors") / "e.duckdb"
    con = relatron_sql.connect(str(path))
    make_database(con, n_users=60, days=300)
    models.train(con, "user-active", family="baseline")
    models.predict(con, "user-active", "test")
    every_user = ("SELECT a.anchor_time, u.user_id, {} AS label FROM relatron_anchors a "
                  "JOIN users u ON u.signup <= a.anchor_time")
    for name, kind, sql in (("no-train", "binary", ACTIVE_SQL + " AND a.split <> 'train'"),
                            ("constant", "binary", every_user.format(0)),
                            ("flat", "regression", every_user.format(1))):
        create_task(con, name, "users", sql, kind=kind, val_timestamp=START + dt.timedelta(180),
                    test_timestamp=START + dt.timedelta(240))
    con.close()
    return path


@pytest.fixture
def shell(database):
    con = relatron_sql.connect(str(database))
    out, err = io.StringIO(), io.StringIO()
    yield Shell(con, out=out, err=err, progress=False), con, out, err
    con.close()


# (SQL, the argument the message must name, a phrase it must contain)
CASES = [
    # wrong types
    ("SELECT relatron_train(42);", "name", "expected VARCHAR"),
    ("SELECT relatron_predict('user-active', split := 3);", "split", "expected VARCHAR"),
    ("SELECT relatron_task('t', entity := 'users', horizon := 5);", "horizon",
     "expected INTERVAL"),
    ("SELECT relatron_train('user-active', budget := 'many');", "budget",
     "'many' cannot be read as BIGINT"),
    ("SELECT relatron_train('user-active', budget := -1);", "budget", "positive"),
    ("SELECT relatron_train('user-active', time_budget := 0);", "time_budget", "positive"),
    ("SELECT relatron_train('user-active', budget := 2.5);", "budget",
     "expected BIGINT, got DECIMAL(2,1)"),
    ("SELECT relatron_task('t', entity := 'users', val_timestamp := TIMESTAMP '2020-06-01', "
     "test_timestamp := TIMESTAMP '2020-09-01', label_sql := 'SELECT 1', "
     "eval_windows := 3000000000);", "eval_windows", "must be at most 2,147,483,647"),
    ("SELECT relatron_train('user-active', seed := 99999999999);", "seed",
     "must be from 0 to 2,147,483,647"),
    ("SELECT relatron_train('user-active', seed := 99999999999999999999999);", "seed",
     "99999999999999999999999 is out of range for BIGINT"),
    ("SELECT relatron_train('user-active', seed := (SELECT 1.5::DOUBLE));", "seed",
     "expected BIGINT, got DOUBLE; cast it"),
    # NULL arguments
    ("SELECT relatron_train(NULL);", "name", "NULL"),
    ("SELECT relatron_predict(NULL);", "name", "NULL"),
    ("SELECT relatron_evaluate('user-active', split := NULL);", "split", "NULL"),
    ("SELECT relatron_predict('user-active', split := NULL);", "split",
     "is NULL; give a split or an anchor_time"),
    ("FROM relatron_explain(NULL);", "name", "NULL"),
    ("SELECT relatron_task(NULL, entity := 'users');", "name", "NULL"),
    ("SELECT relatron_train('user-active', family := NULL);", "family", "NULL"),
    # unknown task, model, family, split, device
    ("SELECT relatron_train('nope');", "name", "no task 'nope'"),
    ("SELECT relatron_predict('nope');", "name", "no task 'nope'"),
    ("FROM relatron_predictions('nope');", "name", "no task 'nope'"),
    ("FROM relatron_task_rows('nope');", "name", "no task 'nope'"),
    ("SELECT relatron_evaluate('nope');", "name", "no task 'nope'"),
    ("SELECT relatron_train('user-active', family := 'forest');", "family", "unknown family"),
    ("SELECT relatron_predict('user-active', split := 'holdout');", "split", "unknown split"),
    ("SELECT relatron_predict('user-active', split := 'holdout', "
     "anchor_time := TIMESTAMP '2020-06-01');", "split", "unknown split"),
    ("SELECT relatron_evaluate('user-active', split := 'holdout');", "split", "unknown split"),
    ("SELECT relatron_train('user-active', device := 'tpu');", "device", "unknown device"),
    ("SELECT relatron_route('nope');", "name", "no task 'nope'"),
    ("SELECT relatron_route(NULL);", "name", "NULL"),
    ("SELECT relatron_features_sql('nope');", "name", "no task 'nope'"),
    ("SELECT relatron_features_sql('user-active', dialect := NULL);", "dialect", "NULL"),
    ("SELECT relatron_features_sql('user-active', dialect := 'oracle');", "dialect",
     "unknown dialect"),
    # tasks with nothing to learn, whatever the family
    ("SELECT relatron_train('no-train', family := 'baseline');", "name", "has no train rows"),
    ("SELECT relatron_train('constant');", "name", "a single label value"),
    ("SELECT relatron_train('constant', family := 'baseline');", "name", "a single label value"),
    ("SELECT relatron_train('constant', family := 'dfs');", "name", "a single label value"),
    ("SELECT relatron_train('constant', family := 'rdl');", "name", "a single label value"),
    ("SELECT relatron_train('flat', family := 'baseline');", "name", "constant labels"),
    ("SELECT relatron_train('flat');", "name", "constant labels"),
    # predict (or evaluate, explain) before train
    ("SELECT relatron_predict('user-spend');", "name", "no trained model"),
    ("SELECT relatron_evaluate('user-spend');", "name", "no trained model"),
    ("FROM relatron_explain('user-spend');", "name", "no trained model"),
]


@pytest.mark.parametrize("sql, argument, phrase", CASES, ids=[c[0][:50] for c in CASES])
def test_bad_input_is_one_clear_line(shell, sql, argument, phrase):
    sh, con, out, err = shell
    before = _snapshot(con)
    sh.feed([sql])
    lines = err.getvalue().splitlines()
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith("Error: ") and f"'{argument}'" in line and phrase in line, line
    for noise in ("Traceback", "Python exception", "_udf", "Exception:", "TaskError",
                  "TrainError", "Invalid Input Error"):
        assert noise not in line, line
    assert out.getvalue() == ""
    assert sh.errors == 1
    assert _snapshot(con) == before


def test_shell_goes_on_after_an_error(shell):
    sh, con, out, err = shell
    sh.feed(["SELECT relatron_train('nope');", "SELECT 41 + 1 AS answer;"])
    assert len(err.getvalue().splitlines()) == 1
    assert "42" in out.getvalue() and "answer" in out.getvalue()


def test_error_line_strips_prefixes_and_class_names():
    class Fake(Exception):
        pass
    raw = Fake("Invalid Input Error: Python exception occurred while executing the UDF: "
               "TrainError: argument 'name': task 'x' has no trained model yet")
    assert error_line(raw) == "Error: argument 'name': task 'x' has no trained model yet"
    multi = Fake("Conversion Error: Could not convert string 'x' to INT32\n\nLINE 1: SELECT "
                 "relatron_train('t', seed := 'x')\n" + " " * 43 + "^")
    assert error_line(multi) == "Error: argument 'seed': Could not convert string 'x' to INT32"
    assert error_line(KeyboardInterrupt()).startswith("Error: interrupted")


def test_cli_error_exit_code_and_single_line(database, tmp_path):
    import shutil
    copy = tmp_path / "c.duckdb"
    shutil.copy(database, copy)
    run = subprocess.run([sys.executable, "-m", "relatron_sql.cli", "sql", str(copy), "-c",
                          "SELECT relatron_predict('user-spend');"], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        "Error: argument 'name': task 'user-spend' has no trained model yet; run "
        "relatron_train('user-spend') first"]
    assert run.stdout == ""

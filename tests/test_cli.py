"""The `relatron` command: sql, demo, report; new files readable by DuckDB 1.x by default."""
import csv
import io
import json
import subprocess
import sys

import duckdb
import pytest

import relatron_sql
from relatron_sql import cli, families, models
from relatron_sql.errors import TrainError
from relatron_sql.task import load_task
from relatron_sql.task import create_task
from relatron_sql.testing import ACTIVE_SQL, make_database

RELATRON = [sys.executable, "-m", "relatron_sql.cli"]


def _run(*args, stdin=None, timeout=300):
    return subprocess.run(RELATRON + [str(a) for a in args], input=stdin, capture_output=True,
                          text=True, timeout=timeout)


def _storage(path) -> str:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("SELECT tags['storage_version'] FROM duckdb_databases() WHERE "
                           "database_name = current_database()").fetchall()[0][0]
    finally:
        con.close()


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "g.duckdb"
    con = relatron_sql.connect(str(path))
    make_database(con, n_users=60, days=300)
    con.close()
    return path


def test_sql_prints_tables_csv_and_reads_files(generated, tmp_path):
    run = _run("sql", generated, "-c", "SELECT COUNT(*) AS n FROM users; SELECT 'x' AS k;")
    assert run.returncode == 0, run.stderr
    assert " 60 │" in run.stdout
    assert run.stdout.count("┌") == 2 and "1 row" in run.stdout
    run = _run("sql", generated, "--csv", "-c",
               "SELECT user_id, age FROM users ORDER BY user_id LIMIT 3")
    rows = list(csv.reader(io.StringIO(run.stdout)))
    con = duckdb.connect(str(generated), read_only=True)
    expected = con.execute("SELECT user_id, age FROM users ORDER BY user_id LIMIT 3").fetchall()
    con.close()
    assert rows[0] == ["user_id", "age"]
    assert [(int(a), int(b)) for a, b in rows[1:]] == expected
    script = tmp_path / "q.sql"
    script.write_text("-- tasks\nSELECT name\nFROM relatron.tasks\nORDER BY name;\n")
    run = _run("sql", generated, "-f", script, "--mode", "list")
    assert run.stdout.split() == ["name", "user-active", "user-spend"]
    run = _run("sql", generated, "--csv", stdin="SELECT 1 AS one;")
    assert run.stdout.split() == ["one", "1"]


def test_sql_names_the_file_flag_and_creates_no_database(tmp_path):
    run = _run("sql", tmp_path / "new.duckdb", "-f", tmp_path / "missing.sql")
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [f"Error: -f: no such file: {tmp_path}/missing.sql"]
    run = _run("sql", tmp_path / "new.duckdb", "-c", "SELECT 1", "-f", tmp_path)
    assert run.returncode == 1 and run.stderr.startswith(f"Error: -f: cannot read {tmp_path}:")
    assert not (tmp_path / "new.duckdb").exists()


def test_sql_runs_commands_and_files_in_order_and_stops_at_the_first_error(tmp_path):
    db = tmp_path / "o.duckdb"
    make = tmp_path / "make.sql"
    make.write_text("CREATE TABLE t AS SELECT 7 AS v;\n")
    run = _run("sql", db, "-f", make, "-c", "SELECT v FROM t", "--mode", "list")
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["v", "7"]
    # an error mid-file stops the statements after it, in that file and those after it
    script = tmp_path / "bad.sql"
    script.write_text("CREATE TABLE a AS SELECT 1 AS x;\nSELECT * FROM missing_table;\n"
                      "CREATE TABLE b AS SELECT 2 AS x;\n")
    run = _run("sql", db, "-f", script, "-c", "CREATE TABLE c AS SELECT 3 AS x")
    assert run.returncode == 1 and "missing_table" in run.stderr
    con = duckdb.connect(str(db), read_only=True)
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    con.close()
    assert "a" in tables and not tables & {"b", "c"}
    run = _run("sql", db, "--csv", "--mode", "json", "-c", "SELECT 1")
    assert run.returncode == 2 and "--mode: not allowed with argument --csv" in run.stderr


def test_new_databases_are_readable_by_duckdb_1_unless_told(tmp_path):
    assert _run("sql", tmp_path / "a.duckdb", "-c", "SELECT 1").returncode == 0
    assert _storage(tmp_path / "a.duckdb").startswith("v1.4")
    assert _run("sql", tmp_path / "b.duckdb", "--latest-storage", "-c",
                "SELECT 1").returncode == 0
    assert _storage(tmp_path / "b.duckdb").startswith("v2")


def test_demo_end_to_end(tmp_path):
    db = tmp_path / "demo.duckdb"
    run = _run("demo", "--db", db, "--family", "baseline", timeout=600)
    assert run.returncode == 0, run.stderr
    assert _storage(db).startswith("v1.4")
    con = relatron_sql.connect(str(db))
    try:
        for name in ("plane-delay", "plane-flights"):
            row = next(line for line in run.stdout.splitlines() if line.startswith(f"│ {name} "))
            cells = [c.strip() for c in row.strip("│").split("│")]
            task, family, why, metric, val, test, baseline, seconds = cells
            stored = json.loads(con.execute("SELECT metrics FROM relatron.models WHERE name = ?"
                                            " AND active", [name]).fetchall()[0][0])
            evaluation = models.evaluate(con, name, "test")
            assert family == "baseline" and metric == stored["metric"]
            assert float(val) == pytest.approx(stored["val"][metric], abs=1e-4)
            assert float(test) == pytest.approx(stored["test"][metric], abs=1e-4)
            assert float(baseline) == pytest.approx(evaluation["baseline"][metric], abs=1e-4)
            assert float(seconds) > 0
            predictions = con.execute("SELECT COUNT(*) FROM relatron.predictions WHERE name = ?"
                                      " AND split = 'test'", [name]).fetchall()[0][0]
            assert predictions == load_task(con, name).counts["test"]["rows"]
    finally:
        con.close()


def test_demo_f1(tmp_path, f1_path):
    db = tmp_path / "f1.duckdb"
    run = _run("demo", "--dataset", "f1", "--data", f1_path, "--db", db, "--family",
               "baseline", "--tasks", "driver-top3", timeout=600)
    assert run.returncode == 0, run.stderr
    assert "driver-top3" in run.stdout and "driver-dnf" not in run.stdout


def test_demo_argument_errors(tmp_path):
    db = tmp_path / "x.duckdb"
    run = _run("demo", "--dataset", "f1", "--db", db)
    assert run.returncode == 2 and "--data" in run.stderr and "Traceback" not in run.stderr
    run = _run("demo", "--dataset", "f1", "--data", tmp_path / "nonexistent", "--db", db)
    assert run.returncode == 2
    assert run.stderr.strip() == f"Error: --data: no such folder: {tmp_path}/nonexistent"
    (tmp_path / "file.csv").write_text("a\n1\n")
    run = _run("demo", "--data", tmp_path / "file.csv", "--db", db)
    assert run.returncode == 2
    assert run.stderr.strip() == f"Error: --data: not a folder: {tmp_path}/file.csv"
    run = _run("demo", "--db", db, "--family", "baseline", "--tasks", "nope")
    assert run.returncode == 1 and run.stderr.strip().splitlines()[-1].startswith(
        "Error: argument 'tasks': unknown task(s) nope")
    assert not db.exists()


@pytest.mark.parametrize("flag, value, message", [
    ("--family", "forest", "argument --family: invalid choice: 'forest' (choose from 'auto', "
                           "'baseline', 'dfs', 'rdl')"),
    ("--budget", "0", "argument --budget: must be a positive number of trials, got '0'"),
    ("--budget", "two", "argument --budget: must be a positive number of trials, got 'two'"),
    ("--time-budget", "0", "argument --time-budget: must be positive, finite seconds, got '0'"),
    ("--time-budget", "nan", "argument --time-budget: must be positive, finite seconds, got "
                             "'nan'"),
])
def test_demo_checks_its_flags_before_loading(tmp_path, capsys, monkeypatch, flag, value,
                                              message):
    def load(*args, **kwargs):
        raise AssertionError("loaded before the flags were checked")
    monkeypatch.setattr(relatron_sql, "load", load)
    db = tmp_path / "x.duckdb"
    with pytest.raises(SystemExit) as stopped:
        cli.main(["demo", "--db", str(db), flag, value])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(message)
    assert not db.exists()


def test_demo_with_a_corrupt_archive_says_so_in_one_line(tmp_path):
    import shutil
    from relatron_sql.datasets import nycflights
    data = tmp_path / "data"
    data.mkdir()
    for name in nycflights.FILES[1:]:
        shutil.copy(nycflights.default_path() / name, data / name)
    (data / "flights.csv.zip").write_text("not a zip archive")
    db = tmp_path / "demo.duckdb"
    run = _run("demo", "--data", data, "--db", db, "--family", "baseline")
    assert run.returncode == 1 and "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and errors[0].startswith("Error: --data: "), run.stderr
    assert not db.exists()


def test_report_command(generated, tmp_path):
    import shutil
    db = tmp_path / "r.duckdb"
    shutil.copy(generated, db)
    con = relatron_sql.connect(str(db))
    models.train(con, "user-active", family="baseline")
    con.close()
    out = tmp_path / "report.html"
    run = _run("report", db, "user-active", "--out", out)
    assert run.returncode == 0, run.stderr
    assert 'id="calibration"' in out.read_text()
    run = _run("report", db, "user-spend", "--out", tmp_path / "no.html")
    assert run.returncode == 1 and "no trained model" in run.stderr
    assert not (tmp_path / "no.html").exists()
    run = _run("report", db, "user-active", "--out", tmp_path / "nodir" / "x.html")
    assert run.returncode == 1 and run.stderr.strip().splitlines() == [
        f"Error: --out: cannot write {tmp_path}/nodir/x.html: No such file or directory"]
    run = _run("report", tmp_path / "missing.duckdb", "user-active")
    assert run.returncode == 1 and "'database'" in run.stderr
    assert not (tmp_path / "missing.duckdb").exists()


def test_report_only_reads_and_names_its_default_file_safely(generated, tmp_path):
    import hashlib
    import shutil
    db = tmp_path / "r.duckdb"
    shutil.copy(generated, db)
    con = relatron_sql.connect(str(db))
    task = load_task(con, "user-active")
    create_task(con, "ops/active", "users", ACTIVE_SQL, kind="binary", horizon=task.horizon,
                val_timestamp=task.val_timestamp, test_timestamp=task.test_timestamp)
    con.close()
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    run = subprocess.run(RELATRON + ["report", str(db), "ops/active"], capture_output=True,
                         text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 1 and "no trained model" in run.stderr
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    con = relatron_sql.connect(str(db))
    models.train(con, "ops/active", family="baseline")
    con.close()
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    run = subprocess.run(RELATRON + ["report", str(db), "ops/active"], capture_output=True,
                         text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "report-ops_active.html").exists() and not (tmp_path / "report-ops").exists()
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    # a plain DuckDB file gets no registry from a report
    plain = tmp_path / "plain.duckdb"
    duckdb.connect(str(plain)).close()
    before = hashlib.sha256(plain.read_bytes()).hexdigest()
    run = _run("report", plain, "x", "--out", tmp_path / "x.html")
    assert run.returncode == 1 and "'name'" in run.stderr
    assert hashlib.sha256(plain.read_bytes()).hexdigest() == before


# -- choosing a family when some are not installed ----------------------------------------
@pytest.fixture
def task(con):
    make_database(con, n_users=40, days=300)
    return load_task(con, "user-active")


def _without(monkeypatch, *missing):
    original = families.get

    def get(name):
        if name in missing:
            raise TrainError(f"argument 'family': {name!r} is not available (test)")
        return original(name)
    monkeypatch.setattr(families, "get", get)


def test_auto_falls_back_to_the_baseline_when_nothing_else_is_installed(con, task,
                                                                         monkeypatch):
    _without(monkeypatch, "dfs", "rdl")
    chosen, decision = models.choose_family(con, task, "auto")
    assert chosen == "baseline" and "neither dfs nor rdl" in decision["reason"]
    result = models.train(con, "user-active")
    assert result["family"] == "baseline" and result["route"]["reason"] == decision["reason"]


def test_auto_skips_a_routed_family_that_is_not_installed(con, task, monkeypatch):
    import types
    _without(monkeypatch, "rdl")
    try:
        families.get("dfs")
    except TrainError:
        pytest.skip("the dfs family is not installed here")
    fake = types.SimpleNamespace(route=lambda con, name: {"family": "rdl", "probability": 0.9})
    monkeypatch.setitem(sys.modules, "relatron_sql.route.router", fake)
    import relatron_sql.route as route_pkg
    monkeypatch.setattr(route_pkg, "router", fake, raising=False)
    chosen, decision = models.choose_family(con, task, "auto")
    assert chosen == "dfs" and decision["routed_family"] == "rdl"
    assert "rdl is not installed" in decision["reason"]


def test_main_returns_one_line_errors(generated, capsys):
    assert cli.main(["sql", str(generated) + ".missing/x.duckdb", "-c", "SELECT 1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Error: ")


@pytest.mark.slow
def test_demo_with_routing_runs_end_to_end(tmp_path):
    """The README's first command as it runs by default (family auto, routed); its time is
    measured by benchmarks/bench_demo.py."""
    db = tmp_path / "demo.duckdb"
    run = _run("demo", "--db", db, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    for name in ("plane-delay", "plane-flights"):
        assert f"│ {name} " in run.stdout

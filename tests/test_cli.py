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
from relatron_sql.testing import make_database

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
    run = _run("demo", "--dataset", "f1", "--db", tmp_path / "x.duckdb")
    assert run.returncode == 2 and "'data'" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "x.duckdb").exists()
    run = _run("demo", "--db", tmp_path / "y.duckdb", "--family", "baseline", "--tasks", "nope")
    assert run.returncode == 1 and run.stderr.strip().splitlines()[-1].startswith(
        "Error: argument 'tasks': unknown task(s) nope")


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
    run = _run("report", tmp_path / "missing.duckdb", "user-active")
    assert run.returncode == 1 and "'database'" in run.stderr
    assert not (tmp_path / "missing.duckdb").exists()


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
def test_demo_with_routing_ends_within_five_minutes(tmp_path):
    """The README's first command as it runs by default (family auto, routed)."""
    import time
    db = tmp_path / "demo.duckdb"
    started = time.perf_counter()
    run = _run("demo", "--db", db, timeout=900)
    seconds = time.perf_counter() - started
    assert run.returncode == 0, run.stderr[-3000:]
    assert seconds < 300, f"demo took {seconds:.0f} s"
    for name in ("plane-delay", "plane-flights"):
        assert f"│ {name} " in run.stdout

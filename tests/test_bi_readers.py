"""Predictions and the registry are plain tables: readers with no Relatron code, and DuckDB 1.x
readers (the duckdb CLI on PyPI, BI drivers), open the file once training has finished."""
import csv
import io
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
#: made by `make setup`: a virtual environment holding the duckdb CLI 1.x from PyPI
DUCKDB1_VENV = ROOT / ".venv-duckdb1"

TRAIN = textwrap.dedent("""
    import sys
    import relatron_sql
    from relatron_sql import models
    from relatron_sql.testing import make_database
    con = relatron_sql.connect(sys.argv[1], compatible=sys.argv[2] == "compatible")
    make_database(con, n_users=80, days=300)
    for name in ("user-active", "user-spend"):
        models.train(con, name, family="baseline")
        models.predict(con, name, split="test")
    con.close()
""")

READ = textwrap.dedent("""
    import json, sys
    import duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    out = {
        "predictions": con.execute(
            "SELECT name, COUNT(*), COUNT(DISTINCT model_version), MIN(anchor_time) IS NOT NULL,"
            " COUNT(written_at), ROUND(SUM(prediction), 6) FROM relatron.predictions "
            "GROUP BY name ORDER BY name").fetchall(),
        "models": con.execute("SELECT name, version, family, active, metrics FROM "
                              "relatron.models ORDER BY name").fetchall(),
        "trials": con.execute("SELECT COUNT(*) FROM relatron.trials").fetchall()[0][0],
        "relatron_loaded": any(m.startswith("relatron") for m in sys.modules),
    }
    print(json.dumps(out, default=str))
""")


def _train(path: pathlib.Path, compatible: bool) -> None:
    run = subprocess.run([sys.executable, "-c", TRAIN, str(path),
                          "compatible" if compatible else "latest"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("bi") / "bi.duckdb"
    _train(path, compatible=True)          # the training process has exited here
    return path


def _duckdb1() -> str:
    """The DuckDB 1.x command-line binary; CI must have it (`make setup` installs it)."""
    for candidate in (DUCKDB1_VENV / "bin" / "duckdb", shutil.which("duckdb")):
        if candidate and pathlib.Path(candidate).exists():
            version = subprocess.run([str(candidate), "--version"], capture_output=True,
                                     text=True).stdout
            if version.startswith("v1."):
                return str(candidate)
    if os.environ.get("CI"):
        raise AssertionError("no DuckDB 1.x CLI: run `make setup` (creates .venv-duckdb1)")
    pytest.skip("no DuckDB 1.x CLI (make setup installs the duckdb-cli package into "
                ".venv-duckdb1)")


def test_plain_duckdb_process_reads_predictions_and_registry(trained):
    import json
    run = subprocess.run([sys.executable, "-c", READ, str(trained)], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    assert seen["relatron_loaded"] is False
    import duckdb
    con = duckdb.connect(str(trained), read_only=True)
    rows = con.execute("SELECT task, COUNT(*) FROM relatron.task_rows WHERE split = 'test' "
                       "GROUP BY task ORDER BY task").fetchall()
    con.close()
    assert [(p[0], p[1]) for p in seen["predictions"]] == rows
    for name, n, versions, anchored, written, _ in seen["predictions"]:
        assert versions == 1 and anchored and written == n
    assert [(m[0], m[1], m[2], m[3]) for m in seen["models"]] == [
        ("user-active", 1, "baseline", True), ("user-spend", 1, "baseline", True)]
    assert json.loads(seen["models"][0][4])["metric"] == "auroc"
    assert seen["trials"] >= 2


def test_duckdb_1_cli_reads_predictions(trained):
    binary = _duckdb1()
    query = ("SELECT name, COUNT(*) AS n, MIN(model_version) AS v, ROUND(SUM(prediction), 6) "
             "AS s, COUNT(written_at) AS w FROM relatron.predictions GROUP BY name ORDER BY name")
    run = subprocess.run([binary, "-readonly", "-csv", str(trained), "-c", query],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    old = list(csv.DictReader(io.StringIO(run.stdout)))
    import duckdb
    con = duckdb.connect(str(trained), read_only=True)
    new = con.execute(query).fetchall()
    con.close()
    assert [(r["name"], int(r["n"]), int(r["v"]), float(r["s"]), int(r["w"])) for r in old] == \
        [(a, b, c, pytest.approx(d), e) for a, b, c, d, e in new]
    run = subprocess.run([binary, "-readonly", "-csv", str(trained), "-c",
                          "SELECT name, version, family FROM relatron.models WHERE active "
                          "ORDER BY name"], capture_output=True, text=True, timeout=120)
    assert run.stdout.split() == ["name,version,family", "user-active,1,baseline",
                                  "user-spend,1,baseline"]


def test_duckdb_1_cli_cannot_read_latest_storage(tmp_path):
    """The control: without the compatibility setting a 1.x reader fails, so the flag matters."""
    binary = _duckdb1()
    path = tmp_path / "latest.duckdb"
    _train(path, compatible=False)
    run = subprocess.run([binary, "-readonly", str(path), "-c", "SELECT 1"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "version" in (run.stderr + run.stdout).lower()

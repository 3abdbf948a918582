"""The dbt-duckdb plugin and `dbt build` on the example project (examples/dbt)."""
import os
import pathlib
import re
import shutil
import subprocess
import sys

import duckdb
import pytest

import relatron_sql
from relatron_sql.testing import make_database

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "dbt"


def _need_dbt():
    """dbt is installed by `make setup` (the project's dbt extra); CI must not skip this."""
    try:
        import dbt.adapters.duckdb  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("dbt-duckdb is not installed (pip install -e '.[dbt]')")


def _dbt_executable() -> str:
    path = pathlib.Path(sys.executable).parent / "dbt"
    return str(path) if path.exists() else shutil.which("dbt") or "dbt"


def _project(tmp_path):
    """A copy of the example project, the database it will write, and dbt's environment."""
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("target", "logs",
                                                                    "*.duckdb*"))
    database = tmp_path / "flights.duckdb"
    env = {**os.environ, "RELATRON_DBT_DATABASE": str(database),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_PROFILES_DIR": str(project)}
    return project, database, env


def test_plugin_registers_functions_on_the_connection_and_its_cursors(tmp_path):
    _need_dbt()
    from relatron_sql.udfs.dbt import Plugin

    plugin = Plugin("relatron", {})
    con = duckdb.connect(str(tmp_path / "p.duckdb"))
    plugin.configure_connection(con)
    make_database(con, n_users=40, days=300)
    cursor = con.cursor()
    with pytest.raises(duckdb.CatalogException):
        cursor.execute("SELECT relatron_evaluate('user-active')").fetchall()
    plugin.configure_cursor(cursor)
    summary = cursor.execute("SELECT relatron_train('user-active', family := 'baseline')"
                             ).fetchall()[0][0]
    assert '"family": "baseline"' in summary
    assert cursor.execute("SELECT relatron_predict('user-active')").fetchall()[0][0] > 0
    assert cursor.execute("SELECT COUNT(*) FROM relatron_predictions('user-active')"
                          ).fetchall()[0][0] > 0
    # a dbt model's wrong type is named as in the shell, not as DuckDB's binder error
    with pytest.raises(duckdb.Error, match="argument 'budget' of relatron_train: expected "
                                           "BIGINT, got DOUBLE"):
        cursor.execute("SELECT relatron_train('user-active', budget := 2.5::DOUBLE)").fetchall()
    con.close()


def test_plugin_creates_new_files_readable_by_duckdb_1(tmp_path):
    _need_dbt()
    from types import SimpleNamespace

    from relatron_sql.connection import COMPATIBLE_STORAGE
    from relatron_sql.udfs.dbt import Plugin

    config = {}
    Plugin("relatron", {}).update_connection_config(
        SimpleNamespace(path=str(tmp_path / "new.duckdb")), config)
    assert config == {"storage_compatibility_version": COMPATIBLE_STORAGE}
    existing = tmp_path / "old.duckdb"
    duckdb.connect(str(existing)).close()
    config = {}
    Plugin("relatron", {}).update_connection_config(SimpleNamespace(path=str(existing)), config)
    assert config == {}
    Plugin("relatron", {"compatible": False}).update_connection_config(
        SimpleNamespace(path=str(tmp_path / "n2.duckdb")), config)
    assert config == {}


@pytest.mark.parametrize("config, message", [
    ({"compatible": "no"}, "argument 'compatible': must be true or false, got 'no'"),
    ({"compatable": True}, "argument 'compatable': is not an option of the relatron_sql.udfs.dbt "
                           "plugin; valid: 'compatible'"),
])
def test_plugin_refuses_a_bad_config_block(config, message):
    _need_dbt()
    from relatron_sql.udfs.dbt import Plugin

    from relatron_sql.errors import RelatronError

    with pytest.raises(RelatronError, match=re.escape(message)):
        Plugin("relatron", config)


def test_dbt_build_example_project(tmp_path):
    """CI runs this: dbt build defines the task, trains, materialises predictions, tests them."""
    _need_dbt()
    project, database, env = _project(tmp_path)
    # the baseline family keeps CI quick; the example's default is family 'auto'
    run = subprocess.run([_dbt_executable(), "build", "--vars", "{relatron_family: baseline}"],
                         cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "Completed successfully" in run.stdout
    assert "ERROR=0" in run.stdout and "SKIP=0" in run.stdout
    # the materialised predictions are the registry's, for every test row
    con = duckdb.connect(str(database), read_only=True)
    try:
        n, version = con.execute("SELECT COUNT(*), MIN(model_version) FROM "
                                 "plane_delay_predictions").fetchall()[0]
        assert n == con.execute("SELECT COUNT(*) FROM relatron.task_rows WHERE task = "
                                "'dbt-plane-delay' AND split = 'test'").fetchall()[0][0] > 0
        assert version == con.execute("SELECT version FROM relatron.models WHERE name = "
                                      "'dbt-plane-delay' AND active").fetchall()[0][0]
        assert con.execute("SELECT tags['storage_version'] FROM duckdb_databases() WHERE "
                           "database_name = current_database()").fetchall()[0][0].startswith(
                               "v1.4")
    finally:
        con.close()


def test_dbt_test_fails_on_bad_predictions(tmp_path):
    """The project's data test catches a probability outside [0, 1]."""
    _need_dbt()
    project, database, env = _project(tmp_path)
    con = relatron_sql.connect(str(database), compatible=True)
    con.execute("CREATE TABLE plane_delay_predictions AS SELECT 'N1' AS tailnum, "
                "TIMESTAMP '2013-11-15' AS anchor_time, 1.5 AS delay_probability, 1 AS delayed,"
                " 1 AS model_version, current_timestamp AS written_at")
    con.close()
    run = subprocess.run([_dbt_executable(), "test", "--select",
                          "predictions_are_probabilities"], cwd=project, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 1 and "FAIL 1" in run.stdout, run.stdout[-3000:]

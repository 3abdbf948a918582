"""The registry: idempotent set-up, one transaction per call, readable without Relatron."""
import json
import subprocess
import sys

import duckdb
import pytest

import relatron_sql
from relatron_sql import registry
from relatron_sql.testing import ACTIVE_SQL, make_database
from snapshot import snapshot

TABLES = {"declarations", "tasks", "task_rows", "models", "artifacts", "trials", "features",
          "predictions", "bank"}


def test_register_is_idempotent(tmp_path):
    path = str(tmp_path / "r.duckdb")
    con = relatron_sql.connect(path)
    make_database(con)
    relatron_sql.register(con)
    relatron_sql.register(con)
    before = snapshot(con)
    con.close()
    con = relatron_sql.connect(path)  # opening an existing database
    assert snapshot(con) == before
    names = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE "
                                       "schema_name = 'relatron'").fetchall()}
    assert TABLES <= names
    assert con.execute("SELECT COUNT(*) FROM relatron_task_rows('user-active')").fetchall()[0][0]


def test_transaction_rolls_back_everything(con):
    with pytest.raises(RuntimeError):
        with registry.transaction(con) as cur:
            cur.execute("CREATE TABLE half AS SELECT 1 AS x")
            cur.execute("INSERT INTO relatron.declarations (table_name) VALUES ('half')")
            raise RuntimeError("boom")
    assert con.execute("SELECT COUNT(*) FROM duckdb_tables() WHERE table_name = 'half'"
                       ).fetchall()[0][0] == 0
    assert con.execute("SELECT COUNT(*) FROM relatron.declarations").fetchall()[0][0] == 0


def test_failed_load_midway_leaves_nothing(con, tmp_path, stack_path):
    import shutil
    for f in stack_path.glob("*.parquet"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "tags.parquet").write_bytes(b"not parquet")  # the last table fails
    before = snapshot(con)
    with pytest.raises(duckdb.Error):
        con.execute("SELECT relatron_load('stackexchange', ?)", [str(tmp_path)]).fetchall()
    assert snapshot(con) == before


READER = """
import duckdb, json, sys
con = duckdb.connect(sys.argv[1], read_only=True)
out = {
  "tasks": con.execute("SELECT name FROM relatron.tasks ORDER BY name").fetchall(),
  "rows": con.execute("SELECT COUNT(*) FROM relatron.task_rows").fetchall()[0][0],
  "models": con.execute("SELECT name, version, family, active FROM relatron.models").fetchall(),
  "predictions": con.execute("SELECT COUNT(*) FROM relatron.predictions").fetchall()[0][0],
  "relatron_loaded": "relatron_sql" in sys.modules,
}
print(json.dumps(out))
"""


def test_registry_is_readable_by_plain_duckdb(tmp_path):
    path = str(tmp_path / "shared.duckdb")
    con = relatron_sql.connect(path)
    make_database(con)
    con.execute("SELECT relatron_train('user-active', family := 'baseline')").fetchall()
    written = con.execute("SELECT relatron_predict('user-active')").fetchall()[0][0]
    con.close()
    result = subprocess.run([sys.executable, "-c", READER, path], capture_output=True,
                            text=True, check=True)
    out = json.loads(result.stdout)
    assert out["tasks"] == [["user-active"], ["user-spend"]]
    assert out["models"] == [["user-active", 1, "baseline", True]]
    assert out["predictions"] == written > 0
    assert out["relatron_loaded"] is False


def test_schema_reports_dangling_and_null_times(con, caplog):
    make_database(con, tasks=False)
    con.execute("INSERT INTO orders VALUES (99999, 12345, 0, NULL, 1.0, 'web')")
    rows = {(r[0], r[1]): r[2] for r in con.execute(
        "SELECT table_name, column_name, dangling FROM relatron_schema()").fetchall()}
    assert rows[("orders", "user_id")] == 1
    assert rows[("orders", "item_id")] == 0
    schema = relatron_sql.read_schema(con)
    assert schema.null_times == {"orders": 1}


def _models(con):
    return con.execute("SELECT version, active FROM relatron.models WHERE name = 'user-active' "
                       "ORDER BY version").fetchall()


def test_replacing_a_task_retires_its_models(con):
    make_database(con, n_users=60, days=300)
    redefine = ("SELECT relatron_task('user-active', entity := ?, label_sql := ?, "
                "val_timestamp := TIMESTAMP '2020-06-29', test_timestamp := TIMESTAMP "
                "'2020-08-28', description := ?, replace := true)")
    con.execute("SELECT relatron_train('user-active', family := 'baseline')").fetchall()
    # the same definition, described anew: the model still fits it
    con.execute(redefine, ["users", ACTIVE_SQL, "reworded"]).fetchall()
    assert _models(con) == [(1, True)]
    assert con.execute("SELECT relatron_predict('user-active')").fetchall()[0][0] > 0
    n_predictions = "SELECT COUNT(*) FROM relatron_predictions('user-active')"
    assert con.execute(n_predictions).fetchall()[0][0] > 0
    # a failed redefinition changes nothing
    before = snapshot(con)
    with pytest.raises(duckdb.Error, match="label_sql"):
        con.execute(redefine, ["users", "SELECT 1", None]).fetchall()
    assert snapshot(con) == before
    # a new definition (items, not users): the old model is kept but no longer used
    sold = ("SELECT a.anchor_time, i.item_id, CAST(EXISTS (SELECT 1 FROM orders o WHERE "
            "o.item_id = i.item_id AND o.time > a.anchor_time AND o.time <= a.window_end) "
            "AS INTEGER) AS label FROM relatron_anchors a, items i")
    con.execute(redefine, ["items", sold, None]).fetchall()
    assert _models(con) == [(1, False)]
    # the old model's predictions answered the old question: gone with it
    assert con.execute(n_predictions).fetchall()[0][0] == 0
    for sql in ("SELECT relatron_predict('user-active')", "SELECT relatron_evaluate('user-active')",
                "FROM relatron_explain('user-active')"):
        with pytest.raises(duckdb.Error, match="'name'.*was redefined after its last training"):
            con.execute(sql).fetchall()
    # training again registers a model for the new definition
    out = json.loads(con.execute("SELECT relatron_train('user-active', family := 'baseline')"
                                 ).fetchall()[0][0])
    assert out["version"] == 2 and "reused" not in out
    assert _models(con) == [(1, False), (2, True)]
    n_items = con.execute("SELECT COUNT(*) FROM relatron_task_rows('user-active') WHERE "
                          "split = 'test'").fetchall()[0][0]
    assert con.execute("SELECT relatron_predict('user-active')").fetchall()[0][0] == n_items


def test_a_registry_from_before_tasks_exclude_reads_when_opened_read_only(tmp_path):
    """A read-only file is never brought up to date, so a column added to the registry since
    it was written is read as NULL, not as a binder error."""
    path = str(tmp_path / "old.duckdb")
    con = relatron_sql.connect(path)
    make_database(con, n_users=40, days=300)
    relatron_sql.train(con, "user-active", family="baseline")
    relatron_sql.predict(con, "user-active")
    con.close()
    con = duckdb.connect(path)
    con.execute("ALTER TABLE relatron.tasks DROP COLUMN exclude")
    con.close()
    con = relatron_sql.connect(path, read_only=True)
    assert json.loads(con.execute("SELECT relatron_evaluate('user-active')").fetchall()[0][0]
                      )["metrics"]["auroc"] > 0.5
    assert con.execute("SELECT COUNT(*) FROM relatron_predictions('user-active')"
                       ).fetchall()[0][0] > 0
    assert json.loads(con.execute("SELECT relatron_train('user-active', family := 'baseline')"
                                  ).fetchall()[0][0])["reused"]
    con.close()

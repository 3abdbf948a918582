"""After ``ATTACH ... AS other; USE other``, the SQL functions work in ``other``: its tables,
its registry (created there on first use), its predictions; the first database is untouched."""
import json

import pytest

import relatron_sql
from relatron_sql.testing import make_database


@pytest.fixture
def attached(tmp_path):
    con = relatron_sql.connect(":memory:")
    con.execute(f"ATTACH '{tmp_path / 'other.duckdb'}' AS other")
    con.execute("USE other")
    yield con
    con.close()


def _tables(con, database):
    return {(s, t) for s, t in con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ?",
        [database]).fetchall()}


def test_the_sql_functions_follow_use(attached):
    con = attached
    make_database(con, n_users=80, seed=2)
    assert ("main", "users") in _tables(con, "other")
    out = json.loads(con.execute("SELECT relatron_train('user-active', family := 'dfs', "
                                 "budget := 1)").fetchall()[0][0])
    assert out["family"] == "dfs"
    written = con.execute("SELECT relatron_predict('user-active')").fetchall()[0][0]
    rows = con.execute("SELECT COUNT(*) FROM relatron_predictions('user-active')").fetchall()[0][0]
    assert written == rows > 0
    assert con.execute("SELECT COUNT(*) FROM other.relatron.models").fetchall()[0][0] == 1
    schema = con.execute("SELECT DISTINCT table_name FROM relatron_schema()").fetchall()
    assert {"users", "orders"} <= {r[0] for r in schema}
    # the first database holds an empty registry and none of this
    memory = _tables(con, "memory")
    assert all(schema == "relatron" for schema, _ in memory)
    assert con.execute("SELECT COUNT(*) FROM memory.relatron.models").fetchall()[0][0] == 0
    assert con.execute("SELECT COUNT(*) FROM memory.relatron.tasks").fetchall()[0][0] == 0


def test_a_database_used_before_it_has_a_registry_gets_one(attached):
    con = attached
    con.execute("CREATE TABLE things AS SELECT range AS id FROM range(5)")
    said = con.execute("SELECT relatron_declare('things', primary_key := 'id')").fetchall()[0][0]
    assert "things" in said
    assert ("relatron", "declarations") in _tables(con, "other")
    con.execute("USE memory")
    with pytest.raises(Exception, match="things"):
        con.execute("SELECT relatron_declare('things', primary_key := 'id')").fetchall()

"""Several connections in one process, cursors, files opened read-only and databases attached
later: every SQL function works on each, and a database Relatron never wrote to is read
without being changed."""
import duckdb
import pytest

import relatron_sql
from relatron_sql.testing import make_database


@pytest.fixture
def made(tmp_path):
    """A database file with the generated tables and tasks, closed."""
    path = str(tmp_path / "made.duckdb")
    con = relatron_sql.connect(path)
    make_database(con, n_users=40, days=300)
    con.close()
    return path


def _rows(con, task="user-active") -> int:
    return con.execute("SELECT COUNT(*) FROM relatron_task_rows(?)", [task]).fetchall()[0][0]


def test_two_connections_to_one_file_each_have_the_functions(made):
    first = relatron_sql.connect(made)
    second = relatron_sql.connect(made)   # the same database instance, shared catalog
    expected = first.execute("SELECT COUNT(*) FROM relatron.task_rows "
                             "WHERE task = 'user-active'").fetchall()[0][0]
    assert expected > 0 and _rows(first) == expected and _rows(second) == expected
    first.close()
    assert _rows(second) == expected   # the second calls functions of its own
    second.execute("SELECT relatron_train('user-active', family := 'baseline')")
    assert second.execute("SELECT COUNT(*) FROM relatron.models").fetchall()[0][0] == 1
    second.close()


def test_a_plain_connection_and_a_cursor_can_be_registered_beside_another(made):
    first = relatron_sql.connect(made)
    plain = relatron_sql.register(duckdb.connect(made))
    cursor = relatron_sql.register(first.cursor())
    assert _rows(plain) == _rows(cursor) == _rows(first) > 0
    for con in (cursor, plain, first):
        con.close()


def test_registering_a_connection_again_keeps_its_functions_working(made):
    con = relatron_sql.connect(made)
    relatron_sql.register(con)
    assert _rows(con) > 0
    con.close()


def _tables(path) -> list:
    with duckdb.connect(path, read_only=True) as con:
        return con.execute("SELECT schema_name, table_name FROM duckdb_tables() "
                           "ORDER BY ALL").fetchall()


@pytest.fixture
def plain_file(tmp_path):
    """A database file Relatron never opened."""
    path = str(tmp_path / "plain.duckdb")
    with duckdb.connect(path) as con:
        con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, joined TIMESTAMP)")
        con.execute("CREATE TABLE orders (oid INTEGER PRIMARY KEY, "
                    "cid INTEGER REFERENCES customers (id), placed TIMESTAMP)")
    return path


def test_a_file_relatron_never_wrote_to_opens_read_only_and_its_schema_is_read(plain_file):
    before = _tables(plain_file)
    con = relatron_sql.connect(plain_file, read_only=True)
    roles = {(r[0], r[1]): r[3] for r in con.execute("FROM relatron_schema()").fetchall()}
    assert roles[("customers", "id")] == "pk" and roles[("orders", "cid")] == "fk"
    for sql in ("FROM relatron_predictions('churn')", "FROM relatron_task_rows('churn')",
                "SELECT relatron_evaluate('churn')", "FROM relatron_explain('churn')"):
        with pytest.raises(duckdb.Error, match="argument 'name': no task 'churn': no task was "
                                               "ever defined in this database"):
            con.execute(sql)
    con.close()
    assert _tables(plain_file) == before   # no registry was created


def test_the_first_call_in_a_database_attached_later_says_there_is_no_such_task(tmp_path):
    con = relatron_sql.connect(str(tmp_path / "main.duckdb"))
    con.execute(f"ATTACH '{tmp_path / 'other.duckdb'}' AS other")
    con.execute("USE other")
    for sql in ("FROM relatron_predictions('churn')", "FROM relatron_task_rows('churn')"):
        with pytest.raises(duckdb.Error, match="argument 'name': no task 'churn'"):
            con.execute(sql)
    # the registry is there now, as for any first use, and the tables are read
    assert con.execute("SELECT COUNT(*) FROM other.relatron.tasks").fetchall() == [(0,)]
    con.close()

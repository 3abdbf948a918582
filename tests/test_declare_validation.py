"""relatron_declare refuses keys that cannot hold, naming the argument, and changes nothing.

Without these checks a bad key was accepted and the error came later, far from its cause (for
instance ``relatron_schema()`` failing to convert 'web' to an integer).
"""
import re

import duckdb
import pytest

import relatron_sql
from relatron_sql import schema
from relatron_sql.errors import SchemaError
from relatron_sql.testing import make_database
from snapshot import snapshot


@pytest.fixture
def db():
    con = relatron_sql.connect(":memory:")
    make_database(con, n_users=100, tasks=False)
    yield con
    con.close()


def _refused(con, sql: str, argument: str, *phrases: str) -> str:
    """Run ``sql``; it must fail naming ``argument`` with ``phrases``, leaving all as it was."""
    before = snapshot(con)
    with pytest.raises(duckdb.Error) as info:
        con.execute(sql).fetchall()
    message = str(info.value)
    assert f"argument '{argument}'" in message, message
    for phrase in phrases:
        assert phrase in message, message
    assert snapshot(con) == before
    # the schema still reads: the bad declaration was not recorded
    assert con.execute("SELECT COUNT(*) FROM relatron_schema()").fetchall()[0][0] > 0
    return message


def _declared(con, table: str) -> tuple:
    return con.execute("SELECT primary_key, foreign_keys, time_column FROM relatron.declarations "
                       "WHERE table_name = ?", [table]).fetchall()[0]


def test_foreign_key_whose_values_cannot_match_the_parent_key_is_refused(db):
    _refused(db, "SELECT relatron_declare('orders', foreign_keys := MAP {'user_id': 'users', "
                 "'item_id': 'items', 'channel': 'groups'})", "foreign_keys",
             "column channel (VARCHAR) cannot reference groups.group_id (BIGINT)")
    assert _declared(db, "orders")[1] == '{"item_id": "items", "user_id": "users"}'


def test_foreign_key_of_an_incomparable_type_is_refused(db):
    # TIMESTAMP against BIGINT does not even bind
    _refused(db, "SELECT relatron_declare('orders', foreign_keys := MAP {'time': 'users'})",
             "foreign_keys", "column time (TIMESTAMP) cannot reference users.user_id (BIGINT)")


def test_foreign_key_to_a_table_without_primary_key_is_refused(db):
    db.execute("CREATE TABLE shops AS SELECT range AS shop_id FROM range(3)")
    message = _refused(db, "SELECT relatron_declare('orders', foreign_keys := "
                           "MAP {'user_id': 'users', 'item_id': 'shops'})", "foreign_keys",
                       "'item_id' references table 'shops', which has no primary key")
    assert "'users'" in message  # the tables that could be referenced are listed


def test_primary_key_with_repeated_values_is_refused(db):
    _refused(db, "SELECT relatron_declare('users', primary_key := 'segment')", "primary_key",
             "users.segment has 4 distinct values over 100 rows",
             "must be unique and never NULL")
    assert _declared(db, "users")[0] == "user_id"


def test_primary_key_with_nulls_is_refused(db):
    db.execute("CREATE TABLE tags AS SELECT * FROM (VALUES (1, 'a'), (NULL, 'b'), (3, 'c')) "
               "AS t(tag_id, name)")
    _refused(db, "SELECT relatron_declare('tags', primary_key := 'tag_id')", "primary_key",
             "tags.tag_id is NULL in 1 of 3 rows")
    assert db.execute("SELECT COUNT(*) FROM relatron.declarations WHERE table_name = 'tags'"
                      ).fetchall()[0][0] == 0


def test_new_primary_key_is_compared_with_the_foreign_keys_pointing_at_it(db):
    # unique and never NULL, but users.group_id (an integer) cannot hold its values
    db.execute("ALTER TABLE groups ADD COLUMN code VARCHAR")
    db.execute("UPDATE groups SET code = 'g' || group_id")
    _refused(db, "SELECT relatron_declare('groups', primary_key := 'code')", "primary_key",
             "users.group_id (BIGINT) cannot reference groups.code (VARCHAR)")
    assert _declared(db, "groups")[0] == "group_id"


def test_python_declare_raises_the_same_errors(db):
    db.execute("CREATE TABLE shops AS SELECT range AS shop_id FROM range(3)")
    before = snapshot(db)
    with pytest.raises(SchemaError, match="argument 'foreign_keys'.*channel"):
        schema.declare(db, "orders", foreign_keys={"channel": "groups"})
    with pytest.raises(SchemaError, match="argument 'primary_key'.*segment"):
        schema.declare(db, "users", primary_key="segment")
    with pytest.raises(SchemaError, match="argument 'foreign_keys'.*no primary key"):
        schema.declare(db, "orders", foreign_keys={"item_id": "shops"})
    assert snapshot(db) == before


def test_keys_that_hold_are_accepted(db):
    # a self-reference whose parent key is declared in the same call
    db.execute("CREATE TABLE nodes AS SELECT range AS node_id, CASE WHEN range > 0 THEN "
               "range - 1 END AS parent_id FROM range(5)")
    db.execute("SELECT relatron_declare('nodes', primary_key := 'node_id', "
               "foreign_keys := MAP {'parent_id': 'nodes'})").fetchall()
    # a parent whose key is a DuckDB constraint, not a declaration; dangling rows are tolerated
    db.execute("CREATE TABLE shops (shop_id BIGINT PRIMARY KEY)")
    db.execute("INSERT INTO shops SELECT range FROM range(10)")
    db.execute("SELECT relatron_declare('orders', foreign_keys := MAP {'user_id': 'users', "
               "'item_id': 'shops'})").fetchall()
    # a unique key of another type, with no foreign key that points at it
    db.execute("SELECT relatron_declare('items', primary_key := 'item_id')").fetchall()
    rows = db.execute("SELECT table_name, column_name, role, references_table, dangling "
                      "FROM relatron_schema() WHERE role IN ('pk', 'fk')").fetchall()
    assert ("nodes", "node_id", "pk", None, 0) in rows
    assert ("nodes", "parent_id", "fk", "nodes", 0) in rows
    dangling = [r for r in rows if r[:2] == ("orders", "item_id")]
    assert dangling[0][3] == "shops" and dangling[0][4] > 0  # items 10..39 are not shops


def test_shell_shows_one_clear_line(db):
    import io
    from relatron_sql.shell import Shell
    out, err = io.StringIO(), io.StringIO()
    sh = Shell(db, out=out, err=err, progress=False)
    sh.feed(["SELECT relatron_declare('orders', foreign_keys := MAP {'channel': 'groups'});"])
    lines = err.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("Error: argument 'foreign_keys': column channel (VARCHAR) cannot "
                               "reference groups.group_id (BIGINT): "), lines
    # DuckDB's reason: a channel value (which one depends on the scan order) that does not convert
    assert re.search(r"Could not convert string '(web|store|app)' to INT64", lines[0]), lines
    assert out.getvalue() == "" and sh.errors == 1


def test_a_view_or_a_name_of_another_case_is_said_to_be_one(db):
    db.execute("CREATE VIEW active_users AS SELECT * FROM users")
    db.execute('CREATE TABLE "Accounts" (id INTEGER)')
    _refused(db, "SELECT relatron_declare('active_users', primary_key := 'user_id')",
             "table_name", "is a view", "materialise it")
    _refused(db, "SELECT relatron_declare('accounts', primary_key := 'id')", "table_name",
             "there is 'Accounts'")
    _refused(db, "SELECT relatron_task('t', entity := 'active_users', label_sql := 'SELECT 1', "
             "val_timestamp := TIMESTAMP '2020-08-01', test_timestamp := TIMESTAMP "
             "'2020-10-01')", "entity", "is a view")

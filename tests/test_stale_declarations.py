"""Declarations outlive the tables they describe: a table re-created without its declared time
column (a dbt full refresh), or a referenced table dropped. What still holds is used, what does
not is named, and a new declaration says what holds now."""
import json

import duckdb
import pytest

from snapshot import snapshot


def _schema(con, table):
    return {c: (role, ref) for c, role, ref in con.execute(
        "SELECT column_name, role, references_table FROM relatron_schema() WHERE table_name = ?",
        [table]).fetchall()}


def test_a_table_recreated_without_its_time_column_is_named_until_declared_again(gen_con):
    gen_con.execute("CREATE OR REPLACE TABLE users AS SELECT user_id, group_id, age, segment "
                    "FROM users")
    # read as static, every later user would be visible: the table is left out instead
    assert "users" not in {r[0] for r in gen_con.execute(
        "SELECT table_name FROM relatron_schema()").fetchall()}
    for sql in ("SELECT relatron_route('user-active')",
                "SELECT relatron_train('user-active', family := 'baseline')"):
        before = snapshot(gen_con)
        with pytest.raises(duckdb.Error, match="argument 'name'.*declared time column 'signup' "
                                               "is gone.*relatron_declare"):
            gen_con.execute(sql).fetchall()
        assert snapshot(gen_con) == before
    # NULL keeps the old declaration; '' says the table has no time column now
    gen_con.execute("SELECT relatron_declare('users', time_column := NULL)").fetchall()
    assert "users" not in {r[0] for r in gen_con.execute(
        "SELECT table_name FROM relatron_schema()").fetchall()}
    gen_con.execute("SELECT relatron_declare('users', time_column := '')").fetchall()
    assert _schema(gen_con, "users")["user_id"] == ("pk", None)
    assert _schema(gen_con, "orders")["user_id"] == ("fk", "users")
    out = json.loads(gen_con.execute("SELECT relatron_train('user-active', family := "
                                     "'baseline')").fetchall()[0][0])
    assert out["version"] == 1


def test_a_dropped_parent_table_drops_the_keys_into_it(gen_con):
    gen_con.execute("DROP TABLE groups")
    assert _schema(gen_con, "users")["group_id"][0] == "feature"
    out = json.loads(gen_con.execute("SELECT relatron_train('user-active', family := 'dfs', "
                                     "budget := 1)").fetchall()[0][0])
    assert out["version"] == 1
    route = json.loads(gen_con.execute("SELECT relatron_route('user-active')").fetchall()[0][0])
    assert not any("groups" in path for path in route["signals"]["metapaths"])


def test_an_empty_primary_key_clears_the_declared_one(gen_con):
    gen_con.execute("SELECT relatron_declare('items', primary_key := '')").fetchall()
    assert _schema(gen_con, "items")["item_id"][0] == "feature"
    gen_con.execute("SELECT relatron_declare('items', primary_key := 'item_id')").fetchall()
    assert _schema(gen_con, "items")["item_id"][0] == "pk"


def test_an_rdl_model_over_a_dropped_table_names_the_task_and_says_to_retrain(gen_con):
    gen_con.execute("SELECT relatron_train('user-active', family := 'rdl', time_budget := 3)"
                    ).fetchall()
    gen_con.execute("DROP TABLE groups")
    for sql in ("SELECT relatron_predict('user-active')",
                "SELECT relatron_evaluate('user-active')"):
        before = snapshot(gen_con)
        with pytest.raises(duckdb.Error, match="argument 'name'.*'user-active'.*trained with "
                                               r"tables \['groups'\].*retrain"):
            gen_con.execute(sql).fetchall()
        assert snapshot(gen_con) == before


def test_keys_into_a_table_whose_primary_key_is_gone_are_left_out(gen_con):
    gen_con.execute("CREATE OR REPLACE TABLE users AS SELECT user_id AS uid, group_id, signup, "
                    "age, segment FROM users")
    assert _schema(gen_con, "orders")["user_id"][0] == "feature"
    # a new key into it is refused, naming the argument, until the table has a key again
    before = snapshot(gen_con)
    with pytest.raises(duckdb.Error, match="argument 'foreign_keys'.*'users', which has no "
                                           "primary key"):
        gen_con.execute("SELECT relatron_declare('orders', foreign_keys := MAP {'user_id': "
                        "'users', 'item_id': 'items'})").fetchall()
    assert snapshot(gen_con) == before
    gen_con.execute("SELECT relatron_declare('users', primary_key := 'uid')").fetchall()
    assert _schema(gen_con, "orders")["user_id"] == ("fk", "users")


_CALLS = ("SELECT relatron_route('user-active')",
          "SELECT relatron_train('user-active', family := 'baseline')",
          "SELECT relatron_train('user-active', family := 'dfs', budget := 1)",
          "SELECT relatron_predict('user-active')")


def _refused_everywhere(con, phrase):
    """Every call refuses with ``phrase``, naming the task argument, and changes nothing."""
    for sql in _CALLS:
        before = snapshot(con)
        with pytest.raises(duckdb.Error, match="argument 'name': task 'user-active' reads the "
                                               "database's tables, and " + phrase):
            con.execute(sql).fetchall()
        assert snapshot(con) == before


@pytest.fixture
def trained(gen_con):
    gen_con.execute("SELECT relatron_train('user-active', family := 'baseline')").fetchall()
    return gen_con


def test_a_time_column_reloaded_as_text_is_named(trained):
    trained.execute("CREATE OR REPLACE TABLE orders AS SELECT * REPLACE "
                    "(strftime(time, '%Y-%m-%d %H:%M:%S') AS time) FROM orders")
    _refused_everywhere(trained, r"orders\.time, the declared time column of orders, has type "
                                 r"VARCHAR now; a time column must be DATE or TIMESTAMP")


@pytest.mark.parametrize("table, key", [("users", "user_id"), ("items", "item_id")])
def test_a_primary_key_duplicated_since_its_declaration_is_named(trained, table, key):
    """In the entity table it broke training; in a parent table it silently joined each
    child row to every copy of its parent."""
    trained.execute(f"INSERT INTO {table} SELECT * FROM {table} ORDER BY {key} LIMIT 3")
    _refused_everywhere(trained, rf"{table}\.{key}, the declared primary key of {table}, now has "
                                 r"\d+ distinct values over \d+ rows; a primary key must be "
                                 "unique and never NULL")


def test_a_foreign_key_retyped_with_values_that_compare_no_more_is_named(trained):
    trained.execute("ALTER TABLE orders ALTER user_id TYPE VARCHAR")
    trained.execute("UPDATE orders SET user_id = 'N/A' WHERE order_id % 50 = 0")
    _refused_everywhere(trained, r"orders\.user_id \(VARCHAR\), a declared foreign key, no "
                                 r"longer compares with users\.user_id \(BIGINT\)")
    # the schema still lists it, the rows it cannot compare counted as unknown
    rows = {r[0]: r[1:] for r in trained.execute(
        "SELECT column_name, role, dangling FROM relatron_schema() WHERE table_name = 'orders'"
    ).fetchall()}
    assert rows["user_id"] == ("fk", None)


def test_entity_rows_deleted_since_the_task_was_defined_are_named(trained):
    """DFS trained and scored them from their child rows, RDL left them out: both refuse now."""
    trained.execute("DELETE FROM users WHERE user_id IN (SELECT user_id FROM users ORDER BY "
                    "user_id LIMIT 5)")
    for sql in _CALLS:
        before = snapshot(trained)
        with pytest.raises(duckdb.Error, match=r"argument 'name': [\d,]+ rows of task "
                                               r"'user-active' name users rows that no longer "
                                               r"exist .*replace := true"):
            trained.execute(sql).fetchall()
        assert snapshot(trained) == before


@pytest.mark.parametrize("family", ["dfs", "rdl"])
def test_a_feature_column_retyped_since_training_is_named(gen_con, family):
    """Before, DuckDB's cast error and a piece of the feature query reached the user."""
    gen_con.execute(f"SELECT relatron_train('user-active', family := '{family}', budget := 1)"
                    ).fetchall()
    gen_con.execute("ALTER TABLE orders DROP COLUMN amount")
    gen_con.execute("ALTER TABLE orders ADD COLUMN amount TIMESTAMP")
    gen_con.execute("UPDATE orders SET amount = time")
    before = snapshot(gen_con)
    with pytest.raises(duckdb.Error, match=r"argument 'name': the model of task 'user-active' "
                                           r"\(version 1\) reads a table or column the database "
                                           r"no longer has as it had .*TIMESTAMP -> DOUBLE.*"
                                           r"retrain := true"):
        gen_con.execute("SELECT relatron_predict('user-active')").fetchall()
    assert snapshot(gen_con) == before


def test_fresh_predictions_score_the_entities_left_after_some_were_deleted(trained):
    """They read no task row: a model trained before some users were deleted still scores
    the users that remain."""
    trained.execute("DELETE FROM users WHERE user_id IN (SELECT user_id FROM users ORDER BY "
                    "user_id LIMIT 5)")
    left = trained.execute("SELECT COUNT(*) FROM users WHERE signup <= TIMESTAMP '2020-10-01'"
                           ).fetchall()[0][0]
    assert trained.execute("SELECT relatron_predict('user-active', anchor_time := TIMESTAMP "
                           "'2020-10-01')").fetchall()[0][0] == left

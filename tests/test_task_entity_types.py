"""A label query's entity id and label of another type than the entity key's: the id is
compared and stored as the key's own type writes it, so task rows join their entity rows (a
BIGINT foreign key names a DOUBLE key 1.0); a label of any integer type is taken."""
import duckdb
import pytest

from relatron_sql.testing import make_database
from snapshot import snapshot

#: a user is active when they order more than twice in the window; the id is orders.user_id
LABEL = ("SELECT a.anchor_time, {id}, COUNT(*) > 2 FROM relatron_anchors a JOIN orders o "
         "ON o.time > a.anchor_time AND o.time <= a.window_end GROUP BY ALL")


def _task(con, entity_id="o.user_id", label=None, kind="binary"):
    sql = (label or LABEL).format(id=entity_id)
    return con.execute("SELECT relatron_task('t', entity := 'users', label_sql := ?, kind := ?, "
                       "val_timestamp := TIMESTAMP '2020-08-01', "
                       "test_timestamp := TIMESTAMP '2020-09-15')", [sql, kind]).fetchall()


def _users(con, key_type: str):
    """The generated database (orders.user_id a BIGINT) with users.user_id of ``key_type``."""
    make_database(con, n_users=60, days=300, tasks=False)
    con.execute(f"ALTER TABLE users ALTER user_id TYPE {key_type}")
    return con


def _stray_rows(con) -> int:
    """Task rows whose entity_id is no users row's key as CAST(key AS VARCHAR) writes it."""
    return con.execute("SELECT COUNT(*) FROM relatron.task_rows WHERE task = 't' AND entity_id "
                       "NOT IN (SELECT CAST(user_id AS VARCHAR) FROM users)").fetchall()[0][0]


@pytest.mark.parametrize("key_type, entity_id", [
    ("DOUBLE", "o.user_id"),
    ("DECIMAL(10, 2)", "o.user_id"),
    ("INTEGER", "o.user_id::DOUBLE"),
    ("INTEGER", "o.user_id::DECIMAL(12, 3)"),
    ("VARCHAR", "o.user_id"),
])
def test_an_entity_id_of_another_type_names_the_entity_row(con, key_type, entity_id):
    _users(con, key_type)
    _task(con, entity_id)
    rows = con.execute("SELECT COUNT(*) FROM relatron.task_rows WHERE task = 't'"
                       ).fetchall()[0][0]
    assert rows > 100 and _stray_rows(con) == 0


@pytest.mark.parametrize("key_type, entity_id", [
    ("INTEGER", "o.user_id + 0.5"),           # DuckDB would round it onto another user
    ("DOUBLE", "'user ' || o.user_id"),       # cannot be cast at all
    ("INTEGER", "o.user_id + 1000"),          # a number, but no user's
])
def test_an_entity_id_the_key_type_cannot_hold_is_unknown(con, key_type, entity_id):
    _users(con, key_type)
    before = snapshot(con)
    with pytest.raises(duckdb.Error, match="argument 'label_sql': returned [0-9]+ rows whose "
                                           "entity id is not a users.user_id"):
        _task(con, entity_id)
    assert snapshot(con) == before


def test_a_task_over_a_double_key_trains_and_predicts(con):
    """Features (DFS) and the entity-history baseline find each row's user; fresh predictions,
    whose ids come from the users table, are written as the task rows write them."""
    _users(con, "DOUBLE")
    _task(con)
    users = {r[0] for r in con.execute("SELECT CAST(user_id AS VARCHAR) FROM users").fetchall()}
    for family in ("baseline", "dfs"):
        con.execute("SELECT relatron_train('t', family := ?, budget := 1, retrain := true)",
                    [family])
        assert con.execute("SELECT relatron_evaluate('t', 'test')").fetchall()
        written = con.execute("SELECT relatron_predict('t', 'test')").fetchall()[0][0]
        tested = con.execute("SELECT entity_id FROM relatron.task_rows WHERE task = 't' AND "
                             "split = 'test'").fetchall()
        assert written == len(tested) > 0
        con.execute("SELECT relatron_predict('t', anchor_time := TIMESTAMP '2020-10-01')")
        fresh = con.execute("SELECT entity_id, prediction FROM relatron_predictions('t') "
                            "WHERE split = 'fresh'").fetchall()
        assert {e for e, _ in fresh} == users and all(p is not None for _, p in fresh)


@pytest.mark.parametrize("label_type", ["UTINYINT", "UBIGINT", "HUGEINT", "UHUGEINT"])
def test_a_label_of_any_integer_type_is_taken(con, label_type):
    _users(con, "BIGINT")
    label = LABEL.replace("COUNT(*) > 2", f"COUNT(*)::{label_type}")
    counts = _task(con, label=label, kind="regression")[0][0]
    assert '"train"' in counts and _stray_rows(con) == 0


def test_a_timestamptz_entity_key_is_refused_naming_the_time_zone(con):
    """Its text, which names a task row's entity, changes with SET TimeZone: RDL predicted a
    constant after the session's zone changed."""
    con.execute("CREATE TABLE users (user_id TIMESTAMPTZ)")
    con.execute("INSERT INTO users SELECT TIMESTAMPTZ '2000-01-01 00:00:00+00' + to_days(i) "
                "FROM range(10) t(i)")
    con.execute("CREATE TABLE orders (order_id INTEGER, user_id TIMESTAMPTZ, time TIMESTAMP)")
    con.execute("INSERT INTO orders SELECT i, TIMESTAMPTZ '2000-01-01 00:00:00+00' + "
                "to_days(i % 10), TIMESTAMP '2020-01-01' + to_days(i) FROM range(300) t(i)")
    con.execute("SELECT relatron_declare('users', primary_key := 'user_id')").fetchall()
    con.execute("SELECT relatron_declare('orders', primary_key := 'order_id', foreign_keys := "
                "MAP {'user_id': 'users'}, time_column := 'time')").fetchall()
    before = snapshot(con)
    with pytest.raises(duckdb.Error, match="argument 'entity': the key users.user_id is a "
                                           "TIMESTAMP WITH TIME ZONE.*TimeZone"):
        _task(con)
    assert snapshot(con) == before

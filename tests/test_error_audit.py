"""Bad arguments to every SQL function that no other test tries: NULL, the wrong type, an empty
string, a name of another case, an unknown name, a number out of range, an endless timestamp.
Each gives one line naming the argument, and leaves the database exactly as it was (tables,
registry rows, schemas, views and column types)."""
import io
import shutil

import duckdb
import pytest

import relatron_sql
from relatron_sql import models
from relatron_sql.shell import Shell
from relatron_sql.testing import make_database
from snapshot import snapshot

LABEL = ("SELECT a.anchor_time, u.user_id, (u.age > 40)::INT FROM relatron_anchors a "
         "JOIN users u ON u.signup <= a.anchor_time")


def _task(**override) -> str:
    """A relatron_task call that is valid but for ``override`` (SQL text per argument)."""
    args = {"entity": "'users'", "label_sql": "'" + LABEL.replace("'", "''") + "'",
            "val_timestamp": "TIMESTAMP '2020-06-01'", "test_timestamp": "TIMESTAMP '2020-08-01'",
            **override}
    name = args.pop("name", "'t'")
    return (f"SELECT relatron_task({name}, "
            + ", ".join(f"{k} := {v}" for k, v in args.items()) + ");")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """user-active trained (baseline) with test predictions; user-spend never trained."""
    path = tmp_path_factory.mktemp("audit") / "audit.duckdb"
    con = relatron_sql.connect(str(path))
    make_database(con, n_users=60, days=300)
    models.train(con, "user-active", family="baseline")
    models.predict(con, "user-active", "test")
    con.close()
    return path


@pytest.fixture
def db(built, tmp_path):
    copy = tmp_path / "copy.duckdb"
    shutil.copy(built, copy)
    con = relatron_sql.connect(str(copy))
    yield con
    con.close()


def state(con) -> dict:
    """snapshot() and what it does not see: schemas, views, column types, temporary tables."""
    out = {"tables": snapshot(con)}
    for key, sql in (
            ("schemas", "SELECT schema_name FROM duckdb_schemas() WHERE database_name = "
                        "current_database()"),
            ("views", "SELECT schema_name, view_name, sql FROM duckdb_views() WHERE "
                      "database_name = current_database() AND NOT internal"),
            ("columns", "SELECT schema_name, table_name, column_name, data_type FROM "
                        "duckdb_columns() WHERE database_name = current_database()"),
            ("temporary", "SELECT table_name FROM duckdb_tables() WHERE temporary")):
        out[key] = sorted(con.execute(sql).fetchall())
    return out


NOISE = ("Traceback", "Python exception", "_udf", "Exception:", "TaskError", "TrainError",
         "SchemaError", "LoadError", "CompileError", "Invalid Input Error")


def refused(con, sql: str, argument: str, phrase: str) -> str:
    """Feed ``sql`` to the shell: one error line naming ``argument`` and saying ``phrase``,
    nothing printed, and the database as it was."""
    out, err = io.StringIO(), io.StringIO()
    shell = Shell(con, out=out, err=err, progress=False)
    before = state(con)
    shell.feed([sql])
    lines = err.getvalue().splitlines()
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith("Error: ") and f"'{argument}'" in line and phrase in line, line
    own = line.split("failed to run: ")[0]   # what follows is DuckDB's reason, as it says it
    for noise in NOISE:
        assert noise not in own, line
    assert out.getvalue() == "" and shell.errors == 1
    assert state(con) == before
    return line


# (SQL, the argument the line must name, a phrase it must contain)
CASES = [
    # -- relatron_load(dataset, path, replace) ---------------------------------------------
    ("SELECT relatron_load(NULL);", "dataset", "is required and was NULL"),
    ("SELECT relatron_load('');", "dataset", "unknown dataset ''"),
    ("SELECT relatron_load('NYCFLIGHTS13');", "dataset", "valid: 'ergast_f1', 'lahman'"),
    ("SELECT relatron_load(42);", "dataset", "expected VARCHAR, got INTEGER"),
    ("SELECT relatron_load('nycflights13', path := 5);", "path", "expected VARCHAR, got INTEGER"),
    ("SELECT relatron_load('ergast_f1', '/dev/null');", "path", "is not a folder"),
    ("SELECT relatron_load('lahman', '/nonexistent');", "path", "is not a folder"),
    ("SELECT relatron_load('stackexchange');", "path", "needs the folder of its files"),
    ("SELECT relatron_load('nycflights13', replace := 'maybe');", "replace",
     "'maybe' cannot be read as BOOLEAN"),
    # -- relatron_declare(table_name, primary_key, foreign_keys, time_column) --------------
    ("SELECT relatron_declare('');", "table_name", "no table ''"),
    ("SELECT relatron_declare(42);", "table_name", "expected VARCHAR, got INTEGER"),
    ("SELECT relatron_declare('USERS', primary_key := 'user_id');", "table_name",
     "(there is 'users': names match exactly)"),
    ("SELECT relatron_declare('relatron.tasks', primary_key := 'name');", "table_name",
     "no table 'relatron.tasks'"),
    ("SELECT relatron_declare('tasks', primary_key := 'name');", "table_name",
     "no table 'tasks'"),
    ("SELECT relatron_declare('users', primary_key := 'USER_ID');", "primary_key",
     "has no column 'USER_ID'"),
    ("SELECT relatron_declare('users', primary_key := 5);", "primary_key",
     "expected VARCHAR, got INTEGER"),
    ("SELECT relatron_declare('users', primary_key := 'signup');", "primary_key",
     "a primary key must be unique and never NULL"),
    ("SELECT relatron_declare('users', time_column := 'age');", "time_column",
     "users.age has type BIGINT; a time column must be DATE or TIMESTAMP"),
    ("SELECT relatron_declare('users', time_column := 5);", "time_column",
     "expected VARCHAR, got INTEGER"),
    ("SELECT relatron_declare('orders', foreign_keys := 'users');", "foreign_keys",
     "'users' cannot be read as MAP(VARCHAR, VARCHAR)"),
    ("SELECT relatron_declare('orders', foreign_keys := {'user_id': 5});", "foreign_keys",
     "every value must be text or NULL, got STRUCT(user_id INTEGER)"),
    ("SELECT relatron_declare('orders', foreign_keys := {'user_id': {'t': 'users'}});",
     "foreign_keys", "every value must be text or NULL, got STRUCT(user_id STRUCT"),
    ("SELECT relatron_declare('orders', foreign_keys := {'user_id': NULL});", "foreign_keys",
     "column 'user_id' references a NULL table"),
    ("SELECT relatron_declare('orders', foreign_keys := MAP {'user_id': ''});", "foreign_keys",
     "column 'user_id' references unknown table ''"),
    ("SELECT relatron_declare('orders', foreign_keys := MAP {'user_id': NULL});", "foreign_keys",
     "column 'user_id' references a NULL table; give the name of the table it points to"),
    ("SELECT relatron_declare('orders', foreign_keys := MAP {'user_id': 'USERS'});",
     "foreign_keys", "references unknown table 'USERS'"),
    ("SELECT relatron_declare('orders', foreign_keys := MAP {'': 'users'});", "foreign_keys",
     "table 'orders' has no column ''"),
    # -- relatron_task(name, entity, kind, horizon, ...) -----------------------------------
    (_task(name="42"), "name", "expected VARCHAR, got INTEGER"),
    (_task(entity="''"), "entity", "no table ''"),
    (_task(entity="'USERS'"), "entity", "(there is 'users': names match exactly)"),
    (_task(entity="'relatron.tasks'"), "entity", "no table 'relatron.tasks'"),
    (_task(entity="5"), "entity", "expected VARCHAR, got INTEGER"),
    (_task(kind="NULL"), "kind", "is required and was NULL"),
    (_task(kind="''"), "kind", "unknown kind ''"),
    (_task(kind="'Binary'"), "kind", "valid: 'binary', 'multiclass', 'regression'"),
    (_task(kind="1"), "kind", "expected VARCHAR, got INTEGER"),
    (_task(horizon="NULL"), "horizon", "is required and was NULL"),
    (_task(horizon="CAST(NULL AS INTERVAL)"), "horizon", "is required and was NULL"),
    (_task(horizon="'abc'"), "horizon", "'abc' cannot be read as INTERVAL"),
    (_task(horizon="'-30 days'"), "horizon", "must be a positive interval, got -30 days"),
    (_task(horizon="INTERVAL '1 day -48 hours'"), "horizon", "must be a positive interval"),
    (_task(horizon="'1 day 1 month'"), "horizon", "months and years have no fixed length"),
    (_task(horizon="INTERVAL 1 MICROSECOND"), "horizon", "more than the 100,000 allowed"),
    (_task(horizon="'30'"), "horizon", "00:00:30 would make 437,760 train anchors"),
    (_task(horizon="30::BIGINT"), "horizon", "expected INTERVAL, got BIGINT"),
    (_task(horizon="TIMESTAMP '2020-01-01'"), "horizon", "expected INTERVAL, got TIMESTAMP"),
    (_task(test_timestamp="NULL"), "test_timestamp", "is required"),
    (_task(val_timestamp="'notadate'"), "val_timestamp", "'notadate' cannot be read as TIMESTAMP"),
    (_task(val_timestamp="42"), "val_timestamp", "expected TIMESTAMP, got INTEGER"),
    (_task(val_timestamp="TIMESTAMPTZ '2020-06-01 00:00:00+00'"), "val_timestamp",
     "expected TIMESTAMP, got TIMESTAMP WITH TIME ZONE"),
    (_task(test_timestamp="'soon'"), "test_timestamp", "'soon' cannot be read as TIMESTAMP"),
    (_task(val_timestamp="'infinity'::TIMESTAMP", test_timestamp="'infinity'::TIMESTAMP"),
     "val_timestamp", "must be before test_timestamp"),
    (_task(eval_windows="NULL"), "eval_windows", "is required and was NULL"),
    (_task(eval_windows="-5"), "eval_windows", "must be at least 1, got -5"),
    (_task(eval_windows="'many'"), "eval_windows", "'many' cannot be read as BIGINT"),
    (_task(eval_windows="2.5"), "eval_windows", "expected BIGINT, got DECIMAL(2,1)"),
    (_task(train_start="'x'"), "train_start", "'x' cannot be read as TIMESTAMP"),
    (_task(train_start="'infinity'::TIMESTAMP"), "train_start", "after the last train anchor"),
    (_task(description="5"), "description", "expected VARCHAR, got INTEGER"),
    (_task(replace="'maybe'"), "replace", "'maybe' cannot be read as BOOLEAN"),
    (_task(name="'user-active'", replace="NULL"), "name",
     "task 'user-active' exists; pass replace := true"),
    (_task(exclude="'users.age'"), "exclude", "'users.age' cannot be read as VARCHAR[]"),
    (_task(exclude="[42]"), "exclude", "expected VARCHAR[], got INTEGER[]"),
    (_task(exclude="['USERS.age']"), "exclude", "no table 'USERS' is linked to 'users'"),
    (_task(exclude="['users.']"), "exclude", "table 'users' has no column ''"),
    (_task(exclude="['a.b.c']"), "exclude", "'a.b.c': no table 'a' is linked to 'users'"),
    (_task(label_sql="5"), "label_sql", "expected VARCHAR, got INTEGER"),
    (_task(label_sql="'CREATE TABLE zz AS SELECT 1'"), "label_sql", "must be a single SELECT"),
    (_task(label_sql="'" + LABEL.replace("'", "''") + " WHERE u.age > ?'"), "label_sql",
     "failed to run: Invalid Input Error: Values were not provided"),
    (_task(label_sql="'SELECT a.anchor_time, u.user_id::VARCHAR || ''x'', 1 FROM "
                     "relatron_anchors a JOIN users u ON u.signup <= a.anchor_time'"),
     "label_sql", "whose entity id is not a users.user_id"),
    (_task(kind="'regression'", label_sql="'SELECT a.anchor_time, u.user_id, 1e308 * 10 FROM "
                                          "relatron_anchors a JOIN users u ON true'"),
     "label_sql", "infinite or NaN"),
    # -- relatron_task_rows(name), relatron_predictions(name) ------------------------------
    ("FROM relatron_task_rows(NULL);", "name", "is required and was NULL"),
    ("FROM relatron_task_rows('');", "name", "no task ''"),
    ("FROM relatron_predictions(NULL);", "name", "is required and was NULL"),
    ("FROM relatron_predictions('');", "name", "no task ''"),
    ("FROM relatron_predictions('USER-ACTIVE');", "name", "no task 'USER-ACTIVE'"),
    # -- relatron_train(name, family, budget, seed, device, time_budget, retrain) ----------
    ("SELECT relatron_train('');", "name", "no task ''"),
    ("SELECT relatron_train('USER-ACTIVE');", "name", "valid: 'user-active', 'user-spend'"),
    ("SELECT relatron_train('user-active', family := '');", "family", "unknown family ''"),
    ("SELECT relatron_train('user-active', family := 'DFS');", "family", "unknown family 'DFS'"),
    ("SELECT relatron_train('user-active', family := 'both');", "family",
     "valid: 'auto', 'baseline', 'dfs', 'rdl'"),
    ("SELECT relatron_train('user-active', family := 42);", "family",
     "expected VARCHAR, got INTEGER"),
    ("SELECT relatron_train('user-active', device := NULL);", "device",
     "is required and was NULL"),
    ("SELECT relatron_train('user-active', device := '');", "device", "unknown device ''"),
    ("SELECT relatron_train('user-active', device := 'CPU');", "device", "valid: 'cpu', 'cuda'"),
    ("SELECT relatron_train('user-active', device := 1);", "device",
     "expected VARCHAR, got INTEGER"),
    ("SELECT relatron_train('user-active', budget := 0);", "budget", "positive"),
    ("SELECT relatron_train('user-spend', family := 'baseline', budget := 0);", "budget",
     "positive"),
    ("SELECT relatron_train('user-active', budget := 'nan'::DOUBLE);", "budget",
     "expected BIGINT, got DOUBLE"),
    ("SELECT relatron_train('user-active', seed := 'x');", "seed", "'x' cannot be read as BIGINT"),
    ("SELECT relatron_train('user-active', retrain := 'maybe');", "retrain",
     "'maybe' cannot be read as BOOLEAN"),
    ("SELECT relatron_train('user-active', retrain := 2);", "retrain",
     "expected BOOLEAN, got INTEGER"),
    ("SELECT relatron_train('user-active', time_budget := 'soon');", "time_budget",
     "'soon' cannot be read as DOUBLE"),
    ("SELECT relatron_train('user-spend', family := 'baseline', time_budget := -0.0);",
     "time_budget", "must be positive, finite seconds"),
    ("SELECT relatron_train('user-active', time_budget := INTERVAL 5 MINUTE);", "time_budget",
     "expected DOUBLE, got INTERVAL"),
    # -- relatron_predict(name, split, anchor_time) ----------------------------------------
    ("SELECT relatron_predict('');", "name", "no task ''"),
    ("SELECT relatron_predict(42);", "name", "expected VARCHAR, got INTEGER"),
    ("SELECT relatron_predict('user-active', split := '');", "split", "unknown split ''"),
    ("SELECT relatron_predict('user-active', split := 'TEST');", "split",
     "valid: 'test', 'train', 'val'"),
    ("SELECT relatron_predict('user-active', split := 'fresh');", "split",
     "unknown split 'fresh'"),
    ("SELECT relatron_predict('user-active', split := NULL, anchor_time := NULL);", "split",
     "give a split or an anchor_time"),
    ("SELECT relatron_predict('user-active', split := 'val', anchor_time := TIMESTAMP "
     "'2020-06-01');", "split", "'val' and an anchor_time: give one"),
    ("SELECT relatron_predict('user-active', anchor_time := 'soon');", "anchor_time",
     "'soon' cannot be read as TIMESTAMP"),
    ("SELECT relatron_predict('user-active', anchor_time := 42);", "anchor_time",
     "expected TIMESTAMP, got INTEGER"),
    ("SELECT relatron_predict('user-active', anchor_time := TIMESTAMPTZ '2020-06-01 00:00:00+00');",
     "anchor_time", "expected TIMESTAMP, got TIMESTAMP WITH TIME ZONE"),
    ("SELECT relatron_predict('user-active', anchor_time := '-infinity'::TIMESTAMP);",
     "anchor_time", "no users row exists at 0001-01-01"),
    ("SELECT relatron_predict('user-active', anchor_time := TIMESTAMP '0001-01-01');",
     "anchor_time", "the earliest signup is 2020-01-01"),
    ("SELECT relatron_predict('user-spend', anchor_time := TIMESTAMP '2020-06-01');", "name",
     "no trained model yet"),
    # -- relatron_evaluate(name, split) ----------------------------------------------------
    ("SELECT relatron_evaluate(NULL);", "name", "is required and was NULL"),
    ("SELECT relatron_evaluate('');", "name", "no task ''"),
    ("SELECT relatron_evaluate('user-active', split := '');", "split", "unknown split ''"),
    ("SELECT relatron_evaluate('user-active', split := 'fresh');", "split",
     "unknown split 'fresh'"),
    ("SELECT relatron_evaluate('user-active', split := 5);", "split",
     "expected VARCHAR, got INTEGER"),
    # -- relatron_explain(name) ------------------------------------------------------------
    ("FROM relatron_explain('');", "name", "no task ''"),
    ("FROM relatron_explain('nope');", "name", "no task 'nope'"),
    ("FROM relatron_explain(5);", "name", "expected VARCHAR, got INTEGER"),
    # -- relatron_features_sql(name, dialect) ----------------------------------------------
    ("SELECT relatron_features_sql(NULL);", "name", "is required and was NULL"),
    ("SELECT relatron_features_sql('');", "name", "no task ''"),
    ("SELECT relatron_features_sql(5);", "name", "expected VARCHAR, got INTEGER"),
    ("SELECT relatron_features_sql('user-active', dialect := '');", "dialect",
     "unknown dialect ''"),
    ("SELECT relatron_features_sql('user-active', dialect := 'SPARK');", "dialect",
     "valid: 'bigquery', 'duckdb'"),
    ("SELECT relatron_features_sql('user-active', dialect := 5);", "dialect",
     "expected VARCHAR, got INTEGER"),
    # -- relatron_route(name, bank) --------------------------------------------------------
    ("SELECT relatron_route('');", "name", "no task ''"),
    ("SELECT relatron_route(5);", "name", "expected VARCHAR, got INTEGER"),
    ("SELECT relatron_route('user-active', bank := 5);", "bank", "expected VARCHAR, got INTEGER"),
]


@pytest.mark.parametrize("sql, argument, phrase", CASES, ids=[c[0][:70] for c in CASES])
def test_bad_argument_is_one_line_and_changes_nothing(db, sql, argument, phrase):
    refused(db, sql, argument, phrase)


def test_declaring_a_temporary_table_names_table_name(db):
    db.execute("CREATE TEMP TABLE scratch AS SELECT 1 AS id")
    refused(db, "SELECT relatron_declare('scratch', primary_key := 'id');", "table_name",
            "no table 'scratch'")


def test_load_with_replace_null_does_not_replace(db):
    db.execute("CREATE TABLE weather (x INTEGER)")
    refused(db, "SELECT relatron_load('nycflights13', replace := NULL);", "replace",
            "table 'weather' exists; pass replace := true")
    assert db.execute("SELECT COUNT(*) FROM weather").fetchall() == [(0,)]


@pytest.mark.parametrize("writing, statement", [
    ("WITH d AS (DELETE FROM orders RETURNING *) ", "DELETE"),
    ("WITH d AS (UPDATE orders SET amount = 0 RETURNING *) ", "UPDATE"),
    ("WITH d AS (INSERT INTO groups VALUES (99) RETURNING *) ", "INSERT"),
])
def test_a_label_query_that_writes_is_refused_before_it_runs(db, writing, statement):
    """A CTE can wrap DELETE ... RETURNING in an otherwise valid label query: it is refused,
    naming label_sql, and nothing is deleted, changed or added."""
    orders = db.execute("SELECT COUNT(*), SUM(amount) FROM orders").fetchall()[0]
    assert orders[0] > 0
    sql = _task(label_sql="'" + (writing + LABEL).replace("'", "''") + "'")
    refused(db, sql, "label_sql", f"must only read data; it holds a statement of kind {statement}")
    assert db.execute("SELECT COUNT(*), SUM(amount) FROM orders").fetchall()[0] == orders


def test_a_multiclass_label_too_large_for_a_class_number_names_label_sql(db):
    """Each class is an output of every model: a label of 3,000,000,000 is refused, not cast."""
    label = LABEL.replace("(u.age > 40)::INT", "CASE WHEN u.age > 40 THEN 3000000000 ELSE 0 END")
    refused(db, _task(kind="'multiclass'", label_sql="'" + label.replace("'", "''") + "'"),
            "label_sql", "class numbers below 1,000, got 3000000000")


def test_a_label_query_that_returns_no_rows_names_label_sql(db):
    """Refused when defined, not at training with a message about timestamps."""
    refused(db, _task(label_sql="'" + (LABEL + " WHERE false").replace("'", "''") + "'"),
            "label_sql", "returned no rows with a label")


@pytest.mark.parametrize("sql, argument, phrase", [
    ("SELECT relatron_train('user-active', familly := 'dfs');", "familly",
     "not an argument of relatron_train; valid: 'name', 'family', 'budget'"),
    (_task(horizon_days="3"), "horizon_days", "not an argument of relatron_task"),
    ("SELECT relatron_declare('users', pk := 'user_id');", "pk",
     "not an argument of relatron_declare"),
    ("FROM relatron_task_rows(5);", "name", "of relatron_task_rows: expected VARCHAR"),
    ("FROM relatron_predictions(5);", "name", "of relatron_predictions: expected VARCHAR"),
])
def test_a_misspelt_argument_or_wrong_type_names_what_the_user_wrote(db, sql, argument, phrase):
    line = refused(db, sql, argument, phrase)
    assert "_query" not in line and '"system"' not in line


def test_time_columns_that_are_all_null_are_said_so(db):
    db.execute("UPDATE users SET signup = NULL")
    db.execute("UPDATE orders SET time = NULL")
    refused(db, _task(), "entity", "every value of the time columns linked to 'users' "
            "(orders.time, users.signup) is NULL")


def test_fresh_predictions_on_an_empty_entity_table_say_it_is_empty(db):
    db.execute("DELETE FROM items")
    db.execute("DELETE FROM orders")
    db.execute("DELETE FROM users")
    refused(db, "SELECT relatron_predict('user-active', anchor_time := TIMESTAMP '2020-06-01');",
            "anchor_time", "(table users has no rows)")


def test_an_infinite_anchor_time_is_refused(db):
    refused(db, "SELECT relatron_predict('user-active', anchor_time := 'infinity'::TIMESTAMP);",
            "anchor_time", "must be before 9999-12-31 23:59:59.999999")


def test_a_duplicated_key_is_shown_as_sql_shows_it(db):
    line = refused(db, "SELECT relatron_declare('users', primary_key := 'signup');",
                   "primary_key", "appears")
    assert "datetime" not in line


def test_train_over_rows_registers_nothing_when_a_later_row_fails(db):
    before = state(db)
    with pytest.raises(duckdb.Error, match="argument 'name': no task 'nope'"):
        db.execute("SELECT relatron_train(name, family := 'baseline') FROM "
                   "(VALUES ('user-spend'), ('nope')) t(name)").fetchall()
    with pytest.raises(duckdb.Error, match="argument 'family': unknown family 'forest'"):
        db.execute("SELECT relatron_train('user-spend', family := f) FROM "
                   "(VALUES ('baseline'), ('forest')) t(f)").fetchall()
    assert state(db) == before
    assert db.execute("SELECT COUNT(*) FROM relatron.models WHERE name = 'user-spend'"
                      ).fetchall() == [(0,)]


def test_errors_from_python_name_the_argument_too(db):
    """The errors Relatron raises itself read the same without the shell."""
    before = state(db)
    for sql, match in (
            ("SELECT relatron_load(NULL)", "argument 'dataset': is required and was NULL"),
            (_task(kind="NULL").rstrip(";"), "argument 'kind': is required and was NULL"),
            (_task(horizon="NULL").rstrip(";"), "argument 'horizon': is required and was NULL"),
            ("SELECT relatron_train('user-active', device := NULL)",
             "argument 'device': is required and was NULL"),
            ("FROM relatron_task_rows(NULL)", "argument 'name': is required and was NULL"),
            ("SELECT relatron_features_sql(NULL)", "argument 'name': is required and was NULL"),
            ("SELECT relatron_predict('user-active', anchor_time := TIMESTAMP '0001-01-01')",
             "argument 'anchor_time': no users row exists")):
        with pytest.raises(duckdb.Error, match=match):
            db.execute(sql).fetchall()
    assert state(db) == before


@pytest.mark.parametrize("sql, message", [
    ("SELECT relatron_train(42)",
     "argument 'name' of relatron_train: expected VARCHAR, got INTEGER"),
    ("SELECT relatron_train('user-active', budget := 2.5)",
     "argument 'budget' of relatron_train: expected BIGINT, got DECIMAL(2,1)"),
    ("SELECT relatron_train('user-active', budget := 'many')",
     "argument 'budget': 'many' cannot be read as BIGINT"),
    ("SELECT relatron_train('user-active', seed := 99999999999999999999999)",
     "argument 'seed': 99999999999999999999999 is out of range for BIGINT"),
    ("SELECT relatron_train('user-active', retrain := 2)",
     "argument 'retrain' of relatron_train: expected BOOLEAN, got INTEGER"),
    ("SELECT relatron_predict('user-active', anchor_time := 42)",
     "argument 'anchor_time' of relatron_predict: expected TIMESTAMP, got INTEGER"),
    ("SELECT relatron_predict('user-active', anchor_time := 'soon')",
     "argument 'anchor_time': 'soon' cannot be read as TIMESTAMP"),
    ("SELECT relatron_declare('orders', foreign_keys := {'user_id': 5})",
     "argument 'foreign_keys' of relatron_declare: every value must be text or NULL, got "
     "STRUCT(user_id INTEGER)"),
    ("SELECT relatron_declare('orders', foreign_keys := [['user_id', 'users']])",
     "argument 'foreign_keys' of relatron_declare: expected MAP(VARCHAR, VARCHAR), got "
     "VARCHAR[][]"),
    (_task(horizon="30::BIGINT").rstrip(";"),
     "argument 'horizon' of relatron_task: expected INTERVAL, got BIGINT"),
    (_task(exclude="[42]").rstrip(";"),
     "argument 'exclude' of relatron_task: expected VARCHAR[], got INTEGER[]"),
    ("FROM relatron_task_rows(5)",
     "argument 'name' of relatron_task_rows: expected VARCHAR, got INTEGER"),
    ("FROM relatron_predictions(5)",
     "argument 'name' of relatron_predictions: expected VARCHAR, got INTEGER"),
    ("FROM relatron_explain(5)",
     "argument 'name' of relatron_explain: expected VARCHAR, got INTEGER"),
    ("SELECT relatron_train(name, budget := b) FROM (VALUES ('user-active', 'x')) t(name, b)",
     "argument 'budget': 'x' cannot be read as BIGINT"),
])
def test_a_wrong_type_from_python_names_the_argument(db, sql, message):
    """Without the shell (plain Python, dbt): a wrong type or an unreadable value is Relatron's
    own error naming the argument, not DuckDB's binder error about an internal function, and
    the database is left as it was."""
    before = state(db)
    with pytest.raises(duckdb.Error) as caught:
        db.execute(sql).fetchall()
    text = str(caught.value)
    assert message in text, text
    assert "_udf" not in text and "Binder Error" not in text
    assert state(db) == before


@pytest.mark.parametrize("sql", [
    "SELECT relatron_predict('user-active', anchor_time := DATE '2020-06-01')",
    "SELECT relatron_predict('user-active', anchor_time := TIMESTAMP_NS '2020-06-01')",
    "SELECT relatron_predict('user-active', anchor_time := '2020-06-01')",
])
def test_arguments_of_types_that_convert_are_taken_as_before(db, sql):
    """The type checks refuse only what could not be read: a DATE, a nanosecond TIMESTAMP or a
    string that reads as one stay valid anchor times."""
    assert db.execute(sql).fetchall()[0][0] > 0


def test_foreign_keys_as_a_struct_or_a_python_dict_declare_what_the_map_does(db):
    """``{'user_id': 'users'}`` is a STRUCT literal in DuckDB, and a Python dict passed as a
    parameter arrives as one: both are read as the MAP of the same entries."""
    def declared():
        return db.execute("SELECT foreign_keys FROM relatron.declarations "
                          "WHERE table_name = 'orders'").fetchall()
    db.execute("SELECT relatron_declare('orders', foreign_keys := MAP {})")
    cleared = declared()
    db.execute("SELECT relatron_declare('orders', foreign_keys := MAP {'user_id': 'users'})")
    as_map = declared()
    assert as_map != cleared
    db.execute("SELECT relatron_declare('orders', foreign_keys := MAP {})")
    db.execute("SELECT relatron_declare('orders', foreign_keys := {'user_id': 'users'})")
    assert declared() == as_map
    db.execute("SELECT relatron_declare('orders', foreign_keys := MAP {})")
    db.execute("SELECT relatron_declare('orders', foreign_keys := ?)", [{"user_id": "users"}])
    assert declared() == as_map


@pytest.mark.parametrize("sql, argument", [
    ("SELECT relatron_predict('user-active', split := 'a:=1', anchr := 1);", "anchr"),
    ("SELECT relatron_predict('user-active', split := 'val' /* x := 1 */, anchr := 1);",
     "anchr"),
    ("SELECT relatron_predict('user-active'), relatron_predict('user-active', bad := 1);",
     "bad"),
    ("SELECT relatron_predict('user-active',\n  anchr_time := TIMESTAMP '2020-01-01');",
     "anchr_time"),
    (_task(label_sql="'SELECT * FROM read_csv(''l.csv'', header := true)'",
           horizn="INTERVAL 1 DAY"), "horizn"),
])
def test_the_misspelt_argument_is_found_past_strings_comments_and_nested_calls(db, sql,
                                                                               argument):
    refused(db, sql, argument, "not an argument of relatron_")


def test_an_argument_named_in_another_case_is_not_called_misspelt(db):
    """DuckDB takes SPLIT := as split :=; what it refuses here is the argument given twice."""
    out, err = io.StringIO(), io.StringIO()
    Shell(db, out=out, err=err, progress=False).feed(
        ["SELECT relatron_predict('user-active', 'test', NULL, SPLIT := 'val');"])
    assert "not an argument" not in err.getvalue() and err.getvalue().startswith("Error: ")


def test_negative_intervals_read_back_as_the_same_interval(db):
    import datetime as dt
    from relatron_sql.errors import interval_text
    for value in (dt.timedelta(days=-1, hours=-2), dt.timedelta(days=-30),
                  dt.timedelta(hours=-2), dt.timedelta(days=1, hours=-2),
                  dt.timedelta(days=2, microseconds=5), dt.timedelta(0)):
        text = interval_text(value)
        assert db.execute("SELECT CAST(? AS INTERVAL) = ?", [text, value]).fetchall() == \
            [(True,)], (value, text)
    assert interval_text(dt.timedelta(days=-1, hours=-2)) == "-1 day -02:00:00"


@pytest.mark.parametrize("sql", [
    "SELECT relatron_predict('user-active');",
    "SELECT relatron_predict('user-active', anchor_time := TIMESTAMP '2020-06-01');",
    "SELECT relatron_evaluate('user-active');",
    "FROM relatron_explain('user-active');",
])
def test_a_task_redefined_since_its_training_says_to_train_it_again(db, sql):
    """Its models are kept, inactive: not 'no trained model yet', which it has."""
    db.execute(_task(name="'user-active'", replace="true"))
    assert db.execute("SELECT COUNT(*) FROM relatron.models WHERE name = 'user-active' AND "
                      "NOT active").fetchall() == [(1,)]
    refused(db, sql, "name", "task 'user-active' was redefined after its last training "
            "(version 1): its models were trained on the earlier definition; train it again "
            "with relatron_train('user-active')")


def test_a_table_outside_schema_main_is_said_to_be_there(db):
    """Relatron reads schema main of the current database: a table of another schema, named
    plainly or as schema.table, is said to be there, not just missing."""
    db.execute("CREATE SCHEMA s; USE s; CREATE TABLE customers AS SELECT range AS id FROM "
               "range(3)")
    rule = ("in schema main; Relatron reads the tables of schema main of the current database, "
            "and ")
    refused(db, "SELECT relatron_declare('customers', primary_key := 'id');", "table_name",
            f"no table 'customers' {rule}'customers' is in schema 's'")
    refused(db, "SELECT relatron_declare('s.customers', primary_key := 'id');", "table_name",
            f"no table 's.customers' {rule}'s.customers' names table 'customers' of schema 's'")
    refused(db, _task(entity="'customers'"), "entity",
            f"no table 'customers' {rule}'customers' is in schema 's'")
    # Relatron's own registry is no user table to point at
    refused(db, "SELECT relatron_declare('tasks', primary_key := 'name');", "table_name",
            "no table 'tasks'; valid:")

"""relatron_task(..., exclude := ['table.column']): columns no model of the task reads."""
import duckdb
import pytest

import relatron_sql
from relatron_sql import registry
from relatron_sql.dfs.family import build_plan
from relatron_sql.rdl.train import Prepared
from relatron_sql.route.affinity import depth1_plan
from relatron_sql.task import load_task
from relatron_sql.testing import ACTIVE_SQL, make_database
from snapshot import snapshot


def _task(con, name="t", exclude="NULL", replace="false"):
    val, test = con.execute("SELECT val_timestamp, test_timestamp FROM relatron.tasks "
                            "WHERE name = 'user-active'").fetchall()[0]
    return con.execute(f"SELECT relatron_task(?, entity := 'users', label_sql := ?, "
                       f"val_timestamp := ?, test_timestamp := ?, exclude := {exclude}, "
                       f"replace := {replace})", [name, ACTIVE_SQL, val, test]).fetchall()


@pytest.fixture
def leaky(con):
    """The generated database with a planted column that tells each user's future: the
    number of orders they place after the validation timestamp."""
    make_database(con, n_users=200)
    con.execute("ALTER TABLE users ADD COLUMN future_orders BIGINT")
    con.execute("UPDATE users SET future_orders = (SELECT COUNT(*) FROM orders o WHERE "
                "o.user_id = users.user_id AND o.time > (SELECT val_timestamp FROM "
                "relatron.tasks WHERE name = 'user-active'))")
    return con


def _reads(plan) -> set:
    return {(c["table"], c["column"]) for g in plan.groups.values() for c in g.columns.values()}


def _encoded(prepared, table) -> set:
    e = prepared.encoders[table]
    return set(e.numeric + e.categorical + e.text + e.stamps)


def test_an_excluded_column_reaches_no_feature_encoder_or_signal(leaky):
    _task(leaky, "open")
    _task(leaky, "closed", exclude="['users.future_orders', 'items.price']")
    open_, closed = load_task(leaky, "open"), load_task(leaky, "closed")
    assert closed.exclude == ("items.price", "users.future_orders")
    assert {("users", "future_orders"), ("items", "price")} <= _reads(build_plan(leaky, open_)[0])
    reads = _reads(build_plan(leaky, closed)[0])
    assert ("users", "future_orders") not in reads and ("items", "price") not in reads
    assert ("users", "age") in reads and ("items", "category") in reads
    assert ("users", "future_orders") not in _reads(depth1_plan(leaky, closed)[0])
    assert "future_orders" in _encoded(Prepared.build(leaky, open_), "users")
    prepared = Prepared.build(leaky, closed)
    assert "future_orders" not in _encoded(prepared, "users")
    assert "price" not in _encoded(prepared, "items") and "age" in _encoded(prepared, "users")


def test_a_model_trained_with_an_exclusion_predicts_without_the_column(leaky):
    _task(leaky, "closed", exclude="['users.future_orders']")
    relatron_sql.train(leaky, "closed", family="dfs", budget=1)
    stored = leaky.execute("SELECT relatron_features_sql('closed')").fetchall()[0][0]
    assert "future_orders" not in stored and "age" in stored
    # the column may even be dropped now: the model never read it
    leaky.execute("ALTER TABLE users DROP COLUMN future_orders")
    written = leaky.execute("SELECT relatron_predict('closed')").fetchall()[0][0]
    out = leaky.execute("SELECT COUNT(*), COUNT(prediction) FROM relatron_predictions('closed')"
                        ).fetchall()[0]
    assert written > 0 and out == (written, written)


def test_changing_the_exclusion_redefines_the_task(leaky):
    _task(leaky, "t")
    relatron_sql.train(leaky, "t", family="dfs", budget=1)
    assert leaky.execute("SELECT COUNT(*) FROM relatron.models WHERE name = 't' AND active"
                         ).fetchall() == [(1,)]
    _task(leaky, "t", exclude="['users.future_orders']", replace="true")
    assert leaky.execute("SELECT COUNT(*) FROM relatron.models WHERE name = 't' AND active"
                         ).fetchall() == [(0,)]


@pytest.mark.parametrize("exclude,match", [
    ("['future_orders']", "exclude.*'future_orders' is not 'table.column'"),
    ("['users.nope']", "exclude.*'users.nope': table 'users' has no column 'nope'"),
    ("['nowhere.x']", "exclude.*no table 'nowhere' is linked to 'users'"),
    ("['users.user_id']", "exclude.*'users.user_id' is the table's pk column"),
    ("['orders.user_id']", "exclude.*'orders.user_id' is the table's fk column"),
    ("['orders.time']", "exclude.*'orders.time' is the table's time column"),
    ("[NULL]", "'exclude': NULL is not 'table.column'"),
])
def test_a_bad_exclusion_names_the_argument_and_changes_nothing(leaky, exclude, match):
    before = snapshot(leaky)
    with pytest.raises(duckdb.Error, match=match):
        _task(leaky, "t", exclude=exclude)
    assert snapshot(leaky) == before


def test_a_registry_made_before_exclusions_gains_the_column(tmp_path):
    path = str(tmp_path / "old.duckdb")
    con = relatron_sql.connect(path)
    make_database(con, n_users=60)
    con.execute("ALTER TABLE relatron.tasks DROP COLUMN exclude")
    con.close()
    con = relatron_sql.connect(path)
    assert load_task(con, "user-active").exclude == ()
    _task(con, "t", exclude="['users.age']")
    assert load_task(con, "t").exclude == ("users.age",)
    con.close()
    # the same through a database attached and used from a session of its own
    plain = duckdb.connect(path)
    plain.execute("ALTER TABLE relatron.tasks DROP COLUMN exclude")
    plain.close()
    other = relatron_sql.connect(":memory:")
    other.execute(f"ATTACH '{path}' AS old")
    other.execute("USE old")
    _task(other, "u", exclude="['users.segment']")
    assert load_task(registry.cursor(other), "u").exclude == ("users.segment",)
    assert load_task(registry.cursor(other), "t").exclude == ()   # went with the column
    other.close()

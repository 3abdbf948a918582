"""Tables and columns with awkward names: quotes, spaces, semicolons, reserved words, mixed case,
unicode and dots, and names that the engine's own queries and batches use for themselves."""
import datetime as dt
import json

import duckdb
import numpy as np
import pyarrow as pa
import pytest

import relatron_sql
from relatron_sql import models
from relatron_sql.dfs.family import build_plan
from relatron_sql.dfs.matrix import feature_matrix
from relatron_sql.schema import declare
from relatron_sql.sqlbuild import quoted, render, table
from relatron_sql.task import create_task, load_task, task_rows
from relatron_sql.testing import make_database

START = np.datetime64("2020-01-01", "us")
DATES = "val_timestamp := TIMESTAMP '2020-07-01', test_timestamp := TIMESTAMP '2020-10-01'"


def _text(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def small_database(users="users", user_columns=(), children=(("orders", ()),), n=60, seed=0):
    """``users`` (n rows, signup time) and child tables of 600 rows each with ``cid``,
    ``user_id``, ``time``, ``amount`` and the extra numeric columns given; task 't' asks whether
    a user has a row of the first child table in the next 30 days."""
    rng = np.random.default_rng(seed)
    con = relatron_sql.connect(":memory:")
    cols = {"user_id": np.arange(n),
            "signup": START + (rng.integers(0, 100, n) * 86400e6).astype("timedelta64[us]")}
    for c in user_columns:
        cols[c] = rng.normal(size=n)
    con.register("src", pa.table(cols))
    con.execute(render("CREATE TABLE :t AS FROM src", t=table(users)))
    con.unregister("src")
    declare(con, users, primary_key="user_id", time_column="signup")
    for k, (name, extra) in enumerate(children):
        u = rng.integers(0, n, 600)
        data = {"cid": np.arange(600), "user_id": u,
                "time": START + (rng.uniform(0, 365, 600) * 86400e6).astype("timedelta64[us]"),
                "amount": rng.normal(size=600) + u % 3}
        for c in extra:
            data[c] = rng.normal(size=600) + (u % 2) * (k + 1)
        con.register("src", pa.table(data))
        con.execute(render("CREATE TABLE :t AS FROM src", t=table(name)))
        con.unregister("src")
        declare(con, name, primary_key="cid", foreign_keys={"user_id": users}, time_column="time")
    label = render("SELECT a.anchor_time, u.user_id, CAST(EXISTS (SELECT 1 FROM :c AS o WHERE "
                   "o.user_id = u.user_id AND o.time > a.anchor_time AND o.time <= a.window_end) "
                   "AS INTEGER) AS label FROM relatron_anchors AS a JOIN :u AS u ON u.signup <= "
                   "a.anchor_time", c=table(children[0][0]), u=table(users))
    create_task(con, "t", users, label, val_timestamp=dt.datetime(2020, 7, 1),
                test_timestamp=dt.datetime(2020, 10, 1))
    return con


def read_columns(con) -> set[tuple[str, str]]:
    """(table, column) of every column the DFS features of task 't' read."""
    plan, _ = build_plan(con, load_task(con, "t"))
    return {(c["table"], c["column"]) for f in plan.features
            if f["column"] and f["group"] != "history"
            for c in [plan.groups[f["group"]].columns[f["column"]]]}


def trains_and_predicts(con, family="dfs", **options):
    summary = models.train(con, "t", family=family, budget=1, **options)
    assert summary["val"]["rows"] > 0
    assert models.predict(con, "t") == summary["test"]["rows"]


# -- every argument through SQL, with names that need quoting ----------------------------------
TABLES = {"groups": 'gr"oup', "users": "Us er;s", "items": "a.b", "orders": "o'rders"}
COLUMNS = {"groups": {"group_id": "select", "kind": "o'brien"},
           "users": {"user_id": "order", "group_id": "from", "signup": "sign up", "age": "日本",
                     "segment": "é"},
           "items": {"item_id": "it.em", "category": "group", "price": 'pr"ice'},
           "orders": {"order_id": "i d", "user_id": "u;id", "item_id": "x.y", "time": "Time",
                      "amount": 'a"b', "channel": "ch'an"}}


@pytest.fixture(scope="module")
def hostile():
    con = relatron_sql.connect(":memory:")
    make_database(con, n_users=80, seed=3, tasks=False)
    con.execute("DELETE FROM relatron.declarations")
    for t, cols in COLUMNS.items():
        for old, new in cols.items():
            con.execute(render("ALTER TABLE :t RENAME COLUMN :o TO :n", t=table(t), o=old, n=new))
    for old, new in TABLES.items():
        con.execute(render("ALTER TABLE :t RENAME TO :n", t=table(old), n=new))
    g, u, i, o = (TABLES[k] for k in ("groups", "users", "items", "orders"))
    cg, cu, ci, co = (COLUMNS[k] for k in ("groups", "users", "items", "orders"))

    def declare_sql(name, pk, fks, time_column):
        keys = "MAP {" + ", ".join(f"{_text(k)}: {_text(v)}" for k, v in fks.items()) + "}"
        con.execute(f"SELECT relatron_declare({_text(name)}, primary_key := {_text(pk)}, "
                    f"foreign_keys := {keys}, time_column := "
                    f"{_text(time_column) if time_column else 'NULL'})").fetchall()
    declare_sql(g, cg["group_id"], {}, None)
    declare_sql(i, ci["item_id"], {}, None)
    declare_sql(u, cu["user_id"], {cu["group_id"]: g}, cu["signup"])
    declare_sql(o, co["order_id"], {co["user_id"]: u, co["item_id"]: i}, co["time"])
    label = (f"SELECT a.anchor_time AS \"a\"\"t\", x.{quoted(cu['user_id'])} AS \"e;id\", "
             f"CAST(EXISTS (SELECT 1 FROM {quoted(o)} y WHERE y.{quoted(co['user_id'])} = "
             f"x.{quoted(cu['user_id'])} AND y.{quoted(co['time'])} > a.anchor_time AND "
             f"y.{quoted(co['time'])} <= a.window_end) AS INTEGER) AS \"select\" FROM "
             f"relatron_anchors a JOIN {quoted(u)} x ON x.{quoted(cu['signup'])} <= a.anchor_time")
    con.execute(f"SELECT relatron_task('t', entity := {_text(u)}, label_sql := ?, {DATES})",
                [label]).fetchall()
    yield con
    con.close()


def test_every_function_reads_tables_and_columns_named_to_need_quoting(hostile):
    con, name = hostile, "'t'"
    roles = {(t, c): r for t, c, r in con.execute(
        "SELECT table_name, column_name, role FROM relatron_schema()").fetchall()}
    assert roles[("Us er;s", "from")] == "fk" and roles[("o'rders", "Time")] == "time"
    assert roles[("a.b", "it.em")] == "pk" and roles[('gr"oup', "select")] == "pk"
    summary = json.loads(con.execute(f"SELECT relatron_train({name}, family := 'dfs', "
                                     "budget := 1)").fetchall()[0][0])
    assert summary["family"] == "dfs" and summary["val"]["rows"] > 0
    assert con.execute(f"SELECT relatron_predict({name})").fetchall()[0][0] > 0
    assert con.execute(f"SELECT relatron_predict({name}, anchor_time := TIMESTAMP "
                       "'2020-11-01')").fetchall()[0][0] == 80
    assert json.loads(con.execute(f"SELECT relatron_evaluate({name})").fetchall()[0][0])["metrics"]
    for dialect in ("duckdb", "spark", "postgres"):
        assert con.execute(f"SELECT relatron_features_sql({name}, dialect := "
                           f"'{dialect}')").fetchall()[0][0]
    # the two unicode columns of the entity table are two features, not one
    assert {("Us er;s", "日本"), ("Us er;s", "é")} <= read_columns(con)


def test_names_that_differ_in_case_are_refused_naming_the_argument(hostile):
    with pytest.raises(duckdb.Error, match=r"argument 'table_name': no table 'us er;s' \(there "
                                           r"is 'Us er;s'"):
        hostile.execute("SELECT relatron_declare('us er;s', primary_key := 'order')").fetchall()
    with pytest.raises(duckdb.Error, match=r"argument 'primary_key': table 'Us er;s' has no "
                                           r"column 'ORDER'"):
        hostile.execute("SELECT relatron_declare('Us er;s', primary_key := 'ORDER')").fetchall()
    with pytest.raises(duckdb.Error, match=r"argument 'entity': no table 'us er;s'"):
        hostile.execute("SELECT relatron_task('u', entity := 'us er;s', label_sql := 'SELECT 1', "
                        f"{DATES})").fetchall()


# -- DFS: feature groups and column aliases made from names --------------------------------
@pytest.mark.parametrize("child", ["history", "entity", "History", "ENTITY"])
def test_a_child_table_named_like_a_builtin_feature_group(child):
    """'history' is the task's label history and 'entity' the entity's own columns."""
    con = small_database(children=[("orders", ()), (child, ("x",))])
    assert (child, "x") in read_columns(con) and ("users", "signup") in read_columns(con)
    trains_and_predicts(con)


def test_child_tables_whose_names_make_the_same_group_name():
    con = small_database(children=[("日本", ("x",)), ("é", ("y",))])
    assert {("日本", "x"), ("é", "y"), ("日本", "amount"), ("é", "amount")} <= read_columns(con)
    trains_and_predicts(con)


def test_columns_whose_names_make_the_same_alias_are_each_read():
    con = small_database(user_columns=("日本", "é"), children=[("orders", ("ü", "ß", "a b",
                                                                          "a-b"))])
    assert {("users", "日本"), ("users", "é"), ("orders", "ü"), ("orders", "ß"),
            ("orders", "a b"), ("orders", "a-b")} <= read_columns(con)
    trains_and_predicts(con)


def test_columns_named_like_the_feature_query_keys():
    con = small_database(user_columns=("anchor_time", "entity_key"),
                         children=[("orders", ("anchor_time", "entity_key", "entity_id"))])
    assert {("orders", "anchor_time"), ("orders", "entity_key")} <= read_columns(con)
    trains_and_predicts(con)


def test_columns_named_like_the_feature_query_keys_in_another_case():
    """DuckDB compares identifiers without case: Anchor_Time is the query's anchor_time."""
    con = small_database(user_columns=("Entity_Key",),
                         children=[("orders", ("Anchor_Time", "Entity_Key"))])
    assert {("orders", "Anchor_Time"), ("orders", "Entity_Key")} <= read_columns(con)
    trains_and_predicts(con)


def _features(con):
    plan, info = build_plan(con, load_task(con, "t"))
    rows = task_rows(con, "t", "train")
    return plan, info, rows


def test_a_child_column_named_like_the_compilers_row_number_changes_no_feature():
    plain = small_database()
    spoiled = small_database()
    spoiled.execute('ALTER TABLE orders ADD COLUMN "_seq" DOUBLE')
    spoiled.execute('UPDATE orders SET "_seq" = -cid')     # against the row order
    plan, info, rows = _features(plain)
    plan2, info2, _ = _features(spoiled)
    names = [f["name"] for f in plan.features]
    assert any(f["agg"] == "last" for f in plan.features)
    sub = plan2.subset(names)
    sub.features.sort(key=lambda f: names.index(f["name"]))
    assert [f["name"] for f in sub.features] == names
    want = feature_matrix(plain, plan, info, rows["anchor_time"], rows["entity_id"])
    got = feature_matrix(spoiled, sub, info2, rows["anchor_time"], rows["entity_id"])
    np.testing.assert_array_equal(got, want)


# -- RDL: batches keyed by table -------------------------------------------------------------
@pytest.mark.parametrize("child", ["y", "hist"])
def test_rdl_reads_a_table_named_like_a_batch_attribute(child):
    con = small_database(n=40, children=[("orders", ()), (child, ("x",))])
    trains_and_predicts(con, family="rdl", time_budget=3)


# -- exclude := ['table.column'] where a name holds a dot -----------------------------------
def _dotted():
    con = small_database(children=[("orders", ()), ("a.b", ("c", "price"))])
    con.execute('ALTER TABLE orders ADD COLUMN "x.y" DOUBLE')
    con.execute('UPDATE orders SET "x.y" = amount * 2')
    return con


def _task(con, exclude: str):
    label = con.execute("SELECT label_sql FROM relatron.tasks WHERE name = 't'").fetchall()[0][0]
    con.execute(f"SELECT relatron_task('t', entity := 'users', label_sql := ?, {DATES}, "
                f"replace := true, exclude := {exclude})", [label]).fetchall()
    return load_task(con, "t")


def test_exclude_names_columns_of_tables_and_columns_with_a_dot():
    con = _dotted()
    task = _task(con, "['a.b.price', 'orders.x.y']")
    assert task.exclude == ("a.b.price", "orders.x.y")
    tables = task.schema(con).tables
    assert "price" not in [c.name for c in tables["a.b"].columns]
    assert "x.y" not in [c.name for c in tables["orders"].columns]
    assert "c" in [c.name for c in tables["a.b"].columns]
    read = read_columns(con)
    assert ("a.b", "price") not in read and ("orders", "x.y") not in read and ("a.b", "c") in read


def test_an_exclusion_that_names_two_columns_is_refused():
    con = small_database(children=[("orders", ()), ("a.b", ("c",)), ("a", ("b.c",))])
    with pytest.raises(duckdb.Error, match=r"argument 'exclude': 'a\.b\.c' is ambiguous: it "
                                           r"names column 'b\.c' of table 'a' and column 'c' "
                                           r"of table 'a\.b'"):
        _task(con, "['a.b.c']")
    with pytest.raises(duckdb.Error, match=r"argument 'exclude': 'a\.b\.nope': table 'a' has no "
                                           r"column 'b\.nope'"):
        _task(con, "['a.b.nope']")

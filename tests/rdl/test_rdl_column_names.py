"""Column names and values that once misled the RDL graph and encoders: keys named like a query's
output alias (``k``, ``t``, ``n0``), and non-finite numbers (+-inf, NaN) in a feature column."""
import datetime as dt
import json

import numpy as np
import pytest

import relatron_sql
from relatron_sql import models
from relatron_sql.rdl import train as engine
from relatron_sql.rdl.encoders import TableEncoder
from relatron_sql.rdl.graph import build_graph
from relatron_sql.rdl.sampler import NeighborSampler
from relatron_sql.schema import declare, read_schema
from relatron_sql.sqlbuild import column, render
from relatron_sql.task import load_task
from relatron_sql.testing import make_database

from rdl_helpers import epoch_us

ORDINARY = {"user": "user_id", "event": "event_id", "item": "item_id", "extra": "bonus"}
# users.k and events.t clash with graph.py's outputs, items.n0 and the column n1 with encoders'
ALIASED = {"user": "k", "event": "t", "item": "n0", "extra": "n1"}
ANCHOR = dt.datetime(2020, 12, 25)


def keyed_database(names: dict[str, str]):
    """12 users, 6 items and 12 events whose keys sort differently as text ('10' < '2') and whose
    times and values run against key order, with the key columns named as ``names`` says."""
    con = relatron_sql.connect(":memory:")
    con.execute(render("CREATE TABLE users AS SELECT range AS :u, 100.0 * range AS score "
                       "FROM range(1, 13)", u=names["user"]))
    con.execute(render("CREATE TABLE items AS SELECT range AS :i, 70.0 - range AS price, "
                       "range % 2 AS :x FROM range(1, 7)", i=names["item"], x=names["extra"]))
    con.execute(render("CREATE TABLE events AS SELECT range AS :e, (range % 12) + 1 AS user_ref, "
                       "(range % 6) + 1 AS item_ref, 13.0 - range AS qty, TIMESTAMP '2021-01-01'"
                       " - to_days(CAST(range AS INTEGER)) AS time FROM range(1, 13)",
                       e=names["event"]))
    declare(con, "users", primary_key=names["user"])
    declare(con, "items", primary_key=names["item"])
    declare(con, "events", primary_key=names["event"],
            foreign_keys={"user_ref": "users", "item_ref": "items"}, time_column="time")
    return con


def event_times(con, names) -> np.ndarray:
    """Epoch microseconds of the events in key order, as DuckDB has them."""
    sql = render("SELECT epoch_us(e.time) AS us FROM events AS e ORDER BY :k",
                 k=column(names["event"], "e"))
    return con.execute(sql).fetchnumpy()["us"]


@pytest.fixture(scope="module")
def pair():
    out = []
    for names in (ORDINARY, ALIASED):
        con = keyed_database(names)
        schema = read_schema(con, count_dangling=False)
        g = build_graph(con, schema=schema)
        feats = {}
        for name, t in schema.tables.items():
            feats[name] = TableEncoder.fit(con, t).encode(con, t)
        out.append((con, names, g, feats))
    yield out
    for con, *_ in out:
        con.close()


def test_keys_named_like_an_output_alias_keep_key_order(pair):
    (_, _, plain, _), (con, names, g, _) = pair
    for table in plain.node_types:
        assert g.keys[table].tolist() == plain.keys[table].tolist(), table
    assert g.keys["users"].tolist() == [str(i) for i in range(1, 13)]
    t = g.type_id("events")
    assert np.array_equal(g.node_time[g.type_offset[t]:g.type_offset[t + 1]],
                          event_times(con, names))
    for name in ("node_time", "indptr", "indices", "nbr_time"):
        assert np.array_equal(getattr(g, name), getattr(plain, name)), name


def test_encoded_features_follow_key_order_whatever_the_key_is_called(pair):
    (_, _, _, plain), (_, _, g, feats) = pair
    for table in plain:
        assert np.array_equal(feats[table].num, plain[table].num), table
        assert np.array_equal(feats[table].cat, plain[table].cat), table
    # items in key order 1..6 have prices 69..64: standardised, they fall
    assert np.all(np.diff(feats["items"].num[:, 0]) < 0)


def test_sampled_neighbours_are_the_same_and_never_later_than_the_seed(pair):
    (_, _, plain, _), (con, names, g, _) = pair
    nodes = np.arange(12)
    times = np.full(12, epoch_us(ANCHOR))
    runs = [NeighborSampler(x, [10, 10], "uniform").sample("users", nodes, times, seed=4)
            for x in (plain, g)]
    for name in ("node", "node_type", "hop", "seed", "edge_type", "src", "dst"):
        assert np.array_equal(getattr(runs[0], name), getattr(runs[1], name)), name
    out = runs[1]
    t = g.type_id("events")
    events = out.node[out.node_type == t] - g.type_offset[t]
    assert len(events) > 0
    assert np.all(event_times(con, names)[events] <= epoch_us(ANCHOR))


def _spoil_amounts(con):
    con.execute("ALTER TABLE orders ALTER amount TYPE DOUBLE")
    con.execute("UPDATE orders SET amount = CASE order_id WHEN 0 THEN 'inf'::DOUBLE WHEN 1 THEN "
                "'-inf'::DOUBLE ELSE 'nan'::DOUBLE END WHERE order_id IN (0, 1, 2)")


def test_non_finite_values_are_encoded_as_missing():
    con = relatron_sql.connect(":memory:")
    con.execute("CREATE TABLE a AS SELECT range AS id, CASE WHEN range = 0 THEN 'inf'::DOUBLE "
                "WHEN range = 1 THEN 'nan'::DOUBLE WHEN range = 2 THEN NULL ELSE range END AS x,"
                " CASE WHEN range % 2 = 0 THEN '-inf'::DOUBLE ELSE 'nan'::DOUBLE END AS bad, "
                "CAST(NULL AS DOUBLE) AS empty FROM range(6)")
    declare(con, "a", primary_key="id")
    t = read_schema(con, count_dangling=False).tables["a"]
    enc = TableEncoder.fit(con, t)
    assert enc.numeric == ["x", "bad", "empty"]
    assert enc.means[0] == pytest.approx(4.0) and enc.stds[0] == pytest.approx(np.std([3, 4, 5]))
    num = enc.encode(con, t).num
    assert np.all(np.isfinite(num))
    assert num[:, 1].tolist() == [1, 1, 1, 0, 0, 0]              # inf, NaN, NULL: missing
    assert num[:3, 0].tolist() == [0, 0, 0]
    # a column with no finite value is encoded like an all-NULL one
    assert (enc.means[1], enc.stds[1]) == (enc.means[2], enc.stds[2]) == (0.0, 1.0)
    assert np.array_equal(num[:, 2:4], num[:, 4:6])
    json.dumps(enc.config(), allow_nan=False)
    con.close()


def test_values_near_the_largest_double_are_encoded_finite_and_keep_their_sign():
    """Sums of squares of such values overflow: the scale is found on the values divided by
    their largest magnitude; a later value far outside the fitted rows is clipped."""
    con = relatron_sql.connect(":memory:")
    con.execute("CREATE TABLE a AS SELECT range AS id, CASE WHEN range % 2 = 0 THEN 1e300 "
                "ELSE -1e300 END AS huge, CASE WHEN range = 3 THEN 1.7e308 ELSE range END AS "
                "sentinel, CAST(range * 1.5 AS DOUBLE) AS plain FROM range(40)")
    declare(con, "a", primary_key="id")
    t = read_schema(con, count_dangling=False).tables["a"]
    enc = TableEncoder.fit(con, t)
    assert enc.means[0] == pytest.approx(0.0, abs=1e290) and enc.stds[0] == pytest.approx(1e300)
    assert np.isfinite(enc.stds[1]) and enc.stds[1] > 1e306
    # a column that does not overflow is fitted as before, to the last digit
    plain = np.arange(40) * 1.5
    assert enc.stds[2] == con.execute("SELECT stddev_pop(plain) FROM a").fetchall()[0][0]
    assert enc.means[2] == pytest.approx(plain.mean(), rel=1e-15)
    num = enc.encode(con, t).num
    assert np.all(np.isfinite(num))
    assert num[:, 0].tolist() == [1.0 if i % 2 == 0 else -1.0 for i in range(40)]
    assert num[:, 1].tolist() == num[:, 3].tolist() == [0.0] * 40   # nothing missing
    con.execute("UPDATE a SET plain = 1e308 WHERE id = 5")   # after the fit: far out
    num = enc.encode(con, t).num
    assert np.all(np.isfinite(num)) and num[5, 4] == 1e4
    con.close()


def test_non_finite_amounts_train_to_a_finite_loss():
    con = relatron_sql.connect(":memory:")
    make_database(con, n_users=80, seed=2)
    _spoil_amounts(con)
    task = load_task(con, "user-active")
    prep = engine.Prepared.build(con, task)
    assert np.all(np.isfinite(prep.features["orders"].num))
    logged = []
    _, score, _ = engine.fit(con, task, prep, {"max_epochs": 2, "channels": 16}, 0, "cpu",
                             trial_log=lambda **k: logged.append((k["train_loss"],
                                                                  k["val_metric"])))
    assert logged and np.all(np.isfinite(np.array(logged, dtype=float)))
    assert np.isfinite(score)
    con.close()


def test_non_finite_amounts_register_and_predict_after_reopening(tmp_path):
    path = str(tmp_path / "spoiled.duckdb")
    con = relatron_sql.connect(path)
    make_database(con, n_users=80, seed=2)
    _spoil_amounts(con)
    summary = models.train(con, "user-active", family="rdl", budget=1, seed=0, time_budget=3)
    assert np.isfinite(summary["val"]["auroc"])
    config = json.loads(con.execute("SELECT config FROM relatron.models WHERE active")
                        .fetchall()[0][0])
    orders = config["encoders"]["orders"]
    assert all(np.isfinite(orders["means"])) and all(np.isfinite(orders["stds"]))
    con.close()
    con = relatron_sql.connect(path)
    n = con.execute("SELECT relatron_predict('user-active')").fetchall()[0][0]
    assert n > 0
    preds = np.array([r[0] for r in con.execute(
        "SELECT prediction FROM relatron_predictions('user-active')").fetchall()], dtype=float)
    assert len(preds) == n and np.all(np.isfinite(preds))
    con.close()

"""No sampled node is later than its seed's time, and rows planted in the future change nothing."""
import datetime as dt

import numpy as np
import pytest

from relatron_sql.rdl.graph import build_graph, graph_for
from relatron_sql.rdl.sampler import NeighborSampler
from relatron_sql.sqlbuild import render, table as table_ref

from rdl_helpers import epoch_us


def random_seeds(g, entity, rng, n, lo, hi):
    nodes = rng.integers(0, g.num_nodes(entity), n)
    times = rng.integers(lo, hi, n)
    return nodes, times


def assert_no_future(g, out):
    later = g.node_time[out.node] > out.seed_time[out.seed]
    assert not np.any(later[out.hop > 0]), "a neighbour later than its seed's time was sampled"
    # edges only join nodes of the same seed
    assert np.array_equal(out.seed[out.src], out.seed[out.dst])


@pytest.mark.parametrize("strategy", ["uniform", "last"])
@pytest.mark.parametrize("trial", range(4))
def test_generated_graph_samples_only_the_past(gen_con, strategy, trial):
    g = graph_for(gen_con, "users")
    rng = np.random.default_rng(trial)
    lo, hi = epoch_us(gen_con.execute("SELECT MIN(time), MAX(time) FROM orders").fetchall()[0])
    nodes, times = random_seeds(g, "users", rng, 300, lo - 10**12, hi + 10**12)
    fanouts = [int(f) for f in rng.integers(1, 20, rng.integers(1, 4))]
    out = NeighborSampler(g, fanouts, strategy).sample("users", nodes, times, seed=trial)
    assert out.num_seeds == 300
    assert (out.hop > 0).sum() > 0
    assert_no_future(g, out)


@pytest.mark.parametrize("strategy", ["uniform", "last"])
def test_rel_f1_samples_only_the_past(f1_con, strategy):
    g = graph_for(f1_con, "drivers")
    rng = np.random.default_rng(7)
    lo, hi = epoch_us(f1_con.execute("SELECT MIN(date), MAX(date) FROM races").fetchall()[0])
    for entity in ("drivers", "races", "constructors"):
        nodes, times = random_seeds(g, entity, rng, 400, lo, hi)
        out = NeighborSampler(g, [32, 16], strategy).sample(entity, nodes, times, seed=3)
        assert (out.hop == 2).sum() > 0
        assert_no_future(g, out)


def keyed(g, out):
    """Per seed: the set of (table, key, hop) and of (edge type, source key, target key)."""
    types = np.asarray(g.node_types)[out.node_type]
    local = out.node - g.type_offset[out.node_type]
    keys = np.array([g.keys[t][i] for t, i in zip(types, local)], dtype=object)
    per_seed = []
    for s in range(out.num_seeds):
        sel = out.seed == s
        nodes = set(zip(types[sel], keys[sel], out.hop[sel].tolist()))
        em = out.seed[out.src] == s
        edges = set(zip([g.edge_types[e] for e in out.edge_type[em]], keys[out.src[em]],
                        keys[out.dst[em]]))
        per_seed.append((nodes, edges))
    return per_seed


@pytest.mark.parametrize("strategy", ["uniform", "last"])
def test_planted_future_rows_change_no_sample(gen_con, strategy):
    cutoff = dt.datetime(2020, 8, 1)
    g = graph_for(gen_con, "users")
    rng = np.random.default_rng(1)
    nodes = rng.integers(0, g.num_nodes("users"), 200)
    times = rng.integers(epoch_us(dt.datetime(2020, 2, 1)), epoch_us(cutoff), 200)
    before = keyed(g, NeighborSampler(g, [8, 4], strategy).sample("users", nodes, times, 5))
    # plant orders after every seed's time, for the same users and items, plus a new item
    gen_con.execute("INSERT INTO items VALUES (999, 'x', 1.0)")
    gen_con.execute("INSERT INTO orders SELECT 100000 + order_id, user_id, (order_id % 2) * 999,"
                    " TIMESTAMP '2020-09-01' + to_days(CAST(order_id % 90 AS INTEGER)), amount,"
                    " channel FROM orders")
    g2 = build_graph(gen_con, g.node_types)
    assert g2.num_nodes("orders") == 2 * g.num_nodes("orders")
    after = keyed(g2, NeighborSampler(g2, [8, 4], strategy).sample("users", nodes, times, 5))
    assert before == after


@pytest.mark.parametrize("strategy", ["uniform", "last"])
def test_planted_future_entity_rows_with_smaller_keys_change_no_sample(gen_con, strategy):
    """Uniform draws were keyed by a seed's id within its table, its rank in key order: users
    signed up after every seed's time, with keys below all others, moved every seed's rank and
    so its sample."""
    g = graph_for(gen_con, "users")
    rng = np.random.default_rng(4)
    nodes = rng.integers(0, g.num_nodes("users"), 100)
    times = rng.integers(epoch_us(dt.datetime(2020, 3, 1)), epoch_us(dt.datetime(2020, 8, 1)),
                         100)
    before = keyed(g, NeighborSampler(g, [8, 4], strategy).sample("users", nodes, times, 5))
    keys = g.keys["users"][nodes]
    gen_con.execute("INSERT INTO users SELECT -user_id, group_id, TIMESTAMP '2030-01-01', age, "
                    "segment FROM users")
    g2 = build_graph(gen_con, g.node_types)
    nodes2 = g2.locate("users", keys)
    assert not np.array_equal(nodes2, nodes)   # every seed's rank moved
    after = keyed(g2, NeighborSampler(g2, [8, 4], strategy).sample("users", nodes2, times, 5))
    assert before == after


def test_splitting_seeds_into_kernel_calls_changes_nothing(gen_con, monkeypatch):
    import relatron_sql.rdl.sampler as sampler_module
    g = graph_for(gen_con, "users")
    rng = np.random.default_rng(3)
    nodes = rng.integers(0, g.num_nodes("users"), 50)
    times = rng.integers(epoch_us(dt.datetime(2020, 3, 1)), epoch_us(dt.datetime(2021, 1, 1)),
                         50)
    whole = NeighborSampler(g, [6, 3], "uniform").sample("users", nodes, times, 9)
    bound = NeighborSampler(g, [6, 3]).bounds(g.type_id("users"))[0]
    monkeypatch.setattr(sampler_module, "WORK_SLOTS", bound * 7)  # groups of 7 seeds
    parts = NeighborSampler(g, [6, 3], "uniform").sample("users", nodes, times, 9)
    for name in ("node", "node_type", "hop", "seed", "edge_type", "src", "dst", "node_ptr"):
        assert np.array_equal(getattr(whole, name), getattr(parts, name)), name


def _subgraphs(out) -> list[tuple]:
    """Per seed: its nodes in order, and its edges (type, source, destination) as positions in
    its own node list."""
    edge_seed = out.seed[out.src]
    result = []
    for s in range(out.num_seeds):
        lo, hi = out.node_ptr[s], out.node_ptr[s + 1]
        mine = edge_seed == s
        edges = sorted(zip(out.edge_type[mine].tolist(), (out.src[mine] - lo).tolist(),
                           (out.dst[mine] - lo).tolist()))
        result.append((out.node[lo:hi].tolist(), edges))
    return result


def test_a_seeds_uniform_sample_does_not_depend_on_the_other_seeds(gen_con):
    """Scoring one row alone, or among others in any order, samples the same neighbours: its
    prediction does not depend on what else is scored."""
    g = graph_for(gen_con, "users")
    rng = np.random.default_rng(5)
    nodes, times = random_seeds(g, "users", rng, 60, epoch_us(dt.datetime(2020, 3, 1)),
                                epoch_us(dt.datetime(2021, 1, 1)))
    sampler = NeighborSampler(g, [6, 3], "uniform")
    whole = _subgraphs(sampler.sample("users", nodes, times, 11))
    pick = rng.permutation(60)[:25]
    some = _subgraphs(sampler.sample("users", nodes[pick], times[pick], 11))
    assert some == [whole[i] for i in pick]
    alone = _subgraphs(sampler.sample("users", nodes[pick[:1]], times[pick[:1]], 11))
    assert alone == [whole[pick[0]]]
    # and another key draws other neighbours
    assert _subgraphs(sampler.sample("users", nodes, times, 12)) != whole


def test_planted_future_rows_change_no_sample_on_rel_f1(f1_con):
    g = graph_for(f1_con, "drivers")
    rng = np.random.default_rng(11)
    last = f1_con.execute("SELECT MAX(date) FROM races").fetchall()[0][0]
    lo = epoch_us(dt.datetime(1990, 1, 1))
    nodes = rng.integers(0, g.num_nodes("drivers"), 60)
    times = rng.integers(lo, epoch_us(last), 60)
    before = keyed(g, NeighborSampler(g, [16, 8], "uniform").sample("drivers", nodes, times, 2))
    # a copy of every result, standing and qualifying row, dated after the last race
    for table, key in (("results", "resultId"), ("standings", "driverStandingsId"),
                       ("qualifying", "qualifyId")):
        f1_con.execute(render("INSERT INTO :t SELECT * REPLACE (:k + 10000000 AS :k, "
                              "CAST(? AS TIMESTAMP) + INTERVAL 30 DAY AS date) FROM :t",
                              t=table_ref(table), k=key), [last])
    g2 = build_graph(f1_con, g.node_types)
    assert g2.num_nodes("results") == 2 * g.num_nodes("results")
    after = keyed(g2, NeighborSampler(g2, [16, 8], "uniform").sample("drivers", nodes, times, 2))
    assert before == after


def test_encoders_are_fitted_on_rows_known_at_the_training_cutoff(gen_con):
    """Means, deviations and vocabularies come from rows at or before the last training label's
    window: planting extreme amounts, a new channel and new segments after it changes none."""
    from relatron_sql.rdl.train import Prepared
    from relatron_sql.task import load_task
    task = load_task(gen_con, "user-active")
    before = {n: e.config() for n, e in Prepared.build(gen_con, task).encoders.items()}
    later = task.val_timestamp - task.horizon + dt.timedelta(seconds=1)
    gen_con.execute("INSERT INTO orders SELECT order_id + 1000000, user_id, item_id, ?, "
                    "amount * 1000, 'zz-later' FROM orders", [later])
    gen_con.execute("INSERT INTO users SELECT user_id + 100000, group_id, ?, age + 500, 'zz' "
                    "FROM users", [later])
    after = {n: e.config() for n, e in Prepared.build(gen_con, task).encoders.items()}
    assert after == before
    assert "web" in before["orders"]["vocab"][before["orders"]["categorical"].index("channel")]


def test_a_seed_dated_before_its_entity_row_carries_nothing_of_it(gen_con):
    """A prediction at a time before the entity's own row exists (a user not signed up yet)
    must not read that row: the seed node has no values, no codes and no age."""
    from relatron_sql.rdl.encoders import TableEncoder
    from relatron_sql.rdl.loader import node_key, to_hetero
    from relatron_sql.schema import read_schema
    g = graph_for(gen_con, "users")
    schema = read_schema(gen_con, count_dangling=False)
    feats = {n: TableEncoder.fit(gen_con, schema.tables[n]).encode(gen_con, schema.tables[n])
             for n in g.node_types}
    users = g.type_offset[g.type_id("users")] + np.arange(g.num_nodes("users"))
    signup = g.node_time[users]
    late = np.argsort(-signup)[:3]          # the three users who signed up last
    times = signup[late] - 1                # a microsecond before each signed up
    out = NeighborSampler(g, [5, 3], "last").sample("users", late, times)
    data = to_hetero(g, feats, out)
    seeds = data[node_key(g, "users")]
    assert seeds.n_id[data.seed_index].tolist() == late.tolist()
    assert feats["users"].num[late].any() and feats["users"].cat[late].any()
    assert not seeds.x_num[data.seed_index].any() and not seeds.x_cat[data.seed_index].any()
    assert not seeds.rel_time[data.seed_index].any()
    # nor follow its keys: its group (and the group's other members) is not reached through it
    groups = g.type_id("groups")
    assert not np.any((out.hop == 1) & (out.node_type == groups))
    # the same users a microsecond after signing up are read as they are
    after = NeighborSampler(g, [5, 3], "last").sample("users", late, signup[late])
    data = to_hetero(g, feats, after)
    assert np.array_equal(data[node_key(g, "users")].x_cat[data.seed_index].numpy(),
                          feats["users"].cat[late])
    assert np.sum((after.hop == 1) & (after.node_type == groups)) == len(late)


def test_column_kinds_are_decided_on_rows_known_at_the_training_cutoff(gen_con):
    """A column is categorical or text by its number of distinct values: thousands of distinct
    channels planted after the cutoff must not turn 'channel' into text, for either family."""
    from relatron_sql.dfs.family import build_plan
    from relatron_sql.rdl.train import Prepared
    from relatron_sql.schema import read_schema
    from relatron_sql.task import load_task
    task = load_task(gen_con, "user-active")
    cutoff = task.val_timestamp - task.horizon
    plan_before = [f["name"] for f in build_plan(gen_con, task)[0].features]
    enc_before = {n: e.config() for n, e in Prepared.build(gen_con, task).encoders.items()}
    gen_con.execute("INSERT INTO orders SELECT 1000000 + i, 0, 0, ?, 1.0, 'later-' || i "
                    "FROM range(3000) AS r(i)", [cutoff + dt.timedelta(days=1)])
    whole = read_schema(gen_con, count_dangling=False).tables["orders"].column("channel")
    assert whole.semantic == "text"      # counted over every row, it would be text now
    known = read_schema(gen_con, count_dangling=False, as_of=cutoff).tables["orders"]
    assert known.column("channel").semantic == "categorical"
    assert [f["name"] for f in build_plan(gen_con, task)[0].features] == plan_before
    assert any("channel" in name for name in plan_before)
    assert {n: e.config() for n, e in Prepared.build(gen_con, task).encoders.items()} == enc_before


def test_a_nanosecond_time_just_after_an_anchor_stays_after_it(gen_con):
    """Anchors have microseconds; a row 400 ns after one is in its label window, so the graph
    must not round its time down to the anchor (DuckDB's cast to TIMESTAMP rounds)."""
    gen_con.execute("ALTER TABLE orders ALTER time TYPE TIMESTAMP_NS")
    t = dt.datetime(2020, 8, 7)
    gen_con.execute("INSERT INTO orders VALUES (999998, 1, 0, TIMESTAMP_NS "
                    "'2020-08-06 23:59:59.9999994', 1.0, 'web'), (999999, 1, 0, TIMESTAMP_NS "
                    "'2020-08-07 00:00:00.0000004', 1.0, 'web')")
    g = graph_for(gen_con, "users")
    orders = g.type_offset[g.type_id("orders")]
    time_of = {k: g.node_time[orders + int(np.argmax(g.keys["orders"] == k))]
               for k in ("999998", "999999")}
    t_us = np.datetime64(t, "us").astype(np.int64)
    assert time_of["999999"] == t_us + 1 and time_of["999998"] == t_us
    user = g.locate("users", np.array(["1"]))
    out = NeighborSampler(g, [-1], "last").sample("users", user, np.array([t_us]))
    sampled = set(g.keys["orders"][out.node[out.node_type == g.type_id("orders")] - orders])
    assert "999998" in sampled and "999999" not in sampled


def test_a_row_dated_minus_infinity_is_visible_at_every_anchor(gen_con):
    """SQL's t <= anchor holds for -infinity; epoch_us gave NULL, read as never visible."""
    gen_con.execute("UPDATE orders SET time = '-infinity' WHERE order_id = (SELECT MIN(order_id) "
                    "FROM orders)")
    g = graph_for(gen_con, "users")
    first = gen_con.execute("SELECT user_id FROM orders WHERE isinf(time)").fetchall()[0][0]
    node = g.locate("users", np.array([str(first)]))
    out = NeighborSampler(g, [50], "last").sample(
        "users", node, np.array([epoch_us(dt.datetime(2019, 1, 1))]), 0)
    assert out.node_type.tolist().count(g.type_id("orders")) == 1

"""The relational graph built from DuckDB: nodes, edge types, CSR rows ordered by time."""
import numpy as np

from relatron_sql.rdl.graph import NEVER, STATIC, build_graph, graph_for


def test_edge_types_follow_relbench_names(gen_con):
    g = build_graph(gen_con)
    assert set(g.edge_types) == {
        ("users", "f2p_group_id", "groups"), ("groups", "rev_f2p_group_id", "users"),
        ("orders", "f2p_user_id", "users"), ("users", "rev_f2p_user_id", "orders"),
        ("orders", "f2p_item_id", "items"), ("items", "rev_f2p_item_id", "orders")}


def test_every_foreign_key_is_an_edge_both_ways(gen_con):
    g = build_graph(gen_con)
    n_orders = gen_con.execute("SELECT COUNT(*) FROM orders").fetchall()[0][0]
    assert g.num_edges(("orders", "f2p_user_id", "users")) == n_orders
    assert g.num_edges(("users", "rev_f2p_user_id", "orders")) == n_orders
    # user 5's orders, oldest first, as DuckDB lists them
    key = g.locate("users", np.array(["5"]))[0]
    src, times = g.neighbours(("orders", "f2p_user_id", "users"), key)
    want = gen_con.execute("SELECT order_id, epoch_us(time) FROM orders WHERE user_id = 5 "
                           "ORDER BY time, order_id").fetchall()
    assert g.keys["orders"][src].astype(int).tolist() == [w[0] for w in want]
    assert times.tolist() == [w[1] for w in want]
    # each order has exactly one user going the other way
    assert np.all(np.diff(g.indptr[g.row_off[g.edge_types.index(
        ("users", "rev_f2p_user_id", "orders"))]:][:n_orders + 1]) == 1)


def test_node_times(gen_con):
    gen_con.execute("UPDATE orders SET time = NULL WHERE order_id = 0")
    g = build_graph(gen_con)
    t = g.type_id("orders")
    times = g.node_time[g.type_offset[t]:g.type_offset[t + 1]]
    assert times[0] == NEVER
    assert np.all(times[1:] < NEVER)
    gt = g.type_id("groups")
    assert np.all(g.node_time[g.type_offset[gt]:g.type_offset[gt + 1]] == STATIC)


def test_null_foreign_keys_give_no_edge(gen_con):
    gen_con.execute("UPDATE orders SET user_id = NULL WHERE order_id % 3 = 0")
    nulls, total = gen_con.execute("SELECT COUNT(*) FILTER (WHERE user_id IS NULL), COUNT(*) "
                                   "FROM orders").fetchall()[0]
    g = build_graph(gen_con)
    assert g.num_edges(("orders", "f2p_user_id", "users")) == total - nulls
    assert g.num_edges(("orders", "f2p_item_id", "items")) == total


def test_edge_type_with_zero_edges(gen_con):
    gen_con.execute("UPDATE orders SET item_id = NULL")
    g = graph_for(gen_con, "users")
    assert g.num_edges(("orders", "f2p_item_id", "items")) == 0
    assert g.num_edges(("items", "rev_f2p_item_id", "orders")) == 0
    assert g.max_degree[g.edge_types.index(("orders", "f2p_item_id", "items"))] == 0


def test_empty_table(gen_con):
    gen_con.execute("DELETE FROM orders")
    g = build_graph(gen_con)
    assert g.num_nodes("orders") == 0
    assert g.num_edges(("orders", "f2p_user_id", "users")) == 0

"""Sampler output to HeteroData: features per type, times relative to seeds, consistent edges."""
import numpy as np
import torch

from relatron_sql.rdl.encoders import TableEncoder
from relatron_sql.rdl.graph import graph_for
from relatron_sql.rdl.loader import Batches, node_key, to_hetero
from relatron_sql.rdl.sampler import NeighborSampler
from relatron_sql.schema import read_schema

from rdl_helpers import epoch_us


def setup(con):
    g = graph_for(con, "users")
    schema = read_schema(con, count_dangling=False)
    feats = {n: TableEncoder.fit(con, schema.tables[n]).encode(con, schema.tables[n])
             for n in g.node_types}
    return g, feats


def test_batch_contents(gen_con):
    g, feats = setup(gen_con)
    nodes = np.arange(10)
    times = np.full(10, epoch_us(np.datetime64("2020-06-01")))
    out = NeighborSampler(g, [5, 3], "last").sample("users", nodes, times)
    data = to_hetero(g, feats, out, y=np.arange(10.0), hist=np.zeros((10, 5)))
    assert set(data.node_types) == {node_key(g, t) for t in g.node_types}
    assert torch.all(torch.diff(data.seed_index) > 0)
    assert data[node_key(g, "users")].batch[data.seed_index].tolist() == list(range(10))
    assert data[node_key(g, "users")].n_id[data.seed_index].tolist() == nodes.tolist()
    assert data.y.tolist() == list(range(10))
    total_nodes = sum(data[t].num_nodes for t in data.node_types)
    assert total_nodes == len(out.node)
    assert sum(data[e].edge_index.shape[1] for e in data.edge_types) == len(out.src)
    orders = data[node_key(g, "orders")]
    # relative time: days from the order to its seed's time, never negative
    o_time = g.node_time[g.type_offset[g.type_id("orders")] + orders.n_id.numpy()]
    want = (times[orders.batch.numpy()] - o_time) / 86400e6
    assert np.allclose(orders.rel_time.numpy(), want, atol=1e-3)
    assert torch.all(orders.rel_time >= 0) and torch.all(orders.timed == 1)
    assert torch.all(data[node_key(g, "groups")].timed == 0)
    # an edge joins nodes of one seed, with source of the edge type's source table
    for (src, _, dst) in data.edge_types:
        ei = data[(src, _, dst)].edge_index
        if ei.numel():
            assert torch.equal(data[src].batch[ei[0]], data[dst].batch[ei[1]])
    # numbers come from the encoded table rows
    assert torch.equal(orders.x_num, torch.from_numpy(feats["orders"].num[orders.n_id.numpy()]))
    # users.signup is the time column, not a feature; a timestamp feature adds its age
    assert data[node_key(g, "users")].x_num.shape[1] == feats["users"].num.shape[1]


def test_batches_prefetch_and_cover_every_seed(gen_con):
    g, feats = setup(gen_con)
    n = 250
    nodes = np.arange(n) % g.num_nodes("users")
    times = np.full(n, epoch_us(np.datetime64("2020-09-01")))
    sampler = NeighborSampler(g, [4, 2], "uniform")
    seen = []
    plain = []
    for rows, batch in Batches(sampler, feats, "users", nodes, times, y=np.arange(n),
                               batch_size=64, shuffle=True, seed=1):
        assert batch.num_seeds == len(rows)
        assert batch.y.tolist() == rows.tolist()
        seen.append(rows)
    for rows, batch in Batches(sampler, feats, "users", nodes, times, y=np.arange(n),
                               batch_size=64, shuffle=True, seed=1, prefetch=0):
        plain.append(batch)
    assert sorted(np.concatenate(seen).tolist()) == list(range(n))
    assert len(plain) == len(seen) == 4


def test_errors_in_the_background_reach_the_consumer(gen_con):
    g, feats = setup(gen_con)
    bad = np.array([10**6])
    import pytest
    from relatron_sql.errors import TrainError
    with pytest.raises(TrainError, match="nodes"):
        list(Batches(NeighborSampler(g, [2], "last"), feats, "users", bad, np.zeros(1)))

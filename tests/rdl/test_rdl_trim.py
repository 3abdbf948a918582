"""Layers compute only the states that reach a seed, and the seeds' outputs do not change."""
import numpy as np
import pytest
import torch

from relatron_sql.rdl import train as engine
from relatron_sql.rdl.loader import node_key, to_hetero
from relatron_sql.rdl.model import RDLNet
from relatron_sql.rdl.sampler import NeighborSampler
from relatron_sql.task import load_task

from rdl_helpers import epoch_us


def setup(con):
    prepared = engine.Prepared.build(con, load_task(con, "user-active"))
    return prepared.graph, prepared.features, prepared.node_dims()


@pytest.mark.parametrize("conv", ["sage", "gat"])
@pytest.mark.parametrize("layers,fanouts", [(1, [8]), (2, [8, 4]), (3, [6, 4, 3]),
                                            (2, [6, 4, 3]), (3, [8, 4])])
def test_trimmed_layers_give_the_seeds_the_same_outputs(gen_con, conv, layers, fanouts):
    g, feats, dims = setup(gen_con)
    nodes = np.arange(40)
    times = np.full(40, epoch_us(np.datetime64("2020-09-01")))
    out = NeighborSampler(g, fanouts, "uniform").sample("users", nodes, times, seed=5)
    data = to_hetero(g, feats, out, hist=np.zeros((40, 3)))
    # within every node type, nodes come by hop; within every edge type, by destination hop
    hops = {t: np.sort(out.hop[out.node_type == g.type_id(t)]) for t in g.node_types}
    for t in g.node_types:
        assert data[node_key(g, t)].hop_ptr[-1] == data[node_key(g, t)].num_nodes
        assert data[node_key(g, t)].hop_ptr == [0] + np.cumsum(
            np.bincount(hops[t], minlength=len(data[node_key(g, t)].hop_ptr) - 1)).tolist()
    torch.manual_seed(0)
    net = RDLNet(g.node_types, g.edge_types, dims, "users", 3, 1, channels=16,
                 layers=layers, conv=conv).eval()
    with torch.no_grad():
        trimmed = net(data)
        net.trim = False
        full = net(data)
    assert trimmed.shape == (40, 1)
    assert torch.allclose(trimmed, full, atol=1e-5, rtol=1e-4)
    # and the trimmed run did skip work: the last layer updates the seeds alone
    assert data[node_key(g, "users")].hop_ptr[1] == 40
    assert sum(data[node_key(g, t)].hop_ptr[1] for t in g.node_types) == 40 < len(out.node)


def test_a_batch_without_hop_counts_runs_in_full(gen_con):
    g, feats, dims = setup(gen_con)
    nodes = np.arange(10)
    times = np.full(10, epoch_us(np.datetime64("2020-09-01")))
    data = to_hetero(g, feats, NeighborSampler(g, [5, 3]).sample("users", nodes, times, seed=1))
    torch.manual_seed(0)
    net = RDLNet(g.node_types, g.edge_types, dims, "users", 0, 1,
                 channels=8).eval()
    with torch.no_grad():
        want = net(data)
        for store in data.node_stores + data.edge_stores:
            del store.hop_ptr
        assert torch.allclose(net(data), want, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("conv", ["sage", "gat"])
@pytest.mark.parametrize("layers,fanouts", [(2, [8, 4]), (3, [6, 4, 3])])
def test_a_seeds_output_does_not_depend_on_its_batch(gen_con, conv, layers, fanouts):
    """A convolution over an edge type the batch held no edge of was skipped, and with it its
    root term and bias for every node of the destination type: a user with no orders yet was
    scored one way alone and another beside users with orders."""
    g, feats, dims = setup(gen_con)
    at = epoch_us(np.datetime64("2020-03-01"))
    idle = int(np.flatnonzero(g.node_time[g.type_offset[g.type_id("users")]:][
        :g.num_nodes("users")] <= at)[0])
    nodes = np.array([idle, *range(20)])
    times = np.full(len(nodes), epoch_us(np.datetime64("2020-09-01")))
    times[0] = at
    torch.manual_seed(0)
    net = RDLNet(g.node_types, g.edge_types, dims, "users", 3, 1, channels=16,
                 layers=layers, conv=conv).eval()
    sampler = NeighborSampler(g, fanouts, "last")

    def scores(which):
        out = sampler.sample("users", nodes[which], times[which], seed=2)
        with torch.no_grad():
            return net(to_hetero(g, feats, out, hist=np.zeros((len(which), 3))))[:, 0]
    together = scores(np.arange(len(nodes)))
    for i in (0, 1, 5):
        assert torch.allclose(scores(np.array([i])), together[i:i + 1], atol=1e-5)

"""Heterogeneous GNN over sampled subgraphs: encoders per node type, message passing, MLP head.

Each node type gets a linear map of its numbers, a sum of embeddings of its codes, a learned
type vector and, for timed tables, an encoding of the node's time relative to its seed. Layers
pass messages along every edge type (GraphSAGE with sum aggregation, or GAT attention), sum the
messages arriving at a node over edge types and add them to the node's state (residual, layer
norm, ReLU). The head reads the seed nodes' final states, concatenated with the task's own label
history features.

Only states that can still reach a seed are computed: with ``L`` layers, layer ``l`` (from 1)
updates the nodes within ``L - l`` hops of their seed, from messages along the edges into them
(a neighbour of a node at hop ``k`` is at most at hop ``k + 1``, so its state was updated by the
layer before). The seeds' outputs are the same as updating every node at every layer; batches
without hop information (``hop_ptr`` on node and edge types) are run in full.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch_geometric.nn import GATConv, SAGEConv

CONVS = ("sage", "gat")
TIME_PERIODS = (7.0, 30.0, 91.0, 365.0, 1461.0)


class TimeEncoder(nn.Module):
    """Days between a node and its seed -> vector (log scale plus sinusoids over periods)."""

    def __init__(self, channels: int):
        super().__init__()
        self.lin = nn.Linear(2 + 2 * len(TIME_PERIODS), channels)
        self.register_buffer("freq", torch.tensor([2 * math.pi / p for p in TIME_PERIODS]))

    def forward(self, days: torch.Tensor) -> torch.Tensor:
        days = days.clamp(min=0.0).unsqueeze(-1)
        angles = days * self.freq
        feats = torch.cat([torch.log1p(days) / 5.0, days / 3650.0, angles.sin(), angles.cos()],
                          -1)
        return self.lin(feats)


class NodeEncoder(nn.Module):
    def __init__(self, num_dim: int, num_codes: int, n_cat: int, timed: bool, channels: int):
        super().__init__()
        self.num = nn.Linear(num_dim, channels) if num_dim else None
        self.cat = nn.Embedding(num_codes, channels) if n_cat else None
        self.bias = nn.Parameter(torch.zeros(channels))
        self.time = TimeEncoder(channels) if timed else None
        self.norm = nn.LayerNorm(channels)

    def forward(self, store) -> torch.Tensor:
        h = self.bias.expand(store.x_num.shape[0], -1)
        if self.num is not None:
            h = h + self.num(store.x_num)
        if self.cat is not None:
            h = h + self.cat(store.x_cat).sum(1)
        if self.time is not None:
            h = h + self.time(store.rel_time) * store.timed.unsqueeze(-1)
        return self.norm(h)


class RDLNet(nn.Module):
    """``node_dims[type] = (num_dim, num_codes, n_cat, timed)``; ``out_dim`` outputs per seed."""

    def __init__(self, node_types: list[str], edge_types: list[tuple[str, str, str]],
                 node_dims: dict[str, tuple[int, int, int, bool]], entity: str, hist_dim: int,
                 out_dim: int, channels: int = 128, layers: int = 2, conv: str = "sage",
                 aggr: str = "sum", heads: int = 4, dropout: float = 0.1):
        super().__init__()
        # modules are keyed by position (table names may clash with attributes or hold dots)
        self.entity, self.node_types = entity, list(node_types)
        self.edge_types = [tuple(e) for e in edge_types]
        self.type_key = {t: f"n{i}" for i, t in enumerate(self.node_types)}
        self.encoders = nn.ModuleDict({self.type_key[t]: NodeEncoder(*node_dims[t], channels)
                                       for t in self.node_types})
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        for _ in range(layers):
            if conv == "gat":
                layer = [GATConv((channels, channels), channels // heads, heads=heads,
                                 add_self_loops=False) for _ in self.edge_types]
            else:
                layer = [SAGEConv((channels, channels), channels, aggr=aggr)
                         for _ in self.edge_types]
            self.convs.append(nn.ModuleList(layer))
            self.norms.append(nn.ModuleDict({self.type_key[t]: nn.LayerNorm(channels)
                                             for t in self.node_types}))
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Sequential(nn.Linear(channels + hist_dim, channels), nn.ReLU(),
                                  nn.Dropout(dropout), nn.Linear(channels, out_dim))

    #: compute only the states that reach a seed (see the module's docstring); off, every node
    #: is updated at every layer (the reference the benchmark and tests compare against)
    trim = True

    def forward(self, data) -> torch.Tensor:
        # a batch keys its stores by position too (see loader.node_key)
        key = self.type_key
        h = {t: self.encoders[key[t]](data[key[t]]) for t in self.node_types}
        trim = self.trim and all("hop_ptr" in data[t] for t in data.node_types + data.edge_types)
        for layer, (convs, norms) in enumerate(zip(self.convs, self.norms)):
            reach = len(self.convs) - 1 - layer  # hops from the seeds still needed after it
            keep = {t: _prefix(data[key[t]].hop_ptr, reach) if trim else x.shape[0]
                    for t, x in h.items()}
            msgs: dict[str, torch.Tensor] = {}
            for conv, e in zip(convs, self.edge_types):
                store = data[(key[e[0]], e[1], key[e[2]])]
                ei = store.edge_index
                if trim:
                    ei = ei[:, :_prefix(store.hop_ptr, reach)]
                # run even without edges: the convolution's root term and bias still apply to
                # every node of the destination type, so a node's state does not depend on
                # whether other seeds in its batch brought edges of this type
                m = conv((h[e[0]], h[e[2]][:keep[e[2]]]), ei)
                msgs[e[2]] = m if e[2] not in msgs else msgs[e[2]] + m
            h = {t: torch.relu(norms[self.type_key[t]](x[:keep[t]] + msgs[t])) if t in msgs
                 else x[:keep[t]] for t, x in h.items()}
            h = {t: self.dropout(x) for t, x in h.items()}
        seed = h[self.entity][data.seed_index]
        hist = getattr(data, "hist", None)
        if hist is not None:
            seed = torch.cat([seed, hist], -1)
        return self.head(seed)


def _prefix(hop_ptr: list[int], reach: int) -> int:
    """How many nodes of a type (or edges of a type) lie within ``reach`` hops (they come
    first)."""
    return hop_ptr[min(reach + 1, len(hop_ptr) - 1)]

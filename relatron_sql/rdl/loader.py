"""Sampler output -> PyG ``HeteroData`` batches, built ahead on a background thread.

Per node type a batch holds ``x_num`` (encoded numbers, with timestamp columns' ages relative to
the seed time appended), ``x_cat`` (codes), ``rel_time`` (days between the node's time and its
seed's time, 0 for static rows), ``timed`` (1 where the row has a time), ``batch`` (which seed it
belongs to) and ``n_id`` (local node id). A seed whose own row is dated after the seed's time
carries no values (zeros, code 0), as DFS gives such an entity's columns as NULL. Graph-level:
``seed_index`` (positions of the seeds among the entity type's nodes), ``y`` and ``hist``
(per-seed features of the task's own closed label history).
"""
from __future__ import annotations

import queue
import threading
from typing import Iterator

import numpy as np
import torch
from torch_geometric.data import HeteroData

from .encoders import TableFeatures, relative_age
from .graph import STATIC, Graph
from .sampler import NeighborSampler, SamplerOutput

US_PER_DAY = 86400e6


def node_key(graph: Graph, node_type: str) -> str:
    """The key of a node type's store in a batch: its position, since a table may be named like
    a batch attribute (``y``, ``hist``)."""
    return f"n{graph.type_id(node_type)}"


def edge_key(graph: Graph, edge_type: tuple[str, str, str]) -> tuple[str, str, str]:
    return node_key(graph, edge_type[0]), edge_type[1], node_key(graph, edge_type[2])


def to_hetero(graph: Graph, features: dict[str, TableFeatures], out: SamplerOutput,
              y: np.ndarray | None = None, hist: np.ndarray | None = None) -> HeteroData:
    """Turn one sample into ``HeteroData``; every node type and edge type appears (maybe empty).

    Within a node type, nodes come in order of hop (seeds first), and within an edge type edges
    in order of their destination's hop; ``hop_ptr[k]`` (a list, so that it stays on the host
    when the batch moves to a GPU) counts the nodes, or the edges into nodes, found within
    ``k - 1`` hops. A layer that only needs the states of nodes within ``k`` hops of the seeds
    computes them for a prefix of each type (see ``RDLNet.forward``).
    """
    data = HeteroData()
    n_types = len(graph.node_types)
    order = np.lexsort((out.hop, out.node_type))
    n_hops = int(out.hop.max()) + 1 if len(out.hop) else 1
    counts = np.bincount(out.node_type, minlength=n_types)
    starts = np.concatenate([[0], np.cumsum(counts)])
    pos_in_type = np.empty(len(out.node), dtype=np.int64)
    pos_in_type[order] = np.arange(len(out.node)) - starts[out.node_type[order]]
    seed_days = out.seed_time.astype(np.float64) / US_PER_DAY
    for t, name in enumerate(graph.node_types):
        idx = order[starts[t]:starts[t + 1]]
        local = out.node[idx] - graph.type_offset[t]
        f = features[name]
        seed_of = out.seed[idx]
        num = f.num[local]
        if f.stamp.shape[1]:
            num = np.concatenate([num, relative_age(f.stamp[local], seed_days[seed_of])], 1)
        node_time = graph.node_time[out.node[idx]]
        timed = node_time != STATIC
        rel = np.where(timed, (out.seed_time[seed_of] - np.where(timed, node_time, 0))
                       / US_PER_DAY, 0.0)
        cat = f.cat[local]
        # a seed whose own row is dated after its time (an entity not created yet) is a node
        # with nothing known: no values, no codes, no age
        unknown = timed & (node_time > out.seed_time[seed_of])
        if unknown.any():
            num[unknown], cat[unknown], rel[unknown] = 0.0, 0, 0.0
        store = data[node_key(graph, name)]
        store.x_num = torch.from_numpy(np.ascontiguousarray(num, dtype=np.float32))
        store.x_cat = torch.from_numpy(np.ascontiguousarray(cat))
        store.rel_time = torch.from_numpy(rel.astype(np.float32))
        store.timed = torch.from_numpy(timed.astype(np.float32))
        store.batch = torch.from_numpy(seed_of)
        store.n_id = torch.from_numpy(local)
        store.num_nodes = len(idx)
        store.hop_ptr = _counts_within(out.hop[idx], n_hops)
    dst_hop = out.hop[out.dst]
    e_order = np.lexsort((dst_hop, out.edge_type))
    e_counts = np.bincount(out.edge_type, minlength=len(graph.edge_types))
    e_starts = np.concatenate([[0], np.cumsum(e_counts)])
    for e, et in enumerate(graph.edge_types):
        sel = e_order[e_starts[e]:e_starts[e + 1]]
        ei = np.stack([pos_in_type[out.src[sel]], pos_in_type[out.dst[sel]]])
        data[edge_key(graph, et)].edge_index = torch.from_numpy(np.ascontiguousarray(ei))
        data[edge_key(graph, et)].hop_ptr = _counts_within(dst_hop[sel], n_hops)
    data.seed_index = torch.from_numpy(pos_in_type[out.node_ptr[:-1]])
    data.num_seeds = out.num_seeds
    if y is not None:
        data.y = torch.from_numpy(np.asarray(y, dtype=np.float32))
    if hist is not None:
        data.hist = torch.from_numpy(np.asarray(hist, dtype=np.float32))
    return data


def _counts_within(hops: np.ndarray, n_hops: int) -> list[int]:
    """``out[k]``: how many entries have a hop below ``k`` (``k`` from 0 to ``n_hops``)."""
    return [0] + np.cumsum(np.bincount(hops, minlength=n_hops)).tolist()


class Batches:
    """Iterates ``HeteroData`` batches over seeds, sampled and built on a background thread.

    ``seed`` keys the sampler's random draws, so runs are reproducible. With ``shuffle``
    (training) the seeds are permuted with the same key and batch ``b`` draws with
    ``seed * 100003 + b``, so an epoch's batches differ; without it (scoring) every batch draws
    with ``seed * 100003``, and since the sampler keys each seed's draws by its primary key and
    time, a row's prediction does not depend on the other rows scored with it (nor does the
    network: a convolution runs for every destination type, edges or not).
    """

    def __init__(self, sampler: NeighborSampler, features: dict[str, TableFeatures],
                 seed_type: str, nodes: np.ndarray, times: np.ndarray,
                 y: np.ndarray | None = None, hist: np.ndarray | None = None,
                 batch_size: int = 512, shuffle: bool = False, seed: int = 0, prefetch: int = 2):
        self.sampler, self.features, self.seed_type = sampler, features, seed_type
        self.nodes, self.times, self.y, self.hist = nodes, times, y, hist
        self.batch_size, self.shuffle, self.seed, self.prefetch = batch_size, shuffle, seed, prefetch

    def __len__(self) -> int:
        return (len(self.nodes) + self.batch_size - 1) // self.batch_size

    def _make(self, b: int, rows: np.ndarray) -> HeteroData:
        out = self.sampler.sample(self.seed_type, self.nodes[rows], self.times[rows],
                                  seed=self.seed * 100003 + (b if self.shuffle else 0))
        return to_hetero(self.sampler.graph, self.features, out,
                         None if self.y is None else self.y[rows],
                         None if self.hist is None else self.hist[rows])

    def _chunks(self) -> list[np.ndarray]:
        index = np.arange(len(self.nodes))
        if self.shuffle:
            index = np.random.default_rng(self.seed).permutation(index)
        return [index[i:i + self.batch_size] for i in range(0, len(index), self.batch_size)]

    def __iter__(self) -> Iterator[tuple[np.ndarray, HeteroData]]:
        chunks = self._chunks()
        if self.prefetch <= 0:
            for b, rows in enumerate(chunks):
                yield rows, self._make(b, rows)
            return
        q: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()

        def work():
            try:
                for b, rows in enumerate(chunks):
                    if stop.is_set():
                        return
                    q.put((rows, self._make(b, rows)))
            except BaseException as e:  # handed to the consumer, raised there
                q.put(e)
                return
            q.put(None)

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        try:
            while True:
                item = q.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while thread.is_alive():
                try:
                    q.get(timeout=0.05)
                except queue.Empty:
                    pass
            thread.join()

"""Temporal neighbour sampling: seeds and their times in, node and edge indices out.

This layer only prepares flat arrays for the numba kernel (``relatron_sql.kernels.sampling``)
and packs its result into a :class:`SamplerOutput`; turning indices into tensors is the
loader's job.
"""
from __future__ import annotations

import dataclasses
import threading

import numba
import numpy as np

from ..errors import TrainError, bad_argument
from ..kernels import STRATEGIES, compact, sample
from .graph import Graph

#: slots (per-seed upper bounds times seeds) sampled per kernel call; bounds memory per call
WORK_SLOTS = 1 << 21


@dataclasses.dataclass
class SamplerOutput:
    """Flat result for a batch of seeds; node ``i`` belongs to seed ``seed[i]``.

    ``node`` holds global node ids (``graph.type_offset`` gives the types' ranges); edges go from
    ``src`` to ``dst``, both positions in ``node``; the first node of each seed (position
    ``node_ptr[s]``) is the seed itself.
    """
    node: np.ndarray
    node_type: np.ndarray
    hop: np.ndarray
    seed: np.ndarray
    edge_type: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    node_ptr: np.ndarray
    seed_time: np.ndarray

    @property
    def num_seeds(self) -> int:
        return len(self.node_ptr) - 1


class NeighborSampler:
    """Samples up to ``fanouts[h]`` neighbours per edge type at hop ``h`` (-1: all of them)."""

    def __init__(self, graph: Graph, fanouts: list[int], strategy: str = "uniform",
                 threads: int | None = None):
        if strategy not in STRATEGIES:
            raise bad_argument("strategy", f"unknown sampling strategy {strategy!r}", STRATEGIES,
                               TrainError)
        fanouts = [int(f) for f in fanouts]
        if not fanouts or any(f == 0 or f < -1 for f in fanouts):
            raise bad_argument("fanouts", f"must be a non-empty list of positive counts (or -1 "
                               f"for all), got {fanouts}", None, TrainError)
        self.graph = graph
        self.fanouts = np.array(fanouts, dtype=np.int64)
        self.strategy = strategy
        self._bounds: dict[int, tuple[int, int]] = {}
        self.threads = int(threads or numba.get_num_threads())
        self._lock = threading.Lock()
        self._work: tuple[np.ndarray, ...] | None = None

    def bounds(self, seed_type: int) -> tuple[int, int]:
        """Most nodes and edges one seed of ``seed_type`` can produce (before deduplication)."""
        if seed_type not in self._bounds:
            g = self.graph
            n_types = len(g.node_types)
            frontier = np.zeros(n_types)
            frontier[seed_type] = 1
            edges = 0.0
            for f in self.fanouts:
                nxt = np.zeros(n_types)
                for e in range(len(g.edge_types)):
                    cap = g.max_degree[e] if f < 0 else min(int(f), int(g.max_degree[e]))
                    nxt[g.et_src_type[e]] += frontier[g.et_dst_type[e]] * cap
                edges += nxt.sum()
                frontier = nxt
            self._bounds[seed_type] = (int(edges) + 1, max(int(edges), 1))
        return self._bounds[seed_type]

    def sample(self, node_type: str, nodes: np.ndarray, times: np.ndarray, seed: int = 0
               ) -> SamplerOutput:
        """Sample around local ids ``nodes`` of ``node_type`` at epoch-microsecond ``times``."""
        g = self.graph
        t = g.type_id(node_type)
        nodes = np.asarray(nodes, dtype=np.int64)
        times = np.asarray(times, dtype=np.int64)
        if len(nodes) != len(times):
            raise bad_argument("times", f"has {len(times)} entries for {len(nodes)} seeds", None,
                               TrainError)
        if len(nodes) and (nodes.min() < 0 or nodes.max() >= g.num_nodes(node_type)):
            raise bad_argument("nodes", f"seed ids must lie in [0, {g.num_nodes(node_type)}) "
                               f"for {node_type!r}", None, TrainError)
        node_bound, edge_bound = self.bounds(t)
        seeds = nodes + g.type_offset[t]
        seed_type = np.full(len(seeds), t, dtype=np.int64)
        seed_key = g.key_hash(node_type)[nodes]
        group = max(1, min(len(seeds), WORK_SLOTS // node_bound))
        parts = []
        with self._lock:
            work = self._workspace(group * node_bound, group * edge_bound)
            for a in range(0, max(len(seeds), 1), group):
                b = min(a + group, len(seeds))
                counts = sample(g.indptr, g.indices, g.nbr_time, g.row_off, g.et_dense,
                                g.et_src_type, g.type_et_ptr, g.type_et, g.type_offset, seeds[a:b],
                                seed_type[a:b], times[a:b], seed_key[a:b], self.fanouts,
                                STRATEGIES[self.strategy], np.uint64(seed % 2**63),
                                node_bound, edge_bound, self.threads, *work)
                parts.append(compact(*work, *counts, self.threads))
        if len(parts) == 1:
            node, ntype, hop, seed_of, et, src, dst, node_ptr = parts[0]
        else:
            shift = np.cumsum([0] + [len(p[0]) for p in parts[:-1]])
            first = np.cumsum([0] + [len(p[7]) - 1 for p in parts[:-1]])
            node, ntype, hop = (np.concatenate([p[i] for p in parts]) for i in range(3))
            seed_of = np.concatenate([p[3] + f for p, f in zip(parts, first)])
            et = np.concatenate([p[4] for p in parts])
            src = np.concatenate([p[5] + o for p, o in zip(parts, shift)])
            dst = np.concatenate([p[6] + o for p, o in zip(parts, shift)])
            node_ptr = np.concatenate([parts[0][7][:1]] + [p[7][1:] + o
                                                           for p, o in zip(parts, shift)])
        return SamplerOutput(node, ntype, hop, seed_of, et, src, dst, node_ptr, times)

    def _workspace(self, n_slots: int, e_slots: int) -> tuple[np.ndarray, ...]:
        """Slot arrays reused across calls (their pages stay mapped)."""
        if self._work is None or len(self._work[0]) < n_slots or len(self._work[3]) < e_slots:
            self._work = (np.empty(n_slots, np.int64), np.empty(n_slots, np.int64),
                          np.empty(n_slots, np.int8), np.empty(e_slots, np.int64),
                          np.empty(e_slots, np.int64), np.empty(e_slots, np.int64))
        return self._work

"""Temporal neighbour sampling over flat arrays (numba).

The graph is a set of edge types, each a CSR over its destination nodes whose rows list source
nodes oldest first. All edge types are concatenated into three flat arrays:

- ``indptr``: rows of every edge type one after another; edge type ``e`` row ``i`` (local id of
  the destination node) spans ``indptr[row_off[e] + i] : indptr[row_off[e] + i + 1]``, positions
  into ``indices`` and ``nbr_time``;
- ``indices``: global id of the source node (node type ``t`` owns ids
  ``type_offset[t] : type_offset[t + 1]``);
- ``nbr_time``: the source node's time (int64; static rows hold the minimum int64, rows with no
  time the maximum, so they are never visible).

Each seed (global node id, time) grows its own subgraph (disjoint sampling): per hop, every node
found in the previous hop draws up to ``fanouts[hop]`` neighbours per incoming edge type among
those whose time is at most the seed's time, either uniformly without replacement
(``strategy == 0``) or the most recent ones (``strategy == 1``). Nodes are deduplicated within a
seed's subgraph. Random draws come from a counter-based generator keyed by ``(base_seed, seed
index)``, so the result does not depend on the number of threads.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

UNIFORM = 0
LAST = 1
STRATEGIES = {"uniform": UNIFORM, "last": LAST}

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@njit(inline="always")
def _mix(z):
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(inline="always")
def _below(state, n):
    """(next state, uniform integer in [0, n))."""
    state = state + _GOLDEN
    return state, np.int64((_mix(state) >> np.uint64(11)) % np.uint64(n))


@njit(inline="always")
def _upper_bound(values, lo, hi, t):
    """First position in [lo, hi) whose value exceeds t (values sorted ascending)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if values[mid] <= t:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(parallel=True, nogil=True, cache=True)
def sample(indptr, indices, nbr_time, row_off, et_src_type, type_et_ptr, type_et, type_offset,
           seeds, seed_type, seed_time, fanouts, strategy, base_seed, node_bound, edge_bound,
           n_chunks):
    """Sample every seed's temporal neighbourhood (``n_chunks`` parallel groups of seeds).

    Returns per-seed slot arrays (seed ``s`` owns ``s * node_bound ...`` and
    ``s * edge_bound ...``): node global id, node type, hop; edge type, source and destination
    as positions inside the seed's own node list; and the node and edge counts per seed.
    """
    n_seeds = seeds.shape[0]
    n_total = type_offset[type_offset.shape[0] - 1]
    n_hops = fanouts.shape[0]
    max_fanout = 1
    for h in range(n_hops):
        max_fanout = max(max_fanout, fanouts[h])
    node = np.empty(n_seeds * node_bound, dtype=np.int64)
    ntype = np.empty(n_seeds * node_bound, dtype=np.int64)
    hop = np.empty(n_seeds * node_bound, dtype=np.int8)
    etype = np.empty(n_seeds * edge_bound, dtype=np.int64)
    esrc = np.empty(n_seeds * edge_bound, dtype=np.int64)
    edst = np.empty(n_seeds * edge_bound, dtype=np.int64)
    n_nodes = np.zeros(n_seeds, dtype=np.int64)
    n_edges = np.zeros(n_seeds, dtype=np.int64)
    n_chunks = max(1, min(n_seeds, n_chunks))
    for c in prange(n_chunks):
        stamp = np.full(n_total, -1, dtype=np.int64)
        where = np.empty(n_total, dtype=np.int64)
        scratch = np.empty(4 * max_fanout, dtype=np.int64)
        chosen = np.empty(max_fanout, dtype=np.int64)
        for s in range(c, n_seeds, n_chunks):
            nb = s * node_bound
            eb = s * edge_bound
            state = _mix(np.uint64(base_seed) * _GOLDEN + np.uint64(s) + np.uint64(1))
            t = seed_time[s]
            g = seeds[s]
            node[nb] = g
            ntype[nb] = seed_type[s]
            hop[nb] = 0
            stamp[g] = s
            where[g] = 0
            nn = 1
            ne = 0
            start = 0
            end = 1
            for h in range(n_hops):
                k = fanouts[h]
                for f in range(start, end):
                    v = node[nb + f]
                    vt = ntype[nb + f]
                    local = v - type_offset[vt]
                    for j in range(type_et_ptr[vt], type_et_ptr[vt + 1]):
                        e = type_et[j]
                        row = row_off[e] + local
                        lo = indptr[row]
                        cut = _upper_bound(nbr_time, lo, indptr[row + 1], t)
                        count = cut - lo
                        if count <= 0:
                            continue
                        if k < 0 or count <= k:
                            m = count
                        elif strategy == 1:
                            m = k
                        else:
                            m = k
                            if count <= 4 * k:
                                for i in range(count):
                                    scratch[i] = i
                                for i in range(k):
                                    state, r = _below(state, count - i)
                                    r += i
                                    tmp = scratch[i]
                                    scratch[i] = scratch[r]
                                    scratch[r] = tmp
                                    chosen[i] = scratch[i]
                            else:
                                filled = 0
                                for jj in range(count - k, count):
                                    state, r = _below(state, jj + 1)
                                    for q in range(filled):
                                        if chosen[q] == r:
                                            r = jj
                                            break
                                    chosen[filled] = r
                                    filled += 1
                        for i in range(m):
                            if k < 0 or count <= k:
                                q = lo + i
                            elif strategy == 1:
                                q = cut - k + i
                            else:
                                q = lo + chosen[i]
                            u = indices[q]
                            if stamp[u] != s:
                                if nn >= node_bound:
                                    continue
                                stamp[u] = s
                                where[u] = nn
                                node[nb + nn] = u
                                ntype[nb + nn] = et_src_type[e]
                                hop[nb + nn] = h + 1
                                nn += 1
                            if ne < edge_bound:
                                etype[eb + ne] = e
                                esrc[eb + ne] = where[u]
                                edst[eb + ne] = f
                                ne += 1
                start = end
                end = nn
            n_nodes[s] = nn
            n_edges[s] = ne
    return node, ntype, hop, etype, esrc, edst, n_nodes, n_edges


@njit(parallel=True, nogil=True, cache=True)
def compact(node, ntype, hop, etype, esrc, edst, n_nodes, n_edges, node_bound, edge_bound):
    """Pack the per-seed slots into flat arrays; edge ends become positions in the flat node list.

    Returns node, node type, hop, node's seed; edge type, source, destination; and node_ptr
    (seed ``s``'s nodes are ``node_ptr[s] : node_ptr[s + 1]``).
    """
    n_seeds = n_nodes.shape[0]
    node_ptr = np.zeros(n_seeds + 1, dtype=np.int64)
    edge_ptr = np.zeros(n_seeds + 1, dtype=np.int64)
    for s in range(n_seeds):
        node_ptr[s + 1] = node_ptr[s] + n_nodes[s]
        edge_ptr[s + 1] = edge_ptr[s] + n_edges[s]
    total_n = node_ptr[n_seeds]
    total_e = edge_ptr[n_seeds]
    o_node = np.empty(total_n, dtype=np.int64)
    o_type = np.empty(total_n, dtype=np.int64)
    o_hop = np.empty(total_n, dtype=np.int8)
    o_seed = np.empty(total_n, dtype=np.int64)
    o_et = np.empty(total_e, dtype=np.int64)
    o_src = np.empty(total_e, dtype=np.int64)
    o_dst = np.empty(total_e, dtype=np.int64)
    for s in prange(n_seeds):
        a = node_ptr[s]
        for i in range(n_nodes[s]):
            o_node[a + i] = node[s * node_bound + i]
            o_type[a + i] = ntype[s * node_bound + i]
            o_hop[a + i] = hop[s * node_bound + i]
            o_seed[a + i] = s
        b = edge_ptr[s]
        for i in range(n_edges[s]):
            o_et[b + i] = etype[s * edge_bound + i]
            o_src[b + i] = esrc[s * edge_bound + i] + a
            o_dst[b + i] = edst[s * edge_bound + i] + a
    return o_node, o_type, o_hop, o_seed, o_et, o_src, o_dst, node_ptr

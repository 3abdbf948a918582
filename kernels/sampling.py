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
key, seed time)``, where the caller gives each seed a key that names its row (a hash of its
primary key: :func:`key_hashes`), so a seed's sample does not depend on the number of threads,
on how seeds are split across calls, on which other seeds are sampled with it, or on rows
added to its table (which move its id within the type).
Seeds are spread over threads (``prange`` over contiguous chunks of seeds); within a thread, a
group of seeds advances hop by hop in lock step, so that the memory reads of different seeds
overlap instead of waiting on each other.
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


@njit(nogil=True, cache=True)
def key_hashes(codes):
    """A 64-bit hash of each row of ``codes`` (a numpy unicode array viewed as uint32 code
    points, one row per string), over its code points up to the last non-zero one: the width
    the array pads to does not change a string's hash."""
    out = np.empty(codes.shape[0], dtype=np.uint64)
    for i in range(codes.shape[0]):
        end = codes.shape[1]
        while end > 0 and codes[i, end - 1] == 0:
            end -= 1
        h = np.uint64(end) * _GOLDEN
        for j in range(end):
            h = _mix(h + np.uint64(codes[i, j]) * _GOLDEN)
        out[i] = h
    return out


@njit(inline="always")
def _below(state, n):
    """(next state, uniform integer in [0, n))."""
    state = state + _GOLDEN
    return state, np.int64((_mix(state) >> np.uint64(11)) % np.uint64(n))


@njit(inline="always")
def _seed_state(base_seed, ntype, key, time):
    """The first state of the random draws of the seed of type ``ntype`` whose row is named by
    ``key`` at ``time``, under ``base_seed``. Not keyed by a node id, global or within its
    type: either moves when rows are added before it, even rows dated after ``time``."""
    keyed = _mix(np.uint64(key) * _GOLDEN + _mix(np.uint64(time) * _GOLDEN
                                                 + np.uint64(ntype + 1)))
    return _mix(np.uint64(base_seed) * _GOLDEN + keyed)


@njit(inline="always")
def _home(key, s, mask):
    """First entry to probe for node ``key`` of seed ``s`` in the node-set table."""
    return np.int64((np.uint64(key) * _GOLDEN + np.uint64(s) * _M1) >> np.uint64(32)) & mask


#: seeds advanced in lock step by one thread (their memory reads overlap): as many as fit
#: ``GROUP_SLOTS`` node slots, at most ``MAX_GROUP``
GROUP_SLOTS = 1 << 14
MAX_GROUP = 32


@njit(nogil=True, cache=True)
def _sample_chunk(c, n_chunks, indptr, indices, nbr_time, row_off, et_dense, et_src_type,
                  type_et_ptr, type_et, type_offset, seeds, seed_type, seed_time, seed_key, fanouts,
                  strategy, base_seed, node_bound, edge_bound, group, node, ntype,
                  hop, etype, esrc, edst, n_nodes, n_edges, n_start, e_start):
    """Sample chunk ``c`` of ``n_chunks`` contiguous ranges of seeds; see :func:`sample`.

    Seeds go in groups of ``group``; within a group each hop runs in phases (row spans, time
    cuts, choices, gathers, deduplication) over all the group's seeds, so that independent
    memory reads of different seeds overlap. The time cuts are binary searches advanced one
    step at a time for all rows together, with no branch on the loaded times, so that the
    group's searches wait on memory together rather than one after another. A group grows in
    small scratch arrays that stay in cache; finished seeds are appended one after another to
    the chunk's part of the output slots (the chunk owns ``node_bound`` and ``edge_bound``
    slots per seed, but fills them densely from the start). Each seed's draws and output are
    the same as if it were sampled alone.
    """
    n_seeds = seeds.shape[0]
    n_hops = fanouts.shape[0]
    max_fanout = 1
    for h in range(n_hops):
        max_fanout = max(max_fanout, fanouts[h])
    max_in = 1
    for vt in range(type_et_ptr.shape[0] - 1):
        max_in = max(max_in, type_et_ptr[vt + 1] - type_et_ptr[vt])
    n_total = type_offset[type_offset.shape[0] - 1]
    most = min(node_bound, n_total + 1)  # nodes one seed can hold
    table_size = 16
    while table_size < 2 * group * most:
        table_size *= 2
    mask = table_size - 1
    # node sets of the group's seeds, one open-addressing table: entry j holds node hkey[j] of
    # seed hseed[j] at position hpos[j]; entries whose stamp is not the current generation are
    # free, so the table is never cleared
    hkey = np.empty(table_size, dtype=np.int64)
    hseed = np.empty(table_size, dtype=np.int64)
    hpos = np.empty(table_size, dtype=np.int64)
    stamp = np.full(table_size, -1, dtype=np.int64)
    scratch = np.empty(4 * max_fanout, dtype=np.int64)
    chosen = np.empty(max_fanout, dtype=np.int64)
    q_cap = group * most * max_in
    q_g = np.empty(q_cap, dtype=np.int64)
    q_f = np.empty(q_cap, dtype=np.int64)
    q_e = np.empty(q_cap, dtype=np.int64)
    q_lo = np.empty(q_cap, dtype=np.int64)
    q_hi = np.empty(q_cap, dtype=np.int64)
    q_t = np.empty(q_cap, dtype=np.int64)
    q_b = np.empty(q_cap, dtype=np.int64)
    act = np.empty(q_cap, dtype=np.int64)
    s_node = np.empty(group * node_bound, dtype=np.int64)
    s_type = np.empty(group * node_bound, dtype=np.int64)
    s_hop = np.empty(group * node_bound, dtype=np.int8)
    s_et = np.empty(group * edge_bound, dtype=np.int64)
    s_src = np.empty(group * edge_bound, dtype=np.int64)
    s_dst = np.empty(group * edge_bound, dtype=np.int64)
    gs = np.empty(group, dtype=np.int64)
    state = np.empty(group, dtype=np.uint64)
    nn = np.empty(group, dtype=np.int64)
    ne = np.empty(group, dtype=np.int64)
    first = np.empty(group, dtype=np.int64)
    start = np.empty(group, dtype=np.int64)
    end = np.empty(group, dtype=np.int64)
    generation = 0
    per = (n_seeds + n_chunks - 1) // n_chunks
    first_seed = min(n_seeds, c * per)
    last_seed = min(n_seeds, first_seed + per)
    n_at = first_seed * node_bound  # next free output slot of this chunk
    e_at = first_seed * edge_bound
    for g0 in range(first_seed, last_seed, group):
        size = min(group, last_seed - g0)
        generation += 1
        for i in range(size):
            s = g0 + i
            gs[i] = s
            nb = i * node_bound
            state[i] = _seed_state(base_seed, seed_type[s], seed_key[s], seed_time[s])
            s_node[nb] = seeds[s]
            s_type[nb] = seed_type[s]
            s_hop[nb] = 0
            j = _home(seeds[s], s, mask)
            while stamp[j] == generation:
                j = (j + 1) & mask
            stamp[j] = generation
            hkey[j] = seeds[s]
            hseed[j] = s
            hpos[j] = 0
            nn[i] = 1
            ne[i] = 0
            start[i] = 0
            end[i] = 1
        for h in range(n_hops):
            k = fanouts[h]
            # 1. the rows to read: (seed, frontier node, edge type) -> span
            m = 0
            for i in range(size):
                nb = i * node_bound
                for f in range(start[i], end[i]):
                    vt = s_type[nb + f]
                    local = s_node[nb + f] - type_offset[vt]
                    for j in range(type_et_ptr[vt], type_et_ptr[vt + 1]):
                        e = type_et[j]
                        q_g[m] = i
                        q_f[m] = f
                        q_e[m] = e
                        if et_dense[e] >= 0:  # one edge per row: no need to read indptr
                            q_lo[m] = et_dense[e] + local
                            q_hi[m] = et_dense[e] + local + 1
                        else:
                            row = row_off[e] + local
                            q_lo[m] = indptr[row]
                            q_hi[m] = indptr[row + 1]
                        m += 1
            # 2. the <= t cut of every row (ends in q_hi): a row of one edge is cut at once,
            # the searches of the others step together
            na = 0
            for r in range(m):
                lo = q_lo[r]
                t = seed_time[gs[q_g[r]]]
                if q_hi[r] == lo + 1:
                    q_hi[r] = lo + (nbr_time[lo] <= t)
                else:
                    q_t[r] = t
                    q_b[r] = lo
                    act[na] = r
                    na += lo < q_hi[r]
            while na > 0:
                keep = 0
                for a in range(na):
                    r = act[a]
                    lo = q_b[r]
                    hi = q_hi[r]
                    mid = (lo + hi) >> 1
                    le = nbr_time[mid] <= q_t[r]
                    lo = mid + 1 if le else lo
                    hi = hi if le else mid
                    q_b[r] = lo
                    q_hi[r] = hi
                    act[keep] = r
                    keep += lo < hi
                na = keep
            # 3. choose neighbour slots; an edge's source first holds the slot
            for i in range(size):
                first[i] = ne[i]
            for r in range(m):
                i = q_g[r]
                eb = i * edge_bound
                lo = q_lo[r]
                cut = q_hi[r]
                count = cut - lo
                if count <= 0:
                    continue
                if k < 0 or count <= k:
                    take = count
                    begin = lo
                    drawn = False
                elif strategy == 1:
                    take = k
                    begin = cut - k
                    drawn = False
                else:
                    take = k
                    begin = lo
                    drawn = True
                    st = state[i]
                    if count <= 4 * k:
                        for r0 in range(count):
                            scratch[r0] = r0
                        for r0 in range(k):
                            st, x = _below(st, count - r0)
                            x += r0
                            tmp = scratch[r0]
                            scratch[r0] = scratch[x]
                            scratch[x] = tmp
                            chosen[r0] = scratch[r0]
                    else:
                        filled = 0
                        for jj in range(count - k, count):
                            st, x = _below(st, jj + 1)
                            for q in range(filled):
                                if chosen[q] == x:
                                    x = jj
                                    break
                            chosen[filled] = x
                            filled += 1
                    state[i] = st
                for r0 in range(take):
                    if ne[i] >= edge_bound:  # cannot happen with the caller's bound
                        break
                    s_et[eb + ne[i]] = q_e[r]
                    s_src[eb + ne[i]] = lo + chosen[r0] if drawn else begin + r0
                    s_dst[eb + ne[i]] = q_f[r]
                    ne[i] += 1
            # 4. gather the neighbours of the whole group, then deduplicate seed by seed
            for i in range(size):
                eb = i * edge_bound
                for x in range(eb + first[i], eb + ne[i]):
                    s_src[x] = indices[s_src[x]]
            for i in range(size):
                s = gs[i]
                nb = i * node_bound
                eb = i * edge_bound
                for x in range(eb + first[i], eb + ne[i]):
                    u = s_src[x]
                    # the lookup is written out: a call taking the table's arrays would update
                    # their reference counts (atomic operations) for every edge
                    j = _home(u, s, mask)
                    while True:
                        if stamp[j] != generation:  # not in the set: a new node
                            at = nn[i]
                            stamp[j] = generation
                            hkey[j] = u
                            hseed[j] = s
                            hpos[j] = at
                            s_node[nb + at] = u
                            s_type[nb + at] = et_src_type[s_et[x]]
                            s_hop[nb + at] = h + 1
                            nn[i] += 1
                            break
                        if hkey[j] == u and hseed[j] == s:
                            at = hpos[j]
                            break
                        j = (j + 1) & mask
                    s_src[x] = at
                start[i] = end[i]
                end[i] = nn[i]
        for i in range(size):
            s = gs[i]
            n_nodes[s] = nn[i]
            n_edges[s] = ne[i]
            n_start[s] = n_at
            e_start[s] = e_at
            nb = i * node_bound
            eb = i * edge_bound
            for x in range(nn[i]):
                node[n_at + x] = s_node[nb + x]
                ntype[n_at + x] = s_type[nb + x]
                hop[n_at + x] = s_hop[nb + x]
            for x in range(ne[i]):
                etype[e_at + x] = s_et[eb + x]
                esrc[e_at + x] = s_src[eb + x]
                edst[e_at + x] = s_dst[eb + x]
            n_at += nn[i]
            e_at += ne[i]


@njit(parallel=True, nogil=True, cache=True)
def _sample_parallel(n_chunks, indptr, indices, nbr_time, row_off, et_dense, et_src_type,
                     type_et_ptr, type_et, type_offset, seeds, seed_type, seed_time, seed_key,
                     fanouts, strategy, base_seed, node_bound, edge_bound, group, node,
                     ntype, hop, etype, esrc, edst, n_nodes, n_edges, n_start, e_start):
    for c in prange(n_chunks):
        _sample_chunk(c, n_chunks, indptr, indices, nbr_time, row_off, et_dense, et_src_type,
                      type_et_ptr, type_et, type_offset, seeds, seed_type, seed_time, seed_key,
                      fanouts, strategy, base_seed, node_bound, edge_bound, group, node,
                      ntype, hop, etype, esrc, edst, n_nodes, n_edges, n_start, e_start)


def sample(indptr, indices, nbr_time, row_off, et_dense, et_src_type, type_et_ptr, type_et,
           type_offset, seeds, seed_type, seed_time, seed_key, fanouts, strategy, base_seed,
           node_bound, edge_bound, n_chunks, node, ntype, hop, etype, esrc, edst):
    """Sample every seed's temporal neighbourhood (``n_chunks`` parallel ranges of seeds).

    ``et_dense`` (from :func:`one_edge_rows`) marks the edge types whose rows hold exactly one
    edge each; pass -1 for every edge type to always read ``indptr``.

    ``edge_bound`` must be at least the edges one seed can produce and ``node_bound`` at least
    ``edge_bound + 1`` (the seed and one new node per edge). Writes into caller-owned slot
    arrays, which must hold ``len(seeds) * node_bound`` and ``len(seeds) * edge_bound``
    entries: node global id, node type, hop; edge type, source and destination as positions
    inside the seed's own node list. Returns, per seed, the node and
    edge counts and where its nodes and edges start in the slot arrays. Seed ``s`` draws its
    random numbers from ``base_seed``, ``seed_key[s]`` (uint64, naming its row) and its time: a
    seed's sample does not depend on the other seeds of the call, nor on its position among
    them.
    """
    n_seeds = seeds.shape[0]
    n_nodes = np.zeros(n_seeds, dtype=np.int64)
    n_edges = np.zeros(n_seeds, dtype=np.int64)
    n_start = np.zeros(n_seeds, dtype=np.int64)
    e_start = np.zeros(n_seeds, dtype=np.int64)
    n_chunks = max(1, min(n_seeds, int(n_chunks)))
    args = (indptr, indices, nbr_time, row_off, et_dense, et_src_type, type_et_ptr, type_et,
            type_offset, seeds, seed_type, seed_time,
            np.asarray(seed_key, dtype=np.uint64), fanouts, np.int64(strategy),
            np.uint64(base_seed), np.int64(node_bound),
            np.int64(edge_bound),
            np.int64(max(1, min(MAX_GROUP, GROUP_SLOTS // max(int(node_bound), 1)))), node,
            ntype, hop, etype, esrc, edst, n_nodes, n_edges, n_start, e_start)
    if n_chunks == 1:
        _sample_chunk(0, 1, *args)
    else:
        _sample_parallel(n_chunks, *args)
    return n_nodes, n_edges, n_start, e_start


@njit(nogil=True, cache=True)
def _pack_chunk(c, n_chunks, node, ntype, hop, etype, esrc, edst, n_nodes, n_edges, n_start,
                e_start, node_ptr, edge_ptr, o_node, o_type, o_hop, o_seed, o_et, o_src, o_dst):
    """Copy chunk ``c`` of ``n_chunks`` contiguous ranges of seeds; see :func:`compact`."""
    n_seeds = n_nodes.shape[0]
    per = (n_seeds + n_chunks - 1) // n_chunks
    first_seed = min(n_seeds, c * per)
    for s in range(first_seed, min(n_seeds, first_seed + per)):
        a = node_ptr[s]
        ns = n_start[s]
        for i in range(n_nodes[s]):
            o_node[a + i] = node[ns + i]
            o_type[a + i] = ntype[ns + i]
            o_hop[a + i] = hop[ns + i]
            o_seed[a + i] = s
        b = edge_ptr[s]
        es = e_start[s]
        for i in range(n_edges[s]):
            o_et[b + i] = etype[es + i]
            o_src[b + i] = esrc[es + i] + a
            o_dst[b + i] = edst[es + i] + a


@njit(parallel=True, nogil=True, cache=True)
def _pack_parallel(n_chunks, node, ntype, hop, etype, esrc, edst, n_nodes, n_edges, n_start,
                   e_start, node_ptr, edge_ptr, o_node, o_type, o_hop, o_seed, o_et, o_src,
                   o_dst):
    for c in prange(n_chunks):
        _pack_chunk(c, n_chunks, node, ntype, hop, etype, esrc, edst, n_nodes, n_edges, n_start,
                    e_start, node_ptr, edge_ptr, o_node, o_type, o_hop, o_seed, o_et, o_src,
                    o_dst)


def compact(node, ntype, hop, etype, esrc, edst, n_nodes, n_edges, n_start, e_start,
            n_chunks=1):
    """Pack the seeds' slots into flat arrays; edge ends become positions in the flat node list.

    Returns node, node type, hop, node's seed; edge type, source, destination; and node_ptr
    (seed ``s``'s nodes are ``node_ptr[s] : node_ptr[s + 1]``). Copies ``n_chunks`` parallel
    ranges of seeds (the copy is a good part of a batch's time once sampling runs in
    parallel).
    """
    n_seeds = n_nodes.shape[0]
    node_ptr = np.zeros(n_seeds + 1, dtype=np.int64)
    edge_ptr = np.zeros(n_seeds + 1, dtype=np.int64)
    np.cumsum(n_nodes, out=node_ptr[1:])
    np.cumsum(n_edges, out=edge_ptr[1:])
    total_n, total_e = int(node_ptr[-1]), int(edge_ptr[-1])
    out = (np.empty(total_n, dtype=np.int64), np.empty(total_n, dtype=np.int64),
           np.empty(total_n, dtype=np.int8), np.empty(total_n, dtype=np.int64),
           np.empty(total_e, dtype=np.int64), np.empty(total_e, dtype=np.int64),
           np.empty(total_e, dtype=np.int64))
    args = (node, ntype, hop, etype, esrc, edst, n_nodes, n_edges, n_start, e_start, node_ptr,
            edge_ptr, *out)
    n_chunks = max(1, min(n_seeds, int(n_chunks)))
    if n_chunks == 1:
        _pack_chunk(0, 1, *args)
    else:
        _pack_parallel(n_chunks, *args)
    return (*out, node_ptr)

"""The sampling kernel against a plain-Python reference of the same semantics."""
import numba
import numpy as np
import pytest

from relatron_sql.kernels import STRATEGIES, compact, sample
from relatron_sql.kernels.csr import csr_by_time, one_edge_rows, time_rank

NEVER = np.iinfo(np.int64).max


def random_graph(seed, n_a=40, n_b=60, n_edges=300):
    """Two node types a (ids 0..n_a-1) and b (n_a..), one edge list b->a and its reverse."""
    rng = np.random.default_rng(seed)
    t_a = rng.integers(0, 100, n_a)
    t_b = rng.integers(0, 100, n_b)
    t_b[:3] = NEVER  # rows with no time: never visible
    pairs = np.unique(np.stack([rng.integers(0, n_b, n_edges), rng.integers(0, n_a, n_edges)],
                               1), axis=0)  # no parallel edges
    return build(pairs[:, 0], pairs[:, 1], t_a, t_b)


def tree_graph(seed, n_a=30, n_b=200):
    """Every b row has exactly one parent a (a foreign key with no NULL)."""
    rng = np.random.default_rng(seed)
    t_a = rng.integers(0, 100, n_a)
    t_b = rng.integers(0, 100, n_b)
    return build(np.arange(n_b), rng.integers(0, n_a, n_b), t_a, t_b)


def build(src, dst, t_a, t_b):
    n_a, n_b = len(t_a), len(t_b)
    type_offset = np.array([0, n_a, n_a + n_b], dtype=np.int64)
    node_time = np.concatenate([t_a, t_b]).astype(np.int64)
    parts = []
    # edge type 0: b -> a (rows over a); edge type 1: a -> b (rows over b)
    for d, s, n_dst, s_off, s_times in ((dst, src, n_a, n_a, t_b), (src, dst, n_b, 0, t_a)):
        ip, ix, _ = csr_by_time(d, s, time_rank(s_times), n_dst)
        parts.append((ip, ix + s_off, s_times[ix]))
    row_off = np.array([0, n_a + 1], dtype=np.int64)
    indptr = np.concatenate([parts[0][0], parts[1][0] + parts[0][0][-1]])
    indices = np.concatenate([parts[0][1], parts[1][1]])
    nbr_time = np.concatenate([parts[0][2], parts[1][2]]).astype(np.int64)
    g = dict(indptr=indptr, indices=indices, nbr_time=nbr_time, row_off=row_off,
             et_dense=one_edge_rows(indptr, row_off, [n_a, n_b]),
             et_src_type=np.array([1, 0], dtype=np.int64),
             type_et_ptr=np.array([0, 1, 2], dtype=np.int64),
             type_et=np.array([0, 1], dtype=np.int64), type_offset=type_offset)
    return g, node_time


def run(g, seeds, seed_type, times, fanouts, strategy, base_seed=0, threads=None):
    fanouts = np.array(fanouts, dtype=np.int64)
    widest = int(np.diff(g["indptr"]).max(initial=1))
    bound = 1 + int(np.sum(np.cumprod(np.where(fanouts < 0, widest, np.minimum(fanouts,
                                                                             widest)))))
    n = len(seeds)
    work = (np.empty(n * bound, np.int64), np.empty(n * bound, np.int64),
            np.empty(n * bound, np.int8), np.empty(n * bound, np.int64),
            np.empty(n * bound, np.int64), np.empty(n * bound, np.int64))
    et_dense = g.get("et_dense", np.full(len(g["row_off"]), -1, dtype=np.int64))
    counts = sample(g["indptr"], g["indices"], g["nbr_time"], g["row_off"], et_dense,
                    g["et_src_type"], g["type_et_ptr"], g["type_et"], g["type_offset"],
                    np.asarray(seeds, dtype=np.int64), np.asarray(seed_type, dtype=np.int64),
                    np.asarray(times, dtype=np.int64),
                    np.asarray(seeds, dtype=np.uint64), fanouts, STRATEGIES[strategy],
                    np.uint64(base_seed), bound, bound, threads or numba.get_num_threads(),
                    *work)
    return compact(*work, *counts)


def reference_last(g, seed, seed_type, t, fanouts):
    """(node, hop) set and edge set of one seed under the 'last' strategy, in plain Python."""
    nodes = {seed: 0}
    frontier = [(seed, seed_type)]
    edges = set()
    for h, k in enumerate(fanouts):
        nxt = []
        for v, vt in frontier:
            for j in range(g["type_et_ptr"][vt], g["type_et_ptr"][vt + 1]):
                e = g["type_et"][j]
                row = g["row_off"][e] + v - g["type_offset"][vt]
                lo, hi = g["indptr"][row], g["indptr"][row + 1]
                visible = [q for q in range(lo, hi) if g["nbr_time"][q] <= t]
                for q in (visible if k < 0 else visible[-k:] if k else []):
                    u = int(g["indices"][q])
                    if u not in nodes:
                        nodes[u] = h + 1
                        nxt.append((u, int(g["et_src_type"][e])))
                    edges.add((int(e), u, v))
        frontier = nxt
    return nodes, edges


def per_seed(out, s):
    node, ntype, hop, seed, et, src, dst, ptr = out
    sel = slice(ptr[s], ptr[s + 1])
    nodes = dict(zip(node[sel].tolist(), hop[sel].tolist()))
    mask = seed[src] == s
    edges = set(zip(et[mask].tolist(), node[src[mask]].tolist(), node[dst[mask]].tolist()))
    return nodes, edges


@pytest.mark.parametrize("fanouts", [[3, 2], [-1, 4], [1, 1, 1]])
def test_last_matches_reference(fanouts):
    g, node_time = random_graph(1)
    rng = np.random.default_rng(2)
    seeds = rng.integers(0, 40, 25)
    times = rng.integers(0, 110, 25)
    out = run(g, seeds, np.zeros(25), times, fanouts, "last")
    for s in range(25):
        nodes, edges = per_seed(out, s)
        ref_nodes, ref_edges = reference_last(g, int(seeds[s]), 0, int(times[s]), fanouts)
        assert nodes == ref_nodes
        assert edges == ref_edges


def test_uniform_takes_distinct_visible_neighbours():
    g, node_time = random_graph(3)
    rng = np.random.default_rng(4)
    seeds = rng.integers(0, 40, 200)
    times = rng.integers(0, 110, 200)
    out = run(g, seeds, np.zeros(200), times, [2], "uniform")
    node, ntype, hop, seed, et, src, dst, ptr = out
    assert np.all(node_time[node[hop > 0]] <= times[seed[hop > 0]])
    for s in range(200):
        nodes, _ = per_seed(out, s)
        full, _ = reference_last(g, int(seeds[s]), 0, int(times[s]), [-1])
        got = {u for u, h in nodes.items() if h == 1}
        want = {u for u, h in full.items() if h == 1}
        assert got <= want
        assert len(got) == min(2, len(want))


def test_uniform_is_deterministic_and_thread_independent():
    g, _ = random_graph(5)
    seeds = np.arange(40)
    times = np.full(40, 80)
    a = run(g, seeds, np.zeros(40), times, [3, 2], "uniform", base_seed=11, threads=1)
    b = run(g, seeds, np.zeros(40), times, [3, 2], "uniform", base_seed=11)
    c = run(g, seeds, np.zeros(40), times, [3, 2], "uniform", base_seed=12)
    for x, y in zip(a, b):
        assert np.array_equal(x, y)
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_uniform_draws_are_roughly_uniform():
    # one destination with 10 visible neighbours; draw 3 of them many times
    src = np.arange(10)
    dst = np.zeros(10, dtype=np.int64)
    ip, ix, _ = csr_by_time(dst, src, time_rank(np.zeros(10)), 1)
    g = dict(indptr=ip, indices=ix + 1, nbr_time=np.zeros(10, dtype=np.int64),
             row_off=np.array([0], dtype=np.int64), et_src_type=np.array([1], dtype=np.int64),
             type_et_ptr=np.array([0, 1, 1], dtype=np.int64), type_et=np.array([0]),
             type_offset=np.array([0, 1, 11], dtype=np.int64))
    n = 3000   # one node at n times: each (node, time) keys draws of its own
    out = run(g, np.zeros(n), np.zeros(n), np.arange(n), [3], "uniform", base_seed=3)
    counts = np.bincount(out[0][out[2] == 1] - 1, minlength=10)
    assert counts.sum() == 3 * n
    assert np.all(np.abs(counts / (3 * n) - 0.1) < 0.02)


def test_one_edge_rows_marks_only_foreign_keys_without_nulls():
    g, _ = tree_graph(0)
    assert g["et_dense"].tolist() == [-1, g["indptr"][g["row_off"][1]]]
    g, _ = random_graph(0)
    assert g["et_dense"].tolist() == [-1, -1]
    # a child row with no parent (a NULL key) takes the edge type off the shortcut
    ip = np.array([0, 1, 1, 2])
    assert one_edge_rows(ip, np.array([0]), [3]).tolist() == [-1]
    assert one_edge_rows(np.array([5, 6, 7, 8]), np.array([0]), [3]).tolist() == [5]


@pytest.mark.parametrize("strategy", ["last", "uniform"])
def test_one_edge_shortcut_samples_the_same(strategy):
    g, _ = tree_graph(1)
    rng = np.random.default_rng(5)
    n = 60
    seeds = np.concatenate([rng.integers(0, 30, n // 2), rng.integers(30, 230, n // 2)])
    types = np.repeat([0, 1], n // 2)
    times = rng.integers(0, 110, n)
    fast = run(g, seeds, types, times, [4, 3, 2], strategy, base_seed=7)
    slow = run({**g, "et_dense": np.full(2, -1, dtype=np.int64)}, seeds, types, times,
               [4, 3, 2], strategy, base_seed=7)
    for x, y in zip(fast, slow):
        assert np.array_equal(x, y)
    if strategy == "last":
        for s in range(n):
            assert per_seed(fast, s) == reference_last(g, int(seeds[s]), int(types[s]),
                                                       int(times[s]), [4, 3, 2])


@pytest.mark.parametrize("n_chunks", [2, 3, 100])
def test_compact_in_chunks_packs_the_same(n_chunks):
    g, _ = random_graph(7)
    rng = np.random.default_rng(2)
    seeds = rng.integers(0, 40, 50)
    bound = 1 + 4 + 4 * 3
    work = (np.empty(50 * bound, np.int64), np.empty(50 * bound, np.int64),
            np.empty(50 * bound, np.int8), np.empty(50 * bound, np.int64),
            np.empty(50 * bound, np.int64), np.empty(50 * bound, np.int64))
    counts = sample(g["indptr"], g["indices"], g["nbr_time"], g["row_off"],
                    np.full(2, -1, dtype=np.int64), g["et_src_type"], g["type_et_ptr"],
                    g["type_et"], g["type_offset"], seeds, np.zeros(50, dtype=np.int64),
                    rng.integers(0, 110, 50), seeds.astype(np.uint64), np.array([4, 3]),
                    STRATEGIES["uniform"],
                    np.uint64(1), bound, bound, 2, *work)
    one = compact(*work, *counts)
    for x, y in zip(one, compact(*work, *counts, n_chunks)):
        assert x.dtype == y.dtype and np.array_equal(x, y)
    assert compact(*work, *(c[:0] for c in counts), n_chunks)[-1].tolist() == [0]

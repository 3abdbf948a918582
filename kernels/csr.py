"""Compressed sparse rows from edge lists: two counting-sort passes, no comparison sort.

``csr_by_time(dst, src, src_rank, n_dst)`` groups edges by destination and, inside each group,
orders them by the source's time rank, so that "neighbours no later than t" is a prefix that a
binary search finds.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _counting_order(keys, n_keys, order_in):
    """Stable permutation of ``order_in`` sorting it by ``keys[order_in]`` (keys in [0, n_keys))."""
    counts = np.zeros(n_keys + 1, dtype=np.int64)
    for i in range(order_in.shape[0]):
        counts[keys[order_in[i]] + 1] += 1
    for k in range(n_keys):
        counts[k + 1] += counts[k]
    out = np.empty_like(order_in)
    for i in range(order_in.shape[0]):
        j = order_in[i]
        k = keys[j]
        out[counts[k]] = j
        counts[k] += 1
    return out


@njit(cache=True, nogil=True)
def _gather_rank(src, src_rank):
    out = np.empty(src.shape[0], dtype=np.int64)
    for i in range(src.shape[0]):
        out[i] = src_rank[src[i]]
    return out


@njit(cache=True, nogil=True)
def csr_by_time(dst, src, src_rank, n_dst):
    """(indptr, indices, order): row d holds the sources of edges into d, oldest first.

    ``src_rank[s]`` is source s's position when sources are sorted by time; ``order`` maps CSR
    slots back to input edge positions.
    """
    n = dst.shape[0]
    identity = np.arange(n)
    n_rank = src_rank.shape[0]
    by_time = _counting_order(_gather_rank(src, src_rank), max(n_rank, 1), identity)
    order = _counting_order(dst, max(n_dst, 1), by_time)
    indptr = np.zeros(n_dst + 1, dtype=np.int64)
    for i in range(n):
        indptr[dst[i] + 1] += 1
    for d in range(n_dst):
        indptr[d + 1] += indptr[d]
    indices = np.empty(n, dtype=np.int64)
    for i in range(n):
        indices[i] = src[order[i]]
    return indptr, indices, order


@njit(cache=True, nogil=True)
def csr_stable(dst, src, n_dst):
    """(indptr, indices): edges grouped by destination, keeping their input order in each row.

    When the edges arrive ordered by source time, rows come out oldest first with a single
    counting pass."""
    n = dst.shape[0]
    indptr = np.zeros(n_dst + 1, dtype=np.int64)
    for i in range(n):
        indptr[dst[i] + 1] += 1
    for d in range(n_dst):
        indptr[d + 1] += indptr[d]
    fill = indptr[:-1].copy()
    indices = np.empty(n, dtype=np.int64)
    for i in range(n):
        d = dst[i]
        indices[fill[d]] = src[i]
        fill[d] += 1
    return indptr, indices


def time_rank(times: np.ndarray) -> np.ndarray:
    """Rank of each node by time (ties by position), as int64."""
    order = np.argsort(times, kind="stable")
    rank = np.empty(len(times), dtype=np.int64)
    rank[order] = np.arange(len(times), dtype=np.int64)
    return rank


def one_edge_rows(indptr, row_off, n_rows):
    """Per edge type, the position of row 0's edge when every row has exactly one edge, else -1.

    Edge types of that shape (a foreign key with no NULL, seen from the child row) let the
    sampler find row ``i``'s edge at that position plus ``i`` without reading ``indptr``.
    """
    out = np.full(len(row_off), -1, dtype=np.int64)
    for e, (lo, n) in enumerate(zip(row_off, n_rows)):
        ptr = indptr[lo:lo + n + 1]
        if n > 0 and ptr[-1] - ptr[0] == n and np.all(np.diff(ptr) == 1):
            out[e] = ptr[0]
    return out

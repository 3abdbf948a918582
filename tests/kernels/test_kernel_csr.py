"""CSR construction: grouping by destination, rows ordered by source time, against numpy."""
import numpy as np
import pytest

from relatron_sql.kernels import csr_by_time, time_rank


@pytest.mark.parametrize("n_src,n_dst,n_edges", [(50, 30, 400), (1, 5, 3), (20, 20, 0)])
def test_matches_lexsort_reference(n_src, n_dst, n_edges):
    rng = np.random.default_rng(n_edges)
    src = rng.integers(0, n_src, n_edges)
    dst = rng.integers(0, n_dst, n_edges)
    times = rng.integers(0, 10, n_src)  # many ties
    indptr, indices, order = csr_by_time(dst, src, time_rank(times), n_dst)
    assert indptr[0] == 0 and indptr[-1] == n_edges
    assert np.array_equal(np.diff(indptr), np.bincount(dst, minlength=n_dst))
    ref = np.lexsort((np.arange(n_edges), time_rank(times)[src], dst))
    assert np.array_equal(order, ref)
    assert np.array_equal(indices, src[ref])
    for d in range(n_dst):
        row_times = times[indices[indptr[d]:indptr[d + 1]]]
        assert np.all(np.diff(row_times) >= 0)


def test_time_rank_breaks_ties_by_position():
    assert time_rank(np.array([5, 1, 5, 0])).tolist() == [2, 1, 3, 0]


def test_stable_grouping_of_time_ordered_edges_matches_the_general_build():
    rng = np.random.default_rng(9)
    times = rng.integers(0, 50, 200)
    src = np.argsort(times, kind="stable")  # each source once, oldest first
    dst = rng.integers(0, 17, 200)
    from relatron_sql.kernels import csr_stable
    a_ptr, a_idx = csr_stable(dst, src, 17)
    b_ptr, b_idx, _ = csr_by_time(dst, src, time_rank(times), 17)
    assert np.array_equal(a_ptr, b_ptr) and np.array_equal(a_idx, b_idx)

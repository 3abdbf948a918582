"""numba kernels over flat numpy arrays: CSR construction and temporal neighbour sampling."""
from .csr import csr_by_time, csr_stable, one_edge_rows, time_rank
from .sampling import LAST, STRATEGIES, UNIFORM, compact, key_hashes, sample

__all__ = ["csr_by_time", "csr_stable", "one_edge_rows", "time_rank", "sample", "compact",
           "key_hashes", "STRATEGIES", "UNIFORM", "LAST"]

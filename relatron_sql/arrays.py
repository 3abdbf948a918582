"""Columns fetched from DuckDB as numpy arrays.

``fetchnumpy()`` gives a column with NULLs as a masked array; ``np.asarray`` on it drops the
mask and keeps whatever the masked slots hold (zeros), so a NULL would read as 0.
"""
from __future__ import annotations

import numpy as np


def floats(values) -> np.ndarray:
    """A fetched column as float64, NULL as NaN."""
    if np.ma.isMaskedArray(values):
        return np.asarray(np.ma.filled(values.astype(float), np.nan), dtype=float)
    return np.asarray(values, dtype=float)

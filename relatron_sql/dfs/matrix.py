"""Run a compiled feature plan in DuckDB and return the feature matrix in the order of the rows.

The rows go in as an Arrow table registered as ``relatron_feature_anchors`` (with a row number),
the compiled statement runs once, and the result comes back through Arrow as a float32 matrix
(NULL becomes NaN).

Why float32: DuckDB aggregates in parallel, and floating-point sums (standard deviations above
all) come out in a different summation order on every run, differing in the last bits (up to
5e-13 relative on rel-f1). Rounded to float32 (about 6e-8 relative), the same data gives the same
matrix, so a seeded training is repeatable; LightGBM bins features into at most 255 values, so
float32 loses nothing it would use, and the matrix takes half the memory.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
from sqlglot import exp

from ..sqlbuild import column as col, table as table_ref
from .compile import ANCHORS, compile_plan, to_sql
from .enumerate import FeaturePlan


def anchors_table(anchor_time, entity_id) -> pa.Table:
    return pa.table({"row_id": pa.array(np.arange(len(entity_id), dtype=np.int64)),
                     "anchor_time": pa.array(np.asarray(anchor_time).astype("datetime64[us]")),
                     "entity_id": pa.array(np.asarray(entity_id).astype(str))})


def aligned_query(plan: FeaturePlan, info: dict) -> str:
    """The feature query joined back to the registered rows, in their order."""
    tree = compile_plan(plan, info)
    names = [f["name"] for f in plan.features]
    outer = exp.select(*[col(n, "f") for n in names]).from_(
        exp.alias_(table_ref(ANCHORS), "r", table=True, quoted=True), copy=False).join(
        exp.alias_(exp.Subquery(this=tree), "f", quoted=True, copy=False), join_type="left",
        on=exp.and_(exp.EQ(this=col("entity_id", "f"), expression=col("entity_id", "r")),
                    exp.EQ(this=col("anchor_time", "f"),
                           expression=exp.cast(col("anchor_time", "r"), "TIMESTAMP"))),
        copy=False).order_by(col("row_id", "r"), copy=False)
    return to_sql(outer, "duckdb")


def feature_matrix(con, plan: FeaturePlan, info: dict, anchor_time, entity_id) -> np.ndarray:
    """A (rows x features) float32 matrix of ``plan`` at each (anchor_time, entity_id)."""
    names = [f["name"] for f in plan.features]
    if len(entity_id) == 0:
        return np.zeros((0, len(names)), dtype=np.float32)
    query = aligned_query(plan, info)
    con.register(ANCHORS, anchors_table(anchor_time, entity_id))
    try:
        result = con.sql(query).to_arrow_table()
    finally:
        con.unregister(ANCHORS)
    out = np.empty((result.num_rows, len(names)), dtype=np.float32)
    for j in range(len(names)):
        column = result.column(j)
        if column.null_count:
            column = column.cast(pa.float64()).fill_null(np.nan)
        out[:, j] = column.to_numpy()
    return out

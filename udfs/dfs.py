"""SQL functions of the DFS family: the feature query in any engine's dialect."""
from __future__ import annotations

from .base import sql_function
from .core import required


@sql_function("relatron_features_sql", [("name", "VARCHAR", None),
                                        ("dialect", "VARCHAR", "'duckdb'")], "VARCHAR")
def features_sql(con, name, dialect):
    """The DFS feature query of task ``name`` (anchors from relatron_feature_anchors)."""
    from relatron_sql.dfs import family   # imported on first use: LightGBM takes a while

    return family.features_sql(con, required(name, "name"), required(dialect, "dialect"))

"""Opening a database with every Relatron SQL function registered."""
from __future__ import annotations

import duckdb

from . import registry

#: DuckDB 1.x readers (the duckdb CLI on PyPI, BI drivers) open files written with this setting.
COMPATIBLE_STORAGE = "v1.4.0"


def connect(path: str = ":memory:", compatible: bool = False,
            read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open ``path`` and register Relatron on it.

    ``compatible=True`` creates a new database file that DuckDB 1.4+ readers can open.
    """
    config = {}
    if compatible and path != ":memory:":
        config["storage_compatibility_version"] = COMPATIBLE_STORAGE
    con = duckdb.connect(path, read_only=read_only, config=config)
    register(con)
    return con


def register(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Create the registry (if missing) and register every SQL function on ``con``."""
    from .udfs import register_functions  # the engine never needs the SQL layer otherwise

    registry.ensure(con)
    register_functions(con)
    return con

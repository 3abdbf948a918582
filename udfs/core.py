"""SQL functions for data: load, declare, schema, tasks."""
from __future__ import annotations

import datetime as dt

import sqlglot

from relatron_sql import datasets, schema as schema_mod, task as task_mod
from relatron_sql.errors import TaskError, bad_argument

from .base import sql_text, as_json, call_sql, macro, sql_function


def required(value, argument: str):
    if value is None:
        raise bad_argument(argument, "is required and was NULL", None, TaskError)
    return value


@sql_function("relatron_load", [("dataset", "VARCHAR", None), ("path", "VARCHAR", "NULL"),
                                ("replace", "BOOLEAN", "false")], "VARCHAR")
def load(con, dataset, path, replace):
    return as_json(datasets.load(con, required(dataset, "dataset"), path, bool(replace)))


@sql_function("relatron_declare", [("table_name", "VARCHAR", None),
                                   ("primary_key", "VARCHAR", "NULL"),
                                   ("foreign_keys", "MAP(VARCHAR, VARCHAR)", "NULL"),
                                   ("time_column", "VARCHAR", "NULL")], "VARCHAR")
def declare(con, table_name, primary_key, foreign_keys, time_column):
    """Arguments left NULL keep what an earlier declaration of the table said."""
    return schema_mod.declare(con, required(table_name, "table_name"), primary_key,
                              foreign_keys, time_column)


_SCHEMA_ROW = ("STRUCT(table_name VARCHAR, column_name VARCHAR, data_type VARCHAR, role VARCHAR, "
               "references_table VARCHAR, semantic_type VARCHAR, distinct_values BIGINT, "
               "dangling BIGINT)[]")


@sql_function("relatron_schema", [], _SCHEMA_ROW, table=True)
def schema(con):
    return schema_mod.schema_rows(schema_mod.read_schema(con))


# The horizon reaches Python as a number of days: a month as 30, a year as 360, which a label
# query written with calendar months would not match. And a horizon past Python's timedelta
# range fails before the UDF runs. So the macro checks the INTERVAL itself, read from its text so
# that the checks bind whatever type was given (a wrong type then fails on the UDF call, whose
# binder error names the argument).
_HORIZON = "TRY_CAST(CAST(horizon AS VARCHAR) AS INTERVAL)"
_LONGEST = (dt.datetime.max - dt.datetime.min).total_seconds()
_PREFIX = sql_text(str(bad_argument("horizon", "")))  # 'argument ''horizon'': '
_HORIZON_GUARDS = [
    (f"date_part('year', {_HORIZON}) * 12 + date_part('month', {_HORIZON}) <> 0",
     f"{_PREFIX} || CAST(horizon AS VARCHAR) || " + sql_text(
         " (months and years have no fixed length; give days, e.g. INTERVAL 30 DAY)")),
    (f"abs(epoch({_HORIZON})) > {_LONGEST!r}",
     f"{_PREFIX} || CAST(horizon AS VARCHAR) || " + sql_text(
         " is longer than the whole range of timestamps (years 1 to 9999)")),
]


@sql_function("relatron_task", [
    ("name", "VARCHAR", None), ("entity", "VARCHAR", "NULL"), ("kind", "VARCHAR", "'binary'"),
    ("horizon", "INTERVAL", "INTERVAL 30 DAY"), ("val_timestamp", "TIMESTAMP", "NULL"),
    ("test_timestamp", "TIMESTAMP", "NULL"), ("eval_windows", "BIGINT", "40"),
    ("label_sql", "VARCHAR", "NULL"), ("train_start", "TIMESTAMP", "NULL"),
    ("description", "VARCHAR", "NULL"), ("replace", "BOOLEAN", "false"),
    ("exclude", "VARCHAR[]", "NULL")], "VARCHAR", guards=_HORIZON_GUARDS)
def task(con, name, entity, kind, horizon, val_timestamp, test_timestamp, eval_windows,
         label_sql, train_start, description, replace, exclude):
    counts = task_mod.create_task(
        con, required(name, "name"), required(entity, "entity"), label_sql,
        kind=required(kind, "kind"), horizon=required(horizon, "horizon"),
        val_timestamp=val_timestamp, test_timestamp=test_timestamp, eval_windows=eval_windows,
        train_start=train_start, description=description, replace=bool(replace),
        exclude=exclude)
    return as_json(counts)


def reading_query(con, name, template: str) -> str:
    """``template`` (a query over the registry) for task ``name``, once the task is known to
    exist. The table macros run it through ``query()``, which binds it when the macro is
    called: a macro that named a registry table itself could not be created on a database
    without a registry (one opened read-only), nor called in one attached since."""
    task = task_mod.load_task(con, required(name, "name"))
    return template.format(name=sqlglot.exp.Literal.string(task.name).sql("duckdb"))


@sql_function("relatron_task_rows_query", [("name", "VARCHAR", None)], "VARCHAR", hidden=True)
def task_rows_query(con, name):
    return reading_query(con, name, "SELECT split, anchor_time, entity_id, label FROM "
                         "relatron.task_rows WHERE task = {name} "
                         "ORDER BY split, anchor_time, entity_id")


macro("relatron_task_rows(name)",
      "TABLE FROM query(" + call_sql("relatron_task_rows_query", "relatron_task_rows") + ")")

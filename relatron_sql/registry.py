"""The registry: plain tables in schema ``relatron`` that any DuckDB reader can query.

Every write that belongs together goes through :func:`transaction`, which runs on its own cursor
(inside a UDF the calling connection is busy) and rolls back on any error.
"""
from __future__ import annotations

import contextlib
import json
import math
import threading
from typing import Any, Iterator

import duckdb
import numpy as np

SCHEMA = "relatron"

DDL = (
    "CREATE SCHEMA IF NOT EXISTS relatron",
    """CREATE TABLE IF NOT EXISTS relatron.declarations (
        table_name VARCHAR PRIMARY KEY,
        primary_key VARCHAR,
        foreign_keys VARCHAR,        -- JSON object: column -> referenced table
        time_column VARCHAR,
        declared_at TIMESTAMP DEFAULT current_timestamp)""",
    """CREATE TABLE IF NOT EXISTS relatron.tasks (
        name VARCHAR PRIMARY KEY,
        entity VARCHAR NOT NULL,
        entity_key VARCHAR NOT NULL,
        entity_key_type VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        horizon INTERVAL NOT NULL,
        val_timestamp TIMESTAMP NOT NULL,
        test_timestamp TIMESTAMP NOT NULL,
        eval_windows INTEGER NOT NULL,
        train_start TIMESTAMP,
        label_sql VARCHAR NOT NULL,
        metric VARCHAR NOT NULL,
        num_classes INTEGER,
        description VARCHAR,
        counts VARCHAR,              -- JSON: split -> rows, positive rate / mean
        created_at TIMESTAMP DEFAULT current_timestamp,
        exclude VARCHAR)             -- JSON list of 'table.column' its models do not read""",
    """CREATE TABLE IF NOT EXISTS relatron.task_rows (
        task VARCHAR NOT NULL,
        split VARCHAR NOT NULL,
        anchor_time TIMESTAMP NOT NULL,
        entity_id VARCHAR NOT NULL,
        label DOUBLE NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS relatron.models (
        name VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        active BOOLEAN NOT NULL,
        family VARCHAR NOT NULL,
        config VARCHAR,
        metrics VARCHAR,
        seed INTEGER,
        data_fingerprint VARCHAR,
        library_versions VARCHAR,
        created_at TIMESTAMP DEFAULT current_timestamp,
        seconds DOUBLE,
        status VARCHAR,
        error VARCHAR,
        route VARCHAR,
        run_id VARCHAR,              -- its run's rows in relatron.trials
        PRIMARY KEY (name, version))""",
    """CREATE TABLE IF NOT EXISTS relatron.artifacts (
        name VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        part VARCHAR NOT NULL,
        format VARCHAR NOT NULL,     -- 'lightgbm-text', 'torch' (a state dict), 'json'
        payload BLOB NOT NULL,
        PRIMARY KEY (name, version, part))""",
    """CREATE TABLE IF NOT EXISTS relatron.trials (
        name VARCHAR NOT NULL,
        run_id VARCHAR NOT NULL,
        family VARCHAR NOT NULL,
        trial INTEGER NOT NULL,
        epoch INTEGER,
        config VARCHAR,
        train_loss DOUBLE,
        val_metric DOUBLE,
        seconds DOUBLE,
        created_at TIMESTAMP DEFAULT current_timestamp)""",
    """CREATE TABLE IF NOT EXISTS relatron.features (
        name VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        feature VARCHAR NOT NULL,
        importance DOUBLE,
        description VARCHAR,
        sql VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS relatron.predictions (
        name VARCHAR NOT NULL,
        entity_id VARCHAR NOT NULL,
        anchor_time TIMESTAMP NOT NULL,
        split VARCHAR,
        prediction DOUBLE,
        model_version INTEGER NOT NULL,
        written_at TIMESTAMP DEFAULT current_timestamp)""",
    """CREATE TABLE IF NOT EXISTS relatron.bank (
        task VARCHAR NOT NULL,
        database VARCHAR,
        signals VARCHAR,
        family VARCHAR NOT NULL,
        config VARCHAR,
        val_metric DOUBLE,
        test_metric DOUBLE,
        source VARCHAR,
        created_at TIMESTAMP DEFAULT current_timestamp)""",
)


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    """Create the registry schema and tables if they are missing (idempotent).

    A read-only database is left alone: its registry, if it has one, can still be read.
    """
    if is_read_only(con):
        return
    with transaction(con) as cur:
        _create(cur)


#: columns added to registry tables after they were first created; a registry made before
#: gets them when it is next opened for writing
ADDED_COLUMNS = (("tasks", "exclude", "VARCHAR"), ("models", "run_id", "VARCHAR"))

#: the run of model ``m`` in a registry from before models named it: the last run of its task
#: that wrote trials before the model was registered
RUN_BY_TIME = ("(SELECT t.run_id FROM relatron.trials AS t WHERE t.name = m.name AND "
               "t.created_at <= m.created_at GROUP BY t.run_id ORDER BY MAX(t.created_at) DESC "
               "LIMIT 1)")

#: filling a column added to a registry that predates it, where its rows can tell
_BACKFILL = {("models", "run_id"): f"UPDATE relatron.models AS m SET run_id = {RUN_BY_TIME}"}


def _create(cur: duckdb.DuckDBPyConnection) -> None:
    for statement in DDL:
        cur.execute(statement)
    have = _columns(cur)
    for table, column, dtype in ADDED_COLUMNS:
        if (table, column) not in have:
            cur.execute(f"ALTER TABLE relatron.{table} ADD COLUMN {column} {dtype}")
            if (table, column) in _BACKFILL:
                cur.execute(_BACKFILL[(table, column)])


def _columns(cur: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """(table, column) of every registry column in the current database."""
    return {(t, c) for t, c in cur.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = "
        "current_database() AND schema_name = 'relatron'").fetchall()}


def _outdated(cur: duckdb.DuckDBPyConnection) -> bool:
    """Whether the current database lacks a registry table or a column added since."""
    tables = cur.execute("SELECT COUNT(*) FROM duckdb_tables() WHERE database_name = "
                         "current_database() AND schema_name = 'relatron'").fetchall()[0][0]
    if tables < len(DDL) - 1:   # DDL[0] creates the schema
        return True
    have = _columns(cur)
    return any((t, c) not in have for t, c, _ in ADDED_COLUMNS)


def is_read_only(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the current database of ``con`` was opened read-only."""
    rows = con.execute("SELECT readonly FROM duckdb_databases() "
                       "WHERE database_name = current_database()").fetchall()
    return bool(rows and rows[0][0])


def refuse_read_only(con: duckdb.DuckDBPyConnection, what: str, error: type,
                     advice: str = "") -> None:
    """Raise ``error`` saying ``what`` the call writes, when the database is open read-only: said
    before any work, where DuckDB's own error would come at the first write, naming nothing."""
    if is_read_only(con):
        raise error(f"{what}, and this database is open read-only"
                    + (f"; {advice}" if advice else ""))


def added_column(con: duckdb.DuckDBPyConnection, table: str, column: str,
                 missing: str = "NULL") -> str:
    """``column`` of registry table ``table`` for a SELECT list, or ``missing AS column`` where
    the registry predates it: a file opened read-only is never brought up to date."""
    assert (table, column) in {(t, c) for t, c, _ in ADDED_COLUMNS}
    have = con.execute("SELECT COUNT(*) FROM duckdb_columns() WHERE database_name = "
                       "current_database() AND schema_name = 'relatron' AND table_name = ? AND "
                       "column_name = ?", [table, column]).fetchall()[0][0]
    return column if have else f"{missing} AS {column}"


def has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether the current database of ``con`` has registry table ``table`` (a database opened
    read-only, or attached, that Relatron never wrote to has none)."""
    return bool(con.execute("SELECT COUNT(*) FROM duckdb_tables() WHERE database_name = "
                            "current_database() AND schema_name = 'relatron' AND table_name = ?",
                            [table]).fetchall()[0][0])


def cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A cursor of ``con`` that reads time and names as ``con`` does.

    A cursor is a connection of its own: it does not inherit a ``SET TimeZone`` or a ``USE`` of
    ``con``. Labels materialised on a cursor and features computed on ``con`` would then read one
    naive anchor time as two different instants against a TIMESTAMPTZ column, and a row after
    the anchor could count both in the label window and in the features.
    """
    cur = con.cursor()
    try:
        zone, database = con.execute("SELECT current_setting('TimeZone'), current_database()"
                                     ).fetchall()[0]
    except duckdb.Error:   # a connection busy running a query: its cursors are the engine's
        return cur
    follow_session(cur, zone, database)
    return cur


def follow_session(cur: duckdb.DuckDBPyConnection, zone: str | None,
                   database: str | None) -> None:
    """Give a fresh cursor the caller's time zone and current database (``USE``); the
    registry is created in that database when it has none yet (or lacks a column added since)."""
    if zone is not None:
        cur.execute("SET TimeZone = ?", [zone])
    if database is None:
        return
    current = cur.execute("SELECT current_database()").fetchall()[0][0]
    if database != current:
        from .sqlbuild import quoted
        cur.execute("USE " + quoted(database))
        if not is_read_only(cur) and _outdated(cur):
            _create(cur)   # on this cursor: ``ensure``'s transaction would open another one


_OPEN: set[int] = set()  # ids of cursors that are inside a transaction opened here
#: One registry transaction at a time in this process. DuckDB calls a statement's UDFs from
#: several threads; two registrations of one task read the same highest version otherwise.
_WRITING = threading.RLock()


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor inside one transaction: committed on success, rolled back on any error.

    Called with a cursor that is already inside such a transaction, it joins it, so that a
    loader can create tables, declarations and tasks as one unit.
    """
    if id(con) in _OPEN:
        yield con
        return
    with _WRITING:
        cur = cursor(con)
        cur.begin()
        _OPEN.add(id(cur))
        try:
            yield cur
        except BaseException:
            cur.rollback()
            raise
        else:
            cur.commit()   # a commit that fails has rolled back already: its error is raised
        finally:
            _OPEN.discard(id(cur))
            cur.close()


def finite_json(value: Any) -> Any:
    """``value`` with every NaN or infinite float (numpy's too) replaced by ``None``.

    Strict JSON has no NaN or Infinity, and readers such as BI tools and JavaScript reject
    them; ``null`` is what they expect for a metric that is not defined.
    """
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    return value


def to_json(value: Any, sort_keys: bool = True) -> str:
    """Strict JSON (NaN and infinities written as ``null``) of ``value``."""
    return json.dumps(finite_json(value), sort_keys=sort_keys, default=str, allow_nan=False)


def from_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)

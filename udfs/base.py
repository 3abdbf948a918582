"""Declaring UDFs once and installing them, with their macros, on any connection."""
from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable

import duckdb

from relatron_sql import registry


@dataclasses.dataclass(frozen=True)
class SqlFunction:
    name: str                          # the name users call (a macro)
    impl: Callable[..., Any]           # impl(con, *args) -> value
    params: tuple[tuple[str, str, str | None], ...]  # (name, DuckDB type, default SQL or None)
    returns: str
    table: bool = False                # a table macro over a LIST(STRUCT) result
    commit: str | None = None          # a second function, run on this one's result (below)
    hidden: bool = False               # no macro of its own: only called by other macros
    guards: tuple[tuple[str, str], ...] = ()  # (SQL condition, SQL message): error() before


FUNCTIONS: list[SqlFunction] = []
MACROS: list[tuple[str, str]] = []  # (signature, body) of macros written in SQL over the UDFs


def macro(signature: str, body: str) -> None:
    """Register a macro written in SQL (over registry tables or the ``*_udf`` functions)."""
    MACROS.append((signature, body))


def sql_function(name: str, params: list[tuple], returns: str, table: bool = False,
                 commit: str | None = None, hidden: bool = False,
                 guards: list[tuple[str, str]] = ()):
    """Register ``impl(con, *args)`` as the SQL function ``name``.

    With ``commit``, the macro runs in two steps of one statement: this function's result
    goes, through a subquery, to the function named ``commit``. DuckDB checks for an interrupt
    between the two, so work that this function only prepares and ``commit`` writes is never
    written when the statement is interrupted while this function runs.
    With ``guards``, the macro raises ``error(message)`` for the first condition that holds,
    before the UDF is called: for what only SQL can see of an argument (an INTERVAL's months).
    """
    def wrap(impl):
        FUNCTIONS.append(SqlFunction(name, impl, tuple(params), returns, table, commit, hidden,
                                     tuple(guards)))
        return impl
    return wrap


#: What every UDF receives after its own arguments: the calling session's time zone and
#: current database. A macro evaluates them in the caller's session; the UDF's cursor is a
#: connection of its own, with the default zone and database. Against a TIMESTAMPTZ time column
#: naive anchor times would read as other instants than the caller's own queries read them, and
#: after ``USE other_db`` tables and the registry would be looked up in the wrong database.
SESSION = "current_setting('TimeZone'), current_database()"
#: how many arguments SESSION adds
SESSION_ARGS = 2


def _udf(con: duckdb.DuckDBPyConnection, fn: SqlFunction) -> Callable[..., Any]:
    def call(*args):
        *args, zone, database = args
        cur = con.cursor()
        try:
            registry.follow_session(cur, zone, database)
            return fn.impl(cur, *args)
        finally:
            cur.close()
    call.__signature__ = inspect.Signature(
        [inspect.Parameter(p[0], inspect.Parameter.POSITIONAL_ONLY) for p in fn.params]
        + [inspect.Parameter("session_time_zone", inspect.Parameter.POSITIONAL_ONLY),
           inspect.Parameter("session_database", inspect.Parameter.POSITIONAL_ONLY)])
    return call


def install(con: duckdb.DuckDBPyConnection) -> None:
    for fn in FUNCTIONS:
        udf_name = fn.name + "_udf"
        try:
            con.remove_function(udf_name)
        except (duckdb.InvalidInputException, duckdb.CatalogException):
            pass
        con.create_function(udf_name, _udf(con, fn),
                            [p[1] for p in fn.params] + ["VARCHAR"] * SESSION_ARGS,
                            fn.returns, side_effects=True, null_handling="special")
    install_macros(con)


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Create the (temporary, per-connection) macros; a cursor needs them again, not the UDFs."""
    for fn in FUNCTIONS:
        if fn.hidden:
            continue
        udf_name = fn.name + "_udf"
        required = [p[0] for p in fn.params if p[2] is None]
        optional = [f"{p[0]} := {p[2]}" for p in fn.params if p[2] is not None]
        signature = ", ".join(required + optional)
        call = f"{udf_name}({', '.join([p[0] for p in fn.params] + [SESSION])})"
        if fn.table:
            body = f"TABLE SELECT unnest({call}, recursive := true)"
        elif fn.commit:
            body = (f"(SELECT {fn.commit}_udf(staged, {SESSION}) FROM (SELECT {call} AS staged "
                    "OFFSET 0))")
        else:
            body = call
        if fn.guards:
            body = ("CASE " + " ".join(f"WHEN {cond} THEN error({message})"
                                       for cond, message in fn.guards) + f" ELSE {body} END")
        con.execute(" ".join(["CREATE OR REPLACE TEMP MACRO", fn.name + "(" + signature + ")",
                              "AS", body]))
    for signature, body in MACROS:
        con.execute(" ".join(["CREATE OR REPLACE TEMP MACRO", signature, "AS", body]))


def as_json(value: Any) -> str:
    """Strict JSON for a SQL result: an undefined metric (NaN) or infinity becomes ``null``."""
    return registry.to_json(value, sort_keys=False)

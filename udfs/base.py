"""Declaring UDFs once and installing them, with their macros, on any connection."""
from __future__ import annotations

import dataclasses
import inspect
import itertools
import weakref
from typing import Any, Callable

import duckdb

from relatron_sql import registry
from relatron_sql.errors import RelatronError
from relatron_sql.sqlbuild import sql_text


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
    Every argument is checked against its parameter's type first (``call_sql``). With
    ``guards``, the macro then raises ``error(message)`` for the first condition that holds,
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
        except KeyboardInterrupt:   # Ctrl-C, where DuckDB runs the call on the main thread
            raise RelatronError("interrupted; the registry is left as it was") from None
        finally:
            cur.close()
    call.__signature__ = inspect.Signature(
        [inspect.Parameter(p[0], inspect.Parameter.POSITIONAL_ONLY) for p in fn.params]
        + [inspect.Parameter("session_time_zone", inspect.Parameter.POSITIONAL_ONLY),
           inspect.Parameter("session_database", inspect.Parameter.POSITIONAL_ONLY)])
    return call


#: The suffix of the UDF names each registered connection calls. DuckDB keeps UDFs in a catalog
#: that every connection to the same database in this process shares, and only the connection
#: that created a UDF can remove it; so each connection registers its own, under its own names,
#: and its (temporary, per-connection) macros call those.
_SUFFIXES: "weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, str]" = \
    weakref.WeakKeyDictionary()
_NUMBERS = itertools.count(1)


def install(con: duckdb.DuckDBPyConnection) -> None:
    suffix = _SUFFIXES.get(con)
    if suffix is None:
        suffix = _SUFFIXES[con] = f"_udf_{next(_NUMBERS)}"
    for fn in FUNCTIONS:
        udf_name = fn.name + suffix
        try:
            con.remove_function(udf_name)
        except (duckdb.InvalidInputException, duckdb.CatalogException):
            pass
        con.create_function(udf_name, _udf(con, fn),
                            [p[1] for p in fn.params] + ["VARCHAR"] * SESSION_ARGS,
                            fn.returns, side_effects=True, null_handling="special")
    install_macros(con)


_INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
             "UINTEGER", "UBIGINT", "UHUGEINT")
#: The argument types (as ``typeof`` names them) a parameter of each type takes besides a string,
#: which is read as the parameter's type as DuckDB reads a string literal, and NULL. A value the
#: parameter's type cannot hold (a whole number too large, a string that is no timestamp) is
#: refused after the type. A TIMESTAMP WITH TIME ZONE is refused: which wall-clock time it
#: stands for is for the caller to say. A STRUCT of text (``{'user_id': 'users'}``, which is also
#: what a Python dict becomes) is taken as the MAP of the same entries.
ACCEPTED = {"VARCHAR": (), "BOOLEAN": ("BOOLEAN",), "BIGINT": _INTEGERS,
            "DOUBLE": _INTEGERS + ("FLOAT", "DOUBLE", "DECIMAL"), "INTERVAL": ("INTERVAL",),
            "TIMESTAMP": ("TIMESTAMP", "DATE", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"),
            "VARCHAR[]": ("VARCHAR[]", '"NULL"[]'),
            "MAP(VARCHAR, VARCHAR)": tuple(f"MAP({k}, {v})" for k in ("VARCHAR", '"NULL"')
                                           for v in ("VARCHAR", '"NULL"'))}


def _argument_checks(param: str, expected: str, function: str) -> list[tuple[str, str]]:
    """(SQL condition, SQL message) pairs that refuse an argument of another type, or a value
    its parameter's type cannot hold, naming the argument. They bind whatever type is given,
    so the refusal is Relatron's own line and not DuckDB's binder error about the UDF."""
    if expected not in ACCEPTED:
        raise ValueError(f"{function}: no argument check for parameter type {expected}")
    taken = ("VARCHAR", '"NULL"') + ACCEPTED[expected]
    given = f"typeof({param})"
    wrong = f"{given} NOT IN ({', '.join(sql_text(t) for t in taken if t != 'DECIMAL')})"
    if "DECIMAL" in taken:
        wrong += f" AND NOT starts_with({given}, 'DECIMAL(')"
    checks = []
    if expected.startswith("MAP("):
        wrong += f" AND NOT starts_with({given}, 'STRUCT(')"
        # A STRUCT whose values are not all text or NULL would be cast value by value to text.
        not_text = (f"starts_with({given}, 'STRUCT(') AND "
                    f"to_json({param}) IS DISTINCT FROM to_json(TRY_CAST({param} AS {expected}))")
        checks.append((not_text, sql_text(f"argument {param!r} of {function}: every value must "
                                          "be text or NULL, got ") + f" || {given}"))
    type_message = (sql_text(f"argument {param!r} of {function}: expected {expected}, got ")
                    + f" || {given} || " + sql_text(f"; cast it, e.g. CAST(... AS {expected})"))
    text = f"CAST({param} AS VARCHAR)"
    value_message = (sql_text(f"argument {param!r}: ") + f" || CASE WHEN {given} = 'VARCHAR' "
                     f"THEN {sql_text(chr(39))} || {text} || "
                     + sql_text(f"' cannot be read as {expected}")
                     + f" ELSE {text} || " + sql_text(f" is out of range for {expected}")
                     + " END")
    cannot = f"{param} IS NOT NULL AND TRY_CAST({param} AS {expected}) IS NULL"
    return [(wrong, type_message)] + checks + [(cannot, value_message)]


def call_sql(name: str, shown_as: str | None = None) -> str:
    """SQL calling the UDF of function ``name`` on the macro parameters of the same names, each
    checked (type, then value) and cast to its parameter's type; the function's own guards
    follow. Messages name ``shown_as``, the macro a user called, when it is not ``name``."""
    fn = next(f for f in FUNCTIONS if f.name == name)
    guards = [check for param, expected, _ in fn.params
              for check in _argument_checks(param, expected, shown_as or name)]
    guards += list(fn.guards)
    args = [f"TRY_CAST({param} AS {expected})" for param, expected, _ in fn.params]
    call = f"{name}_udf({', '.join(args + [SESSION])})"
    if not guards:
        return call
    return ("CASE " + " ".join(f"WHEN {cond} THEN error({message})" for cond, message in guards)
            + f" ELSE {call} END")


def install_macros(con: duckdb.DuckDBPyConnection,
                   functions_of: duckdb.DuckDBPyConnection | None = None) -> None:
    """Create the (temporary, per-connection) macros, calling the UDFs registered on
    ``functions_of`` (``con`` itself by default): a cursor of a registered connection needs the
    macros again, not the UDFs."""
    suffix = _SUFFIXES.get(con if functions_of is None else functions_of)
    if suffix is None:
        raise ValueError("install_macros: the connection has no Relatron functions registered; "
                         "call relatron_sql.register on it (or pass the one that has them)")

    def own(body: str) -> str:   # call_sql writes NAME_udf(...); this connection's are suffixed
        return body.replace("_udf(", suffix + "(")
    for fn in FUNCTIONS:
        if fn.hidden:
            continue
        required = [p[0] for p in fn.params if p[2] is None]
        optional = [f"{p[0]} := {p[2]}" for p in fn.params if p[2] is not None]
        signature = ", ".join(required + optional)
        call = call_sql(fn.name)
        if fn.table:
            body = f"TABLE SELECT unnest({call}, recursive := true)"
        elif fn.commit:
            body = (f"(SELECT {fn.commit}_udf(staged, {SESSION}) FROM (SELECT {call} AS staged "
                    "OFFSET 0))")
        else:
            body = call
        con.execute(" ".join(["CREATE OR REPLACE TEMP MACRO", fn.name + "(" + signature + ")",
                              "AS", own(body)]))
    for signature, body in MACROS:
        con.execute(" ".join(["CREATE OR REPLACE TEMP MACRO", signature, "AS", own(body)]))


def as_json(value: Any) -> str:
    """Strict JSON for a SQL result: an undefined metric (NaN) or infinity becomes ``null``."""
    return registry.to_json(value, sort_keys=False)

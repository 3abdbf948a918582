"""The relational schema: tables, keys, time columns and semantic column types.

DuckDB holds the data; this module only describes it. Keys and time columns come from DuckDB
constraints plus ``relatron.declarations``; semantic types are inferred from types and cardinality.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import re
from typing import Mapping

import duckdb

from . import registry
from .errors import SchemaError, bad_argument
from .sqlbuild import known_at, render, sql_text, table as table_ref

log = logging.getLogger(__name__)

ROLES = ("pk", "fk", "time", "feature")
SEMANTIC_TYPES = ("numeric", "categorical", "timestamp", "text", "boolean", "id")
#: A string column with at most this many distinct values is categorical.
CATEGORICAL_MAX_DISTINCT = 200

INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                 "UINTEGER", "UBIGINT", "UHUGEINT")
NUMERIC_TYPES = INTEGER_TYPES + ("FLOAT", "DOUBLE", "REAL")


@dataclasses.dataclass(frozen=True)
class Column:
    name: str
    dtype: str
    role: str
    semantic: str
    references: str | None = None
    distinct: int = 0


@dataclasses.dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: str | None
    foreign_keys: Mapping[str, str]
    time_column: str | None
    rows: int

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise bad_argument("column", f"table {self.name!r} has no column {name!r}",
                           [c.name for c in self.columns], SchemaError)

    @property
    def features(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.role == "feature")


@dataclasses.dataclass(frozen=True)
class Schema:
    tables: Mapping[str, Table]
    dangling: Mapping[tuple[str, str], int]  # (table, fk column) -> rows pointing nowhere
    null_times: Mapping[str, int] = dataclasses.field(default_factory=dict)  # never visible

    def table(self, name: str, argument: str = "table") -> Table:
        if name not in self.tables:
            raise bad_argument(argument, f"no table {name!r}", self.tables, SchemaError)
        return self.tables[name]

    def without(self, columns) -> "Schema":
        """The schema less the feature columns named ``table.column`` in ``columns``."""
        drop = set(columns)   # 'table.column', where either name may hold a dot
        if not drop:
            return self
        tables = {name: dataclasses.replace(t, columns=tuple(
                      c for c in t.columns if f"{name}.{c.name}" not in drop
                      or c.role != "feature"))
                  for name, t in self.tables.items()}
        return dataclasses.replace(self, tables=tables)

    def edges(self) -> list[tuple[str, str, str]]:
        """Every foreign key as (child table, fk column, parent table)."""
        return [(t.name, col, parent) for t in self.tables.values()
                for col, parent in t.foreign_keys.items()]

    def component(self, start: str) -> list[str]:
        """Tables linked to ``start`` through foreign keys in either direction."""
        seen, todo = {start}, [start]
        edges = self.edges()
        while todo:
            cur = todo.pop()
            for child, _, parent in edges:
                for a, b in ((child, parent), (parent, child)):
                    if a == cur and b not in seen:
                        seen.add(b)
                        todo.append(b)
        return sorted(seen)


#: Lower-case words that end in "id" but name amounts or flags, not codes ("-oid" words aside)
_NOT_ID_WORDS = frozenset(
    "acid amid arid avid bid candid cupid fluid forbid grid humid hybrid invalid kid lid liquid "
    "lucid mid outbid overpaid paid prepaid putrid pyramid raid rapid rigid said solid splendid "
    "squid stupid tepid timid underpaid unpaid valid vivid".split())


def looks_like_id(name: str) -> bool:
    """Whether a column name reads as an identifier: ``id``, ``user_id``, ``statusId``,
    ``userID``, or ``userid`` / ``USERID`` in one case. Not ``grid``, ``paid``, ``valid`` or
    ``Bid``: a word that merely ends in "id"."""
    if re.search(r"(^|[^A-Za-z0-9])id$", name, re.I) or re.search(r"[a-z0-9](Id|ID)$", name):
        return True
    last = re.split(r"[^a-z0-9]", name.lower())[-1]   # amount_paid: "paid"
    return (name in (name.lower(), name.upper()) and last.endswith("id")
            and not last.endswith("oid") and last not in _NOT_ID_WORDS)


def _semantic(name: str, dtype: str, distinct: int) -> str:
    base = dtype.upper()
    if base in INTEGER_TYPES and looks_like_id(name) and distinct <= CATEGORICAL_MAX_DISTINCT:
        return "categorical"  # a code such as statusId: its values name things, not amounts
    if base == "BOOLEAN":
        return "boolean"
    if base.startswith(("TIMESTAMP", "DATE")):
        return "timestamp"
    if base in NUMERIC_TYPES or base.startswith("DECIMAL"):
        return "numeric"
    if base == "VARCHAR" or base.startswith("ENUM"):
        return "categorical" if distinct <= CATEGORICAL_MAX_DISTINCT else "text"
    return "text"


def user_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND NOT temporary ORDER BY table_name").fetchall()
    return [r[0] for r in rows]


def main_relations(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, str]]:
    """Tables and views of the main schema by lower-case name (DuckDB's names are
    case-insensitive): name -> (name as created, 'table' or 'view')."""
    return {n.lower(): (n, kind) for n, kind in con.execute(
        "SELECT table_name, 'table' FROM duckdb_tables() WHERE database_name = "
        "current_database() AND schema_name = 'main' AND NOT temporary UNION ALL "
        "SELECT view_name, 'view' FROM duckdb_views() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND NOT temporary AND NOT internal").fetchall()}


def _columns_by_table(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    """(column, data type) of every table of the main schema, in order, in one query."""
    out: dict[str, list[tuple[str, str]]] = {}
    for table_name, column, dtype in con.execute(
            "SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE "
            "database_name = current_database() AND schema_name = 'main' "
            "ORDER BY table_name, column_index").fetchall():
        out.setdefault(table_name, []).append((column, dtype))
    return out


def redeclare_time_hint(name: str) -> str:
    """What to do about a table whose declared time column is gone."""
    return (f"relatron_declare({sql_text(name)}, time_column := ...) names the one it has now "
            "('' for none)")


def declarations(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    if not registry.has_table(con, "declarations"):
        return {}   # a database opened read-only that Relatron never wrote to
    rows = con.execute("SELECT table_name, primary_key, foreign_keys, time_column "
                       "FROM relatron.declarations").fetchall()
    return {r[0]: {"primary_key": r[1], "foreign_keys": json.loads(r[2] or "{}"),
                   "time_column": r[3]} for r in rows}


_WARNED: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _WARNED:
        _WARNED.add(message)
        log.warning("%s", message)


def no_table(con: duckdb.DuckDBPyConnection, name: str, argument: str, valid,
             error: type = SchemaError) -> Exception:
    """The error for a table argument that names no table Relatron reads, saying why when it
    can: a view (dbt's default materialisation), another case, or a table left out for a stale
    declaration."""
    found, kind = main_relations(con).get(str(name).lower(), (None, None))
    if kind == "view":
        reason = (f"{found!r} is a view, and Relatron reads tables: materialise it (CREATE "
                  f"TABLE ... AS FROM {found}, or materialized='table' in dbt)")
    elif found == name and (gone := stale_time_column(con, name)):
        reason = (f"table {name!r} is left out: its declared time column {gone!r} is gone; "
                  + redeclare_time_hint(name))
    elif not found and (elsewhere := _other_schema_table(con, str(name))):
        schema_name, table_name = elsewhere
        where = (f"{name!r} is in schema {schema_name!r}" if table_name == name else
                 f"{name!r} names table {table_name!r} of schema {schema_name!r}")
        reason = (f"no table {name!r} in schema main; Relatron reads the tables of schema main "
                  f"of the current database, and {where}")
    else:
        reason = f"no table {name!r}" + (f" (there is {found!r}: names match exactly)"
                                          if found else "")
    return bad_argument(argument, reason, valid, error)


def _other_schema_table(con: duckdb.DuckDBPyConnection, name: str) -> tuple[str, str] | None:
    """(schema, table) of a table of the current database outside schema main (and outside
    Relatron's own registry) that ``name`` means: a table of that name, or ``schema.table``."""
    splits = [(name[:i], name[i + 1:]) for i, ch in enumerate(name) if ch == "."]
    rows = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = "
        "current_database() AND schema_name NOT IN ('main', ?) AND NOT temporary "
        "ORDER BY schema_name, table_name", [registry.SCHEMA]).fetchall()
    for schema_name, table_name in rows:
        if table_name == name or (schema_name, table_name) in splits:
            return schema_name, table_name
    return None


def stale_time_column(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """The time column declared for table ``name`` when the table no longer has it (a table
    re-created without it); ``None`` otherwise."""
    declared = declarations(con).get(name, {}).get("time_column")
    if declared and declared not in {c for c, _ in table_columns(con, name)}:
        return declared
    return None


def current_declarations(con: duckdb.DuckDBPyConnection, names: list[str],
                         columns_by_table: dict[str, list[tuple[str, str]]] | None = None
                         ) -> dict[str, dict]:
    """Per table of ``names``, what its declaration says that still holds. A table may have
    been dropped or re-created since it was declared (a dbt full refresh): a declared key
    whose column or referenced table is gone is dropped, and a table whose declared time
    column is gone is left out (read as static, every future row of it would be visible),
    each with a warning, until relatron_declare says what holds now."""
    declared = declarations(con)
    columns_by_table = columns_by_table or _columns_by_table(con)
    out: dict[str, dict] = {}
    for name in names:
        decl = dict(declared.get(name, {}))
        columns = {c for c, _ in columns_by_table.get(name, [])}
        time_col = decl.get("time_column")
        if time_col and time_col not in columns:
            _warn_once(f"{name}: its declared time column {time_col!r} is gone, so the table "
                       "is left out; " + redeclare_time_hint(name))
            continue
        if decl.get("primary_key") and decl["primary_key"] not in columns:
            _warn_once(f"{name}: its declared primary key {decl['primary_key']!r} is gone")
            decl["primary_key"] = None
        kept = {}
        for col, parent in (decl.get("foreign_keys") or {}).items():
            if col in columns and parent in names:
                kept[col] = parent
            else:
                _warn_once(f"{name}.{col}: its declared foreign key to {parent!r} is left out "
                           f"({'the column' if col not in columns else 'that table'} is gone)")
        decl["foreign_keys"] = kept
        out[name] = decl
    for name, decl in out.items():   # keys into a table that was left out
        for col, parent in list(decl["foreign_keys"].items()):
            if parent not in out:
                _warn_once(f"{name}.{col}: its foreign key to {parent!r} is left out, as that "
                           "table is")
                del decl["foreign_keys"][col]
    return out


def _constraints(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, str], dict[str, dict]]:
    pks: dict[str, str] = {}
    fks: dict[str, dict[str, str]] = {}
    rows = con.execute(
        "SELECT table_name, constraint_type, constraint_column_names, referenced_table "
        "FROM duckdb_constraints() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY')").fetchall()
    for table_name, kind, cols, referenced in rows:
        if len(cols) != 1:
            continue  # composite keys are not graph edges; declare a single-column key instead
        if kind == "PRIMARY KEY":
            pks[table_name] = cols[0]
        else:
            fks.setdefault(table_name, {})[cols[0]] = referenced
    return pks, fks


def table_columns(con: duckdb.DuckDBPyConnection, name: str) -> list[tuple[str, str]]:
    """(column, data type) of table ``name`` of the main schema, in order; empty when there is
    no such table."""
    return con.execute("SELECT column_name, data_type FROM duckdb_columns() "
                       "WHERE database_name = current_database() AND schema_name = 'main' "
                       "AND table_name = ? ORDER BY column_index", [name]).fetchall()


def read_schema(con: duckdb.DuckDBPyConnection, count_dangling: bool = True,
                as_of=None) -> Schema:
    """Describe every table of the main schema with its keys, time column and column types.

    A column's kind (categorical or text) follows its number of distinct values. With ``as_of``
    (a training cutoff) a timed table's values are counted over its rows at or before it, so
    rows from later periods cannot change what a column is; row counts are always whole.
    """
    names = user_tables(con)
    columns_by_table = _columns_by_table(con)
    declared = current_declarations(con, names, columns_by_table)
    pks, fks = _constraints(con)
    described = {}
    keyed = {n for n, decl in declared.items() if decl.get("primary_key") or pks.get(n)}
    for name in names:
        if name not in declared:
            continue   # left out: its declared time column is gone
        info = columns_by_table.get(name, [])
        decl = declared[name]
        pk = decl.get("primary_key") or pks.get(name)
        foreign = {}
        for col, parent in {**fks.get(name, {}), **(decl.get("foreign_keys") or {})}.items():
            if parent in keyed:
                foreign[col] = parent
            elif parent in declared:   # its declared primary key is gone
                _warn_once(f"{name}.{col}: its foreign key to {parent!r} is left out, as that "
                           "table has no primary key now")
        time_col = decl.get("time_column")
        stats = _column_stats(con, name, [c for c, _ in info], time_col, as_of)
        cols = []
        for col_name, dtype in info:
            if col_name == pk:
                role, sem = "pk", "id"
            elif col_name in foreign:
                role, sem = "fk", "id"
            elif col_name == time_col:
                role, sem = "time", "timestamp"
            else:
                role, sem = "feature", _semantic(col_name, dtype, stats[col_name])
            cols.append(Column(col_name, dtype, role, sem, foreign.get(col_name), stats[col_name]))
        described[name] = Table(name, tuple(cols), pk, foreign, time_col, stats["__rows__"])
    if not count_dangling:
        return Schema(described, {})
    return Schema(described, _dangling(con, described), _null_times(con, described))


def _null_times(con, tables: Mapping[str, Table]) -> dict[str, int]:
    """Rows of timed tables whose time is NULL: no anchor ever sees them."""
    out = {}
    for t in tables.values():
        if t.time_column is None:
            continue
        n = con.execute(render("SELECT COUNT(*) FROM :t WHERE :c IS NULL", t=table_ref(t.name),
                               c=t.time_column)).fetchall()[0][0]
        if n:
            out[t.name] = int(n)
            log.warning("%s: %d rows have a NULL %s and are never visible to any anchor",
                        t.name, n, t.time_column)
    return out


def _column_stats(con, name: str, columns: list[str], time_column: str | None = None,
                  as_of=None) -> dict[str, int]:
    """Approximate distinct values per column (of rows at or before ``as_of`` when the table
    has a time column) and the table's whole row count."""
    from sqlglot import exp
    known = known_at(time_column, as_of)
    selects = []
    for i, c in enumerate(columns):
        distinct = exp.func("approx_count_distinct", exp.column(c, quoted=True))
        if known is not None:
            distinct = exp.Filter(this=distinct, expression=exp.Where(this=known.copy()))
        selects.append(exp.alias_(distinct, f"c{i}", quoted=True))
    selects.append(exp.alias_(exp.func("count", exp.Star()), "rows", quoted=True))
    query = exp.select(*selects).from_(table_ref(name)).sql("duckdb")
    values = con.execute(query).fetchall()[0]
    stats = {c: int(values[i] or 0) for i, c in enumerate(columns)}
    stats["__rows__"] = int(values[-1])
    return stats


def _dangling_count(con, child: str, fk: str, parent: str, pk: str) -> int:
    """Rows of ``child`` whose ``fk`` is set but matches no ``parent.pk``."""
    return int(con.execute(render(
        "SELECT COUNT(*) FROM :child AS c WHERE c.:fk IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM :parent AS p WHERE p.:pk = c.:fk)",
        child=table_ref(child), parent=table_ref(parent), fk=fk, pk=pk)).fetchall()[0][0])


def _key_counts(con, table: str, key: str) -> tuple[int, int, int]:
    """Rows of ``table``, its non-NULL ``key`` values, and its distinct ones."""
    return con.execute(render("SELECT COUNT(*), COUNT(t.:k), COUNT(DISTINCT t.:k) FROM :t AS t",
                              t=table_ref(table), k=key)).fetchall()[0]


def _dangling(con, tables: Mapping[str, Table]) -> dict[tuple[str, str], int]:
    out = {}
    for t in tables.values():
        for col, parent in t.foreign_keys.items():
            target = tables.get(parent)
            if target is None or target.primary_key is None:
                continue
            try:
                n = _dangling_count(con, t.name, col, parent, target.primary_key)
            except duckdb.Error as err:   # its values stopped comparing since it was declared
                out[(t.name, col)] = None
                log.warning("%s.%s: cannot be compared with %s.%s: %s", t.name, col, parent,
                            target.primary_key, str(err).splitlines()[0])
                continue
            if n:
                out[(t.name, col)] = int(n)
                log.warning("%s.%s: %d rows reference no row of %s", t.name, col, n, parent)
    return out


def keys_that_no_longer_hold(con: duckdb.DuckDBPyConnection) -> str | None:
    """What no longer holds of the declared keys and time columns, since data changed after
    they were declared (a table reloaded with its time as text, duplicated key values, a key
    column retyped), in words; ``None`` when all hold. ``relatron_declare`` refuses each of
    these; left unchecked they fail deep inside a family, or join a child's rows twice."""
    names = user_tables(con)
    columns_by_table = _columns_by_table(con)
    declared = current_declarations(con, names, columns_by_table)
    constraint_pks, _ = _constraints(con)
    types = {name: dict(cols) for name, cols in columns_by_table.items()}
    for name, decl in declared.items():
        time_col = decl.get("time_column")
        if time_col and not types[name][time_col].upper().startswith(("TIMESTAMP", "DATE")):
            return (f"{name}.{time_col}, the declared time column of {name}, has type "
                    f"{types[name][time_col]} now; a time column must be DATE or TIMESTAMP: "
                    "cast it back, or " + redeclare_time_hint(name))
        pk = decl.get("primary_key")   # a PRIMARY KEY constraint DuckDB enforces itself
        if pk:
            rows, values, distinct = _key_counts(con, name, pk)
            if distinct < rows:
                return (f"{name}.{pk}, the declared primary key of {name}, now has "
                        f"{distinct} distinct values over {rows} rows"
                        + (f" ({rows - values} NULL)" if values < rows else "")
                        + "; a primary key must be unique and never NULL: remove the "
                        f"duplicates, or relatron_declare({sql_text(name)}, primary_key := ...) "
                        "names another")
    for name, decl in declared.items():
        for col, parent in decl["foreign_keys"].items():
            pk = declared.get(parent, {}).get("primary_key") or constraint_pks.get(parent)
            if pk is None:
                continue
            try:
                _dangling_count(con, name, col, parent, pk)
            except duckdb.Error as err:
                return (f"{name}.{col} ({types[name][col]}), a declared foreign key, no "
                        f"longer compares with {parent}.{pk} ({types[parent][pk]}): "
                        f"{str(err).splitlines()[0]}")
    return None


def declare(con: duckdb.DuckDBPyConnection, table_name: str, primary_key: str | None = None,
            foreign_keys: Mapping[str, str] | None = None, time_column: str | None = None,
            replace: bool = False) -> str:
    """Record keys and the time column of ``table_name``; validated against the database.

    Only the arguments given change: one left out (``None``, or NULL from SQL) keeps what an
    earlier declaration of the table said, and an empty ``primary_key`` or ``time_column``
    ('') clears it. ``foreign_keys`` replaces the table's declared foreign keys as a whole; an
    empty map clears them (keys from DuckDB constraints stay). With ``replace`` (a loader that has just
    created the table), the arguments are the whole declaration.
    """
    registry.refuse_read_only(con, "relatron_declare records keys in relatron.declarations",
                              SchemaError)
    names = user_tables(con)
    if table_name not in names:
        raise no_table(con, table_name, "table_name", names)
    types = dict(table_columns(con, table_name))
    columns = list(types)
    given = {"primary_key": primary_key, "time_column": time_column}   # '' clears
    primary_key, time_column = primary_key or None, time_column or None
    for argument, col in (("primary_key", primary_key), ("time_column", time_column)):
        if col is not None and col not in columns:
            raise bad_argument(argument, f"table {table_name!r} has no column {col!r}", columns,
                               SchemaError)
    for col, parent in (foreign_keys or {}).items():
        if col not in columns:
            raise bad_argument("foreign_keys", f"table {table_name!r} has no column {col!r}",
                               columns, SchemaError)
        if parent is None:
            raise bad_argument("foreign_keys", f"column {col!r} references a NULL table; give "
                               "the name of the table it points to", names, SchemaError)
        if parent not in names:
            raise bad_argument("foreign_keys", f"column {col!r} references unknown table "
                               f"{parent!r}", names, SchemaError)
    if time_column is not None:
        dtype = types[time_column]
        if not dtype.upper().startswith(("TIMESTAMP", "DATE")):
            raise bad_argument("time_column", f"{table_name}.{time_column} has type {dtype}; "
                               "a time column must be DATE or TIMESTAMP", None, SchemaError)
    _check_keys(con, table_name, primary_key, foreign_keys, replace)
    with registry.transaction(con) as cur:
        earlier = {} if replace else declarations(cur).get(table_name, {})
        merged = {**given, "foreign_keys": None if foreign_keys is None else dict(foreign_keys)}
        merged = {k: earlier.get(k) if v is None else v for k, v in merged.items()}
        cur.execute("DELETE FROM relatron.declarations WHERE table_name = ?", [table_name])
        cur.execute("INSERT INTO relatron.declarations (table_name, primary_key, foreign_keys, "
                    "time_column) VALUES (?, ?, ?, ?)",
                    [table_name, merged["primary_key"] or None,
                     json.dumps(merged["foreign_keys"] or {}, sort_keys=True),
                     merged["time_column"] or None])
    return f"declared {table_name}"


def _check_keys(con, table_name: str, primary_key: str | None,
                foreign_keys: Mapping[str, str] | None, replace: bool) -> None:
    """Refuse keys that cannot hold, before anything is written (names are checked already).

    A new primary key must be unique and never NULL. Each new foreign key must point at a table
    with a primary key (declared before, or in this call) and compare with it: the query that
    counts dangling rows in ``relatron_schema()`` is run once here, so it cannot fail there.
    A primary key that replaces another is compared with every foreign key pointing at it.
    Inside a caller's open transaction a refused comparison aborts that transaction (DuckDB's
    rule), so a loader that meets one fails as a whole and leaves nothing behind.
    """
    tables = user_tables(con)
    dtypes = {(t, c): d for t, c, d in con.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE database_name = "
        "current_database() AND schema_name = 'main'").fetchall()}
    raw = declarations(con)
    # the other tables as they hold now (a declared key whose column is gone is no key)
    declared = {**current_declarations(con, tables), table_name: raw.get(table_name, {})}
    constraint_pks, constraint_fks = _constraints(con)
    keys = {t: declared.get(t, {}).get("primary_key") or constraint_pks.get(t) for t in tables}
    earlier = {} if replace else declared.get(table_name, {})
    old_pk = keys.get(table_name)
    new_pk = primary_key if primary_key is not None else earlier.get("primary_key")
    keys[table_name] = new_pk = new_pk or constraint_pks.get(table_name)

    if primary_key is not None:
        t = table_ref(table_name)
        rows, values, distinct = _key_counts(con, table_name, primary_key)
        if values < rows:
            raise bad_argument("primary_key", f"{table_name}.{primary_key} is NULL in "
                               f"{rows - values} of {rows} rows; a primary key must be unique "
                               "and never NULL", None, SchemaError)
        if distinct < values:
            value, times = con.execute(render(
                "SELECT t.:k AS v, COUNT(*) AS n FROM :t AS t GROUP BY t.:k "
                "HAVING COUNT(*) > 1 ORDER BY n DESC, v LIMIT 1", t=t,
                k=primary_key)).fetchall()[0]
            shown = repr(value) if isinstance(value, str) else str(value)
            raise bad_argument("primary_key", f"{table_name}.{primary_key} has {distinct} "
                               f"distinct values over {rows} rows (e.g. {shown} appears "
                               f"{times} times); a primary key must be unique and never NULL",
                               None, SchemaError)

    edges = {}  # (child, fk column, parent) -> the argument to blame
    for col, parent in (foreign_keys or {}).items():
        if keys.get(parent) is None:
            raise bad_argument("foreign_keys", f"column {col!r} references table {parent!r}, "
                               "which has no primary key; declare one first with "
                               f"relatron_declare({sql_text(parent)}, primary_key := ...), or "
                               "reference a table that has one", [t for t in tables if keys.get(t)],
                               SchemaError)
        edges[(table_name, col, parent)] = "foreign_keys"
    if new_pk is not None and new_pk != old_pk:
        for child in tables:
            if child != table_name:
                own = declared.get(child, {}).get("foreign_keys") or {}
            elif foreign_keys is not None:
                own = foreign_keys
            else:
                own = earlier.get("foreign_keys") or {}
            for col, parent in {**constraint_fks.get(child, {}), **own}.items():
                # a stale declaration naming a column that is gone is not this call's to judge
                if parent == table_name and (child, col) in dtypes:
                    edges.setdefault((child, col, parent), "primary_key")
    for (child, col, parent), argument in edges.items():
        pk = keys[parent]
        try:
            _dangling_count(con, child, col, parent, pk)
        except duckdb.Error as err:
            reason = str(err).split("\n")[0]
            for prefix in ("Conversion Error: ", "Binder Error: "):
                reason = reason.removeprefix(prefix)
            who = f"column {col}" if argument == "foreign_keys" else f"{child}.{col}"
            raise bad_argument(argument, f"{who} ({dtypes[(child, col)]}) cannot reference "
                               f"{parent}.{pk} ({dtypes[(parent, pk)]}): {reason}", None,
                               SchemaError) from None


def schema_rows(schema: Schema) -> list[dict]:
    """Rows of ``relatron_schema()``: one per column."""
    out = []
    for t in schema.tables.values():
        for c in t.columns:
            out.append({"table_name": t.name, "column_name": c.name, "data_type": c.dtype,
                        "role": c.role, "references_table": c.references,
                        "semantic_type": c.semantic, "distinct_values": c.distinct,
                        "dangling": schema.dangling.get((t.name, c.name), 0)})
    return out

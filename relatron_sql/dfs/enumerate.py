"""Feature enumeration along foreign-key paths from the entity table.

A *group* is the set of rows one family of features aggregates: the entity's child rows
(a backward hop), optionally the children of those (a second backward hop), with the columns of
the parents of the deepest rows joined on (forward hops). Each feature is a plain dict (so it
can be stored as JSON and compiled again at prediction time):

``{"name", "group", "column", "agg", "window", "category", "description"}``

where ``group`` names an entry of :class:`FeaturePlan.groups`, ``column`` is a column alias of
that group, ``window`` is ``None`` (all history), ``["days", n]`` or ``["events", n]``.
"""
from __future__ import annotations

import collections

import dataclasses
import logging
import re
import warnings

from sqlglot import exp

from ..errors import CompileError, bad_argument
from ..schema import Schema, table_columns
from ..sqlbuild import known_at, table as table_ref

log = logging.getLogger(__name__)

#: all-history aggregates of a numeric column
NUMERIC_AGGS = ("sum", "mean", "min", "max", "std", "last")
#: aggregates computed again over recent windows
WINDOW_AGGS = ("mean", "min", "max")
WINDOWS = (("events", 3), ("events", 10), ("days", 365))
#: per-category counts are made for the most frequent values of columns with at most this many
#: distinct values; a column above it is left out of per-category counts with a warning
CATEGORY_MAX_DISTINCT = 1000
TOP_CATEGORIES = 8
DEPTHS = (1, 2, 3)


@dataclasses.dataclass
class Group:
    """Rows aggregated by one query: a chain of backward hops plus forward lookups."""
    name: str
    chain: list[dict]          # [{"table", "fk", "parent"}]: table.fk references parent
    lookups: list[dict]        # [{"alias", "from", "fk", "table"}]: forward joins from an alias
    columns: dict[str, dict]   # alias -> {"source", "table", "column", "kind", "dtype"}
    time_column: str | None    # time column of the deepest table (None: static rows)
    order_key: str | None      # tie-break column for "last" (primary key of the deepest table)
    #: how the compiler's own columns beside the deepest table's start (none of its columns do)
    internal: str = "_"

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class FeaturePlan:
    """Everything the compiler needs: entity, groups and the features over them."""
    entity: str
    entity_key: str
    entity_key_type: str
    entity_time: str | None
    groups: dict[str, Group]
    features: list[dict]
    history: dict | None = None    # {"task", "horizon_seconds", "kind"} for label history

    def to_json(self) -> dict:
        return {"entity": self.entity, "entity_key": self.entity_key,
                "entity_key_type": self.entity_key_type, "entity_time": self.entity_time,
                "groups": {k: g.to_json() for k, g in self.groups.items()},
                "features": self.features, "history": self.history}

    @classmethod
    def from_json(cls, data: dict) -> "FeaturePlan":
        return cls(data["entity"], data["entity_key"], data["entity_key_type"],
                   data["entity_time"], {k: Group(**g) for k, g in data["groups"].items()},
                   list(data["features"]), data.get("history"))

    def subset(self, names) -> "FeaturePlan":
        keep = set(names)
        features = [f for f in self.features if f["name"] in keep]
        used = {f["group"] for f in features}
        return FeaturePlan(self.entity, self.entity_key, self.entity_key_type, self.entity_time,
                           {k: g for k, g in self.groups.items() if k in used}, features,
                           self.history if "history" in used else None)


def _slug(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z]+", "_", str(text)).strip("_") or "x"


#: column aliases the compiled queries give their own columns beside a group's
_KEY_ALIASES = frozenset({"entity_key", "anchor_time"})


def _unique(name: str, taken) -> str:
    """``name``, or ``name_2``, ``name_3``, ... when it is taken (two names can slug alike),
    compared without case, as DuckDB compares identifiers."""
    taken = {t.lower() for t in taken}
    out, i = name, 1
    while out.lower() in taken:
        i += 1
        out = f"{name}_{i}"
    return out


def _by_keys(col: dict) -> str:
    """The foreign keys that tell apart two links to one table (" by dest"), for descriptions."""
    keys = col.get("keys") or []
    return " by " + ", then ".join(keys) if keys else ""


def _kind(column) -> str | None:
    if column.semantic == "numeric":
        return "numeric"
    if column.semantic == "boolean":
        return "boolean"
    if column.semantic == "categorical":
        return "categorical"
    if column.semantic == "text":
        return "text"
    if column.semantic == "timestamp":
        return "timestamp"
    return None


def _window_text(window) -> str:
    if window is None:
        return ""
    unit, n = window
    return f" over the last {n} events" if unit == "events" else f" over the last {n} days"


def _window_slug(window) -> str:
    if window is None:
        return ""
    unit, n = window
    return f"_last{n}" if unit == "events" else f"_{n}d"


class _Builder:
    def __init__(self, con, schema: Schema, entity: str, as_of, max_categories: int):
        self.con, self.schema, self.entity, self.as_of = con, schema, entity, as_of
        self.max_categories = max_categories
        self.features: list[dict] = []
        self.names: set[str] = set()
        self.warned: set[tuple[str, str]] = set()

    def add(self, group: str, column: str | None, agg: str, window, description: str,
            category=None, label: str | None = None) -> None:
        name = _slug("_".join(p for p in (group, column or "", agg, label or "") if p))
        name += _window_slug(window)
        # DuckDB compares identifiers without case: two names that differ only in case would
        # be one column of the compiled query
        if name.lower() in self.names:
            return
        self.names.add(name.lower())
        self.features.append({"name": name, "group": group, "column": column, "agg": agg,
                              "window": list(window) if window else None, "category": category,
                              "description": description + _window_text(window)})

    def categories(self, table: str, column) -> list:
        """Most frequent values of a low-cardinality column, as of ``as_of``."""
        if column.distinct > self.max_categories:
            if (table, column.name) not in self.warned:
                self.warned.add((table, column.name))
                _warn_excluded(table, column.name, column.distinct, self.max_categories)
            return []
        t = self.schema.tables[table]
        c = exp.column(column.name, quoted=True)
        query = exp.select(c, exp.alias_(exp.Count(this=exp.Star()), "n")).from_(
            table_ref(table)).where(exp.Not(this=exp.Is(this=c.copy(), expression=exp.Null())))
        known = known_at(t.time_column, self.as_of)
        if known is not None:
            query = query.where(known)
        query = query.group_by(c.copy()).order_by(exp.Ordered(this=exp.column("n"), desc=True),
                                                  c.copy()).limit(TOP_CATEGORIES)
        rows = self.con.execute(query.sql("duckdb")).fetchall()
        return [r[0] for r in rows]


def _group_columns(schema: Schema, deepest: str, depth_left: int, skip: tuple = (),
                   warned: set | None = None) -> tuple[dict, list]:
    """Columns of ``deepest`` and of its parents up to ``depth_left`` forward hops."""
    columns: dict[str, dict] = {}
    lookups: list[dict] = []

    def visit(alias: str, table_name: str, prefix: str, left: int, seen: tuple, keys: tuple):
        t = schema.tables[table_name]
        for c in t.columns:
            if c.role != "feature":
                continue
            kind = _kind(c)
            if kind is None:
                continue
            if kind == "text":
                if c.distinct > CATEGORY_MAX_DISTINCT and (table_name, c.name) not in (
                        warned if warned is not None else set()):
                    _warn_excluded(table_name, c.name, c.distinct, CATEGORY_MAX_DISTINCT)
                    if warned is not None:
                        warned.add((table_name, c.name))
                continue
            key = _unique(_slug(prefix + c.name), columns.keys() | _KEY_ALIASES)
            columns[key] = {"source": alias, "table": table_name, "column": c.name,
                            "kind": kind, "dtype": c.dtype, "distinct": c.distinct,
                            "keys": list(keys)}
        if left <= 0:
            return
        targets = list(t.foreign_keys.values())
        for fk, parent in sorted(t.foreign_keys.items()):
            if parent in seen or parent not in schema.tables:
                continue
            # two keys to the same table (origin, dest -> airports) get their key in the name
            name = parent if targets.count(parent) == 1 else f"{fk}_{parent}"
            if schema.tables[parent].primary_key is None:
                continue
            child_alias = f"j{len(lookups) + 1}"
            lookups.append({"alias": child_alias, "from": alias, "fk": fk, "table": parent})
            visit(child_alias, parent, f"{prefix}{name}_", left - 1, seen + (parent,),
                  keys + ((fk,) if targets.count(parent) > 1 else ()))

    visit("c", deepest, "", depth_left, (deepest, *skip), ())
    return columns, lookups


def _chains(schema: Schema, entity: str, depth: int) -> list[list[dict]]:
    """Backward hop chains from the entity: [[{"table", "fk", "parent"}, ...], ...]."""
    out = []

    def walk(parent: str, chain: list[dict], seen: tuple):
        if len(chain) >= depth:
            return
        for child, fk, target in sorted(schema.edges()):
            if target != parent or child in seen:
                continue
            hop = {"table": child, "fk": fk, "parent": parent}
            out.append(chain + [hop])
            walk(child, chain + [hop], seen + (child,))

    walk(entity, [], (entity,))
    return out


def enumerate_features(con, schema: Schema, entity: str, depth: int = 2, as_of=None,
                       windows=WINDOWS, per_category: bool = True,
                       max_categories: int = CATEGORY_MAX_DISTINCT,
                       numeric_aggs=NUMERIC_AGGS, window_aggs=WINDOW_AGGS) -> FeaturePlan:
    """Every feature of ``entity`` along foreign-key paths up to ``depth`` hops."""
    if depth not in DEPTHS:
        raise bad_argument("depth", f"must be 1, 2 or 3, got {depth!r}", DEPTHS, CompileError)
    ent = schema.table(entity, "entity")
    if ent.primary_key is None:
        raise bad_argument("entity", f"table {entity!r} has no primary key", None, CompileError)
    b = _Builder(con, schema, entity, as_of, max_categories)
    groups: dict[str, Group] = {}

    # the entity's own columns and its parents' (forward hops only, no aggregation)
    columns, lookups = _group_columns(schema, entity, depth - 1, warned=b.warned)
    if ent.time_column:
        key = _unique(_slug(ent.time_column), columns.keys() | _KEY_ALIASES)
        columns[key] = {"source": "c", "table": entity, "column": ent.time_column,
                        "kind": "timestamp", "dtype": ent.column(ent.time_column).dtype,
                        "distinct": 0}
    static = Group("entity", [], lookups, columns, ent.time_column, None)
    groups["entity"] = static
    for alias, col in columns.items():
        where = "this " + entity if col["source"] == "c" else \
            f"the linked {col['table']}{_by_keys(col)}"
        text = f"{col['column']} of {where}"
        if col["kind"] in ("numeric", "boolean"):
            b.add("entity", alias, "value", None, text.capitalize())
        elif col["kind"] == "timestamp":
            b.add("entity", alias, "days_since", None, f"Days since {text}")
        elif col["kind"] == "categorical":
            cats = b.categories(col["table"], schema.tables[col["table"]].column(col["column"]))
            if cats or _is_number(col["dtype"]):
                col["categories"] = cats
                b.add("entity", alias, "code", None, f"{text.capitalize()} (category code)")

    # a child table with several foreign keys to one parent (flights.origin and flights.dest
    # to airports) is one relation per key: its groups are named by key, as deeper hops are
    links = collections.Counter((child, target) for child, _, target in schema.edges())
    for chain in _chains(schema, entity, depth):
        deepest = chain[-1]["table"]
        t = schema.tables[deepest]
        by_key = len(chain) > 1 or links[(chain[0]["table"], chain[0]["parent"])] > 1
        name = "__".join(_slug(f"{h['table']}_{h['fk']}") if by_key else _slug(h["table"])
                         for h in chain)
        name = _unique(name, groups.keys() | {"history"})   # the label history's group
        if len([c for c in chain if c["table"] == deepest]) > 1:
            continue
        cols, looks = _group_columns(schema, deepest, depth - len(chain),
                                     (entity, *(h["table"] for h in chain)), b.warned)
        raw = [c.lower() for c, _ in table_columns(con, deepest)]
        internal = "_"
        while any(c.startswith(internal) for c in raw):
            internal += "_"
        g = Group(name, chain, looks, cols, t.time_column, t.primary_key, internal)
        groups[name] = g
        rows = " -> ".join(f"{h['table']} (by {h['fk']})" if links[(h["table"], h["parent"])] > 1
                           else h["table"] for h in chain)
        of = f"the {entity} entity's {rows} rows"
        b.add(name, None, "count", None, f"Number of {of}")
        for window in windows:
            if window[0] == "days" and t.time_column:
                b.add(name, None, "count", window, f"Number of {of}")
        if t.time_column:
            b.add(name, None, "days_since_last", None, f"Days since the last of {of}")
            b.add(name, None, "days_since_first", None, f"Days since the first of {of}")
        for alias, col in cols.items():
            where = f"{col['column']}" if col["source"] == "c" else \
                f"{col['table']}.{col['column']} (linked{_by_keys(col)})"
            if col["kind"] in ("numeric", "boolean"):
                for agg in numeric_aggs:
                    if agg == "last" and not t.time_column:
                        continue
                    b.add(name, alias, agg, None, f"{_AGG_TEXT[agg]} {where} of {of}")
                if t.time_column:
                    for window in windows:
                        for agg in window_aggs:
                            b.add(name, alias, agg, window, f"{_AGG_TEXT[agg]} {where} of {of}")
            elif col["kind"] == "categorical":
                b.add(name, alias, "count_distinct", None,
                      f"Number of distinct {where} values of {of}")
                column = schema.tables[col["table"]].column(col["column"])
                cats = b.categories(col["table"], column) if per_category else []
                col["categories"] = cats
                if cats or _is_number(col["dtype"]):
                    b.add(name, alias, "mode", None, f"Most frequent {where} of {of} "
                          "(category code)")
                labels: set[str] = set()
                for i, value in enumerate(cats):
                    # values that slug alike or differ only in case ('web', 'WEB') get
                    # names of their own
                    label = _unique(f"eq_{_slug(value)}", labels)
                    labels.add(label)
                    b.add(name, alias, "category_count", None,
                          f"Number of {of} with {where} = {value!r}", i, label)
                    b.add(name, alias, "category_share", None,
                          f"Share of {of} with {where} = {value!r}", i, label)
                    if t.time_column:
                        for window in windows:
                            b.add(name, alias, "category_share", window,
                                  f"Share of {of} with {where} = {value!r}", i, label)
    used = {f["group"] for f in b.features}
    groups = {k: v for k, v in groups.items() if k in used}
    return FeaturePlan(entity, ent.primary_key, ent.column(ent.primary_key).dtype,
                       ent.time_column, groups, b.features)


def add_label_history(plan: FeaturePlan, task) -> FeaturePlan:
    """Features over the task's own labels of earlier anchors whose windows closed by t."""
    plan.history = {"task": task.name, "horizon_seconds": task.horizon.total_seconds(),
                    "kind": task.kind}
    of = "the entity's labels of earlier anchors whose window had closed"
    b = _Builder(None, None, plan.entity, None, 0)
    b.names = {f["name"] for f in plan.features}
    b.add("history", "label", "count", None, f"Number of {of}")
    for agg in ("mean", "last", "std", "min", "max", "sum"):
        b.add("history", "label", agg, None, f"{_AGG_TEXT[agg]} {of}")
    for window in (("events", 1), ("events", 3), ("events", 6), ("events", 12), ("days", 365)):
        b.add("history", "label", "mean", window, f"Mean of {of}")
    b.add("history", "label", "days_since_last", None, f"Days since the last anchor among {of}")
    plan.features.extend(b.features)
    return plan


def _warn_excluded(table: str, column: str, distinct: int, limit: int) -> None:
    message = (f"{table}.{column} has about {distinct} distinct values (more than {limit}); "
               "it is left out of per-category counts")
    log.warning(message)
    warnings.warn(message, stacklevel=4)


def _is_number(dtype: str) -> bool:
    return not dtype.upper().startswith(("VARCHAR", "ENUM", "STRING"))


_AGG_TEXT = {"sum": "Sum of", "mean": "Mean of", "min": "Minimum of", "max": "Maximum of",
             "std": "Standard deviation of", "last": "Latest", "count": "Number of"}

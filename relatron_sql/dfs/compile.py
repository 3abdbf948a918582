"""Compile a :class:`FeaturePlan` into one set-based SQL statement, as a sqlglot tree.

The statement reads the anchors from the relation ``relatron_feature_anchors(anchor_time,
entity_id)`` and returns one row per distinct (anchor_time, entity_id) with one column per
feature. Each group of features is one CTE that joins the anchors to the group's rows with
``time <= anchor_time`` at every hop (backward hops and forward lookups alike) and aggregates
grouped by (entity key, anchor_time); modes get a CTE each, so their ties break the same way in
every engine. No ASOF JOIN, no per-anchor loop: the same tree transpiles to other engines.

>>> sql = to_sql(compile_plan(plan, schema_info(schema, plan)), "spark")  # doctest: +SKIP
"""
from __future__ import annotations

import functools

import sqlglot
from sqlglot import exp

from ..errors import CompileError, bad_argument
from ..sqlbuild import column as col, ident, table as table_ref
from .enumerate import FeaturePlan, Group

DIALECTS = ("duckdb", "spark", "bigquery", "snowflake", "postgres", "trino")
ANCHORS = "relatron_feature_anchors"
#: aggregates that count rows: NULL (no rows) becomes 0
COUNTING = ("count", "category_count", "count_distinct")
_SIMPLE = {"sum": "SUM", "mean": "AVG", "min": "MIN", "max": "MAX", "std": "STDDEV_SAMP"}


@functools.lru_cache(maxsize=256)
def _parsed(template: str) -> exp.Expression:
    return sqlglot.parse_one(template, read="duckdb")


def tpl(template: str, **parts) -> exp.Expression:
    """An expression from a template whose ``:name`` placeholders take sub-expressions."""
    values = {k: (ident(v) if isinstance(v, str) else v) for k, v in parts.items()}
    return exp.replace_placeholders(_parsed(template).copy(), **values)


def literal(value) -> exp.Expression:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def _days_between(later: exp.Expression, earlier: exp.Expression) -> exp.Expression:
    # a DOUBLE on both sides: a literal such as 86400.0 is a DECIMAL in Spark
    return tpl("CAST(EPOCH(CAST(:a AS TIMESTAMP)) - EPOCH(CAST(:b AS TIMESTAMP)) AS DOUBLE) "
               "/ CAST(86400 AS DOUBLE)", a=later, b=earlier)


def _anchors_cte(plan: FeaturePlan) -> exp.Select:
    key_type = exp.DataType.build(plan.entity_key_type, dialect="duckdb")
    return exp.select(
        exp.alias_(exp.cast(col("entity_id"), key_type), "entity_key", quoted=True),
        exp.alias_(col("entity_id"), "entity_id", quoted=True),
        exp.alias_(exp.cast(col("anchor_time"), "TIMESTAMP"), "anchor_time", quoted=True),
    ).distinct().from_(table_ref(ANCHORS))


def _visible(alias: str, time_column: str | None) -> exp.Expression | None:
    if time_column is None:
        return None
    return exp.LTE(this=col(time_column, alias), expression=col("anchor_time", "a"))


def _on(*conditions) -> exp.Expression:
    return exp.and_(*[c for c in conditions if c is not None])


def _needed_lookups(group: Group, aliases) -> set[str]:
    """Lookup aliases that the columns ``aliases`` read from, with the lookups they hang on."""
    need = {group.columns[a]["source"] for a in aliases if a in group.columns}
    parent = {look["alias"]: look["from"] for look in group.lookups}
    for alias in list(need):
        while alias in parent:
            need.add(alias)
            alias = parent[alias]
    return need


def _source_from(plan: FeaturePlan, group: Group, schema_info: dict, columns=None,
                 base: str = "a", chain_table: str | None = None,
                 extra_on: exp.Expression | None = None) -> exp.Select:
    """SELECT ... FROM anchors a JOIN <chain> LEFT JOIN <lookups>, no projections yet.

    ``base`` names the CTE read as ``a`` (the anchors, or a CTE keyed like them);
    ``chain_table`` replaces the deepest table of the chain (by its ranked CTE) and ``extra_on``
    is added to that join's condition.
    """
    source = exp.Table(this=ident("a")) if base == "a" else exp.alias_(
        exp.Table(this=ident(base)), "a", table=True, quoted=True)
    q = exp.Select().from_(source)
    if not group.chain:  # the entity's own row
        q = q.join(exp.alias_(table_ref(plan.entity), "c", table=True, quoted=True), copy=False,
                   on=_on(exp.EQ(this=col(plan.entity_key, "c"),
                                 expression=col("entity_key", "a")),
                          _visible("c", plan.entity_time)),
                   join_type="left")
    else:
        parent_alias, parent_key = "a", col("entity_key", "a")
        for i, hop in enumerate(group.chain):
            last = i == len(group.chain) - 1
            alias = "c" if last else f"h{i + 1}"
            info = schema_info[hop["table"]]
            source = (exp.Table(this=ident(chain_table)) if last and chain_table
                      else table_ref(hop["table"]))
            q = q.join(exp.alias_(source, alias, table=True, quoted=True), copy=False,
                       on=_on(exp.EQ(this=col(hop["fk"], alias), expression=parent_key),
                              _visible(alias, info["time"]), extra_on if last else None),
                       join_type="inner")
            parent_key = col(info["pk"], alias) if info["pk"] else None
            if parent_key is None and i < len(group.chain) - 1:
                raise CompileError(f"table {hop['table']!r} has no primary key to join on")
    need = _needed_lookups(group, group.columns if columns is None else columns)
    for look in group.lookups:
        if look["alias"] not in need:
            continue
        info = schema_info[look["table"]]
        q = q.join(exp.alias_(table_ref(look["table"]), look["alias"], table=True, quoted=True),
                   copy=False,
                   on=_on(exp.EQ(this=col(info["pk"], look["alias"]),
                                 expression=col(look["fk"], look["from"])),
                          _visible(look["alias"], info["time"])),
                   join_type="left")
    return q


def _number(x: exp.Expression, kind: str) -> exp.Expression:
    """``x`` as a DOUBLE; a boolean through CASE (1, 0, NULL stays NULL), since Postgres and
    BigQuery cannot cast a boolean to a floating-point type."""
    if kind != "boolean":
        return exp.cast(x, "DOUBLE")
    one, zero = exp.cast(literal(1), "DOUBLE"), exp.cast(literal(0), "DOUBLE")
    return exp.Case().when(x, one).when(exp.Not(this=x.copy()), zero)


def _value(group: Group, alias: str) -> exp.Expression:
    c = group.columns[alias]
    return col(c["column"], c["source"])


def _code(value: exp.Expression, c: dict) -> exp.Expression:
    """A categorical value as a number: numbers as they are, strings by their rank."""
    cats = c.get("categories") or []
    if not isinstance(next(iter(cats), ""), str) or (not cats and
                                                      not c["dtype"].upper().startswith("VARCHAR")):
        return exp.cast(value, "DOUBLE")
    case = exp.Case().when(exp.Is(this=value.copy(), expression=exp.Null()), exp.Null())
    for i, v in enumerate(cats):
        case = case.when(exp.EQ(this=value.copy(), expression=literal(v)), literal(i))
    return exp.cast(case.else_(literal(-1)), "DOUBLE")


def _is_latest(ranked: str) -> exp.Expression:
    """The latest visible row: rank 1 of the newest-first row number, or the last sequence."""
    if ranked == "rn":
        return exp.EQ(this=col("_rn", "r"), expression=literal(1))
    return exp.EQ(this=col("_seq", "r"), expression=col("_last", "r"))


def _windowed(value: exp.Expression, window, ranked: str = "rn") -> exp.Expression:
    if window is None:
        return value
    unit, n = window
    if unit == "events" and ranked == "rn":
        cond = exp.LTE(this=col("_rn", "r"), expression=literal(int(n)))
    elif unit == "events":
        cond = exp.GT(this=col("_seq", "r"), expression=exp.Sub(
            this=col("_last", "r"), expression=literal(int(n))))
    else:
        cond = exp.GT(this=col("_t", "r"),
                      expression=tpl(":a - INTERVAL :n DAY", a=col("anchor_time", "r"),
                                     n=exp.Literal.string(str(int(n)))))
    return exp.Case().when(cond, value)


def _aggregate(f: dict, group: Group, ranked: str = "rn") -> exp.Expression:
    agg, window = f["agg"], f["window"]
    if agg == "count":
        if window is None:
            return exp.Count(this=exp.Star())
        return exp.Count(this=_windowed(literal(1), window, ranked))
    if agg == "days_since_last":
        return _days_between(col("anchor_time", "r"), exp.Max(this=col("_t", "r")))
    if agg == "days_since_first":
        return _days_between(col("anchor_time", "r"), exp.Min(this=col("_t", "r")))
    x = col(f["column"], "r")
    kind = group.columns[f["column"]].get("kind")
    if agg in _SIMPLE:
        return exp.func(_SIMPLE[agg], _windowed(_number(x, kind), window, ranked))
    if agg == "last":
        return exp.Max(this=exp.Case().when(_is_latest(ranked), _number(x, kind)))
    if agg == "count_distinct":
        return exp.Count(this=exp.Distinct(expressions=[x]))
    value = group.columns[f["column"]]["categories"][f["category"]]
    hit = exp.EQ(this=x, expression=literal(value))
    if agg == "category_count":
        return exp.Count(this=_windowed(exp.Case().when(hit, literal(1)), window, ranked))
    if agg == "category_share":
        one, zero = exp.cast(literal(1), "DOUBLE"), exp.cast(literal(0), "DOUBLE")
        return exp.Avg(this=_windowed(exp.Case().when(hit, one).else_(zero), window, ranked))
    raise CompileError(f"unknown aggregate {agg!r} in feature {f['name']!r}")


def _group_cte(plan: FeaturePlan, group: Group, features: list[dict],
               schema_info: dict) -> exp.Select:
    source = _source_from(plan, group, schema_info, {f["column"] for f in features})
    keys = [exp.alias_(col("entity_key", "a"), "entity_key", quoted=True),
            exp.alias_(col("anchor_time", "a"), "anchor_time", quoted=True)]
    if not group.chain:
        projections = []
        for f in features:
            c = group.columns[f["column"]]
            value = _value(group, f["column"])
            if f["agg"] == "value":
                e = _number(value, c.get("kind"))
            elif f["agg"] == "days_since":
                e = _days_between(col("anchor_time", "a"), value)
            else:
                e = _code(value, c)
            projections.append(exp.alias_(e, f["name"], quoted=True))
        return source.select(*keys, *projections, copy=False)
    inner = [*keys]
    needed = sorted({f["column"] for f in features if f["column"]})
    for alias in needed:
        inner.append(exp.alias_(_value(group, alias), alias, quoted=True))
    if group.time_column:
        inner.append(exp.alias_(col(group.time_column, "c"), "_t", quoted=True))
        order = [exp.Ordered(this=col(group.time_column, "c"), desc=True)]
        if group.order_key:
            order.append(exp.Ordered(this=col(group.order_key, "c"), desc=True))
        else:   # no key: rows tied on time are ordered by their values, not by how they are
            # stored, so "last" and the last-N windows pick the same rows on every load
            order.extend(exp.Ordered(this=_value(group, alias), desc=True, nulls_first=False)
                         for alias in needed)
        rn = exp.Window(this=exp.RowNumber(),
                        partition_by=[col("entity_key", "a"), col("anchor_time", "a")],
                        order=exp.Order(expressions=order))
        inner.append(exp.alias_(rn, "_rn", quoted=True))
    rows = source.select(*inner, copy=False)
    outer = exp.select(exp.alias_(col("entity_key", "r"), "entity_key", quoted=True),
                       exp.alias_(col("anchor_time", "r"), "anchor_time", quoted=True),
                       *[exp.alias_(_aggregate(f, group), f["name"], quoted=True)
                         for f in features if f["agg"] != "mode"])
    return outer.from_(exp.alias_(exp.Subquery(this=rows), "r", quoted=True)).group_by(
        col("entity_key", "r"), col("anchor_time", "r"))


def _by_recency(f: dict) -> bool:
    """Features that need the order of rows: the latest value and last-N-events windows."""
    return f["agg"] == "last" or (f["window"] is not None and f["window"][0] == "events")


def _keyed_rows(group: Group, features, extra: list) -> list:
    inner = [exp.alias_(col("entity_key", "a"), "entity_key", quoted=True),
             exp.alias_(col("anchor_time", "a"), "anchor_time", quoted=True)]
    for alias in sorted({f["column"] for f in features if f["column"]}):
        inner.append(exp.alias_(_value(group, alias), alias, quoted=True))
    inner.append(exp.alias_(col(group.time_column, "c"), "_t", quoted=True))
    return inner + extra


def _aggregated(rows: exp.Select, projections: list) -> exp.Select:
    return exp.select(exp.alias_(col("entity_key", "r"), "entity_key", quoted=True),
                      exp.alias_(col("anchor_time", "r"), "anchor_time", quoted=True),
                      *projections).from_(
        exp.alias_(exp.Subquery(this=rows), "r", quoted=True)).group_by(
        col("entity_key", "r"), col("anchor_time", "r"))


def _ranked_group_ctes(plan: FeaturePlan, group: Group, features: list[dict],
                       schema_info: dict, gname: str) -> list[tuple[str, exp.Select, list]]:
    """A one-hop timed group without a window over the joined rows.

    The child rows are numbered once per entity in time order (``_seq``). The rows visible at t
    are a prefix of that order, so the latest visible row is the one whose number is the
    largest visible (``_last_seq``), and the last N events are those numbered above
    ``_last_seq - N``: a second, small join fetches them.
    """
    hop = group.chain[0]
    p = group.internal   # no column of the child table starts with it
    ranked_name, main_name, recent_name = f"s_{gname}", f"g_{gname}", f"w_{gname}"
    order = [exp.Ordered(this=col(group.time_column, "c")),
             exp.Ordered(this=col(group.order_key, "c"))]
    seq = exp.Window(this=exp.RowNumber(), partition_by=[col(hop["fk"], "c")],
                     order=exp.Order(expressions=order))
    modes = [f for f in features if f["agg"] == "mode"]
    numbered = exp.select(exp.Column(this=exp.Star(), table=ident("c")),
                          exp.alias_(seq, f"{p}seq", quoted=True))
    for f in modes:
        x = _value(group, f["column"])
        running = exp.Window(this=exp.Count(this=x.copy()),
                             partition_by=[col(hop["fk"], "c"), x.copy()],
                             order=exp.Order(expressions=[o.copy() for o in order]),
                             spec=_UP_TO_HERE.copy())
        numbered = numbered.select(
            exp.alias_(running, f"{p}n_{f['name']}", quoted=True),
            exp.alias_(exp.Window(this=exp.func("DENSE_RANK"),
                                  order=exp.Order(expressions=[exp.Ordered(this=x.copy())])),
                       f"{p}v_{f['name']}", quoted=True))
    numbered = numbered.from_(
        exp.alias_(table_ref(hop["table"]), "c", table=True, quoted=True)).where(
        exp.Not(this=exp.Is(this=col(group.time_column, "c"), expression=exp.Null())))
    if modes:
        ranked = exp.select(exp.Column(this=exp.Star(), table=ident("q")))
        for f in modes:
            x = col(group.columns[f["column"]]["column"], "q")
            key = exp.Case().when(exp.Not(this=exp.Is(this=x, expression=exp.Null())), exp.Add(
                this=exp.Mul(this=col(f"{p}n_{f['name']}", "q"), expression=literal(_MODE_BASE)),
                expression=exp.Sub(this=literal(_MODE_BASE - 1),
                                   expression=col(f"{p}v_{f['name']}", "q"))))
            best = exp.Window(this=exp.Max(this=key), partition_by=[col(hop["fk"], "q")],
                              order=exp.Order(expressions=[exp.Ordered(this=col(f"{p}seq", "q"))]),
                              spec=_UP_TO_HERE.copy())
            ranked = ranked.select(exp.alias_(best, f"{p}m_{f['name']}", quoted=True))
        ranked = ranked.from_(exp.alias_(exp.Subquery(this=numbered), "q", quoted=True))
    else:
        ranked = numbered
    plain = [f for f in features if not _by_recency(f) and f["agg"] != "mode"]
    recent = [f for f in features if _by_recency(f) or f["agg"] == "mode"]
    rows = _source_from(plan, group, schema_info, {f["column"] for f in plain},
                        chain_table=ranked_name).select(*_keyed_rows(
                            group, plain, [exp.alias_(col(f"{p}seq", "c"), "_seq", quoted=True)]),
                                                        copy=False)
    main = _aggregated(rows, [*[exp.alias_(_aggregate(f, group), f["name"], quoted=True)
                                for f in plain],
                              exp.alias_(exp.Max(this=col("_seq", "r")), "_last_seq",
                                         quoted=True)])
    out = [(ranked_name, ranked, []), (main_name, main, plain)]
    if recent:
        reach = max([1] + [int(f["window"][1]) for f in recent if f["window"]])
        within = exp.and_(
            exp.GT(this=col(f"{p}seq", "c"), expression=exp.Sub(
                this=col("_last_seq", "a"), expression=literal(reach))),
            exp.LTE(this=col(f"{p}seq", "c"), expression=col("_last_seq", "a")))
        rows = _source_from(plan, group, schema_info, {f["column"] for f in recent},
                            base=main_name, chain_table=ranked_name, extra_on=within).select(
            *_keyed_rows(group, recent, [exp.alias_(col(f"{p}seq", "c"), "_seq", quoted=True),
                                         exp.alias_(col("_last_seq", "a"), "_last",
                                                    quoted=True)]), copy=False)
        for f in modes:
            rows = rows.select(exp.alias_(col(f"{p}m_{f['name']}", "c"), f"_m_{f['name']}",
                                          quoted=True), copy=False)
        projections = [exp.alias_(_aggregate(f, group, "seq"), f["name"], quoted=True)
                       for f in recent if f["agg"] != "mode"]
        projections += [exp.alias_(exp.Max(this=exp.Case().when(
            _is_latest("seq"), col(f"_m_{f['name']}", "r"))), f"_m_{f['name']}", quoted=True)
            for f in modes]
        out.append((recent_name, _aggregated(rows, projections),
                    [f for f in recent if f["agg"] != "mode"]))
        for f in modes:
            out.extend(_decoded_mode(group, f, ranked_name, recent_name))
    return out


#: a mode key packs (running count, value rank) as count * base + (base - 1 - rank)
_MODE_BASE = 1_000_000
_UP_TO_HERE = exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING",
                             end="CURRENT ROW")


def _decoded_mode(group: Group, f: dict, ranked_name: str, recent_name: str):
    """The mode at each anchor from the running key of its latest visible row."""
    raw = group.columns[f["column"]]["column"]
    values_name = f"d_{f['name']}"
    values = exp.select(exp.alias_(col(f"{group.internal}v_{f['name']}", "q"), "_v",
                                   quoted=True),
                        exp.alias_(col(raw, "q"), "v", quoted=True)).distinct().from_(
        exp.alias_(exp.Table(this=ident(ranked_name)), "q", table=True, quoted=True)).where(
        exp.Not(this=exp.Is(this=col(raw, "q"), expression=exp.Null())))
    rank = exp.Sub(this=literal(_MODE_BASE - 1), expression=exp.Mod(
        this=col(f"_m_{f['name']}", "w"), expression=literal(_MODE_BASE)))
    decoded = exp.select(col("entity_key", "w"), col("anchor_time", "w"),
                         exp.alias_(_code(col("v", "d"), group.columns[f["column"]]),
                                    f["name"], quoted=True)).from_(
        exp.alias_(exp.Table(this=ident(recent_name)), "w", table=True, quoted=True)).join(
        exp.alias_(exp.Table(this=ident(values_name)), "d", table=True, quoted=True),
        on=exp.EQ(this=col("_v", "d"), expression=rank), join_type="inner")
    return [(values_name, values, []), (f"m_{f['name']}", decoded, [f])]


def _mode_cte(plan: FeaturePlan, group: Group, f: dict, schema_info: dict) -> exp.Select:
    x = _value(group, f["column"])
    counted = _source_from(plan, group, schema_info, {f["column"]}).select(
        exp.alias_(col("entity_key", "a"), "entity_key", quoted=True),
        exp.alias_(col("anchor_time", "a"), "anchor_time", quoted=True),
        exp.alias_(x, "v", quoted=True),
        exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True),
    ).where(exp.Not(this=exp.Is(this=x.copy(), expression=exp.Null()))).group_by(
        col("entity_key", "a"), col("anchor_time", "a"), x.copy())
    rn = exp.Window(this=exp.RowNumber(), partition_by=[col("entity_key"), col("anchor_time")],
                    order=exp.Order(expressions=[exp.Ordered(this=col("n"), desc=True),
                                                 exp.Ordered(this=col("v"))]))
    ranked = exp.select(col("entity_key"), col("anchor_time"), col("v"),
                        exp.alias_(rn, "rn", quoted=True)).from_(
        exp.alias_(exp.Subquery(this=counted), "m", quoted=True))
    code = _code(col("v", "k"), group.columns[f["column"]])
    return exp.select(col("entity_key", "k"), col("anchor_time", "k"),
                      exp.alias_(code, f["name"], quoted=True)).from_(
        exp.alias_(exp.Subquery(this=ranked), "k", quoted=True)).where(
        exp.EQ(this=col("rn", "k"), expression=literal(1)))


def _history_cte(plan: FeaturePlan, features: list[dict]) -> exp.Select:
    h = plan.history
    # whole seconds as such (every dialect has them); a fraction in microseconds, not cut off
    micros = round(h["horizon_seconds"] * 1_000_000)
    whole = micros % 1_000_000 == 0
    closed = exp.LTE(this=tpl(":t + INTERVAL :s " + ("SECOND" if whole else "MICROSECOND"),
                              t=col("anchor_time", "h"),
                              s=exp.Literal.string(str(micros // 1_000_000 if whole else micros))),
                     expression=col("anchor_time", "a"))
    join = _on(exp.EQ(this=col("task", "h"), expression=literal(h["task"])),
               exp.EQ(this=col("entity_id", "h"), expression=col("entity_id", "a")), closed)
    rn = exp.Window(this=exp.RowNumber(),
                    partition_by=[col("entity_key", "a"), col("anchor_time", "a")],
                    order=exp.Order(expressions=[exp.Ordered(this=col("anchor_time", "h"),
                                                             desc=True)]))
    rows = exp.Select().from_(exp.Table(this=ident("a"))).join(
        exp.alias_(table_ref("task_rows", "relatron"), "h", table=True, quoted=True),
        on=join, join_type="inner").select(
        exp.alias_(col("entity_key", "a"), "entity_key", quoted=True),
        exp.alias_(col("anchor_time", "a"), "anchor_time", quoted=True),
        exp.alias_(col("label", "h"), "label", quoted=True),
        exp.alias_(col("anchor_time", "h"), "_t", quoted=True),
        exp.alias_(rn, "_rn", quoted=True))
    group = Group("history", [], [], {"label": {"source": "h", "column": "label"}}, "_t", None)
    return exp.select(exp.alias_(col("entity_key", "r"), "entity_key", quoted=True),
                      exp.alias_(col("anchor_time", "r"), "anchor_time", quoted=True),
                      *[exp.alias_(_aggregate(f, group), f["name"], quoted=True)
                        for f in features]).from_(
        exp.alias_(exp.Subquery(this=rows), "r", quoted=True)).group_by(
        col("entity_key", "r"), col("anchor_time", "r"))


def schema_info(schema, plan: FeaturePlan) -> dict:
    """Primary key and time column of every table the plan touches (plain data)."""
    tables = {plan.entity}
    for g in plan.groups.values():
        tables.update(h["table"] for h in g.chain)
        tables.update(l["table"] for l in g.lookups)
    return {t: {"pk": schema.tables[t].primary_key, "time": schema.tables[t].time_column}
            for t in sorted(tables)}


def compile_plan(plan: FeaturePlan, info: dict) -> exp.Select:
    """The whole feature query as one sqlglot SELECT with a CTE per group."""
    if not plan.features:
        raise bad_argument("features", "no feature to compile", None, CompileError)
    by_group: dict[str, list[dict]] = {}
    for f in plan.features:
        by_group.setdefault(f["group"], []).append(f)
    ctes: list[tuple[str, exp.Select]] = [("a", _anchors_cte(plan))]
    outputs: list[tuple[str, dict]] = []
    for gname, features in by_group.items():
        if gname == "history":
            if plan.history is None:
                raise CompileError("label history features need the task (plan.history)")
            ctes.append(("g_history", _history_cte(plan, features)))
            outputs.extend(("g_history", f) for f in features)
            continue
        group = plan.groups[gname]
        plain = [f for f in features if f["agg"] != "mode"]
        if len(group.chain) == 1 and group.time_column and group.order_key:
            fast = [f for f in features if f["agg"] != "mode" or (
                group.columns[f["column"]]["source"] == "c"
                and group.columns[f["column"]].get("distinct", 0) < _MODE_BASE // 2)]
            for name, body, produced in (_ranked_group_ctes(plan, group, fast, info, gname)
                                         if fast else ()):
                ctes.append((name, body))
                outputs.extend((name, f) for f in produced)
            features = [f for f in features if f not in fast]
        elif plain:
            ctes.append((f"g_{gname}", _group_cte(plan, group, plain, info)))
            outputs.extend((f"g_{gname}", f) for f in plain)
        for f in features:
            if f["agg"] == "mode":
                name = f"m_{f['name']}"
                ctes.append((name, _mode_cte(plan, group, f, info)))
                outputs.append((name, f))
    select = exp.select(col("anchor_time", "a"), col("entity_id", "a"))
    where = {f["name"]: cte for cte, f in outputs}
    for f in plan.features:
        cte = where[f["name"]]
        value = col(f["name"], cte)
        if f["agg"] in COUNTING:
            value = exp.Coalesce(this=value, expressions=[literal(0)])
        select = select.select(exp.alias_(value, f["name"], quoted=True), copy=False)
    select = select.from_(exp.Table(this=ident("a")), copy=False)
    for cte in dict.fromkeys(name for name, _ in outputs):
        select = select.join(exp.Table(this=ident(cte)), join_type="left", copy=False, on=_on(
            exp.EQ(this=col("entity_key", cte), expression=col("entity_key", "a")),
            exp.EQ(this=col("anchor_time", cte), expression=col("anchor_time", "a"))))
    # a table named like a part of the query would be hidden by it: say so, not DuckDB's
    # "Referenced table not found"
    parts = {name.lower() for name, _ in ctes} | {ANCHORS.lower()}
    clash = sorted(t for t in info if t.lower() in parts)
    if clash:
        raise CompileError(f"table {clash[0]!r} has the name the feature query gives one of its "
                           "own parts (a CTE, or the anchors it reads); rename the table, or "
                           "create a view of it under another name and declare that instead")
    for name, body in ctes:
        select = select.with_(ident(name), as_=body, copy=False)
    return select


def check_dialect(dialect: str) -> str:
    if dialect not in DIALECTS:
        raise bad_argument("dialect", f"unknown dialect {dialect!r}", DIALECTS, CompileError)
    return dialect


def to_sql(tree: exp.Expression, dialect: str = "duckdb", pretty: bool = False) -> str:
    """The tree as SQL text of ``dialect``."""
    check_dialect(dialect)
    if dialect in ("bigquery", "snowflake", "spark"):
        tree = tree.transform(_epoch_micros(dialect))
    if dialect == "trino":
        tree = tree.transform(_trino_seconds)
    return tree.sql(dialect=dialect, pretty=pretty)


def _trino_seconds(node: exp.Expression) -> exp.Expression:
    """Trino has no MICROSECOND interval, and its seconds carry milliseconds: a horizon with
    a fraction of a second becomes fractional seconds, or an error where milliseconds would
    cut it."""
    if not (isinstance(node, exp.Interval) and node.text("unit").upper() == "MICROSECOND"):
        return node
    micros = int(node.this.name)
    if micros % 1000:
        raise bad_argument("dialect", f"trino intervals hold milliseconds, and the task's "
                           f"horizon is {micros} microseconds; give the task a horizon in "
                           "whole milliseconds, or choose another dialect", DIALECTS,
                           CompileError)
    seconds, millis = divmod(micros // 1000, 1000)
    return exp.Interval(this=exp.Literal.string(f"{seconds}.{millis:03d}"),
                        unit=exp.Var(this="SECOND"))


def _epoch_micros(dialect: str):
    """DuckDB's EPOCH keeps microseconds. Written for BigQuery, Snowflake and Spark as their
    seconds since the epoch, it would drop them (and BigQuery's UNIX_SECONDS takes a TIMESTAMP,
    not the DATETIME a naive timestamp becomes there): count microseconds instead. A naive time
    is read as UTC on BigQuery and Snowflake, as DuckDB reads it; Spark reads it in the session
    time zone, as its own timestamps are."""
    def rewrite(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.TimeToUnix):
            return node
        if dialect == "spark":
            micros = exp.Anonymous(this="UNIX_MICROS", expressions=[
                exp.cast(node.this, exp.DataType.build("TIMESTAMP"))])
        elif dialect == "bigquery":
            micros = exp.Anonymous(this="UNIX_MICROS", expressions=[
                exp.cast(node.this, exp.DataType.build("TIMESTAMPTZ"))])
        else:
            micros = exp.Anonymous(this="DATE_PART", expressions=[
                exp.var("EPOCH_MICROSECOND"), node.this])
        return exp.Div(this=micros, expression=exp.Literal.number(1_000_000))
    return rewrite

"""Prediction tasks: (anchor time t, entity, label) rows whose label looks at (t, t + horizon].

Anchors follow RelBench: train anchors step back from ``val_timestamp - horizon`` by ``horizon``
down to the database's first time (or ``train_start``); val anchors step forward from
``val_timestamp``, at most ``eval_windows`` of them and not past ``test_timestamp - horizon``;
test anchors likewise from ``test_timestamp``, not past the database's last time minus the horizon.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import math

import duckdb
import numpy as np
import sqlglot
from sqlglot import exp

from . import registry
from .errors import TaskError, bad_argument, interval_text
from .schema import (NUMERIC_TYPES, Schema, keys_that_no_longer_hold, no_table, read_schema,
                     redeclare_time_hint, stale_time_column, table_columns)
from .sqlbuild import column, render, table as table_ref

log = logging.getLogger(__name__)

#: kind -> the metric the search optimises
KINDS = {"binary": "auroc", "regression": "mae", "multiclass": "accuracy"}
SPLITS = ("train", "val", "test")
#: the most anchor times a split may have (rel-f1's tasks have a few hundred; lahman's, with a
#: one-year horizon since 1871, about 140): more means a horizon far too short for the data
MAX_ANCHORS = 100_000
#: the most classes a multiclass task may have (each is an output of every model)
MAX_CLASSES = 1_000


@dataclasses.dataclass(frozen=True)
class Task:
    name: str
    entity: str
    entity_key: str
    entity_key_type: str
    kind: str
    horizon: dt.timedelta
    val_timestamp: dt.datetime
    test_timestamp: dt.datetime
    eval_windows: int
    train_start: dt.datetime | None
    label_sql: str
    metric: str
    num_classes: int | None
    description: str | None
    counts: dict
    #: feature columns (``table.column``) the task's models do not read
    exclude: tuple[str, ...] = ()

    @property
    def higher_is_better(self) -> bool:
        return self.metric != "mae"

    def better(self, a: float | None, b: float | None) -> bool:
        """Whether validation score ``a`` beats ``b`` (a NaN or missing score never wins)."""
        if b is None or not math.isfinite(b):
            return a is not None and math.isfinite(a)
        if a is None or not math.isfinite(a):
            return False
        return a > b if self.higher_is_better else a < b

    @property
    def training_cutoff(self) -> dt.datetime:
        """The last training anchor, ``val_timestamp - horizon``: encoders, categories and column
        kinds are fitted on rows known then. (That anchor's label window reaches
        ``val_timestamp``; stopping at the anchor is the cautious side.)"""
        return self.val_timestamp - self.horizon

    def schema(self, con: duckdb.DuckDBPyConnection, as_of=None) -> Schema:
        """The database's schema as the task's models see it: its excluded columns left out."""
        return read_schema(con, count_dangling=False, as_of=as_of).without(self.exclude)

    def sort_key(self, score: float | None) -> float:
        """Sorts validation scores best first, a NaN or missing score last."""
        if score is None or not math.isfinite(score):
            return math.inf
        return -score if self.higher_is_better else score


def time_bounds(con: duckdb.DuckDBPyConnection, schema: Schema, tables: list[str]
                ) -> tuple[dt.datetime | None, dt.datetime | None]:
    """First and last time over the time columns of ``tables``. An infinite time is left out
    (a placeholder, not a time); a first or last time far outside a column's other times (a
    placeholder such as 9999-12-31) is kept but named in a warning, as it sets how far the test
    split, or the train split, reaches."""
    lo = hi = None
    for name in tables:
        t = schema.tables[name]
        if t.time_column is None:
            continue
        a, b, low, high = con.execute(render(
            "SELECT MIN(v), MAX(v), quantile_disc(v, 0.001), quantile_disc(v, 0.999) FROM "
            "(SELECT CAST(:c AS TIMESTAMP) AS v FROM :t) WHERE isfinite(v)",
            c=t.time_column, t=table_ref(name))).fetchall()[0]
        if a is not None and high > low:
            for end, bound, side in ((b, high, "latest"), (a, low, "earliest")):
                if abs(end - bound) > high - low:
                    log.warning("%s.%s: its %s time, %s, lies far outside the others (99.8%% "
                                "of its rows are from %s to %s) and sets how far the splits "
                                "reach: check it for a placeholder date", name, t.time_column,
                                side, end, low, high)
        if a is not None:
            lo = a if lo is None else min(lo, a)
            hi = b if hi is None else max(hi, b)
    return lo, hi


def make_anchors(horizon: dt.timedelta, val_timestamp: dt.datetime, test_timestamp: dt.datetime,
                 eval_windows: int, first: dt.datetime, last: dt.datetime,
                 train_start: dt.datetime | None = None) -> dict[str, list[dt.datetime]]:
    """Anchor times per split, exactly as RelBench derives them.

    The anchors are counted before any is made, so no timestamp outside the data's span (or
    the range of timestamps) is ever computed; more than ``MAX_ANCHORS`` in a split is refused.
    """
    floor = max(first, train_start) if train_start else first
    # train: val - k*horizon for k = 1..n, none before the floor
    n_train = max(0, (val_timestamp - floor) // horizon)
    _check_anchor_count("train", n_train, horizon)
    out = {"train": [val_timestamp - horizon * k for k in range(n_train, 0, -1)]}
    # val, test: start + k*horizon for k = 0..n-1, each window (t, t + horizon] ending by `end`
    for split, start, end in (("val", val_timestamp, test_timestamp),
                              ("test", test_timestamp, last)):
        n = min(eval_windows, max(0, (end - start) // horizon))
        _check_anchor_count(split, n, horizon)
        out[split] = [start + horizon * k for k in range(n)]
    return out


def _check_anchor_count(split: str, n: int, horizon: dt.timedelta) -> None:
    if n > MAX_ANCHORS:
        fewer = "a later train_start" if split == "train" else "fewer eval_windows"
        raise bad_argument("horizon", f"{interval_text(horizon)} would make {n:,} {split} "
                           f"anchors, more than the {MAX_ANCHORS:,} allowed per split; give a "
                           f"longer horizon or {fewer}", None, TaskError)


def _as_datetime(value, argument: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    raise bad_argument(argument, f"{value!r} is not a timestamp between 0001-01-01 and "
                       "9999-12-31", None, TaskError)


def _check_exclude(exclude, schema: Schema, entity: str) -> list[str]:
    """``exclude`` as a sorted list of ``table.column``, each a feature column of a table
    linked to the entity (a key or time column cannot be left out: the tables hang on them)."""
    if exclude is None:
        return []
    if isinstance(exclude, str):
        exclude = [exclude]
    linked = schema.component(entity)
    out = set()
    for item in exclude:
        if not isinstance(item, str) or "." not in item:
            shown = "NULL" if item is None else repr(item)
            raise bad_argument("exclude", f"{shown} is not 'table.column'", None, TaskError)
        # a table or column name may hold a dot itself: the split that names a linked table's
        # column is meant ('a.b.c': table 'a.b', column 'c'; or table 'a', column 'b.c')
        splits = [(item[:i], item[i + 1:]) for i, ch in enumerate(item) if ch == "."]
        found = [(t, c) for t, c in splits if t in linked
                 and c in [col.name for col in schema.tables[t].columns]]
        if len(found) > 1:
            raise bad_argument("exclude", f"{item!r} is ambiguous: it names " + " and ".join(
                f"column {c!r} of table {t!r}" for t, c in found), None, TaskError)
        table_name, column = (found or [s for s in splits if s[0] in linked] or splits)[0]
        if table_name not in linked:
            raise bad_argument("exclude", f"{item!r}: no table {table_name!r} is linked to "
                               f"{entity!r}", linked, TaskError)
        t = schema.tables[table_name]
        names = [c.name for c in t.columns]
        if column not in names:
            raise bad_argument("exclude", f"{item!r}: table {table_name!r} has no column "
                               f"{column!r}", [c.name for c in t.features], TaskError)
        if t.column(column).role != "feature":
            raise bad_argument("exclude", f"{item!r} is the table's {t.column(column).role} "
                               "column; only feature columns can be left out", None, TaskError)
        out.add(item)
    return sorted(out)


def _check_label_sql(label_sql: str | None) -> str:
    """The query text, without a trailing ``;`` or comment; it must be one SELECT."""
    if label_sql is None:
        raise bad_argument("label_sql", "is required and was NULL; give a SELECT of "
                           "(anchor_time, entity id, label) FROM relatron_anchors", None, TaskError)
    if not str(label_sql).strip():
        raise bad_argument("label_sql", "is empty; give a SELECT of (anchor_time, entity id, "
                           "label) FROM relatron_anchors", None, TaskError)
    try:
        parsed = sqlglot.parse(label_sql, read="duckdb")
        tokens = sqlglot.tokenize(label_sql, read="duckdb")
    except sqlglot.errors.SqlglotError as e:
        raise bad_argument("label_sql", f"does not parse: {str(e).splitlines()[0]}", None,
                           TaskError) from None
    parsed = [p for p in parsed if p is not None and not isinstance(p, exp.Semicolon)]
    if len(parsed) != 1 or not isinstance(parsed[0], exp.Query):
        raise bad_argument("label_sql", "must be a single SELECT query returning (anchor_time, "
                           "entity id, label)", None, TaskError)
    writes = next(parsed[0].find_all(*_WRITES), None)
    if writes is not None:
        raise bad_argument("label_sql", f"must only read data; it holds a statement of kind "
                           f"{writes.key.upper()}", None, TaskError)
    while tokens and tokens[-1].token_type == sqlglot.TokenType.SEMICOLON:
        tokens.pop()
    return label_sql[:tokens[-1].end + 1].strip()


#: statements a label query may not hold anywhere (a CTE can wrap DELETE ... RETURNING)
_WRITES = (exp.Insert, exp.Delete, exp.Update, exp.Merge, exp.Create, exp.Drop, exp.Alter,
           exp.Copy, exp.Command, exp.Pragma, exp.Set, exp.Use, exp.Attach, exp.Detach,
           exp.Transaction, exp.Commit, exp.Rollback)


def task_exists(con, name: str) -> bool:
    return con.execute("SELECT COUNT(*) FROM relatron.tasks WHERE name = ?", [name]).fetchall()[0][0] > 0


def create_task(con: duckdb.DuckDBPyConnection, name: str, entity: str, label_sql: str,
                kind: str = "binary", horizon: dt.timedelta = dt.timedelta(days=30),
                val_timestamp=None, test_timestamp=None, eval_windows: int = 40,
                train_start=None, description: str | None = None, replace: bool = False,
                schema: Schema | None = None, exclude=None) -> dict:
    """Define a task, materialise its rows in ``relatron.task_rows`` and return counts per split.

    With ``replace``, an existing task of that name is redefined; when its definition changes
    (anything but the description), its models stay in ``relatron.models`` but are no longer
    active, so predicting or evaluating needs a new ``relatron_train`` first, and its
    predictions are deleted.

    ``exclude`` names feature columns (``table.column``) that no model of the task may read:
    a column filled in later than its row's time, or one that restates the label.
    """
    if not name or not str(name).strip():
        raise bad_argument("name", "a task needs a non-empty name", None, TaskError)
    if kind not in KINDS:
        raise bad_argument("kind", f"unknown kind {kind!r}", KINDS, TaskError)
    # said before the label query runs, where DuckDB's error would come after it
    registry.refuse_read_only(con, "relatron_task writes the task and its rows to the registry",
                              TaskError)
    schema = schema or read_schema(con, count_dangling=False)
    if entity not in schema.tables:
        raise no_table(con, entity, "entity", schema.tables, TaskError)
    ent = schema.tables[entity]
    if ent.primary_key is None:
        raise bad_argument("entity", f"table {entity!r} has no primary key; declare one with "
                           "relatron_declare(table, primary_key := ...)", None, TaskError)
    zoned = _zoned_key(entity, ent.primary_key, ent.column(ent.primary_key).dtype)
    if zoned:
        raise bad_argument("entity", zoned, None, TaskError)
    if horizon is None or horizon <= dt.timedelta(0):
        raise bad_argument("horizon", "must be a positive interval, got "
                           f"{interval_text(horizon)}", None, TaskError)
    if val_timestamp is None or test_timestamp is None:
        raise bad_argument("val_timestamp" if val_timestamp is None else "test_timestamp",
                           "is required", None, TaskError)
    val_ts = _as_datetime(val_timestamp, "val_timestamp")
    test_ts = _as_datetime(test_timestamp, "test_timestamp")
    if val_ts >= test_ts:
        raise bad_argument("val_timestamp", f"{val_ts} must be before test_timestamp {test_ts}",
                           None, TaskError)
    if eval_windows is None:
        raise bad_argument("eval_windows", "is required and was NULL", None, TaskError)
    if eval_windows < 1:
        raise bad_argument("eval_windows", f"must be at least 1, got {eval_windows}", None,
                           TaskError)
    if eval_windows > 2**31 - 1:  # stored as an INTEGER
        raise bad_argument("eval_windows", f"must be at most 2,147,483,647, got {eval_windows}",
                           None, TaskError)
    start = _as_datetime(train_start, "train_start") if train_start is not None else None
    excluded = _check_exclude(exclude, schema, entity)
    label_sql = _check_label_sql(label_sql)
    if task_exists(con, name) and not replace:
        raise bad_argument("name", f"task {name!r} exists; pass replace := true to redefine it",
                           None, TaskError)
    first, last = time_bounds(con, schema, schema.component(entity))
    if first is None:
        timed = [f"{t}.{schema.tables[t].time_column}" for t in schema.component(entity)
                 if schema.tables[t].time_column]
        raise bad_argument("entity", f"no table linked to {entity!r} has a time column; declare "
                           "one with relatron_declare(table, time_column := ...)" if not timed
                           else f"every value of the time columns linked to {entity!r} "
                           f"({', '.join(timed)}) is NULL, so no anchor time can be placed",
                           None, TaskError)
    if horizon > (last - first) / 3:
        raise bad_argument("horizon", f"{interval_text(horizon)} is longer than a third of the "
                           f"data's span ({first} to {last}): the train, val and test windows "
                           "need one horizon each", None, TaskError)
    try:
        anchors = make_anchors(horizon, val_ts, test_ts, eval_windows, first, last, start)
        window_ends = {s: [t + horizon for t in anchors[s]] for s in SPLITS}
    except OverflowError:  # not expected: make_anchors stays inside the data's span
        raise bad_argument("horizon", f"{interval_text(horizon)} with val_timestamp {val_ts} "
                           f"and test_timestamp {test_ts} leaves the range of timestamps", None,
                           TaskError) from None
    for split, argument, given in (("train", "val_timestamp", val_ts),
                                   ("val", "val_timestamp", val_ts),
                                   ("test", "test_timestamp", test_ts)):
        if anchors[split]:
            continue
        if split == "train" and start is not None and start > first and val_ts - first >= horizon:
            # without train_start there would be train anchors: train_start is the cause
            raise bad_argument("train_start", f"{start} is after the last train anchor, "
                               f"{val_ts - horizon} (val_timestamp minus the horizon "
                               f"{interval_text(horizon)})", None, TaskError)
        raise bad_argument(argument, f"{given} leaves no {split} anchor: the data spans {first} "
                           f"to {last} and the horizon is {interval_text(horizon)}", None,
                           TaskError)
    key_type = ent.column(ent.primary_key).dtype
    with registry.transaction(con) as cur:
        cur.execute("CREATE OR REPLACE TEMP TABLE relatron_anchors (anchor_time TIMESTAMP, "
                    "window_end TIMESTAMP, split VARCHAR)")
        times = [t for s in SPLITS for t in anchors[s]]
        cur.execute("INSERT INTO relatron_anchors SELECT unnest(?), unnest(?), unnest(?)",
                    [times, [t for s in SPLITS for t in window_ends[s]],
                     [s for s in SPLITS for _ in anchors[s]]])
        counts, num_classes = _materialise(cur, name, ent.name, ent.primary_key, key_type, kind,
                                           label_sql)
        cur.execute("DROP TABLE relatron_anchors")
        before = _definition(cur, name)
        cur.execute("DELETE FROM relatron.tasks WHERE name = ?", [name])
        cur.execute(
            "INSERT INTO relatron.tasks (name, entity, entity_key, entity_key_type, kind, horizon,"
            " val_timestamp, test_timestamp, eval_windows, train_start, label_sql, metric,"
            " num_classes, description, counts, exclude) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
            " ?, ?, ?, ?, ?)",
            [name, entity, ent.primary_key, key_type, kind, horizon, val_ts, test_ts,
             eval_windows, start, label_sql, KINDS[kind], num_classes, description,
             json.dumps(counts), json.dumps(excluded) if excluded else None])
        if _definition(cur, name) != before:
            # models trained for another definition must not score this one; kept as history.
            # Their predictions answered the old question: a dashboard reading
            # relatron_predictions(name) must not show them as this task's
            cur.execute("UPDATE relatron.models SET active = false WHERE name = ? AND active",
                        [name])
            cur.execute("DELETE FROM relatron.predictions WHERE name = ?", [name])
    return counts


#: what a task's models depend on (its description and row counts are not among them)
_DEFINITION = ("entity", "entity_key", "entity_key_type", "kind", "horizon", "val_timestamp",
               "test_timestamp", "eval_windows", "train_start", "label_sql", "metric",
               "num_classes", "exclude")


def _definition(cur, name: str) -> tuple | None:
    rows = cur.execute("SELECT " + ", ".join(_DEFINITION) + " FROM relatron.tasks WHERE name = ?",
                       [name]).fetchall()
    return rows[0] if rows else None


def _materialise(cur, name, entity, key, key_type, kind, label_sql):
    try:
        cur.execute("CREATE OR REPLACE TEMP TABLE relatron_labels AS " + label_sql)
    except duckdb.Error as e:
        raise bad_argument("label_sql", f"failed to run: {str(e).splitlines()[0]}", None,
                           TaskError) from None
    cols = cur.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE "
                       "table_name = 'relatron_labels' AND schema_name = 'main' AND database_name = 'temp' "
                       "ORDER BY column_index").fetchall()
    if len(cols) != 3:
        raise bad_argument("label_sql", f"returns {len(cols)} columns "
                           f"({', '.join(c for c, _ in cols)}); it must return exactly "
                           "(anchor_time, entity id, label)", None, TaskError)
    (t_col, t_type), (e_col, e_type), (l_col, l_type) = cols
    if not t_type.upper().startswith(("TIMESTAMP", "DATE")):
        raise bad_argument("label_sql", f"first column {t_col!r} has type {t_type}; it must be "
                           "the anchor_time from relatron_anchors", None, TaskError)
    if not (l_type.upper() == "BOOLEAN" or l_type.upper() in NUMERIC_TYPES
            or l_type.upper().startswith("DECIMAL")):
        raise bad_argument("label_sql", f"label column {l_col!r} has type {l_type}; {kind} "
                           "labels must be numeric or boolean", None, TaskError)
    parts = dict(t=t_col, e=e_col, l=l_col, ent=table_ref(entity), key=key,
                 id=_entity_id(e_col, e_type, key_type),
                 l_id=_entity_id(e_col, e_type, key_type, "l"))
    q = render
    nulls = cur.execute(q("SELECT COUNT(*) FROM relatron_labels WHERE :t IS NULL OR :e IS NULL",
                          **parts)).fetchall()[0][0]
    if nulls:
        raise bad_argument("label_sql", f"returned {nulls} rows with a NULL anchor_time or "
                           "entity id", None, TaskError)
    null_labels = cur.execute(q("SELECT COUNT(*) FROM relatron_labels WHERE :l IS NULL",
                                **parts)).fetchall()[0][0]
    if null_labels:
        log.warning("task %s: dropped %d rows with a NULL label", name, null_labels)
    stray = cur.execute(q("SELECT COUNT(*) FROM relatron_labels WHERE CAST(:t AS TIMESTAMP) "
                          "NOT IN (SELECT anchor_time FROM relatron_anchors)", **parts)).fetchall()[0][0]
    if stray:
        raise bad_argument("label_sql", f"returned {stray} rows whose anchor_time is not one of "
                           "relatron_anchors.anchor_time", None, TaskError)
    unknown = cur.execute(q("SELECT COUNT(*) FROM relatron_labels WHERE :id IS NULL OR :id NOT IN "
                            "(SELECT CAST(:key AS VARCHAR) FROM :ent)", **parts)).fetchall()[0][0]
    if unknown:
        raise bad_argument("label_sql", f"returned {unknown} rows whose entity id is not a "
                           f"{entity}.{key}", None, TaskError)
    dupes = cur.execute(q("SELECT COUNT(*) FROM (SELECT :t, :e FROM relatron_labels GROUP BY ALL "
                          "HAVING COUNT(*) > 1)", **parts)).fetchall()[0][0]
    if dupes:
        raise bad_argument("label_sql", f"returned {dupes} duplicated (anchor_time, entity) "
                           "pairs; group by both", None, TaskError)
    labels = cur.execute(q("SELECT CAST(:l AS DOUBLE) FROM relatron_labels WHERE :l IS NOT NULL",
                           **parts)).fetchnumpy()
    values = next(iter(labels.values())) if labels else np.array([])
    values = np.asarray(values, dtype=float)
    num_classes = None
    if values.size == 0:
        raise bad_argument("label_sql", "returned no rows with a label; join it to "
                           "relatron_anchors, whose anchor_time values are the split's anchors",
                           None, TaskError)
    if not np.all(np.isfinite(values)):
        raise bad_argument("label_sql", "returned infinite or NaN labels", None, TaskError)
    largest = float(np.abs(values).max())
    if largest > np.finfo(np.float32).max:
        raise bad_argument("label_sql", f"returned labels as large as {largest:g}, beyond what "
                           "the models' 32-bit floats hold (3.4e+38): scale them down",
                           None, TaskError)
    if kind == "binary" and not np.all(np.isin(values, (0.0, 1.0))):
        bad = sorted(set(values[~np.isin(values, (0.0, 1.0))].tolist()))[:5]
        raise bad_argument("label_sql", f"binary labels must be 0 or 1 (or boolean), got {bad}",
                           None, TaskError)
    if kind == "multiclass":
        if not np.all((values >= 0) & (values == np.round(values))):
            raise bad_argument("label_sql", "multiclass labels must be class numbers 0, 1, 2, …",
                               None, TaskError)
        if values.size and values.max() >= MAX_CLASSES:
            raise bad_argument("label_sql", f"multiclass labels must be class numbers below "
                               f"{MAX_CLASSES:,}, got {values.max():.0f}", None, TaskError)
    cur.execute("DELETE FROM relatron.task_rows WHERE task = ?", [name])
    cur.execute(q(
        "INSERT INTO relatron.task_rows SELECT ?, a.split, a.anchor_time, :l_id, "
        "CAST(l.:l AS DOUBLE) FROM relatron_labels AS l JOIN relatron_anchors AS a "
        "ON CAST(l.:t AS TIMESTAMP) = a.anchor_time WHERE l.:l IS NOT NULL", **parts), [name])
    if kind == "multiclass":
        # the classes a model is fitted and selected on: a class first seen on test rows must
        # not widen (and so change) the models, which cannot predict it anyway
        top = cur.execute("SELECT MAX(label) FROM relatron.task_rows WHERE task = ? AND split "
                          "IN ('train', 'val')", [name]).fetchall()[0][0]
        num_classes = 0 if top is None else int(top) + 1
    stats = cur.execute("SELECT split, COUNT(*), AVG(label) FROM relatron.task_rows WHERE task = ?"
                        " GROUP BY split", [name]).fetchall()
    counts = {s: {"rows": 0, "mean_label": None} for s in SPLITS}
    for split, n, mean in stats:
        counts[split] = {"rows": int(n), "mean_label": None if mean is None else round(mean, 4)}
    cur.execute("DROP TABLE relatron_labels")
    return counts, num_classes


def _entity_id(e_col: str, e_type: str, key_type: str, alias: str | None = None
               ) -> exp.Expression:
    """The label's entity id as ``task_rows.entity_id`` holds it: cast to the entity key's own
    type, then written as ``CAST(key AS VARCHAR)`` writes the entity row's key (so a BIGINT 1
    names the DOUBLE key 1.0 as '1.0'). NULL where the id cannot be cast to the key's type
    without changing it (1.5 is no INTEGER key, though DuckDB would round it to 2)."""
    given = column(e_col, alias)
    if e_type == key_type:
        return exp.cast(given, "VARCHAR")
    typed = exp.TryCast(this=given.copy(), to=exp.DataType.build(key_type, dialect="duckdb",
                                                                  udt=True))
    back = exp.TryCast(this=typed.copy(), to=exp.DataType.build(e_type, dialect="duckdb",
                                                                 udt=True))
    return exp.Case().when(exp.EQ(this=back, expression=given), exp.cast(typed, "VARCHAR"))


def _zoned_key(entity: str, key: str, key_type: str) -> str | None:
    """Why a key of this type cannot name an entity, or None. A task's rows hold entity ids as
    text, and a TIMESTAMPTZ's text is in the session's TimeZone: the same row would be named
    differently after ``SET TimeZone``."""
    if key_type.upper() not in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"):
        return None
    return (f"the key {entity}.{key} is a TIMESTAMP WITH TIME ZONE, whose text depends on the "
            "session's TimeZone, so it cannot name the task's rows; declare a key of another "
            "type (a TIMESTAMP or text copy of it)")


def check_entity_table(con, task: Task, task_rows: bool = True) -> None:
    """Raise when the table whose rows ``task`` predicts, or its key column, is gone, or when a
    declared key or time column no longer holds: every family reads them, and would otherwise
    fail far from the cause. With ``task_rows``, also when a task row names an entity row
    deleted since (a call that reads no task row, such as fresh predictions, skips that)."""
    columns = dict(table_columns(con, task.entity))
    redefine = "recreate it, or redefine the task with relatron_task(..., replace := true)"
    if not columns:
        raise bad_argument("name", f"task {task.name!r} predicts rows of table {task.entity!r}, "
                           f"which no longer exists; {redefine}", None, TaskError)
    if task.entity_key not in columns:
        raise bad_argument("name", f"task {task.name!r} identifies {task.entity} rows by column "
                           f"{task.entity_key!r}, which the table no longer has; {redefine}",
                           None, TaskError)
    zoned = _zoned_key(task.entity, task.entity_key, columns[task.entity_key])
    if zoned:
        raise bad_argument("name", f"task {task.name!r} predicts rows of table "
                           f"{task.entity!r}, and {zoned}", None, TaskError)
    missing = task_rows and con.execute(render(
        "SELECT COUNT(*) FROM relatron.task_rows WHERE task = ? AND entity_id NOT IN (SELECT "
        "CAST(:key AS VARCHAR) FROM :ent WHERE :key IS NOT NULL)", key=task.entity_key,
        ent=table_ref(task.entity)), [task.name]).fetchall()[0][0]
    if missing:
        # checked when the task was defined: those entity rows were deleted (or rekeyed) since
        raise bad_argument("name", f"{missing:,} rows of task {task.name!r} name {task.entity} "
                           "rows that no longer exist (deleted or rekeyed since the task was "
                           f"defined); redefine it with relatron_task(..., replace := true)",
                           None, TaskError)
    gone = stale_time_column(con, task.entity)
    if gone:
        raise bad_argument("name", f"task {task.name!r} predicts rows of table {task.entity!r}, "
                           f"whose declared time column {gone!r} is gone; "
                           + redeclare_time_hint(task.entity), None, TaskError)
    broken = keys_that_no_longer_hold(con)
    if broken:
        raise bad_argument("name", f"task {task.name!r} reads the database's tables, and "
                           + broken, None, TaskError)


def check_learnable(con, task: Task) -> None:
    """Raise when the training labels of ``task`` hold a single value: nothing to learn."""
    distinct, = con.execute("SELECT COUNT(DISTINCT label) FROM relatron.task_rows WHERE task = ?"
                            " AND split = 'train'", [task.name]).fetchall()[0]
    if distinct < 2:
        what = "constant labels" if task.kind == "regression" else "a single label value"
        raise bad_argument("name", f"task {task.name!r} has {what} in its training rows: "
                           "there is nothing to learn; redefine its label_sql or timestamps",
                           None, TaskError)


def load_task(con: duckdb.DuckDBPyConnection, name: str) -> Task:
    """The task ``name`` as stored in the registry."""
    if not registry.has_table(con, "tasks"):   # opened read-only, never written to by Relatron
        raise bad_argument("name", f"no task {name!r}: no task was ever defined in this "
                           "database (it has no relatron registry)", None, TaskError)
    row = con.execute("SELECT name, entity, entity_key, entity_key_type, kind, horizon, "
                      "val_timestamp, test_timestamp, eval_windows, train_start, label_sql, "
                      "metric, num_classes, description, counts, "
                      + registry.added_column(con, "tasks", "exclude")
                      + " FROM relatron.tasks WHERE name = ?", [name]).fetchall()
    row = row[0] if row else None
    if row is None:
        known = [r[0] for r in con.execute("SELECT name FROM relatron.tasks").fetchall()]
        raise bad_argument("name", f"no task {name!r}", known, TaskError)
    return Task(*row[:14], counts=json.loads(row[14] or "{}"),
                exclude=tuple(json.loads(row[15] or "[]")))


def task_rows(con: duckdb.DuckDBPyConnection, name: str, split: str | None = None) -> dict:
    """Rows of a task as numpy arrays: split, anchor_time, entity_id, label (ordered)."""
    if split is not None and split not in SPLITS:
        raise bad_argument("split", f"unknown split {split!r}", SPLITS, TaskError)
    query = ("SELECT split, anchor_time, entity_id, label FROM relatron.task_rows WHERE task = ? "
             + ("AND split = ? " if split else "") + "ORDER BY split, anchor_time, entity_id")
    params = [name, split] if split else [name]
    return con.execute(query, params).fetchnumpy()


def drop_task(con: duckdb.DuckDBPyConnection, name: str) -> None:
    with registry.transaction(con) as cur:
        cur.execute("DELETE FROM relatron.task_rows WHERE task = ?", [name])
        cur.execute("DELETE FROM relatron.tasks WHERE name = ?", [name])

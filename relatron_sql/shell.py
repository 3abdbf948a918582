"""An interactive SQL shell over a Relatron connection that feels like the DuckDB shell.

Statements end with ``;`` and may span lines; results print as aligned tables (``.mode`` changes
that); ``.tables``, ``.schema``, ``.timer``, ``.tasks``, ``.models`` and ``.help`` work as in the
DuckDB shell; history persists across sessions in ``~/.relatron_history`` (or
``$RELATRON_HISTORY``). Errors print as one line ``Error: ...``, never a traceback. Ctrl-C stops a
running statement (training stops at its next trial; the registry keeps its state) or clears the
statement being typed.
"""
from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import math
import os
import pathlib
import re
import signal
import sys
import time
import unicodedata
from typing import IO, Iterable, Sequence

import duckdb

from . import progress as progress_mod

# the user's tables and views in the current database (views as the SQL that made them), for
# .tables and .schema: main's first, then by schema and name; .schema NAME binds its name twice
_RELATIONS = ("SELECT schema_name, table_name AS name, sql FROM duckdb_tables() WHERE NOT "
              "internal AND database_name = current_database() UNION ALL SELECT schema_name, "
              "view_name, sql FROM duckdb_views() WHERE NOT internal AND database_name = "
              "current_database()")
_LIST_RELATIONS = ("SELECT CASE WHEN schema_name = 'main' THEN name ELSE schema_name || '.' || "
                   "name END, sql FROM (" + _RELATIONS + ") ORDER BY schema_name <> 'main', "
                   "schema_name, name")
_SCHEMA_OF = ("SELECT sql FROM (" + _RELATIONS + ") WHERE lower(name) = lower(?) AND "
              "(? IS NULL OR lower(schema_name) = lower(?)) ORDER BY schema_name <> 'main', "
              "schema_name")
MODES = ("box", "csv", "line", "list", "markdown", "json")
_SHOWN = {"SELECT", "PRAGMA", "EXPLAIN", "CALL", "EXECUTE", "RELATION", "MULTI", "ANALYZE"}
_NUMERIC = re.compile(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|"
                      r"UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL.*)$")
_UDF_PREFIX = re.compile(r"^.*?Python exception occurred while executing the UDF:\s*")
_CLASS_PREFIX = re.compile(r"^(?:[A-Z][A-Za-z ]*?(?:Error|Exception|Interrupt)):\s*")
_DOLLAR = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")
_RETURNING = re.compile(r"\bRETURNING\b", re.I)
_NAMED_BEFORE = re.compile(r"(\w+)\s*:=\s*$")
_MACRO_ARGS = re.compile(r"Macro (relatron_\w+)\(\) does not support the supplied arguments")


# -- errors -------------------------------------------------------------------------------
def error_line(error: BaseException, statement: str | None = None) -> str:
    """One line for an error: ``Error: argument 'name': no task 'x'; valid: ...``.
    ``statement``, the SQL that failed, names the call where DuckDB's message does not."""
    if isinstance(error, KeyboardInterrupt):
        return "Error: interrupted; the registry is left as it was"
    text = str(error).strip()
    macro = _MACRO_ARGS.search(text)
    if macro:
        # the statement itself where it is known: DuckDB quotes one line, cut at ~70 characters
        unknown = _unknown_argument(macro.group(1), statement or _quoted_call(text))
        if unknown:
            return "Error: " + unknown
    lines = []
    source = None   # the statement line DuckDB quotes, and where its caret points
    argument = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("Candidate functions"):
            continue
        if stripped.startswith("LINE "):
            source = line
            continue
        if source is not None and set(stripped) <= {"^"}:
            named = _NAMED_BEFORE.search(source[: len(line) - len(line.lstrip())])
            argument = named.group(1) if named else None
            continue
        lines.append(stripped)
    text = " ".join(lines) or type(error).__name__
    text = _UDF_PREFIX.sub("", text)
    while True:
        shorter = _CLASS_PREFIX.sub("", text, count=1)
        if shorter == text:
            break
        text = shorter
    if argument and f"'{argument}'" not in text:
        text = f"argument {argument!r}: {text}"
    return "Error: " + text


def _quoted_call(text: str) -> str | None:
    """The text DuckDB's caret points at in the statement line it quotes (a call it refuses)."""
    lines = text.splitlines()
    for source, caret in zip(lines, lines[1:]):
        if source.lstrip().startswith("LINE ") and caret.strip() and set(caret.strip()) <= {"^"}:
            start = len(caret) - len(caret.lstrip())
            return source[start:start + len(caret.strip())]
    return None


def _named_arguments(sql: str, name: str) -> list[list[str]]:
    """The named arguments (``x := ...``) of each call of ``name`` in ``sql``: those at the
    call's own level, not inside a string, a comment or a nested call (sqlglot's tokens)."""
    import sqlglot
    from sqlglot import TokenType

    try:
        tokens = sqlglot.tokenize(sql, read="duckdb")
    except sqlglot.errors.SqlglotError:   # e.g. DuckDB's quote of a line, cut inside a string
        return []
    calls = []
    for i in range(len(tokens) - 1):
        if tokens[i].text.lower() != name or tokens[i + 1].token_type != TokenType.L_PAREN:
            continue
        named, depth = [], 0
        for j in range(i + 1, len(tokens)):
            kind = tokens[j].token_type
            if kind == TokenType.L_PAREN:
                depth += 1
            elif kind == TokenType.R_PAREN:
                depth -= 1
                if depth == 0:
                    break
            elif kind == TokenType.COLON_EQ and depth == 1:
                named.append(tokens[j - 1].text)
        calls.append(named)
    return calls


def _unknown_argument(name: str, sql: str | None) -> str | None:
    """For a call a macro refuses: the named argument it does not take, with those it does
    (names compare without case, as DuckDB's do)."""
    from .udfs import base

    spec = next((f for f in base.FUNCTIONS if f.name == name and not f.hidden), None)
    if spec is None or not sql:
        return None
    params = [p for p, _, _ in spec.params]
    for named in _named_arguments(sql, name):
        for given in named:
            if given.lower() not in params:
                return (f"argument {given!r}: not an argument of {name}; valid: "
                        + ", ".join(repr(p) for p in params))
    return None


# -- statements ---------------------------------------------------------------------------
def is_complete(text: str) -> bool:
    """Whether ``text`` ends with a ``;`` outside quotes (``'``, ``"``, ``$tag$``) and
    comments."""
    quote = None
    last = ""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if quote:
            if ch == quote:
                quote = None
            i += 1
            continue
        if ch in "'\"":
            quote = ch
            last = ch
        elif ch == "$" and (m := _DOLLAR.match(text, i)) and not (
                i and (text[i - 1].isalnum() or text[i - 1] == "_")):
            j = text.find(m.group(0), m.end())
            if j < 0:
                return False
            i, last = j + len(m.group(0)), "$"
            continue
        elif text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                return False
            i = j + 2
            continue
        elif not ch.isspace():
            last = ch
        i += 1
    return quote is None and last == ";"


def statements(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[str, str]]:
    """(statement type, SQL text) for each statement in ``sql``."""
    return [(s.type.name, s.query) for s in con.extract_statements(sql)]


# -- formatting ---------------------------------------------------------------------------
def _units(n: int, unit: str) -> str:
    return f"{n} {unit}" + ("" if abs(n) == 1 else "s")


def interval_cell(months: int, days: int, nanoseconds: int) -> str:
    """An INTERVAL (as Arrow gives it) written as DuckDB writes one: '1 year 2 months 3 days
    04:05:06.5'."""
    years, months = int(months / 12), months - 12 * int(months / 12)
    parts = [_units(n, u) for n, u in ((years, "year"), (months, "month"), (days, "day")) if n]
    if nanoseconds or not parts:
        micros = abs(nanoseconds) // 1000
        seconds, micros = divmod(micros, 1_000_000)
        minutes, seconds = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        clock = f"{'-' if nanoseconds < 0 else ''}{hours:02d}:{minutes:02d}:{seconds:02d}"
        parts.append(clock + (f".{micros:06d}".rstrip("0") if micros else ""))
    return " ".join(parts)


def _returns_rows(kind: str, text: str, result) -> bool:
    """Whether an INSERT, UPDATE or DELETE has a RETURNING clause whose rows are the result
    (without one, DuckDB's result is the count of rows changed, which the shell does not show)."""
    names, types, _ = result
    return (kind in ("INSERT", "UPDATE", "DELETE") and bool(_RETURNING.search(text))
            and (list(names), list(types)) != (["Count"], ["BIGINT"]))


def _json_value(value):
    """A cell as JSON: numbers, text, booleans and NULL as such (NaN and infinities, which JSON
    cannot write, as null); lists and structs nested; anything else as the shell writes it."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, decimal.Decimal):   # a number, as DuckDB's JSON writes it
        value = float(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "months") and hasattr(value, "nanoseconds"):   # an interval: a tuple
        return _cell(value)
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return _cell(value)


def _cell(value) -> str:
    if value is None:
        return "NULL"
    if hasattr(value, "months") and hasattr(value, "nanoseconds"):   # Arrow's MonthDayNano
        return interval_cell(value.months, value.days, value.nanoseconds)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.6g}" if abs(value) >= 1e-4 or value == 0 else f"{value:.4g}"
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(bytes(value))} bytes>"
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)


def _cols(text: str) -> int:
    """Terminal columns ``text`` takes: wide East Asian characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _clip(text: str, width: int) -> str:
    """``text`` on one line, cut with an ellipsis to at most ``width`` terminal columns."""
    text = text.replace("\n", "\\n")
    if _cols(text) <= width:
        return text
    out, used = [], 1   # the ellipsis takes one column
    for ch in text:
        used += _cols(ch)
        if used > width:
            break
        out.append(ch)
    return "".join(out) + "…"


def _pad(text: str, width: int, how: str) -> str:
    """``text`` padded to ``width`` terminal columns: left, right or centred."""
    gap = max(0, width - _cols(text))
    if how == "right":
        return " " * gap + text
    if how == "centre":
        return " " * (gap // 2) + text + " " * (gap - gap // 2)
    return text + " " * gap


def format_table(names: Sequence[str], types: Sequence[str], rows: Sequence[Sequence],
                 mode: str = "box", max_rows: int = 40, max_width: int = 60) -> str:
    """Render a result like the DuckDB shell does."""
    if mode == "csv":
        import io
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)
        writer.writerows([["" if v is None else repr(v) if isinstance(v, float) else _cell(v)
                           for v in row] for row in rows])
        return out.getvalue().rstrip("\n")
    if mode == "json":
        return json.dumps([{n: _json_value(v) for n, v in zip(names, row)} for row in rows],
                          indent=1, allow_nan=False)
    if mode == "box":
        total = len(rows)
        if total > max_rows:   # format only what is shown: results may be large
            half = max_rows // 2
            rows = list(rows[:half]) + [None] + list(rows[total - half:])
        cells = [None if row is None else [_cell(v) for v in row] for row in rows]
        return _box(names, types, cells, total, max_width)
    # list and line modes show every digit of a double, as csv does; box rounds to fit
    cells = [[repr(v) if isinstance(v, float) and math.isfinite(v) else _cell(v) for v in row]
             for row in rows]
    if mode == "list":
        return "\n".join("|".join(row) for row in [list(names)] + cells)
    if mode == "line":
        width = max((len(n) for n in names), default=0)
        blocks = ["\n".join(f"{n.rjust(width)} = {v}" for n, v in zip(names, row))
                  for row in cells]
        return "\n\n".join(blocks)
    if mode == "markdown":
        def md(text):   # one table row per result row: a newline in a cell is a <br>
            return text.replace("|", "\\|").replace("\r\n", "<br>").replace("\n", "<br>")
        head = "| " + " | ".join(md(n) for n in names) + " |"
        rule = "|" + "|".join("---" for _ in names) + "|"
        body = ["| " + " | ".join(md(c) for c in row) + " |" for row in cells]
        return "\n".join([head, rule] + body)
    raise ValueError(f"unknown mode {mode!r}; valid: {', '.join(MODES)}")


class ArrowRows:
    """Rows of an Arrow table, turned into Python values only for the slices asked for."""

    def __init__(self, table):
        self.table = table

    def __len__(self) -> int:
        return self.table.num_rows

    def __getitem__(self, index: slice) -> list[tuple]:
        start, stop, _ = index.indices(self.table.num_rows)
        part = self.table.slice(start, max(0, stop - start))
        return list(zip(*(col.to_pylist() for col in part.columns))) if part.num_columns \
            else []

    def __iter__(self):
        for batch in self.table.to_batches():
            yield from zip(*(col.to_pylist() for col in batch.columns))


def _box(names, types, cells, total, max_width) -> str:
    shown_rows = sum(1 for r in cells if r is not None)
    types = [t.lower() for t in types]
    shown = [r for r in cells if r is not None]
    widths = []
    for j, name in enumerate(names):
        w = max([_cols(name), len(types[j])] + [_cols(_clip(r[j], max_width)) for r in shown])
        widths.append(min(w, max_width))
    right = [bool(_NUMERIC.match(t.upper())) for t in types]

    def line(left, mid, end):
        return left + mid.join("─" * (w + 2) for w in widths) + end

    def row(values, align_right):
        parts = []
        for v, w, r in zip(values, widths, align_right):
            v = _clip(v, w)
            parts.append(" " + _pad(v, w, "right" if r else "left") + " ")
        return "│" + "│".join(parts) + "│"

    centre = [False] * len(names)
    out = [line("┌", "┬", "┐"), row([_pad(_clip(n, w), w, "centre") for n, w in
                                     zip(names, widths)], centre),
           row([_pad(t, w, "centre") for t, w in zip(types, widths)], centre),
           line("├", "┼", "┤")]
    for r in cells:
        if r is None:
            out.append(row(["·"] * len(names), centre))
        else:
            out.append(row(r, right))
    out.append(line("└", "┴", "┘"))
    note = f"{total:,} row" + ("" if total == 1 else "s")
    if shown_rows < total:
        note += f" ({shown_rows} shown)"
    out.append(note)
    return "\n".join(out)


# -- the shell ----------------------------------------------------------------------------
HELP = """\
.help               this text
.tables             list tables (user tables and the relatron registry)
.schema [TABLE]     CREATE statements of every table, or of TABLE
.tasks              tasks defined with relatron_task and their row counts
.models             trained models, their family and metrics
.mode MODE          result format: box (default), csv, line, list, markdown, json
.maxrows N          rows shown in box mode before eliding the middle
.timer on|off       print the time each statement took
.read FILE          run the statements in FILE
.quit, .exit        leave (Ctrl-D too)
Statements end with ';' and may span several lines. Ctrl-C stops a running statement."""


class Shell:
    """Runs statements and dot-commands on ``con``, writing results to ``out``."""

    def __init__(self, con: duckdb.DuckDBPyConnection, out: IO[str] | None = None,
                 err: IO[str] | None = None, mode: str = "box", timer: bool = False,
                 progress: bool = True):
        self.con = con
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.mode = mode
        self.timer = timer
        self.max_rows = 40
        self.errors = 0
        self.progress = progress
        self.done = False
        self.reading: list[pathlib.Path] = []   # the .read files open, outermost first

    # output
    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def fail(self, error: BaseException | str, statement: str | None = None) -> None:
        self.errors += 1
        line = error if isinstance(error, str) else error_line(error, statement)
        self.err.write(line + "\n")
        self.err.flush()

    # SQL
    def run_sql(self, sql: str) -> None:
        """Run every statement in ``sql``; an error stops the rest of this text."""
        try:
            parsed = statements(self.con, sql)
        except duckdb.Error as e:
            self.fail(e)
            return
        for kind, text in parsed:
            if not self._run_one(kind, text):
                return

    def _run_one(self, kind: str, text: str) -> bool:
        line = progress_mod.ProgressLine(self.err) if self.progress else None
        started = time.perf_counter()
        previous = self._trap_interrupt(line)
        try:
            if line is not None:
                with progress_mod.attached(line), progress_mod.notes(line):
                    result = self._fetch(text)
            else:
                result = self._fetch(text)
        except (duckdb.Error, KeyboardInterrupt, Exception) as e:  # one line, never a traceback
            self.fail(e, text)
            return False
        finally:
            self._restore_interrupt(previous)
        if result is not None and (kind in _SHOWN or _returns_rows(kind, text, result)):
            names, types, rows = result
            self.say(format_table(names, types, rows, self.mode, self.max_rows))
        if self.timer:
            self.say(f"Run Time: real {time.perf_counter() - started:.3f} s")
        return True

    def _fetch(self, text: str):
        relation = self.con.sql(text)   # lazy: read exactly once below
        if relation is None:             # a statement without a result ran already
            return None
        names, types = list(relation.columns), [str(t) for t in relation.types]
        return names, types, ArrowRows(relation.to_arrow_table())

    def _trap_interrupt(self, line):
        if not _main_thread():
            return None

        presses = []

        def handler(signum, frame):
            presses.append(signum)
            if line is not None and line.training and len(presses) == 1:
                line.interrupt()   # training stops cleanly at its next trial, epoch or stage
                return
            try:   # a plain query (or a second Ctrl-C): DuckDB stops it
                self.con.interrupt()
            except duckdb.Error:
                pass
        return signal.signal(signal.SIGINT, handler)

    @staticmethod
    def _restore_interrupt(previous) -> None:
        if previous is not None and _main_thread():
            signal.signal(signal.SIGINT, previous)

    # dot-commands
    def dot(self, command: str) -> None:
        words = command.split()
        name, args = words[0].lower(), words[1:]
        handler = getattr(self, "_dot_" + name[1:], None)
        if handler is None:
            self.fail(f"Error: unknown command {name}; try .help")
            return
        handler(args)

    def _dot_help(self, args):
        self.say(HELP)

    def _dot_quit(self, args):
        self.done = True

    _dot_exit = _dot_quit

    def _dot_tables(self, args):
        names = [r[0] for r in self.con.execute(_LIST_RELATIONS).fetchall()]
        if names:
            width = max(len(n) for n in names) + 2
            per_line = max(1, 100 // width)
            for i in range(0, len(names), per_line):
                self.say("".join(n.ljust(width) for n in names[i:i + per_line]).rstrip())

    def _dot_schema(self, args):
        if args:
            parts = args[0].split(".")
            table, schema = parts[-1], parts[0] if len(parts) > 1 else None
            rows = self.con.execute(_SCHEMA_OF, [table, schema, schema]).fetchall()
            if not rows:
                self.fail(f"Error: no table or view {args[0]!r}; .tables lists them")
                return
        else:
            rows = [(sql,) for _, sql in self.con.execute(_LIST_RELATIONS).fetchall()]
        for (sql,) in rows:
            self.say(sql)

    def _dot_tasks(self, args):
        self.run_sql("SELECT name, entity, kind, metric, horizon, counts FROM relatron.tasks "
                     "ORDER BY name;")

    def _dot_models(self, args):
        self.run_sql("SELECT name, version, active, family, status, round(seconds, 1) AS "
                     "seconds, metrics, created_at FROM relatron.models ORDER BY name, version;")

    def _dot_timer(self, args):
        if not args or args[0].lower() not in ("on", "off"):
            self.fail("Error: usage: .timer on|off")
            return
        self.timer = args[0].lower() == "on"

    def _dot_mode(self, args):
        if not args:
            self.say(f"current output mode: {self.mode}")
        elif args[0].lower() not in MODES:
            self.fail(f"Error: unknown mode {args[0]!r}; valid: {', '.join(MODES)}")
        else:
            self.mode = args[0].lower()

    def _dot_maxrows(self, args):
        try:
            self.max_rows = max(2, int(args[0]))
        except (IndexError, ValueError):
            self.fail("Error: usage: .maxrows N")

    def _dot_read(self, args):
        if not args:
            self.fail("Error: usage: .read FILE")
            return
        path = pathlib.Path(args[0])
        try:
            text = path.read_text()
        except OSError as e:
            self.fail(f"Error: cannot read {args[0]!r}: {e.strerror}")
            return
        except UnicodeDecodeError:
            self.fail(f"Error: cannot read {args[0]!r}: not UTF-8 text")
            return
        resolved = path.resolve()
        if resolved in self.reading:
            chain = " -> ".join(str(f) for f in [*self.reading, resolved])
            self.fail(f"Error: .read {args[0]!r} would read itself again ({chain})")
            return
        self.reading.append(resolved)
        try:
            self.feed(text.splitlines())
        finally:
            self.reading.pop()

    # input
    def take(self, buffer: list[str], line: str, history: "_History | None" = None) -> None:
        """Add one typed line: run a dot-command or, once ``;`` ends it, the statement."""
        line = line.rstrip("\n")
        if not buffer and line.strip().startswith("."):
            if history is not None:
                history.add(line.strip())
            self.dot(line.strip())
            return
        if not buffer and (not line.strip() or line.strip().startswith("--")):
            return   # blank or a comment line between statements
        buffer.append(line)
        text = "\n".join(buffer)
        if is_complete(text):
            if history is not None:
                history.add(text, lines=len(buffer))
            buffer.clear()
            self.run_sql(text)

    def feed(self, lines: Iterable[str], stop_on_error: bool = False) -> None:
        """Run lines as the shell would read them (dot-commands alone on a line); with
        ``stop_on_error``, nothing after the first failing statement or command runs."""
        buffer: list[str] = []
        errors = self.errors
        for line in lines:
            if self.done or (stop_on_error and self.errors > errors):
                return
            self.take(buffer, line)
        if "\n".join(buffer).strip():
            self.run_sql("\n".join(buffer))

    def interactive(self, banner: str = "") -> None:
        """Read statements with prompts, line editing and persistent history."""
        history = _History()
        if banner:
            self.say(banner)
        buffer: list[str] = []
        while not self.done:
            try:
                line = input("     ...> " if buffer else "relatron> ")
            except EOFError:
                self.say("")
                break
            except KeyboardInterrupt:
                self.say("")
                buffer.clear()
                continue
            self.take(buffer, line, history)
        history.save()


def _main_thread() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


class _History:
    """readline history in ~/.relatron_history; a multi-line statement is one entry."""

    def __init__(self):
        self.path = pathlib.Path(os.environ.get("RELATRON_HISTORY",
                                                pathlib.Path.home() / ".relatron_history"))
        try:
            import readline
        except ImportError:   # no line editing on this platform: still a working shell
            self.readline = None
            return
        self.readline = readline
        readline.set_history_length(5000)
        if self.path.exists():
            try:
                readline.read_history_file(str(self.path))
            except OSError:
                pass

    def add(self, text: str, lines: int = 1) -> None:
        rl = self.readline
        if rl is None:
            return
        for _ in range(lines):   # input() added each line; keep the statement as one entry
            n = rl.get_current_history_length()
            if n:
                rl.remove_history_item(n - 1)
        if "--" not in text:   # the history file keeps one line per entry
            text = " ".join(part.strip() for part in text.splitlines())
        rl.add_history(text)
        self.save()

    def save(self) -> None:
        if self.readline is not None:
            try:
                self.readline.write_history_file(str(self.path))
            except OSError:
                pass


def run(con: duckdb.DuckDBPyConnection, stdin: IO[str] | None = None,
        out: IO[str] | None = None, err: IO[str] | None = None, banner: str = "") -> int:
    """The ``relatron shell`` loop: interactive on a terminal, else read statements from stdin."""
    stdin = stdin or sys.stdin
    shell = Shell(con, out, err)
    if stdin.isatty() and (out or sys.stdout).isatty():
        shell.interactive(banner)
        return 0
    shell.feed(stdin)
    return 1 if shell.errors else 0

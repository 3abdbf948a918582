"""One error hierarchy. Every message names the offending argument and what would be valid."""
from __future__ import annotations

import datetime as dt
from typing import Iterable


class RelatronError(ValueError):
    """Base class of every error Relatron raises on bad input or state."""


class SchemaError(RelatronError):
    """Unknown table or column, missing key, bad declaration."""


class TaskError(RelatronError):
    """Bad task definition or unknown task."""


class LoadError(RelatronError):
    """A loader was pointed at data it cannot read."""


class CompileError(RelatronError):
    """A feature or query could not be compiled."""


class TrainError(RelatronError):
    """Training could not run with the given options or state."""


def choices(values: Iterable[object], limit: int = 20) -> str:
    """Render valid choices for an error message: ``'a', 'b', 'c'``."""
    items = sorted({str(v) for v in values})
    shown = ", ".join(repr(v) for v in items[:limit])
    if len(items) > limit:
        shown += f", … ({len(items) - limit} more)"
    return shown or "(none)"


def bad_argument(argument: str, problem: str, valid: Iterable[object] | None = None,
                 cls: type[RelatronError] = RelatronError) -> RelatronError:
    """Build the error for a bad argument: ``argument 'x': problem; valid: …``."""
    message = f"argument {argument!r}: {problem}"
    if valid is not None:
        message += f"; valid: {choices(valid)}"
    return cls(message)


def interval_text(value) -> str:
    """An interval in DuckDB's words (``30 days``, ``-1 day -02:00:00``, ``00:00:30``), which
    DuckDB reads back as the same interval, and any other value as ``str`` writes it: for
    messages that would otherwise show Python's forms. (Hours past a day are written as days:
    36 hours is ``1 day 12:00:00``.)"""
    if not isinstance(value, dt.timedelta):
        return str(value)
    sign, rest = ("-", -value) if value < dt.timedelta(0) else ("", value)
    days, seconds = rest.days, rest.seconds
    parts = [f"{sign}{days} day{'s' if days != 1 else ''}"] if days else []
    if seconds or rest.microseconds or not days:
        clock = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        if rest.microseconds:
            clock += f".{rest.microseconds:06d}".rstrip("0")
        parts.append(sign + clock)   # DuckDB signs each part
    return " ".join(parts)

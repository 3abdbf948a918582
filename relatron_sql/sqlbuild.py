"""SQL built from templates parsed by sqlglot: identifiers are quoted by sqlglot, values are bound.

A template uses ``:name`` placeholders for identifiers or sub-expressions and ``?`` for values:

>>> render("SELECT COUNT(*) FROM :t WHERE :c > ?", t=table("races; DROP TABLE x"), c="round")
'SELECT COUNT(*) FROM "races; DROP TABLE x" WHERE "round" > ?'
"""
from __future__ import annotations

import functools

import sqlglot
from sqlglot import exp

DIALECT = "duckdb"


def ident(name: str) -> exp.Identifier:
    """A quoted identifier."""
    return exp.to_identifier(str(name), quoted=True)


def column(name: str, table_alias: str | None = None) -> exp.Column:
    """A quoted column reference, optionally qualified by a table alias."""
    return exp.column(str(name), table=table_alias, quoted=True)


def table(name: str, schema: str | None = None) -> exp.Table:
    """A quoted table reference, optionally in a schema."""
    return exp.table_(str(name), db=schema, quoted=True)


def known_at(time_column: str | None, as_of) -> exp.Expression | None:
    """``time_column <= as_of``: the rows of a timed table known at a cutoff; ``None`` (every
    row) for a table without a time column or without a cutoff."""
    if not time_column or as_of is None:
        return None
    return exp.LTE(this=column(time_column),
                   expression=exp.cast(exp.Literal.string(str(as_of)), "TIMESTAMP"))


def sql_text(text: str) -> str:
    """A SQL string literal of ``text`` (for SQL and messages built from our own words)."""
    return "'" + text.replace("'", "''") + "'"


def quoted(name: str) -> str:
    """The identifier as quoted SQL text."""
    return ident(name).sql(DIALECT)


@functools.lru_cache(maxsize=512)
def _parse(template: str) -> exp.Expression:
    return sqlglot.parse_one(template, read=DIALECT)


def render(template: str, **parts: str | exp.Expression) -> str:
    """Parse ``template`` and replace each ``:name`` with a quoted identifier or an expression."""
    values = {k: (ident(v) if isinstance(v, str) else v) for k, v in parts.items()}
    tree = exp.replace_placeholders(_parse(template).copy(), **values)
    return tree.sql(DIALECT)

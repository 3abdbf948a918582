"""SQL function for routing: ``relatron_route(name)``."""
from __future__ import annotations

from relatron_sql.route import router

from .base import as_json, sql_function
from .core import required


@sql_function("relatron_route", [("name", "VARCHAR", None), ("bank", "VARCHAR", "NULL")],
              "VARCHAR")
def route(con, name, bank):
    return as_json(router.route(con, required(name, "name"), bank_path=bank))

"""A dbt-duckdb plugin that registers Relatron's SQL functions on dbt's connection.

In ``profiles.yml``::

    outputs:
      dev:
        type: duckdb
        path: flights.duckdb
        plugins:
          - module: relatron_sql.udfs.dbt
            config:
              compatible: true   # a new database file stays readable by DuckDB 1.x (default)

Models then call ``relatron_task``, ``relatron_train``, ``relatron_predict`` and read
``relatron_predictions(...)`` like any other SQL.
"""
from __future__ import annotations

import pathlib
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from relatron_sql.connection import COMPATIBLE_STORAGE, register
from relatron_sql.errors import bad_argument

from .base import install_macros


class Plugin(BasePlugin):
    OPTIONS = ("compatible",)

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        """Check the plugin's ``config:`` block; a misspelt option or a string where YAML
        needs true or false would otherwise be taken silently."""
        for key in plugin_config or {}:
            if key not in self.OPTIONS:
                raise bad_argument(key, "is not an option of the relatron_sql.udfs.dbt plugin",
                                   self.OPTIONS)
        compatible = (plugin_config or {}).get("compatible", True)
        if not isinstance(compatible, bool):
            raise bad_argument("compatible", f"must be true or false, got {compatible!r}")
        self.compatible = compatible

    def update_connection_config(self, creds, config: dict[str, Any]) -> None:
        """Create a new database file in the storage format DuckDB 1.4+ readers can open."""
        path = getattr(creds, "path", None)
        if (self.compatible and path and path != ":memory:" and "://" not in str(path)
                and not pathlib.Path(path).exists()):
            config.setdefault("storage_compatibility_version", COMPATIBLE_STORAGE)

    def configure_connection(self, conn) -> None:
        """The registry tables and every function, on dbt's parent connection."""
        register(conn)
        self._connection = conn

    def configure_cursor(self, cursor) -> None:
        """Cursors share the parent's UDFs but not its temporary macros."""
        install_macros(cursor, functions_of=self._connection)

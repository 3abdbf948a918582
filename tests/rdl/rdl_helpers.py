"""Helpers shared by the RDL tests."""
import numpy as np

from relatron_sql.sqlbuild import render, table as table_ref


def registry_state(con) -> dict:
    """Row counts of the registry tables and of every user table, to show nothing changed."""
    names = [r[0] for r in con.execute(
        "SELECT schema_name || '.' || table_name FROM duckdb_tables() WHERE NOT temporary "
        "ORDER BY 1").fetchall()]
    out = {}
    for name in names:
        schema, table = name.split(".", 1)
        out[name] = con.execute(render("SELECT COUNT(*) FROM :t",
                                       t=table_ref(table, schema))).fetchall()[0][0]
    return out


def epoch_us(values) -> np.ndarray:
    return np.asarray(values, dtype="datetime64[us]").astype(np.int64)

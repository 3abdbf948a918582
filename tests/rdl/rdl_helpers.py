"""Helpers shared by the RDL tests."""
import numpy as np


def registry_state(con) -> dict:
    """Row counts of the registry tables and of every user table, to show nothing changed."""
    names = [r[0] for r in con.execute(
        "SELECT schema_name || '.' || table_name FROM duckdb_tables() WHERE NOT temporary "
        "ORDER BY 1").fetchall()]
    out = {}
    for name in names:
        schema, table = name.split(".", 1)
        out[name] = con.execute('SELECT COUNT(*) FROM "' + schema.replace('"', '""') + '"."'
                                + table.replace('"', '""') + '"').fetchall()[0][0]
    return out


def epoch_us(values) -> np.ndarray:
    return np.asarray(values, dtype="datetime64[us]").astype(np.int64)

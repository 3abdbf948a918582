"""A fingerprint of a whole database: every table (user and registry) with its row count and a
hash of its contents, to show that a failed call left the database exactly as it was."""


def snapshot(con) -> dict:
    cur = con.cursor()
    tables = cur.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE "
                         "database_name = current_database() AND NOT temporary "
                         "ORDER BY ALL").fetchall()
    out = {}
    for schema, name in tables:
        rel = '"' + schema + '"."' + name.replace('"', '""') + '"'
        out[(schema, name)] = cur.execute(
            "SELECT COUNT(*), COALESCE(SUM(hash(t)), 0) FROM " + rel + " AS t").fetchall()[0]
    cur.close()
    return out

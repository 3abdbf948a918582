"""Compiler fixtures: each file holds a hand-written reference query (the plain, per-anchor
meaning of the features) and the compiled query. The compiled text must match, and both queries
run in DuckDB over the generated database must give the same values.

Set RELATRON_UPDATE_FIXTURES=1 to rewrite the compiled part after a deliberate compiler change.
"""
import os
import pathlib

import numpy as np
import pytest

from relatron_sql.dfs.compile import compile_plan, schema_info, to_sql
from relatron_sql.dfs.enumerate import add_label_history, enumerate_features
from relatron_sql.dfs.matrix import anchors_table
from relatron_sql.schema import read_schema
from relatron_sql.task import load_task, task_rows

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "dfs"
FILES = sorted(FIXTURES.glob("*.sql"))


def parse_fixture(text: str) -> dict:
    header, rest = text.split("-- reference\n", 1)
    reference, compiled = rest.split("-- compiled\n", 1)
    meta = {}
    for line in header.splitlines():
        if line.startswith("-- ") and ":" in line:
            key, value = line[3:].split(":", 1)
            meta[key.strip()] = value.strip()
    meta["reference"] = reference.strip().rstrip(";")
    meta["compiled"] = compiled.strip().rstrip(";")
    meta["header"] = header
    return meta


def compiled_for(con, meta: dict) -> tuple[str, list[str]]:
    schema = read_schema(con, count_dangling=False)
    plan = enumerate_features(con, schema, meta["entity"], depth=int(meta["depth"]))
    if "task" in meta:
        add_label_history(plan, load_task(con, meta["task"]))
    names = [n.strip() for n in meta["features"].split(",")]
    missing = set(names) - {f["name"] for f in plan.features}
    assert not missing, f"fixture names unknown features {missing}"
    sub = plan.subset(names)
    sub.features.sort(key=lambda f: names.index(f["name"]))
    return to_sql(compile_plan(sub, schema_info(schema, sub)), "duckdb", pretty=True), names


def test_there_are_fixtures():
    assert len(FILES) >= 5


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_fixture(gen_con, path):
    meta = parse_fixture(path.read_text())
    sql, names = compiled_for(gen_con, meta)
    if os.environ.get("RELATRON_UPDATE_FIXTURES"):
        path.write_text(meta["header"] + "-- reference\n" + meta["reference"] + ";\n"
                        + "-- compiled\n" + sql + ";\n")
        meta["compiled"] = sql
    assert sql == meta["compiled"], "compiled SQL differs from the fixture"
    rows = task_rows(gen_con, "user-active")
    cur = gen_con.cursor()
    cur.register("relatron_feature_anchors", anchors_table(rows["anchor_time"],
                                                           rows["entity_id"]))
    order = " ORDER BY anchor_time, entity_id"
    ours = cur.execute("SELECT * FROM (" + meta["compiled"] + ")" + order).fetchnumpy()
    ref = cur.execute("SELECT * FROM (" + meta["reference"] + ")" + order).fetchnumpy()
    cur.close()
    assert list(ours) == ["anchor_time", "entity_id", *names]
    assert list(ref) == list(ours), "the reference must name the same columns"
    assert len(ours["entity_id"]) == len(np.unique(rows["anchor_time"].astype(str).astype(object)
                                                   + rows["entity_id"]))
    assert (ours["entity_id"] == ref["entity_id"]).all()
    for name in names:
        a = np.ma.filled(np.ma.asarray(ours[name], dtype=float), np.nan)
        b = np.ma.filled(np.ma.asarray(ref[name], dtype=float), np.nan)
        assert np.allclose(a, b, equal_nan=True, rtol=1e-9, atol=1e-9), name
        assert not np.isnan(a).all(), f"{name} is NULL everywhere: the fixture tests nothing"

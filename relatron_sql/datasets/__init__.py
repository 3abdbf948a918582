"""Loaders for the real databases Relatron ships support for; each registers its standard tasks."""
from __future__ import annotations

import logging
import pathlib
import time
from types import ModuleType

import duckdb

from .. import registry
from ..errors import LoadError, bad_argument
from ..schema import declare, main_relations, read_schema
from ..sqlbuild import render, table as table_ref
from ..task import create_task
from . import f1, lahman, nycflights, stackexchange

log = logging.getLogger(__name__)

DATASETS: dict[str, ModuleType] = {
    "ergast_f1": f1,
    "nycflights13": nycflights,
    "stackexchange": stackexchange,
    "lahman": lahman,
}

_READERS = {
    ".csv": "SELECT * FROM read_csv(?, nullstr = '\\N', header = true, null_padding = true)",
    ".parquet": "SELECT * FROM read_parquet(?)",
}


def _resolve_path(module: ModuleType, path: str | None) -> pathlib.Path:
    if path is None:
        if hasattr(module, "default_path"):
            return module.default_path()
        raise bad_argument("path", "this dataset needs the folder of its files", None, LoadError)
    folder = pathlib.Path(path)
    if not folder.is_dir():
        raise bad_argument("path", f"{path!r} is not a folder", None, LoadError)
    missing = [f for f in _expected_files(module) if not (folder / f).is_file()]
    if missing:
        raise bad_argument("path", f"{path!r} lacks {', '.join(missing)}; expected files",
                           _expected_files(module), LoadError)
    return folder


def _expected_files(module: ModuleType) -> list[str]:
    if module is f1:
        return [name + ".csv" for name in f1.FILES]
    return list(module.FILES)


def load(con: duckdb.DuckDBPyConnection, dataset: str, path: str | None = None,
         replace: bool = False) -> dict:
    """Load ``dataset`` into the main schema, declare its keys and build its tasks, atomically."""
    if dataset not in DATASETS:
        raise bad_argument("dataset", f"unknown dataset {dataset!r}", DATASETS, LoadError)
    module = DATASETS[dataset]
    registry.refuse_read_only(con, f"relatron_load creates the {dataset} dataset's tables",
                              LoadError)
    folder = _resolve_path(module, path)
    names = [spec[0] for spec in module.TABLES]
    # DuckDB's names are case-insensitive: "Weather" is in the way of weather
    existing = main_relations(con)
    found = [existing[n.lower()] for n in names if n.lower() in existing]
    views = sorted(n for n, kind in found if kind == "view")
    if views:
        raise bad_argument("dataset", f"{_exist('view', views)} where the {dataset} dataset puts "
                           "a table; drop or rename it first (replace := true replaces tables "
                           "only)", None, LoadError)
    clash = sorted(n for n, _ in found)
    task_names = [spec["name"] for spec in module.TASKS]
    task_clash = sorted(row[0] for row in con.execute(
        "SELECT name FROM relatron.tasks WHERE list_contains(?, name)", [task_names]).fetchall())
    if (clash or task_clash) and not replace:
        exist = "; ".join(([_exist("table", clash)] if clash else []) +
                          ([_exist("task", task_clash) + f" (the {dataset} dataset defines its "
                            "own; replacing a task deactivates its models)"]
                           if task_clash else []))
        raise bad_argument("replace", f"{exist}; pass replace := true to load over them",
                           None, LoadError)
    started = time.perf_counter()
    tasks = {}
    with registry.transaction(con) as cur:
        for name in clash:
            cur.execute(render("DROP TABLE :t", t=table_ref(name)))
        try:
            _build(cur, module, folder)
        except duckdb.Error as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise bad_argument("path", f"{str(folder)!r} does not hold the {dataset} files: "
                               f"{first}", None, LoadError) from e
        for name, (pk, fks, time_col) in module.KEYS.items():
            declare(cur, name, primary_key=pk, foreign_keys=fks, time_column=time_col,
                    replace=True)
        schema = read_schema(cur, count_dangling=False)
        for spec in module.TASKS:
            tasks[spec["name"]] = create_task(cur, replace=True, schema=schema, **spec)
    rows = {n: con.execute(render("SELECT COUNT(*) FROM :t", t=table_ref(n))).fetchall()[0][0]
            for n in names}
    return {"dataset": dataset, "tables": rows, "tasks": tasks,
            "seconds": round(time.perf_counter() - started, 2)}


def _exist(kind: str, names: list[str]) -> str:
    listed = ", ".join(repr(n) for n in names)
    return f"{kind} {listed} exists" if len(names) == 1 else f"{kind}s {listed} exist"


def _build(cur: duckdb.DuckDBPyConnection, module: ModuleType, folder: pathlib.Path) -> None:
    if hasattr(module, "read_sources"):
        module.read_sources(cur, folder)
        specs = [(name, None, select) for name, select in module.TABLES]
    else:
        specs = module.TABLES
    for name, source, select in specs:
        if source is not None:
            file = folder / (source if "." in source else source + ".csv")
            cur.execute("CREATE OR REPLACE TEMP TABLE src AS " + _READERS[file.suffix],
                        [str(file)])
        cur.execute(render("CREATE TABLE :t AS " + select, t=table_ref(name)))
    for temp in cur.execute("SELECT table_name FROM duckdb_tables() WHERE temporary AND "
                            "table_name LIKE 'src%'").fetchall():
        cur.execute(render("DROP TABLE :t", t=table_ref(temp[0], "temp")))


def add_bank_tasks(con: duckdb.DuckDBPyConnection, dataset: str) -> dict:
    """Define the extra tasks of ``dataset`` used to build the performance bank."""
    module = DATASETS[dataset]
    out = {}
    with registry.transaction(con) as cur:
        schema = read_schema(cur, count_dangling=False)
        for spec in getattr(module, "BANK_TASKS", ()):
            out[spec["name"]] = create_task(cur, replace=True, schema=schema, **spec)
    return out

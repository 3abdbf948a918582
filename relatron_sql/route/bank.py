"""The performance bank: (task signals, family, config, val metric, test metric) rows.

The shipped bank is ``relatron_sql/data/bank.json``, written by ``benchmarks/build_bank.py``;
every ``relatron_train`` a user runs appends rows to ``relatron.bank`` in their database.

A bank row knows which family won on its task's *test* split. Routing a task with the record of
that very task would choose a family by its test result, so each shipped row carries its task's
``test_key`` (a hash of what defines the test rows), and the router leaves out bank tasks with the
routed task's key.
"""
from __future__ import annotations

import hashlib
import json
import math
import pathlib

import numpy as np

from ..errors import RelatronError
from .signals import KEYS, orient, vector

DEFAULT = pathlib.Path(__file__).resolve().parents[1] / "data" / "bank.json"
FAMILIES = ("dfs", "rdl")


class BankError(RelatronError):
    """The bank file is missing or unreadable."""


def load(path: str | pathlib.Path | None = None) -> list[dict]:
    """Rows of the bank file; raises BankError naming the file when it is missing or corrupt."""
    if path is not None and not str(path).strip():
        raise BankError("argument 'bank': is empty (NULL for the shipped bank)")
    path = pathlib.Path(path) if path is not None else DEFAULT
    try:
        rows = json.loads(path.read_text())
    except FileNotFoundError:
        raise BankError(f"argument 'bank': no bank file at {path}") from None
    except (OSError, ValueError) as e:
        raise BankError(f"argument 'bank': {path} is not a readable bank ({e})") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and "task" in r and "family" in r
                                             and isinstance(r.get("signals"), dict) for r in rows):
        raise BankError(f"argument 'bank': {path} is not a list of bank rows with task, family "
                        "and signals")
    for i, row in enumerate(rows):
        problem = row_problem(row)
        if problem:
            raise BankError(f"argument 'bank': {path} row {i} ({row.get('task')!r}): {problem}")
    return rows


def _number_or_null(value) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def row_problem(row: dict) -> str | None:
    """What makes a bank row unusable (a signal, metric or seed of the wrong type), or None."""
    if not isinstance(row.get("task"), str) or not isinstance(row.get("family"), str):
        return "task and family must be strings"
    bad = [k for k in KEYS if not _number_or_null(row["signals"].get(k))]
    if bad:
        return f"signal {bad[0]!r} is not a number"
    for field in ("val_metric", "test_metric"):
        if not _number_or_null(row.get(field)):
            return f"{field} is not a number"
    if not (row.get("config") is None or isinstance(row.get("config"), dict)):
        return "config must be an object"
    seed = row.get("seed")
    if not (seed is None or isinstance(seed, (int, str)) and not isinstance(seed, bool)):
        return "seed must be a number or a string"
    if not isinstance(row.get("metric", "auroc"), str):
        return "metric must be a string"
    return None


def _canonical_sql(sql: str) -> str:
    """A label query as DuckDB reads it: identifiers folded (DuckDB matches them without case,
    quoted or not), keywords and spacing as sqlglot writes them, comments and a final ``;``
    dropped. A query sqlglot cannot parse is compared by its words."""
    import sqlglot
    from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
        return normalize_identifiers(tree, dialect="duckdb").sql(
            dialect="duckdb", identify=True, comments=False)
    except sqlglot.errors.SqlglotError:
        return " ".join(sql.split())


def _key(task, label_sql: str) -> str:
    parts = [task.entity, label_sql, task.kind, task.horizon.total_seconds(),
             str(task.test_timestamp), task.eval_windows]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def test_key(task) -> str:
    """What defines a task's test rows (entity, label query, kind, horizon, test timestamp and
    windows), hashed: two tasks with the same key, on the same data, have the same test rows.
    (On other data they share a key too, and are left out all the same: the cautious side.)
    The label query is compared as DuckDB reads it, so a copy that differs in case, comments
    or spacing shares the key."""
    return _key(task, _canonical_sql(task.label_sql))


def test_keys(task) -> set[str]:
    """Every key a record of this task may carry: ``test_key``, and the key of releases that
    compared label queries by their words only (rows a database's earlier trainings wrote)."""
    return {test_key(task), _key(task, " ".join(task.label_sql.split()))}


def outcomes(rows: list[dict]) -> list[dict]:
    """One row per task that both families ran, with its signals and whether RDL beat DFS on test.

    A bank may hold each family's search several times, under different seeds (a row's
    ``seed``; rows without one, like a user's, count as one seed). Within a seed, a family's
    validation-selected row stands for it (``runs``: family -> seed -> row); its test score is
    the mean of those rows' oriented test metrics (``test``), so a winner decided by one seed's
    luck shows as a narrow margin instead of a flip. ``best`` is each family's best-validation
    row over all seeds. ``test_keys`` are the test keys of all the task's rows (a task
    redefined under the same name carries more than one).
    """
    by_task: dict[str, dict] = {}
    for r in rows:
        if r["family"] not in FAMILIES or r.get("val_metric") is None:
            continue
        t = by_task.setdefault(r["task"], {"task": r["task"], "database": r.get("database"),
                                           "test_keys": set(),
                                           "signals": r["signals"],
                                           "runs": {f: {} for f in FAMILIES}})
        if r.get("test_key"):
            t["test_keys"].add(r["test_key"])
        runs = t["runs"][r["family"]]
        seed = r.get("seed", 0)
        if seed not in runs or _better(r, runs[seed]):
            runs[seed] = r
    out = []
    for t in by_task.values():
        if not all(t["runs"].values()):
            continue
        per_seed = {f: [_oriented(r, "test_metric") for r in t["runs"][f].values()]
                    for f in FAMILIES}
        if any(v is None for scores in per_seed.values() for v in scores):
            continue
        scores = {f: float(np.mean(per_seed[f])) for f in FAMILIES}
        best = {f: max(t["runs"][f].values(), key=_val_key) for f in FAMILIES}
        out.append({**t, "best": best, "test": scores, "rdl_wins": scores["rdl"] > scores["dfs"]})
    return out


def _oriented(row: dict, field: str) -> float | None:
    return orient(row.get("metric", "auroc"), row.get(field), row["signals"].get("label_std"))


def _val_key(row: dict) -> float:
    score = _oriented(row, "val_metric")
    return -math.inf if score is None else score


def _better(a: dict, b: dict) -> bool:
    return _val_key(a) > _val_key(b)


def nearest(rows: list[dict], signals: dict, family: str, k: int = 2,
            exclude_task: str | None = None) -> list[dict]:
    """Best-val configs of ``family`` from the ``k`` bank tasks most similar to ``signals``
    (cosine similarity on standardised signals)."""
    tasks = {}
    for r in rows:
        if r["family"] != family or r["task"] == exclude_task or r.get("val_metric") is None:
            continue
        cur = tasks.get(r["task"])
        if cur is None or _better(r, cur):
            tasks[r["task"]] = r
    if not tasks:
        return []
    names = sorted(tasks)
    matrix = np.array([vector(tasks[n]["signals"]) for n in names])
    query = vector(signals)
    mean = np.nanmean(np.vstack([matrix, query]), axis=0)
    std = np.nanstd(np.vstack([matrix, query]), axis=0)
    std[~np.isfinite(std) | (std == 0)] = 1.0
    z = np.nan_to_num((matrix - mean) / std)
    q = np.nan_to_num((query - mean) / std)
    sims = z @ q / (np.linalg.norm(z, axis=1) * (np.linalg.norm(q) or 1.0) + 1e-12)
    order = np.argsort(-sims)[:k]
    return [{"task": names[i], "similarity": float(sims[i]), "config": tasks[names[i]]["config"]}
            for i in order]


__all__ = ["load", "outcomes", "nearest", "test_key", "test_keys", "BankError", "DEFAULT", "KEYS"]

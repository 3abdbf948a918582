"""RDL quality on rel-f1 (test split, default settings, CPU) with a future-truncation check.

For each task and seed: train the RDL family with defaults, report validation and test metric
and wall time beside the history-mean baseline family trained in the same run (the anchor) and
the published RelBench RDL figures; then, for the first test anchors,
delete every row later than the anchor and check that the predictions do not move.

    .venv/bin/python benchmarks/rdl_quality.py [--seeds 0 1] [--tasks driver-dnf ...]
    .venv/bin/python benchmarks/rdl_quality.py --config '{"conv": "gat"}'   # one variant

With ``--config`` the engine trains that configuration (defaults for the rest) directly, without
registering a model, and the truncation check is skipped.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import time

import numpy as np

import relatron_sql
from relatron_sql import metrics, models
from relatron_sql.families import Rows
from relatron_sql.rdl import train as engine
from relatron_sql.schema import read_schema
from relatron_sql.sqlbuild import render, table as table_ref
from relatron_sql.task import load_task

RELBENCH_RDL = {"driver-dnf": 72.62, "driver-top3": 75.54, "driver-position": 4.022}
TARGET = {"driver-dnf": 74.0, "driver-top3": 80.0, "driver-position": 4.00}


def truncation_check(con, name: str, anchors: int = 3) -> float:
    """Largest prediction change when rows after the anchor are deleted (0 means no leak)."""
    task, _, _, model = models.active_model(con, name)
    rows = models.split_rows(con, task, "test")
    schema = read_schema(con, count_dangling=False)
    worst = 0.0
    for t0 in np.unique(rows.anchor_time)[:anchors]:
        sel = rows.anchor_time == t0
        subset = Rows(rows.anchor_time[sel], rows.entity_id[sel])
        before = model.predict(con, task, subset)
        con.execute("BEGIN TRANSACTION")
        for t in schema.tables.values():
            if t.time_column:
                con.execute(render("DELETE FROM :t WHERE :c > ?", t=table_ref(t.name),
                                   c=t.time_column), [t0.astype("datetime64[us]").item()])
        after = models.active_model(con, name)[3].predict(con, task, subset)
        con.execute("ROLLBACK")
        worst = max(worst, float(np.abs(before - after).max()))
    return worst


def variant(con, name: str, seed: int, config: dict) -> None:
    task = load_task(con, name)
    t0 = time.perf_counter()
    prepared = engine.Prepared.build(con, task)
    model, val, info = engine.fit(con, task, prepared, config, seed, "cpu")
    rows = models.split_rows(con, task, "test")
    test = metrics.primary(task.kind, metrics.evaluate(task.kind, rows.label,
                                                       model.predict(con, task, rows)))
    scale = 100.0 if task.metric == "auroc" else 1.0
    print(f"{name:<16} seed {seed}  {json.dumps(config)}  val {task.metric} {val * scale:7.3f}  "
          f"test {task.metric} {test * scale:7.3f}  {time.perf_counter() - t0:6.1f}s  epochs "
          f"{info['epochs']} (best {info['best_epoch']})", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--f1", default=str(pathlib.Path(__file__).resolve().parents[2] / "shared"
                                        / "data" / "f1"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--tasks", nargs="+", default=list(RELBENCH_RDL))
    ap.add_argument("--config", help="JSON options for one engine configuration")
    args = ap.parse_args()
    con = relatron_sql.connect(":memory:")
    relatron_sql.load(con, "ergast_f1", args.f1)
    for name in args.tasks:
        if not args.config:
            base = models.train(con, name, family="baseline", retrain=True)
            scale = 100.0 if base["metric"] == "auroc" else 1.0
            print(f"{name:<16} baseline (history mean): test {base['metric']} "
                  f"{base['test'][base['metric']] * scale:7.3f}", flush=True)
        for seed in args.seeds:
            if args.config:
                variant(con, name, seed, json.loads(args.config))
                continue
            t0 = time.perf_counter()
            res = models.train(con, name, family="rdl", seed=seed, retrain=True)
            seconds = time.perf_counter() - t0
            metric = res["metric"]
            scale = 100.0 if metric == "auroc" else 1.0
            val, test = res["val"][metric] * scale, res["test"][metric] * scale
            ok = test >= TARGET[name] if metric == "auroc" else test <= TARGET[name]
            leak = truncation_check(con, name)
            print(f"{name:<16} seed {seed}  val {metric} {val:7.3f}  test {metric} {test:7.3f}  "
                  f"(RelBench RDL {RELBENCH_RDL[name]}, target {TARGET[name]}: "
                  f"{'met' if ok else 'NOT met'})  {seconds:6.1f}s  epochs "
                  f"{res['config']['epochs']} (best {res['config']['best_epoch']})  "
                  f"max change after deleting future rows {leak:.2e}", flush=True)


if __name__ == "__main__":
    main()

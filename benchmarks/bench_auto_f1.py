"""Claim: relatron_train(name) in auto mode on rel-f1 at least matches the better family alone.

Trains each RelBench task three ways in one run, seed 0, default budgets: family 'dfs',
family 'rdl' and 'auto' (route, then search as routed; where both families are searched, auto
keeps one of them or a blend of the two), and prints the test metrics.
Usage: .venv/bin/python benchmarks/bench_auto_f1.py [F1_DIR] [TASK,TASK]
"""
from __future__ import annotations

import pathlib
import sys
import time

import relatron_sql
from relatron_sql import models

DATA = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                    pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "f1")


def main() -> None:
    con = relatron_sql.connect(":memory:")
    relatron_sql.load(con, "ergast_f1", str(DATA))
    names = sys.argv[2].split(",") if len(sys.argv) > 2 else ("driver-dnf", "driver-top3",
                                                              "driver-position")
    for name in names:
        row = {}
        for family in ("dfs", "rdl", "auto"):
            t0 = time.perf_counter()
            out = models.train(con, name, family=family, seed=0, retrain=True)
            kept = out["family"]
            if kept == "blend":
                kept += " " + ", ".join(f"{m} {w:g}" for m, w in out["config"]["weights"].items())
            row[family] = (out["test"][out["metric"]], kept, time.perf_counter() - t0)
            if family == "auto":
                route = out.get("route") or {}
                print(f"{name:16s} routed: P(RDL) {route.get('probability')}, "
                      f"{route.get('family')}", flush=True)
        metric = out["metric"]
        best = (min if metric == "mae" else max)(row["dfs"][0], row["rdl"][0])
        ok = row["auto"][0] <= best if metric == "mae" else row["auto"][0] >= best
        print(f"{name:16s} test {metric}: dfs {row['dfs'][0]:.4f}  rdl {row['rdl'][0]:.4f}  "
              f"auto {row['auto'][0]:.4f} (trained {row['auto'][1]}, {row['auto'][2]:.0f} s)  "
              f"{'matches the better family' if ok else 'below the better family'}", flush=True)


if __name__ == "__main__":
    main()

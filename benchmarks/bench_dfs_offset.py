"""Claim: on regression tasks, letting the DFS search boost from the entity's last known label
(``"offset": "history"``) helps where labels persist and costs little elsewhere.

For every regression task of the bank's databases (the bank's own rows and training starts),
one feature matrix, then two LightGBM searches on it at the bank's DFS budget (6 trials, seed
0): the anchor without offsets, and ours with them. Prints validation and test MAE of each, the
offset the search kept, and the MAE of the offset alone (the last known label) for scale.
Usage: .venv/bin/python benchmarks/bench_dfs_offset.py [--only f1,nycflights13] [--budget 6]
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from build_bank import databases  # noqa: E402  (the bank's databases, as it builds them)

from relatron_sql.dfs import lightgbm_model  # noqa: E402
from relatron_sql.dfs.family import Offset, _informative, _split, build_plan  # noqa: E402
from relatron_sql.dfs.matrix import feature_matrix  # noqa: E402
from relatron_sql.task import load_task  # noqa: E402


def mae(y, p) -> float:
    return float(np.mean(np.abs(np.asarray(y, float) - p)))


def run(con, name: str, budget: int) -> dict:
    task = load_task(con, name)
    rows = {s: _split(con, task, s) for s in ("train", "val", "test")}
    plan, info = build_plan(con, task)
    X = {s: feature_matrix(con, plan, info, r.anchor_time, r.entity_id) for s, r in rows.items()}
    offset = Offset.of(plan, rows["train"].label)
    start = {s: offset.from_matrix(plan, x) for s, x in X.items()}
    keep = _informative(X["train"])
    X = {s: x[:, keep] for s, x in X.items()}
    out = {"offset alone": {s: mae(rows[s].label, start[s]) for s in ("val", "test")}}
    for label, offsets in (("anchor", None), ("ours", (start["train"], start["val"]))):
        booster, params, _ = lightgbm_model.search(
            "regression", None, X["train"], rows["train"].label, X["val"], rows["val"].label,
            budget, 0, offsets=offsets)
        used = params.get("offset") == "history"
        out[label] = {s: mae(rows[s].label, lightgbm_model.predict_booster(
            booster, "regression", X[s], start[s] if used else None)) for s in ("val", "test")}
        out[label]["offset"] = params.get("offset", "none")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default=None)
    parser.add_argument("--budget", type=int, default=6)
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    print(f"{'task':38s} {'offset alone':>15s} {'anchor val/test':>17s} "
          f"{'ours val/test':>17s}  kept     test ratio", flush=True)
    for database, con in databases(only):
        names = [n for n, in con.execute("SELECT name FROM relatron.tasks WHERE kind = "
                                         "'regression' ORDER BY name").fetchall()]
        for name in names:
            t0 = time.perf_counter()
            r = run(con, name, args.budget)
            a, o, z = r["anchor"], r["ours"], r["offset alone"]
            print(f"{database + '/' + name:38s} {z['val']:7.3f}/{z['test']:7.3f} "
                  f"{a['val']:8.3f}/{a['test']:8.3f} {o['val']:8.3f}/{o['test']:8.3f}  "
                  f"{o['offset']:8s} {o['test'] / a['test']:.3f}  "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
        con.close()


if __name__ == "__main__":
    main()

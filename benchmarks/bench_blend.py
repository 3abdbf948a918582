"""Claim: auto mode's blend of DFS and RDL (weight chosen on validation) tests at least as well
as keeping the family with the better validation score, on tasks other than the three rel-f1
tasks the blend was first measured on.

For each bank task (rel-f1's driver-dnf, driver-top3 and driver-position left out), trains each
family at the bank's budgets (DFS 6 trials, RDL 1, seed 0), scores validation and test, and
compares on test: DFS alone, RDL alone, the family with the better validation score (auto mode
without a blend), and the blend auto mode keeps (relatron_sql.blend: log-odds pooling for binary
tasks, mean for regression; the blend is kept only when it is strictly better on validation).
For binary tasks it also prints the blend that averages probabilities, for comparison.

Usage: .venv/bin/python benchmarks/bench_blend.py [--only lahman,generated] [--dfs-budget 6]
       [--rdl-budget 1] [--seconds 400]
"""
from __future__ import annotations

import argparse
import logging
import pathlib
import sys
import time

import numpy as np

from relatron_sql import blend, metrics, models
from relatron_sql.task import load_task

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from build_bank import databases  # noqa: E402

#: measured before this benchmark existed, when the blend's pooling was chosen
SEEN = {"f1/driver-dnf", "f1/driver-top3", "f1/driver-position"}


def _scores(task, preds: dict) -> dict:
    return {split: metrics.primary(task.kind, metrics.evaluate(task.kind, y, p))
            for split, (y, p) in preds.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="stackexchange,generated,lahman,nycflights13,f1")
    ap.add_argument("--dfs-budget", type=int, default=6)
    ap.add_argument("--rdl-budget", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=400.0)
    ap.add_argument("--skip", default="nycflights13/plane-cancel,nycflights13/plane-delay,"
                    "nycflights13/plane-flights", help="bank tasks to leave out (slow ones)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    only = set(filter(None, args.only.split(",")))
    skip = SEEN | set(filter(None, args.skip.split(",")))
    tally = {"kept": 0, "tasks": 0, "vs_val_pick": [], "vs_best": [], "pick_vs_best": []}
    for db, con in databases(only):
        for (name,) in con.execute("SELECT name FROM relatron.tasks ORDER BY name").fetchall():
            key = f"{db}/{name}"
            if key in skip:
                continue
            t0 = time.perf_counter()
            preds = {}
            for family, budget in (("dfs", args.dfs_budget), ("rdl", args.rdl_budget)):
                models.train(con, name, family=family, budget=budget, seed=0,
                             time_budget=args.seconds, retrain=True)
                task, _, _, model = models.active_model(con, name)
                preds[family] = {}
                for split in ("val", "test"):
                    rows = models.split_rows(con, task, split)
                    preds[family][split] = (rows.label, model.predict(con, task, rows))
            task = load_task(con, name)
            if task.kind == "multiclass":
                continue
            single = {f: _scores(task, preds[f]) for f in preds}
            pick = "rdl" if task.better(single["rdl"]["val"], single["dfs"]["val"]) else "dfs"
            y_val = preds["dfs"]["val"][0]
            weight, by_weight = blend.choose_weight(task, y_val, preds["dfs"]["val"][1],
                                                    preds["rdl"]["val"][1])
            kept = blend.worth_keeping(task, weight, by_weight, single[pick]["val"])
            auto = (_scores(task, {s: (preds["dfs"][s][0], blend.pool(
                task.kind, weight, preds["dfs"][s][1], preds["rdl"][s][1]))
                for s in ("val", "test")}) if kept else single[pick])
            sign = 1 if task.higher_is_better else -1
            best_test = max(single["dfs"]["test"], single["rdl"]["test"], key=lambda v: sign * v)
            tally["tasks"] += 1
            tally["kept"] += kept
            tally["vs_val_pick"].append(sign * (auto["test"] - single[pick]["test"]))
            tally["vs_best"].append(sign * (auto["test"] - best_test))
            tally["pick_vs_best"].append(sign * (single[pick]["test"] - best_test))
            mean_note = ""
            if task.kind == "binary":
                p_val = {w: metrics.primary(task.kind, metrics.evaluate(
                    task.kind, y_val, w * preds["dfs"]["val"][1] + (1 - w) *
                    preds["rdl"]["val"][1])) for w in blend.GRID}
                w_mean = max(blend.GRID, key=lambda w: (sign * p_val[w], -abs(w - 0.5)))
                y_test = preds["dfs"]["test"][0]
                mean_test = metrics.primary(task.kind, metrics.evaluate(
                    task.kind, y_test, w_mean * preds["dfs"]["test"][1] + (1 - w_mean) *
                    preds["rdl"]["test"][1]))
                mean_note = f"  (probability mean: w {w_mean:.2f}, test {mean_test:.4f})"
            print(f"{key:34s} {task.metric:5s} test: dfs {single['dfs']['test']:.4f} rdl "
                  f"{single['rdl']['test']:.4f} | val pick {pick} {single[pick]['test']:.4f} | "
                  f"auto {'blend w_dfs ' + format(weight, '.2f') if kept else pick} "
                  f"{auto['test']:.4f}{mean_note}  [{time.perf_counter() - t0:.0f} s]",
                  flush=True)
        con.close()
    d, b, p = (np.array(tally[k]) for k in ("vs_val_pick", "vs_best", "pick_vs_best"))
    print(f"\n{tally['tasks']} tasks; blend kept on {tally['kept']}. Auto with the blend against "
          f"auto without it, on test: {(d > 0).sum()} better, {(d < 0).sum()} worse, "
          f"{(d == 0).sum()} the same. At least the better family alone on test: "
          f"{(b >= 0).sum()} of {len(b)} with the blend, {(p >= 0).sum()} without it.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

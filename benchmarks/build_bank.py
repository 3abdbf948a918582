"""Build the performance bank shipped in the package: both families on every task we have.

For every task: its signals (relatron_sql.route.signals), then a small search of each family
through the normal training path, recording the validation-selected config with its val and
test metric. Writes relatron_sql/data/bank.json (resumable: rows already there are kept).

Usage: .venv/bin/python benchmarks/build_bank.py [--only f1,lahman] [--dfs-budget 6]
       [--rdl-budget 1] [--seconds 400] [--out relatron_sql/data/bank.json] [--keys-only]
       [--signals-only] [--retrain rdl] [--seed 0] [--tasks nycflights13/dest-arrivals,...]

--keys-only trains nothing: it writes each existing row's ``test_key`` (see route/bank.py).
--signals-only trains nothing: it recomputes the signals of the tasks already in the bank (after
a change to how signals are computed), keeping their families' results.
--retrain FAMILY drops that family's rows of the selected databases and trains them again (after
a change to the family), keeping the other family's rows and every task's signals. The rows are
dropped at the first write: to resume an interrupted retrain, run again without --retrain.
--seed N trains both families again with seed N and adds their rows beside those of the other
seeds (rows without a seed are seed 0); the bank compares families by their test metric averaged
over seeds (route/bank.py), so a winner decided by one seed's luck shows as a narrow margin.
--retrain drops only the rows of the given seed.
--tasks limits any of these to the named bank tasks (database/task), e.g. to retrain one task.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import pathlib
import sys
import time

import relatron_sql
from relatron_sql import models
from relatron_sql.datasets import DATASETS, add_bank_tasks
from relatron_sql.route import bank as bank_mod, signals as signals_mod
from relatron_sql.task import load_task
from relatron_sql.testing import make_database

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "relatron_sql" / "data" / "bank.json"

# Large tasks are trained from a later start so that the whole bank fits an evening on 2 cores;
# the bank compares families, and both see the same rows.
TRAIN_START = {"nycflights13": dt.datetime(2013, 7, 1)}


def databases(only: set[str] | None):
    specs = [("f1", "ergast_f1", str(DATA / "f1")), ("nycflights13", "nycflights13", None),
             ("lahman", "lahman", None),
             ("stackexchange", "stackexchange", str(DATA / "stackexchange-bicycles-meta"))]
    for name, dataset, path in specs:
        if only and name not in only:
            continue
        con = relatron_sql.connect(":memory:")
        relatron_sql.load(con, dataset, path)
        add_bank_tasks(con, dataset)
        if name in TRAIN_START:
            _restart(con, TRAIN_START[name])
        yield name, con
    for h in (0.0, 0.25, 0.5, 0.75, 0.95):
        name = f"generated-h{h:g}"
        if only and name not in only and "generated" not in only:
            continue
        con = relatron_sql.connect(":memory:")
        make_database(con, n_users=600, homophily=h, seed=int(h * 100))
        yield name, con


def _selected(database: str, only: set[str]) -> bool:
    return database in only or ("generated" in only and database.startswith("generated"))


def _restart(con, start: dt.datetime) -> None:
    for (name,) in con.execute("SELECT name FROM relatron.tasks").fetchall():
        t = load_task(con, name)
        relatron_sql.create_task(con, name, t.entity, t.label_sql, kind=t.kind,
                                 horizon=t.horizon, val_timestamp=t.val_timestamp,
                                 test_timestamp=t.test_timestamp, eval_windows=t.eval_windows,
                                 train_start=start, description=t.description, replace=True,
                                 exclude=t.exclude)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    ap.add_argument("--dfs-budget", type=int, default=6)
    ap.add_argument("--rdl-budget", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=400.0,
                    help="time budget of each family's search per task: enough for RDL's "
                         "default trial (at most 300 s) and DFS's trials to finish, so that "
                         "neither family is cut short")
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--keys-only", action="store_true")
    ap.add_argument("--signals-only", action="store_true")
    ap.add_argument("--retrain", choices=("dfs", "rdl"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tasks", default="", help="only these database/task keys, comma-separated")
    args = ap.parse_args(argv)
    if args.retrain and (args.keys_only or args.signals_only):
        ap.error("--retrain trains; it cannot go with --keys-only or --signals-only")
    logging.basicConfig(level=logging.WARNING)
    out = pathlib.Path(args.out)
    rows = json.loads(out.read_text()) if out.exists() else []
    only = set(filter(None, args.only.split(",")))
    named = set(filter(None, args.tasks.split(",")))
    if args.retrain:
        rows = [r for r in rows if r["family"] != args.retrain or r.get("seed", 0) != args.seed
                or (only and not _selected(r["database"], only))
                or (named and r["task"] not in named)]
    done = {(r["task"], r["family"]) for r in rows if r.get("seed", 0) == args.seed}
    budgets = {"dfs": args.dfs_budget, "rdl": args.rdl_budget}
    for db, con in databases(only):
        for (name,) in con.execute("SELECT name FROM relatron.tasks ORDER BY name").fetchall():
            key = f"{db}/{name}"
            if named and key not in named:
                continue
            task = load_task(con, name)
            test_key = bank_mod.test_key(task)
            own = [r for r in rows if r["task"] == key]
            for r in own:
                r["test_key"] = test_key
            if args.keys_only or (all((key, f) in done for f in budgets)
                                  and not args.signals_only):
                continue
            started = time.perf_counter()
            if own and not args.signals_only:
                sig = own[0]["signals"]
            else:
                sig = signals_mod.compute(con, task)
                sig["metric"] = task.metric
                print(f"{key}: signals in {time.perf_counter() - started:.1f} s", flush=True)
            if args.signals_only:
                for r in own:
                    r["signals"] = sig
                out.write_text(json.dumps(rows, indent=1, default=str))
                continue
            for family, budget in budgets.items():
                if (key, family) in done:
                    continue
                t0 = time.perf_counter()
                summary = models.train(con, name, family=family, budget=budget, seed=args.seed,
                                       time_budget=args.seconds, retrain=True)
                row = {"task": key, "database": db, "test_key": test_key,
                       "kind": task.kind, "metric": task.metric,
                       "signals": sig, "family": family, "seed": args.seed,
                       "config": summary["config"],
                       "val_metric": summary["val"].get(task.metric),
                       "test_metric": summary["test"].get(task.metric),
                       "seconds": round(time.perf_counter() - t0, 1)}
                rows.append(row)
                done.add((key, family))
                out.write_text(json.dumps(rows, indent=1, default=str))
                print(f"  {family} (seed {args.seed}): val {row['val_metric']:.4f} "
                      f"test {row['test_metric']:.4f} ({row['seconds']} s)", flush=True)
        con.close()
    out.write_text(json.dumps(rows, indent=1, default=str))
    print(f"{len(rows)} rows in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

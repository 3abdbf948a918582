"""Claim: at equal trials, a search seeded with the best configs of the two most similar bank
tasks reaches the unseeded search's best validation metric in at most a third of the trials, on
most bank tasks.

For each task of the chosen databases: the DFS family's search with N trials in all, once
unseeded and once seeded (priors from the bank without the task itself, tried first as extra
trials, then N minus their number of Optuna trials), same seed; prints the trial at which the
seeded search first reaches the unseeded best.

The bank without the task itself: by default every bank task with the same test key (what
defines its test rows, as routing leaves tasks out), so the same task definition on a sibling
generated database does not count as a transfer; ``--leave-out name`` leaves out the task's own
name only (how the figures before 2026-12-07 were measured).
Usage: .venv/bin/python benchmarks/bench_pruned_search.py [--only f1,generated] [--trials 12]
       [--tasks f1/driver-win,lahman/batter-hr] [--leave-out test-key|name]
"""
from __future__ import annotations

import argparse
import sys

from relatron_sql import families
from relatron_sql.dfs.lightgbm_model import usable_priors
from relatron_sql.families import FitOptions
from relatron_sql.route import bank, signals
from relatron_sql.task import load_task

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from build_bank import databases  # noqa: E402


class Collect:
    def __init__(self):
        self.scores = []
        self.family = "dfs"

    def __call__(self, trial, val_metric=None, **_):
        self.scores.append(val_metric)


def first_reaching(scores, target, higher):
    for i, s in enumerate(scores):
        if s is not None and (s >= target - 1e-12 if higher else s <= target + 1e-12):
            return i + 1
    return None


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="f1,generated")
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--family", default="dfs")
    ap.add_argument("--tasks", default="", help="only these database/task keys, comma-separated")
    ap.add_argument("--leave-out", choices=("test-key", "name"), default="test-key")
    args = ap.parse_args(argv)
    rows = bank.load()
    unknown = set(filter(None, args.tasks.split(","))) - {r["task"] for r in rows}
    if unknown:
        ap.error(f"--tasks: no bank task {', '.join(sorted(unknown))}")
    fam = families.get(args.family)
    wins = total = 0
    for db, con in databases(set(args.only.split(","))):
        for (name,) in con.execute("SELECT name FROM relatron.tasks ORDER BY name").fetchall():
            key = f"{db}/{name}"
            if args.tasks and key not in args.tasks.split(","):
                continue
            task = load_task(con, name)
            sig = next((r["signals"] for r in rows if r["task"] == key), None)
            if sig is None:
                sig = signals.compute(con, task)
            others = rows
            if args.leave_out == "test-key":
                keys = bank.test_keys(task) | {r["test_key"] for r in rows if r["task"] == key}
                others = [r for r in rows if r.get("test_key") not in keys]
            chosen = bank.nearest(others, sig, args.family, k=2, exclude_task=key)
            priors = [n["config"] for n in chosen]
            runs = {}
            for label, pri in (("unseeded", []), ("seeded", priors)):
                log = Collect()
                # DFS tries priors as extra trials: at equal trials the seeded study gets fewer
                extra = len(usable_priors(pri, task.kind)) if args.family == "dfs" else 0
                budget = args.trials - extra
                fam.fit(con, task, FitOptions(budget=budget, seed=0, device="cpu",
                                              time_budget=None, trial_log=log, priors=pri))
                runs[label] = log.scores
            higher = task.higher_is_better
            best = (max if higher else min)(s for s in runs["unseeded"] if s is not None)
            n_un = first_reaching(runs["unseeded"], best, higher)
            n_se = first_reaching(runs["seeded"], best, higher)
            ok = n_se is not None and n_se <= args.trials / 3
            wins += ok
            total += 1
            print(f"{key:36s} priors from {', '.join(n['task'] for n in chosen) or '-'}")
            print(f"{key:36s} unseeded best {best:.4f} at trial {n_un}; seeded reaches it at "
                  f"{n_se if n_se else '-'} (best {(max if higher else min)(runs['seeded']):.4f})"
                  f" {'<= 1/3' if ok else ''}", flush=True)
        con.close()
    print(f"\nseeded search reached the unseeded best within a third of {args.trials} trials on "
          f"{wins}/{total} tasks")


if __name__ == "__main__":
    main()

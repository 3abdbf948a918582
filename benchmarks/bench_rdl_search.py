"""What a budget beyond RDL's five fixed trials buys: the fixed trials alone (the anchor, what
auto mode runs) against the same search continued by Optuna TPE, side by side in one run.

One RDL search of ``--trials`` trials per task and seed. Its first five trials are the fixed
ones, identical to those of a five-trial search (trial ``i`` trains with seed ``seed + i``), so
one search gives both: every trial's best-epoch model is scored on test, and each budget's pick
is the trial with the best validation score among its first trials. Also printed: the default
trial alone (budget 1) and the family's own choice at each budget (validation score and
loss-landscape flatness among the three best trials).
Usage: .venv/bin/python benchmarks/bench_rdl_search.py [--only generated,stackexchange]
       [--trials 9] [--seeds 0] [--tasks driver-top3,...]
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from relatron_sql import metrics, models
from relatron_sql.rdl import family as rdl_family
from relatron_sql.rdl.family import FAMILY
from relatron_sql.rdl.search import TRIALS
from relatron_sql.task import load_task

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from build_bank import databases  # noqa: E402


class Recorder:
    """Wraps the family's checkpoint selection to keep every trial and to choose again among
    the first trials of the search."""

    def __init__(self):
        self.inner = FAMILY.select_checkpoint
        self.pool, self.args = [], None

    def __call__(self, con, task, ranked, val, options, started):
        self.pool = list(ranked)
        self.args = (con, task, val, options)
        return self.inner(con, task, ranked, val, options, started)

    def family_choice(self, first: int) -> int:
        """The trial the family registers after a search of ``first`` trials."""
        con, task, val, options = self.args
        ranked = sorted((c for c in self.pool if c[1] < first), key=lambda c: task.sort_key(c[0]))
        chosen = self.inner(con, task, ranked, val, options, time.perf_counter())
        return ranked[chosen["chosen"] if chosen else 0][1]


keep_best = rdl_family.shortlist


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="generated,stackexchange")
    ap.add_argument("--trials", type=int, default=9)
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--tasks", default="", help="comma-separated task names; all others skipped")
    args = ap.parse_args(argv)
    fixed = len(TRIALS)
    if args.trials <= fixed:
        ap.error(f"--trials must exceed the {fixed} fixed trials")
    budgets = (1, fixed, args.trials)
    tally = {"better": 0, "worse": 0, "same": 0}
    family_tally = dict(tally)
    gains: dict[str, list[float]] = {}
    for db, con in databases(set(args.only.split(","))):
        names = [r[0] for r in con.execute("SELECT name FROM relatron.tasks ORDER BY name"
                                           ).fetchall()]
        for name in names:
            if args.tasks and name not in args.tasks.split(","):
                continue
            task = load_task(con, name)
            sign = 1.0 if task.higher_is_better else -1.0
            rows = models.split_rows(con, task, "test")
            for seed in (int(s) for s in args.seeds.split(",")):
                recorder = Recorder()
                FAMILY.select_checkpoint = recorder
                # every trial's model is scored on test here: keep them all (the family
                # itself keeps only the models its selection can choose)
                rdl_family.shortlist = lambda *_: None
                t0 = time.perf_counter()
                try:
                    models.train(con, name, family="rdl", budget=args.trials, seed=seed,
                                 retrain=True)
                    seconds = time.perf_counter() - t0
                    by_trial = {trial: (score, model) for score, trial, model, _ in recorder.pool}
                    test = {trial: metrics.primary(task.kind, metrics.evaluate(
                        task.kind, rows.label, model.predict(con, task, rows)))
                        for trial, (_, model) in by_trial.items()}
                    plain = {b: max((t for t in by_trial if t < b),
                                    key=lambda t: sign * by_trial[t][0]) for b in budgets}
                    chosen = {b: recorder.family_choice(b) for b in budgets[1:]}
                finally:
                    del FAMILY.select_checkpoint
                    rdl_family.shortlist = keep_best
                diff = sign * (test[plain[args.trials]] - test[plain[fixed]])
                verdict = "same" if abs(diff) < 1e-12 else "better" if diff > 0 else "worse"
                tally[verdict] += 1
                fdiff = sign * (test[chosen[args.trials]] - test[chosen[fixed]])
                family_tally["same" if abs(fdiff) < 1e-12 else "better" if fdiff > 0
                             else "worse"] += 1
                gains.setdefault(task.metric, []).append(diff)
                cells = "  ".join(f"budget {b}: val {by_trial[plain[b]][0]:.4f} test "
                                  f"{test[plain[b]]:.4f} (t{plain[b]})" for b in budgets)
                print(f"{db}/{name:20s} seed {seed} {task.metric}  {cells}  family's choice "
                      f"at {fixed}: {test[chosen[fixed]]:.4f} (t{chosen[fixed]}), at "
                      f"{args.trials}: {test[chosen[args.trials]]:.4f} (t{chosen[args.trials]})"
                      f"  {verdict}  ({seconds:.0f} s)", flush=True)
        con.close()
    print(f"\nbest validation after {args.trials} trials against after the {fixed} fixed "
          f"ones, on test: better {tally['better']}, worse {tally['worse']}, same "
          f"{tally['same']}; mean change (oriented, higher is better) "
          + ", ".join(f"{m} {np.mean(v):+.4f} over {len(v)}" for m, v in gains.items()))
    print(f"the family's own choice (flatness among the three best): better "
          f"{family_tally['better']}, worse {family_tally['worse']}, same "
          f"{family_tally['same']}")


if __name__ == "__main__":
    main()

"""Claim: choosing the RDL checkpoint by validation score and loss-landscape flatness beats plain
best-validation selection on test for the majority of RDL tasks.

One search per task and seed: the RDL family runs ``--trials`` configurations, and the best
epoch of each of its ``TOP_TRIALS`` best trials is a candidate whose flatness is measured once,
as in normal training. Every candidate is then scored on the test split, so
plain best-validation selection (flatness weight 0) and the family's blend (its default
weight) are compared on the same checkpoints. The best test score among the candidates is
printed for scale: it is what a selector could reach at most. The blend is also applied with
the top eigenvalue of the Hessian in the two directions' plane in place of the curvature along
the steeper direction, on the same candidates (``plane_curvature``, recorded, not used).
Usage: .venv/bin/python benchmarks/bench_landscape.py [--only f1,generated] [--trials 3]
       [--seeds 0,1] [--all-tasks] [--skip-standard] [--tasks driver-win,...] [--device cuda]

On rel-f1 only RelBench's three tasks run unless ``--all-tasks``; ``--skip-standard`` leaves
those three out (with ``--only f1``, to add rel-f1's other tasks to an earlier run);
``--tasks`` runs only the tasks named.
"""
from __future__ import annotations

import argparse
import sys

from relatron_sql import metrics, models
from relatron_sql.rdl.family import FAMILY
from relatron_sql.route import landscape
from relatron_sql.task import load_task

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from build_bank import databases  # noqa: E402

STANDARD = {"f1": ("driver-dnf", "driver-top3", "driver-position")}


class Recorder:
    """Wraps the family's checkpoint selection to keep every candidate trial's model."""

    def __init__(self):
        self.inner = FAMILY.select_checkpoint
        self.pool, self.result = [], None

    def __call__(self, con, task, ranked, val, options, started):
        self.pool = list(ranked)
        self.result = self.inner(con, task, ranked, val, options, started)
        return self.result


def candidate_tests(con, task, recorder: Recorder) -> list[float]:
    """Test metric of each measured candidate, in the order of the landscape record."""
    rows = models.split_rows(con, task, "test")
    models_by_trial = {trial: model for _, trial, model, _ in recorder.pool}
    out = []
    for c in recorder.result["candidates"]:
        model = models_by_trial[c["trial"]]   # holds that trial's best-epoch weights
        pred = model.predict(con, task, rows)
        out.append(metrics.primary(task.kind, metrics.evaluate(task.kind, rows.label, pred)))
    return out


def chosen_tasks(names: list[str], standard: tuple[str, ...], args) -> list[str]:
    if args.tasks:
        return [n for n in names if n in args.tasks.split(",")]
    if args.skip_standard:
        return [n for n in names if n not in standard]
    return names if args.all_tasks or not standard else list(standard)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="f1,generated")
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--all-tasks", action="store_true")
    ap.add_argument("--skip-standard", action="store_true")
    ap.add_argument("--tasks", default="", help="comma-separated task names; all others skipped")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    weight = FAMILY.flatness_weight
    tally = {"better": 0, "worse": 0, "same": 0}
    plane_tally = dict(tally)
    for db, con in databases(set(args.only.split(","))):
        names = [r[0] for r in con.execute("SELECT name FROM relatron.tasks ORDER BY name"
                                           ).fetchall()]
        for name in chosen_tasks(names, STANDARD.get(db, ()), args):
            task = load_task(con, name)
            for seed in (int(s) for s in args.seeds.split(",")):
                recorder = Recorder()
                FAMILY.select_checkpoint = recorder
                try:
                    models.train(con, name, family="rdl", budget=args.trials, seed=seed,
                                 device=args.device, retrain=True)
                finally:
                    del FAMILY.select_checkpoint
                if recorder.result is None:
                    print(f"{db}/{name} seed {seed}: fewer than two trials, skipped")
                    continue
                cands = recorder.result["candidates"]
                tests = candidate_tests(con, task, recorder)
                plain = landscape.select(cands, task.higher_is_better, 0.0)
                flat = recorder.result["chosen"]
                # the same blend with the top eigenvalue in the directions' plane in place of
                # the curvature along the steeper direction, on the same candidates
                plane = landscape.select(
                    [{**c, "flatness": {**c["flatness"],
                                        "curvature": c["flatness"]["plane_curvature"]}}
                     for c in cands], task.higher_is_better, weight)
                sign = 1.0 if task.higher_is_better else -1.0

                def verdict_of(choice: int) -> str:
                    diff = sign * (tests[choice] - tests[plain])
                    return ("same" if choice == plain or abs(diff) < 1e-12
                            else "better" if diff > 0 else "worse")
                verdict = verdict_of(flat)
                tally[verdict] += 1
                plane_tally[verdict_of(plane)] += 1
                best = max(tests, key=lambda t: sign * t)
                where = " ".join(f"t{c['trial']}e{c['epoch']}" for c in cands)
                print(f"{db}/{name:22s} seed {seed} test {task.metric}: best-val "
                      f"{tests[plain]:.4f}  landscape {tests[flat]:.4f}  best candidate "
                      f"{best:.4f}  (candidates {where}; chose {flat}, best-val {plain})  "
                      f"{verdict}; by the plane's eigenvalue: {tests[plane]:.4f} "
                      f"{verdict_of(plane)}",
                      flush=True)
        con.close()
    print(f"\nlandscape selection (weight {weight}) vs best validation on test, "
          f"{args.trials} trials per search: better {tally['better']}, worse "
          f"{tally['worse']}, same checkpoint {tally['same']} (device {args.device})")
    print(f"with the plane's top eigenvalue as the curvature instead: better "
          f"{plane_tally['better']}, worse {plane_tally['worse']}, same {plane_tally['same']}")


if __name__ == "__main__":
    main()

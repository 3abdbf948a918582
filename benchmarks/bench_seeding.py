"""What seeding the DFS search with bank configurations does at the default budget, on rel-f1.

For each task and seed: the DFS family's search at its default budget (20 trials), once
unseeded (what `family := 'dfs'` runs) and once seeded with the configurations auto mode would
use (the two bank tasks most similar by routing signals, the bank's own record of the same task
included, as in the product). Prints validation and test metrics side by side.
Usage: .venv/bin/python benchmarks/bench_seeding.py [--tasks driver-dnf] [--seeds 0,1,2]
"""
from __future__ import annotations

import argparse
import pathlib

import relatron_sql
from relatron_sql import families, metrics
from relatron_sql.families import FitOptions
from relatron_sql.route import bank, signals
from relatron_sql.models import split_rows
from relatron_sql.task import load_task

DATA = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "f1"


def score_on_test(con, task, fitted) -> float:
    rows = split_rows(con, task, "test")
    return metrics.primary(task.kind, metrics.evaluate(task.kind, rows.label,
                                                        fitted.model.predict(con, task, rows)))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", default="driver-dnf")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--data", default=str(DATA))
    args = ap.parse_args(argv)
    con = relatron_sql.connect(":memory:")
    relatron_sql.load(con, "ergast_f1", args.data)
    fam = families.get("dfs")
    rows = bank.load()
    tally = {"better": 0, "worse": 0, "same": 0}
    for name in args.tasks.split(","):
        task = load_task(con, name)
        # the task's own bank record ("f1/<name>") stays among the candidates, as in the
        # product, which reads no test result from it
        near = bank.nearest(rows, signals.compute(con, task), "dfs", k=2)
        print(f"{name}: priors from " + ", ".join(f"{n['task']} ({n['similarity']:.3f})"
                                                   for n in near), flush=True)
        for seed in (int(s) for s in args.seeds.split(",")):
            out = {}
            for label, priors in (("unseeded", []), ("seeded", [n["config"] for n in near])):
                fitted = fam.fit(con, task, FitOptions(
                    budget=fam.default_budget, seed=seed, device="cpu", time_budget=None,
                    trial_log=lambda **_: None, priors=priors))
                out[label] = (fitted.val_metric, score_on_test(con, task, fitted))
            (uv, ut), (sv, st) = out["unseeded"], out["seeded"]
            gain = (st - ut) * (1 if task.higher_is_better else -1)
            verdict = "better" if gain > 1e-9 else "worse" if gain < -1e-9 else "same"
            tally[verdict] += 1
            print(f"  seed {seed}: unseeded val {uv:.4f} test {ut:.4f} | seeded val {sv:.4f} "
                  f"test {st:.4f} | seeded {verdict} on test", flush=True)
    print(f"\nseeded better on test {tally['better']}, worse {tally['worse']}, "
          f"same {tally['same']}")


if __name__ == "__main__":
    main()

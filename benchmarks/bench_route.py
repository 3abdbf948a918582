"""Claim: `relatron_route` computes every signal of a rel-f1 task in under 30 s on this machine.

Anchors, side by side in the same run: the paper's model-free signals (0.48 min, 28.8 s, per
task), and what routing stands in for, a training of the DFS family alone at its default budget
(`relatron_train(name, family := 'dfs')`) on the same task. Each RelBench task is routed in turn
in one fresh process after loading rel-f1, so the first includes numba compiling or loading the
sampler, as a user's first call does. Printed: seconds per group of signals, the total, P(RDL)
and the family chosen, then the ratios.
Usage: .venv/bin/python benchmarks/bench_route.py [F1_DIR] [--no-train]
"""
from __future__ import annotations

import argparse
import pathlib
import time

import relatron_sql
from relatron_sql import models
from relatron_sql.route import router

PAPER_SECONDS = 0.48 * 60
CLAIM_SECONDS = 30.0
TASKS = ("driver-dnf", "driver-top3", "driver-position")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("f1", nargs="?", default=str(
        pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "f1"))
    ap.add_argument("--no-train", action="store_true", help="skip the DFS training anchor")
    args = ap.parse_args(argv)
    con = relatron_sql.connect(":memory:")
    relatron_sql.load(con, "ergast_f1", args.f1)
    worst = 0.0
    for name in TASKS:
        t0 = time.perf_counter()
        decision = router.route(con, name)
        seconds = time.perf_counter() - t0
        worst = max(worst, seconds)
        groups = "  ".join(f"{k} {v:.1f} s" for k, v in decision["signals"]["seconds"].items())
        p = decision["probability"]
        line = (f"{name:16s} route {seconds:5.1f} s ({groups})  P(RDL) "
                f"{'none' if p is None else f'{p:.3f}'} -> {decision['family']}  "
                f"paper / ours {PAPER_SECONDS / seconds:.1f}x")
        if not args.no_train:
            t0 = time.perf_counter()
            models.train(con, name, family="dfs", seed=0, retrain=True)
            train = time.perf_counter() - t0
            line += f"  DFS training {train:.0f} s, route / training {seconds / train:.2f}"
        print(line, flush=True)
    print(f"slowest route {worst:.1f} s against the claim's {CLAIM_SECONDS:.0f} s: "
          f"{'holds' if worst < CLAIM_SECONDS else 'not met'}")


if __name__ == "__main__":
    main()

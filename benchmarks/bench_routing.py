"""Claim: routing picks the family with the better test metric on at least 85% of bank tasks,
leave-one-database-out; always-RDL and always-DFS are the baselines printed beside it.

For each database, the selector is fitted on the other databases' tasks only and then routes
this database's tasks (P >= 0.5 -> RDL). Also printed: how often it commits (P outside
[0.2, 0.8]) and how accurate those committed decisions are.
Usage: .venv/bin/python benchmarks/bench_routing.py [bank.json]
"""
from __future__ import annotations

import sys

from relatron_sql.route import bank, selector


def main(path=None) -> None:
    outcomes = bank.outcomes(bank.load(path))
    dbs = sorted({o["database"] for o in outcomes})
    right = committed = committed_right = 0
    lines = []
    for db in dbs:
        train = [o for o in outcomes if o["database"] != db]
        model = selector.fit(train) if len({o["rdl_wins"] for o in train}) == 2 else None
        for o in (o for o in outcomes if o["database"] == db):
            p = model.probability(o["signals"]) if model else 0.5
            pick_rdl = p >= 0.5
            ok = pick_rdl == o["rdl_wins"]
            right += ok
            if p >= 0.8 or p <= 0.2:
                committed += 1
                committed_right += ok
            lines.append(f"{o['task']:40s} P(RDL)={p:.2f} winner={'rdl' if o['rdl_wins'] else 'dfs'}"
                         f" test dfs={o['test']['dfs']:.4f} rdl={o['test']['rdl']:.4f} "
                         f"{'ok' if ok else 'MISS'}")
    n = len(outcomes)
    rdl = sum(o["rdl_wins"] for o in outcomes)
    print("\n".join(lines))
    print(f"\ntasks: {n} over {len(dbs)} databases")
    print(f"leave-one-database-out routing accuracy: {right / n:.1%}")
    print(f"always-RDL: {rdl / n:.1%}   always-DFS: {(n - rdl) / n:.1%}")
    if committed:
        print(f"committed decisions: {committed}/{n}, accurate: {committed_right / committed:.1%}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)

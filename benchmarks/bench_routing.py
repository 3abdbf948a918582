"""Claim: routing picks the family with the better test metric on at least 85% of bank tasks,
leave-one-database-out; always-RDL and always-DFS are the baselines printed beside it.

For each database, the selector is fitted on the other databases' tasks only and then routes
this database's tasks (P >= 0.5 -> RDL). Also printed: how often it commits (P outside
[0.2, 0.8]) and how accurate those committed decisions are; and for every rule its regret, the
mean test score lost against the better family (oriented so higher is better; MAE in units of
the label's standard deviation). Accuracy counts a near-tie like a rout; regret does not.
--path-depth 1|2|3|best puts the path affinity of that depth of the untrained GNN (or the best
of the three) in the selector's place for every task; the product uses depth 2, the RDL
family's default.
Usage: .venv/bin/python benchmarks/bench_routing.py [bank.json] [--path-depth best]
"""
from __future__ import annotations

import argparse

import numpy as np

from relatron_sql.route import bank, selector
from relatron_sql.route.signals import KEYS, vector


def all_signals_logistic(train: list[dict], l2: float = 1.0, steps: int = 2000):
    """For comparison: L2 logistic regression on every standardised signal."""
    x = np.array([vector(o["signals"]) for o in train])
    y = np.array([1.0 if o["rdl_wins"] else 0.0 for o in train])
    mean = np.where(np.isfinite(np.nanmean(x, 0)), np.nanmean(x, 0), 0.0)
    std = np.nanstd(x, 0)
    std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
    z = np.nan_to_num((x - mean) / std)
    w, b = np.zeros(len(KEYS)), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(z @ w + b, -50, 50)))
        w -= 0.1 * (z.T @ (p - y) / len(y) + l2 * w / len(y))
        b -= 0.1 * float((p - y).mean())
    return lambda sig: float(1 / (1 + np.exp(-np.clip(
        np.nan_to_num((vector(sig) - mean) / std) @ w + b, -50, 50))))


def with_path_depth(outcomes: list[dict], depth: str) -> list[dict]:
    """The outcomes with ``path_affinity`` taken at another depth (``best``: the highest)."""
    out = []
    for o in outcomes:
        sig = o["signals"]
        by_depth = [sig.get(f"path_affinity_{d}") for d in (1, 2, 3)]
        if any(v is None for v in by_depth):
            raise SystemExit(f"{o['task']}: the bank has no per-depth path affinities; rebuild "
                             "its signals with build_bank.py --signals-only")
        value = max(by_depth) if depth == "best" else by_depth[int(depth) - 1]
        out.append({**o, "signals": {**sig, "path_affinity": value}})
    return out


def main(path=None, path_depth: str = "2") -> None:
    outcomes = bank.outcomes(bank.load(path))
    if path_depth != "2":
        outcomes = with_path_depth(outcomes, path_depth)
    dbs = sorted({o["database"] for o in outcomes})
    committed = committed_right = 0
    lines = []
    picks: dict[str, list[tuple[dict, bool]]] = {"ours": [], "always RDL": [], "always DFS": [],
                                                 "logistic, all signals": [],
                                                 "better validation score": []}
    for db in dbs:
        train = [o for o in outcomes if o["database"] != db]
        model = selector.fit(train)
        logistic = all_signals_logistic(train)
        for o in (o for o in outcomes if o["database"] == db):
            p = model.probability(o["signals"])
            pick_rdl = p >= 0.5
            for rule, pick in (("ours", pick_rdl), ("always RDL", True), ("always DFS", False),
                               ("logistic, all signals", logistic(o["signals"]) >= 0.5),
                               ("better validation score", validation_pick(o))):
                picks[rule].append((o, pick))
            ok = pick_rdl == o["rdl_wins"]
            if p >= 0.8 or p <= 0.2:
                committed += 1
                committed_right += ok
            lines.append(f"{o['task']:40s} P(RDL)={p:.2f} winner={'rdl' if o['rdl_wins'] else 'dfs'}"
                         f" test dfs={o['test']['dfs']:.4f} rdl={o['test']['rdl']:.4f} "
                         f"{'ok' if ok else 'MISS'}")
    n = len(outcomes)
    print("\n".join(lines))
    print(f"\ntasks: {n} over {len(dbs)} databases, each routed leaving its database out")
    if committed:
        print(f"committed decisions: {committed}/{n}, accurate: {committed_right / committed:.1%}")
    print("\nrule                        accuracy  regret (mean test score lost)")
    for rule, chosen in picks.items():
        acc = np.mean([pick == o["rdl_wins"] for o, pick in chosen])
        print(f"{rule:28s} {acc:7.1%}   {np.mean([regret(o, pick) for o, pick in chosen]):.4f}")


def validation_pick(outcome: dict) -> bool:
    """What searching both families and keeping the better validation score picks: RDL?"""
    best = outcome["best"]
    return bank._better(best["rdl"], best["dfs"])


def regret(outcome: dict, pick_rdl: bool) -> float:
    test = outcome["test"]
    return max(test.values()) - test["rdl" if pick_rdl else "dfs"]


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("bank", nargs="?")
    ap.add_argument("--path-depth", choices=("1", "2", "3", "best"), default="2")
    args = ap.parse_args()
    main(args.bank, args.path_depth)

"""Claim: routing picks the family with the better test metric on at least 85% of bank tasks,
leave-one-database-out; always-RDL and always-DFS are the baselines printed beside it.

For each database, the selector is fitted on the other databases' tasks only and then routes
this database's tasks (P >= 0.5 -> RDL). Also printed: how often it commits (P outside
[0.2, 0.8]) and how accurate those committed decisions are; and for every rule its regret, the
mean test score lost against the better family (oriented so higher is better; MAE in units of
the label's standard deviation). Accuracy counts a near-tie like a rout; regret does not.
Where the bank holds several seeds of each family's search, a task's winner is the family with
the better mean test score; a task counts as *decided* when that mean gap exceeds twice its
standard error over the paired seeds, and every rule's accuracy is also printed on the decided
tasks alone. The better-validation rule is then applied seed by seed, as a user's single
training would apply it. A rough ceiling is printed too: how often a selector that knew each
task's expected winner would match the bank's winner, taking the observed mean gaps as the
expected ones (which flatters it: an observed gap overstates the expected one on average).
--path-depth 1|2|3|best puts the path affinity of that depth of the untrained GNN (or the best
of the three) in the selector's place for every task; the product uses depth 2, the RDL
family's default.
Then the nested check: the selector itself chosen among four candidates inside each fold, by
leave-one-database-out on that fold's training databases only.
Last, what the product itself decides for each bank task: the router leaves out only the routed
task's own record (its test result), so the selector is fitted on every other task, and it
commits to a family at P <= 0.2 or P >= 0.8 and searches both otherwise.
Usage: .venv/bin/python benchmarks/bench_routing.py [bank.json] [--path-depth best]
"""
from __future__ import annotations

import argparse

import numpy as np

from relatron_sql.route import bank, router, selector
from relatron_sql.route.signals import KEYS, vector


def _standardiser(train: list[dict], keys=KEYS):
    """Standardise the named signals with the training tasks' mean and deviation (NaN -> 0)."""
    idx = [KEYS.index(k) for k in keys]
    x = np.array([vector(o["signals"])[idx] for o in train])
    mean = np.nanmean(x, 0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    std = np.nanstd(x, 0)
    std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
    return lambda sig: np.nan_to_num((vector(sig)[idx] - mean) / std)


def _logistic(z: np.ndarray, y: np.ndarray, l2: float, steps: int = 2000):
    w, b = np.zeros(z.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(z @ w + b, -50, 50)))
        w -= 0.1 * (z.T @ (p - y) / len(y) + l2 * w / len(y))
        b -= 0.1 * float((p - y).mean())
    return lambda v: float(1 / (1 + np.exp(-np.clip(v @ w + b, -50, 50))))


def _wins(train: list[dict]) -> np.ndarray:
    return np.array([1.0 if o["rdl_wins"] else 0.0 for o in train])


def all_signals_logistic(train: list[dict], l2: float = 1.0):
    """For comparison: L2 logistic regression on every standardised signal."""
    z = _standardiser(train)
    model = _logistic(np.array([z(o["signals"]) for o in train]), _wins(train), l2)
    return lambda sig: model(z(sig))


def gap_homophily_logistic(train: list[dict], l2: float = 1.0):
    """For comparison: logistic regression on the affinity gap, the weighted adjusted
    homophily and the lag-1 label autocorrelation (the signals the method names)."""
    z = _standardiser(train, ("adj_homophily_wmean", "autocorr_lag1"))
    gaps = np.array([selector.affinity_gap(o["signals"]) or 0.0 for o in train])
    scale = float(gaps.std()) or 1.0
    def features(sig):
        return np.r_[(selector.affinity_gap(sig) or 0.0) / scale, z(sig)]
    model = _logistic(np.array([features(o["signals"]) for o in train]), _wins(train), l2)
    return lambda sig: model(features(sig))


def gap_logistic(train: list[dict], l2: float = 1.0):
    """For comparison (added 2026-12-02, after the nested check below was fixed): logistic
    regression on the affinity gap with an intercept, so that equal affinities need not mean
    even odds."""
    gaps = np.array([selector.affinity_gap(o["signals"]) or 0.0 for o in train])
    scale = float(gaps.std()) or 1.0
    model = _logistic(gaps[:, None] / scale, _wins(train), l2)
    return lambda sig: model(np.array([(selector.affinity_gap(sig) or 0.0) / scale]))


def nearest_tasks(train: list[dict], k: int = 5):
    """For comparison: the share of RDL wins among the k bank tasks most similar by cosine on
    standardised signals (the similarity the pruned search uses)."""
    z = _standardiser(train)
    matrix, wins = np.array([z(o["signals"]) for o in train]), _wins(train)
    norms = np.linalg.norm(matrix, axis=1)
    def probability(sig):
        q = z(sig)
        sims = matrix @ q / (norms * (np.linalg.norm(q) or 1.0) + 1e-12)
        return float(wins[np.argsort(-sims)[:k]].mean())
    return probability


#: The selectors the nested check chooses among, fixed before it was first run.
CANDIDATES = {"ours (affinity gap)": lambda train: selector.fit(train).probability,
              "logistic, all signals": all_signals_logistic,
              "logistic, gap + homophily + autocorrelation": gap_homophily_logistic,
              "5 nearest bank tasks": nearest_tasks}


def lodo_hits(outcomes: list[dict], make) -> list[tuple[dict, bool]]:
    """Each task routed (P >= 0.5 -> RDL) by ``make(tasks of the other databases)``."""
    hits = []
    for db in sorted({o["database"] for o in outcomes}):
        predict = make([o for o in outcomes if o["database"] != db])
        hits += [(o, (predict(o["signals"]) >= 0.5) == o["rdl_wins"])
                 for o in outcomes if o["database"] == db]
    return hits


def nested_choice(outcomes: list[dict]) -> None:
    """Is the one-parameter selector a choice made on the outer folds' results? Inside each
    leave-one-database-out fold, the candidate with the best leave-one-database-out accuracy on
    that fold's training databases alone is chosen (ties to ours), then routes the held-out
    database: the accuracy of selecting the selector itself, with no test result of the
    held-out database behind the choice."""
    print("\nthe selector chosen inside each fold, by leave-one-database-out on its other databases:")
    hits = []
    for db in sorted({o["database"] for o in outcomes}):
        train = [o for o in outcomes if o["database"] != db]
        inner = {name: np.mean([ok for _, ok in lodo_hits(train, make)])
                 for name, make in CANDIDATES.items()}
        chosen = max(inner, key=lambda name: (inner[name], name.startswith("ours")))
        predict = CANDIDATES[chosen](train)
        hits += [(o, (predict(o["signals"]) >= 0.5) == o["rdl_wins"])
                 for o in outcomes if o["database"] == db]
        print(f"  {db:18s} -> {chosen} (inner accuracy "
              + ", ".join(f"{name} {v:.1%}" for name, v in inner.items()) + ")")
    on_decided = [ok for o, ok in hits if decided(o)]
    tail = f", on decided tasks {np.mean(on_decided):.1%}" if on_decided else ""
    print(f"nested accuracy {np.mean([ok for _, ok in hits]):.1%}{tail}")


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
    picks: dict[str, list[tuple[dict, float]]] = {"ours": [], "always RDL": [], "always DFS": [],
                                                 "logistic, all signals": [],
                                                 "logistic, gap + homophily + autocorr.": [],
                                                 "logistic, gap + intercept": [],
                                                 "5 nearest bank tasks": [],
                                                 "better validation score": []}
    for db in dbs:
        train = [o for o in outcomes if o["database"] != db]
        model = selector.fit(train)
        logistic = all_signals_logistic(train)
        near = nearest_tasks(train)
        gap_h = gap_homophily_logistic(train)
        gap_i = gap_logistic(train)
        for o in (o for o in outcomes if o["database"] == db):
            p = model.probability(o["signals"])
            pick_rdl = p >= 0.5
            for rule, pick in (("ours", pick_rdl), ("always RDL", True), ("always DFS", False),
                               ("logistic, all signals", logistic(o["signals"]) >= 0.5),
                               ("logistic, gap + homophily + autocorr.",
                                gap_h(o["signals"]) >= 0.5),
                               ("logistic, gap + intercept", gap_i(o["signals"]) >= 0.5),
                               ("5 nearest bank tasks", near(o["signals"]) >= 0.5),
                               ("better validation score", validation_pick(o))):
                picks[rule].append((o, float(pick)))
            ok = pick_rdl == o["rdl_wins"]
            if router.family_for(p) != "both":
                committed += 1
                committed_right += ok
            gap, se, n_seeds = seed_gap(o)
            spread = f" gap {gap:+.4f} ± {se:.4f} ({n_seeds} seeds)" if n_seeds > 1 else ""
            noise = " (within noise)" if n_seeds > 1 and not decided(o) else ""
            winner = "rdl" if o["rdl_wins"] else "dfs"
            lines.append(f"{o['task']:40s} P(RDL)={p:.2f} winner={winner}"
                         f" test dfs={o['test']['dfs']:.4f} rdl={o['test']['rdl']:.4f}{spread} "
                         f"{'ok' if ok else 'MISS'}{noise}")
    n = len(outcomes)
    print("\n".join(lines))
    print(f"\ntasks: {n} over {len(dbs)} databases, each routed leaving its database out")
    n_decided = sum(decided(o) for o in outcomes)
    print(f"decided beyond seed noise (|mean gap| > 2 standard errors): {n_decided}/{n}")
    print(f"ceiling set by seed noise: a selector that knew each task's expected winner would "
          f"match the bank's winner on {noise_ceiling(outcomes):.1%} of tasks")
    if committed:
        print(f"committed decisions: {committed}/{n}, accurate: {committed_right / committed:.1%}")
    print("\nrule                                  accuracy  regret (mean test score lost)  "
          "accuracy on decided tasks")
    for rule, chosen in picks.items():
        acc = np.mean([accuracy(o, q) for o, q in chosen])
        on_decided = [accuracy(o, q) for o, q in chosen if decided(o)]
        tail = f"{np.mean(on_decided):7.1%}" if on_decided else "    n/a"
        print(f"{rule:38s} {acc:7.1%}   {np.mean([regret(o, q) for o, q in chosen]):.4f}"
              f"                          {tail}")
    nested_choice(outcomes)
    product_routing(outcomes)


def product_routing(outcomes: list[dict]) -> None:
    """The router's own decision on each bank task, leaving out only that task's record."""
    print("\nthe product's routing, each task's own record left out:")
    right = committed = 0
    for o in outcomes:
        model = selector.fit([t for t in outcomes if t is not o
                              and not t["test_keys"] & o["test_keys"]])
        p = model.probability(o["signals"])
        family = router.family_for(p)
        committed += family != "both"
        right += (p >= 0.5) == o["rdl_wins"]
        print(f"  {o['task']:40s} P(RDL)={p:.2f} -> {family:4s} "
              f"(test winner {'rdl' if o['rdl_wins'] else 'dfs'})")
    print(f"P >= 0.5 picks the test winner on {right}/{len(outcomes)}; "
          f"commits on {committed}/{len(outcomes)}")


def paired_seeds(outcome: dict) -> list:
    runs = outcome["runs"]
    return sorted(set(runs["dfs"]) & set(runs["rdl"]), key=str)


def seed_gap(outcome: dict) -> tuple[float, float, int]:
    """Mean and standard error of RDL's oriented test score minus DFS's over paired seeds."""
    runs = outcome["runs"]
    gaps = [bank._oriented(runs["rdl"][s], "test_metric")
            - bank._oriented(runs["dfs"][s], "test_metric") for s in paired_seeds(outcome)]
    if len(gaps) < 2:
        return (outcome["test"]["rdl"] - outcome["test"]["dfs"], float("nan"), len(gaps))
    return float(np.mean(gaps)), float(np.std(gaps, ddof=1) / np.sqrt(len(gaps))), len(gaps)


def decided(outcome: dict) -> bool:
    gap, se, n_seeds = seed_gap(outcome)
    return n_seeds > 1 and abs(gap) > 2 * se


def noise_ceiling(outcomes: list[dict]) -> float:
    """Expected accuracy of a perfect selector, one that knows each task's expected winner,
    scored against the bank's winner (the sign of a mean over few seeds): per task, the chance
    that the mean gap has the expected gap's sign, from Student's t on the paired seeds."""
    from scipy import stats

    chances = []
    for o in outcomes:
        gap, se, n_seeds = seed_gap(o)
        if n_seeds < 2 or not se > 0:
            chances.append(1.0)
            continue
        chances.append(float(stats.t.cdf(abs(gap) / se, df=n_seeds - 1)))
    return float(np.mean(chances))


def validation_pick(outcome: dict) -> float:
    """How often searching both families and keeping the better validation score picks RDL:
    the share of seeds (each a user's single training) where RDL's validation score is higher."""
    runs, seeds = outcome["runs"], paired_seeds(outcome)
    if not seeds:
        return float(bank._better(outcome["best"]["rdl"], outcome["best"]["dfs"]))
    return float(np.mean([bank._better(runs["rdl"][s], runs["dfs"][s]) for s in seeds]))


def accuracy(outcome: dict, q: float) -> float:
    """Expected accuracy of a rule that picks RDL with probability q."""
    return q if outcome["rdl_wins"] else 1.0 - q


def regret(outcome: dict, q: float) -> float:
    test = outcome["test"]
    best = max(test.values())
    return q * (best - test["rdl"]) + (1 - q) * (best - test["dfs"])


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("bank", nargs="?")
    ap.add_argument("--path-depth", choices=("1", "2", "3", "best"), default="2")
    args = ap.parse_args()
    main(args.bank, args.path_depth)

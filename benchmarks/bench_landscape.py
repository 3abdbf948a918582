"""Claim: choosing the RDL checkpoint by validation score and loss-landscape flatness beats plain
best-validation selection on test for the majority of RDL tasks.

Each task trains twice with the same seed (training is deterministic, so both runs see the same
checkpoints): once with flatness weight 0 (best validation) and once with the default weight;
prints both test metrics and which checkpoint each picked.
Usage: .venv/bin/python benchmarks/bench_landscape.py [--only f1,generated] [--seed 0]
"""
from __future__ import annotations

import argparse
import sys

from relatron_sql import models
from relatron_sql.rdl.family import FAMILY

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from build_bank import databases  # noqa: E402

STANDARD = {"f1": ("driver-dnf", "driver-top3", "driver-position")}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="f1,generated")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    weight = FAMILY.flatness_weight
    better = worse = same = 0
    for db, con in databases(set(args.only.split(","))):
        names = [r[0] for r in con.execute("SELECT name FROM relatron.tasks ORDER BY name"
                                           ).fetchall()]
        for name in STANDARD.get(db, names):
            out = {}
            for w in (0.0, weight):
                FAMILY.flatness_weight = w
                out[w] = models.train(con, name, family="rdl", seed=args.seed, retrain=True)
            FAMILY.flatness_weight = weight
            metric = out[0.0]["metric"]
            plain, flat = out[0.0]["test"][metric], out[weight]["test"][metric]
            land = out[weight]["config"].get("landscape") or {}
            higher = metric != "mae"
            if abs(plain - flat) < 1e-12:
                same += 1
                verdict = "same checkpoint" if land.get("chosen", 0) == 0 else "tie"
            elif (flat > plain) == higher:
                better += 1
                verdict = "flatness better"
            else:
                worse += 1
                verdict = "flatness worse"
            print(f"{db}/{name:24s} test {metric}: best-val {plain:.4f}  landscape {flat:.4f}  "
                  f"(chose candidate {land.get('chosen')} of {len(land.get('candidates', []))})"
                  f"  {verdict}", flush=True)
        con.close()
    print(f"\nlandscape selection vs best validation on test: better {better}, worse {worse}, "
          f"same {same}")


if __name__ == "__main__":
    main()

"""RDL layers that compute only the states reaching a seed, against updating every node.

Anchor: the same network and batches with ``RDLNet.trim`` off, every sampled node updated at
every layer (how the model ran before). Ours: layer ``l`` of ``L`` updates only the nodes within
``L - l`` hops of their seed. On driver-dnf, for each mode: ``engine.fit`` for a fixed number of
epochs (median epoch seconds, val and test AUROC), then the untrained 3-layer GNN of the path
affinity (seconds). Prints the ratios.

    .venv/bin/python benchmarks/bench_trim.py [--f1 PATH] [--epochs 3] [--device cpu|cuda]
        [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import relatron_sql
from relatron_sql import models
from relatron_sql.rdl import train as engine
from relatron_sql.rdl.model import RDLNet
from relatron_sql.route import affinity
from relatron_sql.task import load_task

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import gpu_check  # noqa: E402
from build_bank import DATA  # noqa: E402


def run(con, task, prepared, trim: bool, epochs: int, device: str) -> dict:
    """gpu_check's fit and test on ``device`` with the trimming on or off; on CPU also the
    untrained 3-layer GNN of the path affinity."""
    RDLNet.trim = trim
    out = {"trim": trim, **gpu_check.run(con, task, prepared, device, epochs, False, 0)}
    if device == "cpu":
        train = affinity._subsample(models.split_rows(con, task, "train"), affinity.MAX_ROWS)
        t0 = time.perf_counter()
        affinity.untrained_embeddings(con, task, [train], layers=3, prepared=prepared)
        out["depth3_embedding_seconds"] = round(time.perf_counter() - t0, 2)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--f1", default=str(DATA / "f1"))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--json")
    args = ap.parse_args()
    con = relatron_sql.connect(":memory:")
    relatron_sql.load(con, "ergast_f1", args.f1)
    task = load_task(con, "driver-dnf")
    prepared = engine.Prepared.build(con, task)
    # a first short fit compiles the sampler, so that neither timed mode pays for it
    engine.fit(con, task, prepared, {"max_epochs": 1, "max_seconds": 1e9}, 0, args.device)
    results = [run(con, task, prepared, trim, args.epochs, args.device)
               for trim in (False, True)]
    full, ours = results
    for r in results:
        print(f"{'trimmed' if r['trim'] else 'full   '} {r['device']}: median epoch "
              f"{r['median_epoch_seconds']:.2f} s {r['epoch_seconds']}  val AUROC "
              f"{r['val_auroc']:.4f}  test AUROC {r['test_auroc']:.4f}"
              + (f"  peak GPU {r['peak_gpu_mib']} MiB" if "peak_gpu_mib" in r else "")
              + (f"  depth-3 embeddings {r['depth3_embedding_seconds']} s"
                 if "depth3_embedding_seconds" in r else ""))
    print(f"epoch: trimmed is {full['median_epoch_seconds'] / ours['median_epoch_seconds']:.2f}x "
          "faster than full")
    if "depth3_embedding_seconds" in ours:
        print(f"depth-3 path-affinity embeddings: "
              f"{full['depth3_embedding_seconds'] / ours['depth3_embedding_seconds']:.2f}x faster")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

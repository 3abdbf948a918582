"""RDL on CUDA against the same run on CPU: driver-dnf epoch time, peak GPU memory, test AUROC.

Both runs use the same engine code (``relatron_sql.rdl.train.fit``); only ``device`` differs
(batches travel through pinned memory to the GPU; ``--amp`` adds bfloat16 autocast there).
Exits with status 2 and a message when no CUDA GPU is visible.

    .venv/bin/python benchmarks/gpu_check.py [--f1 PATH] [--epochs 4] [--amp] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import numpy as np
import torch

import relatron_sql
from relatron_sql import metrics, models
from relatron_sql.rdl import train as engine
from relatron_sql.task import load_task


def run(con, task, prepared, device: str, epochs: int, amp: bool, seed: int) -> dict:
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    model, val, info = engine.fit(con, task, prepared,
                                  {"max_epochs": epochs, "patience": epochs, "amp": amp,
                                   "max_seconds": 1e9}, seed, device)
    fit_seconds = time.perf_counter() - t0
    rows = models.split_rows(con, task, "test")
    test = metrics.evaluate(task.kind, rows.label, model.predict(con, task, rows))["auroc"]
    out = {"device": device, "amp": amp, "epochs": info["epochs"],
           "epoch_seconds": info["epoch_seconds"],
           "median_epoch_seconds": float(np.median(info["epoch_seconds"])),
           "fit_seconds": round(fit_seconds, 2), "val_auroc": val, "test_auroc": test}
    if device == "cuda":
        out["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        out["card"] = torch.cuda.get_device_name(0)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--f1", default=str(pathlib.Path(__file__).resolve().parents[2] / "shared"
                                        / "data" / "f1"))
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--amp", action="store_true", help="also run CUDA with bfloat16 autocast")
    ap.add_argument("--json", help="write the results here too")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA GPU is visible to torch; nothing to compare", file=sys.stderr)
        return 2
    con = relatron_sql.connect(":memory:")
    relatron_sql.load(con, "ergast_f1", args.f1)
    task = load_task(con, "driver-dnf")
    prepared = engine.Prepared.build(con, task)
    results = [run(con, task, prepared, "cuda", args.epochs, False, args.seed)]
    if args.amp:
        results.append(run(con, task, prepared, "cuda", args.epochs, True, args.seed))
    results.append(run(con, task, prepared, "cpu", args.epochs, False, args.seed))
    cpu = results[-1]
    for r in results:
        speed = cpu["median_epoch_seconds"] / r["median_epoch_seconds"]
        print(f"{r['device']:<5} amp={r['amp']!s:<5} card={r.get('card', 'cpu')}  median epoch "
              f"{r['median_epoch_seconds']:6.2f}s ({speed:4.1f}x CPU)  peak GPU "
              f"{r.get('peak_gpu_mib', 0):7.1f} MiB  val AUROC {r['val_auroc']:.4f}  "
              f"test AUROC {r['test_auroc']:.4f}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

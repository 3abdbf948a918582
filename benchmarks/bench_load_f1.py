"""Claim: loading rel-f1 and building its three tasks takes under 10 s on a 2-core machine.

Anchor: the same pipeline in pandas (read the CSVs, drop columns, merge race dates, then one
DuckDB label query per task and split over the pandas frames), which is how RelBench builds it.
Usage: .venv/bin/python benchmarks/bench_load_f1.py [F1_DIR]
"""
from __future__ import annotations

import datetime as dt
import pathlib
import sys
import time

import duckdb
import pandas as pd

import relatron_sql
from relatron_sql.datasets import f1
from relatron_sql.task import make_anchors

DATA = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                    pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "f1")


def pandas_reference() -> dict:
    read = lambda n: pd.read_csv(DATA / f"{n}.csv", na_values=["\\N"])  # noqa: E731
    races = read("races")
    races["date"] = pd.to_datetime(races["date"] + " " + races["time"].fillna("00:00:00"))
    races = races[["raceId", "year", "round", "circuitId", "name", "date"]]
    frames = {"races": races}
    for name, src in (("results", "results"), ("standings", "driver_standings"),
                      ("constructor_results", "constructor_results"),
                      ("constructor_standings", "constructor_standings"),
                      ("qualifying", "qualifying")):
        frames[name] = read(src).merge(races[["raceId", "date"]], on="raceId", how="left")
    frames["qualifying"]["date"] -= pd.Timedelta(days=1)
    frames["drivers"] = read("drivers")
    frames["circuits"] = read("circuits")
    frames["constructors"] = read("constructors")
    first = min(frames[t]["date"].min() for t in frames if "date" in frames[t])
    last = max(frames[t]["date"].max() for t in frames if "date" in frames[t])
    con = duckdb.connect()
    for name, frame in frames.items():
        con.register(name, frame)
    sizes = {}
    for spec in f1.TASKS:
        anchors = make_anchors(spec["horizon"], spec["val_timestamp"], spec["test_timestamp"],
                               spec["eval_windows"], first.to_pydatetime(), last.to_pydatetime())
        sizes[spec["name"]] = []
        for split in ("train", "val", "test"):
            con.register("relatron_anchors", pd.DataFrame({
                "anchor_time": anchors[split],
                "window_end": [t + spec["horizon"] for t in anchors[split]]}))
            sizes[spec["name"]].append(len(con.execute(spec["label_sql"]).df()))
            con.unregister("relatron_anchors")
    return sizes


def ours() -> dict:
    con = relatron_sql.connect(":memory:")
    out = relatron_sql.load(con, "ergast_f1", str(DATA))
    return {k: [v[s]["rows"] for s in ("train", "val", "test")] for k, v in out["tasks"].items()}


def timed(fn, repeat=3):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


if __name__ == "__main__":
    t_ref, ref = timed(pandas_reference)
    t_ours, got = timed(ours)
    assert ref == got, (ref, got)
    print(f"split sizes (both): {got}")
    print(f"pandas reference: {t_ref:.2f} s   relatron_load + 3 tasks: {t_ours:.2f} s   "
          f"ratio reference/ours: {t_ref / t_ours:.2f}x   (claim: ours < 10 s)")

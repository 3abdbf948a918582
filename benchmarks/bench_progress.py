"""Claim: watching training live costs next to nothing.

Each trial or epoch is written to ``relatron.trials`` as it happens (so a second connection can
watch); the progress line adds a redraw per row. Anchor: the trial log alone. Ours: the trial log
plus the progress line (drawn to a terminal-like stream). Both run side by side, same rows.

    .venv/bin/python benchmarks/bench_progress.py
"""
from __future__ import annotations

import io
import time

import relatron_sql
from relatron_sql import progress
from relatron_sql.models import _TrialLog
from relatron_sql.testing import make_database

ROWS = 300


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run(con, watch) -> float:
    log = _TrialLog(con, "user-active", "bench", "bench", watch)
    started = time.perf_counter()
    for i in range(ROWS):
        log(trial=i // 10, epoch=i % 10, config={"lr": 0.01}, train_loss=1.0 / (i + 1),
            val_metric=0.5 + i / (4 * ROWS), seconds=0.01)
    seconds = time.perf_counter() - started
    log.discard()
    return seconds


def main() -> None:
    con = relatron_sql.connect(":memory:")
    make_database(con, n_users=50, days=300)
    line = progress.ProgressLine(_Terminal())
    line.begin("user-active", "bench", 30, 600.0, "auroc", True)
    anchor, ours = [], []
    for _ in range(3):
        anchor.append(_run(con, None))
        ours.append(_run(con, line.on_trial))
    line.finish()
    a, o = min(anchor), min(ours)
    print(f"{ROWS} trial rows, best of 3")
    print(f"trial log only        : {a:.3f} s ({1e3 * a / ROWS:.2f} ms per row)")
    print(f"trial log + progress  : {o:.3f} s ({1e3 * o / ROWS:.2f} ms per row)")
    print(f"ratio ours/anchor     : {o / a:.3f}")


if __name__ == "__main__":
    main()

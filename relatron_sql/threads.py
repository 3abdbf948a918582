"""How many threads Relatron's own compute may use: DuckDB's ``threads`` setting of the
session, at most the cores the process may run on."""
from __future__ import annotations

import os


def cores() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def session_threads(con=None) -> int:
    """``SET threads = n`` caps what torch, the sampler and LightGBM use, as it caps DuckDB's
    own queries; without a connection, every core."""
    if con is None:
        return cores()
    setting = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
    return max(1, min(cores(), int(setting)))

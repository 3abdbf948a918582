"""Quality on rel-f1 with the default budget (slow: minutes per task; the time is measured by
benchmarks/bench_dfs_quality.py)."""
import json

import pytest

TARGETS = {"driver-dnf": ("auroc", 0.77), "driver-top3": ("auroc", 0.84),
           "driver-position": ("mae", 3.40)}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TARGETS))
def test_default_budget_reaches_the_target(f1_con, name):
    metric, target = TARGETS[name]
    out = json.loads(f1_con.execute("SELECT relatron_train(?, family := 'dfs', seed := 0)",
                                    [name]).fetchall()[0][0])
    value = out["test"][metric]
    assert (value >= target) if metric == "auroc" else (value <= target), out["test"]

"""Quality on rel-f1 with default settings (slow: about 2-5 minutes per task on 2 cores)."""
import pytest

from relatron_sql import models

TARGETS = {"driver-dnf": ("auroc", 0.74), "driver-top3": ("auroc", 0.80),
           "driver-position": ("mae", 4.00)}


@pytest.mark.slow
@pytest.mark.parametrize("task", sorted(TARGETS))
def test_rdl_meets_the_rel_f1_targets(f1_con, task):
    metric, target = TARGETS[task]
    summary = models.train(f1_con, task, family="rdl", seed=0)
    value = summary["test"][metric]
    assert value >= target if metric == "auroc" else value <= target

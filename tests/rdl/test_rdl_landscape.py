"""RDL picks its checkpoint among the best epochs by validation score and flatness."""
import pytest

import relatron_sql
from relatron_sql import models
from relatron_sql.rdl.family import FAMILY
from relatron_sql.testing import make_database


@pytest.fixture
def gen():
    con = relatron_sql.connect()
    make_database(con, n_users=150, seed=5)
    yield con
    con.close()


def test_checkpoint_chosen_by_validation_and_flatness(gen):
    out = models.train(gen, "user-active", family="rdl", budget=1)
    land = out["config"]["landscape"]
    assert land is not None and 2 <= len(land["candidates"]) <= 3
    vals = [c["val_metric"] for c in land["candidates"]]
    assert vals == sorted(vals, reverse=True)  # best validation first
    chosen = land["candidates"][land["chosen"]]
    assert out["config"]["best_epoch"] == chosen["epoch"]
    for c in land["candidates"]:
        assert set(c["flatness"]) == {"loss", "curvature", "barrier", "gradient_norm"}
        assert c["flatness"]["gradient_norm"] >= 0


def test_zero_weight_is_plain_best_validation(gen, monkeypatch):
    monkeypatch.setattr(FAMILY, "flatness_weight", 0.0)
    out = models.train(gen, "user-active", family="rdl", budget=1, retrain=True)
    assert out["config"]["landscape"] is None

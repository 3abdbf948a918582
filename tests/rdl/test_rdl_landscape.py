"""RDL picks its model among the best trials by validation score and flatness."""
import numpy as np
import pytest

import relatron_sql
from relatron_sql import models
from relatron_sql.models import split_rows
from relatron_sql.rdl import train as engine
from relatron_sql.rdl.family import FAMILY
from relatron_sql.task import load_task
from relatron_sql.testing import make_database


@pytest.fixture
def gen():
    con = relatron_sql.connect()
    make_database(con, n_users=150, seed=5)
    yield con
    con.close()


def test_model_chosen_among_trials_by_validation_and_flatness(gen, monkeypatch):
    monkeypatch.setattr(FAMILY, "TOP_TRIALS", 2)
    out = models.train(gen, "user-active", family="rdl", budget=3)
    land = out["config"]["landscape"]
    assert land is not None and len(land["candidates"]) == 2   # the two best of three trials
    vals = [c["val_metric"] for c in land["candidates"]]
    assert vals == sorted(vals, reverse=True)  # best validation first
    assert len({c["trial"] for c in land["candidates"]}) == 2
    chosen = land["candidates"][land["chosen"]]
    assert out["config"]["trial"] == chosen["trial"]
    assert out["config"]["best_epoch"] == chosen["epoch"]
    for c in land["candidates"]:
        assert set(c["flatness"]) == {"loss", "curvature", "barrier", "gradient_norm",
                                      "plane_curvature"}
        assert all(np.isfinite(v) for v in c["flatness"].values())


def test_single_trial_skips_the_landscape(gen):
    out = models.train(gen, "user-active", family="rdl", budget=1)
    assert out["config"]["landscape"] is None
    assert out["config"]["trial"] == 0


def test_zero_weight_is_plain_best_validation(gen, monkeypatch):
    monkeypatch.setattr(FAMILY, "flatness_weight", 0.0)
    out = models.train(gen, "user-active", family="rdl", budget=2, retrain=True)
    assert out["config"]["landscape"] is None
    best_val, = gen.execute("SELECT MAX(val_metric) FROM relatron.trials "
                            "WHERE name = 'user-active' AND run_id = (SELECT run_id FROM "
                            "relatron.trials WHERE name = 'user-active' "
                            "ORDER BY created_at DESC LIMIT 1)").fetchall()[0]
    assert out["val"]["auroc"] == pytest.approx(best_val, abs=1e-9)


def test_the_probe_spreads_over_the_anchor_times_and_stays_fixed(gen, monkeypatch):
    """Validation rows come ordered by anchor time; a probe smaller than the first anchor's
    rows still reaches the later anchors, and is the same rows at every call."""
    task = load_task(gen, "user-active")
    prepared = engine.Prepared.build(gen, task)
    val = split_rows(gen, task, "val")
    anchors = np.unique(val.anchor_time)
    assert len(anchors) > 1
    max_rows = int((val.anchor_time == anchors[0]).sum()) // 2
    model, _, _ = engine.fit(gen, task, prepared, {"max_epochs": 1, "channels": 16}, 0, "cpu")
    seen, seeds = [], model.seeds
    monkeypatch.setattr(model, "seeds", lambda con, task, rows, prepared:
                        seen.append(rows) or seeds(con, task, rows, prepared))
    losses = [float(engine.probe_loss(gen, task, model, val, max_rows=max_rows)(model.net))
              for _ in range(2)]
    first, second = seen
    assert len(first) == max_rows
    assert len(np.unique(first.anchor_time)) > 1
    for a, b in ((first.anchor_time, second.anchor_time), (first.entity_id, second.entity_id),
                 (first.label, second.label)):
        assert np.array_equal(a, b)
    assert losses[0] == losses[1]
    # rows of the split, in its order
    pick = engine.probe_rows(len(val), max_rows, seed=0)   # the default seed
    assert np.all(np.diff(pick) > 0) and np.array_equal(first.entity_id, val.entity_id[pick])

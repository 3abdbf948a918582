"""Regression boosters that start from the entity's last known label (``"offset": "history"``)."""

import numpy as np
import pytest

from relatron_sql import models
from relatron_sql.dfs import lightgbm_model
from relatron_sql.dfs.family import Offset, _split, build_plan
from relatron_sql.dfs.matrix import feature_matrix
from relatron_sql.task import load_task

GOOD = {"learning_rate": 0.05, "num_leaves": 9, "min_data_in_leaf": 7, "feature_fraction": 0.6,
        "bagging_fraction": 0.9, "lambda_l2": 0.5}


def _persistent(seed=0, n=600):
    """Counts that persist: this window's value is the last one plus a little noise."""
    rng = np.random.default_rng(seed)
    last = rng.integers(1, 1000, size=n).astype(float)
    X = np.stack([last, rng.normal(size=n)], 1)
    y = last + rng.normal(scale=2.0, size=n)
    return (X[:400], y[:400], X[400:], y[400:]), (last[:400], last[400:])


def test_a_search_given_offsets_tries_them_and_keeps_the_better():
    data, offsets = _persistent()
    logged = []
    _, params, score = lightgbm_model.search("regression", None, *data, budget=6, seed=0,
                                             offsets=offsets,
                                             trial_log=lambda **kw: logged.append(kw))
    used = {r["config"]["offset"]: r["val_metric"] for r in logged}
    # the default configuration first, then the same from the offsets, whatever the budget
    assert [r["config"]["offset"] for r in logged[:2]] == ["none", "history"]
    same = {k: v for k, v in logged[0]["config"].items() if k not in ("offset", "rounds")}
    assert {k: logged[1]["config"][k] for k in same} == same
    assert set(used) == {"none", "history"}
    # a tree approximates y = last only in steps; from the offset it has little left to learn
    best = {o: min(r["val_metric"] for r in logged if r["config"]["offset"] == o) for o in used}
    assert best["history"] < 0.5 * best["none"]
    assert params["offset"] == "history" and score == best["history"] < 2.5


def test_without_offsets_or_outside_regression_nothing_changes():
    data, _ = _persistent()
    plain = []
    lightgbm_model.search("regression", None, *data, budget=3, seed=0,
                          trial_log=lambda **kw: plain.append(kw))
    assert all("offset" not in r["config"] for r in plain)
    binary = (data[0], (data[1] > 500).astype(float), data[2], (data[3] > 500).astype(float))
    logged = []
    lightgbm_model.search("binary", None, *binary, budget=3, seed=0, offsets=_persistent()[1],
                          trial_log=lambda **kw: logged.append(kw))
    assert all("offset" not in r["config"] for r in logged)


def test_a_prior_keeps_its_offset_and_one_without_starts_at_the_average():
    assert lightgbm_model.prior_params({**GOOD, "offset": "history"}, "regression",
                                       True)["offset"] == "history"
    assert lightgbm_model.prior_params(GOOD, "regression", True)["offset"] == "none"
    assert lightgbm_model.prior_params({**GOOD, "offset": "x"}, "regression", True
                                       )["offset"] == "none"
    assert "offset" not in lightgbm_model.prior_params({**GOOD, "offset": "history"},
                                                       "regression")


def test_the_offset_reads_only_labels_whose_window_had_closed(fresh_gen):
    task = load_task(fresh_gen, "user-spend")
    plan, info = build_plan(fresh_gen, task)
    rows = _split(fresh_gen, task, "test")
    offset = Offset.of(plan, _split(fresh_gen, task, "train").label)
    before = offset.values(fresh_gen, info, rows)
    # the same as the label-history features it is made of
    X = feature_matrix(fresh_gen, plan, info, rows.anchor_time, rows.entity_id)
    assert np.array_equal(before, offset.from_matrix(plan, X))
    first = min(rows.anchor_time)
    # every label whose window is still open at the first test anchor: planted far off
    fresh_gen.execute("UPDATE relatron.task_rows SET label = label + 1e6 WHERE task = ? AND "
                      "anchor_time + ? > ?", [task.name, task.horizon, first])
    at_first = rows.anchor_time == first
    after = offset.values(fresh_gen, info, rows)
    assert np.array_equal(after[at_first], before[at_first])
    assert (after[~at_first] != before[~at_first]).any()   # later anchors read them, closed
    # an entity with no known label starts at the training mean
    assert offset.fallback == pytest.approx(np.mean(_split(fresh_gen, task, "train").label))


def test_a_model_fitted_from_offsets_predicts_the_same_after_loading(fresh_gen, monkeypatch):
    # make the search start from the offset, as it would choose where labels persist
    real = lightgbm_model._suggest
    monkeypatch.setattr(lightgbm_model, "_suggest", lambda trial, kind, offsets=False: {
        **real(trial, kind, offsets), "offset": "history"})
    monkeypatch.setitem(lightgbm_model.DEFAULT_PARAMS, "offset", "history")
    out = models.train(fresh_gen, "user-spend", family="dfs", budget=2, seed=0)
    assert out["config"]["params"]["offset"] == "history"
    task, _, _, loaded = models.active_model(fresh_gen, "user-spend")
    assert loaded.offset is not None and loaded.offset.fallback == pytest.approx(
        np.mean(_split(fresh_gen, task, "train").label))
    rows = _split(fresh_gen, task, "test")
    predicted = loaded.predict(fresh_gen, task, rows)
    assert np.mean(np.abs(predicted - rows.label)) == pytest.approx(out["test"]["mae"])
    # the booster alone is not the model: without its offset the predictions differ
    bare = lightgbm_model.predict_booster(loaded.booster, "regression",
                                          loaded.features(fresh_gen, rows))
    assert not np.allclose(bare, predicted)

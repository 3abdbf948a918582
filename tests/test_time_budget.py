"""Time that cuts training short is reported: warnings in the summary (also when the registered
model is reused), and the RDL config's record of why training stopped."""
import itertools
import json
import types

from relatron_sql import models
from relatron_sql.dfs import lightgbm_model
from relatron_sql.rdl import train as engine


def test_rdl_stopped_by_the_time_budget_warns_and_records_why(gen_con):
    summary = json.loads(gen_con.execute(
        "SELECT relatron_train('user-active', family := 'rdl', budget := 2, "
        "time_budget := 0.01)").fetchall()[0][0])
    assert summary["config"]["stopped"] == "time" and summary["config"]["epochs"] == 1
    assert any("allowed 1 of 2 trials" in w for w in summary["warnings"])
    assert any("stopped the chosen trial after 1 epoch" in w and "raise time_budget" in w
               for w in summary["warnings"])
    stored, = gen_con.execute("SELECT config FROM relatron.models WHERE name = 'user-active' "
                          "AND active").fetchall()[0]
    assert json.loads(stored)["stopped"] == "time"


def test_rdl_stopping_by_its_own_rule_has_no_warning(gen_con):
    out = models.train(gen_con, "user-active", family="rdl")
    assert out["config"]["stopped"] in ("patience", "max_epochs")
    assert out["warnings"] == []


def test_dfs_search_cut_by_the_time_budget_warns(gen_con, monkeypatch):
    clock = itertools.count(0.0, 100.0)   # every reading 100 s after the last one
    monkeypatch.setattr(lightgbm_model, "time", types.SimpleNamespace(
        perf_counter=lambda: next(clock)))
    out = models.train(gen_con, "user-active", family="dfs", budget=5, time_budget=60)
    assert out["warnings"] == ["dfs: the time budget allowed 1 of 5 trials"]
    trials, = gen_con.execute("SELECT count(*) FROM relatron.trials WHERE name = 'user-active'"
                          ).fetchall()[0]
    assert trials == 1


def test_dfs_full_search_has_no_warning(gen_con):
    out = models.train(gen_con, "user-active", family="dfs", budget=3)
    assert out["warnings"] == []


def test_rdl_trial_cap_without_a_time_budget_warns_about_the_cap(gen_con, monkeypatch):
    monkeypatch.setitem(engine.DEFAULTS, "max_seconds", 1e-6)
    out = models.train(gen_con, "user-active", family="rdl")
    assert out["config"]["stopped"] == "max_seconds" and out["config"]["epochs"] == 1
    assert len(out["warnings"]) == 1
    assert "cap of 1e-06 s per trial" in out["warnings"][0]
    assert "time_budget" not in out["warnings"][0]


def test_rdl_other_trials_cut_short_are_reported_too(gen_con, monkeypatch):
    monkeypatch.setitem(engine.DEFAULTS, "max_seconds", 1e-6)
    out = models.train(gen_con, "user-active", family="rdl", budget=2)
    assert "cap of 1e-06 s per trial" in out["warnings"][0]
    assert out["warnings"][1:] == ["rdl: 1 other trial(s) stopped on time before they stopped "
                                   "improving; with more time one of them might have won"]


def test_a_trial_that_ran_every_epoch_is_not_cut_short(gen_con, monkeypatch):
    monkeypatch.setitem(engine.DEFAULTS, "max_epochs", 2)
    monkeypatch.setitem(engine.DEFAULTS, "patience", 5)
    monkeypatch.setitem(engine.DEFAULTS, "max_seconds", 1e-6)   # would stop it after epoch 1
    out = models.train(gen_con, "user-active", family="rdl")
    assert out["config"]["epochs"] == 1 and out["config"]["stopped"] == "max_seconds"
    monkeypatch.setitem(engine.DEFAULTS, "max_epochs", 1)
    out = models.train(gen_con, "user-active", family="rdl", retrain=True)
    assert out["config"]["stopped"] == "max_epochs" and out["warnings"] == []


def test_a_reused_model_keeps_its_warnings_and_a_new_time_budget_trains_anew(gen_con):
    first = models.train(gen_con, "user-active", family="rdl", time_budget=0.01)
    assert first["warnings"]
    again = models.train(gen_con, "user-active", family="rdl", time_budget=0.01)
    assert again["reused"] and again["version"] == first["version"]
    assert again["warnings"] == first["warnings"]
    longer = models.train(gen_con, "user-active", family="rdl", time_budget=600)
    assert not longer.get("reused") and longer["version"] == first["version"] + 1
    assert longer["config"]["stopped"] != "time"


def test_auto_marks_the_warnings_of_the_family_it_did_not_keep(gen_con, monkeypatch):
    monkeypatch.setattr(models, "choose_family", lambda con, task, family: ("both", None))
    out = models.train(gen_con, "user-active", budget=2, time_budget=0.02)
    kept = out["family"]
    lost = "rdl" if kept == "dfs" else "dfs"
    assert out["warnings"]
    for w in out["warnings"]:
        assert w.startswith(f"{kept}: ") or w.startswith(f"{lost} (not kept): ")
    assert any(w.startswith("rdl") for w in out["warnings"])

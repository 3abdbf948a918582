"""A time budget that cuts training short says so in the summary, in SQL and in the registry."""
import itertools
import json
import types

import pytest

import relatron_sql
from relatron_sql import models
from relatron_sql.dfs import lightgbm_model
from relatron_sql.testing import make_database


@pytest.fixture
def gen():
    con = relatron_sql.connect()
    make_database(con, n_users=120, seed=3)
    yield con
    con.close()


def test_rdl_stopped_by_the_time_budget_warns_and_records_why(gen):
    summary = json.loads(gen.execute(
        "SELECT relatron_train('user-active', family := 'rdl', budget := 2, "
        "time_budget := 0.01)").fetchall()[0][0])
    assert summary["config"]["stopped"] == "time" and summary["config"]["epochs"] == 1
    assert any("allowed 1 of 2 trials" in w for w in summary["warnings"])
    assert any("stopped the chosen trial after 1 epoch" in w and "raise time_budget" in w
               for w in summary["warnings"])
    stored, = gen.execute("SELECT config FROM relatron.models WHERE name = 'user-active' "
                          "AND active").fetchall()[0]
    assert json.loads(stored)["stopped"] == "time"


def test_rdl_stopping_by_its_own_rule_has_no_warning(gen):
    out = models.train(gen, "user-active", family="rdl")
    assert out["config"]["stopped"] in ("patience", "max_epochs")
    assert out["warnings"] == []


def test_dfs_search_cut_by_the_time_budget_warns(gen, monkeypatch):
    clock = itertools.count(0.0, 100.0)   # every reading 100 s after the last one
    monkeypatch.setattr(lightgbm_model, "time", types.SimpleNamespace(
        perf_counter=lambda: next(clock)))
    out = models.train(gen, "user-active", family="dfs", budget=5, time_budget=60)
    assert out["warnings"] == ["dfs: the time budget allowed 1 of 5 trials"]
    trials, = gen.execute("SELECT count(*) FROM relatron.trials WHERE name = 'user-active'"
                          ).fetchall()[0]
    assert trials == 1


def test_dfs_full_search_has_no_warning(gen):
    out = models.train(gen, "user-active", family="dfs", budget=3)
    assert out["warnings"] == []

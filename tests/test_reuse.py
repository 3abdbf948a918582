"""When the same relatron_train call reuses the registered model, and when the data it was
trained on changed under it."""
import json

import duckdb
import pytest

from relatron_sql import models


def _train(con, call="family := 'dfs', budget := 1"):
    return json.loads(con.execute(f"SELECT relatron_train('user-spend', {call})").fetchall()[0][0])


def test_changed_values_train_anew_where_the_same_data_reuses(gen_con):
    first = _train(gen_con)
    assert _train(gen_con).get("reused")
    gen_con.execute("UPDATE orders SET amount = amount * 100")   # same rows, same times
    again = _train(gen_con)
    assert not again.get("reused") and again["version"] == first["version"] + 1


def test_a_dropped_column_is_named_on_predict_and_trains_anew(gen_con):
    first = _train(gen_con)
    gen_con.execute("ALTER TABLE orders DROP COLUMN channel")
    for sql in ("SELECT relatron_predict('user-spend')", "SELECT relatron_evaluate('user-spend')"):
        with pytest.raises(duckdb.Error, match="argument 'name'.*no longer has.*retrain"):
            gen_con.execute(sql).fetchall()
    again = _train(gen_con)
    assert not again.get("reused") and again["version"] == first["version"] + 1
    assert gen_con.execute("SELECT relatron_predict('user-spend')").fetchall()[0][0] > 0


def test_auto_mode_over_both_families_stays_reused_when_the_bank_grows(gen_con, monkeypatch):
    """Without a budget, RDL's search in auto mode runs the bank's priors and the fixed trials;
    another task trained here can add a prior. The call asked for the same, and is reused."""
    priors = []
    monkeypatch.setattr(models, "choose_family", lambda con, task, family: (
        "both", {"task": task.name, "family": "both", "signals": {"metric": task.metric}}))
    monkeypatch.setattr(models, "_priors", lambda con, decision, notes=None: {
        "dfs": [], "rdl": list(priors)})
    call = "time_budget := 6"
    first = _train(gen_con, call)
    assert _train(gen_con, call).get("reused")
    priors.append({"conv": "gat", "layers": 1, "fanouts": [64]})
    again = _train(gen_con, call)
    assert again.get("reused") and again["version"] == first["version"]
    # a budget the caller names is a different call
    assert not _train(gen_con, "budget := 2, time_budget := 6").get("reused")

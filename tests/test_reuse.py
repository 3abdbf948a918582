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


def test_auto_mode_stays_reused_when_routing_moves_and_does_not_route_again(gen_con,
                                                                            monkeypatch):
    """Routing to one family recorded that family's default budget in the call, so the same
    call trained anew when the bank moved routing to the other; a reused call now skips
    routing altogether."""
    routed = []

    def route(con, task, family):
        routed.append(family)
        return "baseline", {"task": task.name, "family": "baseline", "reason": "test"}
    monkeypatch.setattr(models, "choose_family", route)
    first = _train(gen_con, "seed := 0")
    monkeypatch.setattr(models, "choose_family", lambda con, task, family: (
        routed.append(family), ("dfs", {"task": task.name, "family": "dfs"}))[1])
    again = _train(gen_con, "seed := 0")
    assert again.get("reused") and again["version"] == first["version"]
    assert routed == ["auto"]


def test_a_timestamptz_column_is_read_in_the_session_zone_so_another_zone_trains_anew(gen_con):
    gen_con.execute("ALTER TABLE orders ALTER time TYPE TIMESTAMPTZ")
    gen_con.execute("SET TimeZone = 'UTC'")
    first = _train(gen_con)
    assert _train(gen_con).get("reused")
    gen_con.execute("SET TimeZone = 'Asia/Tokyo'")
    again = _train(gen_con)
    assert not again.get("reused") and again["version"] == first["version"] + 1


def test_a_null_seed_from_python_is_seed_zero(gen_con):
    """It passed the check, then failed deep in the search with a TypeError."""
    first = models.train(gen_con, "user-spend", family="dfs", budget=1, seed=None)
    assert models.train(gen_con, "user-spend", family="dfs", budget=1, seed=0).get("reused")
    assert first["version"] == 1


@pytest.mark.parametrize("part, payload", [("model", b"not a model"), ("plan", b"\x80garbage"),
                                           ("plan", b'{"x": 1}')])
def test_a_stored_model_that_cannot_be_read_says_so_and_to_retrain(gen_con, part, payload):
    _train(gen_con)
    gen_con.execute("UPDATE relatron.artifacts SET payload = ? WHERE part = ?", [payload, part])
    with pytest.raises(duckdb.Error, match=r"argument 'name': the stored model of task "
                                           r"'user-spend' \(version 1\) cannot be read \(.+\); "
                                           r"retrain it"):
        gen_con.execute("SELECT relatron_evaluate('user-spend')").fetchall()


def test_rdl_weights_that_are_not_a_state_dict_are_refused_without_torchs_advice(gen_con):
    """torch's own error advises loading with weights_only=False, which would run the
    payload; the error says to retrain instead."""
    import pickle
    _train(gen_con, "family := 'rdl', budget := 1")
    gen_con.execute("UPDATE relatron.artifacts SET payload = ? WHERE part = 'weights'",
                    [pickle.dumps({"x": print})])
    with pytest.raises(duckdb.Error, match=r"cannot be read \(weights that do not load as a "
                                           r"plain torch state dict\); retrain it") as e:
        gen_con.execute("SELECT relatron_evaluate('user-spend')").fetchall()
    assert "weights_only" not in str(e.value)

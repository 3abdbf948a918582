"""Auto mode over both families keeps a blend of the two models where it scores strictly better
on validation than either alone: stored without pickle, banked as its two members."""
from __future__ import annotations

import json

import numpy as np
import pytest

import relatron_sql
from relatron_sql import blend, metrics, models
from relatron_sql.errors import TrainError
from relatron_sql.route import router, signals
from relatron_sql.task import Task
from relatron_sql.testing import make_database
from snapshot import snapshot


def test_binary_pooling_is_on_the_log_odds_scale():
    p, q = np.array([0.9, 0.5, 0.2]), np.array([0.5, 0.5, 0.8])
    out = blend.pool("binary", 0.5, p, q)
    logit = lambda x: np.log(x / (1 - x))   # noqa: E731
    assert out == pytest.approx(1 / (1 + np.exp(-(logit(p) + logit(q)) / 2)))
    assert blend.pool("binary", 1.0, p, q) == pytest.approx(p)
    assert blend.pool("binary", 0.0, np.array([0.0, 1.0]), np.array([1.0, 0.0])) == \
        pytest.approx([1.0, 0.0], abs=1e-6)   # a certain member stays finite
    assert blend.pool("regression", 0.25, np.array([4.0]), np.array([8.0])) == [7.0]


class _Task:
    def __init__(self, kind, higher_is_better):
        self.kind, self.higher_is_better = kind, higher_is_better

    better, sort_key = Task.better, Task.sort_key


def test_the_weight_is_chosen_on_validation_and_a_tie_keeps_the_better_member_alone():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400).astype(float)
    signal = y + rng.normal(0, 1.0, 400)
    # two members with independent noise: their blend ranks better than either
    first = 1 / (1 + np.exp(-(signal + rng.normal(0, 1.0, 400))))
    second = 1 / (1 + np.exp(-(signal + rng.normal(0, 1.0, 400))))
    task = _Task("binary", True)
    weight, scores = blend.choose_weight(task, y, first, second)
    assert 0 < weight < 1
    assert scores[weight] == max(scores.values())
    assert scores[weight] > max(scores[0.0], scores[1.0])
    # identical members: every weight ties, and the better member alone (the first) stays
    weight, scores = blend.choose_weight(task, y, first, first)
    assert weight == 1.0
    # regression, lower is better: a member that is right everywhere takes all the weight
    task = _Task("regression", False)
    weight, _ = blend.choose_weight(task, np.arange(5.0), np.arange(5.0) + 3, np.arange(5.0))
    assert weight == 0.0


@pytest.fixture
def gen(tmp_path, monkeypatch):
    path = tmp_path / "gen.duckdb"
    con = relatron_sql.connect(str(path))
    make_database(con, n_users=200)
    sig = {**{k: 0.5 for k in signals.KEYS}, "metric": "auroc"}
    monkeypatch.setattr(router, "route", lambda con, name, **kw: {
        "task": name, "family": "both", "probability": 0.5, "reason": "test", "signals": sig})
    yield con, path
    con.close()


def test_auto_mode_keeps_a_blend_that_beats_both_families_on_validation(gen):
    con, path = gen
    out = models.train(con, "user-active", family="auto", budget=1)
    assert out["family"] == "blend"   # on this database the blend wins validation
    config = out["config"]
    w = config["weights"]
    assert 0 < w["dfs"] < 1 and w["dfs"] + w["rdl"] == pytest.approx(1)
    assert config["pooling"] == "log-odds"
    val_by_weight = config["val_by_weight"]
    assert out["val"]["auroc"] == pytest.approx(val_by_weight[f"{w['dfs']:.2f}"])
    assert out["val"]["auroc"] > max(val_by_weight["0.00"], val_by_weight["1.00"])
    # the demo's summary row names the blend with its weights
    from relatron_sql import cli
    assert cli._family_shown(out) == f"blend (dfs {w['dfs']:g}, rdl {w['rdl']:g})"

    # both members are banked under their own families, with their own scores
    rows = con.execute("SELECT family, val_metric FROM relatron.bank WHERE task = "
                       "'user-active' ORDER BY family").fetchall()
    assert rows == [("dfs", pytest.approx(val_by_weight["1.00"])),
                    ("rdl", pytest.approx(val_by_weight["0.00"]))]
    # stored as the members' own artifacts, none of them a pickle
    parts = dict(con.execute("SELECT part, format FROM relatron.artifacts WHERE name = "
                             "'user-active'").fetchall())
    assert parts == {"dfs/model": "lightgbm-text", "dfs/plan": "json", "rdl/config": "json",
                     "rdl/weights": "torch"}

    # read back in a new connection, the stored blend scores as the trained one did
    con.close()
    con2 = relatron_sql.connect(str(path))
    try:
        again = models.evaluate(con2, "user-active", split="val")
        assert again["family"] == "blend"
        assert again["metrics"]["auroc"] == pytest.approx(out["val"]["auroc"])
        task, version, _, model = models.active_model(con2, "user-active")
        rows_ = models.split_rows(con2, task, "test")
        parts_ = [model.members[m].predict(con2, task, rows_) for m in blend.MEMBERS]
        assert model.predict(con2, task, rows_) == pytest.approx(
            blend.pool("binary", w["dfs"], *parts_))
        assert metrics.evaluate("binary", rows_.label, model.predict(con2, task, rows_))[
            "auroc"] == pytest.approx(out["test"]["auroc"])
        # explain lists both members' features; their shares add up to one
        explained = models.explain(con2, "user-active")
        assert {e["feature"].split(": ", 1)[0] for e in explained} == {"dfs", "rdl"}
        assert sum(e["share"] for e in explained) == pytest.approx(1)
        dfs_share = sum(e["share"] for e in explained if e["feature"].startswith("dfs: "))
        assert dfs_share == pytest.approx(w["dfs"])
        # the feature query is the DFS member's: its features only
        from relatron_sql.dfs.family import features_sql
        plan = json.loads(con2.execute("SELECT payload FROM relatron.artifacts WHERE name = "
                                       "'user-active' AND part = 'dfs/plan'").fetchall()[0][0])
        sql = features_sql(con2, "user-active")
        assert all(f'"{f["name"]}"' in sql for f in plan["plan"]["features"])
        # the report names the members and their weights
        from relatron_sql import report
        page = report.write(con2, "user-active", path.parent / "r.html").read_text()
        assert (f"family blend (DFS weight {w['dfs']:g}, RDL weight {w['rdl']:g})"
                in page)
        # fresh predictions at an anchor time go through both members
        n = models.predict(con2, "user-active", anchor_time=task.test_timestamp)
        assert n > 0
        # where a member's libraries are missing, the error names the task and the member
        from relatron_sql import families
        real = families.importlib.import_module

        def without_torch(module):
            if module == "relatron_sql.rdl.family":
                raise ModuleNotFoundError("No module named 'torch'")
            return real(module)
        before = snapshot(con2)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(families.importlib, "import_module", without_torch)
            with pytest.raises(TrainError, match=r"argument 'name': the model of task "
                               r"'user-active' \(version 1\) is a blend of dfs and rdl, and "
                               r"rdl is not available here \(No module named 'torch'\); "
                               r"install it"):
                models.predict(con2, "user-active", anchor_time=task.test_timestamp)
        assert snapshot(con2) == before
    finally:
        con2.close()


def test_no_blend_when_it_does_not_beat_the_better_family(gen, monkeypatch):
    """A blend that only ties the better family alone is not kept: that family's model is."""
    con, _ = gen
    monkeypatch.setattr(blend, "choose_weight", lambda task, label, first, second: (
        1.0, {w: 0.5 for w in blend.GRID}))
    from relatron_sql.dfs.family import DfsModel
    from relatron_sql.rdl.train import RDLModel
    scored = []
    for cls in (DfsModel, RDLModel):
        def counting(self, con_, task, rows, _real=cls.predict, _name=cls.__name__):
            scored.append((_name, tuple(rows.entity_id), tuple(rows.anchor_time)))
            return _real(self, con_, task, rows)
        monkeypatch.setattr(cls, "predict", counting)
    out = models.train(con, "user-active", family="auto", budget=1)
    assert out["family"] in ("dfs", "rdl")
    assert con.execute("SELECT family FROM relatron.models").fetchall() == [(out["family"],)]
    # each family's model scores each split once: the blend step's validation scores are
    # those reported (kept model) and banked (the other)
    task = models.load_task(con, "user-active")
    for split in ("val", "test"):
        rows = models.split_rows(con, task, split)
        key = (tuple(rows.entity_id), tuple(rows.anchor_time))
        assert sorted(n for n, *k in scored if tuple(k) == key) == ["DfsModel", "RDLModel"]


def test_a_member_that_cannot_score_validation_means_no_blend(gen, monkeypatch, caplog):
    con, _ = gen
    from relatron_sql.rdl import train as engine
    real = engine.RDLModel.predict
    calls = []

    def fails_once(self, *args):   # the blend's validation pass fails; the rest does not
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("scoring failed")
        return real(self, *args)

    monkeypatch.setattr(engine.RDLModel, "predict", fails_once)
    with caplog.at_level("WARNING"):
        out = models.train(con, "user-active", family="auto", budget=1)
    assert "no blend of DFS and RDL" in caplog.text and "scoring failed" in caplog.text
    assert out["family"] in ("dfs", "rdl")


def test_a_blend_is_not_a_family_to_train_by_name(gen):
    con, _ = gen
    before = con.execute("SELECT COUNT(*) FROM relatron.models").fetchall()
    with pytest.raises(TrainError, match="argument 'family'.*auto mode.*family := 'auto'"):
        models.train(con, "user-active", family="blend")
    assert con.execute("SELECT COUNT(*) FROM relatron.models").fetchall() == before
    with pytest.raises(TrainError, match="argument 'family': unknown family 'nope'; valid: "
                       "'auto', 'baseline', 'dfs', 'rdl'"):
        models.train(con, "user-active", family="nope")


def _blend_at_half(monkeypatch, better: bool):
    """Makes the weight search answer 0.5, scored better than both members (``better``) or
    equal to the better one."""
    real = blend.choose_weight

    def choose(task, label, first, second):
        _, scores = real(task, label, first, second)
        lead = scores[1.0] if not task.better(scores[0.0], scores[1.0]) else scores[0.0]
        step = 0.01 if task.higher_is_better else -0.01
        return 0.5, {**scores, 0.5: lead + step if better else lead}
    monkeypatch.setattr(blend, "choose_weight", choose)


def test_a_blend_that_only_ties_the_better_family_is_not_kept(gen, monkeypatch):
    con, _ = gen
    _blend_at_half(monkeypatch, better=False)
    out = models.train(con, "user-active", family="auto", budget=1)
    assert out["family"] in ("dfs", "rdl")


def test_a_regression_blend_is_the_weighted_mean_of_its_members(gen, monkeypatch):
    con, path = gen
    _blend_at_half(monkeypatch, better=True)
    out = models.train(con, "user-spend", family="auto", budget=1)
    assert out["family"] == "blend" and out["config"]["pooling"] == "mean"
    task, _, _, model = models.active_model(con, "user-spend")
    rows = models.split_rows(con, task, "val")
    parts = [model.members[m].predict(con, task, rows) for m in blend.MEMBERS]
    assert model.predict(con, task, rows) == pytest.approx((parts[0] + parts[1]) / 2)
    assert out["val"]["mae"] == pytest.approx(
        metrics.evaluate("regression", rows.label, (parts[0] + parts[1]) / 2)["mae"])
    # the members' bank rows hold their own validation scores
    banked = dict(con.execute("SELECT family, val_metric FROM relatron.bank WHERE task = "
                              "'user-spend'").fetchall())
    assert banked == {m: pytest.approx(metrics.evaluate("regression", rows.label, p)["mae"])
                      for m, p in zip(blend.MEMBERS, parts)}


def test_multiclass_tasks_are_not_blended():
    assert models._Both.blend(None, _Task("multiclass", True), {}, None) == (None, {})


def test_bank_prior_notes_of_a_blend_are_not_marked_not_kept():
    notes = ["dfs: the bank configuration of x was skipped", "rdl: the bank configuration of y"
             " was skipped"]
    assert models._prior_warnings(notes, "blend", True) == notes
    assert models._prior_warnings(notes, "dfs", True) == [
        notes[0], notes[1].replace("rdl: ", "rdl (not kept): ")]


def test_the_leakage_warning_is_said_within_each_member_of_a_blend(gen):
    """One DFS feature holds 90% of DFS's importance but, at DFS weight 0.5, under half of
    the blend's: it is still warned of."""
    con, _ = gen
    out = models.train(con, "user-active", family="auto", budget=1)
    assert out["family"] == "blend"
    version = out["version"]
    con.execute("UPDATE relatron.features SET importance = CASE WHEN feature LIKE 'rdl: %' THEN "
                "0.5 / (SELECT COUNT(*) FROM relatron.features WHERE feature LIKE 'rdl: %') "
                "ELSE 0.05 / (SELECT COUNT(*) - 1 FROM relatron.features WHERE feature LIKE "
                "'dfs: %') END WHERE name = 'user-active' AND version = ?", [version])
    top = con.execute("SELECT MIN(feature) FROM relatron.features WHERE feature LIKE 'dfs: %'"
                      ).fetchall()[0][0]
    con.execute("UPDATE relatron.features SET importance = 0.45 WHERE feature = ?", [top])
    explained = {e["feature"]: e for e in models.explain(con, "user-active")}
    assert explained[top]["share"] == pytest.approx(0.45)
    assert explained[top]["warning"] == "holds most of the importance: check it for leakage"
    assert [f for f, e in explained.items() if e["warning"]] == [top]

"""`relatron report`: every section is present and its numbers are the registry's."""
import html
import json
import re
import time

import numpy as np
import pytest

import relatron_sql
from relatron_sql import families, models, report
from relatron_sql.baseline import HistoryMean
from relatron_sql.families import Fitted
from relatron_sql.task import task_rows
from relatron_sql.testing import make_database


class _Linear:
    """prediction = w * entity history mean + b (squashed for binary tasks)."""

    def __init__(self, w, b, mean, binary):
        self.w, self.b, self.history, self.binary = w, b, HistoryMean(mean), binary

    def predict(self, con, task, rows):
        z = self.w * self.history.predict(con, task, rows) + self.b
        return 1 / (1 + np.exp(-z)) if self.binary else z


class EpochFamily:
    """A small family that trains by gradient descent and logs every epoch, like RDL would."""

    name = "epochs"
    default_budget = 3

    def fit(self, con, task, options):
        data = {s: task_rows(con, task.name, s) for s in ("train", "val")}
        mean = float(data["train"]["label"].mean())
        hist = HistoryMean(mean)
        feats = {}
        for s, r in data.items():
            rows = families.Rows(r["anchor_time"], r["entity_id"])
            feats[s] = hist.predict(con, task, rows)
        binary = task.kind == "binary"
        best = None
        scale = 1.0 if binary else max(float(np.mean(feats["train"] ** 2)), 1.0)
        for trial in range(options.budget):
            lr = 0.5 * (trial + 1) / scale
            w, b = 0.0, 0.0
            for epoch in range(6):
                started = time.perf_counter()
                x, y = feats["train"], data["train"]["label"]
                z = w * x + b
                p = 1 / (1 + np.exp(-z)) if binary else z
                grad = p - y
                w -= lr * float((grad * x).mean())
                b -= lr * float(grad.mean())
                loss = float(np.mean(grad ** 2))
                model = _Linear(w, b, mean, binary)
                vr = data["val"]
                val_pred = model.predict(con, task, families.Rows(vr["anchor_time"],
                                                                  vr["entity_id"]))
                from relatron_sql import metrics
                score = metrics.primary(task.kind, metrics.evaluate(task.kind, vr["label"],
                                                                    val_pred))
                options.trial_log(trial=trial, epoch=epoch, config={"lr": lr},
                                  train_loss=loss, val_metric=score,
                                  seconds=time.perf_counter() - started)
                better = best is None or (score > best[0] if task.higher_is_better
                                          else score < best[0])
                if better:
                    best = (score, w, b, lr)
        score, w, b, lr = best
        config = {"w": w, "b": b, "mean": mean, "binary": binary, "lr": lr}
        return Fitted(_Linear(w, b, mean, binary), config,
                      {"config": ("json", json.dumps(config).encode())},
                      [{"feature": "history_mean", "importance": 3.0,
                        "description": "mean of the entity's closed labels",
                        "sql": "SELECT AVG(label) FROM relatron.task_rows WHERE <earlier>"},
                       {"feature": "users.age", "importance": 1.0,
                        "description": "source column", "sql": None}], score)

    def load(self, config, artifacts):
        c = json.loads(artifacts["config"])
        return _Linear(c["w"], c["b"], c["mean"], c["binary"])


@pytest.fixture
def epoch_family(monkeypatch):
    original = families.get
    monkeypatch.setattr(families, "get", lambda name: EpochFamily() if name == "epochs"
                        else original(name))


@pytest.fixture
def trained(tmp_path, epoch_family):
    con = relatron_sql.connect(str(tmp_path / "r.duckdb"))
    make_database(con, n_users=120, days=300)
    for name in ("user-active", "user-spend"):
        models.train(con, name, family="epochs", budget=2)
    yield con
    con.close()


def _section(page: str, ident: str) -> str:
    m = re.search(f'<section id="{ident}">(.*?)</section>', page, re.S)
    assert m, f"section {ident} missing"
    return m.group(1)


def _stored(con, name):
    return json.loads(con.execute("SELECT metrics FROM relatron.models WHERE name = ? AND "
                                  "active", [name]).fetchall()[0][0])


@pytest.mark.parametrize("name, plot_section", [("user-active", "calibration"),
                                                ("user-spend", "residuals")])
def test_report_sections_and_numbers(trained, tmp_path, name, plot_section):
    out = report.write(trained, name, tmp_path / "r.html")
    page = out.read_text()
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page
    for ident in ("summary", "routing", "search", "curves", "features", plot_section,
                  "val-test"):
        _section(page, ident)
    stored = _stored(trained, name)
    metric = stored["metric"]
    # the horizon as SQL writes an interval, not Python's timedelta
    horizon = trained.execute("SELECT CAST(horizon AS VARCHAR) FROM relatron.tasks WHERE "
                              "name = ?", [name]).fetchall()[0][0]
    assert f"<td>{horizon}</td>" in page and ", 0:00:00" not in page
    # summary cards and the validation/test table carry the registry's numbers
    for card, split in (("card-val", "val"), ("card-test", "test")):
        m = re.search(f'id="{card}".*?data-value="([^"]+)"', page, re.S)
        assert float(m.group(1)) == pytest.approx(stored[split][metric], abs=1e-12)
    row = re.search(f'<tr data-metric="{metric}">(.*?)</tr>', _section(page, "val-test"), re.S)
    values = [float(v) for v in re.findall(r'data-value="([^"]+)"', row.group(1))]
    assert values[0] == pytest.approx(stored["val"][metric], abs=1e-12)
    assert values[1] == pytest.approx(stored["test"][metric], abs=1e-12)
    baseline = models.evaluate(trained, name, "test")["baseline"][metric]
    assert values[3] == pytest.approx(baseline, abs=1e-12)
    # the search history shows the trials of the run, best first, matching relatron.trials
    best = "MAX" if metric != "mae" else "MIN"
    trials = trained.execute("SELECT trial, " + best + "(val_metric) FROM relatron.trials WHERE "
                             "name = ? GROUP BY trial ORDER BY trial", [name]).fetchall()
    table = re.search(r'id="trials-table">(.*?)</table>', page, re.S).group(1)
    shown = re.findall(r'<tr><td class="num" data-value="(\d+)">.*?data-value="([^"]+)"',
                       table, re.S)
    assert {int(t): pytest.approx(v) for t, v in trials} == {int(t): float(v) for t, v in shown}
    # learning curves: one line per trial, with points per epoch
    curves = _section(page, "curves")
    assert curves.count("<path") >= 2 * len(trials) and "<circle" in curves
    # features, in importance order, with their SQL
    feats = _section(page, "features")
    assert feats.index("history_mean") < feats.index("users.age")
    assert html.escape("SELECT AVG(label) FROM relatron.task_rows WHERE <earlier>") in feats
    assert "<svg" in _section(page, plot_section)


def test_report_routing_shows_decision(tmp_path, monkeypatch):
    decision = {"family": "baseline", "probability": 0.3125, "reason": "homophily is low",
                "signals": {"homophily_2hop": 0.4375, "rows": 1234, "autocorrelation": 0.25}}
    monkeypatch.setattr(models, "choose_family", lambda con, task, family: ("baseline",
                                                                             decision))
    con = relatron_sql.connect(":memory:")
    make_database(con, n_users=80, days=300)
    models.train(con, "user-active", family="auto")
    stored = json.loads(con.execute("SELECT route FROM relatron.models WHERE active")
                        .fetchall()[0][0])
    page = report.write(con, "user-active", tmp_path / "a.html").read_text()
    routing = _section(page, "routing")
    assert "<b>baseline</b>" in routing and html.escape(stored["reason"]) in routing
    assert 'data-value="0.3125"' in routing
    for key, value in stored["signals"].items():
        row = re.search(f"<td>{key}</td><td[^>]*data-value=\"([^\"]+)\"", routing)
        assert row and float(row.group(1)) == pytest.approx(value)
    assert "no learning curve" in _section(page, "curves")


def test_report_unknown_task_and_untrained(tmp_path):
    con = relatron_sql.connect(":memory:")
    make_database(con, n_users=60, days=300)
    with pytest.raises(relatron_sql.TaskError, match="'name'"):
        report.write(con, "nope", tmp_path / "x.html")
    with pytest.raises(relatron_sql.TrainError, match="'name'.*no trained model"):
        report.write(con, "user-active", tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()
    assert con.execute("SELECT COUNT(*) FROM relatron.models").fetchall()[0][0] == 0


def test_report_shares_match_explain_and_a_negative_importance_shows_none(trained, tmp_path):
    # RDL's permutation importance is below 0 for a source the model does better without
    version = trained.execute("SELECT version FROM relatron.models WHERE name = 'user-active' "
                              "AND active").fetchall()[0][0]
    trained.execute("UPDATE relatron.features SET importance = -0.5 WHERE name = 'user-active' "
                    "AND version = ? AND feature = 'users.age'", [version])
    page = report.write(trained, "user-active", tmp_path / "n.html").read_text()
    feats = _section(page, "features")
    widths = [float(w) for w in re.findall(r'<rect width="([^"]+)"', feats)]
    assert widths == [90.0, 0.0]
    shares = re.findall(r"</svg> ([0-9.]+)%", feats)
    explained = {e["feature"]: e["share"] for e in models.explain(trained, "user-active")}
    assert [float(s) for s in shares] == [pytest.approx(100 * explained["history_mean"]),
                                          pytest.approx(100 * explained["users.age"])]
    assert shares == ["100.0", "0.0"] and "check it for leakage" in feats


def test_report_keeps_each_familys_trials_apart(trained, tmp_path):
    # auto mode runs two families in one run, each numbering its trials from 0
    trained.execute("INSERT INTO relatron.trials SELECT name, run_id, 'other', trial, epoch, "
                    "config, train_loss, val_metric - 0.5, seconds, created_at + INTERVAL 1 "
                    "SECOND FROM relatron.trials WHERE name = 'user-active'")
    trained.execute("UPDATE relatron.trials SET created_at = created_at - INTERVAL 1 HOUR WHERE "
                    "name = 'user-active'")
    page = report.write(trained, "user-active", tmp_path / "f.html").read_text()
    search = _section(page, "search")
    n = trained.execute("SELECT COUNT(DISTINCT (family, trial)) FROM relatron.trials WHERE "
                        "name = 'user-active'").fetchall()[0][0]
    assert n == 4 and f"{n} trial(s)" in search
    table = re.search(r'id="trials-table">(.*?)</table>', search, re.S).group(1)
    assert table.count("<td>epochs</td>") == 2 and table.count("<td>other</td>") == 2
    assert "trial, in the order run" in search and "other trial" in search
    curves = _section(page, "curves")
    assert "other trial 0" in curves and "epochs trial 0" in curves


def test_report_without_scores_says_so(trained, tmp_path):
    trained.execute("UPDATE relatron.trials SET val_metric = NULL WHERE name = 'user-spend'")
    page = report.write(trained, "user-spend", tmp_path / "s.html").read_text()
    assert "trial(s) recorded no validation score" in _section(page, "search")


def test_report_card_of_an_undefined_metric_is_a_dash(trained):
    data = report.gather(trained, "user-active")
    metric = data["task"].metric
    data["baseline"]["test"][metric] = float("nan")
    page = report.render(data)
    card = re.search(r'id="card-baseline".*?<div class="big"([^>]*)>([^<]*)<', page, re.S)
    assert card.groups() == ("", "–") and ">nan<" not in page

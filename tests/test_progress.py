"""The live progress line: stage, trial, epoch, best metric, time left; interrupts."""
import io
import json

import pytest

import relatron_sql
from relatron_sql import families, models, progress
from relatron_sql.testing import make_database

from test_report import EpochFamily


@pytest.fixture
def con(tmp_path, monkeypatch):
    original = families.get
    monkeypatch.setattr(families, "get", lambda name: EpochFamily() if name == "epochs"
                        else original(name))
    c = relatron_sql.connect(str(tmp_path / "p.duckdb"))
    make_database(c, n_users=80, days=300)
    yield c
    c.close()


def _registry(con):
    return {t: con.execute("SELECT COUNT(*) FROM relatron." + t).fetchall()[0][0]
            for t in ("models", "trials", "artifacts", "features", "bank")}


def test_progress_line_follows_trials_and_epochs(con):
    out = io.StringIO()
    line = progress.ProgressLine(out, always=True)
    result = models.train(con, "user-spend", family="epochs", budget=2, time_budget=600,
                          progress=line)
    lines = out.getvalue().splitlines()
    assert any("routing" in l or "preparing" in l for l in lines)
    assert any("training epochs" in l for l in lines)
    assert any("trial 2/2" in l and "epoch 6" in l for l in lines)
    assert all("left of 10:00" in l for l in lines if "user-spend" in l)
    best = con.execute("SELECT MIN(val_metric) FROM relatron.trials WHERE name = "
                       "'user-spend'").fetchall()[0][0]
    assert f"best mae {best:.4f}" in lines[-1]
    assert result["val"]["mae"] == pytest.approx(best)


def test_dfs_trial_count_includes_the_bank_priors_it_tries(con, monkeypatch):
    prior = {"params": {"learning_rate": 0.1, "num_leaves": 7, "min_data_in_leaf": 10,
                        "feature_fraction": 0.7, "bagging_fraction": 0.9, "lambda_l2": 0.1}}
    monkeypatch.setattr(models, "_priors",
                        lambda con, decision, notes=None: {"dfs": [prior, {"bad": 1}]})
    out = io.StringIO()
    models.train(con, "user-active", family="dfs", budget=2,
                 progress=progress.ProgressLine(out, always=True))
    text = out.getvalue()
    assert "trial 3/3" in text and "/2 " not in text
    assert con.execute("SELECT COUNT(*) FROM relatron.trials WHERE name = 'user-active'"
                       ).fetchall()[0][0] == 3


def test_attached_line_reaches_sql_calls(con):
    """A line attached by the shell sees training started from SQL (inside a UDF)."""
    out = io.StringIO()
    with progress.attached(progress.ProgressLine(out, always=True)):
        con.execute("SELECT relatron_train('user-active', family := 'epochs', budget := 1)"
                    ).fetchall()
    assert "trial 1/1" in out.getvalue() and "epoch 6" in out.getvalue()
    assert progress.current() is None


def test_trials_are_visible_to_another_connection_while_training(con, tmp_path):
    seen = []

    class Watcher(progress.ProgressLine):
        def on_trial(self, **row):
            cur = con.cursor()   # another connection to the same database
            seen.append(cur.execute("SELECT COUNT(*) FROM relatron.trials WHERE name = "
                                    "'user-active'").fetchall()[0][0])
            cur.close()
            super().on_trial(**row)

    models.train(con, "user-active", family="epochs", budget=1,
                 progress=Watcher(io.StringIO()))
    assert seen == list(range(1, len(seen) + 1)) and len(seen) == 6


def test_interrupt_leaves_the_registry_as_it_was(con):
    models.train(con, "user-active", family="baseline")
    before = _registry(con)
    active = con.execute("SELECT version, family FROM relatron.models WHERE active AND name = "
                         "'user-active'").fetchall()
    line = progress.ProgressLine(io.StringIO())
    calls = []

    def on_trial(**row):
        calls.append(row)
        if len(calls) == 3:
            line.interrupt()
        progress.ProgressLine.on_trial(line, **row)

    line.on_trial = on_trial
    with pytest.raises(KeyboardInterrupt):
        models.train(con, "user-active", family="epochs", budget=3, progress=line)
    assert len(calls) == 3
    assert _registry(con) == before
    assert con.execute("SELECT version, family FROM relatron.models WHERE active AND name = "
                       "'user-active'").fetchall() == active


def test_duckdb_interrupt_of_sql_train_leaves_the_registry_as_it_was(con):
    """con.interrupt() takes effect only once the running UDF returns; training registers
    nothing until a second step of the statement, which DuckDB then never runs."""
    import duckdb
    from relatron_sql.udfs import models as sql_models

    staged = len(sql_models._STAGED)
    models.train(con, "user-active", family="baseline")
    before = _registry(con)
    active = con.execute("SELECT version, family FROM relatron.models WHERE active AND name = "
                         "'user-active'").fetchall()
    watched = []

    class Interrupting(progress.ProgressLine):
        def on_trial(self, **row):
            cur = con.cursor()   # a watcher on another connection sees the trials meanwhile
            watched.append(cur.execute("SELECT COUNT(*) FROM relatron.trials WHERE name = "
                                       "'user-active'").fetchall()[0][0])
            cur.close()
            if len(watched) == 3:
                con.interrupt()
            super().on_trial(**row)

    with progress.attached(Interrupting(io.StringIO())):
        with pytest.raises(duckdb.InterruptException):
            con.execute("SELECT relatron_train('user-active', family := 'epochs', "
                        "budget := 1)").fetchall()
    assert len(watched) == 6 and watched[-1] > before["trials"]   # it ran to the end
    assert _registry(con) == before
    assert con.execute("SELECT version, family FROM relatron.models WHERE active AND name = "
                       "'user-active'").fetchall() == active
    # the same call, not interrupted, registers through the second step
    summary = json.loads(con.execute("SELECT relatron_train('user-active', family := 'epochs', "
                                     "budget := 1)").fetchall()[0][0])
    assert summary["version"] == active[0][0] + 1
    assert _registry(con)["trials"] == before["trials"] + 6
    # only the interrupted statement's model waits, unregistered, until it is dropped as stale
    assert len(sql_models._STAGED) == staged + 1


def test_ctrl_c_during_evaluation_registers_nothing(con):
    import duckdb

    models.train(con, "user-active", family="baseline")
    before = _registry(con)

    class LateInterrupt(progress.ProgressLine):
        def __call__(self, message):
            super().__call__(message)
            if message == "evaluating":
                self.interrupt()   # after the last check inside the search

    with progress.attached(LateInterrupt(io.StringIO())):
        with pytest.raises((KeyboardInterrupt, duckdb.Error), match="interrupted"):
            con.execute("SELECT relatron_train('user-active', family := 'epochs', "
                        "budget := 1)").fetchall()
    assert _registry(con) == before


def test_one_statement_trains_several_tasks_and_too_many_is_a_clear_error(con, monkeypatch):
    import duckdb
    from relatron_sql.udfs import models as sql_models

    many = ("SELECT n, relatron_train(n, family := 'baseline') AS summary "
            "FROM (VALUES ('user-active'), ('user-spend')) AS t(n) ORDER BY n")
    rows = con.execute(many).fetchall()
    assert [(n, json.loads(s)["name"], json.loads(s)["version"]) for n, s in rows] == [
        ("user-active", "user-active", 1), ("user-spend", "user-spend", 1)]
    monkeypatch.setattr(sql_models, "_MAX_STAGED", 1)
    with pytest.raises(duckdb.Error, match="dropped before it could be registered.*fewer tasks"):
        con.execute(many.replace("'baseline'", "'baseline', retrain := true")).fetchall()


def test_text_without_time_budget_shows_elapsed():
    line = progress.ProgressLine(io.StringIO(), always=True)
    line.begin("t", "dfs", 5, None, "auroc", True)
    line.on_trial(trial=0, val_metric=0.61)
    line.on_trial(trial=1, val_metric=0.58)
    text = line.text()
    assert "trial 2/5" in text and "best auroc 0.6100" in text and "elapsed" in text
    line.begin("t", "dfs", 5, None, "mae", False)
    line.on_trial(trial=0, val_metric=3.0)
    line.on_trial(trial=1, val_metric=2.0)
    assert "best mae 2.0000" in line.text()


def test_searching_both_families_counts_each_family_to_its_own_plan():
    line = progress.ProgressLine(io.StringIO(), always=True)
    line.begin("t", "both", {"dfs": 22, "rdl": 5}, None, "auroc", True)
    line.on_trial(trial=3, val_metric=0.7, family="dfs")
    assert "dfs" in line.text() and "trial 4/22" in line.text()
    line.on_trial(trial=0, epoch=2, val_metric=0.6, family="rdl")
    assert "trial 1/5" in line.text() and "epoch 3" in line.text()


def test_notes_print_one_line_per_message_without_tracebacks():
    import logging
    import warnings

    out = io.StringIO()
    line = progress.ProgressLine(out, always=True)
    with progress.notes(line):
        logging.getLogger("relatron_sql.dfs").warning("left out %s", "airports.name")
        warnings.warn("a library warning")
        try:
            raise KeyboardInterrupt("interrupted")
        except KeyboardInterrupt:
            logging.getLogger("optuna.study").warning("Trial 0 failed", exc_info=True)
        logging.getLogger("optuna.study").warning("Trial 0 failed with value None.")
        logging.getLogger("relatron_sql.dfs").warning("twice")
        warnings.warn("twice")
    assert out.getvalue().splitlines() == ["warning: left out airports.name",
                                           "warning: a library warning", "warning: twice"]
    assert logging.getLogger("relatron_sql").handlers == []


def test_ctrl_c_inside_a_call_fails_its_statement_in_words_and_registers_nothing(con,
                                                                                 monkeypatch):
    """Where DuckDB runs a call on the main thread, Ctrl-C raises KeyboardInterrupt inside it:
    the statement fails with one line, not a traceback of whatever the search was doing."""
    import duckdb
    make_database(con, n_users=40, days=300)
    before = _registry(con)

    def pressed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(models, "train", pressed)
    with pytest.raises(duckdb.Error) as caught:
        con.execute("SELECT relatron_train('user-active', family := 'baseline')").fetchall()
    assert str(caught.value).endswith("RelatronError: interrupted; the registry is left as it was")
    assert _registry(con) == before

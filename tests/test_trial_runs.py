"""Each model names the run whose rows in ``relatron.trials`` made it; rows of a run that
registered nothing (a process killed outright) are cleared when the task is next trained."""
import io
import os
import pathlib
import subprocess
import sys
import textwrap

import duckdb
import pytest

import relatron_sql
from relatron_sql import families, models, report
from relatron_sql.testing import make_database

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _runs(con, name):
    """run_id -> number of trial rows, and the run_id of every model, by version."""
    trials = dict(con.execute("SELECT run_id, COUNT(*) FROM relatron.trials WHERE name = ? "
                              "GROUP BY run_id", [name]).fetchall())
    owners = [r for r, in con.execute("SELECT run_id FROM relatron.models WHERE name = ? "
                                      "ORDER BY version", [name]).fetchall()]
    return trials, owners


_KILLED = textwrap.dedent("""
    import os, signal, sys
    import relatron_sql
    from relatron_sql import families, models
    from relatron_sql.testing import make_database

    class Killed:
        name = "killed"
        default_budget = 1

        def fit(self, con, task, options):
            options.trial_log(trial=0, epoch=0, val_metric=0.5)
            options.trial_log(trial=0, epoch=1, val_metric=0.6)
            os.kill(os.getpid(), signal.SIGKILL)   # as kill -9 from outside would

    original = families.get
    families.get = lambda name: Killed() if name == "killed" else original(name)
    con = relatron_sql.connect(sys.argv[1])
    make_database(con, n_users=60, days=300)
    models.train(con, "user-active", family="baseline")
    models.train(con, "user-active", family="killed")
""")


def test_rows_of_a_killed_process_go_when_the_task_is_next_trained(tmp_path):
    path = str(tmp_path / "k.duckdb")
    done = subprocess.run([sys.executable, "-c", _KILLED, path], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == -9, done.stderr
    con = relatron_sql.connect(path)
    trials, owners = _runs(con, "user-active")
    assert len(owners) == 1 and len(trials) == 2   # the baseline's run and the killed one
    killed = next(r for r in trials if r not in owners)
    assert trials[killed] == 2
    models.train(con, "user-active", family="baseline", retrain=True)
    trials, owners = _runs(con, "user-active")
    assert killed not in trials   # cleared; the registered models keep their runs' rows
    assert len(owners) == 2 and set(trials) == set(owners) and all(trials.values())
    con.close()


class _Nested:
    """Logs a trial, then a second training of the same task runs and registers (as another
    thread of the process could) before this one goes on."""
    name = "nested"
    default_budget = 1

    def fit(self, con, task, options):
        options.trial_log(trial=0, val_metric=0.5)
        models.train(con, task.name, family="baseline", retrain=True)
        options.trial_log(trial=1, val_metric=0.6)
        return families.get("baseline").fit(con, task, options)


def test_a_run_still_searching_keeps_its_rows(tmp_path, monkeypatch):
    original = families.get
    monkeypatch.setattr(families, "get", lambda name: _Nested() if name == "nested"
                        else original(name))
    con = relatron_sql.connect(str(tmp_path / "n.duckdb"))
    make_database(con, n_users=60, days=300)
    models.train(con, "user-active", family="nested")
    trials, owners = _runs(con, "user-active")
    # the inner training cleared nothing of the outer run, which went on and registered
    assert len(owners) == 2 and set(trials) == set(owners)
    assert trials[owners[1]] == 3   # its two rows and the baseline's own
    con.close()


def test_the_report_shows_the_models_own_run(tmp_path):
    con = relatron_sql.connect(str(tmp_path / "r.duckdb"))
    make_database(con, n_users=60, days=300)
    models.train(con, "user-active", family="baseline")
    # rows of another run, written after this model's run but before it registered (a search
    # in another thread, later killed): the last run before the model is not the model's run
    con.execute("INSERT INTO relatron.trials (name, run_id, family, trial, val_metric, "
                "created_at) SELECT name, 'elsewhere', 'dfs', 7, 0.99, m.created_at FROM "
                "relatron.models AS m WHERE name = 'user-active'")
    shown = report.gather(con, "user-active")["trials"]
    assert [(t["family"], t["trial"]) for t in shown] == [("baseline", 0)]
    con.close()


def test_a_registry_from_before_models_named_their_run(tmp_path):
    path = str(tmp_path / "old.duckdb")
    con = relatron_sql.connect(path)
    make_database(con, n_users=60, days=300)
    models.train(con, "user-active", family="baseline")
    models.train(con, "user-spend", family="baseline")
    expected = _runs(con, "user-active")
    con.close()
    plain = duckdb.connect(path)
    plain.execute("ALTER TABLE relatron.models DROP COLUMN run_id")
    plain.close()
    # read-only, it is not brought up to date: the report finds the run by time
    ro = relatron_sql.connect(path, read_only=True)
    assert [t["family"] for t in report.gather(ro, "user-active")["trials"]] == ["baseline"]
    ro.close()
    # opened for writing, each model gets its run back
    con = relatron_sql.connect(path)
    assert _runs(con, "user-active") == expected
    assert all(_runs(con, "user-spend")[1])
    con.close()

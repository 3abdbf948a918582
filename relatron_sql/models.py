"""Training, registering, predicting with and explaining models, whatever their family.

``train`` is idempotent per call arguments: when the active model of a task was trained with
the same family, budget, seed and device on the same data, it is returned as it is (a lazy
DuckDB relation may run a UDF twice); pass ``retrain=True`` to train again.
"""
from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import functools
import hashlib
import importlib.metadata
import json
import logging
import math
import pickle
import time
import uuid

import duckdb
import numpy as np
from sqlglot import exp

from . import families, metrics, registry
from . import progress as progress_mod
from .errors import TrainError, bad_argument
from .families import FitOptions, Fitted, Rows
from .schema import declarations, read_schema, table_columns
from .sqlbuild import column, render, table as table_ref
from .task import SPLITS, Task, check_entity_table, check_learnable, load_task, task_rows

log = logging.getLogger(__name__)

DEVICES = ("cpu", "cuda")
_LIBRARIES = ("duckdb", "sqlglot", "numpy", "lightgbm", "optuna", "torch", "torch-geometric",
              "numba", "relatron")


def library_versions() -> dict[str, str]:
    out = {}
    for lib in _LIBRARIES:
        try:
            out[lib] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def data_fingerprint(con, task: Task) -> str:
    """Hash of what a model of the task learns from: the task's definition and rows, and every
    linked table's keys, time column, columns with their types, and contents (an
    order-independent sum of row hashes: an UPDATE changes it as an INSERT does). Where a
    linked table has a TIMESTAMPTZ column, the session's TimeZone too: such a column is read
    in it, so another zone gives other features."""
    schema = read_schema(con, count_dangling=False)
    parts = [task.name, json.dumps(task.counts, sort_keys=True), task.label_sql,
             str(con.execute("SELECT SUM(hash(*COLUMNS(*))) FROM relatron.task_rows WHERE "
                             "task = ?", [task.name]).fetchall()[0][0])]
    for name in schema.component(task.entity):
        t = schema.tables[name]
        contents = con.execute(render("SELECT COUNT(*), SUM(hash(*COLUMNS(*))) FROM :t",
                                      t=table_ref(name))).fetchall()[0]
        parts.append(json.dumps([name, t.primary_key, sorted(t.foreign_keys.items()),
                                 t.time_column, [(c.name, c.dtype) for c in t.columns],
                                 str(contents)]))
        if any(c.dtype.upper() == "TIMESTAMP WITH TIME ZONE" for c in t.columns):
            parts.append("TimeZone=" + str(con.execute(
                "SELECT current_setting('TimeZone')").fetchall()[0][0]))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def split_rows(con, task: Task, split: str) -> Rows:
    r = task_rows(con, task.name, split)
    return Rows(r["anchor_time"], r["entity_id"], r["split"], r["label"])


def check_device(device: str) -> str:
    if device not in DEVICES:
        raise bad_argument("device", f"unknown device {device!r}", DEVICES, TrainError)
    if device == "cuda":
        import torch
        if not torch.cuda.is_available():
            raise bad_argument("device", "'cuda' was asked for but no CUDA GPU is visible to "
                               "torch on this machine", ["cpu"], TrainError)
    return device


def choose_family(con, task: Task, family: str) -> tuple[str, dict | None]:
    """The family to train and, when routed, the routing decision.

    ``auto`` routes among the families that are installed: with none beyond the baseline it
    takes the baseline, and a routed family that is not installed gives way to one that is;
    the decision says why. A named family is returned as it is: :func:`train` has checked it
    (``families.trainable``) before any work on the data.
    """
    if family != "auto":
        return family, None
    installed = [name for name in ("dfs", "rdl") if _importable(name)]
    if not installed:
        return "baseline", {"family": "baseline", "reason": "neither dfs nor rdl is installed: "
                            "entity history mean"}
    try:
        from .route import router
        decision = router.route(con, task.name)
    except ImportError as e:   # the router, or a library it needs, is not installed
        log.warning("routing unavailable (%s); choosing a family without it", e)
        return installed[0], {"family": installed[0], "reason": "no router available; "
                              f"{installed[0]} is the first installed family"}
    routed = decision["family"]
    missing = [n for n in (("dfs", "rdl") if routed == "both" else (routed,))
               if n in ("dfs", "rdl") and n not in installed]
    if missing:
        decision = {**decision, "routed_family": routed, "family": installed[0],
                    "reason": f"routed to {routed}, but {' and '.join(missing)} is not "
                              f"installed: {installed[0]}"}
    return decision["family"], decision


def _importable(name: str) -> bool:
    try:
        families.get(name)
    except TrainError:
        return False
    return True


def train(con: duckdb.DuckDBPyConnection, name: str, family: str = "auto",
          budget: int | None = None, seed: int = 0, device: str = "cpu",
          time_budget: float | None = None, retrain: bool = False,
          progress=None, defer: bool = False):
    """Search, select and register a model for task ``name``; returns a summary with metrics.

    With ``defer``, nothing is left in the registry when the search ends: the trial rows
    written for watchers are taken back out, and what is returned is ``commit(con)``, which
    puts them back, registers the model in one transaction and returns the summary. The SQL
    function calls it from a second step of the same statement, so that an interrupt of that
    statement (DuckDB stops between the two steps) leaves the registry as it was.
    """
    task = load_task(con, name)
    progress = progress if progress is not None else progress_mod.current()
    # written as ``not (x > 0)`` so that NaN is refused too
    if budget is not None and not (budget > 0 and math.isfinite(budget)):
        raise bad_argument("budget", f"must be a positive number of trials, got {budget}", None,
                           TrainError)
    if time_budget is not None and not (time_budget > 0 and math.isfinite(time_budget)):
        raise bad_argument("time_budget", f"must be positive, finite seconds (NULL for no "
                           f"limit), got {time_budget}", None, TrainError)
    seed = 0 if seed is None else seed   # as the SQL function reads a NULL seed
    if not (0 <= seed <= 2**31 - 1):
        raise bad_argument("seed", f"must be from 0 to 2,147,483,647 (it seeds the search and "
                           f"the models), got {seed}", None, TrainError)
    check_device(device)
    if family != "auto":   # before any work on the data
        families.trainable(family)
    for split in SPLITS:
        if not task.counts.get(split, {}).get("rows"):
            raise bad_argument("name", f"task {name!r} has no {split} rows; redefine it with "
                               "other timestamps", None, TrainError)
    check_entity_table(con, task)
    check_learnable(con, task)
    fingerprint = data_fingerprint(con, task)
    # what the caller asked for, so that a call reuses only a model searched as it asks: in
    # auto mode, the budget as given, whatever routing decides (a call that was reused must
    # stay reused when the bank grows and routing moves); a named family's default budget is
    # the same call as no budget
    asked = budget if family == "auto" else budget or families.get(family).default_budget
    call = {"family": family, "budget": asked, "seed": seed, "device": device,
            "time_budget": time_budget}
    if not retrain:   # before routing, which a reused model does not need
        previous = _same_call(con, name, call, fingerprint)
        if previous is not None:
            return (lambda _con: previous) if defer else previous
    if progress is not None:
        progress("routing" if family == "auto" else "preparing")
    chosen, decision = choose_family(con, task, family)
    prior_notes: list[str] = []
    priors = _priors(con, decision, prior_notes)
    fam = _Both(priors, budget) if chosen == "both" else families.get(chosen)
    budget = budget or fam.default_budget
    # said before the search, not when registering
    registry.refuse_read_only(con, f"relatron_train registers a model of task {name!r} (no "
                              "registered one fits this call)", TrainError)
    run_id = uuid.uuid4().hex[:12]
    started = time.perf_counter()
    trial_log = _TrialLog(con, name, run_id, chosen, getattr(progress, "on_trial", None))
    trial_log.clear_abandoned()
    options = FitOptions(budget=budget, seed=seed, device=device, time_budget=time_budget,
                         trial_log=trial_log, progress=progress or (lambda message: None),
                         priors=priors.get(chosen, []))
    if hasattr(progress, "begin"):
        progress.begin(name, chosen, _planned_trials(fam, budget, priors, task.kind),
                       time_budget, task.metric, task.higher_is_better)
    try:
        if progress is not None:
            progress(f"training {chosen}")
        fitted = fam.fit(con, task, options)
        chosen = fitted.extra.get("family", chosen)
        if progress is not None:
            progress("evaluating")
        splits = {split: split_rows(con, task, split) for split in ("val", "test")}
        # each model scores each split once: a blend's members are scored for the blend and
        # for the bank, and when both families were searched, the blend step has scored each
        # on validation already, blend kept or not
        scored = {(m, "val"): p for m, p in fitted.extra.pop("member_val", {}).items()}

        def predictions(key: str, model, split: str) -> np.ndarray:
            if (key, split) not in scored:
                combine = getattr(model, "combine", None)   # a blend
                scored[(key, split)] = (
                    combine({m: predictions(m, sub, split) for m, sub in model.members.items()})
                    if combine is not None else model.predict(con, task, splits[split]))
            return scored[(key, split)]

        def scores_of(key: str, model) -> dict:
            return {split: metrics.evaluate(task.kind, rows.label, predictions(key, model, split))
                    for split, rows in splits.items()}

        scores = scores_of(chosen, fitted.model)
        # searched beside the kept one (auto mode over both families; a blend's members): its
        # result goes to the bank, so that later routing in this database learns which won here
        not_kept = []
        for other, f in fitted.extra.pop("not_kept", {}).items():
            try:
                not_kept.append((other, f.config, scores_of(other, f.model)))
            except (duckdb.Error, TrainError, ValueError, RuntimeError) as e:
                # the kept model stands; only the bank's record of this task is incomplete
                log.warning("%s: the %s model not kept could not be scored for the bank: %s",
                            name, other, e)
        seconds = time.perf_counter() - started
        kept = dataclasses.replace(fitted, model=None)   # what registering needs, no model
        register = functools.partial(_register, task=task, family=chosen, fitted=kept,
                                     scores=scores, seed=seed, fingerprint=fingerprint,
                                     seconds=seconds, decision=decision, call=call,
                                     not_kept=not_kept, run_id=run_id)
        fitted.extra["warnings"] = [*_prior_warnings(prior_notes, chosen, isinstance(fam, _Both)),
                                    *fitted.extra.get("warnings", ())]
        warnings = list(fitted.extra["warnings"])
        for w in warnings:
            log.warning("%s: %s", name, w)
        summary = {"name": name, "family": chosen, "route": decision, "metric": task.metric,
                   "val": scores["val"], "test": scores["test"], "config": fitted.config,
                   "warnings": warnings, "seconds": round(seconds, 2)}
        if defer:
            trials = trial_log.take()
        else:
            return {**summary, "version": register(con)}
    except BaseException:
        trial_log.discard()
        raise
    finally:
        trial_log.close()

    def commit(con2) -> dict:
        with registry.transaction(con2) as cur:
            _TrialLog.restore(cur, trials)
            return {**summary, "version": register(cur)}
    return commit


class _TrialLog:
    """Writes each trial or epoch to ``relatron.trials`` at once, so others can watch.

    A run's rows stay when it registers a model (``relatron.models.run_id`` names the run) and
    go when it fails or is interrupted. A process killed outright leaves them: they are cleared
    when the task is next trained (:meth:`clear_abandoned`).
    """

    #: runs of this process that may have rows in ``relatron.trials`` and no model yet (no
    #: other process can write to a database file this one has open). A run joins before its
    #: first row is written, and :meth:`clear_abandoned` reads it under the registry's lock,
    #: which every row's writer holds, so it never removes a running search's rows.
    _live: set[str] = set()

    def __init__(self, con, name: str, run_id: str, family: str, watch=None):
        self.con, self.name, self.run_id, self.family = con, name, run_id, family
        self.watch = watch   # told of every row written (a progress line)

    def clear_abandoned(self) -> None:
        """Remove the task's rows of runs that registered no model and are not running here."""
        with registry.transaction(self.con) as cur:
            cur.execute("DELETE FROM relatron.trials WHERE name = ? AND NOT list_contains("
                        "?::VARCHAR[], run_id) AND run_id NOT IN (SELECT run_id FROM "
                        "relatron.models WHERE name = ? AND run_id IS NOT NULL)",
                        [self.name, sorted(_TrialLog._live), self.name])

    def close(self) -> None:
        """The run is over: its rows are with its model, gone, or (deferred) taken out."""
        _TrialLog._live.discard(self.run_id)

    def __call__(self, trial: int, epoch: int | None = None, config: dict | None = None,
                 train_loss: float | None = None, val_metric: float | None = None,
                 seconds: float | None = None, family: str | None = None) -> None:
        _TrialLog._live.add(self.run_id)
        with registry.transaction(self.con) as cur:
            cur.execute("INSERT INTO relatron.trials (name, run_id, family, trial, epoch, config,"
                        " train_loss, val_metric, seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [self.name, self.run_id, family or self.family, trial, epoch,
                         None if config is None else registry.to_json(config),
                         _finite(train_loss), _finite(val_metric), seconds])
        if self.watch is not None:
            self.watch(trial=trial, epoch=epoch, val_metric=_finite(val_metric),
                       family=family or self.family)

    def discard(self) -> None:
        with registry.transaction(self.con) as cur:
            cur.execute("DELETE FROM relatron.trials WHERE run_id = ?", [self.run_id])

    def take(self) -> list[tuple]:
        """This run's rows, removed from the table (see :meth:`restore`)."""
        with registry.transaction(self.con) as cur:
            rows = cur.execute("SELECT * FROM relatron.trials WHERE run_id = ?",
                               [self.run_id]).fetchall()
            cur.execute("DELETE FROM relatron.trials WHERE run_id = ?", [self.run_id])
        return rows

    @staticmethod
    def restore(cur, rows: list[tuple]) -> None:
        """Put back rows from :meth:`take` (every column, in table order)."""
        if rows:
            cur.executemany("INSERT INTO relatron.trials VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            rows)


def _finite(x):
    return None if x is None or not np.isfinite(x) else float(x)


def _same_call(con, name: str, call: dict, fingerprint: str) -> dict | None:
    rows = con.execute("SELECT version, family, config, metrics, seconds, route FROM "
                       "relatron.models WHERE name = ? AND active AND data_fingerprint = ?",
                       [name, fingerprint]).fetchall()
    if not rows:
        return None
    version, family, config, stored, seconds, route = rows[0]
    stored = json.loads(stored)
    if stored.get("call") != call:
        return None
    return {"name": name, "version": version, "family": family, "route": json.loads(route or
            "null"), "metric": stored["metric"], "val": stored["val"], "test": stored["test"],
            "config": json.loads(config), "warnings": stored.get("warnings", []),
            "seconds": seconds, "reused": True}


def _register(con, *, task: Task, family: str, fitted, scores, seed, fingerprint, seconds,
              decision, call, run_id, not_kept=()) -> int:
    with registry.transaction(con) as cur:
        version = cur.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM relatron.models "
                              "WHERE name = ?", [task.name]).fetchall()[0][0]
        cur.execute("UPDATE relatron.models SET active = false WHERE name = ?", [task.name])
        stored = {"metric": task.metric, "val": scores["val"], "test": scores["test"],
                  "call": call, "warnings": list(fitted.extra.get("warnings", ()))}
        cur.execute("INSERT INTO relatron.models (name, version, active, family, config, metrics,"
                    " seed, data_fingerprint, library_versions, seconds, status, route, run_id) "
                    "VALUES (?, ?, true, ?, ?, ?, ?, ?, ?, ?, 'ready', ?, ?)",
                    [task.name, version, family, registry.to_json(fitted.config),
                     registry.to_json(stored), seed, fingerprint,
                     registry.to_json(library_versions()), seconds,
                     None if decision is None else registry.to_json(decision), run_id])
        for part, (fmt, payload) in fitted.artifacts.items():
            cur.execute("INSERT INTO relatron.artifacts VALUES (?, ?, ?, ?, ?)",
                        [task.name, version, part, fmt, payload])
        for f in fitted.features:
            cur.execute("INSERT INTO relatron.features VALUES (?, ?, ?, ?, ?, ?)",
                        [task.name, version, f["feature"], f.get("importance"),
                         f.get("description"), f.get("sql")])
        from .route.bank import test_key
        key = test_key(task)   # the router leaves out a task's own record by this key
        signals = (decision or {}).get("signals") or _recorded_signals(cur, task.name, key)
        if signals is not None:
            signals = {**signals, "test_key": key}
        # a blend's row would be of no family the bank compares: its members' rows stand in
        for name, config, result in [(family, fitted.config, scores), *not_kept]:
            if name == "blend":
                continue
            cur.execute("INSERT INTO relatron.bank (task, database, signals, family, config, "
                        "val_metric, test_metric, source) VALUES (?, ?, ?, ?, ?, ?, ?, 'user')",
                        [task.name, task.entity, None if signals is None else
                         registry.to_json(signals), name, registry.to_json(config),
                         _finite(metrics.primary(task.kind, result["val"])),
                         _finite(metrics.primary(task.kind, result["test"]))])
    return int(version)


def _recorded_signals(cur, name: str, key: str) -> dict | None:
    """The routing signals an earlier auto-mode training of the same task definition recorded
    (the same test key), for a training with a named family, which routes nothing: its bank row
    then joins the rows later routing and search priors read. None when there are none."""
    for (text,) in cur.execute("SELECT signals FROM relatron.bank WHERE task = ? AND signals "
                               "IS NOT NULL ORDER BY created_at DESC", [name]).fetchall():
        try:
            signals = json.loads(text)
        except ValueError:
            continue
        if isinstance(signals, dict) and signals.get("test_key") == key:
            return {k: v for k, v in signals.items() if k != "test_key"}
    return None


def active_model(con, name: str, load: bool = True, task_rows: bool = True):
    """(task, version, family, model object) of the active model of task ``name``; the model
    is ``None`` unless ``load`` (a loaded model is for scoring, so the entity table must be
    there, and, when the task's own rows are to be scored, ``task_rows``, every entity row
    they name)."""
    task = load_task(con, name)
    rows = con.execute("SELECT version, family, config FROM relatron.models WHERE name = ? AND "
                       "active", [name]).fetchall()
    if not rows:
        raise _no_active_model(con, name)
    version, family, config = rows[0]
    if not load:
        return task, int(version), family, None
    check_entity_table(con, task, task_rows)
    loader = _loader(name, version, family)
    artifacts = {part: bytes(payload) for part, payload in con.execute(
        "SELECT part, payload FROM relatron.artifacts WHERE name = ? AND version = ?",
        [name, version]).fetchall()}
    try:
        model = loader.load(json.loads(config), artifacts)
    except (TrainError, duckdb.Error):
        raise
    except Exception as e:   # noqa: BLE001: any failure to read stored bytes means the same
        # a missing or altered artifact: the library's own error (torch's advises loading
        # with weights_only=False) is not what to do here
        detail = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:200]
        if isinstance(e, pickle.UnpicklingError):   # torch's text advises the unsafe way
            detail = "weights that do not load as a plain torch state dict"
        raise bad_argument("name", f"the stored model of task {name!r} (version {version}) "
                           f"cannot be read ({detail.rstrip(': ')}); retrain it with "
                           f"relatron_train({name!r}, retrain := true)", None,
                           TrainError) from None
    return task, int(version), family, model


def _loader(name: str, version: int, family: str):
    """The family that loads a stored model, and those of a blend's members: a model trained
    where other families or their libraries were installed is named as such."""
    def get(needed: str, what: str):
        try:
            return families.get(needed)
        except TrainError as e:
            reason = (str(e).split(" is not available ", 1)[1] if " is not available " in str(e)
                      else "(this version does not know it)")
            raise bad_argument("name", f"the model of task {name!r} (version {version}) is "
                               f"{what}, and {needed} is not available here {reason}; install "
                               "it, or retrain with another family", None, TrainError) from None

    loader = get(family, f"a {family} model")
    members = getattr(loader, "members", ())
    for member in members:
        get(member, f"a {family} of {' and '.join(members)}")
    return loader


def _no_active_model(con, name: str) -> Exception:
    """The error for a task without an active model: never trained, or trained on a definition
    that relatron_task(..., replace := true) has since changed (its models are kept, inactive)."""
    last, = con.execute("SELECT MAX(version) FROM relatron.models WHERE name = ?",
                        [name]).fetchall()[0]
    if last is None:
        return bad_argument("name", f"task {name!r} has no trained model yet; run "
                            f"relatron_train({name!r}) first", None, TrainError)
    return bad_argument("name", f"task {name!r} was redefined after its last training (version "
                        f"{last}): its models were trained on the earlier definition; train it "
                        f"again with relatron_train({name!r})", None, TrainError)


def score(con, task: Task, version: int, model, rows: Rows) -> np.ndarray:
    """The model's predictions for ``rows``. A model reads the tables and columns it was
    trained on: one that was dropped or renamed since is named, with what to do."""
    if not len(rows):
        return np.array([])
    try:
        return model.predict(con, task, rows)
    except (duckdb.BinderException, duckdb.CatalogException, duckdb.ConversionException) as e:
        # DuckDB names a missing column, or (for a compiled feature query) only an alias; a
        # column retyped since (DOUBLE reloaded as TIMESTAMP) fails its cast
        detail = str(e).split("\n")[0].split(": ", 1)[-1]
        detail = f" ({detail})" if "column" in detail else ""
        raise bad_argument("name", f"the model of task {task.name!r} (version {version}) reads "
                           "a table or column the database no longer has as it had when the "
                           f"model was trained{detail}; restore it, or retrain with "
                           f"relatron_train({task.name!r}, retrain := true)", None,
                           TrainError) from None


def _entity_time_column(con, task: Task, model) -> str | None:
    """The time column ``model`` dates the entity's rows by: the one it was trained with where
    it keeps it (a DFS feature plan, an RDL model's time columns), else today's declaration."""
    own = getattr(model, "entity_time_column", None)
    known, column = own(task) if own is not None else (False, None)
    if not known:
        return declarations(con).get(task.entity, {}).get("time_column")
    if column is not None and column not in {c for c, _ in table_columns(con, task.entity)}:
        raise bad_argument("name", f"the model of task {task.name!r} dates {task.entity} rows "
                           f"by column {column!r}, which the table no longer has; restore it, "
                           f"or retrain with relatron_train({task.name!r}, retrain := true)",
                           None, TrainError)
    return column


def _fresh_rows(con, task: Task, anchor_time, time_col: str | None) -> Rows:
    """Every entity that exists at ``anchor_time``: each row of a static entity table; of a
    timed one (``time_col``), the rows whose time is at or before it (a NULL time never is, as
    for features)."""
    # the column as it is, compared as features compare it: a cast to TIMESTAMP would move a
    # nanosecond time just after the anchor onto it
    exists = exp.true() if time_col is None else exp.LTE(
        this=column(time_col), expression=exp.cast(exp.Placeholder(), "TIMESTAMP"))
    ids = con.execute(render("SELECT DISTINCT CAST(:k AS VARCHAR) FROM :t WHERE :w ORDER BY 1",
                             k=task.entity_key, t=table_ref(task.entity), w=exists),
                      [anchor_time] if time_col else []).fetchall()
    if not ids:
        earliest = exp.Null() if time_col is None else exp.Min(
            this=exp.cast(column(time_col), "TIMESTAMP"))
        n, first = con.execute(render("SELECT COUNT(*), :f FROM :t", f=earliest,
                                      t=table_ref(task.entity))).fetchall()[0]
        when = (f"table {task.entity} has no rows" if n == 0 else
                f"the earliest {time_col} is {first}" if first is not None else
                f"every {time_col} is NULL, so no row ever exists")
        raise bad_argument("anchor_time", f"no {task.entity} row exists at {anchor_time} "
                           f"({when})", None, TrainError)
    if time_col is not None:
        undated, = con.execute(render("SELECT COUNT(DISTINCT :k) FROM :t WHERE :c IS NULL",
                                      k=task.entity_key, t=table_ref(task.entity),
                                      c=time_col)).fetchall()[0]
        if undated:
            log.warning("%s: %d rows have a NULL %s and are not scored at %s (no anchor ever "
                        "sees them)", task.entity, undated, time_col, anchor_time)
    ids = np.array([r[0] for r in ids], dtype=object)
    times = np.array([anchor_time] * len(ids), dtype="datetime64[us]")
    return Rows(times, ids)


def predict(con: duckdb.DuckDBPyConnection, name: str, split: str | None = "test",
            anchor_time: dt.datetime | None = None, defer: bool = False):
    """Score a split (or every entity at ``anchor_time``) into ``relatron.predictions``.

    With ``anchor_time``, ``split`` is None or its default 'test' (a split's own rows are not
    scored then, so naming another is refused). Returns the number of rows written; with
    ``defer``, nothing is written and what is returned is ``commit(con)``, which writes them
    (one transaction) and returns that number. The SQL function calls it from a second step of
    its statement, so that a statement over several tasks writes nothing when one of them
    fails.
    """
    if split is None and anchor_time is None:
        raise bad_argument("split", "is NULL; give a split or an anchor_time", SPLITS, TrainError)
    if split is not None and split not in SPLITS:
        raise bad_argument("split", f"unknown split {split!r}", SPLITS, TrainError)
    if split not in (None, "test") and anchor_time is not None:  # 'test' is the default
        raise bad_argument("split", f"{split!r} and an anchor_time: give one (predictions at an "
                           "anchor_time score every entity, stored as split 'fresh')", None,
                           TrainError)
    # said before scoring, not when writing the scores
    registry.refuse_read_only(con, f"relatron_predict writes task {name!r}'s predictions into "
                              "relatron.predictions", TrainError,
                              "read the ones written with relatron_predictions")
    if anchor_time is not None and anchor_time == dt.datetime.max:  # 'infinity' reads as this
        raise bad_argument("anchor_time", "must be before 9999-12-31 23:59:59.999999 (as "
                           "'infinity' reads); got that or infinity", None, TrainError)
    task, version, _, model = active_model(con, name, task_rows=anchor_time is None)
    if anchor_time is not None:
        rows = _fresh_rows(con, task, anchor_time, _entity_time_column(con, task, model))
        label = "fresh"
    else:
        rows, label = split_rows(con, task, split), split
    values = score(con, task, version, model, rows)
    import pyarrow as pa
    batch = pa.table({"entity_id": pa.array(rows.entity_id.astype(str)),
                      "anchor_time": pa.array(rows.anchor_time.astype("datetime64[us]")),
                      "prediction": pa.array(np.asarray(values, dtype=float))})

    def commit(con2) -> int:
        with registry.transaction(con2) as cur:
            if anchor_time is None:
                cur.execute("DELETE FROM relatron.predictions WHERE name = ? AND split = ?",
                            [name, label])
            else:
                cur.execute("DELETE FROM relatron.predictions WHERE name = ? AND split = ? AND "
                            "anchor_time = ?", [name, label, anchor_time])
            cur.register("relatron_new_predictions", batch)
            try:
                cur.execute("INSERT INTO relatron.predictions (name, entity_id, anchor_time, "
                            "split, prediction, model_version) SELECT ?, entity_id, anchor_time,"
                            " ?, prediction, ? FROM relatron_new_predictions",
                            [name, label, version])
            finally:
                cur.unregister("relatron_new_predictions")
        return batch.num_rows
    return commit if defer else commit(con)


def evaluate(con: duckdb.DuckDBPyConnection, name: str, split: str = "test") -> dict:
    """Metrics of the active model on ``split``, beside the entity-history baseline."""
    if split not in SPLITS:
        raise bad_argument("split", f"unknown split {split!r}", SPLITS, TrainError)
    task, version, family, model = active_model(con, name)
    rows = split_rows(con, task, split)
    out = metrics.evaluate(task.kind, rows.label, score(con, task, version, model, rows))
    return {"name": name, "split": split, "version": version, "family": family,
            "metric": task.metric, "metrics": out, "baseline": baseline_metrics(con, task, rows)}


def baseline_metrics(con, task: Task, rows: Rows) -> dict:
    """Metrics of the entity-history baseline on ``rows`` (labels included)."""
    from .baseline import HistoryMean
    mean = con.execute("SELECT AVG(label) FROM relatron.task_rows WHERE task = ? AND split = "
                       "'train'", [task.name]).fetchall()[0][0] or 0.0
    return metrics.evaluate(task.kind, rows.label,
                            HistoryMean(float(mean)).predict(con, task, rows))


def explain(con: duckdb.DuckDBPyConnection, name: str) -> list[dict]:
    """Feature (or source column) importances of the active model, most important first."""
    task, version, family, _ = active_model(con, name, load=False)
    rows = con.execute("SELECT feature, importance, description, sql FROM relatron.features "
                       "WHERE name = ? AND version = ? ORDER BY importance DESC NULLS LAST, "
                       "feature", [name, version]).fetchall()
    # RDL's importances are drops in validation score when a source is permuted, and one that
    # the model does better without is negative: shares are of the positive total, so they lie
    # in [0, 1] and sum to 1, and a negative importance has none
    # the leakage warning is judged within each model: a blend's member weights would hide it
    # (its features are named "dfs: ..." and "rdl: ...")
    def member(feature: str) -> str:
        return feature.split(": ", 1)[0] if family == "blend" else ""
    positive = collections.Counter()   # model -> its positive importance
    counts = collections.Counter()     # model -> its features
    for feature, importance, *_ in rows:
        positive[member(feature)] += max(importance or 0.0, 0.0)
        counts[member(feature)] += 1
    total = sum(positive.values()) or 1.0
    out = []
    for feature, importance, description, sql in rows:
        share = max(importance or 0.0, 0.0) / total
        own = member(feature)
        # a model of one feature (the baseline's) holds all of it by construction
        warning = ("holds most of the importance: check it for leakage"
                   if counts[own] > 1 and max(importance or 0.0, 0.0) > 0.5 * positive[own]
                   else None)
        out.append({"feature": feature, "importance": importance, "share": share,
                    "description": description, "sql": sql, "warning": warning})
    return out


def _priors(con, decision: dict | None, notes: list[str] | None = None
            ) -> dict[str, list[dict]]:
    """Per family, the best configurations of the two bank tasks most similar to this one
    (by its routing signals); empty without signals or a readable bank. The task's own earlier
    records (the shipped bank's, and this database's trainings of it) may be among them: their
    configurations were chosen on validation, and no test result goes into a prior."""
    signals = (decision or {}).get("signals")
    if not signals:
        return {}
    from .route import bank, router
    try:
        rows = bank.load() + router.user_bank_rows(con)
    except bank.BankError as e:
        log.warning("no search priors: %s", e)
        return {}
    return {family: _usable_nearest(rows, signals, family, notes)
            for family in ("dfs", "rdl")}


def _prior_warnings(notes: list[str], kept: str, both: bool) -> list[str]:
    """The notes on skipped bank configurations of the families searched, worded as the
    families' own warnings are (``rdl (not kept): ...`` for the one not kept)."""
    out = []
    for note in notes:
        family = note.split(":", 1)[0]
        if family == kept or kept == "blend":   # a blend keeps both families' models
            out.append(note)
        elif both:
            out.append(note.replace(f"{family}: ", f"{family} (not kept): ", 1))
    return out


def _usable_nearest(rows: list[dict], signals: dict, family: str, notes: list[str] | None,
                    k: int = 2) -> list[dict]:
    """The configurations of the ``k`` most similar bank tasks that ``family`` can train. A
    bank row it cannot (written by another release, or edited by hand) is passed over for the
    next most similar task, and said once in ``notes``."""
    from .route import bank
    problem = families.get(family).prior_problem
    chosen = bank.nearest(rows, signals, family, k=k)
    skipped = [(n["task"], problem(n["config"])) for n in chosen if problem(n["config"])]
    if skipped:
        rows = [r for r in rows if r["family"] != family or problem(r["config"]) is None]
        chosen = bank.nearest(rows, signals, family, k=k)
        for task, why in skipped:
            message = (f"{family}: the bank configuration of task {task!r} is skipped ({why}); "
                       "the next most similar task's is tried")
            log.warning("%s", message)
            if notes is not None:
                notes.append(message)
    return [n["config"] for n in chosen]


def _planned_trials(fam, budget: int, priors: dict[str, list[dict]], kind: str):
    """Trials a progress line counts to (per family when both are searched): DFS fits the
    usable bank priors on top of its budget."""
    from .dfs import lightgbm_model
    if isinstance(fam, _Both):
        return {"dfs": lightgbm_model.planned_trials(fam.budget_of("dfs"), priors.get("dfs"),
                                                     kind),
                "rdl": fam.budget_of("rdl")}
    if fam.name == "dfs":
        return lightgbm_model.planned_trials(budget, priors.get("dfs"), kind)
    return budget


class _Both:
    """Searches DFS and RDL and keeps the better validation score: one family's model, or a
    blend of the two (relatron_sql.blend) where a blend scores strictly better than both. A
    budget the caller names applies to each family; without one, each runs its
    ``auto_budget`` (DFS its 20 trials, RDL its bank priors and fixed trials)."""
    name = "both"

    def __init__(self, priors: dict[str, list[dict]] | None = None, budget: int | None = None):
        self.priors = priors or {}
        self.budget = budget

    def budget_of(self, name: str) -> int:
        if self.budget is not None:
            return self.budget
        return families.get(name).auto_budget(self.priors.get(name, []))

    @property
    def default_budget(self) -> int:
        return max(families.get("dfs").default_budget, families.get("rdl").default_budget)

    def fit(self, con, task: Task, options: FitOptions):
        """A time budget is shared: DFS gets half of it, RDL what is left."""
        best, warnings, fits = None, {}, {}
        started = time.perf_counter()
        for i, name in enumerate(("dfs", "rdl")):
            options.trial_log.family = name
            budget = options.time_budget
            if budget is not None:
                left = budget - (time.perf_counter() - started)
                budget = max(left / (2 - i), 1.0)
            fitted = families.get(name).fit(con, task, dataclasses.replace(
                options, budget=self.budget_of(name), priors=self.priors.get(name, []),
                time_budget=budget))
            fitted.extra["family"] = name
            warnings[name] = fitted.extra.get("warnings", [])
            fits[name] = fitted
            if best is None or task.better(fitted.val_metric, best.val_metric):
                best = fitted
        options.progress("blend: scoring both families' models on the validation split")
        mixed, member_val = self.blend(con, task, fits, best)
        if mixed is not None:
            # both members go to the bank under their own families, with their own scores
            mixed.extra = {**mixed.extra, "family": "blend", "not_kept": dict(fits),
                           "member_val": member_val,
                           "warnings": [w for ws in warnings.values() for w in ws]}
            options.trial_log.family = "blend"
            return mixed
        kept = best.extra["family"]
        best.extra["not_kept"] = {name: f for name, f in fits.items() if name != kept}
        best.extra["member_val"] = member_val   # not scored twice
        options.trial_log.family = kept
        # a family's warnings start with its name; the other family's model is not returned
        best.extra["warnings"] = [w if name == kept else
                                  w.replace(f"{name}: ", f"{name} (not kept): ", 1)
                                  for name, ws in warnings.items() for w in ws]
        return best

    @staticmethod
    def blend(con, task: Task, fits: dict, best) -> tuple[Fitted | None, dict]:
        """The blend of the two families' models with the best validation score, where it is
        strictly better than the better family alone (None otherwise, and for multiclass tasks,
        whose models predict a class); with each family's validation predictions, where both
        scored."""
        from . import blend
        if task.kind == "multiclass":
            return None, {}
        rows = split_rows(con, task, "val")
        try:
            preds = [fits[m].model.predict(con, task, rows) for m in blend.MEMBERS]
        except (duckdb.Error, TrainError, ValueError, RuntimeError) as e:
            log.warning("%s: no blend of DFS and RDL: a model could not score the validation "
                        "rows: %s", task.name, e)
            return None, {}
        member_val = dict(zip(blend.MEMBERS, preds))
        if not all(np.isfinite(p).all() for p in preds):
            log.warning("%s: no blend of DFS and RDL: a model scored some validation rows as "
                        "NaN or infinite", task.name)
            return None, member_val
        weight, scores = blend.choose_weight(task, rows.label, *preds)
        if not blend.worth_keeping(task, weight, scores, best.val_metric):
            return None, member_val
        return blend.blended(task, fits, weight, scores[weight], scores), member_val

"""Routing a task to a model family: DFS, RDL, or both when the selector is not confident."""
from __future__ import annotations

import json
import logging
import time

from .. import registry
from ..task import check_entity_table, check_learnable, load_task
from . import bank as bank_mod
from . import selector, signals as signals_mod

log = logging.getLogger(__name__)

#: Commit to a family only when P(RDL wins) is at least this far from a coin toss.
CONFIDENT = 0.8
#: Fewer bank tasks than this (or only one winner among them) and the selector is not fitted.
MIN_BANK_TASKS = 4
#: the bank names a task trained in this database this way
USER_PREFIX = "user:"


def user_bank_rows(con) -> list[dict]:
    """The bank rows this database's trainings wrote; a row that cannot be read (edited by
    hand, say) is left out with a warning."""
    rows = con.execute("SELECT task, database, signals, family, config, val_metric, test_metric "
                       "FROM relatron.bank WHERE signals IS NOT NULL").fetchall()
    out = []
    for task, database, sig, family, config, val, test in rows:
        try:
            signals = json.loads(sig)
            row = {"task": USER_PREFIX + task, "database": database, "signals": signals,
                   "family": family, "config": json.loads(config or "null"),
                   "val_metric": val, "test_metric": test,
                   "metric": signals.get("metric", "auroc"),
                   "test_key": signals.get("test_key")}
            problem = bank_mod.row_problem(row)
        except (ValueError, TypeError, AttributeError) as e:
            problem = f"not readable ({e})"
        if problem:
            log.warning("relatron.bank: a row of task %r is left out: %s", task, problem)
            continue
        out.append(row)
    return out


def family_for(p: float) -> str:
    """The family P(RDL wins) commits to, or "both" when it is not confident either way."""
    return "rdl" if p >= CONFIDENT else "dfs" if 1 - p >= CONFIDENT else "both"


def route(con, name: str, bank_path: str | None = None, affinities: bool = True) -> dict:
    """Signals of task ``name`` and the family they point to, with the reason in words."""
    started = time.perf_counter()
    task = load_task(con, name)
    check_entity_table(con, task)
    check_learnable(con, task)
    sig = signals_mod.compute(con, task, affinities=affinities)
    sig["metric"] = task.metric
    decision = {"task": name, "signals": sig}
    try:
        rows = bank_mod.load(bank_path) + user_bank_rows(con)
    except bank_mod.BankError as e:
        decision.update(family="both", probability=None,
                        reason=f"{e}; searching both families")
        decision["seconds"] = round(time.perf_counter() - started, 3)
        return decision
    # the task's own record (by test key, shipped or trained here; a user's older rows, by
    # name) holds its test result: leave it out, so that no family is chosen for its test score
    keys = bank_mod.test_keys(task)
    outcomes = [o for o in bank_mod.outcomes(rows)
                if o["task"] != USER_PREFIX + name and not o["test_keys"] & keys]
    winners = {o["rdl_wins"] for o in outcomes}
    if len(outcomes) < MIN_BANK_TASKS or len(winners) < 2:
        decision.update(family="both", probability=None,
                        reason=f"the bank has {len(outcomes)} comparable tasks, too few to "
                               "fit the selector; searching both families")
    else:
        model = selector.fit(outcomes)
        p = model.probability(sig)
        drivers = ", ".join(f"{k} {'for' if v > 0 else 'against'} RDL" for k, v in
                            model.explain(sig))
        family = family_for(p)
        verdict = {"rdl": f"P(RDL wins) = {p:.2f} >= {CONFIDENT}",
                   "dfs": f"P(RDL wins) = {p:.2f} <= {1 - CONFIDENT:.1f}",
                   "both": f"P(RDL wins) = {p:.2f} is not confident; searching both"}[family]
        decision.update(family=family, probability=p,
                        reason=f"{verdict} (selector fitted on {model.n_tasks} bank tasks; "
                               f"strongest signals: {drivers})")
    decision["seconds"] = round(time.perf_counter() - started, 3)
    return decision

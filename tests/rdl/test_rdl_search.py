"""The RDL search: bank priors, the fixed trials, then Optuna TPE over the same space."""
import gc
import math
import weakref

import pytest

from relatron_sql import families, models
from relatron_sql.families import FitOptions
from relatron_sql.rdl import search as search_mod
from relatron_sql.rdl import train as engine
from relatron_sql.rdl.family import FAMILY, RDLFamily
from relatron_sql.rdl.search import (TRIALS, Search, config_of, fanouts, fixed_trials,
                                     params_of)
from relatron_sql.rdl.train import DEFAULTS, check_config
from relatron_sql.task import load_task


def run(search: Search, score=lambda i, config: float(i)) -> list[dict]:
    asked = []
    while (config := search.ask()) is not None:
        search.tell(config, score(len(asked), config))
        asked.append(config)
    return asked


def test_bank_priors_come_first_without_repeats():
    assert fixed_trials() == [dict(t) for t in TRIALS]
    priors = [{"conv": "gat", "entity": "users", "encoders": {}}, {}]
    # only the options RDL knows are kept; the empty prior repeats the default trial
    assert fixed_trials(priors) == [{"conv": "gat"}, {}, *[dict(t) for t in TRIALS[2:]]]
    # a prior stored with every option spelled out at its default is the default trial
    assert fixed_trials([dict(DEFAULTS)])[0] == dict(DEFAULTS)
    assert len(fixed_trials([dict(DEFAULTS)])) == len(TRIALS)


@pytest.mark.parametrize("prior", [
    [1], "sage", {"conv": "relgnn"}, {"aggr": "median"}, {"channels": 0}, {"layers": 2.5},
    {"fanouts": []}, {"fanouts": [16, -1]}, {"lr": float("nan")}, {"lr": 0}, {"dropout": 1.0},
    {"history": "yes"}, {"channels": True}])
def test_a_prior_rdl_cannot_train_is_skipped(prior):
    """A bank row from another release or edited by hand must not abort a training with an
    error about an argument the user never passed: the prior is skipped and the search runs
    (the training's warnings say so, once: tests/test_route.py)."""
    assert search_mod.prior_problem(prior)
    assert fixed_trials([prior, {"conv": "gat"}]) == fixed_trials([{"conv": "gat"}])
    assert search_mod.prior_problem(dict(DEFAULTS)) is None
    assert search_mod.prior_problem(None) is None


def test_a_budget_within_the_fixed_trials_runs_them_in_order():
    assert run(Search(3, seed=0, higher_is_better=True)) == [dict(t) for t in TRIALS[:3]]
    assert run(Search(1, seed=0, higher_is_better=True)) == [{}]
    assert run(Search(0, seed=0, higher_is_better=True)) == [{}]   # at least one trial


def test_every_fixed_trial_lies_in_the_space_and_round_trips():
    for overrides in TRIALS:
        params = params_of(dict(overrides))
        assert params is not None, overrides
        assert {**DEFAULTS, **config_of(params)} == {**DEFAULTS, **overrides}


def test_configurations_outside_the_space_are_not_points_of_it():
    assert params_of({"batch_size": 64}) is None              # not searched
    assert params_of({"fanouts": [32, 32]}) is None           # not halved per hop
    assert params_of({"layers": 4, "fanouts": [8, 4, 2, 2]}) is None
    assert params_of({"lr": 0.5}) is None                     # outside the range
    assert params_of({"channels": 100}) is None
    assert params_of({"fanouts": "wide"}) is None


def test_deep_networks_get_narrow_fanouts():
    assert fanouts(128, 1) == [128]
    assert fanouts(64, 2) == [64, 32]
    assert fanouts(128, 3) == [32, 16, 8]


def test_beyond_the_fixed_trials_tpe_asks_valid_configurations_from_their_scores():
    search = Search(len(TRIALS) + 4, seed=0, higher_is_better=True)
    asked = run(search, score=lambda i, config: 0.5 + 0.01 * i)
    assert asked[:len(TRIALS)] == [dict(t) for t in TRIALS]
    assert len(asked) == len(TRIALS) + 4
    for config in asked[len(TRIALS):]:
        check_config(config)                                  # the engine accepts it
        assert params_of(config) is not None
        assert ("aggr" in config) == (config["conv"] == "sage")
    # the study knows the fixed trials' scores before its first question, then its own
    values = [t.value for t in search.study.trials]
    assert values[:len(TRIALS)] == pytest.approx([0.5 + 0.01 * i for i in range(len(TRIALS))])
    assert len(values) == len(TRIALS) + 4


def test_the_search_is_repeatable_under_a_seed_and_moves_with_it():
    def tpe_configs(seed):
        return run(Search(len(TRIALS) + 3, seed=seed, higher_is_better=False))[len(TRIALS):]
    assert tpe_configs(0) == tpe_configs(0)
    assert tpe_configs(0) != tpe_configs(1)


def test_a_failed_trial_is_told_as_failed_and_the_search_goes_on():
    search = Search(len(TRIALS) + 2, seed=0, higher_is_better=True)
    asked = run(search, score=lambda i, config: math.nan if i >= len(TRIALS) else 0.6)
    assert len(asked) == len(TRIALS) + 2
    states = [t.state.name for t in search.study.trials]
    assert states[len(TRIALS):] == ["FAIL", "FAIL"]


def test_priors_outside_the_space_run_but_do_not_join_the_study():
    priors = [{"batch_size": 256}]
    search = Search(len(TRIALS) + 2, seed=0, higher_is_better=True, priors=priors)
    asked = run(search)
    assert asked[0] == {"batch_size": 256}
    assert len(search.study.trials) == len(TRIALS) + 1        # five fixed + one asked, not the prior


def test_rdl_family_spends_a_budget_beyond_the_fixed_trials_on_tpe(gen_con, monkeypatch):
    """Trained end to end with one fixed trial, so that the second comes from the study."""
    monkeypatch.setattr(search_mod, "TRIALS", ({},))
    out = models.train(gen_con, "user-active", family="rdl", budget=2, seed=0)
    rows = gen_con.execute("SELECT trial, ANY_VALUE(config) FROM relatron.trials WHERE name = "
                           "'user-active' AND config IS NOT NULL GROUP BY trial ORDER BY trial"
                           ).fetchall()
    assert [r[0] for r in rows] == [0, 1]
    assert out["config"]["trial"] in (0, 1)
    assert out["config"]["landscape"] is not None   # two trials: flatness chooses between them


def test_auto_mode_without_a_budget_runs_each_family_its_own():
    priors = {"rdl": [{"conv": "gat", "layers": 1, "fanouts": [64]}], "dfs": [{}]}
    both = models._Both(priors)
    assert both.budget_of("dfs") == families.get("dfs").default_budget
    assert both.budget_of("rdl") == len(TRIALS) + 1             # the prior, then the fixed five
    named = models._Both(priors, budget=3)
    assert named.budget_of("dfs") == named.budget_of("rdl") == 3


@pytest.mark.parametrize("weight, keep", [(0.5, 2), (0.0, 1)])
def test_the_search_keeps_only_the_best_trials_models(gen_con, monkeypatch, weight, keep):
    """Four trials, two of which compete on flatness (one at weight 0): from each trial on, only
    the best ``keep`` models so far stay in memory, and the choice is the one among all trials'
    scores that keeping every model would give."""
    monkeypatch.setattr(FAMILY, "TOP_TRIALS", 2)
    monkeypatch.setattr(FAMILY, "flatness_weight", weight)
    real_fit, made, scores, alive = engine.fit, [], [], {}

    def live() -> int:
        gc.collect()
        return sum(ref() is not None for ref in made)

    def fit(con, task, prepared, config, *args, **kwargs):
        alive[len(made)] = live()   # models still held when the next trial starts
        model, score, info = real_fit(con, task, prepared, {**config, "max_epochs": 1},
                                      *args, **kwargs)
        made.append(weakref.ref(model))
        scores.append(score)
        return model, score, info

    def select_checkpoint(con, task, ranked, *args):
        alive["selection"] = live()
        alive["ranked"] = [c[2] is not None for c in ranked]
        return RDLFamily.select_checkpoint(FAMILY, con, task, ranked, *args)

    monkeypatch.setattr(engine, "fit", fit)
    monkeypatch.setattr(FAMILY, "select_checkpoint", select_checkpoint)
    task = load_task(gen_con, "user-active")
    fitted = FAMILY.fit(gen_con, task, FitOptions(budget=4, seed=0, device="cpu",
                                                  time_budget=None,
                                                  trial_log=lambda **kw: None))
    assert len(made) == 4
    assert [alive[i] for i in range(4)] == [0, 1, min(2, keep), keep]
    assert alive["selection"] == keep
    assert alive["ranked"] == [True] * keep + [False] * (4 - keep)
    best = sorted(range(4), key=lambda i: task.sort_key(scores[i]))[:keep]
    land = fitted.config["landscape"]
    if weight:
        assert [c["trial"] for c in land["candidates"]] == best
        chosen = best[land["chosen"]]
    else:
        assert land is None
        chosen = best[0]
    assert fitted.config["trial"] == chosen and fitted.model is made[chosen]()

"""The LightGBM search: seeded, bounded by the budget, starting from priors when given."""
import numpy as np

from relatron_sql.dfs import lightgbm_model


def _data(seed=0, n=400):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    X[rng.random(n) < 0.1, 1] = np.nan
    y = (X[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(float)
    return X[:300], y[:300], X[300:], y[300:]


def test_priors_are_tried_first_and_clipped():
    logged = []
    prior = {"params": {"learning_rate": 5.0, "num_leaves": 9, "min_data_in_leaf": 7,
                        "feature_fraction": 0.6, "bagging_fraction": 0.9, "lambda_l2": 0.5}}
    booster, params, score = lightgbm_model.search(
        "binary", None, *_data(), budget=3, seed=0, trial_log=lambda **kw: logged.append(kw),
        priors=[prior, {"params": {"learning_rate": "bad"}}])
    # the one valid prior, then the budget's three trials (the default configuration first)
    assert [r["trial"] for r in logged] == [0, 1, 2, 3]
    assert logged[0]["config"]["learning_rate"] == 0.2   # clipped into the search space
    assert logged[0]["config"]["num_leaves"] == 9
    assert logged[1]["config"]["learning_rate"] == lightgbm_model.DEFAULT_PARAMS["learning_rate"]
    assert score == max(r["val_metric"] for r in logged) and 0.5 < score <= 1
    assert lightgbm_model.prior_params({"params": {"num_leaves": 3}}, "binary") is None


def test_priors_do_not_change_what_the_search_samples():
    def run(priors):
        logged = []
        lightgbm_model.search("binary", None, *_data(2), budget=8, seed=3, priors=priors,
                              trial_log=lambda **kw: logged.append(kw))
        return logged

    unseeded = run([])
    prior = {"params": {**lightgbm_model.DEFAULT_PARAMS, "num_leaves": 40, "lambda_l2": 5.0}}
    seeded = run([prior, prior])
    assert len(seeded) == len(unseeded) + 2
    assert seeded[0]["config"]["num_leaves"] == 40
    assert [r["config"] for r in seeded[2:]] == [r["config"] for r in unseeded]
    assert [r["val_metric"] for r in seeded[2:]] == [r["val_metric"] for r in unseeded]


def test_a_prior_that_wins_on_validation_is_the_model_returned():
    logged = []
    _, params, score = lightgbm_model.search(
        "binary", None, *_data(5), budget=1, seed=0, trial_log=lambda **kw: logged.append(kw),
        priors=[{"params": {**lightgbm_model.DEFAULT_PARAMS, "num_leaves": 4,
                            "min_data_in_leaf": 5, "learning_rate": 0.1}}])
    prior, default = logged
    assert prior["val_metric"] > default["val_metric"]   # the data is chosen so that it does
    assert score == prior["val_metric"] and params["num_leaves"] == 4


def test_time_budget_stops_the_search():
    logged = []
    lightgbm_model.search("regression", None, *_data(1), budget=50, seed=0, time_budget=0.0,
                          trial_log=lambda **kw: logged.append(kw))
    assert len(logged) == 1
    assert logged[0]["config"]["objective"] == "l1"


def test_time_budget_spent_on_priors_stops_before_the_study():
    logged = []
    prior = {"params": dict(lightgbm_model.DEFAULT_PARAMS)}
    lightgbm_model.search("binary", None, *_data(1), budget=50, seed=0, time_budget=0.0,
                          priors=[prior, prior], trial_log=lambda **kw: logged.append(kw))
    assert len(logged) == 1


def test_a_prior_with_a_value_that_is_not_a_finite_number_is_dropped():
    good = {"learning_rate": 0.05, "num_leaves": 9, "min_data_in_leaf": 7,
            "feature_fraction": 0.6, "bagging_fraction": 0.9, "lambda_l2": 0.5}
    assert lightgbm_model.prior_params(good, "binary") is not None
    for bad in (float("nan"), float("inf"), True):
        assert lightgbm_model.prior_params({**good, "learning_rate": bad}, "binary") is None
    assert "learning_rate nan is not a finite number" in lightgbm_model.prior_problem(
        {"params": {**good, "learning_rate": float("nan")}})
    assert lightgbm_model.prior_problem({**good, "num_leaves": None}) == "num_leaves is missing"
    assert lightgbm_model.prior_problem([good]).startswith("a configuration must be an object")
    assert lightgbm_model.prior_problem(good) is None
    assert lightgbm_model.usable_priors([{**good, "lambda_l2": float("nan")}, good],
                                        "binary") == [lightgbm_model.prior_params(good, "binary")]


def _large_labels(seed=0, n=1500):
    """Labels in the hundreds, skewed like counts and amounts."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.exp(5 + X[:, 0]) + rng.normal(scale=5, size=n)
    return X[:1000], y[:1000], X[1000:], y[1000:]


def test_huber_threshold_is_set_from_the_labels_scale(monkeypatch):
    data = _large_labels()
    real = lightgbm_model._suggest
    # the second trial is the default configuration with Huber's loss in place of l1
    monkeypatch.setattr(lightgbm_model, "_suggest", lambda trial, kind, offsets=False: {
        **real(trial, kind, offsets),
        **({**lightgbm_model.DEFAULT_PARAMS, "objective": "huber"} if trial.number else {})})
    logged = []
    lightgbm_model.search("regression", None, *data, budget=2, seed=0,
                          trial_log=lambda **kw: logged.append(kw))
    l1, huber = logged
    assert (l1["config"]["objective"], huber["config"]["objective"]) == ("l1", "huber")
    assert "alpha" not in l1["config"]
    assert huber["config"]["alpha"] == lightgbm_model.huber_alpha(data[1]) > 100
    # at LightGBM's default threshold (0.9) every residual is clipped and the booster runs out
    # of rounds far from the labels (validation MAE about 5 times l1's)
    assert huber["val_metric"] < 1.3 * l1["val_metric"]


def test_huber_threshold_measures_from_the_offsets_and_is_never_zero():
    y = np.array([10.0, 12.0, 14.0, 110.0])
    assert lightgbm_model.huber_alpha(y) == np.quantile(np.abs(y - y.mean()), 0.9)
    assert lightgbm_model.huber_alpha(y, init_train=y - 1.0) == 1.0
    y = np.arange(20.0)
    start = y.copy()
    start[0] -= 3.0   # all but one label already at the start: the one gap left
    assert lightgbm_model.huber_alpha(y, init_train=start) == 3.0
    assert lightgbm_model.huber_alpha(y, init_train=y) == 1.0   # nothing to learn

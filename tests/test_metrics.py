"""The metrics every report and evaluation gives, against definitions worked by hand."""
import numpy as np
import pytest

from relatron_sql import metrics


def test_average_precision_counts_tied_scores_together_whatever_their_order():
    # one threshold, 0.5: precision 1/2 at recall 1
    assert metrics.average_precision(np.array([1, 0]), np.array([.5, .5])) == 0.5
    assert metrics.average_precision(np.array([0, 1]), np.array([.5, .5])) == 0.5
    # thresholds .9 (1 of 1), .5 (2 of 4: two positives, one new), .1 (3 of 6, one new)
    y = np.array([1, 0, 1, 0, 1, 0])
    score = np.array([.9, .5, .5, .5, .1, .1])
    expected = (1 / 1) * (1 / 3) + (2 / 4) * (1 / 3) + (3 / 6) * (1 / 3)
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = rng.permutation(len(y))
        assert metrics.average_precision(y[p], score[p]) == pytest.approx(expected)


def test_average_precision_without_ties_is_the_mean_precision_at_each_positive():
    y = np.array([1, 0, 1, 1, 0])
    score = np.array([.9, .8, .7, .6, .5])
    assert metrics.average_precision(y, score) == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)
    assert np.isnan(metrics.average_precision(np.zeros(3), np.array([.1, .2, .3])))


def test_auroc_gives_ties_half_credit():
    assert metrics.auroc(np.array([1, 0]), np.array([.5, .5])) == 0.5
    assert metrics.auroc(np.array([1, 0, 1, 0]), np.array([.9, .5, .5, .1])) == \
        pytest.approx((1 + 1 + 0.5 + 1) / 4)


def test_explain_shares_are_of_the_positive_importances(tmp_path):
    """RDL's permutation importances can be negative (the model did better without a source):
    shares stay in [0, 1], sum to 1, and a negative importance has share 0."""
    import relatron_sql
    from relatron_sql import models
    from relatron_sql.testing import make_database
    con = relatron_sql.connect(str(tmp_path / "e.duckdb"))
    make_database(con, n_users=40, days=300)
    version = models.train(con, "user-active", family="baseline")["version"]
    con.execute("DELETE FROM relatron.features WHERE name = 'user-active'")
    con.executemany("INSERT INTO relatron.features VALUES ('user-active', ?, ?, ?, NULL, NULL)",
                    [[version, "a", 0.03], [version, "b", 0.01], [version, "c", -0.02]])
    shares = {r[0]: (r[1], r[2]) for r in con.execute(
        "SELECT feature, importance, share FROM relatron_explain('user-active')").fetchall()}
    assert shares == {"a": (0.03, pytest.approx(0.75)), "b": (0.01, pytest.approx(0.25)),
                      "c": (-0.02, 0.0)}
    con.close()


def test_a_nan_score_leaves_the_ranking_metrics_undefined():
    """NaN sorts last (above every score): it must not count as the most confident positive."""
    y, score = np.array([0, 1, 0, 1]), np.array([.1, np.nan, .2, .9])
    assert np.isnan(metrics.auroc(y, score))
    assert np.isnan(metrics.average_precision(y, score))


def test_the_baseline_explains_itself_without_a_leakage_warning(tmp_path):
    """Its one feature holds all the importance by construction; for a multiclass task it is
    the most frequent class, not a mean."""
    import relatron_sql
    from relatron_sql import models
    from relatron_sql.task import create_task
    from relatron_sql.testing import make_database
    con = relatron_sql.connect(str(tmp_path / "b.duckdb"))
    make_database(con, n_users=40, days=300)
    models.train(con, "user-active", family="baseline")
    (row,) = models.explain(con, "user-active")
    assert row["share"] == 1.0 and row["warning"] is None
    assert row["description"].startswith("mean label")
    task = relatron_sql.load_task(con, "user-active")
    create_task(con, "user-orders", "users", """
        SELECT a.anchor_time, u.user_id, LEAST(COUNT(o.order_id), 2) AS label
        FROM relatron_anchors a JOIN users u ON u.signup <= a.anchor_time
        LEFT JOIN orders o ON o.user_id = u.user_id AND o.time > a.anchor_time
            AND o.time <= a.window_end GROUP BY ALL""", kind="multiclass",
                val_timestamp=task.val_timestamp, test_timestamp=task.test_timestamp)
    models.train(con, "user-orders", family="baseline")
    (row,) = models.explain(con, "user-orders")
    assert row["feature"] == "entity_history_mode"
    assert row["description"].startswith("most frequent class")
    con.close()

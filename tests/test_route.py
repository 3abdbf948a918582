"""Task signals, the bank and the router."""
import dataclasses
import datetime as dt
import json

import duckdb
import numpy as np
import pytest

import relatron_sql
from relatron_sql.route import affinity, bank, router, selector, signals
from relatron_sql.task import load_task
from relatron_sql.testing import make_database


@pytest.fixture
def gen(con):
    make_database(con, n_users=200)
    return con


def test_homophily_formula():
    y1 = np.array([1, 1, 0, 0, 1.0])
    y2 = np.array([1, 0, 0, 0, 1.0])
    out = signals.homophily("binary", y1, y2)
    assert out["h"] == pytest.approx(0.8)
    # degrees: label 1 appears 5 times, label 0 five times over 2|E| = 10 endpoints
    assert out["h_adj"] == pytest.approx((0.8 - 0.5) / 0.5)
    r = signals.homophily("regression", np.array([1.0, 2, 3]), np.array([1.0, 2, 3]))
    assert r["h"] == pytest.approx(1.0)
    assert signals.homophily("binary", np.array([]), np.array([]))["h"] is None


def test_homophily_knob_moves_the_signal():
    values = []
    for h in (0.0, 0.95):
        c = relatron_sql.connect()
        make_database(c, homophily=h, n_users=400, seed=3)
        out = signals.compute(c, load_task(c, "user-active"), affinities=False)
        values.append(out["metapaths"]["users.group_id->groups<-users"]["h_adj"])
    assert values[1] > values[0] + 0.05


def test_an_entity_own_link_counts_however_old_it_is():
    """users.group_id is known from signup on: a user who signed up years before the anchor
    still shares the group (only event links, child rows, are limited to recent ones)."""
    c = relatron_sql.connect()
    make_database(c, n_users=100, days=1200, seed=1)
    task = load_task(c, "user-active")
    path = next(p for p in signals.metapaths(signals.read_schema(c), "users")
                if p.table == "users")
    anchor = c.execute("SELECT MAX(anchor_time) FROM relatron.task_rows WHERE task = "
                       "'user-active' AND split = 'train'").fetchall()[0][0]
    sizes = c.execute("SELECT COUNT(*) FROM relatron.task_rows r JOIN users u ON "
                      "CAST(u.user_id AS VARCHAR) = r.entity_id WHERE r.task = 'user-active' "
                      "AND r.anchor_time = ? AND u.signup <= ? GROUP BY u.group_id",
                      [anchor, anchor]).fetchall()
    old = c.execute("SELECT COUNT(*) FROM users WHERE signup < ? - INTERVAL 365 DAY",
                    [anchor]).fetchall()[0][0]
    assert old > 50  # most users signed up more than a year before the anchor
    y1, _ = signals._pairs(c, task, path, [anchor])
    expected = sum(min(n, signals.MAX_GROUP) * (min(n, signals.MAX_GROUP) - 1) // 2
                   for (n,) in sizes)
    assert len(y1) == expected > 0


def _with_follows(con, n: int = 600, seed: int = 0):
    """A table ``follows`` (follower, followee: both users; a time) on a generated database."""
    rng = np.random.default_rng(seed)
    users = con.execute("SELECT user_id, signup FROM users ORDER BY user_id").fetchall()
    rows = []
    for i in range(n):
        a, b = rng.integers(0, len(users), 2)
        start = max(users[a][1], users[b][1])
        rows.append((i, users[a][0], users[b][0],
                     start + dt.timedelta(days=float(rng.uniform(0, 200)))))
    con.execute("CREATE TABLE follows (follow_id BIGINT, follower BIGINT, followee BIGINT, "
                "time TIMESTAMP)")
    con.executemany("INSERT INTO follows VALUES (?, ?, ?, ?)", rows)
    con.execute("SELECT relatron_declare('follows', primary_key := 'follow_id', foreign_keys := "
                "MAP {'follower': 'users', 'followee': 'users'}, time_column := 'time')"
                ).fetchall()


def test_a_row_naming_two_entities_links_them_directly(gen):
    """One follows row links its follower and its followee (besides the users who follow, or
    are followed by, the same user): each unordered pair once, recent links only."""
    _with_follows(gen)
    task = load_task(gen, "user-active")
    paths = [p for p in signals.metapaths(signals.read_schema(gen), "users") if p.direct]
    assert [p.name for p in paths] == ["users<-follows.followee&follows.follower->users"]
    anchors = signals._anchor_sample(gen, task)[-3:]
    y1, y2 = signals._pairs(gen, task, paths[0], anchors)
    labels = {(t, e): y for t, e, y in gen.execute(
        "SELECT anchor_time, entity_id, label FROM relatron.task_rows WHERE task = "
        "'user-active' AND split = 'train'").fetchall()}
    expected = []
    for t in anchors:
        linked = {tuple(sorted((str(a), str(b)))) for a, b, when in gen.execute(
            "SELECT follower, followee, time FROM follows").fetchall()
                  if t - signals.LOOKBACK < when <= t and a != b}
        expected += [(labels[t, a], labels[t, b]) for a, b in linked
                     if (t, a) in labels and (t, b) in labels]
    assert len(expected) > 20
    assert sorted(zip(y1, y2)) == sorted(expected)
    # new links planted just after the last anchor change nothing
    gen.execute("INSERT INTO follows SELECT follow_id + 100000, follower, (followee + 7) % 200, "
                "? FROM follows", [max(anchors) + dt.timedelta(microseconds=1)])
    assert sorted(zip(*signals._pairs(gen, task, paths[0], anchors))) == sorted(expected)
    # dated at the anchor itself, the same rows count: the test above could fail
    gen.execute("UPDATE follows SET time = ? WHERE follow_id >= 100000", [max(anchors)])
    assert len(signals._pairs(gen, task, paths[0], anchors)[0]) > len(expected)


def test_an_entity_referring_to_another_links_the_two(gen):
    gen.execute("ALTER TABLE users ADD COLUMN referrer BIGINT")
    gen.execute("UPDATE users SET referrer = CASE WHEN user_id % 3 = 0 THEN NULL "
                "ELSE (user_id * 7) % 200 END")
    gen.execute("SELECT relatron_declare('users', foreign_keys := MAP {'group_id': 'groups', "
                "'referrer': 'users'})").fetchall()
    task = load_task(gen, "user-active")
    path, = [p for p in signals.metapaths(signals.read_schema(gen), "users") if p.direct]
    assert path.name == "users.referrer->users" and not path.event
    anchor = signals._anchor_sample(gen, task)[-1]
    labelled = {e for e, in gen.execute("SELECT entity_id FROM relatron.task_rows WHERE task = "
                                        "'user-active' AND anchor_time = ?", [anchor]).fetchall()}
    pairs = {tuple(sorted((str(u), str(r)))) for u, r in gen.execute(
        "SELECT user_id, referrer FROM users WHERE referrer IS NOT NULL AND referrer <> user_id "
        "AND signup <= ?", [anchor]).fetchall()}
    expected = [p for p in pairs if p[0] in labelled and p[1] in labelled]
    assert len(signals._pairs(gen, task, path, [anchor])[0]) == len(expected) > 20


def test_signals_ignore_rows_after_the_last_training_anchor(gen):
    task = load_task(gen, "user-active")
    before = signals.compute(gen, task, affinities=False)
    last = gen.execute("SELECT MAX(anchor_time) FROM relatron.task_rows WHERE task = "
                       "'user-active' AND split = 'train'").fetchall()[0][0]
    later = last + dt.timedelta(microseconds=1)
    # plant future rows in every table with a time column, linking existing users and items
    gen.execute("INSERT INTO orders SELECT order_id + 1000000, user_id, (item_id + 1) % 40, "
                "?, amount * 10, 'web' FROM orders", [later])
    gen.execute("INSERT INTO users SELECT user_id + 100000, (group_id + 1) % 15, ?, age, segment "
                "FROM users", [later])
    after = signals.compute(gen, task, affinities=False)
    before.pop("seconds"), after.pop("seconds")
    assert after == before


def test_affinities_ignore_rows_from_after_the_training_cutoff(gen):
    """Both affinities fit on train rows and score val rows, so rows dated after every val
    anchor's window (new categories, extreme amounts, new users) must change neither: not the
    features' category lists, not the GNN's encoders."""
    task = load_task(gen, "user-active")
    keys = ("feature_affinity", "path_affinity", "path_affinity_1", "path_affinity_2",
            "path_affinity_3")
    before = {k: v for k, v in signals.compute(gen, task).items() if k in keys}
    assert all(before[k] is not None for k in keys)
    # the selector's path affinity is the one at the depth RDL trains by default
    from relatron_sql.rdl.train import DEFAULTS
    assert affinity.SELECTOR_DEPTH == DEFAULTS["layers"]
    assert before["path_affinity"] == before[f"path_affinity_{DEFAULTS['layers']}"]
    plan_before = [f["name"] for f in affinity.depth1_plan(gen, task)[0].features]
    future = dt.datetime(2100, 1, 1)
    gen.execute("INSERT INTO orders SELECT order_id + 1000000, user_id, item_id, ?, "
                "amount * 1000, 'zz-future' FROM orders", [future])
    gen.execute("INSERT INTO users SELECT user_id + 100000, group_id, ?, age + 500, 'zz' "
                "FROM users", [future])
    after = {k: v for k, v in signals.compute(gen, task).items() if k in keys}
    assert after == before
    assert [f["name"] for f in affinity.depth1_plan(gen, task)[0].features] == plan_before


def test_single_label_value_is_refused(gen):
    gen.execute("UPDATE relatron.task_rows SET label = 1 WHERE task = 'user-active'")
    with pytest.raises(relatron_sql.TaskError, match="name.*single label value"):
        router.route(gen, "user-active", affinities=False)
    gen.execute("UPDATE relatron.task_rows SET label = 3 WHERE task = 'user-spend'")
    with pytest.raises(relatron_sql.TaskError, match="name.*constant labels"):
        router.route(gen, "user-spend", affinities=False)


def test_no_metapath_homophily_is_undefined_not_fatal(con):
    con.execute("CREATE TABLE things AS SELECT range AS id, TIMESTAMP '2020-01-01' + "
                "INTERVAL (range) DAY AS t, range % 2 AS v FROM range(400)")
    con.execute("SELECT relatron_declare('things', primary_key := 'id', time_column := 't')"
                ).fetchall()
    con.execute("""SELECT relatron_task('odd', entity := 'things', horizon := INTERVAL 10 DAY,
        val_timestamp := '2020-09-01', test_timestamp := '2020-11-01',
        label_sql := 'SELECT a.anchor_time, x.id, x.v FROM relatron_anchors a JOIN things x
                      ON x.t <= a.anchor_time AND x.t > a.anchor_time - INTERVAL 10 DAY')"""
                ).fetchall()
    out = router.route(con, "odd", affinities=False, bank_path="/nonexistent/bank.json")
    assert out["signals"]["homophily_mean"] is None
    assert "homophily undefined" in out["signals"]["homophily_note"]


@pytest.mark.parametrize("content", [None, "not json", json.dumps({"a": 1}),
                                     json.dumps([{"task": "t", "family": "dfs", "signals": None}])])
def test_missing_or_corrupt_bank_falls_back_to_both(gen, tmp_path, content):
    path = tmp_path / "bank.json"
    if content is not None:
        path.write_text(content)
    out = router.route(gen, "user-active", bank_path=str(path), affinities=False)
    assert out["family"] == "both"
    assert "bank" in out["reason"] and str(path) in out["reason"]
    with pytest.raises(bank.BankError, match="argument 'bank'"):
        bank.load(path)


def _synthetic_bank(rng, n=24):
    """Tasks where RDL wins exactly when the path affinity beats the feature affinity."""
    rows = []
    for i in range(n):
        sig = {k: float(rng.normal()) for k in signals.KEYS}
        sig["feature_affinity"] = float(rng.uniform(0.6, 0.9))
        sig["path_affinity"] = sig["feature_affinity"] + float(rng.choice([-1, 1]) *
                                                               rng.uniform(0.05, 0.3))
        rdl_better = sig["path_affinity"] > sig["feature_affinity"]
        for fam in ("dfs", "rdl"):
            good = (fam == "rdl") == rdl_better
            rows.append({"task": f"t{i}", "database": f"db{i % 4}", "signals": sig,
                         "family": fam, "config": {"i": i}, "metric": "auroc",
                         "val_metric": 0.7 + 0.05 * good, "test_metric": 0.7 + 0.05 * good})
    return rows


def test_selector_learns_a_planted_rule():
    rows = _synthetic_bank(np.random.default_rng(0))
    model = selector.fit(bank.outcomes(rows))
    hi = {"feature_affinity": 0.6, "path_affinity": 0.9}
    lo = {"feature_affinity": 0.9, "path_affinity": 0.6}
    assert model.probability(hi) > 0.8 > 0.2 > model.probability(lo)
    assert model.probability({"feature_affinity": 0.7, "path_affinity": 0.7}) == 0.5
    # without affinities: the bank's base rate of RDL wins
    assert 0.2 < model.probability({}) < 0.8


def test_selector_slope_is_the_penalised_maximum_likelihood_on_wide_gaps():
    """Regression affinities can differ by 0.8; the fitted slope must be the optimum there too,
    not wherever a fixed-step descent stopped oscillating."""
    gaps = [0.8, 0.8, 0.8, -0.8, -0.8, -0.8]
    wins = [True, True, True, True, False, False]
    outcomes = [{"signals": {"path_affinity": g, "feature_affinity": 0.0}, "rdl_wins": w}
                for g, w in zip(gaps, wins)]
    model = selector.fit(outcomes)
    g, y, l2 = np.array(gaps), np.array(wins, dtype=float), 1e-3
    grid = np.linspace(0, 5, 50001)
    objective = [(np.logaddexp(0, s * g) - y * s * g).mean() + 0.5 * l2 * s * s for s in grid]
    assert model.slope == pytest.approx(grid[int(np.argmin(objective))], abs=2e-4)
    assert 0.5 < model.probability({"path_affinity": 0.1, "feature_affinity": 0.0}) < 0.6


def test_bank_outcome_averages_each_family_over_seeds():
    """Per seed the validation-selected row stands for a family; the winner is decided by the
    mean test score over seeds, not by the one seed where RDL got lucky."""
    sig = {"label_std": 1.0}
    rows = [{"task": "t", "database": "d", "signals": sig, "family": fam, "seed": seed,
             "metric": "auroc", "val_metric": val, "test_metric": test}
            for fam, seed, val, test in [
                ("dfs", 0, 0.80, 0.80), ("dfs", 1, 0.80, 0.80), ("dfs", 2, 0.80, 0.80),
                ("rdl", 0, 0.90, 0.90),                          # one lucky seed
                ("rdl", 1, 0.70, 0.75), ("rdl", 1, 0.60, 0.99),  # seed 1: val picks 0.75
                ("rdl", 2, 0.70, 0.74)]]
    (o,) = bank.outcomes(rows)
    assert o["test"]["dfs"] == pytest.approx(0.80)
    assert o["test"]["rdl"] == pytest.approx((0.90 + 0.75 + 0.74) / 3)
    assert not o["rdl_wins"]
    assert {f: sorted(o["runs"][f]) for f in o["runs"]} == {"dfs": [0, 1, 2], "rdl": [0, 1, 2]}
    assert o["best"]["rdl"]["val_metric"] == 0.90
    # rows without a seed (a user's, an older bank's) are one seed: the best-validation row wins
    unseeded = [{k: v for k, v in r.items() if k != "seed"} for r in rows]
    (o,) = bank.outcomes(unseeded)
    assert o["test"] == {"dfs": pytest.approx(0.80), "rdl": pytest.approx(0.90)}
    assert o["rdl_wins"]


@pytest.mark.parametrize("path, feature, family", [(0.9, 0.6, "rdl"), (0.6, 0.9, "dfs"),
                                                   (0.75, 0.75, "both")])
def test_router_commits_when_confident(gen, tmp_path, monkeypatch, path, feature, family):
    """On a bank where RDL wins exactly when its affinity is higher, the router commits to a
    family when the affinity gap is wide and searches both when there is none."""
    rows = _synthetic_bank(np.random.default_rng(1))
    bank_file = tmp_path / "bank.json"
    bank_file.write_text(json.dumps(rows))
    real = signals.compute
    monkeypatch.setattr(router.signals_mod, "compute", lambda con, task, affinities=True: {
        **real(con, task, affinities=False), "path_affinity": path, "feature_affinity": feature})
    out = router.route(gen, "user-active", bank_path=str(bank_file))
    assert out["family"] == family, out["reason"]
    p = out["probability"]
    assert (p >= 0.8) if family == "rdl" else (p <= 0.2) if family == "dfs" else (p == 0.5)
    assert "selector fitted on 24 bank tasks" in out["reason"]


def test_nearest_bank_configs():
    rows = _synthetic_bank(np.random.default_rng(2))
    query = rows[6]["signals"]
    near = bank.nearest(rows, query, "dfs", k=2)
    assert near[0]["task"] == "t3" and near[0]["similarity"] == pytest.approx(1.0)
    assert len(near) == 2 and near[1]["similarity"] < 1.0
    assert bank.nearest(rows, query, "dfs", exclude_task="t3")[0]["task"] != "t3"


def test_the_routed_task_own_test_record_is_left_out(gen, tmp_path):
    """The bank says which family won on each task's test split: routing a task must not learn
    from its own record, whether shipped (same test key) or trained here (same name)."""
    rows = _synthetic_bank(np.random.default_rng(1))
    key = bank.test_key(load_task(gen, "user-active"))
    for r in rows[:2]:      # task t0, both families: the same task as the one routed
        r["test_key"] = key
    path = tmp_path / "bank.json"
    path.write_text(json.dumps(rows))
    sig = json.dumps({**rows[2]["signals"], "metric": "auroc"})
    for task in ("user-active", "user-spend"):
        for family, score in (("dfs", 0.7), ("rdl", 0.8)):
            gen.execute("INSERT INTO relatron.bank (task, database, signals, family, config, "
                        "val_metric, test_metric) VALUES (?, 'here', ?, ?, '{}', ?, ?)",
                        [task, sig, family, score, score])
    out = router.route(gen, "user-active", bank_path=str(path), affinities=False)
    # 24 shipped tasks + 2 trained here, less t0 (same test key) and user-active (same name)
    assert "selector fitted on 24 bank tasks" in out["reason"]
    assert bank.test_key(load_task(gen, "user-spend")) != key


def test_a_copy_written_differently_shares_the_test_key(gen):
    """The same label query in other case, with a comment, other spacing or a final ';' defines
    the same test rows, so it must carry the same key; another query must not."""
    from relatron_sql.testing import ACTIVE_SQL
    task = load_task(gen, "user-active")
    assert " ".join(task.label_sql.split()) == " ".join(ACTIVE_SQL.split())
    for variant in (ACTIVE_SQL.lower(), "-- a copy\n" + ACTIVE_SQL + ";",
                    "\n".join(ACTIVE_SQL.split()), ACTIVE_SQL.replace("users", '"USERS"')):
        assert bank.test_key(dataclasses.replace(task, label_sql=variant)) == bank.test_key(task)
    other = dataclasses.replace(task, label_sql=ACTIVE_SQL.replace("<= a.window_end",
                                                                   "< a.window_end"))
    assert other.label_sql != ACTIVE_SQL and bank.test_key(other) != bank.test_key(task)
    # rows written before queries were compared this way carry the key of their words
    legacy = bank._key(task, " ".join(task.label_sql.split()))
    assert bank.test_keys(task) == {bank.test_key(task), legacy}


def test_a_task_is_left_out_by_any_of_its_rows_test_keys(gen, tmp_path):
    """A bank task whose rows carry two keys (redefined under one name and trained again) is
    left out when either is the routed task's, whatever order the rows come in."""
    rows = _synthetic_bank(np.random.default_rng(1))
    key = bank.test_key(load_task(gen, "user-active"))
    rows[0]["test_key"], rows[1]["test_key"] = "an-older-definition", key
    for order in (rows, rows[1::-1] + rows[2:]):
        assert bank.outcomes(order)[0]["test_keys"] == {"an-older-definition", key}
        path = tmp_path / "bank.json"
        path.write_text(json.dumps(order))
        out = router.route(gen, "user-active", bank_path=str(path), affinities=False)
        assert "selector fitted on 23 bank tasks" in out["reason"]


def test_a_bank_row_whose_config_is_not_an_object_is_a_bank_error(gen, tmp_path):
    rows = _synthetic_bank(np.random.default_rng(1))
    rows[3]["config"] = [1]
    path = tmp_path / "bank.json"
    path.write_text(json.dumps(rows))
    with pytest.raises(bank.BankError, match="argument 'bank'.*row 3.*config must be an object"):
        bank.load(path)
    out = router.route(gen, "user-active", bank_path=str(path), affinities=False)
    assert out["family"] == "both" and "config must be an object" in out["reason"]


def test_a_foreign_key_of_another_numeric_type_still_links_entities(gen):
    """A key stored as DOUBLE (a CSV column with NULLs) names entity 1 as 1.0: homophily must
    read it through the entity key's type, not drop the meta-path for want of matches."""
    task = load_task(gen, "user-active")
    before = signals.compute(gen, task, affinities=False)["metapaths"]
    gen.execute("ALTER TABLE orders ALTER user_id TYPE DOUBLE")
    after = signals.compute(gen, task, affinities=False)["metapaths"]
    path = "users<-orders.user_id|orders.item_id->items"
    assert before[path]["edges"] > 0
    assert after[path] == before[path]


def test_follows_of_another_key_type_still_link_directly(gen):
    _with_follows(gen, n=300)
    task = load_task(gen, "user-active")
    direct = [p for p in signals.metapaths(signals.read_schema(gen), "users") if p.direct]
    before = {p.name: len(signals._pairs(gen, task, p, signals._anchor_sample(gen, task))[0])
              for p in direct}
    gen.execute("ALTER TABLE follows ALTER follower TYPE DOUBLE")
    gen.execute("ALTER TABLE follows ALTER followee TYPE DOUBLE")
    after = {p.name: len(signals._pairs(gen, task, p, signals._anchor_sample(gen, task))[0])
             for p in direct}
    assert before and all(v > 0 for v in before.values()) and after == before


@pytest.mark.parametrize("field, value, says", [
    ("signal", "high", "signal 'feature_affinity' is not a number"),
    ("val_metric", "n/a", "val_metric is not a number"),
    ("test_metric", {"auroc": 0.8}, "test_metric is not a number"),
    ("seed", [0, 1], "seed must be"),
])
def test_a_bank_row_of_the_wrong_type_is_a_bank_error_and_routing_searches_both(
        gen, tmp_path, field, value, says):
    rows = _synthetic_bank(np.random.default_rng(1))
    if field == "signal":
        rows[3]["signals"] = {**rows[3]["signals"], "feature_affinity": value}
    else:
        rows[3][field] = value
    path = tmp_path / "bank.json"
    path.write_text(json.dumps(rows))
    with pytest.raises(bank.BankError, match=f"row 3 \\('t1'\\): {says}"):
        bank.load(path)
    out = router.route(gen, "user-active", bank_path=str(path), affinities=False)
    assert out["family"] == "both" and says in out["reason"]


def test_an_unreadable_row_trained_here_is_left_out_with_a_warning(gen, tmp_path, caplog):
    rows = _synthetic_bank(np.random.default_rng(1))
    path = tmp_path / "bank.json"
    path.write_text(json.dumps(rows))
    for signals_json in ("{not json", json.dumps({"feature_affinity": "x"}), "[1, 2]"):
        gen.execute("INSERT INTO relatron.bank (task, database, signals, family, config, "
                    "val_metric, test_metric) VALUES ('hand-edited', 'here', ?, 'dfs', '{}', "
                    "0.7, 0.7)", [signals_json])
    with caplog.at_level("WARNING"):
        assert router.user_bank_rows(gen) == []
        out = router.route(gen, "user-active", bank_path=str(path), affinities=False)
    assert caplog.text.count("'hand-edited' is left out") >= 3
    assert "selector fitted on 24 bank tasks" in out["reason"]


def test_a_copy_of_a_task_trained_here_does_not_route_on_its_test_record(gen, tmp_path,
                                                                       monkeypatch):
    """relatron_train records the task's test key with its bank rows, so the same task under
    another name is routed without the first one's test result."""
    from relatron_sql import models
    from relatron_sql.task import create_task
    from relatron_sql.testing import ACTIVE_SQL
    task = load_task(gen, "user-active")
    sig = {**{k: 0.5 for k in signals.KEYS}, "metric": "auroc"}
    monkeypatch.setattr(router, "route", lambda con, name, **kw: {
        "task": name, "family": "dfs", "probability": 0.1, "reason": "test", "signals": sig})
    models.train(gen, "user-active", family="auto", budget=1)
    monkeypatch.undo()
    stored = json.loads(gen.execute("SELECT signals FROM relatron.bank").fetchall()[0][0])
    assert stored["test_key"] == bank.test_key(task)
    create_task(gen, "user-active-copy", "users", ACTIVE_SQL, kind="binary",
                       horizon=task.horizon, val_timestamp=task.val_timestamp,
                       test_timestamp=task.test_timestamp)
    path = tmp_path / "bank.json"
    path.write_text(json.dumps(_synthetic_bank(np.random.default_rng(1))))
    out = router.route(gen, "user-active-copy", bank_path=str(path), affinities=False)
    assert "selector fitted on 24 bank tasks" in out["reason"]
    assert [r["test_key"] for r in router.user_bank_rows(gen)] == [bank.test_key(task)]


@pytest.mark.parametrize("p, family", [(0.8, "rdl"), (0.2, "dfs"), (0.79, "both"),
                                       (0.21, "both"), (1.0, "rdl"), (0.0, "dfs")])
def test_the_two_commitment_lines_are_symmetric(p, family):
    assert router.family_for(p) == family


def test_a_near_bank_configuration_a_family_cannot_train_gives_way_to_the_next():
    from relatron_sql import models
    rows = _synthetic_bank(np.random.default_rng(2))
    query = rows[6]["signals"]                       # task t3's own signals
    assert models._usable_nearest(rows, query, "rdl", None)[0] == {"i": 3}
    for r in rows:
        if r["task"] == "t3" and r["family"] == "rdl":
            r["config"] = {"conv": "relgnn"}        # from another release, say
    notes = []
    configs = models._usable_nearest(rows, query, "rdl", notes)
    assert len(configs) == 2 and {"conv": "relgnn"} not in configs
    assert configs == [n["config"] for n in bank.nearest(
        [r for r in rows if r["task"] != "t3"], query, "rdl", k=2)]
    assert len(notes) == 1 and "'t3'" in notes[0] and "relgnn" in notes[0]
    assert notes[0].startswith("rdl: ")


def test_a_skipped_bank_configuration_is_said_once_in_the_training_warnings(gen, monkeypatch):
    from relatron_sql import models
    params = {"learning_rate": 0.05, "num_leaves": 9, "min_data_in_leaf": 7,
              "feature_fraction": 0.6, "bagging_fraction": 0.9, "lambda_l2": 0.5}
    rows = _synthetic_bank(np.random.default_rng(2))
    for r in rows:
        r["config"] = {"params": {**params, "lambda_l2": float("nan") if r["task"] == "t3"
                                  else 0.5}}
    sig = rows[6]["signals"]
    monkeypatch.setattr(bank, "load", lambda path=None: rows)
    monkeypatch.setattr(router, "route", lambda con, name, **kw: {
        "task": name, "family": "dfs", "probability": 0.1, "reason": "test", "signals": sig})
    out = models.train(gen, "user-active", family="auto", budget=1)
    skipped = [w for w in out["warnings"] if "is skipped" in w]
    assert len(skipped) == 1 and "'t3'" in skipped[0] and "lambda_l2 nan" in skipped[0]
    # the two usable neighbours' configurations, then the one study trial
    assert gen.execute("SELECT COUNT(*) FROM relatron.trials WHERE name = 'user-active'"
                       ).fetchall()[0][0] == 3


def test_routing_follows_the_sessions_threads_setting(gen, monkeypatch):
    """The path affinity's untrained GNN and the feature affinity's LightGBM use no more
    threads than SET threads allows."""
    import lightgbm
    import torch
    from relatron_sql.rdl import train as engine
    used = []
    real_train = lightgbm.train
    monkeypatch.setattr(lightgbm, "train", lambda params, *a, **kw: (
        used.append(("lightgbm", params["num_threads"])), real_train(params, *a, **kw))[1])
    real_embed = affinity.untrained_embeddings

    def embeddings(*args, **kwargs):
        out = real_embed(*args, **kwargs)
        used.append(("torch", torch.get_num_threads()))
        return out

    monkeypatch.setattr(affinity, "untrained_embeddings", embeddings)
    task = load_task(gen, "user-active")
    try:
        gen.execute("SET threads = 1")
        signals.compute(gen, task)
        assert ("lightgbm", 1) in used and ("torch", 1) in used
        assert {n for _, n in used} == {1}
    finally:
        gen.execute("RESET threads")
        engine.set_threads()


def _bank_rows_of(con, name):
    return con.execute("SELECT family, signals, val_metric, test_metric FROM relatron.bank "
                       "WHERE task = ? ORDER BY created_at, family", [name]).fetchall()


def test_an_auto_training_over_both_families_banks_both_so_routing_learns_here(gen,
                                                                             monkeypatch):
    """Later routing in this database fits its selector on tasks that both families ran: an
    auto-mode training that searched both records the one it did not keep as well (a blend
    of the two, which banks both members, is tested in tests/test_blend.py)."""
    from relatron_sql import models
    sig = {**{k: 0.5 for k in signals.KEYS}, "metric": "auroc"}
    monkeypatch.setattr(router, "route", lambda con, name, **kw: {
        "task": name, "family": "both", "probability": 0.5, "reason": "test", "signals": sig})
    monkeypatch.setattr(models._Both, "blend", staticmethod(lambda *a: (None, {})))
    out = models.train(gen, "user-active", family="auto", budget=1)
    rows = _bank_rows_of(gen, "user-active")
    assert sorted(r[0] for r in rows) == ["dfs", "rdl"]
    kept = next(r for r in rows if r[0] == out["family"])
    assert kept[2] == pytest.approx(out["val"]["auroc"])
    assert kept[3] == pytest.approx(out["test"]["auroc"])
    assert all(r[1] is not None and 0 <= r[3] <= 1 for r in rows)
    # only the kept family is registered as a model
    assert gen.execute("SELECT family FROM relatron.models").fetchall() == [(out["family"],)]
    (outcome,) = bank.outcomes(router.user_bank_rows(gen))
    assert outcome["task"] == "user:user-active"
    assert outcome["test_keys"] == {bank.test_key(load_task(gen, "user-active"))}


def test_a_training_with_a_named_family_banks_the_signals_of_the_same_definition(
        gen, monkeypatch):
    """A named family routes nothing; its bank row takes the signals an earlier auto-mode
    training of the same definition recorded, and none when the definition changed since."""
    from relatron_sql import models
    from relatron_sql.task import create_task
    from relatron_sql.testing import ACTIVE_SQL
    models.train(gen, "user-active", family="dfs", budget=1)
    assert _bank_rows_of(gen, "user-active")[-1][1] is None   # nothing routed it yet
    sig = {**{k: 0.25 for k in signals.KEYS}, "metric": "auroc"}
    monkeypatch.setattr(router, "route", lambda con, name, **kw: {
        "task": name, "family": "dfs", "probability": 0.1, "reason": "test", "signals": sig})
    models.train(gen, "user-active", family="auto", budget=1)
    monkeypatch.undo()
    models.train(gen, "user-active", family="dfs", budget=2)
    stored = json.loads(_bank_rows_of(gen, "user-active")[-1][1])
    assert stored == {**sig, "test_key": bank.test_key(load_task(gen, "user-active"))}
    task = load_task(gen, "user-active")
    create_task(gen, "user-active", "users", ACTIVE_SQL + " WHERE u.user_id % 2 = 0",
                kind="binary", horizon=task.horizon, val_timestamp=task.val_timestamp,
                test_timestamp=task.test_timestamp, replace=True)
    models.train(gen, "user-active", family="dfs", budget=1)
    assert _bank_rows_of(gen, "user-active")[-1][1] is None   # another definition


def test_a_family_not_kept_that_cannot_be_scored_costs_only_its_bank_row(gen, monkeypatch,
                                                                        caplog):
    from relatron_sql import models
    from relatron_sql.rdl import train as engine
    sig = {**{k: 0.5 for k in signals.KEYS}, "metric": "auroc"}
    monkeypatch.setattr(router, "route", lambda con, name, **kw: {
        "task": name, "family": "both", "probability": 0.5, "reason": "test", "signals": sig})
    from relatron_sql.rdl.family import FAMILY as RDL
    real = RDL.fit

    def rdl_loses(con, task, options):   # so that DFS is kept and RDL is the one not kept
        return dataclasses.replace(real(con, task, options), val_metric=-1.0)

    monkeypatch.setattr(RDL, "fit", rdl_loses)
    monkeypatch.setattr(engine.RDLModel, "predict", lambda *a: (_ for _ in ()).throw(
        RuntimeError("scoring failed")))
    with caplog.at_level("WARNING"):
        out = models.train(gen, "user-active", family="auto", budget=1)
    assert "could not be scored for the bank: scoring failed" in caplog.text
    assert [r[0] for r in _bank_rows_of(gen, "user-active")] == ["dfs"]
    assert gen.execute("SELECT COUNT(*) FROM relatron.models WHERE active").fetchall()[0][0] == 1
    assert out["family"] == "dfs"

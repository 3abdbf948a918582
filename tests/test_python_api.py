"""The Python API: each SQL function has an engine counterpart at the top level, with the same
result."""
import json
import pathlib
import re

import pytest

import relatron_sql
from relatron_sql.testing import make_database


@pytest.fixture
def con():
    con = relatron_sql.connect(":memory:")
    make_database(con, n_users=80)
    yield con
    con.close()


def test_each_sql_function_has_a_python_counterpart_with_the_same_result(con):
    summary = relatron_sql.train(con, "user-active", family="baseline")
    from_sql = json.loads(con.execute("SELECT relatron_train('user-active', family := "
                                      "'baseline')").fetchall()[0][0])
    assert from_sql["reused"] and from_sql["val"] == summary["val"]
    assert relatron_sql.predict(con, "user-active", "val") == con.execute(
        "SELECT COUNT(*) FROM relatron.task_rows WHERE task = 'user-active' AND split = 'val'"
    ).fetchall()[0][0]
    assert relatron_sql.evaluate(con, "user-active")["metrics"] == json.loads(con.execute(
        "SELECT relatron_evaluate('user-active')").fetchall()[0][0])["metrics"]
    assert [r["feature"] for r in relatron_sql.explain(con, "user-active")] == [
        r[0] for r in con.execute("FROM relatron_explain('user-active')").fetchall()]
    assert relatron_sql.features_sql(con, "user-active") == con.execute(
        "SELECT relatron_features_sql('user-active')").fetchall()[0][0]
    from relatron_sql.route.router import route
    routed = route(con, "user-active", affinities=False)
    assert routed["family"] in ("dfs", "rdl", "both") and "homophily_mean" in routed["signals"]


def test_the_api_is_listed_and_an_unknown_name_is_an_attribute_error():
    for name in ("train", "predict", "evaluate", "explain", "features_sql"):
        assert name in relatron_sql.__all__ and name in dir(relatron_sql)
    with pytest.raises(AttributeError, match="no attribute 'trian'"):
        relatron_sql.trian


def test_the_public_sql_functions_are_the_documented_ones():
    con = relatron_sql.connect(":memory:")
    public = {r[0] for r in con.execute(
        "SELECT DISTINCT function_name FROM duckdb_functions() WHERE function_name LIKE "
        "'relatron\\_%' ESCAPE '\\' AND NOT regexp_matches(function_name, '_udf_[0-9]+$')"
    ).fetchall()}
    readme = (pathlib.Path(__file__).parents[1] / "README.md").read_text()
    documented = set(re.findall(r"\| `(?:FROM )?(relatron_\w+)\(", readme))
    assert public == documented == {
        "relatron_load", "relatron_declare", "relatron_schema", "relatron_task",
        "relatron_task_rows", "relatron_route", "relatron_train", "relatron_predict",
        "relatron_predictions", "relatron_evaluate", "relatron_explain", "relatron_features_sql"}
    con.close()

"""The Spark form of the feature query runs on Apache Spark (local mode) over the same rel-f1
data and gives the same feature values as DuckDB."""
import numpy as np
import pytest

from relatron_sql.dfs.compile import compile_plan, schema_info, to_sql
from relatron_sql.dfs.enumerate import enumerate_features
from relatron_sql.dfs.matrix import anchors_table
from relatron_sql.schema import read_schema
from relatron_sql.sqlbuild import table as table_ref
from relatron_sql.task import task_rows

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark():
    pyspark_sql = pytest.importorskip("pyspark.sql")
    session = (pyspark_sql.SparkSession.builder.master("local[2]").appName("relatron-dfs")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .getOrCreate())
    yield session
    session.stop()


def _pick(plan):
    """One feature of every (aggregate, window kind), one of every (group, aggregate) for modes
    and latest values, and the count of every group: every compiled shape, few columns."""
    seen, out = set(), []
    for f in plan.features:
        window = None if f["window"] is None else f["window"][0]
        keys = [(f["agg"], window), (f["group"], "count" if f["agg"] == "count" else None)]
        if f["agg"] in ("mode", "last"):
            keys.append((f["group"], f["agg"]))
        if any(k not in seen for k in keys):
            seen.update(keys)
            out.append(f["name"])
    return out


def test_spark_matches_duckdb(f1_con, spark):
    con = f1_con
    schema = read_schema(con, count_dangling=False)
    plan = enumerate_features(con, schema, "drivers", depth=2)
    plan = plan.subset(_pick(plan))
    info = schema_info(schema, plan)
    tree = compile_plan(plan, info)
    rows = task_rows(con, "driver-dnf")
    pick = np.random.default_rng(0).choice(len(rows["entity_id"]), 200, replace=False)
    anchors = anchors_table(rows["anchor_time"][pick], rows["entity_id"][pick])
    con.register("relatron_feature_anchors", anchors)
    order = " ORDER BY anchor_time, entity_id"
    ours = con.execute("SELECT * FROM (" + to_sql(tree, "duckdb") + ")" + order).fetchnumpy()
    con.unregister("relatron_feature_anchors")
    for name in info:
        data = con.execute("SELECT * FROM " + table_ref(name).sql("duckdb")).to_arrow_table()
        spark.createDataFrame(data.to_pandas()).createOrReplaceTempView(name)
    spark.createDataFrame(anchors.to_pandas()).createOrReplaceTempView(
        "relatron_feature_anchors")
    spark_sql = to_sql(tree, "spark")
    assert "ASOF" not in spark_sql.upper()
    theirs = spark.sql("SELECT * FROM (" + spark_sql + ") AS q" + order).toPandas()
    names = [f["name"] for f in plan.features]
    assert list(theirs.columns) == ["anchor_time", "entity_id", *names]
    assert len(theirs) == len(ours["entity_id"])
    assert (theirs["entity_id"].to_numpy().astype(str) == ours["entity_id"].astype(str)).all()
    assert (theirs["anchor_time"].to_numpy().astype("datetime64[us]")
            == ours["anchor_time"].astype("datetime64[us]")).all()
    for name in names:
        a = np.ma.filled(np.ma.asarray(ours[name], dtype=float), np.nan)
        b = theirs[name].to_numpy(dtype=float, na_value=np.nan)
        bad = ~np.isclose(a, b, equal_nan=True, rtol=1e-9, atol=1e-9)
        assert not bad.any(), (name, a[bad][:5], b[bad][:5], ours["anchor_time"][bad][:5])
    assert len(names) > 25


def test_spark_keeps_fractions_of_a_second(spark):
    """Days since a row count microseconds on Spark as on DuckDB (UNIX_TIMESTAMP gives whole
    seconds); rel-f1's times are whole seconds, so the test above cannot see it."""
    import relatron_sql
    from relatron_sql.schema import declare
    con = relatron_sql.connect(":memory:")
    con.execute("CREATE TABLE users (user_id BIGINT, signup TIMESTAMP)")
    con.execute("INSERT INTO users VALUES (1, '2021-03-01 00:00:00'), "
                "(2, '2021-03-13 12:00:00.250')")
    con.execute("CREATE TABLE events (event_id BIGINT, user_id BIGINT, time TIMESTAMP, "
                "amount DOUBLE)")
    con.execute("INSERT INTO events VALUES (1, 1, '2021-03-10 00:00:00', 1), "
                "(2, 1, '2021-03-13 23:30:00.5', 2), (3, 2, '2021-03-13 12:00:00.75', 3)")
    declare(con, "users", primary_key="user_id", time_column="signup")
    declare(con, "events", primary_key="event_id", foreign_keys={"user_id": "users"},
            time_column="time")
    schema = read_schema(con, count_dangling=False)
    plan = enumerate_features(con, schema, "users", depth=1)
    info = schema_info(schema, plan)
    tree = compile_plan(plan, info)
    anchors = anchors_table(np.array(["2021-03-20T00:00:00.000001"] * 2,
                                     dtype="datetime64[us]"), np.array([1, 2]))
    con.register("relatron_feature_anchors", anchors)
    order = " ORDER BY anchor_time, entity_id"
    ours = con.execute("SELECT * FROM (" + to_sql(tree, "duckdb") + ")" + order).fetchdf()
    for name in info:
        data = con.execute("SELECT * FROM " + table_ref(name).sql("duckdb")).fetchdf()
        spark.createDataFrame(data).createOrReplaceTempView(name)
    spark.createDataFrame(anchors.to_pandas()).createOrReplaceTempView(
        "relatron_feature_anchors")
    theirs = spark.sql("SELECT * FROM (" + to_sql(tree, "spark") + ") AS q" + order).toPandas()
    days = [c for c in ours.columns if "days_since" in c]
    assert days
    for c in days:
        a = ours[c].to_numpy(float, na_value=np.nan)
        assert np.allclose(a, theirs[c].to_numpy(float, na_value=np.nan), rtol=1e-12,
                           atol=1e-12, equal_nan=True), c
    assert (ours[days].to_numpy(float) % 1 != 0).any()   # fractions there to lose

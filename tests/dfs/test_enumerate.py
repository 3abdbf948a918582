"""Which relations the enumeration aggregates over, and what it names them."""
import numpy as np

from relatron_sql.dfs.compile import schema_info
from relatron_sql.dfs.enumerate import enumerate_features
from relatron_sql.dfs.matrix import feature_matrix
from relatron_sql.schema import declare, read_schema


def test_a_child_with_two_keys_to_the_entity_is_two_relations(con):
    """flights.origin and flights.dest both name an airport: an airport's departures and its
    arrivals are aggregated apart, each under a name that says which key it follows."""
    con.execute("CREATE TABLE airports (code VARCHAR, alt DOUBLE)")
    con.execute("INSERT INTO airports VALUES ('A', 1), ('B', 2), ('C', 3)")
    con.execute("CREATE TABLE flights (id INTEGER, origin VARCHAR, dest VARCHAR, t TIMESTAMP, "
                "delay DOUBLE)")
    con.execute("INSERT INTO flights VALUES (1, 'A', 'B', '2020-01-01', 10), "
                "(2, 'A', 'C', '2020-01-02', 20), (3, 'A', 'B', '2020-01-03', 30), "
                "(4, 'C', 'A', '2020-01-04', 1000)")
    declare(con, "airports", primary_key="code")
    declare(con, "flights", primary_key="id", foreign_keys={"origin": "airports",
                                                            "dest": "airports"}, time_column="t")
    schema = read_schema(con, count_dangling=False)
    plan = enumerate_features(con, schema, "airports", depth=2, windows=())
    assert {g.name for g in plan.groups.values()} >= {"flights_origin", "flights_dest"}
    names = [f["name"] for f in plan.features]
    x = feature_matrix(con, plan, schema_info(schema, plan),
                       np.array(["2020-02-01"], dtype="datetime64[us]"), np.array(["A"]))[0]
    value = dict(zip(names, x))
    assert value["flights_origin_count"] == 3 and value["flights_origin_delay_sum"] == 60
    assert value["flights_dest_count"] == 1 and value["flights_dest_delay_sum"] == 1000
    described = {f["name"]: f["description"] for f in plan.features}
    assert "(by dest)" in described["flights_dest_count"]
    assert "(by origin)" in described["flights_origin_count"]


def test_a_child_with_one_key_to_the_entity_keeps_the_table_name(gen_con):
    schema = read_schema(gen_con, count_dangling=False)
    plan = enumerate_features(gen_con, schema, "users", depth=1)
    assert "orders" in plan.groups and "orders_count" in [f["name"] for f in plan.features]


def test_category_values_that_differ_only_in_case_are_features_of_their_own(con):
    """DuckDB compares identifiers without case: 'web' and 'WEB' once gave two features whose
    names differed only in case, and the query filled both with one value's counts."""
    con.execute("CREATE TABLE users (id INTEGER)")
    con.execute("INSERT INTO users VALUES (1), (2)")
    con.execute("CREATE TABLE orders (id INTEGER, user_id INTEGER, channel VARCHAR, t TIMESTAMP)")
    con.execute("INSERT INTO orders VALUES (1, 1, 'WEB', '2020-01-01'), (2, 1, 'WEB', "
                "'2020-01-02'), (3, 1, 'web', '2020-01-03'), (4, 2, 'a b', '2020-01-01'), "
                "(5, 2, 'a_b', '2020-01-02'), (6, 2, 'a_b', '2020-01-03'), (7, 1, 'WEB', "
                "'2020-01-04')")
    declare(con, "users", primary_key="id")
    declare(con, "orders", primary_key="id", foreign_keys={"user_id": "users"}, time_column="t")
    schema = read_schema(con, count_dangling=False)
    plan = enumerate_features(con, schema, "users", depth=1, windows=())
    counts = {f["name"]: f["category"] for f in plan.features if f["agg"] == "category_count"}
    assert len(counts) == 4 and len({n.lower() for n in counts}) == 4
    x = feature_matrix(con, plan, schema_info(schema, plan),
                       np.array(["2020-02-01"] * 2, dtype="datetime64[us]"), np.array(["1", "2"]))
    names = [f["name"] for f in plan.features]
    got = {}
    for f in plan.features:
        if f["agg"] == "category_count":
            desc = f["description"].split("= ")[1]
            got[desc] = x[:, names.index(f["name"])].tolist()
    assert got == {"'WEB'": [3, 0], "'web'": [1, 0], "'a_b'": [0, 2], "'a b'": [0, 1]}


def test_linked_columns_through_two_keys_to_one_table_are_described_by_key(con):
    """flights.origin and flights.dest -> airports: each linked airport column's description
    says which key it came through, as its name does."""
    con.execute("CREATE TABLE planes (tailnum VARCHAR)")
    con.execute("INSERT INTO planes VALUES ('N1')")
    con.execute("CREATE TABLE airports (code VARCHAR, alt DOUBLE)")
    con.execute("INSERT INTO airports VALUES ('A', 1), ('B', 2)")
    con.execute("CREATE TABLE flights (id INTEGER, tailnum VARCHAR, origin VARCHAR, dest VARCHAR,"
                " t TIMESTAMP)")
    con.execute("INSERT INTO flights VALUES (1, 'N1', 'A', 'B', '2020-01-01')")
    declare(con, "planes", primary_key="tailnum")
    declare(con, "airports", primary_key="code")
    declare(con, "flights", primary_key="id", foreign_keys={
        "tailnum": "planes", "origin": "airports", "dest": "airports"}, time_column="t")
    schema = read_schema(con, count_dangling=False)
    plan = enumerate_features(con, schema, "planes", depth=2, windows=())
    described = {f["name"]: f["description"] for f in plan.features}
    assert "airports.alt (linked by dest)" in described["flights_dest_airports_alt_mean"]
    assert "airports.alt (linked by origin)" in described["flights_origin_airports_alt_mean"]
    assert len(set(described.values())) == len(described)

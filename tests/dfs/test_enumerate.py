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

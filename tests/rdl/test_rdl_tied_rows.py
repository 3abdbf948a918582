"""A table without a primary key: its rows' node order, and so which of several rows tied on
time the "last" sampler takes, do not depend on the order the rows were stored in."""
import datetime as dt

import numpy as np

import relatron_sql
from relatron_sql.rdl.encoders import TableEncoder
from relatron_sql.rdl.graph import build_graph
from relatron_sql.rdl.sampler import NeighborSampler
from relatron_sql.schema import declare, read_schema

from rdl_helpers import epoch_us

T0 = dt.datetime(2021, 1, 1)
# user 1: three events at one instant; user 2: two at one instant and an older one
EVENTS = [(1, T0, 1.0), (1, T0, 5.0), (1, T0, 3.0), (2, T0, 7.0), (2, T0, 2.0),
          (2, T0 - dt.timedelta(days=2), 4.0)]


def _picked(order):
    """The amounts of the events the 'last' sampler takes for each user, fanout 1 and 2."""
    con = relatron_sql.connect(":memory:")
    con.execute("CREATE TABLE users (user_id BIGINT, signup TIMESTAMP)")
    con.execute("INSERT INTO users VALUES (1, ?), (2, ?)", [T0 - dt.timedelta(days=30)] * 2)
    con.execute("CREATE TABLE events (user_id BIGINT, time TIMESTAMP, amount DOUBLE)")
    for i in order:
        con.execute("INSERT INTO events VALUES (?, ?, ?)", list(EVENTS[i]))
    declare(con, "users", primary_key="user_id", time_column="signup")
    declare(con, "events", foreign_keys={"user_id": "users"}, time_column="time")
    schema = read_schema(con, count_dangling=False)
    g = build_graph(con, schema=schema)
    enc = TableEncoder.fit(con, schema.tables["events"])
    amounts = enc.encode(con, schema.tables["events"]).num[:, 0]
    seeds = g.locate("users", np.array(["1", "2"]))
    times = np.full(2, epoch_us(np.datetime64(T0 + dt.timedelta(hours=1))))
    picked = {}
    for fanout in (1, 2):
        out = NeighborSampler(g, [fanout], "last").sample("users", seeds, times, seed=0)
        ev = out.node_type == g.type_id("events")
        local = out.node[ev] - g.type_offset[g.type_id("events")]
        picked[fanout] = sorted(zip(out.seed[ev].tolist(), np.round(amounts[local], 6).tolist()))
    con.close()
    return picked


def test_tied_rows_are_sampled_alike_in_any_stored_order():
    first = _picked(range(len(EVENTS)))
    assert len(first[1]) == 2 and len(first[2]) == 4
    for order in ([2, 1, 0, 5, 4, 3], [1, 2, 0, 4, 3, 5], [5, 0, 4, 1, 3, 2]):
        assert _picked(order) == first

"""Which integer columns read as codes: names of identifiers, not words that end in "id"."""
import pytest

import relatron_sql
from relatron_sql.schema import declare, looks_like_id, read_schema


@pytest.mark.parametrize("name", ["id", "ID", "user_id", "statusId", "userID", "user-id",
                                  "userid", "USERID", "raceId", "status_ID"])
def test_identifier_names(name):
    assert looks_like_id(name)


@pytest.mark.parametrize("name", ["grid", "GRID", "Grid", "paid", "amount_paid", "valid",
                                  "bid", "Bid", "rapid", "humid", "android", "thyroid",
                                  "width", "void"])
def test_words_that_end_in_id(name):
    assert not looks_like_id(name)


def test_a_starting_grid_position_is_a_number_and_a_status_code_a_category():
    con = relatron_sql.connect(":memory:")
    con.execute("CREATE TABLE drivers (driverId BIGINT)")
    con.execute("CREATE TABLE results (resultId BIGINT, driverId BIGINT, grid BIGINT, "
                "statusId BIGINT, paid INTEGER)")
    con.execute("INSERT INTO drivers VALUES (1), (2)")
    con.execute("INSERT INTO results SELECT i, 1 + i % 2, i % 20, i % 7, i FROM range(40) t(i)")
    declare(con, "drivers", primary_key="driverId")
    declare(con, "results", primary_key="resultId", foreign_keys={"driverId": "drivers"})
    kinds = {c.name: c.semantic for c in read_schema(con).tables["results"].columns}
    assert kinds == {"resultId": "id", "driverId": "id", "grid": "numeric",
                     "statusId": "categorical", "paid": "numeric"}

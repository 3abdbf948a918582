import pytest

import relatron_sql
from relatron_sql.testing import make_database


@pytest.fixture(scope="module")
def gen_con():
    """The small generated database (read-only use)."""
    con = relatron_sql.connect(":memory:")
    make_database(con)
    yield con
    con.close()


@pytest.fixture
def fresh_gen():
    """A generated database a test may write to."""
    con = relatron_sql.connect(":memory:")
    make_database(con)
    yield con
    con.close()

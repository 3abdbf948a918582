import pytest

import relatron_sql
from relatron_sql.testing import make_database


@pytest.fixture
def gen_con():
    """A fresh generated database (groups, users, items, orders) with its two tasks."""
    c = relatron_sql.connect(":memory:")
    make_database(c, n_users=120, seed=3)
    yield c
    c.close()

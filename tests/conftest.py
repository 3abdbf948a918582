import pathlib

import pytest

import relatron_sql
from relatron_sql.testing import make_database

SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"
F1 = SHARED / "f1"
STACK = SHARED / "stackexchange-bicycles-meta"


def _require(path: pathlib.Path) -> pathlib.Path:
    if not path.is_dir():
        pytest.skip(f"{path} is not present")
    return path


@pytest.fixture(scope="session")
def f1_path() -> pathlib.Path:
    return _require(F1)


@pytest.fixture(scope="session")
def stack_path() -> pathlib.Path:
    return _require(STACK)


@pytest.fixture(scope="session")
def f1_db(tmp_path_factory, f1_path):
    """A database file with rel-f1 and its three tasks loaded once for the session."""
    path = tmp_path_factory.mktemp("f1") / "f1.duckdb"
    con = relatron_sql.connect(str(path))
    relatron_sql.load(con, "ergast_f1", str(f1_path))
    con.close()
    return path


@pytest.fixture
def f1_con(f1_db, tmp_path):
    """A private copy of the rel-f1 database, so tests may write to it."""
    import shutil
    copy = tmp_path / "f1.duckdb"
    shutil.copy(f1_db, copy)
    con = relatron_sql.connect(str(copy))
    yield con
    con.close()


@pytest.fixture
def con():
    c = relatron_sql.connect(":memory:")
    yield c
    c.close()


@pytest.fixture
def gen_con():
    """A fresh generated database (groups, users, items, orders) with its two tasks, 120 users.
    (tests/dfs overrides it with a larger, module-scoped one.)"""
    c = relatron_sql.connect(":memory:")
    make_database(c, n_users=120, seed=3)
    yield c
    c.close()

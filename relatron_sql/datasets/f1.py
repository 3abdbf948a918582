"""rel-f1 exactly as RelBench builds it from the Ergast CSVs, with its three driver tasks.

Nine tables; URLs, free-text times and sparse session columns dropped; ``\\N`` read as NULL;
``races.date`` is the race date plus its start time (midnight when unknown); event tables take
their date from the race, and qualifying from the day before the race.
"""
from __future__ import annotations

import datetime as dt

_READ = "read_csv(?, nullstr = '\\N', header = true, null_padding = true)"

FILES = ("races", "circuits", "drivers", "results", "driver_standings", "constructors",
         "constructor_results", "constructor_standings", "qualifying")

# (table, source file, SELECT over that file bound as ``src``)
TABLES = (
    ("circuits", "circuits",
     "SELECT circuitId, circuitRef, name, location, country, lat, lng, alt FROM src"),
    ("drivers", "drivers",
     "SELECT driverId, driverRef, code, forename, surname, CAST(dob AS TIMESTAMP) AS dob, "
     "nationality FROM src"),
    ("constructors", "constructors",
     "SELECT constructorId, constructorRef, name, nationality FROM src"),
    ("races", "races",
     "SELECT raceId, year, round, circuitId, name, "
     "CAST(date AS DATE) + COALESCE(CAST(time AS TIME), TIME '00:00:00') AS date FROM src"),
    ("results", "results",
     "SELECT s.resultId, s.raceId, s.driverId, s.constructorId, s.number, s.grid, s.position, "
     "s.positionOrder, s.points, s.laps, s.milliseconds, s.fastestLap, s.rank, s.statusId, "
     "r.date FROM src AS s LEFT JOIN races AS r USING (raceId)"),
    ("standings", "driver_standings",
     "SELECT s.driverStandingsId, s.raceId, s.driverId, s.points, s.position, s.wins, r.date "
     "FROM src AS s LEFT JOIN races AS r USING (raceId)"),
    ("constructor_results", "constructor_results",
     "SELECT s.constructorResultsId, s.raceId, s.constructorId, s.points, s.status, r.date "
     "FROM src AS s LEFT JOIN races AS r USING (raceId)"),
    ("constructor_standings", "constructor_standings",
     "SELECT s.constructorStandingsId, s.raceId, s.constructorId, s.points, s.position, s.wins, "
     "r.date FROM src AS s LEFT JOIN races AS r USING (raceId)"),
    ("qualifying", "qualifying",
     "SELECT s.qualifyId, s.raceId, s.driverId, s.constructorId, s.number, s.position, "
     "r.date - INTERVAL 1 DAY AS date FROM src AS s LEFT JOIN races AS r USING (raceId)"),
)

# table -> (primary key, {fk column: parent table}, time column)
KEYS = {
    "circuits": ("circuitId", {}, None),
    "drivers": ("driverId", {}, None),
    "constructors": ("constructorId", {}, None),
    "races": ("raceId", {"circuitId": "circuits"}, "date"),
    "results": ("resultId", {"raceId": "races", "driverId": "drivers",
                             "constructorId": "constructors"}, "date"),
    "standings": ("driverStandingsId", {"raceId": "races", "driverId": "drivers"}, "date"),
    "constructor_results": ("constructorResultsId", {"raceId": "races",
                                                     "constructorId": "constructors"}, "date"),
    "constructor_standings": ("constructorStandingsId", {"raceId": "races",
                                                         "constructorId": "constructors"}, "date"),
    "qualifying": ("qualifyId", {"raceId": "races", "driverId": "drivers",
                                 "constructorId": "constructors"}, "date"),
}

_RELBENCH_NOTE = (" Reproduces RelBench exactly, including its population: only drivers with an "
                  "event inside the label window get a row (RelBench issue 402), which leaks the "
                  "future into who is asked about. Comparable with published numbers; not a "
                  "pattern for new tasks.")

_VAL, _TEST = dt.datetime(2005, 1, 1), dt.datetime(2010, 1, 1)

TASKS = (
    dict(name="driver-dnf", entity="drivers", kind="binary", horizon=dt.timedelta(days=30),
         val_timestamp=_VAL, test_timestamp=_TEST, eval_windows=40,
         description="Will the driver fail to finish (status other than 'Finished') a race in "
                     "the next 30 days?" + _RELBENCH_NOTE,
         label_sql="""
SELECT a.anchor_time, dri.driverId,
       CASE WHEN MAX(CASE WHEN re.statusId != 1 THEN 1 ELSE 0 END) = 1 THEN 1 ELSE 0 END AS label
FROM relatron_anchors a
LEFT JOIN results re ON re.date <= a.window_end AND re.date > a.anchor_time
LEFT JOIN drivers dri ON re.driverId = dri.driverId
WHERE dri.driverId IN (SELECT DISTINCT driverId FROM results
                       WHERE date > a.anchor_time - INTERVAL 1 YEAR)
GROUP BY a.anchor_time, dri.driverId"""),
    dict(name="driver-top3", entity="drivers", kind="binary", horizon=dt.timedelta(days=30),
         val_timestamp=_VAL, test_timestamp=_TEST, eval_windows=40,
         description="Will the driver qualify in the top 3 for a race in the next 30 days?"
                     + _RELBENCH_NOTE,
         label_sql="""
SELECT a.anchor_time, qu.driverId,
       CASE WHEN MIN(qu.position) <= 3 THEN 1 ELSE 0 END AS label
FROM relatron_anchors a
LEFT JOIN qualifying qu ON qu.date <= a.window_end AND qu.date > a.anchor_time
LEFT JOIN drivers dri ON qu.driverId = dri.driverId
WHERE dri.driverId IN (SELECT DISTINCT driverId FROM qualifying
                       WHERE date > a.anchor_time - INTERVAL 1 YEAR)
GROUP BY a.anchor_time, qu.driverId"""),
    dict(name="driver-position", entity="drivers", kind="regression",
         horizon=dt.timedelta(days=60), val_timestamp=_VAL, test_timestamp=_TEST, eval_windows=40,
         description="The driver's mean finishing position (positionOrder) over races in the "
                     "next 60 days." + _RELBENCH_NOTE,
         label_sql="""
SELECT a.anchor_time, dri.driverId, MEAN(re.positionOrder) AS label
FROM relatron_anchors a
LEFT JOIN results re ON re.date <= a.window_end AND re.date > a.anchor_time
LEFT JOIN drivers dri ON re.driverId = dri.driverId
WHERE dri.driverId IN (SELECT DISTINCT driverId FROM results
                       WHERE date > a.anchor_time - INTERVAL 1 YEAR)
GROUP BY a.anchor_time, dri.driverId"""),
)

# Tasks of our own design for the performance bank. The population is decided by the past only
# (raced in the year up to the anchor), unlike RelBench's driver tasks above.
# Ergast's statuses of a car that saw the flag: "Finished" (1) and a lapped finisher "+N Lap(s)".
# RelBench's driver-dnf above counts only "Finished"; our own tasks count both as finishing.
FINISHED_STATUS = (1, 11, 12, 13, 14, 15, 16, 17, 18, 19, 45, 50, 53, 55, 58, 88, 111, 112, 113,
                   114, 115, 116, 117, 118, 119, 120, 122, 123, 124, 125, 127, 128, 133, 134)
# drivers.code is filled in almost only for drivers who raced from 2004 on, also for their
# earlier seasons: in 1990 it tells who will still race in 2004. RelBench's tasks keep it.
_NOT_AT_THE_TIME = ("drivers.code",)
_FINISHED = "re.statusId IN (" + ", ".join(map(str, FINISHED_STATUS)) + ")"
_ACTIVE_DRIVERS = ("SELECT DISTINCT a.anchor_time, a.window_end, r.driverId FROM relatron_anchors a "
                   "JOIN results r ON r.date <= a.anchor_time AND r.date > a.anchor_time - "
                   "INTERVAL 365 DAY")
_ACTIVE_TEAMS = ("SELECT DISTINCT a.anchor_time, a.window_end, r.constructorId FROM "
                 "relatron_anchors a JOIN results r ON r.date <= a.anchor_time AND r.date > "
                 "a.anchor_time - INTERVAL 365 DAY")


def _driver_task(name, kind, days, value, description):
    return dict(name=name, entity="drivers", kind=kind, horizon=dt.timedelta(days=days),
                val_timestamp=_VAL, test_timestamp=_TEST, eval_windows=40,
                description=description, exclude=_NOT_AT_THE_TIME,
                label_sql="WITH act AS (" + _ACTIVE_DRIVERS + ") SELECT act.anchor_time, "
                          "act.driverId, " + value + " AS label FROM act LEFT JOIN results re ON "
                          "re.driverId = act.driverId AND re.date > act.anchor_time AND "
                          "re.date <= act.window_end GROUP BY act.anchor_time, act.driverId")


def _team_task(name, kind, days, value, description, table="results"):
    return dict(name=name, entity="constructors", kind=kind, horizon=dt.timedelta(days=days),
                val_timestamp=_VAL, test_timestamp=_TEST, eval_windows=40,
                description=description, exclude=_NOT_AT_THE_TIME,
                label_sql="WITH act AS (" + _ACTIVE_TEAMS + ") SELECT act.anchor_time, "
                          "act.constructorId, " + value + " AS label FROM act LEFT JOIN " + table +
                          " re ON re.constructorId = act.constructorId AND re.date > "
                          "act.anchor_time AND re.date <= act.window_end "
                          "GROUP BY act.anchor_time, act.constructorId")


BANK_TASKS = (
    _driver_task("driver-podium", "binary", 60,
                 "CAST(COALESCE(MAX(re.positionOrder <= 3), false) AS INTEGER)",
                 "Will a driver who raced in the last year finish on the podium in the next 60 "
                 "days?"),
    _driver_task("driver-points", "regression", 60, "COALESCE(SUM(re.points), 0)",
                 "How many points will a driver who raced in the last year score in the next 60 "
                 "days?"),
    _driver_task("driver-win", "binary", 90,
                 "CAST(COALESCE(MAX(re.positionOrder = 1), false) AS INTEGER)",
                 "Will a driver who raced in the last year win a race in the next 90 days?"),
    _driver_task("driver-retire", "binary", 365, "CAST(COUNT(re.resultId) = 0 AS INTEGER)",
                 "Will a driver who raced in the last year not race at all in the next year?"),
    _driver_task("driver-finishes", "regression", 60,
                 "COALESCE(SUM(CAST(" + _FINISHED + " AS INTEGER)), 0)",
                 "How many races will a driver who raced in the last year finish (lapped or "
                 "not) in the next 60 days?"),
    _team_task("constructor-points", "regression", 90, "COALESCE(SUM(re.points), 0)",
               "How many points will a constructor active in the last year score in the next 90 "
               "days?", table="constructor_results"),
    _team_task("constructor-dnf", "binary", 30,
               "CAST(COALESCE(MAX(NOT " + _FINISHED + "), false) AS INTEGER)",
               "Will a car of a constructor active in the last year fail to finish (retire, or "
               "not be classified as finished or lapped) in the next 30 days?"),
    _team_task("constructor-podium", "binary", 60,
               "CAST(COALESCE(MAX(re.positionOrder <= 3), false) AS INTEGER)",
               "Will a constructor active in the last year reach the podium in the next 60 "
               "days?"),
)

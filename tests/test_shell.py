"""`relatron shell`: statements over several lines, dot-commands, aligned tables, history."""
import io
import os
import pathlib
import shutil
import subprocess
import sys
import time

import pytest

import relatron_sql
from relatron_sql.shell import Shell, format_table, is_complete

RELATRON = [sys.executable, "-m", "relatron_sql.cli"]


from test_cli import generated as database  # noqa: F401  (a generated database, 60 users)


def _shell(database, stdin: str, *extra, env=None):
    return subprocess.run(RELATRON + ["shell", str(database), *extra], input=stdin,
                          capture_output=True, text=True, timeout=120, env=env)


def test_multiline_statements_dot_commands_and_tables(database):
    stdin = "\n".join([
        ".tables",
        "SELECT user_id,",
        "       age",
        "FROM users  -- a comment; not the end",
        "WHERE user_id < 3",
        "ORDER BY user_id;",
        ".schema orders",
        ".mode csv",
        "SELECT 'a;b' AS s, 2.5 AS x;",
        ".mode box",
        ".timer on",
        "SELECT relatron_train('user-active', family := 'baseline') IS NOT NULL AS trained;",
        ".timer off",
        ".models",
        ".tasks",
        ".quit",
        "SELECT 'never reached';",
    ])
    run = _shell(database, stdin)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    tables = out.splitlines()[:4]
    assert any("orders" in line and "users" in line for line in tables)
    assert "relatron.models" in out
    # the three-line statement ran once, as an aligned table with names and types
    block = out[out.index("┌"):out.index("rows", out.index("┌"))]
    lines = block.splitlines()
    assert len({len(line) for line in lines if line.startswith(("│", "┌", "├", "└"))}) == 1
    assert "user_id" in lines[1] and "age" in lines[1] and "bigint" in lines[2].lower()
    assert "3 rows" in out
    assert 'CREATE TABLE orders' in out
    assert "s,x\na;b,2.5" in out
    assert "Run Time: real" in out and out.count("Run Time") == 1
    assert "user-active" in out and "baseline" in out and "user-spend" in out
    assert "never reached" not in out
    assert run.stderr == ""


def test_errors_are_single_lines_and_the_exit_code_says_so(database):
    run = _shell(database, "SELECT nope FROM users;\nSELEC 1;\n.nosuch\nSELECT 1 AS ok;\n")
    errors = run.stderr.strip().splitlines()
    assert len(errors) == 3 and all(e.startswith("Error: ") for e in errors), errors
    assert "nope" in errors[0] and "SELEC" in errors[1] and ".nosuch" in errors[2]
    assert "Traceback" not in run.stderr and "ok" in run.stdout
    assert run.returncode == 1


def test_is_complete_ignores_semicolons_in_quotes_and_comments():
    assert is_complete("SELECT 1;")
    assert is_complete("SELECT ';' ;  -- trailing comment")
    assert not is_complete("SELECT 'a;")
    assert not is_complete("SELECT 1 -- ;")
    assert not is_complete("SELECT 1 /* ; */")
    assert is_complete('SELECT "x;y" FROM t;')


def test_format_table_aligns_and_elides():
    rows = [(i, f"name{i}", i / 3) for i in range(100)]
    text = format_table(["id", "name", "score"], ["BIGINT", "VARCHAR", "DOUBLE"], rows,
                        max_rows=10)
    lines = text.splitlines()
    assert lines[-1] == "100 rows (10 shown)"
    body = [line for line in lines if line.startswith("│")]
    assert len(body) == 2 + 10 + 1            # header, types, rows, the elision marker
    assert len({len(line) for line in lines[:-1]}) == 1
    first = body[2]
    assert first.split("│")[1].endswith("0 ") and first.split("│")[2].startswith(" name0")
    csv_text = format_table(["a", "b"], ["INTEGER", "VARCHAR"], [(1, None), (2, "x,y")], "csv")
    assert csv_text.splitlines() == ["a,b", "1,", '2,"x,y"']


def test_history_persists_across_sessions(database, tmp_path):
    """Under tmux: a statement typed over two lines comes back as one entry next session."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    history = tmp_path / "history"
    env_prefix = (f"RELATRON_HISTORY={history} PYTHONPATH={os.getcwd()} "
                  f"{sys.executable} -m relatron_sql.cli shell {database}")
    session = f"relatron-test-{os.getpid()}"

    def tmux(*args):
        return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=20)

    def wait_closed():
        deadline = time.time() + 20
        while time.time() < deadline and tmux("has-session", "-t", session).returncode == 0:
            time.sleep(0.2)

    def screen():
        return tmux("capture-pane", "-p", "-t", session).stdout

    def wait_for(text, timeout=30.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in screen():
                return True
            time.sleep(0.2)
        raise AssertionError(f"{text!r} not on screen:\n{screen()}")

    try:
        tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "50", env_prefix)
        wait_for("relatron>")
        tmux("send-keys", "-t", session, "SELECT 6 * 7", "Enter")
        wait_for("...>")
        tmux("send-keys", "-t", session, "  AS answer\\;", "Enter")   # tmux: \\; is a ';' 
        wait_for("1 row")
        assert "42" in screen()
        tmux("send-keys", "-t", session, "C-d")
        wait_closed()
        entries = history.read_text()
        assert "SELECT 6 * 7 AS answer;" in entries.splitlines()
        # a new session recalls the whole statement with one Up
        tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "50", env_prefix)
        wait_for("relatron>")
        tmux("send-keys", "-t", session, "Up")
        time.sleep(0.5)
        tmux("send-keys", "-t", session, "Enter")
        deadline = time.time() + 20
        while time.time() < deadline and "1 row" not in screen():
            time.sleep(0.2)
        assert "answer" in screen() and "42" in screen(), screen()
        tmux("send-keys", "-t", session, "C-d")
        wait_closed()
    finally:
        tmux("kill-session", "-t", session)


def test_shell_object_reads_files(database, tmp_path):
    script = tmp_path / "q.sql"
    script.write_text("SELECT COUNT(*) AS n\nFROM users;\n")
    copy = tmp_path / "copy.duckdb"
    shutil.copy(database, copy)
    con = relatron_sql.connect(str(copy))
    out, err = io.StringIO(), io.StringIO()
    sh = Shell(con, out=out, err=err, progress=False)
    sh.feed([f".read {script}", ".read /no/such/file.sql"])
    con.close()
    assert "60" in out.getvalue()
    assert err.getvalue().startswith("Error: cannot read")


@pytest.mark.parametrize("command, message", [
    (".schema nosuch", "Error: no table or view 'nosuch'; .tables lists them"),
    (".timer maybe", "Error: usage: .timer on|off"),
    (".timer", "Error: usage: .timer on|off"),
    (".mode bogus", "Error: unknown mode 'bogus'; valid: box, csv, line, list, markdown, json"),
    (".maxrows x", "Error: usage: .maxrows N"),
    (".maxrows", "Error: usage: .maxrows N"),
    (".read", "Error: usage: .read FILE"),
])
def test_dot_command_errors_are_one_line_and_the_shell_carries_on(con, command, message):
    out, err = io.StringIO(), io.StringIO()
    sh = Shell(con, out=out, err=err, progress=False)
    sh.feed([command, "SELECT 42 AS answer;"])
    assert err.getvalue().splitlines() == [message]
    assert sh.errors == 1 and not sh.done
    assert "42" in out.getvalue() and "Run Time" not in out.getvalue()
    assert (sh.mode, sh.timer, sh.max_rows) == ("box", False, 40)


SLOW_TRAINING = """
import io, sys, time
sys.path.insert(0, sys.argv[2])
import relatron_sql
from relatron_sql import families, shell
from test_report import EpochFamily

class Slow(EpochFamily):
    def fit(self, con, task, options):
        log = options.trial_log
        def slow_log(**row):
            print("epoch", flush=True)
            time.sleep(0.3)
            log(**row)
        options.trial_log = slow_log
        return super().fit(con, task, options)

original = families.get
families.get = lambda name: Slow() if name == "epochs" else original(name)
con = relatron_sql.connect(sys.argv[1])
sys.exit(shell.run(con, stdin=io.StringIO(
    "SELECT relatron_train('user-active', family := 'epochs', budget := 20);\\n"
    "SELECT COUNT(*) AS models FROM relatron.models;\\n"
    "SELECT COUNT(*) AS trials FROM relatron.trials;\\n")))
"""


def test_ctrl_c_stops_training_and_leaves_the_registry(database, tmp_path):
    import signal
    import duckdb
    copy = tmp_path / "c.duckdb"
    shutil.copy(database, copy)
    con = duckdb.connect(str(copy), read_only=True)
    before = [con.execute("SELECT COUNT(*) FROM relatron." + t).fetchall()[0][0]
              for t in ("models", "trials")]
    con.close()
    proc = subprocess.Popen([sys.executable, "-c", SLOW_TRAINING, str(copy),
                             str(pathlib.Path(__file__).parent)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and proc.stdout.readline().strip() != "epoch":
        pass
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert err.strip().splitlines() == ["Error: interrupted; the registry is left as it was"]
    assert "Traceback" not in err
    counts = [line for line in out.splitlines() if line.startswith("│") and
              line.strip("│ ").isdigit()]
    assert [int(c.strip("│ ")) for c in counts] == before
    assert proc.returncode == 1


@pytest.mark.parametrize("interval", [
    "INTERVAL 7 DAY", "INTERVAL '1 year 2 months 3 days 04:05:06.5'", "INTERVAL 0 DAY",
    "-INTERVAL 90 MINUTE", "INTERVAL '1 month -2 days'", "INTERVAL '-14 months'",
    "INTERVAL '1 day -1 second'", "INTERVAL '100 hours 0.000001 seconds'"])
def test_an_interval_is_shown_as_duckdb_writes_it(interval):
    con = relatron_sql.connect(":memory:")
    out, err = io.StringIO(), io.StringIO()
    Shell(con, out=out, err=err, progress=False, mode="line").feed(
        [f"SELECT {interval} AS x;"])
    expected = con.execute(f"SELECT CAST({interval} AS VARCHAR)").fetchall()[0][0]
    assert out.getvalue().strip() == f"x = {expected}" and not err.getvalue()
    con.close()


def test_line_and_list_modes_show_every_digit_of_a_double():
    for mode, expected in (("line", "x = 51.335525933073974"), ("list", "x\n51.335525933073974")):
        assert format_table(["x"], ["DOUBLE"], [(51.335525933073974,)], mode=mode) == expected


def test_dollar_quoted_text_is_one_statement():
    assert not is_complete("SELECT $$a;")
    assert is_complete("SELECT $$a; b$$;")
    assert not is_complete("SELECT $body$ x; $$ ; ")
    assert is_complete("SELECT $body$ x; $$ ; $body$ AS t;")
    assert is_complete("SELECT $1;")   # a parameter is no quote
    out, err = io.StringIO(), io.StringIO()
    sh = Shell(relatron_sql.connect(":memory:"), out=out, err=err, mode="list", progress=False)
    sh.feed(["SELECT $$one;", "two$$ AS t;"])
    assert err.getvalue() == "" and out.getvalue().split("\n")[:2] == ["t", "one;"]


def test_returning_rows_are_shown_and_counts_are_not():
    con = relatron_sql.connect(":memory:")
    out, err = io.StringIO(), io.StringIO()
    sh = Shell(con, out=out, err=err, mode="csv", progress=False)
    sh.feed(["CREATE TABLE t (a INTEGER, note VARCHAR);",
             "INSERT INTO t VALUES (1, 'returning nothing');",
             "INSERT INTO t VALUES (2, 'x') RETURNING a * 10 AS ten;",
             "UPDATE t SET a = a + 1 WHERE a = 1 RETURNING a;",
             "DELETE FROM t WHERE a = 2 RETURNING note;"])
    assert err.getvalue() == ""
    assert out.getvalue().split() == ["ten", "20", "a", "2", "note", "returning", "nothing", "x"]
    assert con.execute("SELECT COUNT(*) FROM t").fetchall() == [(0,)]


def test_json_mode_writes_valid_json():
    import json
    con = relatron_sql.connect(":memory:")
    out, err = io.StringIO(), io.StringIO()
    sh = Shell(con, out=out, err=err, mode="json", progress=False)
    sh.feed(["SELECT 'nan'::DOUBLE AS n, 'inf'::DOUBLE AS i, 1.5 AS d, INTERVAL 3 DAY AS h, "
             "[1.0, 'nan'::DOUBLE] AS l, {'k': 'inf'::DOUBLE} AS s, DATE '2020-01-02' AS day;"])
    assert err.getvalue() == ""
    assert json.loads(out.getvalue(), parse_constant=lambda c: pytest.fail(c)) == [
        {"n": None, "i": None, "d": 1.5, "h": "3 days", "l": [1.0, None], "s": {"k": None},
         "day": "2020-01-02"}]


def test_views_are_listed_and_schema_matches_names_without_case():
    con = relatron_sql.connect(":memory:")
    con.execute("CREATE TABLE Orders (id INTEGER)")
    con.execute("CREATE VIEW big_orders AS SELECT * FROM Orders WHERE id > 10")
    out, err = io.StringIO(), io.StringIO()
    sh = Shell(con, out=out, err=err, progress=False)
    sh.feed([".tables"])
    names = out.getvalue().split()
    assert [n for n in names if not n.startswith("relatron.")] == ["Orders", "big_orders"]
    out.truncate(0), out.seek(0)
    sh.feed([".schema orders"])
    assert out.getvalue().startswith("CREATE TABLE Orders")
    out.truncate(0), out.seek(0)
    sh.feed([".schema BIG_ORDERS"])
    assert out.getvalue().startswith("CREATE VIEW big_orders") and err.getvalue() == ""


def test_a_comment_line_does_not_swallow_a_dot_command():
    out, err = io.StringIO(), io.StringIO()
    sh = Shell(relatron_sql.connect(":memory:"), out=out, err=err, mode="list", progress=False)
    sh.feed(["-- switch to csv", ".mode csv", "SELECT 1 AS a, 2 AS b;"])
    assert err.getvalue() == "" and sh.mode == "csv" and out.getvalue().split() == ["a,b", "1,2"]


def test_a_file_that_reads_itself_is_an_error_not_a_crash(tmp_path):
    a, b = tmp_path / "a.sql", tmp_path / "b.sql"
    a.write_text(f"SELECT 1 AS one;\n.read {b}\n")
    b.write_text(f".read {a}\nSELECT 2 AS two;\n")
    out, err = io.StringIO(), io.StringIO()
    sh = Shell(relatron_sql.connect(":memory:"), out=out, err=err, mode="list", progress=False)
    sh.feed([f".read {a}", "SELECT 3 AS three;"])
    assert err.getvalue().splitlines() == [
        f"Error: .read '{a}' would read itself again ({a} -> {b} -> {a})"]
    assert out.getvalue().split() == ["one", "1", "two", "2", "three", "3"]
    assert sh.reading == []


def test_box_lines_line_up_with_wide_characters():
    from relatron_sql.shell import _cols
    text = format_table(["名前", "n"], ["VARCHAR", "INTEGER"],
                        [("東京都", 1), ("abc", 22), ("数据库" * 30, 3)], max_width=20)
    lines = text.splitlines()[:-1]   # the last line counts rows
    assert len({_cols(line) for line in lines}) == 1, text
    assert "…" in text and "東京都" in text


def test_markdown_keeps_a_multi_line_cell_in_its_row():
    text = format_table(["a|b", "note"], ["VARCHAR", "VARCHAR"], [("x", "one\ntwo")],
                        mode="markdown")
    assert text.splitlines() == ["| a\\|b | note |", "|---|---|", "| x | one<br>two |"]

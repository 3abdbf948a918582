"""A live progress line for long calls: stage, trial, epoch, best metric so far, time left.

``relatron_sql.models.train`` reports to the object passed as ``progress`` or, when none is, to
the one attached here with :func:`attached` (the shell and the CLI attach one, so that a
``SELECT relatron_train(...)`` typed in the shell shows its progress). The object is called with
stage messages; ``begin`` is told the task, family and time budget; ``trial`` receives each row
written to ``relatron.trials``. An interrupt (Ctrl-C) asked for with :meth:`ProgressLine.interrupt`
is raised at the next trial or epoch, so training stops and the registry keeps its state.
"""
from __future__ import annotations

import contextlib
import logging
import math
import sys
import threading
import time
from typing import IO, Iterator

_CURRENT: list["ProgressLine"] = []   # a plain global: UDFs run on DuckDB's threads


def current() -> "ProgressLine | None":
    """The progress line attached by the shell or the CLI, if any."""
    return _CURRENT[-1] if _CURRENT else None


@contextlib.contextmanager
def attached(line: "ProgressLine") -> Iterator["ProgressLine"]:
    """Make ``line`` the progress line of every call made while the block runs."""
    _CURRENT.append(line)
    try:
        yield line
    finally:
        _CURRENT.remove(line)
        line.finish()


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    minutes, s = divmod(seconds, 60)
    return f"{minutes}:{s:02d}"


class ProgressLine:
    """Draws one status line, redrawn in place on a terminal.

    On a stream that is not a terminal it writes nothing unless ``always=True``, in which case
    it writes one plain line per change (useful in logs and tests).
    """

    def __init__(self, stream: IO[str] | None = None, always: bool = False,
                 interval: float = 0.5):
        self.stream = stream if stream is not None else sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = self.live or always
        self.interval = interval
        self._lock = threading.Lock()
        self._interrupt = threading.Event()
        self._ticker: threading.Thread | None = None
        self._width = 0
        self._last = ""
        self._drawn = 0.0
        self.reset()

    # -- state ---------------------------------------------------------------------------
    def reset(self) -> None:
        self.name = self.family = self.metric = None
        self.stage = ""
        self.trial = self.epoch = None
        self.best = None
        self.higher_is_better = True
        self.budget = None
        self.time_budget = None
        self.training = False   # between begin() and finish()
        self.started = time.monotonic()   # an interrupt asked for stays asked for

    def begin(self, name: str, family: str | None = None, budget: int | dict | None = None,
              time_budget: float | None = None, metric: str | None = None,
              higher_is_better: bool = True) -> None:
        """A training call starts: what it trains and against which time budget; ``budget``
        is its planned trials, per family (a dict) when several families are searched."""
        with self._lock:
            self.reset()
            self.name, self.family, self.budget = name, family, budget
            self.time_budget, self.metric = time_budget, metric
            self.higher_is_better = higher_is_better
            self.training = True
        self._start_ticker()
        self.draw()

    def __call__(self, message: str) -> None:
        """A stage message (routing, training dfs, evaluating, ...)."""
        with self._lock:
            self.stage = str(message)
            self.training = True
        self.draw()
        self.check_interrupt()

    def on_trial(self, trial: int | None = None, epoch: int | None = None,
                 val_metric: float | None = None, family: str | None = None, **_) -> None:
        """One row of ``relatron.trials`` was written."""
        with self._lock:
            self.trial, self.epoch = trial, epoch
            if family:
                self.family = family
            if val_metric is not None and math.isfinite(val_metric):
                better = (self.best is None or
                          (val_metric > self.best if self.higher_is_better
                           else val_metric < self.best))
                if better:
                    self.best = float(val_metric)
        if not self.live or time.monotonic() - self._drawn >= self.interval / 5:
            # on a terminal the ticker catches up with skipped rows
            self.draw()
        self.check_interrupt()

    def interrupt(self) -> None:
        """Ask the running call to stop at its next trial or epoch."""
        self._interrupt.set()

    def check_interrupt(self) -> None:
        if self._interrupt.is_set():
            self._interrupt.clear()
            raise KeyboardInterrupt("interrupted; the registry is left as it was")

    # -- drawing -------------------------------------------------------------------------
    def text(self) -> str:
        elapsed = time.monotonic() - self.started
        parts = []
        if self.name:
            parts.append(self.name)
        if self.family:
            parts.append(self.family)
        if self.stage:
            parts.append(self.stage)
        if self.trial is not None:
            planned = (self.budget.get(self.family) if isinstance(self.budget, dict)
                       else self.budget)
            parts.append(f"trial {self.trial + 1}" + (f"/{planned}" if planned else ""))
        if self.epoch is not None:
            parts.append(f"epoch {self.epoch + 1}")
        if self.best is not None:
            parts.append(f"best {self.metric or 'metric'} {self.best:.4f}")
        if self.time_budget:
            left = self.time_budget - elapsed
            parts.append(f"{_clock(left)} left of {_clock(self.time_budget)}")
        else:
            parts.append(f"{_clock(elapsed)} elapsed")
        return " | ".join(parts)

    def draw(self) -> None:
        if not self.enabled:
            return
        with self._lock:
            line = self.text()
            if self.live:
                pad = max(0, self._width - len(line))
                self.stream.write("\r" + line + " " * pad)
                self._width = len(line)
            elif line != self._last:
                self.stream.write(line + "\n")
            self._last = line
            self._drawn = time.monotonic()
            self.stream.flush()

    def note(self, text: str) -> None:
        """Print a line above the progress line (a log message or a warning)."""
        with self._lock:
            if self.live and self._width:
                self.stream.write("\r" + " " * self._width + "\r")
                self._width = 0
            self.stream.write(text + "\n")
            self.stream.flush()
        if self.live and self._last:
            self.draw()

    def finish(self) -> None:
        """Clear the line (on a terminal), stop redrawing and forget the finished call."""
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.join(timeout=2 * self.interval)
        if self.live and self._width:
            with self._lock:
                self.stream.write("\r" + " " * self._width + "\r")
                self.stream.flush()
                self._width = 0
        with self._lock:
            self.reset()
        self._last = ""

    def _start_ticker(self) -> None:
        if not self.live or self._ticker is not None:
            return

        def tick():
            while self._ticker is threading.current_thread():
                time.sleep(self.interval)
                if self._ticker is threading.current_thread():
                    self.draw()

        self._ticker = threading.Thread(target=tick, daemon=True, name="relatron-progress")
        self._ticker.start()


class _Notes(logging.Handler):
    """Log records and warnings as single lines above the progress line."""

    def __init__(self, line: ProgressLine):
        super().__init__(logging.INFO)
        self.line = line
        self.said: set[str] = set()   # a message logged and also warned is printed once

    def say(self, text: str) -> None:
        if text not in self.said:
            self.said.add(text)
            self.line.note(text)

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[0] is KeyboardInterrupt or \
                "KeyboardInterrupt" in record.getMessage():
            return   # an interrupt is reported once, as the statement's error
        if record.name.startswith("optuna") and " failed with value None" in record.getMessage():
            return
        self.say(f"{record.levelname.lower()}: {record.getMessage()}")


@contextlib.contextmanager
def notes(line: ProgressLine, loggers=("relatron_sql", "optuna")) -> Iterator[None]:
    """While the block runs, print log records and warnings as one line each, above ``line``;
    the same message twice (a logged warning that is also raised as a Python warning) once.

    Tracebacks that libraries attach to log records are left out: the statement's error line
    says what failed.
    """
    import warnings

    if "optuna" in loggers:
        try:   # optuna adds its own handler on first use: make it exist now, then replace it
            import optuna.logging
            optuna.logging.get_verbosity()
        except ImportError:
            pass
    handler = _Notes(line)
    saved = []
    for name in loggers:
        logger = logging.getLogger(name)
        saved.append((logger, logger.handlers[:], logger.propagate))
        logger.handlers = [handler]
        logger.propagate = False
    shown = warnings.showwarning
    warnings.showwarning = lambda message, category, *args, **kwargs: handler.say(
        f"warning: {message}")
    try:
        yield
    finally:
        warnings.showwarning = shown
        for logger, handlers, propagate in saved:
            logger.handlers = handlers
            logger.propagate = propagate

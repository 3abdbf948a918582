"""A self-contained HTML report of a task's active model: no scripts, no external files.

Sections (each a ``<section id=...>``): ``summary``, ``routing`` (signals and decision),
``search`` (metric per trial), ``curves`` (learning curves per epoch), ``features`` (top features
with their SQL or source columns), ``calibration`` (binary) or ``residuals`` (regression), and
``val-test`` (every metric on validation against test, beside the baseline). Plots are inline SVG
drawn here. Numbers shown carry ``data-value`` attributes with the registry's values.
"""
from __future__ import annotations

import datetime as dt
import html
import json
import math
import pathlib

import numpy as np

from . import models, registry
from .blend import weights_of
from .errors import interval_text
from .task import load_task

PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777",
           "#65a30d")


# -- small SVG plotting -------------------------------------------------------------------
def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi - lo < 1e-12:
        pad = max(abs(lo) * 0.05, 0.01)
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(lo / step) * step
    ticks = [round(start, 12)]
    while ticks[-1] < hi - 1e-12 * max(1.0, abs(hi)) and len(ticks) < 50:
        ticks.append(round(start + len(ticks) * step, 12))
    return ticks


def _fmt(value: float) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    if value == 0:
        return "0"
    if 1000 <= abs(value) < 1e7:
        return f"{value:,.0f}"
    if abs(value) >= 1e7 or abs(value) < 0.01:
        return f"{value:.3g}"
    return f"{value:.4g}"


def _e(text) -> str:
    return html.escape(str(text), quote=True)


class Plot:
    """A plot area with linear axes; marks are appended as SVG elements."""

    def __init__(self, xs, ys, width=520, height=300, x_label="", y_label="", title="",
                 x_range=None, y_range=None, x_ticks=None):
        self.w, self.h = width, height
        self.left, self.right, self.top, self.bottom = 58, 16, 46, 44
        xs = [x for x in xs if x is not None and math.isfinite(x)] or [0.0, 1.0]
        ys = [y for y in ys if y is not None and math.isfinite(y)] or [0.0, 1.0]
        self.xt = x_ticks or _nice_ticks(*(x_range or (min(xs), max(xs))))
        self.yt = _nice_ticks(*(y_range or (min(ys), max(ys))))
        self.x0, self.x1 = (x_range if x_range else (self.xt[0], self.xt[-1]))
        self.y0, self.y1 = self.yt[0], self.yt[-1]
        self.left = max(self.left, 30 + 7 * max(len(_fmt(t)) for t in self.yt))
        if self.x1 - self.x0 < 1e-12:
            self.x0, self.x1 = self.x0 - 1, self.x1 + 1
        if x_range:
            self.xt = [t for t in self.xt if x_range[0] - 1e-9 <= t <= x_range[1] + 1e-9]
        self.x_label, self.y_label, self.title = x_label, y_label, title
        self.marks: list[str] = []
        self.legend: list[tuple[str, str]] = []

    def x(self, v: float) -> float:
        span = (self.x1 - self.x0) or 1.0
        return self.left + (v - self.x0) / span * (self.w - self.left - self.right)

    def y(self, v: float) -> float:
        span = (self.y1 - self.y0) or 1.0
        return self.h - self.bottom - (v - self.y0) / span * (self.h - self.top - self.bottom)

    def line(self, xs, ys, color, label=None, width=2.0, dash=None, points=False):
        pts = [(self.x(a), self.y(b)) for a, b in zip(xs, ys)
               if a is not None and b is not None and math.isfinite(a) and math.isfinite(b)]
        if not pts:
            return
        d = " ".join(f"{'M' if i == 0 else 'L'}{px:.1f},{py:.1f}" for i, (px, py) in
                     enumerate(pts))
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.marks.append(f'<path d="{d}" fill="none" stroke="{color}" '
                          f'stroke-width="{width}"{extra}/>')
        if points or len(pts) == 1:
            self.points(xs, ys, color)
        if label:
            self.legend.append((label, color))

    def points(self, xs, ys, color, radius=3.2, label=None, opacity=0.85, sizes=None):
        for i, (a, b) in enumerate(zip(xs, ys)):
            if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
                continue
            r = radius if sizes is None else sizes[i]
            self.marks.append(f'<circle cx="{self.x(a):.1f}" cy="{self.y(b):.1f}" r="{r:.1f}" '
                              f'fill="{color}" fill-opacity="{opacity}"/>')
        if label:
            self.legend.append((label, color))

    def bar(self, x0, x1, value, color, base=None):
        base = self.y0 if base is None else base
        top, bottom = self.y(max(value, base)), self.y(min(value, base))
        self.marks.append(f'<rect x="{self.x(x0):.1f}" y="{top:.1f}" '
                          f'width="{max(self.x(x1) - self.x(x0), 0.5):.1f}" '
                          f'height="{max(bottom - top, 0.5):.1f}" fill="{color}"/>')

    def text(self, xv, yv, label, anchor="middle", size=11, color="#111827"):
        self.marks.append(f'<text x="{self.x(xv):.1f}" y="{self.y(yv) - 4:.1f}" '
                          f'text-anchor="{anchor}" font-size="{size}" fill="{color}">'
                          f'{_e(label)}</text>')

    def svg(self, x_tick_labels: dict | None = None) -> str:
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.w} {self.h}" '
               f'width="{self.w}" height="{self.h}" role="img" aria-label="{_e(self.title)}" '
               f'font-family="system-ui, sans-serif">']
        pw = self.w - self.left - self.right
        for t in self.yt:
            yy = self.y(t)
            out.append(f'<line x1="{self.left}" x2="{self.left + pw}" y1="{yy:.1f}" '
                       f'y2="{yy:.1f}" stroke="#e5e7eb"/>')
            out.append(f'<text x="{self.left - 6}" y="{yy + 4:.1f}" text-anchor="end" '
                       f'font-size="11" fill="#4b5563">{_e(_fmt(t))}</text>')
        for t in self.xt:
            xx = self.x(t)
            label = (x_tick_labels or {}).get(t, _fmt(t))
            out.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{self.h - self.bottom}" '
                       f'y2="{self.h - self.bottom + 4}" stroke="#6b7280"/>')
            out.append(f'<text x="{xx:.1f}" y="{self.h - self.bottom + 17}" '
                       f'text-anchor="middle" font-size="11" fill="#4b5563">{_e(label)}</text>')
        out.append(f'<line x1="{self.left}" x2="{self.left + pw}" y1="{self.h - self.bottom}" '
                   f'y2="{self.h - self.bottom}" stroke="#6b7280"/>')
        out.append(f'<line x1="{self.left}" x2="{self.left}" y1="{self.top}" '
                   f'y2="{self.h - self.bottom}" stroke="#6b7280"/>')
        out.extend(self.marks)
        out.append(f'<text x="{self.left + pw / 2:.1f}" y="{self.h - 8}" text-anchor="middle" '
                   f'font-size="12" fill="#111827">{_e(self.x_label)}</text>')
        out.append(f'<text transform="translate(14,{(self.top + self.h - self.bottom) / 2:.1f})'
                   f' rotate(-90)" text-anchor="middle" font-size="12" fill="#111827">'
                   f'{_e(self.y_label)}</text>')
        out.append(f'<text x="{self.left}" y="18" font-size="13" font-weight="600" '
                   f'fill="#111827">{_e(self.title)}</text>')
        lx = self.left
        for label, color in self.legend:
            out.append(f'<rect x="{lx:.0f}" y="26" width="11" height="11" rx="2" '
                       f'fill="{color}"/><text x="{lx + 15:.0f}" y="35" font-size="11" '
                       f'fill="#374151">{_e(label)}</text>')
            lx += 6.5 * len(label) + 30
        out.append("</svg>")
        return "".join(out)


# -- data ---------------------------------------------------------------------------------
def _active(con, name: str) -> dict:
    # a registry opened read-only from before models named their run: found by time
    run = registry.added_column(con, "models", "run_id", missing=registry.RUN_BY_TIME)
    rows = con.execute("SELECT version, family, config, metrics, route, created_at, seconds, "
                       f"seed, library_versions, {run} FROM relatron.models AS m WHERE name = ? "
                       "AND active", [name]).fetchall()
    if not rows:
        models.active_model(con, name, load=False)   # the clear "no trained model yet" error
    version, family, config, stored, route, created, seconds, seed, libs, run_id = rows[0]
    return {"version": int(version), "family": family, "config": json.loads(config or "{}"),
            "metrics": json.loads(stored or "{}"), "route": json.loads(route or "null"),
            "created_at": created, "seconds": seconds, "seed": seed,
            "libraries": json.loads(libs or "{}"), "run_id": run_id}


def _trials(con, name: str, model: dict) -> list[dict]:
    """Trial rows of the run that produced the active model."""
    rows = con.execute("SELECT trial, epoch, family, config, train_loss, val_metric, seconds, "
                       "created_at FROM relatron.trials WHERE name = ? AND run_id = ? ORDER BY "
                       "family, trial, epoch NULLS FIRST, created_at",
                       [name, model["run_id"]]).fetchall()
    return [{"trial": r[0], "epoch": r[1], "family": r[2], "config": json.loads(r[3] or "null"),
             "train_loss": r[4], "val_metric": r[5], "seconds": r[6], "created_at": r[7]}
            for r in rows]


def _features(con, name: str, top: int) -> list[dict]:
    """The active model's top features, with the shares and warning ``explain`` gives: shares
    of the positive importances, so a source the model does better without (RDL's permutation
    importance below 0) shows none."""
    return models.explain(con, name)[:top]


def gather(con, name: str, top_features: int = 15) -> dict:
    """Everything the report shows, read from the registry (and the model, for the plots)."""
    task = load_task(con, name)
    model = _active(con, name)
    _, _, _, fitted = models.active_model(con, name)
    rows = models.split_rows(con, task, "test")
    predicted = np.asarray(fitted.predict(con, task, rows), dtype=float) if len(rows) else \
        np.array([])
    # the model's metrics come from the registry; the baseline is measured here
    baseline = {split: models.baseline_metrics(con, task, models.split_rows(con, task, split))
                for split in ("val", "test")}
    return {"task": task, "model": model, "trials": _trials(con, name, model),
            "features": _features(con, name, top_features),
            "labels": np.asarray(rows.label, dtype=float), "predicted": predicted,
            "baseline": baseline}


# -- sections -----------------------------------------------------------------------------
def _num(value, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return '<td class="num">–</td>'
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return f'<td class="num" data-value="{int(value)}">{int(value):,}</td>'
    if isinstance(value, (float, np.floating)):
        return (f'<td class="num" data-value="{float(value)!r}">'
                f'{float(value):.{digits}f}</td>')
    return f"<td>{_e(value)}</td>"


def _section(ident: str, title: str, body: str, note: str = "") -> str:
    note_html = f'<p class="note">{note}</p>' if note else ""
    return f'<section id="{ident}"><h2>{_e(title)}</h2>{note_html}{body}</section>'


def _summary(data: dict) -> str:
    task, model = data["task"], data["model"]
    m = task.metric
    val = model["metrics"].get("val", {}).get(m)
    test = model["metrics"].get("test", {}).get(m)
    base = data["baseline"]["test"].get(m)
    better = "higher is better" if task.higher_is_better else "lower is better"

    def card(label, value, ident):
        if value is not None and not math.isfinite(float(value)):
            value = None   # e.g. AUROC of a baseline whose scores are all one value
        shown = "–" if value is None else f"{value:.4f}"
        attr = "" if value is None else f' data-value="{float(value)!r}"'
        return (f'<div class="card" id="{ident}"><div class="label">{_e(label)}</div>'
                f'<div class="big"{attr}>{shown}</div></div>')

    cards = (card(f"validation {m}", val, "card-val") + card(f"test {m}", test, "card-test") +
             card(f"baseline test {m}", base, "card-baseline"))
    facts = [("entity", f"{task.entity} ({task.entity_key})"), ("kind", task.kind),
             ("horizon", interval_text(task.horizon)), ("validation from", str(task.val_timestamp)),
             ("test from", str(task.test_timestamp)),
             ("model", f"version {model['version']}, family {model['family']}" + _weights(model)),
             ("trained", f"{model['created_at']:%Y-%m-%d %H:%M} in {model['seconds']:.1f} s, "
                         f"seed {model['seed']}"),
             ("rows", ", ".join(f"{s} {c.get('rows', 0):,}" for s, c in task.counts.items()))]
    table = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts)
    desc = f"<p>{_e(task.description)}</p>" if task.description else ""
    return _section("summary", "Summary", f'{desc}<div class="cards">{cards}</div>'
                    f'<table class="facts">{table}</table>', f"Metric: {_e(m)} ({better}).")


def _weights(model: dict) -> str:
    """A blend's members and their weights (`` (DFS weight 0.7, RDL weight 0.3)``), else ''."""
    weights = weights_of(model["family"], model["config"])
    if not weights:
        return ""
    return " (" + ", ".join(f"{m.upper()} weight {w:g}" for m, w in weights.items()) + ")"


def _routing(data: dict) -> str:
    route = data["model"]["route"]
    if not route:
        return _section("routing", "Routing", "<p>No routing: the family "
                        f"<b>{_e(data['model']['family'])}</b> was asked for by name.</p>")
    parts = [f"<p>Decision: <b>{_e(route.get('family', data['model']['family']))}</b>"]
    if route.get("probability") is not None:
        parts.append(f", P(RDL wins) = <span data-value=\"{float(route['probability'])!r}\">"
                     f"{float(route['probability']):.2f}</span>")
    if route.get("reason"):
        parts.append(f". {_e(route['reason'])}")
    parts.append("</p>")
    signals = route.get("signals") or {}
    if signals:
        rows = []
        for key, value in signals.items():
            shown = _num(float(value)) if isinstance(value, (int, float)) and not \
                isinstance(value, bool) else f"<td>{_e(json.dumps(value, default=str))}</td>"
            rows.append(f"<tr><td>{_e(key)}</td>{shown}</tr>")
        parts.append('<table class="grid"><tr><th>signal</th><th>value</th></tr>' +
                     "".join(rows) + "</table>")
    else:
        parts.append("<p class=\"note\">The decision records no signals.</p>")
    extra = {k: v for k, v in route.items() if k not in ("family", "probability", "reason",
                                                          "signals")}
    if extra:
        parts.append("<details><summary>full decision</summary><pre>" +
                     _e(json.dumps(extra, indent=1, default=str)) + "</pre></details>")
    return _section("routing", "Routing", "".join(parts))


def _per_trial(trials: list[dict], higher_is_better: bool) -> list[dict]:
    """One row per trial of each family (auto mode numbers each family's trials from 0): its
    best epoch, or its only row, by validation metric; in the order the trials started."""
    out: dict[tuple, dict] = {}
    started: dict[tuple, dt.datetime] = {}
    for t in trials:
        key = (t["family"], t["trial"])
        started[key] = min(started.get(key, dt.datetime.max), t["created_at"] or dt.datetime.max)
        v = t["val_metric"]
        if v is None:
            continue
        seen = out.get(key)
        if seen is None or (v > seen["val_metric"] if higher_is_better
                            else v < seen["val_metric"]):
            out[key] = t
    return [out[k] for k in sorted(out, key=lambda k: (started[k], k))]


def _search(data: dict) -> str:
    task = data["task"]
    per_trial = _per_trial(data["trials"], task.higher_is_better)
    if not per_trial:
        said = (f"The run's {len({(t['family'], t['trial']) for t in data['trials']})} trial(s) "
                "recorded no validation score." if data["trials"] else "No trial was recorded.")
        return _section("search", "Search history", f"<p>{said}</p>")
    names = list(dict.fromkeys(t["family"] for t in per_trial))
    if len(names) == 1:
        xs, x_label = [t["trial"] for t in per_trial], "trial"
    else:   # each family numbers its own trials: plot them in the order they ran
        xs, x_label = list(range(len(per_trial))), "trial, in the order run"
    ys = [t["val_metric"] for t in per_trial]
    best, running = [], None
    for v in ys:
        if running is None or (v > running if task.higher_is_better else v < running):
            running = v
        best.append(running)
    plot = Plot(xs, ys, width=1040, height=280, x_label=x_label,
                y_label=f"validation {task.metric}", title=f"Validation {task.metric} per trial",
                x_ticks=_nice_ticks(min(xs), max(xs)) if len(xs) > 8 else sorted(set(xs)))
    plot.line(xs, best, PALETTE[1], label="best so far", dash="5 3")
    for i, family in enumerate(names):
        mine = [(x, t["val_metric"]) for x, t in zip(xs, per_trial) if t["family"] == family]
        plot.points([x for x, _ in mine], [y for _, y in mine],
                    PALETTE[0 if i == 0 else (i + 1) % len(PALETTE)], radius=4,
                    label="trial" if len(names) == 1 else f"{family} trial")
    ranked = sorted(per_trial, key=lambda t: t["val_metric"], reverse=task.higher_is_better)

    def same(t):   # a trial's settings are compared with its own family's
        return [u for u in per_trial if u["family"] == t["family"]]
    rows = "".join(f"<tr>{_num(int(t['trial']))}<td>{_e(t['family'])}</td>"
                   f"{_num(t['val_metric'])}{_num(t['train_loss'])}{_num(t['seconds'], 2)}"
                   f"<td><code>{_e(_varying(t['config'], same(t)))}</code></td></tr>"
                   for t in ranked[:10])
    table = ('<table class="grid" id="trials-table"><tr><th>trial</th><th>family</th>'
             f'<th>validation {_e(task.metric)}</th><th>train loss</th><th>seconds</th>'
             f'<th>config</th></tr>{rows}</table>')
    return _section("search", "Search history", f'<div class="plot">{plot.svg()}</div>{table}',
                    f"{len(per_trial)} trial(s) in the run that produced this model, each at its "
                    "best epoch; the table lists the best ten.")


def _varying(config, trials: list[dict], limit: int = 220) -> str:
    """The settings that differ between trials (all of them when only one trial ran)."""
    if not isinstance(config, dict):
        return json.dumps(config, default=str)[:limit]
    configs = [t["config"] for t in trials if isinstance(t["config"], dict)]
    keys = [k for k in config if len(configs) < 2 or
            len({json.dumps(c.get(k), default=str) for c in configs}) > 1]
    parts = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
             for k, v in ((k, config[k]) for k in keys)]
    text = ", ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _curves(data: dict) -> str:
    task = data["task"]
    epochs = [t for t in data["trials"] if t["epoch"] is not None]
    if not epochs:
        return _section("curves", "Learning curves", f"<p>The {_e(data['model']['family'])} "
                        "family trains without epochs: no learning curve to show.</p>")
    by_trial: dict[tuple, list[dict]] = {}
    for t in epochs:
        by_trial.setdefault((t["family"], t["trial"]), []).append(t)
    last = {k: v[-1]["val_metric"] for k, v in by_trial.items() if v[-1]["val_metric"] is not
            None}
    order = sorted(last, key=lambda k: last[k], reverse=task.higher_is_better)[:6]
    order = order or list(by_trial)[:6]
    shown = [t for k in order for t in by_trial[k]]
    xs = [t["epoch"] for t in epochs]
    val_plot = Plot(xs, [t["val_metric"] for t in shown], x_label="epoch",
                    y_label=f"validation {task.metric}",
                    title=f"Validation {task.metric} per epoch")
    loss_values = [t["train_loss"] for t in shown]
    loss_plot = Plot(xs, loss_values, x_label="epoch", y_label="training loss",
                     title="Training loss per epoch")
    several = len({k[0] for k in by_trial}) > 1
    for i, k in enumerate(order):
        series = by_trial[k]
        color = PALETTE[i % len(PALETTE)]
        label = f"{k[0]} trial {k[1]}" if several else f"trial {k[1]}"
        val_plot.line([t["epoch"] for t in series], [t["val_metric"] for t in series], color,
                      label=label, points=True)
        loss_plot.line([t["epoch"] for t in series], [t["train_loss"] for t in series], color,
                       label=label)
    body = f'<div class="plots"><div class="plot">{val_plot.svg()}</div>'
    if any(v is not None for v in loss_values):
        body += f'<div class="plot">{loss_plot.svg()}</div>'
    body += "</div>"
    return _section("curves", "Learning curves", body, f"The {len(order)} best trial(s) by "
                    "final validation score.")


def _features_section(data: dict) -> str:
    feats = data["features"]
    if not feats:
        return _section("features", "Top features", "<p>This model records no features.</p>")
    top = max(f["share"] for f in feats) or 1.0
    rows = []
    for f in feats:
        bar = (f'<svg width="90" height="12" viewBox="0 0 90 12"><rect width="'
               f'{90 * f["share"] / top:.1f}" height="12" rx="2" fill="{PALETTE[0]}"/></svg>')
        sql = (f'<pre class="sql">{_e(f["sql"])}</pre>' if f["sql"] else
               '<span class="note">source column, no SQL</span>')
        rows.append(f"<tr><td><code>{_e(f['feature'])}</code></td>{_num(f['importance'])}"
                    f"<td>{bar} {100 * f['share']:.1f}%</td><td>{_e(f['description'] or '')}"
                    f"</td><td>{sql}</td></tr>")
    table = ('<table class="grid fixed" id="features-table"><colgroup><col style="width:19%">'
             '<col style="width:10%"><col style="width:15%"><col style="width:20%">'
             '<col style="width:36%"></colgroup><tr><th>feature</th><th>importance</th>'
             '<th>share</th><th>description</th><th>SQL</th></tr>' + "".join(rows) + "</table>")
    note = ""
    if feats[0]["warning"]:
        note = "The first feature holds most of the importance: check it for leakage."
    return _section("features", "Top features", table, note)


def calibration_bins(p: np.ndarray, bins: int = 10) -> np.ndarray:
    """The bin of each probability among ``bins`` equal-width bins over [0, 1]."""
    return np.clip(np.digitize(p, np.linspace(0.0, 1.0, bins + 1)[1:-1]), 0, bins - 1)


def _calibration(data: dict) -> str:
    y, p = data["labels"], np.clip(data["predicted"], 0.0, 1.0)
    if len(y) == 0:
        return _section("calibration", "Calibration", "<p>No test rows.</p>")
    which = calibration_bins(p)
    mean_p, rate, count = [], [], []
    for b in range(10):
        mask = which == b
        if mask.any():
            mean_p.append(float(p[mask].mean()))
            rate.append(float(y[mask].mean()))
            count.append(int(mask.sum()))
    plot = Plot([0, 1], [0, 1], x_label="mean predicted probability",
                y_label="observed positive rate", title="Reliability (test split)",
                x_range=(0.0, 1.0), y_range=(0.0, 1.0))
    plot.line([0, 1], [0, 1], "#9ca3af", dash="4 4", width=1.2, label="perfect")
    sizes = [3 + 7 * math.sqrt(c / max(count)) for c in count]
    plot.line(mean_p, rate, PALETTE[0], label="model")
    plot.points(mean_p, rate, PALETTE[0], sizes=sizes)
    hist = _histogram(p, "predicted probability", "test rows", "Predicted probabilities",
                      (0.0, 1.0), split_by=y)
    rows = "".join(f"<tr>{_num(a)}{_num(b)}{_num(c)}</tr>" for a, b, c in
                   zip(mean_p, rate, count))
    table = ('<table class="grid" id="calibration-table"><tr><th>mean predicted</th>'
             f'<th>observed rate</th><th>rows</th></tr>{rows}</table>')
    return _section("calibration", "Calibration", f'<div class="plots"><div class="plot">'
                    f'{plot.svg()}</div><div class="plot">{hist}</div></div>{table}',
                    "Test predictions in ten probability bins; point size grows with the rows "
                    "in the bin.")


def _histogram(values, x_label, y_label, title, x_range=None, split_by=None, bins=20) -> str:
    values = np.asarray(values, dtype=float)
    lo, hi = x_range or (float(values.min()), float(values.max()))
    if hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    groups = [("all", values, PALETTE[0])]
    if split_by is not None:
        groups = [("label 0", values[split_by == 0], PALETTE[0]),
                  ("label 1", values[split_by == 1], PALETTE[1])]
    counts = [np.histogram(v, edges)[0] for _, v, _ in groups]
    top = max(int(c.max()) for c in counts) if counts else 1
    plot = Plot([lo, hi], [0, top], x_label=x_label, y_label=y_label, title=title,
                x_range=(lo, hi))
    width = (hi - lo) / bins
    for g, ((label, _, color), c) in enumerate(zip(groups, counts)):
        share = width / len(groups)
        for i, n in enumerate(c):
            if n:
                x0 = edges[i] + g * share
                plot.bar(x0, x0 + share * 0.92, float(n), color)
        plot.legend.append((label, color))
    return plot.svg()


def _residuals(data: dict) -> str:
    y, p = data["labels"], data["predicted"]
    if len(y) == 0:
        return _section("residuals", "Residuals", "<p>No test rows.</p>")
    rng = np.random.default_rng(0)
    idx = rng.choice(len(y), size=min(len(y), 1500), replace=False)
    both = np.concatenate([y, p])
    lo, hi = (float(v) for v in np.percentile(both, [0.5, 99.5]))   # a few outliers would
    if hi <= lo:                                                     # squash everything else
        lo, hi = float(both.min()), float(both.max()) + 1.0
    inside = idx[(y[idx] >= lo) & (y[idx] <= hi) & (p[idx] >= lo) & (p[idx] <= hi)]
    scatter = Plot([lo, hi], [lo, hi], x_label="actual", y_label="predicted",
                   title="Predicted against actual (test)", x_range=(lo, hi), y_range=(lo, hi))
    scatter.line([lo, hi], [lo, hi], "#9ca3af", dash="4 4", width=1.2, label="perfect")
    scatter.points(y[inside].tolist(), p[inside].tolist(), PALETTE[0], radius=2.2,
                   opacity=0.35, label="row")
    residual = p - y
    r_lo, r_hi = (float(v) for v in np.percentile(residual, [0.5, 99.5]))
    shown = residual[(residual >= r_lo) & (residual <= r_hi)] if r_hi > r_lo else residual
    hist = _histogram(shown, "predicted − actual", "test rows", "Residuals")
    stats = {"mean residual": float(residual.mean()), "median |residual|":
             float(np.median(np.abs(residual))), "rows": int(len(y))}
    rows = "".join(f"<tr><td>{_e(k)}</td>{_num(v)}</tr>" for k, v in stats.items())
    return _section("residuals", "Residuals", f'<div class="plots"><div class="plot">'
                    f'{scatter.svg()}</div><div class="plot">{hist}</div></div>'
                    f'<table class="grid" id="residuals-table">{rows}</table>',
                    f"{len(inside):,} of {len(y):,} test rows plotted; both plots leave out "
                    "the 1% most extreme values so that the rest can be seen (the table uses "
                    "every row).")


def _val_test(data: dict) -> str:
    task, stored = data["task"], data["model"]["metrics"]
    val, test = stored.get("val", {}), stored.get("test", {})
    base_val, base_test = data["baseline"]["val"], data["baseline"]["test"]
    keys = [k for k in val if k != "rows"] + [k for k in test if k not in val and k != "rows"]
    rows = "".join(f'<tr data-metric="{_e(k)}"><td>{_e(k)}</td>{_num(val.get(k))}'
                   f"{_num(test.get(k))}{_num(base_val.get(k))}{_num(base_test.get(k))}</tr>"
                   for k in keys)
    rows += (f"<tr><td>rows</td>{_num(val.get('rows'))}{_num(test.get('rows'))}"
             f"{_num(base_val.get('rows'))}{_num(base_test.get('rows'))}</tr>")
    table = ('<table class="grid" id="val-test-table"><tr><th>metric</th><th>validation</th>'
             '<th>test</th><th>baseline validation</th><th>baseline test</th></tr>'
             f'{rows}</table>')
    m = task.metric
    values = [val.get(m), test.get(m), base_val.get(m), base_test.get(m)]
    finite = [v for v in values if v is not None and math.isfinite(v)]
    chart = ""
    if finite:
        lo = min(finite + [0.5 if m == "auroc" else 0.0])
        lo = 0.5 if m == "auroc" and lo >= 0.5 else min(0.0, lo)
        plot = Plot([0, 2], [lo, max(finite)], x_label="", y_label=m,
                    title=f"{m}: model and baseline", x_range=(0, 2), x_ticks=[0.5, 1.5],
                    y_range=(lo, max(finite) * 1.05 if max(finite) > 0 else 1.0))
        for g, (a, b) in enumerate(((values[0], values[1]), (values[2], values[3]))):
            for j, (v, color) in enumerate(((a, PALETTE[0]), (b, PALETTE[1]))):
                if v is not None and math.isfinite(v):
                    x0 = g + 0.18 + j * 0.32
                    plot.bar(x0, x0 + 0.3, v, color, base=plot.y0)
                    plot.text(x0 + 0.15, v, f"{v:.4f}", size=10)
        plot.legend = [("validation", PALETTE[0]), ("test", PALETTE[1])]
        chart = f'<div class="plot">{plot.svg({0.5: "model", 1.5: "baseline"})}</div>'
    gap = None
    if val.get(m) is not None and test.get(m) is not None:
        gap = test[m] - val[m]
    note = "" if gap is None else (f"Test minus validation {m}: {gap:+.4f}. The baseline is the "
                                   "entity's history mean (the global training mean without "
                                   "history).")
    return _section("val-test", "Validation against test",
                    f'<div class="plots">{chart}<div>{table}</div></div>', note)


CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f3f4f6;
color:#111827;line-height:1.45}
main{max-width:1120px;margin:0 auto;padding:24px 28px 60px}
header h1{margin:0 0 4px;font-size:26px}header p{margin:0;color:#4b5563}
section{background:#fff;border-radius:10px;padding:16px 22px 20px;margin:18px 0;
box-shadow:0 1px 2px rgba(0,0,0,.06)}
h2{font-size:18px;margin:0 0 10px;border-bottom:1px solid #e5e7eb;padding-bottom:6px}
.note{color:#6b7280;font-size:13px;margin:4px 0 10px}
.cards{display:flex;gap:14px;margin:10px 0 14px}
.card{flex:1;border:1px solid #e5e7eb;border-radius:8px;padding:10px 14px}
.card .label{font-size:12px;color:#6b7280;text-transform:uppercase;letter-spacing:.04em}
.card .big{font-size:28px;font-weight:600}
table{border-collapse:collapse;font-size:13px;margin-top:8px}
.facts th{text-align:left;color:#4b5563;font-weight:500;padding:2px 16px 2px 0}
.grid th,.grid td{border-bottom:1px solid #e5e7eb;padding:5px 10px;text-align:left;
vertical-align:top}
.grid th{background:#f9fafb}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.plots{display:flex;flex-wrap:wrap;gap:12px}
.plot svg{max-width:100%;height:auto;background:#fff}
table.fixed{table-layout:fixed;width:100%}
table.fixed td{overflow-wrap:anywhere}
pre.sql{margin:0;max-width:100%;max-height:140px;overflow:auto;font-size:11px;
background:#f9fafb;border:1px solid #e5e7eb;border-radius:4px;padding:4px 6px;
white-space:pre-wrap}
code{font-size:12px}
footer{color:#6b7280;font-size:12px;margin-top:24px}
"""


def render(data: dict) -> str:
    """The report's HTML for gathered ``data``."""
    task, model = data["task"], data["model"]
    sections = [_summary(data), _routing(data), _search(data), _curves(data),
                _features_section(data),
                _calibration(data) if task.kind == "binary" else _residuals(data),
                _val_test(data)]
    libs = ", ".join(f"{k} {v}" for k, v in sorted(model["libraries"].items()))
    now = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Relatron report: {_e(task.name)}</title><style>{CSS}</style></head><body>"
            f"<main><header><h1>{_e(task.name)}</h1><p>{_e(task.kind)} task on "
            f"<b>{_e(task.entity)}</b>, model version {model['version']} "
            f"({_e(model['family'])})</p></header>{''.join(sections)}"
            f"<footer>Written {now} by relatron report. Libraries: {_e(libs)}.</footer>"
            "</main></body></html>")


def write(con, name: str, out: str | pathlib.Path) -> pathlib.Path:
    """Write the report of task ``name``'s active model to ``out``."""
    out = pathlib.Path(out)
    out.write_text(render(gather(con, name)), encoding="utf-8")
    return out

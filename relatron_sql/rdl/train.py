"""Training and inference of the RDL model for a task: data preparation, epochs, prediction.

Seeds are task rows (entity, anchor time); the entity's node is sampled around at the anchor
time, so every neighbour is a row no later than the anchor. The task's own label history enters
as seed features: for a row at anchor t, only earlier rows whose windows had closed by t
(anchor + horizon <= t) count, as in ``relatron_sql.baseline``.
"""
from __future__ import annotations

import copy
import dataclasses
import io
import logging
import time

import numba
import numpy as np
import pyarrow as pa
import torch

from .. import metrics, registry
from ..arrays import floats
from ..errors import TrainError, bad_argument
from ..families import Rows
from ..schema import Schema
from ..task import Task
from ..threads import session_threads
from .encoders import TableEncoder, TableFeatures
from .graph import Graph, graph_for
from .loader import Batches
from .model import CONVS, RDLNet
from .sampler import NeighborSampler

log = logging.getLogger(__name__)

HIST_DIM = 5
#: Validation rows scored per shuffled table when explaining a model.
IMPORTANCE_ROWS = 3000

DEFAULTS = {"conv": "sage", "aggr": "sum", "channels": 128, "layers": 2, "fanouts": [32, 16],
            "strategy": "last", "lr": 0.005, "batch_size": 512, "max_epochs": 10, "patience": 3,
            "dropout": 0.1, "weight_decay": 0.0, "history": True, "amp": False,
            "max_seconds": 300.0}


def set_threads(con=None) -> int:
    """Threads for torch and the neighbour sampler: every core the process may run on, or
    fewer when the session's DuckDB ``threads`` setting asks for fewer (``SET threads = 2``
    holds for the whole training, as it does for DuckDB's own queries). Returns the count."""
    n = session_threads(con)
    torch.set_num_threads(n)
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    return n


@dataclasses.dataclass
class Prepared:
    """The graph and encoded tables of a task's database."""
    graph: Graph
    encoders: dict[str, TableEncoder]
    features: dict[str, TableFeatures]
    #: table -> the time column its rows are dated by (None: static)
    time_columns: dict[str, str | None] = dataclasses.field(default_factory=dict)

    @classmethod
    def build(cls, con, task: Task, encoders: dict[str, TableEncoder] | None = None,
              schema: Schema | None = None,
              time_columns: dict[str, str | None] | None = None) -> "Prepared":
        # when fitting, column kinds and encoders come from rows known by the last training
        # label's window, as DFS takes its features: nothing from the validation or test
        # period shapes an encoding
        as_of = task.training_cutoff if encoders is None else None
        schema = schema or task.schema(con, as_of=as_of)
        if time_columns is not None:
            schema = _dated_as_trained(schema, time_columns, task)
        graph = graph_for(con, task.entity, schema)
        if encoders is None:
            encoders = {n: TableEncoder.fit(con, schema.tables[n], as_of)
                        for n in graph.node_types}
        missing = [n for n in graph.node_types if n not in encoders]
        if missing:
            raise bad_argument("name", f"the model was trained without tables {missing}; "
                               "retrain it on the current database", None, TrainError)
        gone = sorted(set(encoders) - set(graph.node_types))
        if gone:
            raise bad_argument("name", f"the model of task {task.name!r} was trained with "
                               f"tables {gone}, which the database no longer links to the "
                               "entity (dropped, or left out for a declaration that no longer "
                               "holds); restore them, or retrain it on the current database",
                               None, TrainError)
        features = {n: encoders[n].encode(con, schema.tables[n]) for n in graph.node_types}
        return cls(graph, encoders, features,
                   {n: schema.tables[n].time_column for n in graph.node_types})

    def node_dims(self) -> dict[str, tuple[int, int, int, bool]]:
        return {n: (e.num_dim + len(e.stamps), e.num_codes, len(e.code_sizes),
                    bool(self.graph.timed[n])) for n, e in self.encoders.items()}


def _dated_as_trained(schema: Schema, time_columns: dict[str, str | None], task: Task
                      ) -> Schema:
    """``schema`` with each table dated by the time column the model was trained with, as a
    DFS model keeps its feature query's: a time column declared away since would make every
    row of the table, later ones included, visible at every anchor."""
    tables = dict(schema.tables)
    for name, time_column in time_columns.items():
        t = tables.get(name)
        if t is None or t.time_column == time_column:
            continue
        if time_column is not None and time_column not in [c.name for c in t.columns]:
            raise bad_argument("name", f"the model of task {task.name!r} dates the rows of "
                               f"{name!r} by column {time_column!r}, which the table no longer "
                               "has; restore it, or retrain the model", None, TrainError)
        tables[name] = dataclasses.replace(t, time_column=time_column)
    return dataclasses.replace(schema, tables=tables)


def history(con, task: Task, rows: Rows, label_mean: float, label_std: float) -> np.ndarray:
    """Per row: log count, has-history flag, mean and last label (standardised), log recency."""
    n = len(rows)
    if n == 0:
        return np.zeros((0, HIST_DIM), dtype=np.float32)
    table = pa.table({"i": np.arange(n, dtype=np.int64),
                      "anchor_time": pa.array(np.asarray(rows.anchor_time,
                                                         dtype="datetime64[us]")),
                      "entity_id": pa.array(np.asarray(rows.entity_id).astype(str))})
    cur = registry.cursor(con)
    try:
        cur.register("relatron_rdl_rows", table)
        out = cur.execute(
            "SELECT COUNT(h.label) AS n, AVG(h.label) AS mean, arg_max(h.label, h.anchor_time) "
            "AS last, date_diff('day', MAX(h.anchor_time), MIN(r.anchor_time)) AS age "
            "FROM relatron_rdl_rows AS r LEFT JOIN relatron.task_rows AS h ON h.task = ? AND "
            "h.entity_id = r.entity_id AND h.anchor_time + ? <= r.anchor_time "
            "GROUP BY r.i ORDER BY r.i", [task.name, task.horizon]).fetchnumpy()
        cur.unregister("relatron_rdl_rows")
    finally:
        cur.close()
    count = np.asarray(out["n"], dtype=float)
    has = count > 0

    def std(col):
        v = floats(out[col])
        return np.where(has & ~np.isnan(v), (v - label_mean) / label_std, 0.0)

    age = floats(out["age"])
    recency = np.where(has & ~np.isnan(age), np.log1p(np.maximum(age, 0)) / 5.0, 0.0)
    return np.stack([np.log1p(count) / 3.0, has, std("mean"), std("last"), recency],
                    1).astype(np.float32)


def _loss(kind: str):
    if kind == "binary":
        return lambda out, y: torch.nn.functional.binary_cross_entropy_with_logits(
            out.squeeze(-1), y)
    if kind == "regression":
        return lambda out, y: torch.nn.functional.l1_loss(out.squeeze(-1), y)
    return lambda out, y: torch.nn.functional.cross_entropy(out, y.long())


def to_device(batch, device: str):
    """Move a batch to ``device``; on CUDA through pinned memory, without blocking."""
    if device == "cpu":
        return batch
    return batch.pin_memory().to(device, non_blocking=True)


class RDLModel:
    """A trained network with everything needed to score new rows."""

    def __init__(self, config: dict, encoders: dict[str, TableEncoder], net: RDLNet,
                 device: str = "cpu"):
        self.config, self.encoders, self.net, self.device = config, encoders, net, device
        self._prepared: Prepared | None = None

    def entity_time_column(self, task: Task) -> tuple[bool, str | None]:
        """(known, the time column the model dates its entity rows by): the one it was trained
        with, where it recorded its time columns."""
        dated = self.config.get("time_columns") or {}
        return task.entity in dated, dated.get(task.entity)

    @property
    def label_mean(self) -> float:
        return float(self.config["label_mean"])

    @property
    def label_std(self) -> float:
        return float(self.config["label_std"])

    def prepared(self, con, task: Task) -> Prepared:
        if self._prepared is None:
            prepared = Prepared.build(con, task, self.encoders,
                                      time_columns=self.config.get("time_columns"))
            timed = {n: bool(d[3]) for n, d in self.config.get("node_dims", {}).items()}
            changed = sorted(n for n, was in timed.items()
                             if prepared.graph.timed.get(n, was) != was)
            if changed:   # a model stored without its time columns
                raise bad_argument("name", f"the model of task {task.name!r} was trained with "
                                   f"other time columns for {changed} than the database "
                                   "declares now; declare them as they were, or retrain it",
                                   None, TrainError)
            links = set(prepared.graph.edge_types)
            if links != set(self.net.edge_types):
                changed = sorted({e[1] for e in links ^ set(self.net.edge_types)})
                raise bad_argument("name", f"the model of task {task.name!r} was trained on "
                                   f"other foreign keys than the database has now ({changed}); "
                                   "retrain it on the current database", None, TrainError)
            self._prepared = prepared
        return self._prepared

    def seeds(self, con, task: Task, rows: Rows, prepared: Prepared):
        nodes = prepared.graph.locate(task.entity, rows.entity_id)
        times = np.asarray(rows.anchor_time, dtype="datetime64[us]").astype(np.int64)
        hist = (history(con, task, rows, self.label_mean, self.label_std)
                if self.config["history"] else np.zeros((len(rows), HIST_DIM), np.float32))
        return nodes, times, hist

    def raw_scores(self, prepared: Prepared, nodes, times, hist, features=None) -> np.ndarray:
        """Network outputs for seeds (rows whose entity is absent get NaN)."""
        ok = nodes >= 0
        width = self.config["out_dim"]
        out = np.full((len(nodes), width), np.nan, dtype=np.float32)
        if not ok.any():
            return out
        sampler = NeighborSampler(prepared.graph, self.config["fanouts"],
                                  self.config["strategy"])
        batches = Batches(sampler, features or prepared.features, self.config["entity"],
                          nodes[ok], times[ok], hist=hist[ok],
                          batch_size=self.config["batch_size"], seed=7919)
        where = np.flatnonzero(ok)
        self.net.eval()
        with torch.no_grad():
            for rows, batch in batches:
                with _autocast(self.device, self.config.get("amp", False)):
                    res = self.net(to_device(batch, self.device))
                out[where[rows]] = res.float().cpu().numpy()
        return out

    def finish(self, kind: str, raw: np.ndarray) -> np.ndarray:
        """Raw outputs -> P(1) (binary), value (regression) or class (multiclass)."""
        if kind == "binary":
            p = 1.0 / (1.0 + np.exp(-raw[:, 0].astype(float)))
            return np.where(np.isnan(p), self.config["base_rate"], p)
        if kind == "regression":
            v = raw[:, 0].astype(float) * self.label_std + self.label_mean
            return np.where(np.isnan(v), self.label_mean, v)
        filled = np.where(np.isnan(raw), -np.inf, raw)
        cls = np.argmax(filled, 1).astype(float)
        return np.where(np.isnan(raw).all(1), float(self.config["majority"]), cls)

    def predict(self, con, task: Task, rows: Rows) -> np.ndarray:
        if len(rows) == 0:
            return np.zeros(0)
        set_threads(con)
        prepared = self.prepared(con, task)
        nodes, times, hist = self.seeds(con, task, rows, prepared)
        return self.finish(task.kind, self.raw_scores(prepared, nodes, times, hist))

    def state_bytes(self) -> bytes:
        buf = io.BytesIO()
        torch.save({k: v.detach().cpu() for k, v in self.net.state_dict().items()}, buf)
        return buf.getvalue()


class _autocast:
    """bfloat16 autocast on CUDA when asked for; nothing on CPU."""

    def __init__(self, device: str, enabled: bool):
        self.ctx = (torch.autocast("cuda", dtype=torch.bfloat16)
                    if device == "cuda" and enabled else None)

    def __enter__(self):
        return self.ctx.__enter__() if self.ctx else None

    def __exit__(self, *exc):
        return self.ctx.__exit__(*exc) if self.ctx else False


def build_net(config: dict, prepared_dims: dict, node_types: list[str], edge_types: list
              ) -> RDLNet:
    return RDLNet(node_types, edge_types, prepared_dims, config["entity"], HIST_DIM,
                  config["out_dim"], channels=config["channels"], layers=config["layers"],
                  conv=config["conv"], aggr=config["aggr"], dropout=config["dropout"])


def check_config(config: dict) -> dict:
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        raise bad_argument("config", f"unknown options {unknown}", DEFAULTS, TrainError)
    out = {**DEFAULTS, **config}
    if out["conv"] not in CONVS:
        raise bad_argument("conv", f"unknown layer {out['conv']!r}", CONVS, TrainError)
    return out


def fit(con, task: Task, prepared: Prepared, config: dict, seed: int, device: str,
        trial: int = 0, trial_log=None, progress=None, deadline: float | None = None,
        splits: dict | None = None) -> tuple[RDLModel, float, dict]:
    """Train one configuration; returns the model at its best validation epoch, that score and
    what happened (epochs, seconds per epoch)."""
    from ..models import check_device, split_rows
    check_device(device)
    config = check_config(config)
    set_threads(con)
    torch.manual_seed(seed)
    splits = splits or {s: split_rows(con, task, s) for s in ("train", "val")}
    train, val = splits["train"], splits["val"]
    y_train = np.asarray(train.label, dtype=float)
    if len(y_train) == 0:
        raise bad_argument("name", f"task {task.name!r} has no training rows", None, TrainError)
    mean, std = (float(y_train.mean()), float(y_train.std()) or 1.0) \
        if task.kind == "regression" else (0.0, 1.0)
    counts = np.bincount(y_train.astype(int)) if task.kind == "multiclass" else None
    out_dim = int(task.num_classes or (counts.size if counts is not None else 1)) \
        if task.kind == "multiclass" else 1
    full = {**config, "entity": task.entity, "kind": task.kind, "out_dim": out_dim,
            "label_mean": mean, "label_std": std, "base_rate": float(y_train.mean()),
            "majority": int(np.argmax(counts)) if counts is not None else 0}
    net = build_net(full, prepared.node_dims(), prepared.graph.node_types,
                    prepared.graph.edge_types).to(device)
    model = RDLModel(full, prepared.encoders, net, device)
    model._prepared = prepared
    seeds = {}
    for name, rows in (("train", train), ("val", val)):
        nodes, times, hist = model.seeds(con, task, rows, prepared)
        ok = nodes >= 0
        y = np.asarray(rows.label, dtype=float)
        y = (y - mean) / std if task.kind == "regression" else y
        seeds[name] = (nodes[ok], times[ok], hist[ok], y[ok], ok)
    if len(seeds["train"][0]) == 0:
        raise bad_argument("name", f"no training row of task {task.name!r} names a row of "
                           f"{task.entity!r}", None, TrainError)
    opt = torch.optim.Adam(net.parameters(), lr=config["lr"],
                           weight_decay=config["weight_decay"])
    loss_fn = _loss(task.kind)
    sampler = NeighborSampler(prepared.graph, config["fanouts"], config["strategy"])
    best, best_epoch, best_state, stale = None, -1, None, 0
    info = {"epochs": 0, "epoch_seconds": [], "stopped": "max_epochs"}
    started = time.perf_counter()
    for epoch in range(config["max_epochs"]):
        t0 = time.perf_counter()
        net.train()
        nodes, times, hist, y, _ = seeds["train"]
        batches = Batches(sampler, prepared.features, task.entity, nodes, times, y, hist,
                          batch_size=config["batch_size"], shuffle=True,
                          seed=seed * 1000 + epoch)
        total, n = 0.0, 0
        for _, batch in batches:
            batch = to_device(batch, device)
            opt.zero_grad()
            with _autocast(device, config["amp"]):
                out = net(batch)
            loss = loss_fn(out.float(), batch.y)
            loss.backward()
            opt.step()
            total += loss.item() * int(batch.num_seeds)
            n += int(batch.num_seeds)
        score = _score(model, task, prepared, seeds["val"], val)
        seconds = time.perf_counter() - t0
        info["epochs"] = epoch + 1
        info["epoch_seconds"].append(round(seconds, 2))
        if trial_log is not None:
            trial_log(trial=trial, epoch=epoch, config=config, train_loss=total / max(n, 1),
                      val_metric=score, seconds=seconds)
        if progress is not None:
            progress(f"rdl trial {trial} epoch {epoch}: loss {total / max(n, 1):.4f}, "
                     f"val {task.metric} {score:.4f}, {seconds:.1f}s")
        better = best is None or (score > best if task.higher_is_better else score < best)
        if better and np.isfinite(score):
            best, best_epoch, stale = score, epoch, 0
            best_state = copy.deepcopy(net.state_dict())
        else:
            stale += 1
        elapsed = time.perf_counter() - started
        per_epoch = elapsed / (epoch + 1)
        if stale >= config["patience"]:
            info["stopped"] = "patience"
            break
        if epoch + 1 == config["max_epochs"]:
            break
        if deadline is not None and time.perf_counter() + per_epoch > deadline:
            info["stopped"] = "time"   # the caller's time budget
            break
        if elapsed + per_epoch > config["max_seconds"]:
            info["stopped"] = "max_seconds"   # the trial's own cap
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    info["best_epoch"] = best_epoch
    return model, float("nan") if best is None else best, info


def probe_loss(con, task: Task, model: RDLModel, rows: Rows, max_rows: int = 1024,
               seed: int = 0):
    """``loss_fn(net)`` on one fixed batch of validation rows: the probe on which checkpoints'
    loss landscapes are compared.

    Beyond ``max_rows`` rows the probe is a random subset drawn under ``seed`` (in row order),
    so that it spreads over every anchor time, the same for every candidate of a search."""
    prepared = model.prepared(con, task)
    pick = probe_rows(len(rows), max_rows, seed)
    rows = Rows(rows.anchor_time[pick], rows.entity_id[pick], None, rows.label[pick])
    nodes, times, hist = model.seeds(con, task, rows, prepared)
    ok = nodes >= 0
    y = np.asarray(rows.label, dtype=float)
    if task.kind == "regression":
        y = (y - model.label_mean) / model.label_std
    sampler = NeighborSampler(prepared.graph, model.config["fanouts"], model.config["strategy"])
    batches = Batches(sampler, prepared.features, task.entity, nodes[ok], times[ok], y[ok],
                      hist[ok], batch_size=max(int(ok.sum()), 1), seed=7919, prefetch=0)
    _, batch = next(iter(batches))
    batch = to_device(batch, model.device)
    loss = _loss(task.kind)
    return lambda net: loss(net(batch).float(), batch.y)


def probe_rows(n: int, max_rows: int, seed: int) -> np.ndarray:
    """Indices of the rows of a validation split of ``n`` rows that ``probe_loss`` uses: all of
    them, or ``max_rows`` drawn without replacement under ``seed``, sorted. Validation rows
    come ordered by anchor time, so the first ``max_rows`` would see only the earliest."""
    if n <= max_rows:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max_rows, replace=False))


def _score(model: RDLModel, task: Task, prepared: Prepared, seeds, rows: Rows,
           features=None) -> float:
    nodes, times, hist, _, ok = seeds
    raw = np.full((len(rows), model.config["out_dim"]), np.nan, dtype=np.float32)
    raw[ok] = model.raw_scores(prepared, nodes, times, hist, features)
    pred = model.finish(task.kind, raw)
    return metrics.primary(task.kind, metrics.evaluate(task.kind, rows.label, pred))


def permutation_importance(con, task: Task, model: RDLModel, rows: Rows, seed: int = 0
                           ) -> list[dict]:
    """Drop of the validation metric when one table's rows (or the label history) are shuffled.

    At most ``IMPORTANCE_ROWS`` validation rows (a fixed random subset) are scored per table.
    """
    if len(rows) > IMPORTANCE_ROWS:
        pick = np.sort(np.random.default_rng(seed).choice(len(rows), IMPORTANCE_ROWS,
                                                          replace=False))
        rows = Rows(rows.anchor_time[pick], rows.entity_id[pick],
                    None if rows.split is None else rows.split[pick], rows.label[pick])
    prepared = model.prepared(con, task)
    nodes, times, hist = model.seeds(con, task, rows, prepared)
    ok = nodes >= 0
    seeds = (nodes[ok], times[ok], hist[ok], None, ok)
    base = _score(model, task, prepared, seeds, rows)
    sign = 1.0 if task.higher_is_better else -1.0
    rng = np.random.default_rng(seed)
    out = []
    for name in prepared.graph.node_types:
        enc = prepared.encoders[name]
        if not (enc.num_dim or enc.code_sizes) and not prepared.graph.timed[name]:
            continue
        feats = dict(prepared.features)
        feats[name] = prepared.features[name].permuted(rng)
        score = _score(model, task, prepared, seeds, rows, feats)
        cols = enc.numeric + enc.categorical + enc.text + enc.stamps
        out.append({"feature": f"table {name}", "importance": sign * (base - score),
                    "description": f"validation {task.metric} lost when the feature rows of "
                                   f"{name} ({', '.join(cols) or 'no columns'}) are shuffled",
                    "sql": None})
    if model.config["history"]:
        h = seeds[2][rng.permutation(len(seeds[2]))]
        score = _score(model, task, prepared, (seeds[0], seeds[1], h, None, ok), rows)
        out.append({"feature": "label history", "importance": sign * (base - score),
                    "description": f"validation {task.metric} lost when the entity's own past "
                                   "labels (closed windows only) are shuffled across rows",
                    "sql": None})
    return sorted(out, key=lambda r: -r["importance"])


def stored_config(model: RDLModel, prepared: Prepared) -> dict:
    """``model.config`` with what :func:`load_model` needs to rebuild the model elsewhere."""
    return {**model.config,
            "encoders": {n: e.config() for n, e in model.encoders.items()},
            "node_dims": {n: list(d) for n, d in prepared.node_dims().items()},
            "node_types": prepared.graph.node_types,
            "time_columns": prepared.time_columns,
            "edge_types": [list(e) for e in prepared.graph.edge_types]}


def load_model(config: dict, artifacts: dict[str, bytes], device: str = "cpu") -> RDLModel:
    encoders = {n: TableEncoder.from_config(c) for n, c in config["encoders"].items()}
    dims = {n: tuple(d) for n, d in config["node_dims"].items()}
    net = build_net(config, dims, config["node_types"], [tuple(e) for e in config["edge_types"]])
    state = torch.load(io.BytesIO(artifacts["weights"]), weights_only=True, map_location="cpu")
    net.load_state_dict(state)
    net.to(device)
    return RDLModel(config, encoders, net, device)

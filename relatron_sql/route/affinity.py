"""Quick affinities: how well each family's raw material predicts the label, cheaply.

- feature affinity: validation score of a small LightGBM on depth-1 DFS features;
- path affinity: validation score of a ridge fit on entity embeddings of an untrained GNN, at
  1, 2 and 3 layers (each depth its own signal, ``path_affinity_<L>``). ``path_affinity``, the
  one the selector weighs against the feature affinity, is the score at the depth the RDL family
  trains by default (``SELECTOR_DEPTH``); the best depth's score was measured in its place and
  routed worse (benchmarks/RESULTS.md, "Routing").

Both are oriented so that higher is better (see ``signals.orient``) and use at most
``MAX_ROWS`` training rows.
"""
from __future__ import annotations

import logging

import numpy as np

from .. import metrics
from ..models import split_rows
from ..task import Task
from ..threads import session_threads

log = logging.getLogger(__name__)

MAX_ROWS = 5000


def _subsample(rows, n: int, seed: int = 0):
    if len(rows) <= n:
        return rows
    idx = np.sort(np.random.default_rng(seed).choice(len(rows), n, replace=False))
    from ..families import Rows
    return Rows(rows.anchor_time[idx], rows.entity_id[idx], rows.split[idx], rows.label[idx])


def _score(task: Task, label_std: float, y: np.ndarray, pred: np.ndarray) -> float | None:
    from .signals import orient
    return orient(task.metric, metrics.primary(task.kind, metrics.evaluate(task.kind, y, pred)),
                  label_std)


def depth1_plan(con, task: Task):
    """The depth-1 DFS features of the feature affinity, with categories taken as the DFS family
    takes them: from rows known at the training cutoff (the last training anchor)."""
    from ..dfs.compile import schema_info
    from ..dfs.enumerate import enumerate_features
    schema = task.schema(con, as_of=task.training_cutoff)
    plan = enumerate_features(con, schema, task.entity, depth=1, windows=(),
                              as_of=task.training_cutoff)
    return plan, schema_info(schema, plan)


def feature_affinity(con, task: Task) -> float | None:
    """Validation score of a 60-round LightGBM on depth-1 DFS features."""
    try:
        import lightgbm as lgb
        from ..dfs.matrix import feature_matrix
    except ImportError as e:
        log.warning("feature affinity skipped: %s", e)
        return None
    plan, info = depth1_plan(con, task)
    train = _subsample(split_rows(con, task, "train"), MAX_ROWS)
    val = _subsample(split_rows(con, task, "val"), MAX_ROWS, seed=1)
    x_train = feature_matrix(con, plan, info, train.anchor_time, train.entity_id)
    x_val = feature_matrix(con, plan, info, val.anchor_time, val.entity_id)
    objective = {"binary": "binary", "regression": "regression_l1",
                 "multiclass": "multiclass"}[task.kind]
    params = {"objective": objective, "num_leaves": 15, "learning_rate": 0.1, "verbose": -1,
              "seed": 0, "num_threads": min(2, session_threads(con)),
              "min_data_in_leaf": 20}
    if task.kind == "multiclass":
        params["num_class"] = int(task.num_classes or 2)
    booster = lgb.train(params, lgb.Dataset(x_train, train.label), num_boost_round=60)
    pred = booster.predict(x_val)
    if task.kind == "multiclass":
        pred = pred.argmax(axis=1)
    return _score(task, float(np.std(train.label)), val.label, pred)


def ridge_score(task: Task, z_train, y_train, z_val, y_val, alpha: float = 1.0) -> float | None:
    """Validation score of a ridge regression from embeddings to labels."""
    mean, std = z_train.mean(axis=0), z_train.std(axis=0) + 1e-9
    a, b = (z_train - mean) / std, (z_val - mean) / std
    a = np.hstack([a, np.ones((len(a), 1))])
    b = np.hstack([b, np.ones((len(b), 1))])
    w = np.linalg.solve(a.T @ a + alpha * np.eye(a.shape[1]), a.T @ y_train)
    pred = b @ w
    if task.kind == "multiclass":
        pred = np.clip(np.round(pred), 0, (task.num_classes or 2) - 1)
    return _score(task, float(np.std(y_train)), y_val, pred)


#: depths of the untrained GNN behind the path affinity, each with its own fanouts (the third
#: hop narrower, so that routing a rel-f1 task stays well under 30 s)
PATH_DEPTHS = {1: [32], 2: [32, 16], 3: [16, 8, 4]}
#: the depth whose score is ``path_affinity``: the RDL family's default number of layers
SELECTOR_DEPTH = 2


def untrained_embeddings(con, task: Task, row_sets: list, layers: int = 2, seed: int = 0,
                         prepared=None) -> list[np.ndarray]:
    """Entity embeddings of an untrained heterogeneous GNN of ``layers`` layers (a depth of
    ``PATH_DEPTHS``; no label history) for each set of rows: what the temporal neighbourhood
    alone carries, before any training."""
    import torch
    from ..rdl import train as engine
    from ..rdl.loader import Batches
    from ..rdl.sampler import NeighborSampler
    engine.set_threads(con)
    prepared = prepared or engine.Prepared.build(con, task)
    config = engine.check_config({"history": False, "layers": layers,
                                  "fanouts": PATH_DEPTHS[layers]})
    torch.manual_seed(seed)
    net = engine.build_net({**config, "entity": task.entity, "out_dim": 1}, prepared.node_dims(),
                           prepared.graph.node_types, prepared.graph.edge_types)
    net.eval()
    channels = config["channels"]
    captured: list = []
    hook = net.head.register_forward_pre_hook(
        lambda module, inputs: captured.append(inputs[0][:, :channels].detach()))
    sampler = NeighborSampler(prepared.graph, config["fanouts"], config["strategy"])
    out = []
    try:
        for rows in row_sets:
            nodes = prepared.graph.locate(task.entity, rows.entity_id)
            times = np.asarray(rows.anchor_time, dtype="datetime64[us]").astype(np.int64)
            ok = np.flatnonzero(nodes >= 0)
            z = np.zeros((len(rows), channels), dtype=np.float64)
            batches = Batches(sampler, prepared.features, task.entity, nodes[ok], times[ok],
                              hist=np.zeros((len(ok), engine.HIST_DIM), np.float32),
                              batch_size=1024, seed=seed)
            with torch.no_grad():
                for index, batch in batches:
                    captured.clear()
                    net(batch)
                    z[ok[index]] = captured[0].numpy()
            out.append(z)
    finally:
        hook.remove()
    return out


def path_affinities(con, task: Task) -> dict[int, float | None]:
    """Validation score of a ridge fit on embeddings from an untrained GNN of each depth in
    ``PATH_DEPTHS`` (one graph build shared by all depths); empty without torch."""
    try:
        import torch  # noqa: F401
        from ..rdl import train as engine
    except ImportError as e:
        log.warning("path affinity skipped: %s", e)
        return {}
    train_rows = _subsample(split_rows(con, task, "train"), MAX_ROWS)
    val = _subsample(split_rows(con, task, "val"), MAX_ROWS, seed=1)
    prepared = engine.Prepared.build(con, task)
    out = {}
    for layers in PATH_DEPTHS:
        z_train, z_val = untrained_embeddings(con, task, [train_rows, val], layers=layers,
                                              prepared=prepared)
        out[layers] = ridge_score(task, z_train, train_rows.label, z_val, val.label)
    return out

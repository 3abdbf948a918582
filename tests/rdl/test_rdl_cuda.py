"""The RDL family on a CUDA GPU: trained there, stored as a CPU state dict, reloaded anywhere.

Skipped where torch sees no CUDA GPU (the CPU-only error path is tested in
test_rdl_bad_input.py). Run on a GPU machine with ``pytest tests/rdl/test_rdl_cuda.py``.
"""
import io
import json

import numpy as np
import pytest
import torch

from relatron_sql import models
from relatron_sql.rdl import train as engine
from relatron_sql.rdl.family import FAMILY
from relatron_sql.task import load_task

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")


def test_sql_train_on_cuda_registers_a_cpu_loadable_model(gen_con):
    summary = json.loads(gen_con.execute(
        "SELECT relatron_train('user-active', family := 'rdl', device := 'cuda', seed := 0, "
        "time_budget := 300)").fetchall()[0][0])   # an upper bound: it stops by patience
    assert summary["family"] == "rdl" and summary["config"]["device"] == "cuda"
    assert 0.5 < summary["test"]["auroc"] <= 1.0
    weights = gen_con.execute(
        "SELECT a.payload FROM relatron.artifacts a JOIN relatron.models m USING (name, version) "
        "WHERE m.name = 'user-active' AND m.active AND a.part = 'weights'").fetchall()[0][0]
    state = torch.load(io.BytesIO(weights), weights_only=True)
    assert state and all(t.device.type == "cpu" for t in state.values())
    n = gen_con.execute("SELECT relatron_predict('user-active')").fetchall()[0][0]
    preds = np.array([r[0] for r in gen_con.execute(
        "SELECT prediction FROM relatron_predictions('user-active')").fetchall()])
    assert len(preds) == n > 0 and np.all((preds >= 0) & (preds <= 1)) and np.std(preds) > 0


def test_cuda_and_cpu_copies_of_one_model_agree(gen_con):
    task = load_task(gen_con, "user-spend")
    prepared = engine.Prepared.build(gen_con, task)
    model, score, info = engine.fit(gen_con, task, prepared, {"max_epochs": 2}, 0, "cuda")
    assert next(model.net.parameters()).is_cuda and np.isfinite(score)
    rows = models.split_rows(gen_con, task, "test")
    on_gpu = model.predict(gen_con, task, rows)
    artifacts = {"weights": model.state_bytes()}
    on_cpu = engine.load_model(engine.stored_config(model, prepared), artifacts, "cpu")
    assert np.allclose(on_gpu, on_cpu.predict(gen_con, task, rows), rtol=1e-4, atol=1e-4)


def test_bfloat16_autocast_trains_to_finite_scores(gen_con):
    task = load_task(gen_con, "user-active")
    prepared = engine.Prepared.build(gen_con, task)
    model, score, info = engine.fit(gen_con, task, prepared, {"max_epochs": 2, "amp": True},
                                    0, "cuda")
    preds = model.predict(gen_con, task, models.split_rows(gen_con, task, "test"))
    assert info["epochs"] == 2 and 0.0 <= score <= 1.0
    assert np.all(np.isfinite(preds)) and np.all((preds >= 0) & (preds <= 1))


def test_family_fit_on_cuda_hands_back_a_cpu_model(gen_con):
    from relatron_sql.families import FitOptions
    task = load_task(gen_con, "user-active")
    fitted = FAMILY.fit(gen_con, task, FitOptions(budget=1, seed=0, device="cuda",
                                                  time_budget=10, trial_log=lambda **k: None))
    assert fitted.model.device == "cpu"
    assert not next(fitted.model.net.parameters()).is_cuda


def test_flatness_selection_runs_on_cuda(gen_con):
    out = models.train(gen_con, "user-active", family="rdl", budget=3, device="cuda", seed=0)
    land = out["config"]["landscape"]
    assert land is not None and len(land["candidates"]) == 3
    for c in land["candidates"]:
        assert all(np.isfinite(v) for v in c["flatness"].values())
    chosen = land["candidates"][land["chosen"]]
    assert out["config"]["trial"] == chosen["trial"]
    n = gen_con.execute("SELECT relatron_predict('user-active')").fetchall()[0][0]
    assert n > 0

"""Bad input to the RDL family: clear errors naming the argument, and the database unchanged."""
import duckdb
import numpy as np
import pytest
import torch

from relatron_sql import models
from relatron_sql.errors import TrainError
from relatron_sql.rdl import train as engine
from relatron_sql.rdl.graph import graph_for
from relatron_sql.rdl.sampler import NeighborSampler
from relatron_sql.task import load_task

from rdl_helpers import registry_state

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present")


@no_gpu
def test_cuda_without_gpu_is_a_clear_error(gen_con):
    before = registry_state(gen_con)
    with pytest.raises(duckdb.Error, match="device.*no CUDA GPU"):
        gen_con.execute("SELECT relatron_train('user-active', family := 'rdl', "
                        "device := 'cuda')").fetchall()
    assert registry_state(gen_con) == before


@no_gpu
def test_cuda_without_gpu_in_the_engine(gen_con):
    task = load_task(gen_con, "user-active")
    prepared = engine.Prepared.build(gen_con, task)
    with pytest.raises(TrainError, match="'device'"):
        engine.fit(gen_con, task, prepared, {}, 0, "cuda")


def test_entity_table_with_no_rows(gen_con):
    gen_con.execute("DELETE FROM users")
    before = registry_state(gen_con)
    with pytest.raises(duckdb.Error, match="'name'.*rows of task 'user-active' name users rows "
                                           "that no longer exist"):
        gen_con.execute("SELECT relatron_train('user-active', family := 'rdl')").fetchall()
    assert registry_state(gen_con) == before
    g = graph_for(gen_con, "users")
    out = NeighborSampler(g, [4, 4]).sample("users", np.zeros(0), np.zeros(0))
    assert out.num_seeds == 0 and len(out.node) == 0


@pytest.mark.parametrize("change", [
    "UPDATE orders SET item_id = NULL",                        # an edge type with zero edges
    "UPDATE orders SET user_id = NULL WHERE order_id % 2 = 0",  # NULL foreign keys
])
def test_trains_with_missing_edges(gen_con, change):
    gen_con.execute(change)
    summary = models.train(gen_con, "user-active", family="rdl", time_budget=2)
    assert summary["family"] == "rdl" and np.isfinite(summary["test"]["auroc"])
    assert summary["test"]["rows"] == gen_con.execute(
        "SELECT COUNT(*) FROM relatron.task_rows WHERE task = 'user-active' AND split = 'test'"
    ).fetchall()[0][0]
    models.predict(gen_con, "user-active", split="test")
    scores = gen_con.execute("SELECT prediction FROM relatron.predictions WHERE name = "
                             "'user-active' AND split = 'test'").fetchnumpy()["prediction"]
    assert len(scores) == summary["test"]["rows"] and np.all(np.isfinite(scores))
    assert np.std(scores) > 0      # the model tells users apart


def test_bad_sampler_options(gen_con):
    g = graph_for(gen_con, "users")
    with pytest.raises(TrainError, match="'strategy'"):
        NeighborSampler(g, [4], "newest")
    with pytest.raises(TrainError, match="'fanouts'"):
        NeighborSampler(g, [4, 0])
    with pytest.raises(TrainError, match="'times'"):
        NeighborSampler(g, [4]).sample("users", np.arange(3), np.zeros(2))


def test_unknown_config_option(gen_con):
    task = load_task(gen_con, "user-active")
    prepared = engine.Prepared.build(gen_con, task)
    with pytest.raises(TrainError, match="'config'.*layers"):
        engine.fit(gen_con, task, prepared, {"layer": 3}, 0, "cpu")
    with pytest.raises(TrainError, match="'conv'"):
        engine.fit(gen_con, task, prepared, {"conv": "gin"}, 0, "cpu")


def test_cpu_batches_stay_put_and_autocast_is_off_on_cpu():
    from torch_geometric.data import HeteroData
    data = HeteroData()
    data["a"].x = torch.ones(2)
    assert engine.to_device(data, "cpu") is data
    with engine._autocast("cpu", True):
        assert torch.mm(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.float32


@no_gpu
def test_gpu_check_script_says_there_is_no_gpu():
    import pathlib
    import subprocess
    import sys
    script = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.py"
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "no CUDA GPU" in done.stderr


def test_a_table_linked_after_training_asks_for_a_retrain(gen_con):
    models.train(gen_con, "user-active", family="rdl", time_budget=3)
    gen_con.execute("CREATE TABLE reviews AS SELECT range AS review_id, range % 50 AS user_id, "
                    "TIMESTAMP '2020-03-01' + INTERVAL (range) DAY AS time FROM range(100)")
    gen_con.execute("SELECT relatron_declare('reviews', primary_key := 'review_id', "
                    "foreign_keys := MAP {'user_id': 'users'}, time_column := 'time')").fetchall()
    before = registry_state(gen_con)
    with pytest.raises(duckdb.Error, match=r"argument 'name': the model was trained without "
                                           r"tables \['reviews'\]; retrain it"):
        gen_con.execute("SELECT relatron_predict('user-active')").fetchall()
    assert registry_state(gen_con) == before

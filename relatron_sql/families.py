"""What a model family provides, and the registry of families.

A family fits a model for a task and can load it back from stored artifacts. Models never go
through pickle: artifacts are LightGBM text, torch state dicts (loaded with ``weights_only=True``)
or JSON.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Callable, Protocol

import numpy as np

from .errors import TrainError, bad_argument


@dataclasses.dataclass
class Rows:
    """Rows to score: anchor times and entity ids (as stored in ``relatron.task_rows``)."""
    anchor_time: np.ndarray
    entity_id: np.ndarray
    split: np.ndarray | None = None
    label: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.entity_id)


class Model(Protocol):
    def predict(self, con, task, rows: Rows) -> np.ndarray: ...


@dataclasses.dataclass
class Fitted:
    model: Model
    config: dict
    artifacts: dict[str, tuple[str, bytes]]   # part -> (format, payload)
    features: list[dict] = dataclasses.field(default_factory=list)  # feature, importance, description, sql
    val_metric: float = float("nan")
    extra: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class FitOptions:
    budget: int
    seed: int
    device: str
    time_budget: float | None
    trial_log: Callable[..., None]   # trial_log(trial=, epoch=, config=, train_loss=, val_metric=, seconds=)
    progress: Callable[[str], None] = lambda message: None
    #: Configurations to try first (best configs of the most similar bank tasks); the
    #: family tries them before its own search (DFS: as extra trials outside the TPE study;
    #: RDL: first among its fixed trials, within the budget).
    priors: list[dict] = dataclasses.field(default_factory=list)


class Family(Protocol):
    name: str
    default_budget: int

    def fit(self, con, task, options: FitOptions) -> Fitted: ...

    def load(self, config: dict, artifacts: dict[str, bytes]) -> Model: ...


_MODULES = {"baseline": "relatron_sql.baseline", "dfs": "relatron_sql.dfs.family",
            "rdl": "relatron_sql.rdl.family", "blend": "relatron_sql.blend"}
#: the families a caller can name: a blend of DFS and RDL is made by auto mode only
TRAINABLE = ("baseline", "dfs", "rdl")


def get(name: str) -> Any:
    """The family object called ``name``."""
    if name not in _MODULES:
        raise bad_argument("family", f"unknown family {name!r}", [*TRAINABLE, "auto"], TrainError)
    try:
        module = importlib.import_module(_MODULES[name])
    except ModuleNotFoundError as e:
        raise TrainError(f"argument 'family': {name!r} is not available ({e})") from None
    return module.FAMILY


def trainable(name: str) -> Any:
    """The family object a caller may train by ``name`` ('auto' aside): any but a blend,
    which auto mode makes and which loads through :func:`get`."""
    if name == "blend":
        raise bad_argument("family", "a blend of DFS and RDL is kept by auto mode when it "
                           "scores better on validation than either family alone; train "
                           "with family := 'auto'", [*TRAINABLE, "auto"], TrainError)
    return get(name)


def available() -> list[str]:
    return list(_MODULES)

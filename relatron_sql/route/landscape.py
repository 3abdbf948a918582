"""Loss-landscape flatness of a trained network, for choosing among top checkpoints.

All measures use a fixed validation probe through ``loss_fn(model) -> scalar tensor`` and
filter-normalised random directions (each filter of the direction scaled to the norm of the
matching filter of the weights, biases and norms left at zero), so that networks of different
scale compare fairly:

- ``curvature``: the largest second derivative of the loss along one of the directions,
  d^T H d in the direction's own coordinates (not per unit length: a filter-normalised d has
  the weights' scale), from central differences;
- ``plane_curvature``: the largest eigenvalue of the Hessian restricted to the directions'
  span, in the same coordinates: the matrix d_i^T H d_j, its off-diagonal entries from the four
  points ``theta +- eps d_i +- eps d_j``. Recorded beside the others; selection reads
  ``curvature``, because on 30 searches choosing by the plane's eigenvalue changed the choice
  more often and was wrong more often (benchmarks/RESULTS.md, "Checkpoint selection");
- ``barrier``: the largest rise of the loss along rays ``theta + alpha * d``;
- ``gradient_norm``: the norm of the loss gradient at the weights.
"""
from __future__ import annotations

import contextlib
import dataclasses
from typing import Callable

import numpy as np
import torch

LossFn = Callable[[torch.nn.Module], torch.Tensor]


def filter_normalised_direction(model: torch.nn.Module, generator: torch.Generator
                                ) -> list[torch.Tensor]:
    out = []
    for p in model.parameters():
        d = torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device)
        if p.dim() <= 1:
            d.zero_()
        else:
            w = p.detach().reshape(p.shape[0], -1)
            dv = d.reshape(p.shape[0], -1)
            dv.mul_(w.norm(dim=1, keepdim=True) / (dv.norm(dim=1, keepdim=True) + 1e-10))
        out.append(d)
    return out


@contextlib.contextmanager
def _shifted(model: torch.nn.Module, *moves: tuple[list[torch.Tensor], float]):
    """The model at ``theta + sum(alpha * d for d, alpha in moves)``; the weights are copied
    back afterwards, bit for bit (adding and subtracting a step would round in float32)."""
    params = list(model.parameters())
    saved = [p.detach().clone() for p in params]
    with torch.no_grad():
        for direction, alpha in moves:
            for p, d in zip(params, direction):
                p.add_(d, alpha=alpha)
    try:
        yield model
    finally:
        with torch.no_grad():
            for p, w in zip(params, saved):
                p.copy_(w)


def _loss(model, loss_fn: LossFn) -> float:
    with torch.no_grad():
        return float(loss_fn(model))


@dataclasses.dataclass
class Flatness:
    loss: float
    curvature: float
    barrier: float
    gradient_norm: float
    plane_curvature: float = 0.0

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def measure(model: torch.nn.Module, loss_fn: LossFn, directions: int = 2, eps: float = 0.05,
            alphas: tuple[float, ...] = (0.1, 0.25, 0.5), seed: int = 0) -> Flatness:
    """Flatness of ``model`` at its current weights (the weights are left unchanged)."""
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    base = _loss(model, loss_fn)
    ds = [filter_normalised_direction(model, generator) for _ in range(directions)]
    hessian = np.zeros((directions, directions))
    barrier = 0.0
    for i, d in enumerate(ds):
        with _shifted(model, (d, eps)):
            plus = _loss(model, loss_fn)
        with _shifted(model, (d, -eps)):
            minus = _loss(model, loss_fn)
        hessian[i, i] = (plus - 2 * base + minus) / eps ** 2
        for a in alphas:
            with _shifted(model, (d, a)):
                barrier = max(barrier, _sharpness(_loss(model, loss_fn) - base))
        for j in range(i):
            corners = []
            for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                with _shifted(model, (d, si * eps), (ds[j], sj * eps)):
                    corners.append(_loss(model, loss_fn))
            hessian[i, j] = hessian[j, i] = (corners[0] - corners[1] - corners[2]
                                             + corners[3]) / (4 * eps ** 2)
    curvature = _sharpness(float(np.diag(hessian).max(initial=0.0)))
    plane = _sharpness(_top_eigenvalue(hessian))
    model.zero_grad(set_to_none=True)
    loss = loss_fn(model)
    loss.backward()
    grad = float(torch.sqrt(sum((p.grad.detach() ** 2).sum() for p in model.parameters()
                                if p.grad is not None)))
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    return Flatness(base, curvature, barrier, _sharpness(grad), plane)


def _sharpness(value: float) -> float:
    """A measure as reported: at least 0, and infinite where the loss overflowed (a NaN
    included), since a loss that overflows near the weights is as sharp as it gets."""
    return max(value, 0.0) if np.isfinite(value) else float("inf")


def _top_eigenvalue(matrix: np.ndarray) -> float:
    if not np.isfinite(matrix).all():
        return float("nan")
    return float(np.linalg.eigvalsh(matrix)[-1]) if len(matrix) else 0.0


#: A flatness measure counts as at least this fraction of the largest finite value of that
#: measure among the candidates (``select``).
RELATIVE_FLOOR = 1e-3
#: ... and at least this much, for a measure that is (nearly) 0 for every candidate.
ABSOLUTE_FLOOR = 1e-8


def select(candidates: list[dict], higher_is_better: bool, weight: float = 0.5,
           tolerance: float = 0.01) -> int:
    """Index of the candidate with the best blend of validation metric and flatness.

    Each candidate has ``val_metric`` and ``flatness`` (a Flatness dict). The score to minimise
    is the validation gap to the best candidate in units of ``tolerance * max(|best|, 1)``
    plus ``weight`` times the mean log-ratio of each flatness measure to the flattest
    candidate's. With ``weight=0`` this is plain best-validation selection.

    Before the ratios each measure is raised to a floor relative to the candidates' own scale,
    ``RELATIVE_FLOOR`` times its largest finite value among them (``ABSOLUTE_FLOOR`` where that
    is smaller). A measure clipped to 0 (a negative curvature, a loss that only falls along the
    rays) is then as flat as one a thousandth of the sharpest candidate's, not unboundedly
    flatter, and no finite measure moves a candidate by more than ``weight * log(1 /
    RELATIVE_FLOOR) / 3`` units (1.15 at the default weight). An infinite (or NaN) measure
    ranks as far sharper than any finite one.
    """
    val = np.array([c["val_metric"] for c in candidates], dtype=float)
    oriented = val if higher_is_better else -val
    oriented = np.where(np.isfinite(oriented), oriented, -np.inf)
    best = oriented.max()
    unit = tolerance * max(abs(best), 1.0)
    gap = (best - oriented) / unit
    sharp = np.zeros(len(candidates))
    keys = ("curvature", "barrier", "gradient_norm")
    for k in keys:
        m = np.maximum(np.array([float(c["flatness"][k]) for c in candidates]), 0.0)
        finite = np.isfinite(m)
        if not finite.any():
            continue
        largest = m[finite].max()
        # a measure that overflowed (or is missing) ranks as far sharper than any finite one
        m = np.where(finite, m, 100.0 * largest + 1.0)
        m = np.maximum(m, max(RELATIVE_FLOOR * largest, ABSOLUTE_FLOOR))
        sharp += np.log(m / m.min()) / len(keys)
    score = gap + weight * sharp
    return int(min(range(len(candidates)), key=lambda i: (score[i], gap[i])))

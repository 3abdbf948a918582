"""Flatness measures on networks whose landscape is known."""
import pytest
import torch

from relatron_sql.route import landscape


def _quadratic_model(scale: float):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1, bias=False)
    x = torch.randn(64, 4)
    y = model(x).detach()  # the weights are the exact minimum
    return model, (lambda m: scale * ((m(x) - y) ** 2).mean())


def test_sharper_minimum_measures_sharper():
    flat_model, flat_loss = _quadratic_model(1.0)
    sharp_model, sharp_loss = _quadratic_model(50.0)
    flat = landscape.measure(flat_model, flat_loss)
    sharp = landscape.measure(sharp_model, sharp_loss)
    assert flat.loss < 1e-10 and sharp.loss < 1e-10
    assert sharp.curvature > 10 * flat.curvature > 0
    assert sharp.barrier > 10 * flat.barrier > 0
    assert flat.gradient_norm < 1e-5  # at the minimum


def test_measure_leaves_weights_unchanged():
    model, loss = _quadratic_model(3.0)
    before = [p.detach().clone() for p in model.parameters()]
    landscape.measure(model, loss, directions=3)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_measure_restores_an_mlp_bit_for_bit():
    """Stepping out and back along a direction rounds in float32; the measure must not leave
    the registered checkpoint a rounding away from the trained one."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
    x, y = torch.randn(128, 16), torch.randn(128, 1)
    before = [p.detach().clone() for p in model.parameters()]
    landscape.measure(model, lambda m: ((m(x) - y) ** 2).mean())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_curvature_along_each_direction_and_in_their_plane():
    """On a quadratic the measures are exact: ``curvature`` is the larger diagonal entry of
    D^T H D, with D the two filter-normalised directions, and ``plane_curvature`` its largest
    eigenvalue, which is at least either direction's own curvature."""
    scale = 2.0
    model, loss = _quadratic_model(scale)
    torch.manual_seed(0)
    torch.nn.Linear(4, 1, bias=False)  # replay the draws of _quadratic_model to get its x
    x = torch.randn(64, 4).double()
    hessian = 2 * scale * (x.T @ x) / len(x)
    gen = torch.Generator().manual_seed(7)
    d = torch.stack([landscape.filter_normalised_direction(model, gen)[0].reshape(-1).double()
                     for _ in range(2)], dim=1)
    projected = d.T @ hessian @ d
    expected = float(torch.linalg.eigvalsh(projected)[-1])
    got = landscape.measure(model, loss, seed=7)
    assert got.plane_curvature == pytest.approx(expected, rel=1e-3)
    assert got.curvature == pytest.approx(float(projected.diagonal().max()), rel=1e-3)
    assert expected > float(projected.diagonal().max()) * 1.001  # the cross term matters here


def test_a_loss_that_overflows_counts_as_sharpest():
    model, loss = _quadratic_model(1.0)
    w = model.weight.detach().clone()
    blows_up = lambda m: loss(m) if torch.equal(m.weight, w) else torch.tensor(float("nan"))  # noqa
    out = landscape.measure(model, blows_up)
    assert out.curvature == out.plane_curvature == out.barrier == float("inf")
    flat = landscape.measure(model, loss).as_dict()
    candidates = [{"val_metric": 0.8, "flatness": out.as_dict()},
                  {"val_metric": 0.8, "flatness": flat}]
    assert landscape.select(candidates, higher_is_better=True) == 1


def test_filter_normalised_direction_matches_filter_norms():
    model = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    d = landscape.filter_normalised_direction(model, torch.Generator().manual_seed(1))
    for p, q in zip(model.parameters(), d):
        if p.dim() > 1:
            assert torch.allclose(q.norm(dim=1), p.detach().norm(dim=1), rtol=1e-4)
        else:
            assert torch.count_nonzero(q) == 0


def test_select_trades_metric_against_flatness():
    def cand(val, c):
        return {"val_metric": val, "flatness": {"curvature": c, "barrier": c, "gradient_norm": c}}
    # nearly equal validation, very different sharpness: the flat one wins
    assert landscape.select([cand(0.801, 90.0), cand(0.800, 1.0)], True) == 1
    # with weight 0 only the validation metric counts
    assert landscape.select([cand(0.801, 90.0), cand(0.800, 1.0)], True, weight=0.0) == 0
    # lower is better for MAE
    assert landscape.select([cand(3.5, 1.0), cand(3.2, 1.0)], False) == 1


def test_a_measure_clipped_to_zero_is_not_unboundedly_flat():
    """A negative curvature is reported as 0. The floor before the log-ratios is relative to
    the candidates' own scale, so 0 counts no flatter than 1e-6 beside a sharpest 0.05: a
    candidate two points worse on validation gets the same decision either way."""
    def cand(val, curvature):
        return {"val_metric": val,
                "flatness": {"curvature": curvature, "barrier": 0.01, "gradient_norm": 0.03}}
    choices = [landscape.select([cand(0.80, 0.05), cand(0.78, c)], True)
               for c in (0.0, 1e-6, 1e-5)]
    assert choices == [0, 0, 0]
    # the floor moves with the measures' scale: the same candidates in other units agree
    def scaled(c, s):
        return {**c, "flatness": {k: v * s for k, v in c["flatness"].items()}}
    for s in (1e-3, 1e3):
        assert landscape.select([scaled(cand(0.80, 0.05), s), scaled(cand(0.78, 0.0), s)],
                                True) == 0
    # a measure that is 0 for every candidate decides nothing
    zeros = [cand(0.80, 0.0), cand(0.79, 0.0)]
    assert landscape.select(zeros, True) == 0

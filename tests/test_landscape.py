"""Flatness measures on networks whose landscape is known."""
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

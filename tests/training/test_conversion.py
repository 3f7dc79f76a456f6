"""ANN-to-SNN conversion: IF rates equal the scaled ReLU activations, and a converted digits
classifier closes its gap to the ANN as T grows."""

import pytest
import torch
from torch import nn

from neuraltide.training import convert, layer_scales


def test_if_rates_are_the_balanced_relu_activations() -> None:
    torch.manual_seed(0)
    ann = nn.Sequential(nn.Linear(5, 30), nn.ReLU(), nn.Linear(30, 2))
    calib = torch.rand(500, 5)
    snn = convert(ann, calib, percentile=100.0)
    (lam,) = layer_scales(ann, calib, 100.0)
    x = torch.rand(1, 5)
    T = 1000
    hidden = snn[1](snn[0](x.expand(T, 1, 5)))
    target = torch.relu(ann[0](x)).detach() / lam  # in [0, 1] on calibration-like input
    assert (target <= 1.0).all() and (target > 0.05).any()
    # integrate-and-fire with reset by subtraction: count = floor(T * a) up to one spike
    counts = hidden.sum(0)
    assert torch.all((counts - T * target).abs() <= 1.0 + 1e-3)
    # the output accumulates W_out (lambda * rate) + b: the ANN's scores, to O(1/T)
    scores = snn(x.expand(T, 1, 5))[-1] / T
    # one spike of error per hidden neuron
    bound = float(ann[2].weight.detach().abs().sum(1).max()) * lam / T
    assert torch.allclose(scores, ann(x).detach(), atol=bound + 1e-5, rtol=0)


def test_converted_digits_classifier_closes_its_gap_as_steps_grow() -> None:
    from neuraltide.datasets import digits

    train, test = digits()
    X, y = train.tensors
    Xt, yt = test.tensors
    torch.manual_seed(0)
    ann = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                        nn.Linear(128, 10))
    opt = torch.optim.Adam(ann.parameters(), lr=2e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(30):
        for b in torch.split(torch.randperm(len(y), generator=g), 64):
            loss = nn.functional.cross_entropy(ann(X[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        ann_acc = (ann(Xt).argmax(-1) == yt).float().mean().item()
        out = convert(ann, X)(Xt.expand(128, -1, -1))
    acc = {T: (out[T - 1].argmax(-1) == yt).float().mean().item() for T in (8, 32, 128)}
    print(f"ANN {ann_acc:.4f}; converted SNN by T: {acc}")
    assert ann_acc >= 0.95
    assert acc[128] >= ann_acc - 0.01
    assert acc[8] <= acc[32] <= acc[128]


@pytest.mark.parametrize(
    ("ann", "calib", "kw", "match"),
    [
        (nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 2)), torch.rand(9, 3), {},
         "must be nn.ReLU"),
        (nn.Sequential(nn.Linear(3, 4), nn.ReLU()), torch.rand(9, 3), {}, "must end with"),
        (nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)), torch.rand(9, 3),
         {"percentile": 0.0}, r"percentile must be in \(0, 100\]"),
        (nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)),
         torch.full((9, 3), float("nan")), {}, "NaN"),
    ],
)
def test_bad_networks_and_data_raise(ann, calib, kw, match) -> None:
    with pytest.raises(ValueError, match=match):
        convert(ann, calib, **kw)

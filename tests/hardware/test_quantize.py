"""Quantization: the integer grid, straight-through training, and the accuracy it costs."""

import pytest
import torch
from conftest import digits_mlp
from torch import nn
from torch.nn.utils import parametrize

from neuraltide.hardware import FakeQuant, Quantizer, prepare_qat, quantize
from neuraltide.neurons import LIF, Reset
from neuraltide.training import Spiking


@pytest.mark.parametrize("per_channel", [False, True])
def test_weights_land_on_the_integer_grid(per_channel: bool) -> None:
    torch.manual_seed(0)
    w = torch.randn(6, 5) * torch.arange(1, 7).unsqueeze(1)  # rows of different size
    q = Quantizer(bits=5, per_channel=per_channel)
    s = q.scale(w)
    n = q.integers(w)
    assert torch.equal(n, n.round()) and n.abs().max() == 15
    if per_channel:
        assert s.shape == (6, 1)
        assert torch.equal(n.abs().amax(1), torch.full((6,), 15.0))  # every row uses its range
    assert ((q(w) - w).abs() <= s / 2 + 1e-6).all()  # rounding error at most half a step


def test_fake_quant_passes_the_gradient_straight_through() -> None:
    w = torch.randn(4, 3, requires_grad=True)
    c = torch.randn(4, 3)
    out = FakeQuant(Quantizer(bits=3))(w)
    (out * c).sum().backward()
    assert torch.equal(w.grad, c)
    assert torch.equal(out.detach(), Quantizer(bits=3)(w.detach()))


def test_ptq_leaves_the_original_and_quantizes_neurons() -> None:
    net = nn.Sequential(nn.Linear(4, 3), Spiking(LIF.dimensionless(beta=0.9,
                                                                   reset=Reset.TO_VALUE)))
    before = net[0].weight.detach().clone()
    q, report = quantize(net, Quantizer(bits=8, decay_bits=12))
    assert torch.equal(net[0].weight, before)
    s = report.layers[0].scale
    n = q[0].weight.detach() / s
    assert torch.allclose(n, n.round(), atol=1e-4, rtol=0)  # integers, up to float division
    # beta: 1 - round(0.1 * 4096)/4096; the threshold a whole number of weight steps
    assert float(q[1].neuron.value("beta")) == pytest.approx(1 - 410 / 4096, abs=1e-7)
    steps = float(q[1].neuron.value("threshold") / s)
    assert steps == pytest.approx(round(steps), abs=1e-4) and steps >= 1
    assert "8-bit per-layer" in str(report)


def test_qat_model_survives_being_quantized() -> None:
    net = prepare_qat(digits_mlp(), Quantizer(bits=4))
    x = torch.rand(5, 2, 64)
    out = net(x)
    q, _ = quantize(net, Quantizer(bits=4, decay_bits=None, threshold_bits=None))
    assert parametrize.is_parametrized(net[0], "weight")  # the original keeps training
    assert torch.equal(net(x), out)
    assert not parametrize.is_parametrized(q[0], "weight")
    assert torch.equal(q(x), out)  # same weights as the fake-quantized forward


def test_bad_settings_raise() -> None:
    with pytest.raises(ValueError, match=r"bits must be an int in \[2, 16\], got 1"):
        Quantizer(bits=1)
    with pytest.raises(ValueError, match="NaN or inf"):
        Quantizer().scale(torch.tensor([1.0, float("nan")]))
    with pytest.raises(ValueError, match="one scale per layer"):
        quantize(digits_mlp(), Quantizer(per_channel=True))
    net = digits_mlp()
    with torch.no_grad():
        net[1].neuron.threshold.fill_(1e4)  # 1e4 / (max|w|/127) steps > 2^8 - 1
    with pytest.raises(ValueError, match=r"outside \[1, 255\] for threshold_bits=8"):
        quantize(net, Quantizer(threshold_bits=8))


def test_digits_accuracy_cost(trained, fit, accuracy) -> None:
    """Acceptance: 8-bit post-training quantization costs at most 2 points on digits; at 2 bits,
    quantization-aware training recovers most of what post-training quantization loses."""
    base = accuracy(trained)
    ptq8 = accuracy(quantize(trained, Quantizer(bits=8))[0])
    ptq2 = accuracy(quantize(trained, Quantizer(bits=2))[0])
    qat2 = accuracy(quantize(fit(prepare_qat(digits_mlp(), Quantizer(bits=2))),
                             Quantizer(bits=2))[0])
    print(f"digits: float {base:.3f}, 8-bit PTQ {ptq8:.3f}, 2-bit PTQ {ptq2:.3f}, "
          f"2-bit QAT {qat2:.3f}")
    assert base >= 0.95
    assert base - ptq8 <= 0.02
    assert qat2 - ptq2 >= 0.10

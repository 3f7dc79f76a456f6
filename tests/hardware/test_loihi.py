"""Loihi fixed-point LIF: a hand-computed integer trace, overflow reporting, and a trained
network that keeps its accuracy on the integer neuron."""

import pytest
import torch
from conftest import T, digits_mlp
from torch import nn

from neuraltide.hardware import (
    LoihiCompartments,
    LoihiLayer,
    LoihiNetwork,
    Overflow,
    Quantizer,
    loihi_lif_step,
    quantize,
    to_loihi,
)
from neuraltide.neurons import LIF, Reset, SynapticLIF
from neuraltide.training import Spiking


def compartments(n=1, du=0, dv=0, vth=0, bias_mant=0, bias_exp=0) -> LoihiCompartments:
    full = lambda v: torch.full((n,), v, dtype=torch.long)  # noqa: E731
    return LoihiCompartments(du=full(du), dv=full(dv), vth=full(vth), bias_mant=full(bias_mant),
                             bias_exp=full(bias_exp))


def test_matches_a_hand_computed_integer_trace() -> None:
    """du = 2047 halves u each step ((4096 - 2048)/4096), dv = 1024 keeps 3/4 of v, the input
    is shifted by 6 bits (x64), the threshold is 10 << 6 = 640. By hand:

    step a_in  u = trunc(u/2) + 64 a         v = trunc(3v/4) + u       spike
    1     3    0 + 192 = 192                 0 + 192 = 192
    2     3    96 + 192 = 288                144 + 288 = 432
    3     0    144                           324 + 144 = 468
    4     5    72 + 320 = 392                351 + 392 = 743 > 640     yes, v -> 0
    5     0    196                           0 + 196 = 196
    6     0    98                            147 + 98 = 245
    7    -7    49 - 448 = -399               183 - 399 = -216          (3*245/4 = 183.75)
    8     0    -199 (-399/2 toward zero)     -162 - 199 = -361         (3*216/4 = 162)
    """
    c = compartments(du=2047, dv=1024, vth=10)
    u = v = torch.zeros(1, 1, dtype=torch.long)
    us, vs, ss = [], [], []
    for a in (3, 3, 0, 5, 0, 0, -7, 0):
        s, u, v, over = loihi_lif_step(torch.tensor([[a]]), u, v, c)
        us.append(int(u))
        vs.append(int(v))
        ss.append(int(s))
        assert not over["u"].any() and not over["v"].any()
    assert us == [192, 288, 144, 392, 196, 98, -399, -199]
    assert vs == [192, 432, 468, 0, 196, 245, -216, -361]
    assert ss == [0, 0, 0, 1, 0, 0, 0, 0]


def test_bias_is_mantissa_shifted_by_exponent() -> None:
    c = compartments(du=4095, dv=0, vth=1000, bias_mant=3, bias_exp=2)
    u = v = torch.zeros(1, 1, dtype=torch.long)
    for step in range(1, 6):
        _, u, v, _ = loihi_lif_step(torch.zeros(1, 1, dtype=torch.long), u, v, c)
        assert int(v) == 12 * step  # no leak (dv = 0), +3 << 2 each step


def test_overflows_are_counted_and_warned_or_raised() -> None:
    c = compartments(du=0, dv=0, vth=2**17 - 1)  # u never decays: it grows until it wraps
    layer = LoihiLayer("big", torch.full((1, 1), 2**14, dtype=torch.long), c, unit=1.0,
                       spiking=False)
    x = torch.ones(12, 1, 1)
    with pytest.warns(RuntimeWarning, match="overflowed"):
        run = LoihiNetwork([layer]).run(x)
    # u gains 2^14 * 64 = 2^20 per step (keeping 4095/4096 of itself) and wraps past 2^23 on
    # step 9; v = 1, 3, 6 (x 2^20), then 10 x 2^20 > 2^23 - 1 saturates from step 4 on
    assert run.overflows.u == {"big": 1}
    v = run.voltages[0].flatten()
    assert v[3] == 2**23 - 1 and v[2] < 2**23 - 1
    assert run.overflows.v["big"] >= 4
    with pytest.raises(OverflowError, match="v of big overflowed its register at step 3"):
        LoihiNetwork([layer], on_overflow=Overflow.RAISE).run(x)


def test_parameter_ranges_are_checked() -> None:
    with pytest.raises(ValueError, match=r"du must lie in \[0, 4095\], got values in "
                                         r"\[4096, 4096\]"):
        compartments(du=4096)
    with pytest.raises(ValueError, match="x must hold integers"):
        LoihiNetwork([LoihiLayer("a", torch.ones(1, 1, dtype=torch.long), compartments(),
                                 1.0)]).run(torch.full((3, 1, 1), 0.5))


def test_unsupported_models_raise() -> None:
    soft = nn.Sequential(nn.Linear(3, 2), Spiking(LIF.dimensionless()))
    with pytest.raises(ValueError, match="must reset to 0"):
        to_loihi(soft)
    syn = nn.Sequential(nn.Linear(3, 2), Spiking(SynapticLIF.dimensionless(
        reset=Reset.TO_VALUE)))
    with pytest.raises(ValueError, match="bias and a synaptic current"):
        to_loihi(syn)


def test_synaptic_layer_decays_map_onto_du_dv() -> None:
    net = nn.Sequential(nn.Linear(3, 2, bias=False), Spiking(SynapticLIF.dimensionless(
        alpha=0.8, beta=0.75, reset=Reset.TO_VALUE)))
    c = to_loihi(net).layers[0].compartments
    assert int(c.du[0]) == round(0.2 * 4096) - 1  # alpha = 1 - (du + 1)/4096
    assert int(c.dv[0]) == 1024  # beta = 1 - dv/4096


def test_trained_digits_network_keeps_its_accuracy_on_loihi(trained, accuracy,
                                                            digits_data) -> None:
    q, _ = quantize(trained, Quantizer(bits=8))
    chip = to_loihi(q, input_scale=1 / 16)  # digits pixels are integers 0..16 over 16
    X, y = digits_data[1].tensors
    x = X.expand(T, -1, -1)
    with torch.no_grad():
        hidden = q[1](q[0](x))
    run = chip.run((x * 16).round())
    chip_acc = (run.output.max(0).values.argmax(-1) == y).float().mean().item()
    agree = (run.spikes[0] == hidden).float().mean().item()
    print(f"8-bit float model {accuracy(q):.4f}, Loihi integer model {chip_acc:.4f}, "
          f"hidden spikes agree {agree:.6f}")
    assert run.overflows.total == 0
    assert hidden.sum() > 1000
    assert agree >= 0.999  # truncating decays move a few spikes by a step
    assert abs(chip_acc - accuracy(q)) <= 0.01


def test_digits_mlp_shape_is_what_to_loihi_expects() -> None:
    chip = to_loihi(digits_mlp())
    assert [L.weight.shape for L in chip] == [(128, 64), (10, 128)]
    assert [L.spiking for L in chip] == [True, False]

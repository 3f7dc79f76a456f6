"""NIR export/import: exact round trips, and snnTorch's importer reproducing the spikes."""

import nir
import numpy as np
import pytest
import torch
from torch import nn

from neuraltide.hardware import NIRExportError, from_nir, to_nir
from neuraltide.neurons import LIF, AdaptiveLIF, Reset, SynapticLIF
from neuraltide.training import LeakyReadout, Spiking, TimeDistributed


def _spiky_mlp(per_neuron: bool = False) -> nn.Sequential:
    torch.manual_seed(0)
    shape = (30,) if per_neuron else ()
    beta = torch.linspace(0.8, 0.95, 30) if per_neuron else 0.9
    net = nn.Sequential(
        nn.Linear(20, 30),
        Spiking(LIF.dimensionless(beta=beta, threshold=1.0, reset=Reset.TO_VALUE, shape=shape)),
        nn.Linear(30, 5, bias=False),
        Spiking(SynapticLIF.dimensionless(alpha=0.8, beta=0.85, threshold=0.7,
                                          reset=Reset.TO_VALUE)),
    )
    with torch.no_grad():
        net[0].weight.mul_(3.0)  # enough drive that both layers spike
    return net


def _input(T: int = 100, batch: int = 8, n: int = 20) -> torch.Tensor:
    return (torch.rand(T, batch, n, generator=torch.Generator().manual_seed(1)) < 0.2).float()


def test_snntorch_importer_reproduces_the_spikes() -> None:
    from snntorch.import_nir import import_from_nir

    net, x = _spiky_mlp(), _input()
    ours = net(x)
    theirs_net = import_from_nir(to_nir(net))
    state, out = None, []
    for xt in x:
        s, state = theirs_net(xt, state)
        out.append(s)
    theirs = torch.stack(out)
    assert ours.sum() > 100  # the comparison is not between two silent networks
    assert torch.equal(ours, theirs.to(ours.dtype))


@pytest.mark.parametrize("per_neuron", [False, True])
def test_round_trip_is_exact(per_neuron: bool) -> None:
    net = nn.Sequential(*_spiky_mlp(per_neuron), nn.Linear(5, 3), LeakyReadout(3, beta=0.75))
    back = from_nir(to_nir(net))
    x = _input()
    assert torch.equal(back(x), net(x))
    for a, b in zip(net, back, strict=True):
        assert type(a) is type(b)
    lif, lif_back = net[1].neuron, back[1].neuron
    assert torch.equal(lif.value("beta").expand(30), lif_back.value("beta").expand(30))
    assert lif_back.reset is Reset.TO_VALUE


def test_round_trip_through_a_file(tmp_path) -> None:
    net, x = _spiky_mlp(), _input()
    nir.write(tmp_path / "net.nir", to_nir(net))
    assert torch.equal(from_nir(tmp_path / "net.nir")(x), net(x))


def test_convolutional_round_trip() -> None:
    torch.manual_seed(2)
    net = nn.Sequential(
        TimeDistributed(nn.Conv2d(1, 4, 3, padding=1)),
        Spiking(LIF.dimensionless(beta=0.9, reset=Reset.TO_VALUE)),
        TimeDistributed(nn.AvgPool2d(2)),
        TimeDistributed(nn.Flatten()),
        nn.Linear(4 * 4 * 4, 10),
        LeakyReadout(10),
    )
    graph = to_nir(net, input_shape=(1, 8, 8))
    assert [type(graph.nodes[str(k)]).__name__ for k in range(6)] == [
        "Conv2d", "LIF", "AvgPool2d", "Flatten", "Affine", "LI"]
    x = torch.rand(12, 3, 1, 8, 8) * 3
    assert torch.equal(from_nir(graph)(x), net(x))


def test_physical_form_round_trip() -> None:
    net = nn.Sequential(nn.Linear(4, 6), Spiking(LIF(tau_mem=20.0, v_rest=-70.0, v_th=-55.0,
                                                     v_reset=-75.0, r_mem=40.0, t_ref=0.0,
                                                     reset=Reset.TO_VALUE, dt=0.1)))
    graph = to_nir(net, dt=1e-4)  # 0.1 ms
    node = graph.nodes["1"]
    beta = float(net[1].neuron.params().beta)  # exp(-0.1/20) as the model holds it (float32)
    assert beta == pytest.approx(np.exp(-0.1 / 20.0), rel=1e-7)
    np.testing.assert_allclose(node.tau, 1e-4 / (1 - beta), rtol=1e-12)  # the Euler-equal tau
    np.testing.assert_allclose(node.v_leak, -70.0)
    back = from_nir(graph, dt=1e-4)[1].neuron
    assert back.dt == pytest.approx(0.1)
    # what the graph keeps is the step map: beta to one float32 ulp ...
    assert float(back.params().beta) == pytest.approx(beta, rel=1.2e-7, abs=0)
    for name in ("v_rest", "v_th", "v_reset", "r_mem"):
        assert float(back.value(name)) == pytest.approx(float(net[1].neuron.value(name)),
                                                        rel=1e-6)
    # ... so tau_mem = -dt/ln(beta) comes back to ulp(beta)/(beta*|ln beta|) = 1.2e-5
    assert float(back.value("tau_mem")) == pytest.approx(20.0, rel=1.2e-5)
    x = torch.rand(400, 2, 4) * 2
    assert torch.equal(from_nir(graph)(x), net(x))


@pytest.mark.parametrize(
    ("layer", "match"),
    [
        (Spiking(LIF.dimensionless()), "reset=Reset.SUBTRACT_AFTER_LEAK"),
        (Spiking(AdaptiveLIF.dimensionless(reset=Reset.TO_VALUE)), "AdaptiveLIF"),
        (Spiking(LIF.dimensionless(reset=Reset.TO_VALUE, t_ref=2)), "refractory"),
        (nn.ReLU(), r"layer 1 \(ReLU\) has no NIR equivalent"),
        (TimeDistributed(nn.MaxPool2d(2)), "MaxPool2d"),
    ],
)
def test_unsupported_layers_name_the_layer_and_reason(layer: nn.Module, match: str) -> None:
    with pytest.raises(NIRExportError, match=match):
        to_nir(nn.Sequential(nn.Linear(4, 4), layer))


def test_bad_arguments_and_graphs_raise() -> None:
    with pytest.raises(ValueError, match="dt must be a finite number > 0"):
        to_nir(_spiky_mlp(), dt=0.0)
    with pytest.raises(ValueError, match="input_shape is needed"):
        to_nir(nn.Sequential(TimeDistributed(nn.Flatten()), nn.Linear(4, 2)))
    graph = to_nir(_spiky_mlp())
    graph.edges.append(("0", "3"))  # a branch
    with pytest.raises(NIRExportError, match="only chains"):
        from_nir(graph)
    graph = to_nir(_spiky_mlp())
    graph.nodes["1"] = nir.Threshold(np.ones(30))
    with pytest.raises(NIRExportError, match="Threshold"):
        from_nir(graph)

"""Population networks through NIR: the same spikes after a round trip through a file."""

import nir
import numpy as np
import pytest
import torch

from neuraltide.hardware import NIRExportError, network_from_nir, network_to_nir
from neuraltide.network import (
    AllToAll,
    Conductance,
    Delta,
    Exponential,
    FixedProbability,
    Network,
    Population,
    Projection,
    Sign,
    SpikeInput,
    SpikeMonitor,
)
from neuraltide.neurons import LIF
from neuraltide.plasticity import PairSTDP

DT = 0.1


def lif(**kw) -> LIF:
    return LIF(**{"tau_mem": 10.0, "v_th": -55.0, "r_mem": 20.0, "t_ref": 0.0, "dt": DT, **kw})


def make_network() -> Network:
    """Input -> A (exponential synapses, recurrent inhibition) -> B (delta synapses)."""
    inp = SpikeInput(20, name="inp", dt=DT)
    a = Population(30, lif(v_reset=-70.0), name="A")
    b = Population(10, lif(tau_mem=20.0, r_mem=50.0), name="B")
    return Network([inp, a, b], [
        Projection(inp, a, FixedProbability(0.5), weight=3.0, synapse=Exponential(5.0),
                   delay=1.0, seed=1),
        Projection(a, a, FixedProbability(0.2, allow_self=False), weight=1.0,
                   synapse=Exponential(5.0), delay=0.5, sign=Sign.INHIBITORY, seed=2),
        Projection(a, b, AllToAll(), weight=2.0, synapse=Delta(), seed=3),
    ])


def spikes(net: Network, x: torch.Tensor) -> list[SpikeMonitor]:
    mons = [SpikeMonitor(net.groups["A"]), SpikeMonitor(net.groups["B"])]
    net.run(steps=x.shape[0], inputs={"inp": x}, monitors=mons, batch=x.shape[1])
    return mons


def test_round_trip_through_a_file_gives_the_same_spikes(tmp_path) -> None:
    net = make_network()
    graph = network_to_nir(net)
    # a spike with delay d reaches its target d/dt + 1 steps later
    np.testing.assert_allclose(graph.nodes["inp_to_A.delay"].delay, 11 * 1e-4)
    np.testing.assert_allclose(graph.nodes["A_to_B.delay"].delay, 1e-4)
    assert isinstance(graph.nodes["A"], nir.CubaLIF) and isinstance(graph.nodes["B"], nir.LIF)
    assert ("A_to_A.delay", "A") in graph.edges  # the recurrence is an edge back into A
    nir.write(tmp_path / "net.nir", graph)
    back = network_from_nir(tmp_path / "net.nir")
    assert back.projections["A_to_A"].max_delay_steps == 5
    assert isinstance(back.projections["inp_to_A"].synapse, Exponential)
    x = (torch.rand(1500, 2, 20, generator=torch.Generator().manual_seed(0)) < 0.05).float()
    ours, theirs = spikes(net, x), spikes(back, x)
    for a, b in zip(ours, theirs, strict=True):
        assert a.t.numel() > 100
        assert torch.equal(a.t, b.t) and torch.equal(a.i, b.i) and torch.equal(a.trial, b.trial)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda g: Population(5, lif(t_ref=2.0), name="P"), "refractory"),
        (lambda g: Projection(g, Population(5, lif(), name="Q"), AllToAll(), weight=0.1,
                              synapse=Conductance()), "Conductance"),
        (lambda g: Projection(g, Population(5, lif(), name="R"), AllToAll(), weight=0.1,
                              plasticity=PairSTDP()), "plastic"),
    ],
)
def test_what_nir_cannot_express_raises(edit, match: str) -> None:
    inp = SpikeInput(4, name="inp", dt=DT)
    made = edit(inp)
    if isinstance(made, Population):
        net = Network([inp, made], [Projection(inp, made, AllToAll(), weight=0.1)])
    else:
        net = Network([inp, made.post], [made])
    with pytest.raises(NIRExportError, match=match):
        network_to_nir(net)


def test_mixed_synapses_onto_one_population_raise() -> None:
    inp = SpikeInput(4, name="inp", dt=DT)
    p = Population(5, lif(), name="P")
    net = Network([inp, p], [
        Projection(inp, p, AllToAll(), weight=0.1, synapse=Delta(), name="fast"),
        Projection(inp, p, AllToAll(), weight=0.1, synapse=Exponential(5.0), name="slow"),
    ])
    with pytest.raises(NIRExportError, match="different synapse models"):
        network_to_nir(net)

"""Core mapping: models that fit, and violations reported with their cause."""

import pytest
import torch
from conftest import digits_mlp
from torch import nn

from neuraltide.hardware import LOIHI, TRUENORTH, CoreProfile, SynapseGraph, map_to_cores
from neuraltide.network.examples import cuba
from neuraltide.neurons import LIF
from neuraltide.training import LeakyReadout, Spiking, TimeDistributed


def small_profile(**kw) -> CoreProfile:
    base = dict(name="toy", neurons_per_core=4, axons_per_core=8, synapse_bits_per_core=24,
                weight_bits=1, cores_per_chip=4)
    return CoreProfile(**{**base, **kw})


def test_a_model_that_fits_is_mapped_with_exact_counts() -> None:
    graph = SynapseGraph.from_sequential(digits_mlp())
    assert [b.n for b in graph.blocks] == [128, 10]
    assert graph.n_synapses == 64 * 128 + 128 * 10
    m = map_to_cores(graph, TRUENORTH)
    assert m.fits and len(m.cores) == 2 and m.chips == 1
    hidden, out = m.cores
    assert (hidden.neurons, hidden.axons, hidden.synapses) == (128, 64, 64 * 128)
    assert (out.neurons, out.axons, out.synapses) == (10, 128, 1280)
    assert hidden.output_routes == 128  # every hidden neuron reaches the one output core
    assert m.utilisation()["neurons"] == pytest.approx((128 + 10) / (2 * 256))


def test_fan_in_beyond_the_profile_is_a_violation_with_its_cause() -> None:
    wide = nn.Sequential(nn.Linear(300, 20), Spiking(LIF.dimensionless()))
    m = map_to_cores(SynapseGraph.from_sequential(wide), TRUENORTH)
    assert not m.fits
    (v,) = m.violations
    assert (v.constraint, v.value, v.limit) == ("fan-in", 300, 256)
    assert "256 input axons" in v.cause and "1: LIF" in str(v)
    assert map_to_cores(SynapseGraph.from_sequential(wide), LOIHI).fits  # 4096 axons on Loihi


def test_fan_out_to_several_cores_breaks_truenorth() -> None:
    net = nn.Sequential(nn.Linear(10, 20), Spiking(LIF.dimensionless()), nn.Linear(20, 300),
                        Spiking(LIF.dimensionless()))
    m = map_to_cores(SynapseGraph.from_sequential(net), TRUENORTH)
    fan_out = [v for v in m.violations if v.constraint == "fan-out"]
    assert len(fan_out) == 1 and fan_out[0].value == 2  # 300 neurons need 2 cores of 256
    assert "relay" in fan_out[0].cause


def test_cores_close_on_each_limit() -> None:
    # 10 neurons, each with 3 distinct inputs out of 12; limits: 4 neurons, 8 axons, 24 synapses
    pre = torch.arange(30) % 12
    post = torch.arange(30) // 3
    from neuraltide.hardware import Block, Incoming

    graph = SynapseGraph([Block("b", 10, [Incoming("input", pre, post)])], {"input": 12})
    m = map_to_cores(graph, small_profile())
    # inputs of neurons: {0,1,2},{3,4,5},{6,7,8},{9,10,11},{0,1,2},...: two neurons fill 6
    # axons, a third would need 9 > 8
    assert [c.neurons for c in m.cores] == [2, 2, 2, 2, 2]
    assert all(c.axons <= 8 and c.synapses <= 24 for c in m.cores)
    m = map_to_cores(graph, small_profile(axons_per_core=100, synapse_bits_per_core=9))
    assert [c.neurons for c in m.cores] == [3, 3, 3, 1]  # 9 synapses per core
    m = map_to_cores(graph, small_profile(axons_per_core=100, synapse_bits_per_core=None))
    assert [c.neurons for c in m.cores] == [4, 4, 2]


def test_convolutions_are_composed_into_synapses() -> None:
    conv = nn.Sequential(TimeDistributed(nn.Conv2d(1, 2, 3, padding=1)),
                         Spiking(LIF.dimensionless()), TimeDistributed(nn.Flatten()),
                         nn.Linear(128, 10), LeakyReadout(10))
    graph = SynapseGraph.from_sequential(conv, input_shape=(1, 8, 8))
    first = graph.blocks[0]
    assert first.n == 128
    # a 3x3 kernel with zero padding: 2 channels x (6x6 x 9 + edges 4 x 6 x 6 + corners 4 x 4)
    assert first.incoming[0].pre.numel() == 2 * (36 * 9 + 24 * 6 + 4 * 4)


def test_population_network_maps_onto_loihi() -> None:
    net = cuba(seed=0).network
    graph = SynapseGraph.from_network(net)
    assert graph.n_synapses == sum(p.n_synapses for p in net.projections.values())
    m = map_to_cores(graph, LOIHI)
    assert m.fits and sum(c.neurons for c in m.cores) == 4000
    assert all(c.axons <= 4096 and c.neurons <= 1024 for c in m.cores)


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="input_shape is needed"):
        SynapseGraph.from_sequential(nn.Sequential(TimeDistributed(nn.Flatten())))
    with pytest.raises(ValueError, match="profile must be a CoreProfile"):
        map_to_cores(SynapseGraph.from_sequential(digits_mlp()), "loihi")

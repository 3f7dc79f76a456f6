"""Saving and loading a network round-trips exactly, through weights_only loading."""

from __future__ import annotations

import pytest
import torch

from neuraltide.network import (
    Conductance,
    Exponential,
    FixedProbability,
    Network,
    PoissonGroup,
    Population,
    PopulationRateMonitor,
    Projection,
    Sign,
    SpikeInput,
    SpikeMonitor,
    StateMonitor,
    Uniform,
    load,
    save,
)
from neuraltide.neurons import LIF, Izhikevich, LearnableNeuron
from neuraltide.plasticity import PairSTDP, WeightDependence
from neuraltide.surrogate import Custom, FastSigmoid

# per-synapse delays need the synapse count of the drawn connectivity
N_EXC_TO_LEARNER = FixedProbability(0.5).build(30, 6, torch.Generator().manual_seed(5))[0].numel()


def build() -> Network:
    inp = PoissonGroup(40, torch.linspace(5.0, 40.0, 40), name="inp", dt=0.5)
    cue = SpikeInput(5, name="cue", dt=0.5)
    exc = Population(30, LIF(tau_mem=torch.linspace(8.0, 20.0, 30), shape=(30,), dt=0.5,
                             t_ref=1.0, learn=("tau_mem",), surrogate=FastSigmoid(alpha=5.0)),
                     name="exc", init={"v": Uniform(-70.0, -55.0)})
    inh = Population(10, Izhikevich(dt=0.5), name="inh")
    learner = Population(6, LearnableNeuron(dt=0.5), name="learner")
    return Network([inp, cue, exc, inh, learner], [
        Projection(inp, exc, FixedProbability(0.3), weight=Uniform(1.0, 3.0), learn=True,
                   sign=Sign.EXCITATORY, delay=1.0, seed=1),
        Projection(exc, inh, FixedProbability(0.5), weight=0.02,
                   synapse=Conductance(tau=3.0, e_rev=0.0), seed=2),
        Projection(inh, exc, FixedProbability(0.5), weight=2.0, sign=Sign.INHIBITORY,
                   synapse=Exponential(10.0), seed=3),
        Projection(cue, exc, FixedProbability(0.6), weight=1.0, seed=4,
                   plasticity=PairSTDP(dependence=WeightDependence.MULTIPLICATIVE, w_max=3.0)),
        Projection(exc, learner, FixedProbability(0.5), weight=1.0, seed=5,
                   delay=torch.arange(N_EXC_TO_LEARNER).remainder(4).double() * 0.5),
    ], seed=7)


CUE = (torch.rand(200, 2, 5, generator=torch.Generator().manual_seed(3)) < 0.1).float()


def run(net: Network) -> tuple[torch.Tensor, torch.Tensor]:
    net.manual_seed(11)
    exc, learner = net.groups["exc"], net.groups["learner"]
    spikes, v = SpikeMonitor(exc), StateMonitor(learner, ("v",))
    with torch.no_grad():
        net.run(200, batch=2, inputs={"cue": CUE}, monitors=[spikes, v])
    return spikes.count, v.v


def test_round_trip_is_exact(tmp_path) -> None:
    net = build()
    # train a little so that learned values (and a raw magnitude below zero) differ from init
    opt = torch.optim.SGD(net.parameters(), lr=5.0)
    rate = PopulationRateMonitor(net.groups["exc"])
    net.run(60, batch=2, inputs={"cue": CUE[:60]}, monitors=[rate])
    rate.rate.mean().backward()
    opt.step()
    run(net)  # plasticity has changed the cue weights too
    path = tmp_path / "net.pt"
    save(net, path)
    loaded = load(path)
    a, b = net.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    count_a, v_a = run(net)
    count_b, v_b = run(loaded)
    assert count_a.sum() > 0
    assert torch.equal(count_a, count_b) and torch.equal(v_a, v_b)
    assert [type(g) for g in loaded.groups.values()] == [type(g) for g in net.groups.values()]


def test_save_refuses_user_code_and_load_refuses_other_files(tmp_path) -> None:
    custom = Custom(fn=lambda x, alpha: torch.ones_like(x))
    pop = Population(3, LIF(dt=0.1, surrogate=custom), name="p")
    with pytest.raises(ValueError, match="cannot be saved"):
        save(Network([pop]), tmp_path / "x.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="is not a saved NeuralTide network"):
        load(tmp_path / "other.pt")

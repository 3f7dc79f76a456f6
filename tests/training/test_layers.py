"""Spiking layers: equal to the models they wrap, state handling, and a spiking MLP that learns
scikit-learn's digits."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neuraltide.neurons import LIF, LearnableNeuron
from neuraltide.training import (
    LeakyReadout,
    Spiking,
    SpikingRecurrent,
    TimeDistributed,
    membrane_cross_entropy,
)
from neuraltide.training.losses import Readout


def drive(T=30, B=3, N=8, seed=0) -> torch.Tensor:
    return torch.rand(T, B, N, generator=torch.Generator().manual_seed(seed)) * 0.6


def test_spiking_equals_its_neuron_and_keeps_state_when_asked() -> None:
    neuron = LIF.dimensionless(beta=0.8, threshold=1.0)
    x = drive()
    assert torch.equal(Spiking(neuron)(x), neuron(x)[0])
    layer = Spiking(neuron, stateful=True)
    chunks = torch.cat([layer(x[:12]), layer(x[12:])])
    assert torch.equal(chunks, neuron(x)[0]) and chunks.sum() > 0
    layer.reset_state()
    assert torch.equal(layer(x[12:]), neuron(x[12:])[0])


def test_stateful_detach_cuts_the_gradient() -> None:
    w = torch.ones((), requires_grad=True)
    x = drive()
    for detach in (False, True):
        layer = Spiking(LIF.dimensionless(beta=0.9), stateful=True)
        layer(x[:10] * w)
        if detach:
            layer.detach_state()
        # the second chunk depends on w only through the kept state
        assert layer(x[10:]).requires_grad is not detach


def test_leaky_readout_is_the_leaky_recursion() -> None:
    x = drive(N=4)
    readout = LeakyReadout(4, beta=0.7)
    v = torch.zeros(3, 4)
    expected = []
    for xt in x:
        v = 0.7 * v + xt
        expected.append(v)
    torch.testing.assert_close(readout(x), torch.stack(expected))
    learn = LeakyReadout(4, beta=0.7, learnable=True)
    learn(x).sum().backward()
    grads = [p.grad for p in learn.parameters()]
    assert len(grads) == 1 and grads[0].abs().sum() > 0
    assert torch.all((learn.beta > 0) & (learn.beta <= 1))



@pytest.mark.parametrize("make", [
    lambda: LeakyReadout(8, beta=0.7, stateful=True),
    lambda: SpikingRecurrent(8, 6, LIF.dimensionless(beta=0.9, threshold=0.5), stateful=True),
], ids=["readout", "recurrent"])
def test_stateful_layers_run_in_chunks_as_on_the_whole_sequence(make) -> None:
    torch.manual_seed(2)
    layer = make()
    x = drive()
    layer.stateful = False
    whole = layer(x)
    assert layer.state is None  # stateless calls keep nothing
    layer.stateful = True
    chunks = torch.cat([layer(x[:7]), layer(x[7:19]), layer(x[19:])])
    assert torch.equal(chunks, whole) and whole.abs().sum() > 0
    if isinstance(layer, SpikingRecurrent):
        # the last spikes are part of the state: dropping them changes what follows
        layer.reset_state()
        layer(x[:7])
        layer.state = layer.state._replace(s=torch.zeros_like(layer.state.s))
        assert not torch.equal(layer(x[7:]), whole[7:])
    layer.reset_state()
    assert layer.state is None
    layer.stateful = False
    fresh = layer(x[7:])
    layer.stateful = True
    assert torch.equal(layer(x[7:]), fresh)  # reset: the next call starts at rest


@pytest.mark.parametrize("make", [
    lambda: LeakyReadout(8, beta=0.9, stateful=True),
    lambda: SpikingRecurrent(8, 6, LIF.dimensionless(beta=0.9, threshold=0.5), stateful=True),
], ids=["readout", "recurrent"])
def test_stateful_layers_detach_cuts_the_gradient(make) -> None:
    x = drive()
    for detach in (False, True):
        torch.manual_seed(3)
        layer = make()
        w = torch.ones((), requires_grad=True)
        layer(x[:10] * w)
        if detach:
            layer.detach_state()
        out = layer(x[10:])
        # the second chunk depends on w only through the kept state
        if detach:
            assert not out.requires_grad or torch.autograd.grad(
                out.sum(), w, allow_unused=True)[0] is None
        else:
            assert torch.autograd.grad(out.sum(), w)[0] != 0


def test_stateful_recurrent_refuses_a_state_of_another_shape() -> None:
    layer = SpikingRecurrent(8, 6, LIF.dimensionless(), stateful=True)
    layer(drive(B=3))
    with pytest.raises(ValueError, match=r"kept state is for steps shaped \(3, 6\), got input "
                                         r"steps shaped \(2, 6\); call reset_state\(\)"):
        layer(drive(B=2))
    layer.reset_state()
    assert layer(drive(B=2)).shape == (30, 2, 6)

def test_time_distributed_applies_the_module_at_every_step() -> None:
    conv = nn.Conv2d(2, 3, 3, padding=1)
    x = torch.rand(5, 4, 2, 6, 6, generator=torch.Generator().manual_seed(1))
    y = TimeDistributed(conv)(x)
    assert y.shape == (5, 4, 3, 6, 6)
    torch.testing.assert_close(y[3], conv(x[3]))
    assert TimeDistributed(nn.Flatten())(x).shape == (5, 4, 72)


def test_recurrent_layer() -> None:
    torch.manual_seed(0)
    neuron = LIF.dimensionless(beta=0.9)
    layer = SpikingRecurrent(8, 6, neuron)
    x = drive()
    with torch.no_grad():
        layer.recurrent.weight.zero_()
    assert torch.equal(layer(x), neuron(layer.input(x))[0])
    with torch.no_grad():
        layer.recurrent.weight.normal_(0.0, 0.5)
    layer(x * 3).sum().backward()
    assert layer.recurrent.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(("make", "match"), [
    (lambda: Spiking(nn.Linear(2, 2)), "neuron must be a NeuralTide neuron model"),
    (lambda: LeakyReadout(0), "n must be an int >= 1"),
    (lambda: LeakyReadout(3, beta=1.5), r"beta must be in \(0, 1\]"),
    (lambda: LeakyReadout(3)(torch.zeros(4, 2, 5)), r"must end in n = 3 features"),
    (lambda: Spiking(LIF.dimensionless())(torch.zeros(4)), "time-major tensor"),
    (lambda: SpikingRecurrent(3, 0, LIF.dimensionless()), "n must be an int >= 1"),
])
def test_bad_layers_raise(make, match) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_spiking_mlp_learns_digits() -> None:
    """scikit-learn's 8x8 digits (shipped with the package), pixels as constant input current
    for 16 steps, a 64-128-10 spiking MLP with a leaky readout: >= 90% on held-out digits."""
    datasets = pytest.importorskip("sklearn.datasets")
    torch.manual_seed(0)
    data = datasets.load_digits()
    X = torch.tensor(data.data, dtype=torch.float32) / 16.0
    y = torch.tensor(data.target)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    train, test = perm[:1400], perm[1400:]
    T = 16
    net = nn.Sequential(
        nn.Linear(64, 128),
        Spiking(LearnableNeuron.dimensionless(shape=(128,))),
        nn.Linear(128, 10),
        LeakyReadout(10, beta=0.9),
    )
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    for _ in range(8):
        for batch in torch.split(train[torch.randperm(len(train))], 64):
            x = X[batch].expand(T, -1, -1)
            loss = membrane_cross_entropy(net(x), y[batch], readout=Readout.MAX)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        pred = net(X[test].expand(T, -1, -1)).max(0).values.argmax(-1)
    accuracy = (pred == y[test]).float().mean().item()
    print(f"digits test accuracy {accuracy:.3f}")
    assert accuracy >= 0.90, accuracy

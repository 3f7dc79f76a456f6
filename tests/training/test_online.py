"""OTTT: the trace synapse's gradient, memory that does not grow with T, and digits learned
forward in time."""

import weakref

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from neuraltide.neurons import LIF, AdaptiveLIF
from neuraltide.training import LeakyReadout, OnlineTrainer, Spiking, trace_linear


def test_trace_linear_has_the_value_of_x_and_the_weight_gradient_of_the_trace() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(4, 3)
    x = torch.rand(2, 4, requires_grad=True)
    trace = torch.rand(2, 4)
    out = trace_linear(x, trace + x - x.detach(), layer)
    assert torch.allclose(out, layer(x))
    delta = torch.randn(2, 3)
    (out * delta).sum().backward()
    assert torch.allclose(layer.weight.grad, delta.T @ trace)  # dW = delta a_hat^T
    assert torch.allclose(x.grad, delta @ layer.weight)  # the input gradient is the usual one


def saved_peak(fn) -> int:
    """Largest number of bytes autograd holds at once for the backward while ``fn`` runs."""
    alive: dict[int, tuple] = {}
    peak = [0]

    def pack(t: torch.Tensor) -> torch.Tensor:
        st = t.untyped_storage()
        alive[st.data_ptr()] = (weakref.ref(t), st.nbytes())
        peak[0] = max(peak[0], sum(n for ref, n in alive.values() if ref() is not None))
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return peak[0]


def mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 128), Spiking(LIF.dimensionless(beta=0.9)),
                         nn.Linear(128, 10), LeakyReadout(10, beta=0.9))


def test_memory_does_not_grow_with_the_number_of_steps() -> None:
    net = mlp()
    x, y = torch.rand(32, 64), torch.randint(0, 10, (32,))

    def online(T: int) -> int:
        trainer = OnlineTrainer(net, torch.optim.SGD(net.parameters(), lr=0.0),
                                encode=lambda b: b.expand(T, *b.shape))
        return saved_peak(lambda: trainer.train_batch(x, y))

    def bptt(T: int) -> int:
        return saved_peak(lambda: net(x.expand(T, *x.shape)).sum().backward())

    assert online(8) == online(32)
    assert bptt(32) > 3 * bptt(8)
    assert online(32) < bptt(32) / 4


def test_digits_learned_forward_in_time() -> None:
    from neuraltide.datasets import digits

    train, test = digits()
    net = mlp()
    trainer = OnlineTrainer(net, torch.optim.Adam(net.parameters(), lr=2e-3),
                            encode=lambda b: b.expand(16, *b.shape))
    history = trainer.fit(DataLoader(train, batch_size=64, shuffle=True,
                                     generator=torch.Generator().manual_seed(0)), epochs=5)
    accuracy = trainer.evaluate(*test.tensors)
    print(f"OTTT digits: {accuracy:.3f}")
    assert history[-1].loss < history[0].loss
    assert accuracy >= 0.93


def test_unsupported_models_raise() -> None:
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="last module must be a LeakyReadout"):
        OnlineTrainer(nn.Sequential(nn.Linear(3, 3), Spiking(LIF.dimensionless())), opt)
    with pytest.raises(ValueError, match="module 1 is ReLU"):
        OnlineTrainer(nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 2),
                                    LeakyReadout(2)), opt)
    per_neuron = nn.Sequential(nn.Linear(3, 4), Spiking(AdaptiveLIF.dimensionless(
        beta=torch.linspace(0.8, 0.9, 4), shape=(4,))), nn.Linear(4, 2), LeakyReadout(2))
    trainer = OnlineTrainer(per_neuron, opt)
    with pytest.raises(ValueError, match="one decay per layer"):
        trainer.train_batch(torch.rand(5, 2, 3), torch.tensor([0, 1]))

"""A small trained spiking digits classifier shared by the hardware tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from neuraltide.neurons import LIF, Reset
from neuraltide.training import LeakyReadout, Spiking, membrane_cross_entropy
from neuraltide.training.losses import Readout

T = 16  # steps of constant pixel current per digit


def digits_mlp() -> nn.Sequential:
    """64-128-10, hard reset (what NIR and Loihi implement)."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 128),
                         Spiking(LIF.dimensionless(beta=0.9, reset=Reset.TO_VALUE)),
                         nn.Linear(128, 10), LeakyReadout(10, beta=0.9))


@pytest.fixture(scope="session")
def digits_data():
    from neuraltide.datasets import digits

    return digits()


@pytest.fixture(scope="session")
def fit(digits_data) -> Callable[[nn.Module], nn.Module]:
    def fit(net: nn.Module, epochs: int = 8) -> nn.Module:
        X, y = digits_data[0].tensors
        opt = torch.optim.Adam(net.parameters(), lr=2e-3)
        g = torch.Generator().manual_seed(0)
        for _ in range(epochs):
            for b in torch.split(torch.randperm(len(y), generator=g), 64):
                loss = membrane_cross_entropy(net(X[b].expand(T, -1, -1)), y[b],
                                              readout=Readout.MAX)
                opt.zero_grad()
                loss.backward()
                opt.step()
        return net
    return fit


@pytest.fixture(scope="session")
def accuracy(digits_data) -> Callable[[nn.Module], float]:
    def accuracy(net: nn.Module) -> float:
        X, y = digits_data[1].tensors
        with torch.no_grad():
            pred = net(X.expand(T, -1, -1)).max(0).values.argmax(-1)
        return (pred == y).float().mean().item()
    return accuracy


@pytest.fixture(scope="session")
def trained(fit) -> nn.Sequential:
    return fit(digits_mlp())

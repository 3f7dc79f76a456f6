"""Layers for deep spiking networks, time-major and ``nn.Sequential``-friendly.

* :class:`Spiking`: any NeuralTide neuron model as a layer, ``(T, batch, *features)`` in, spikes
  of the same shape out (``nn.Linear`` before it acts on the last dimension directly).
* :class:`LeakyReadout`: a non-spiking leaky integrator (NIR's ``LI``) whose membrane is the
  network's output.
* :class:`TimeDistributed`: a per-step module (``nn.Conv2d``, pooling, ``nn.Flatten``, batch
  norm) applied to every time step by folding time into the batch.
* :class:`SpikingRecurrent`: a spiking layer with input and recurrent weights.

Example (a spiking MLP)::

    >>> import torch
    >>> from torch import nn
    >>> from neuraltide.neurons import LIF
    >>> from neuraltide.training import LeakyReadout, Spiking
    >>> net = nn.Sequential(nn.Linear(64, 32), Spiking(LIF.dimensionless(beta=0.9)),
    ...                     nn.Linear(32, 10), LeakyReadout(10, beta=0.9))
    >>> net(torch.rand(25, 4, 64)).shape          # (T, batch, classes): readout membrane
    torch.Size([25, 4, 10])
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ..neurons import LIF, Reset
from ..neurons._base import NeuronModel, detach_state

__all__ = ["LeakyReadout", "Spiking", "SpikingRecurrent", "TimeDistributed"]


def _sequence(owner: str, x: object, min_dim: int = 3) -> Tensor:
    if not isinstance(x, Tensor) or x.dim() < min_dim or x.shape[0] == 0:
        raise ValueError(
            f"{owner}: input must be a time-major tensor (T, batch, ...) with at least "
            f"{min_dim} dimensions and T >= 1, got {getattr(x, 'shape', type(x).__name__)}."
        )
    return x


class Spiking(nn.Module):
    """A neuron model as a layer: ``forward(x) -> spikes``.

    Args:
        neuron: any :class:`~neuraltide.neurons.NeuronModel` (its per-neuron parameter shape,
            if any, must match the trailing feature dimensions).
        stateful: keep the final state between calls in ``.state`` (for streaming and
            truncated BPTT: call :meth:`detach_state` between chunks, :meth:`reset_state` between
            sequences). Default: every call starts at rest.

    Shape:
        ``(T, batch, *features)`` in, spikes of the same shape out.
    """

    def __init__(self, neuron: NeuronModel, *, stateful: bool = False) -> None:
        super().__init__()
        if not isinstance(neuron, NeuronModel):
            raise ValueError(
                f"Spiking: neuron must be a NeuralTide neuron model, got {type(neuron).__name__}."
            )
        self.neuron = neuron
        self.stateful = bool(stateful)
        self.state: Any = None

    def forward(self, x: Tensor) -> Tensor:
        x = _sequence("Spiking", x)
        spikes, state = self.neuron(x, self.state if self.stateful else None)
        if self.stateful:
            self.state = state
        return spikes

    def detach_state(self) -> None:
        """Cut the gradient at the kept state (truncated BPTT)."""
        if self.state is not None:
            self.state = detach_state(self.state)

    def reset_state(self) -> None:
        """Start the next call at rest."""
        self.state = None


class LeakyReadout(nn.Module):
    r"""Non-spiking leaky integrator, :math:`v_t = \beta v_{t-1} + x_t` from :math:`v_0 = 0`
    (NIR's ``LI`` at one step per time unit); the membrane is the output.

    It is the dimensionless LIF without reset whose spikes are never used, so it runs on the
    fused kernel like the spiking layers.

    Args:
        n: number of outputs.
        beta: decay per step, in (0, 1].
        learnable: learn ``beta`` per output (kept in (0, 1] by its reparametrisation).

    Shape:
        ``(T, batch, n)`` in, membrane ``(T, batch, n)`` out.
    """

    def __init__(self, n: int, beta: float = 0.9, *, learnable: bool = False) -> None:
        super().__init__()
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"LeakyReadout: n must be an int >= 1, got {n!r}.")
        self.n = n
        self.integrator = LIF.dimensionless(beta=beta, reset=Reset.NONE, shape=(n,),
                                            learn=("beta",) if learnable else ())

    @property
    def beta(self) -> Tensor:
        """Decay per step, ``(n,)``."""
        return self.integrator.value("beta")

    def forward(self, x: Tensor) -> Tensor:
        x = _sequence("LeakyReadout", x)
        if x.shape[-1] != self.n:
            raise ValueError(
                f"LeakyReadout: input must end in n = {self.n} features, got shape "
                f"{tuple(x.shape)}."
            )
        return self.integrator.run(x, record=("v",)).traces["v"]


class TimeDistributed(nn.Module):
    """Apply a per-step module to every time step: ``(T, batch, ...) -> (T, batch, ...)``.

    Args:
        module: e.g. ``nn.Conv2d``, ``nn.MaxPool2d``, ``nn.Flatten()``, ``nn.BatchNorm2d``
            (statistics are then taken over time and batch together).
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise ValueError(f"TimeDistributed: module must be an nn.Module, got {module!r}.")
        self.module = module

    def forward(self, x: Tensor) -> Tensor:
        x = _sequence("TimeDistributed", x)
        T, B = x.shape[:2]
        y = self.module(x.reshape(T * B, *x.shape[2:]))
        return y.reshape(T, B, *y.shape[1:])


class SpikingRecurrent(nn.Module):
    r"""A recurrent spiking layer: :math:`x_t = W_\text{in} u_t + W_\text{rec} s_{t-1}`, then
    the neuron's step.

    Args:
        n_in: input features.
        n: neurons.
        neuron: the neuron model (per-layer parameters, or per-neuron with ``shape=(n,)``).
        bias: give the input projection a bias.

    Shape:
        ``(T, batch, n_in)`` in, spikes ``(T, batch, n)`` out.
    """

    def __init__(self, n_in: int, n: int, neuron: NeuronModel, *, bias: bool = True) -> None:
        super().__init__()
        for name, value in (("n_in", n_in), ("n", n)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"SpikingRecurrent: {name} must be an int >= 1, got {value!r}.")
        if not isinstance(neuron, NeuronModel):
            raise ValueError(
                f"SpikingRecurrent: neuron must be a NeuralTide neuron model, got "
                f"{type(neuron).__name__}."
            )
        self.n_in, self.n = n_in, n
        self.input = nn.Linear(n_in, n, bias=bias)
        self.recurrent = nn.Linear(n, n, bias=False)
        self.neuron = neuron

    def forward(self, x: Tensor) -> Tensor:
        x = _sequence("SpikingRecurrent", x)
        if x.shape[-1] != self.n_in:
            raise ValueError(
                f"SpikingRecurrent: input must end in n_in = {self.n_in} features, got "
                f"shape {tuple(x.shape)}."
            )
        drive = self.input(x)  # all steps at once; only the recurrence needs the loop
        state = self.neuron.initial_state(drive.shape[1:], drive.device, drive.dtype)
        p = self.neuron.params()
        s = torch.zeros_like(drive[0])
        out = []
        for d in drive:
            s, state = self.neuron.step_fn(d + self.recurrent(s), state, p)
            out.append(s)
        return torch.stack(out)

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

from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from ..neurons import LIF, Reset
from ..neurons._base import NeuronModel, detach_state

__all__ = [
    "LeakyReadout",
    "Spiking",
    "SpikingRecurrent",
    "SpikingRecurrentState",
    "TimeDistributed",
]


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
        stateful: keep the final membrane between calls in ``.state`` (the integrator's state
            tuple), so that the next call goes on from it instead of :math:`v_0 = 0` (for
            streaming and truncated BPTT: call :meth:`detach_state` between chunks,
            :meth:`reset_state` between sequences). Default: every call starts at rest.

    Shape:
        ``(T, batch, n)`` in, membrane ``(T, batch, n)`` out.
    """

    def __init__(self, n: int, beta: float = 0.9, *, learnable: bool = False,
                 stateful: bool = False) -> None:
        super().__init__()
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"LeakyReadout: n must be an int >= 1, got {n!r}.")
        self.n = n
        self.integrator = LIF.dimensionless(beta=beta, reset=Reset.NONE, shape=(n,),
                                            learn=("beta",) if learnable else ())
        self.stateful = bool(stateful)
        self.state: Any = None

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
        rec = self.integrator.run(x, self.state if self.stateful else None, record=("v",))
        if self.stateful:
            self.state = rec.state
        return rec.traces["v"]

    def detach_state(self) -> None:
        """Cut the gradient at the kept state (truncated BPTT)."""
        if self.state is not None:
            self.state = detach_state(self.state)

    def reset_state(self) -> None:
        """Start the next call at rest (:math:`v_0 = 0`)."""
        self.state = None


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


class SpikingRecurrentState(NamedTuple):
    r"""What a stateful :class:`SpikingRecurrent` keeps between calls.

    Attributes:
        neuron: the neuron model's state after the last step (its ``State`` tuple).
        s: the spikes of the last step ``(batch, n)``, which feed :math:`W_\text{rec}` at the
            next step.
    """

    neuron: Any
    s: Tensor


class SpikingRecurrent(nn.Module):
    r"""A recurrent spiking layer: :math:`x_t = W_\text{in} u_t + W_\text{rec} s_{t-1}`, then
    the neuron's step (from rest and :math:`s_0 = 0`).

    Args:
        n_in: input features.
        n: neurons.
        neuron: the neuron model (per-layer parameters, or per-neuron with ``shape=(n,)``).
        bias: give the input projection a bias.
        stateful: keep the final state between calls in ``.state``, a
            :class:`SpikingRecurrentState` (the neuron state and the last spikes, so that a
            sequence run in chunks gives the output of one run on the whole sequence; for
            streaming and truncated BPTT: call :meth:`detach_state` between chunks,
            :meth:`reset_state` between sequences). Default: every call starts at rest.

    Shape:
        ``(T, batch, n_in)`` in, spikes ``(T, batch, n)`` out.
    """

    def __init__(self, n_in: int, n: int, neuron: NeuronModel, *, bias: bool = True,
                 stateful: bool = False) -> None:
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
        self.stateful = bool(stateful)
        self.state: SpikingRecurrentState | None = None

    def forward(self, x: Tensor) -> Tensor:
        x = _sequence("SpikingRecurrent", x)
        if x.shape[-1] != self.n_in:
            raise ValueError(
                f"SpikingRecurrent: input must end in n_in = {self.n_in} features, got "
                f"shape {tuple(x.shape)}."
            )
        drive = self.input(x)  # all steps at once; only the recurrence needs the loop
        kept = self.state if self.stateful else None
        if kept is None:
            state = self.neuron.initial_state(drive.shape[1:], drive.device, drive.dtype)
            s = torch.zeros_like(drive[0])
        elif kept.s.shape != drive.shape[1:]:
            raise ValueError(
                f"SpikingRecurrent: the kept state is for steps shaped {tuple(kept.s.shape)}, "
                f"got input steps shaped {tuple(drive.shape[1:])}; call reset_state() "
                f"between sequences."
            )
        else:
            state, s = kept
        p = self.neuron.params()
        out = []
        for d in drive:
            s, state = self.neuron.step_fn(d + self.recurrent(s), state, p)
            out.append(s)
        if self.stateful:
            self.state = SpikingRecurrentState(state, s)
        return torch.stack(out)

    def detach_state(self) -> None:
        """Cut the gradient at the kept state, neuron state and last spikes (truncated BPTT)."""
        if self.state is not None:
            self.state = SpikingRecurrentState(detach_state(self.state.neuron),
                                               self.state.s.detach())

    def reset_state(self) -> None:
        """Start the next call at rest, with no spikes from before."""
        self.state = None

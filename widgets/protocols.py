"""Input protocols for single-neuron experiments: what current a neuron receives over time.

Each protocol is a small frozen object with one method, ``current(steps, dt, amplitude, trials,
generator) -> (steps, trials)``, so explorers and scripts pick them as objects, not strings.
``amplitude`` is the mean drive after onset, in the model's input unit (nA for LIF, µA/cm² for
Hodgkin–Huxley, the paper's units for Izhikevich).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["NoisyCurrent", "PoissonInput", "Protocol", "Ramp", "Step"]


@dataclass(frozen=True)
class Protocol(ABC):
    """A time course of input current: zero until ``onset`` (a fraction of the run), then the
    protocol's drive."""

    onset: float = 0.1
    label: str = ""

    def __post_init__(self) -> None:
        if not (isinstance(self.onset, float | int) and 0 <= self.onset < 1):
            raise ValueError(f"{type(self).__name__}: onset must be a fraction of the run in "
                             f"[0, 1), got {self.onset!r}.")
        for name in ("sigma", "tau", "rate_hz"):
            value = getattr(self, name, None)
            if value is not None and not (isinstance(value, float | int) and value >= 0
                                          and (name == "sigma" or value > 0)):
                raise ValueError(f"{type(self).__name__}: {name} must be "
                                 f"{'>= 0' if name == 'sigma' else '> 0'}, got {value!r}.")

    @abstractmethod
    def drive(self, steps: int, dt: float, amplitude: float, trials: int,
              generator: torch.Generator) -> Tensor:
        """The drive over all ``steps`` (the part before the onset is zeroed)."""

    def current(self, steps: int, dt: float, amplitude: float, trials: int,
                generator: torch.Generator) -> Tensor:
        """Input ``(steps, trials)`` in float64 [the model's input unit]."""
        out = self.drive(steps, dt, amplitude, trials, generator)
        out[: self.onset_step(steps)] = 0.0
        return out

    def onset_step(self, steps: int) -> int:
        """First step of the drive (rates are measured from here)."""
        return round(self.onset * steps)


@dataclass(frozen=True)
class Step(Protocol):
    """Zero, then ``amplitude`` from ``onset`` (a fraction of the run) on."""

    label: str = "current step"

    def drive(self, steps: int, dt: float, amplitude: float, trials: int,
              generator: torch.Generator) -> Tensor:
        return torch.full((steps, trials), float(amplitude), dtype=torch.float64)


@dataclass(frozen=True)
class Ramp(Protocol):
    """Linear from 0 at the onset to ``2 * amplitude`` at the end (mean ``amplitude``)."""

    onset: float = 0.0
    label: str = "ramp"

    def drive(self, steps: int, dt: float, amplitude: float, trials: int,
              generator: torch.Generator) -> Tensor:
        start = self.onset_step(steps)
        ramp = torch.zeros(steps, dtype=torch.float64)
        ramp[start:] = torch.linspace(0.0, 2.0 * amplitude, steps - start, dtype=torch.float64)
        return ramp[:, None].expand(steps, trials).clone()


@dataclass(frozen=True)
class NoisyCurrent(Protocol):
    """``amplitude`` plus Ornstein–Uhlenbeck noise of standard deviation
    ``sigma * |amplitude|`` and correlation time ``tau`` [ms], from ``onset`` on."""

    sigma: float = 0.5
    tau: float = 5.0
    label: str = "noisy current"

    def drive(self, steps: int, dt: float, amplitude: float, trials: int,
              generator: torch.Generator) -> Tensor:
        decay = math.exp(-dt / self.tau)
        kick = self.sigma * abs(amplitude) * math.sqrt(1 - decay**2)
        noise = torch.randn(steps, trials, dtype=torch.float64, generator=generator) * kick
        eta = torch.zeros(trials, dtype=torch.float64)
        out = torch.empty(steps, trials, dtype=torch.float64)
        for n in range(steps):  # exact OU update, stationary standard deviation sigma*|amp|
            eta = eta * decay + noise[n]
            out[n] = eta
        return out + amplitude


@dataclass(frozen=True)
class PoissonInput(Protocol):
    """Poisson input spikes at ``rate_hz``, each a current pulse of one step whose size makes
    the mean current ``amplitude``, from ``onset`` on."""

    rate_hz: float = 1000.0
    label: str = "Poisson input"

    def drive(self, steps: int, dt: float, amplitude: float, trials: int,
              generator: torch.Generator) -> Tensor:
        lam = self.rate_hz * dt * 1e-3
        counts = torch.poisson(torch.full((steps, trials), lam, dtype=torch.float64),
                               generator=generator)
        return counts * (amplitude / lam)

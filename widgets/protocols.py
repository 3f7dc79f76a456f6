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


class Protocol(ABC):
    """A time course of input current."""

    label: str = ""

    @abstractmethod
    def current(self, steps: int, dt: float, amplitude: float, trials: int,
                generator: torch.Generator) -> Tensor:
        """Input ``(steps, trials)`` in float64 [the model's input unit]."""

    def onset_step(self, steps: int) -> int:
        """First step of the drive (rates are measured from here)."""
        return 0


@dataclass(frozen=True)
class Step(Protocol):
    """Zero, then ``amplitude`` from ``onset`` (a fraction of the run) on."""

    onset: float = 0.1
    label: str = "current step"

    def onset_step(self, steps: int) -> int:
        return round(self.onset * steps)

    def current(self, steps: int, dt: float, amplitude: float, trials: int,
                generator: torch.Generator) -> Tensor:
        x = torch.zeros(steps, trials, dtype=torch.float64)
        x[self.onset_step(steps):] = amplitude
        return x


@dataclass(frozen=True)
class Ramp(Protocol):
    """Linear from 0 to ``2 * amplitude`` over the run (mean ``amplitude``)."""

    label: str = "ramp"

    def current(self, steps: int, dt: float, amplitude: float, trials: int,
                generator: torch.Generator) -> Tensor:
        ramp = torch.linspace(0.0, 2.0 * amplitude, steps, dtype=torch.float64)
        return ramp[:, None].expand(steps, trials).clone()


@dataclass(frozen=True)
class NoisyCurrent(Protocol):
    """``amplitude`` plus Ornstein–Uhlenbeck noise of standard deviation
    ``sigma * |amplitude|`` and correlation time ``tau`` [ms], from ``onset`` on."""

    sigma: float = 0.5
    tau: float = 5.0
    onset: float = 0.1
    label: str = "noisy current"

    def onset_step(self, steps: int) -> int:
        return round(self.onset * steps)

    def current(self, steps: int, dt: float, amplitude: float, trials: int,
                generator: torch.Generator) -> Tensor:
        decay = math.exp(-dt / self.tau)
        kick = self.sigma * abs(amplitude) * math.sqrt(1 - decay**2)
        noise = torch.randn(steps, trials, dtype=torch.float64, generator=generator) * kick
        eta = torch.zeros(trials, dtype=torch.float64)
        out = torch.empty(steps, trials, dtype=torch.float64)
        for n in range(steps):  # exact OU update, stationary standard deviation sigma*|amp|
            eta = eta * decay + noise[n]
            out[n] = eta
        out = out + amplitude
        out[: self.onset_step(steps)] = 0.0
        return out


@dataclass(frozen=True)
class PoissonInput(Protocol):
    """Poisson input spikes at ``rate_hz``, each a current pulse of one step whose size makes
    the mean current ``amplitude``, from ``onset`` on."""

    rate_hz: float = 1000.0
    onset: float = 0.1
    label: str = "Poisson input"

    def onset_step(self, steps: int) -> int:
        return round(self.onset * steps)

    def current(self, steps: int, dt: float, amplitude: float, trials: int,
                generator: torch.Generator) -> Tensor:
        lam = self.rate_hz * dt * 1e-3
        counts = torch.poisson(torch.full((steps, trials), lam, dtype=torch.float64),
                               generator=generator)
        out = counts * (amplitude / lam)
        out[: self.onset_step(steps)] = 0.0
        return out

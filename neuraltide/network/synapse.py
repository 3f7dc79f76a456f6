r"""Synapse models: how spikes arriving at a projection become current into its target.

Each projection keeps one synaptic variable ``g`` per (trial, postsynaptic neuron), shaped
``(batch, n_post)``. Per step of length :math:`\Delta t`:

1. the target neuron receives :meth:`Synapse.current` of ``g``;
2. after the neurons have stepped, the weighted spikes arriving at this step (after their
   delay), ``arrivals``, update ``g`` through :meth:`Synapse.update`.

So a spike emitted in step ``n`` with delay ``d`` reaches the membrane in step
``n + d/dt + 1``: Brian2's order (state update, threshold, ``on_pre``).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

from torch import Tensor

__all__ = ["Conductance", "Delta", "Exponential", "Synapse"]


class Synapse(ABC):
    """Turns arriving weighted spikes into the target's input current."""

    @abstractmethod
    def update(self, g: Tensor, arrivals: Tensor, dt: float) -> Tensor:
        """Next ``g`` from this step's ``arrivals`` (both ``(batch, n_post)``)."""

    @abstractmethod
    def current(self, g: Tensor, v_post: Tensor, dt: float) -> Tensor:
        """Input of the target in this step [nA, or the dimensionless input unit],
        ``(batch, n_post)``; ``v_post`` is the target's membrane [mV]."""

    def check(self, owner: str) -> None:  # noqa: B027 - optional hook
        """Raise ``ValueError`` for invalid parameters (called by the projection)."""


@dataclass(frozen=True)
class Delta(Synapse):
    r"""Instantaneous synapse: a spike's weight is the target's input during one step.

    For a physical LIF target the membrane jumps by :math:`(1-\beta) R w \approx R w
    \Delta t/\tau_\text{mem}`; for a dimensionless one (:math:`v \leftarrow \beta v + x`)
    by exactly ``w``. Weight unit: the target's input unit (nA, or 1).
    """

    def update(self, g: Tensor, arrivals: Tensor, dt: float) -> Tensor:
        return arrivals

    def current(self, g: Tensor, v_post: Tensor, dt: float) -> Tensor:
        return g


@dataclass(frozen=True)
class Exponential(Synapse):
    r"""Current-based exponential synapse: :math:`\tau \dot g = -g`, ``g += w`` per spike.

    The current held over a step is the exact mean of the exponential over that step,
    :math:`g\,\frac{\tau}{\Delta t}(1 - e^{-\Delta t/\tau})`, and ``g`` decays exactly.
    Weight unit: the target's input unit (nA, or 1).

    Args:
        tau: decay time constant [ms], > 0.
    """

    tau: float = 5.0

    def check(self, owner: str) -> None:
        if not isinstance(self.tau, (int, float)) or not (0 < self.tau < math.inf):
            raise ValueError(f"{owner}: Exponential tau must be > 0 [ms], got {self.tau!r}.")

    def update(self, g: Tensor, arrivals: Tensor, dt: float) -> Tensor:
        return g * math.exp(-dt / self.tau) + arrivals

    def current(self, g: Tensor, v_post: Tensor, dt: float) -> Tensor:
        return g * (self.tau / dt * -math.expm1(-dt / self.tau))


@dataclass(frozen=True)
class Conductance(Synapse):
    r"""Conductance-based exponential synapse with a reversal potential.

    :math:`\tau \dot g = -g`, ``g += w`` [µS] per spike, current
    :math:`I = \bar g\,(E_\text{rev} - v)` [nA] with :math:`\bar g` the mean of ``g`` over the
    step and ``v`` the target's membrane at the start of the step. Weights are conductances,
    so they must be >= 0 (an inhibitory conductance synapse has a low ``e_rev``, not a negative
    weight).

    Args:
        tau: decay time constant [ms], > 0.
        e_rev: reversal potential [mV] (0 for AMPA, -80 for GABA_A).
    """

    tau: float = 5.0
    e_rev: float = 0.0

    def check(self, owner: str) -> None:
        Exponential(self.tau).check(owner)
        if not isinstance(self.e_rev, (int, float)) or not math.isfinite(self.e_rev):
            raise ValueError(
                f"{owner}: Conductance e_rev must be a finite number [mV], got {self.e_rev!r}."
            )

    def update(self, g: Tensor, arrivals: Tensor, dt: float) -> Tensor:
        return g * math.exp(-dt / self.tau) + arrivals

    def current(self, g: Tensor, v_post: Tensor, dt: float) -> Tensor:
        g_mean = g * (self.tau / dt * -math.expm1(-dt / self.tau))
        return g_mean * (self.e_rev - v_post)

"""Groups of neurons in a network: simulated populations and external inputs.

* :class:`Population`: ``n`` neurons of any NeuralTide neuron model (parameters per layer or per
  neuron), with initial values for state variables.
* :class:`PoissonGroup`: ``n`` independent Poisson spike sources at given rates [Hz], constant or
  given over time at run time.
* :class:`SpikeInput`: spikes given as a tensor at run time.

Every group has a ``name`` (projections, inputs and monitors refer to groups by object; the name
labels results and errors) and a step ``dt`` [ms]; all groups of a network share one ``dt``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from ..neurons._base import NeuronModel
from .init import Init, as_init

__all__ = ["Group", "InputGroup", "PoissonGroup", "Population", "SpikeInput"]


class Group(nn.Module):
    """What every group has: a name, a size ``n`` and a step ``dt`` [ms]."""

    def __init__(self, n: int, name: str, dt: float) -> None:
        super().__init__()
        owner = type(self).__name__
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"{owner}: n must be an int >= 1, got {n!r}.")
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"{owner}: name must be a Python identifier, got {name!r}.")
        if not isinstance(dt, (int, float)) or not (0 < dt < math.inf):
            raise ValueError(f"{owner}: dt must be > 0 [ms], got {dt!r}.")
        self.n, self.name, self.dt = n, name, float(dt)

    def extra_repr(self) -> str:
        return f"n={self.n}, name={self.name!r}, dt={self.dt}"


class Population(Group):
    """``n`` neurons of one model, simulated by the network.

    Args:
        n: number of neurons.
        neuron: any :class:`~neuraltide.neurons.NeuronModel`; its parameters are per layer
            (``shape=()``) or per neuron (``shape=(n,)``); its ``dt`` is the population's.
        name: label (a Python identifier), unique within a network.
        init: initial values of state variables, e.g. ``{"v": Uniform(-60, -50)}`` [their
            unit]: a number, an initialiser (drawn per trial and neuron) or a tensor
            broadcastable to ``(batch, n)``. Unset variables start at rest.

    Example::

        >>> from neuraltide.neurons import LIF
        >>> from neuraltide.network import Population, Uniform
        >>> exc = Population(80, LIF(tau_mem=20.0, dt=0.1), name="exc",
        ...                  init={"v": Uniform(-60.0, -50.0)})
        >>> exc
        Population(
          n=80, name='exc', dt=0.1
          (neuron): LIF(form=PHYSICAL, reset=TO_VALUE, backend=AUTO, dt=0.1)
        )
    """

    def __init__(
        self, n: int, neuron: NeuronModel, *, name: str, init: Mapping[str, object] | None = None
    ) -> None:
        if not isinstance(neuron, NeuronModel):
            raise ValueError(
                f"Population: neuron must be a NeuralTide neuron model (LIF, Izhikevich, ...), "
                f"got {type(neuron).__name__}."
            )
        super().__init__(n, name, neuron.dt)
        if neuron.shape not in ((), (n,)):
            raise ValueError(
                f"Population {name!r}: the neuron's parameter shape must be () or (n,) = "
                f"({n},), got {neuron.shape}."
            )
        self.neuron = neuron
        fields = neuron.State._fields
        self.init: dict[str, Init | Tensor] = {}
        for var, value in (init or {}).items():
            if var not in fields:
                raise ValueError(
                    f"Population {name!r}: init must name state variables among "
                    f"{list(fields)}, got {var!r}."
                )
            self.init[var] = as_init(f"Population {name!r}", f"init[{var!r}]", value)

    def initial_state(
        self, batch: int, generator: torch.Generator, device: Any, dtype: torch.dtype
    ) -> Any:
        """The neuron state for ``batch`` trials, shaped ``(batch, n)``, with ``init`` applied."""
        state = self.neuron.initial_state((batch, self.n), device, dtype)
        values = {}
        for var, init in self.init.items():
            value = init.sample((batch, self.n), generator) if isinstance(init, Init) else init
            values[var] = torch.as_tensor(value).to(device, dtype).expand(batch, self.n).clone()
        return state._replace(**values)


class InputGroup(Group, ABC):
    """A group whose spikes come from outside the simulation (not simulated neurons)."""

    def check_given(self, given: Tensor) -> None:
        """Raise ``ValueError`` if the run-time tensor for this group is invalid."""

    @abstractmethod
    def spikes(
        self, step: int, given: Tensor | None, batch: int, generator: torch.Generator,
        device: Any, dtype: torch.dtype,
    ) -> Tensor:
        """Spikes of step ``step``, ``(batch, n)``; ``given`` is this step's slice of the
        tensor passed to ``Network.run(inputs=...)`` for this group, if any."""


class PoissonGroup(InputGroup):
    """``n`` independent Poisson spike trains (Bernoulli per step, ``p = rate dt``).

    Args:
        n: number of sources.
        rate_hz: rate [Hz], a number or ``(n,)`` tensor, ``0 <= rate * dt <= 1``. At run time
            ``inputs={group: rates}`` with ``rates`` ``(steps, batch, n)`` or ``(steps, n)`` [Hz]
            replaces it (time-varying rates).
        name: label.
        dt: step [ms].
    """

    def __init__(self, n: int, rate_hz: float | Tensor, *, name: str, dt: float) -> None:
        super().__init__(n, name, dt)
        rate = torch.as_tensor(rate_hz, dtype=torch.get_default_dtype())
        if rate.dim() not in (0, 1) or (rate.dim() == 1 and rate.shape[0] != n):
            raise ValueError(
                f"PoissonGroup {name!r}: rate_hz must be a number or shaped (n,) = ({n},), "
                f"got shape {tuple(rate.shape)}."
            )
        self._check_rates(rate)
        self.register_buffer("rate_hz", rate.expand(n).clone())

    def check_given(self, given: Tensor) -> None:
        self._check_rates(given)

    def _check_rates(self, rate: Tensor) -> None:
        p = rate * self.dt * 1e-3
        if not bool(torch.isfinite(p).all()) or bool((p < 0).any()) or bool((p > 1).any()):
            bad = rate[~((p >= 0) & (p <= 1))].flatten()[:3].tolist()
            raise ValueError(
                f"PoissonGroup {self.name!r}: rate_hz must be in [0, {1e3 / self.dt:g}] [Hz] "
                f"(at most one spike per step of dt={self.dt} ms), got {bad}."
            )

    def spikes(
        self, step: int, given: Tensor | None, batch: int, generator: torch.Generator,
        device: Any, dtype: torch.dtype,
    ) -> Tensor:
        rate = self.rate_hz if given is None else given
        p = (rate * (self.dt * 1e-3)).to(device, dtype).expand(batch, self.n)
        return (torch.rand(batch, self.n, generator=generator, device=device, dtype=dtype) < p
                ).to(dtype)


class SpikeInput(InputGroup):
    """Spikes given at run time: ``Network.run(inputs={group: spikes})`` with ``spikes``
    ``(steps, batch, n)`` or ``(steps, n)``, values 0/1 (or any non-negative spike count).

    Args:
        n: number of inputs.
        name: label.
        dt: step [ms].
    """

    def spikes(
        self, step: int, given: Tensor | None, batch: int, generator: torch.Generator,
        device: Any, dtype: torch.dtype,
    ) -> Tensor:
        if given is None:
            raise ValueError(
                f"SpikeInput {self.name!r}: Network.run needs inputs={{group: spikes}} for "
                "this group (a (steps, batch, n) tensor)."
            )
        return given.to(device, dtype).expand(batch, self.n)

    def check_given(self, given: Tensor) -> None:
        if not bool(torch.isfinite(given).all()) or bool((given < 0).any()):
            raise ValueError(
                f"SpikeInput {self.name!r}: spikes must be finite and >= 0 (0/1 spikes or "
                "counts), got negative or non-finite values."
            )

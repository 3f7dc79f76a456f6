"""Monitors: what a network run records.

A monitor is given to ``Network.run(monitors=[...])`` and fills itself step by step; several
runs append (the network's clock continues). Times are stamped at the end of the step in which
the spike or value happened, ``t = (step + 1) dt`` [ms], as for the neuron models.

* :class:`SpikeMonitor`: spike events ``(t, i)`` (and the trial), memory proportional to the
  number of spikes.
* :class:`StateMonitor`: chosen state variables of chosen neurons, every step.
* :class:`PopulationRateMonitor`: the population's instantaneous rate [Hz], every step; it keeps
  the autograd graph, so a loss on rates trains the network.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from .population import Group, Population

__all__ = ["Monitor", "PopulationRateMonitor", "SpikeMonitor", "StateMonitor"]


class Monitor(ABC):
    """Records one group during ``Network.run``."""

    def __init__(self, group: Group) -> None:
        if not isinstance(group, Group):
            raise ValueError(
                f"{type(self).__name__}: group must be a Population or input group, "
                f"got {group!r}."
            )
        self.group = group
        self.dt = group.dt

    @abstractmethod
    def record(self, step: int, spikes: Tensor, state: Any) -> None:
        """Record step ``step`` (counted from the start of the network's clock):
        ``spikes`` ``(batch, n)`` and the group's neuron ``state`` (``None`` for inputs)."""

    def reset(self) -> None:  # noqa: B027 - optional hook
        """Forget everything recorded."""


class SpikeMonitor(Monitor):
    """Spike events of a group.

    After a run: ``t`` [ms], ``i`` (neuron index) and ``trial`` (batch index), one entry per
    spike, in time order; ``count`` spikes per neuron ``(batch, n)``.

    Args:
        group: the group to record.
    """

    def __init__(self, group: Group) -> None:
        super().__init__(group)
        self.reset()

    def reset(self) -> None:
        self._steps: list[Tensor] = []
        self._trials: list[Tensor] = []
        self._neurons: list[Tensor] = []
        self._count: Tensor | None = None

    def record(self, step: int, spikes: Tensor, state: Any) -> None:
        s = spikes.detach()
        trial, neuron = s.nonzero(as_tuple=True)
        if trial.numel():
            self._steps.append(torch.full_like(trial, step))
            self._trials.append(trial)
            self._neurons.append(neuron)
        self._count = s if self._count is None else self._count + s

    def record_events(self, steps: Tensor, trials: Tensor, neurons: Tensor, batch: int,
                      dtype: torch.dtype, values: Tensor | None = None) -> None:
        """Record many steps at once (the compiled network path): one entry per spike, in
        step, then trial, then neuron order, as :meth:`record` would have made them;
        ``values`` are spike counts where they can exceed 1 (input groups)."""
        if steps.numel():
            self._steps.append(steps)
            self._trials.append(trials)
            self._neurons.append(neurons)
        counts = torch.bincount(trials * self.group.n + neurons, weights=values,
                                minlength=batch * self.group.n).reshape(batch, self.group.n)
        counts = counts.to(dtype)
        self._count = counts if self._count is None else self._count + counts

    def _cat(self, parts: list[Tensor]) -> Tensor:
        return torch.cat(parts).cpu() if parts else torch.zeros(0, dtype=torch.long)

    @property
    def step(self) -> Tensor:
        """Step index of each spike ``(n_spikes,)``."""
        return self._cat(self._steps)

    @property
    def t(self) -> Tensor:
        """Time of each spike [ms] ``(n_spikes,)``: end of its step."""
        return (self.step.to(torch.float64) + 1) * self.dt

    @property
    def i(self) -> Tensor:
        """Neuron index of each spike ``(n_spikes,)``."""
        return self._cat(self._neurons)

    @property
    def trial(self) -> Tensor:
        """Trial (batch index) of each spike ``(n_spikes,)``."""
        return self._cat(self._trials)

    @property
    def count(self) -> Tensor:
        """Number of spikes per neuron ``(batch, n)``."""
        if self._count is None:
            return torch.zeros(0, self.group.n)
        return self._count.cpu()

    def events(self, trial: int = 0) -> tuple[str, Tensor, Tensor, int]:
        """``(group name, t [ms], i, n)`` of ``trial``: the input of
        :func:`neuraltide.plot.raster_events`."""
        keep = self.trial == trial
        return self.group.name, self.t[keep], self.i[keep], self.group.n

    def spike_trains(self, trial: int = 0) -> list[Tensor]:
        """Spike times [ms] of each neuron in ``trial``: a list of ``n`` sorted tensors."""
        keep = self.trial == trial
        t, i = self.t[keep], self.i[keep]
        order = torch.argsort(i, stable=True)
        t, i = t[order], i[order]
        counts = torch.bincount(i, minlength=self.group.n).tolist()
        return list(torch.split(t, counts))


class _Sampled(Monitor):
    """A monitor that keeps one sample per step: their steps and times."""

    def reset(self) -> None:
        self._steps: list[int] = []

    def record(self, step: int, spikes: Tensor, state: Any) -> None:
        self._steps.append(step)

    @property
    def t(self) -> Tensor:
        """Time of each sample [ms] ``(steps,)``: end of its step."""
        return (torch.tensor(self._steps, dtype=torch.float64) + 1) * self.dt


class StateMonitor(_Sampled):
    """State variables of chosen neurons, every step.

    After a run, ``traces[var]`` is ``(steps, batch, k)`` for the ``k`` recorded neurons and
    ``t`` [ms] ``(steps,)``; ``monitor.v`` is a shortcut for ``traces["v"]``.

    Args:
        group: a :class:`Population`.
        variables: names of fields of its neuron's state, e.g. ``("v",)`` or ``("v", "i")``.
        idx: neuron indices to record (``None``: all).
    """

    def __init__(
        self, group: Population, variables: Sequence[str] = ("v",),
        idx: Sequence[int] | Tensor | None = None,
    ) -> None:
        super().__init__(group)
        owner = f"StateMonitor({group.name!r})"
        if not isinstance(group, Population):
            raise ValueError(f"{owner}: group must be a Population (input groups have no state).")
        if isinstance(variables, str):
            variables = (variables,)
        fields = group.neuron.State._fields
        for var in variables:
            if var not in fields:
                raise ValueError(
                    f"{owner}: variables must be among {list(fields)}, got {var!r}."
                )
        self.variables = tuple(variables)
        if idx is not None:
            idx = torch.as_tensor(idx, dtype=torch.long).reshape(-1)
            if idx.numel() and (idx.min() < 0 or idx.max() >= group.n):
                raise ValueError(
                    f"{owner}: idx must be in [0, {group.n}), got values in "
                    f"[{int(idx.min())}, {int(idx.max())}]."
                )
        self.idx = idx
        self.reset()

    def reset(self) -> None:
        super().reset()
        self._values: dict[str, list[Tensor]] = {v: [] for v in self.variables}

    def record(self, step: int, spikes: Tensor, state: Any) -> None:
        super().record(step, spikes, state)
        for var in self.variables:
            value = getattr(state, var)
            self._values[var].append(value if self.idx is None else value[:, self.idx])

    @property
    def traces(self) -> dict[str, Tensor]:
        """Recorded values, variable -> ``(steps, batch, k)``."""
        return {v: torch.stack(x) if x else torch.zeros(0) for v, x in self._values.items()}

    def __getattr__(self, name: str) -> Tensor:
        variables = self.__dict__.get("variables", ())
        if name in variables:
            return self.traces[name]
        raise AttributeError(name)


class PopulationRateMonitor(_Sampled):
    """Instantaneous population rate: the fraction of the group's neurons that spiked in each
    step divided by ``dt``, in Hz, ``rate`` ``(steps, batch)``; differentiable.

    Args:
        group: the group to record.
    """

    def __init__(self, group: Group) -> None:
        super().__init__(group)
        self.reset()

    def reset(self) -> None:
        super().reset()
        self._rates: list[Tensor] = []

    def record(self, step: int, spikes: Tensor, state: Any) -> None:
        super().record(step, spikes, state)
        self._rates.append(spikes.mean(-1) * (1e3 / self.dt))

    @property
    def rate(self) -> Tensor:
        """Population rate [Hz] ``(steps, batch)``."""
        return torch.stack(self._rates) if self._rates else torch.zeros(0)

    def smooth_rate(self, width_ms: float) -> Tensor:
        """Rate [Hz] averaged in a sliding box of ``width_ms`` [ms] (centred), ``(steps,
        batch)``."""
        k = max(1, round(width_ms / self.dt))
        if not (width_ms > 0):
            raise ValueError(f"smooth_rate: width_ms must be > 0 [ms], got {width_ms!r}.")
        r = self.rate.detach().T.unsqueeze(1)  # (batch, 1, steps)
        kernel = torch.full((1, 1, k), 1.0 / k, dtype=r.dtype)
        out = torch.nn.functional.conv1d(r, kernel, padding=k // 2)[..., : r.shape[-1]]
        return out.squeeze(1).T

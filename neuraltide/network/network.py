r"""The :class:`Network`: populations and projections simulated together, differentiably.

One step of length ``dt`` (Brian2's order: state update, threshold, synaptic propagation):

1. input groups emit their spikes;
2. every population steps its neurons with input current = its external input + the current
   of every projection onto it (computed from the synaptic variables at the start of the step);
3. every projection schedules its presynaptic spikes of this step (after their delay) and
   updates its synaptic variable with the arrivals due now;
4. monitors record.

A spike in step ``n`` through a projection with delay ``d`` therefore reaches the target's
membrane in step ``n + d/dt + 1``. The step is a pure function of the network state; the whole
run is differentiable (surrogate gradients through the spikes), with truncated BPTT on request.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from .._params import check_finite_input
from ..neurons._base import detach_state
from . import compiled as compiled_path
from .monitors import Monitor
from .population import Group, InputGroup, Population
from .projection import DENSE_LIMIT, Projection, ProjectionState, Propagation

__all__ = ["Network", "NetworkState"]


class NetworkState(NamedTuple):
    """Everything a run carries from one step to the next.

    Attributes:
        step: steps simulated since the start (the network's clock, ``t = step * dt``).
        neurons: population name -> neuron state (each tensor ``(batch, n)``).
        projections: projection name -> :class:`ProjectionState`.
    """

    step: int
    neurons: dict[str, Any]
    projections: dict[str, ProjectionState]


class Network(nn.Module):
    """Populations, input groups and the projections between them.

    Args:
        groups: populations and input groups; names must be unique.
        projections: projections between those groups.
        seed: seed of the network's random stream (Poisson inputs, initial values).

    Example (10 Poisson inputs drive 20 LIF neurons for 100 ms)::

        >>> from neuraltide.neurons import LIF
        >>> from neuraltide.network import (AllToAll, Network, PoissonGroup, Population,
        ...                                 Projection, SpikeMonitor)
        >>> inp = PoissonGroup(10, 100.0, name="inp", dt=0.1)
        >>> pop = Population(20, LIF(tau_mem=10.0, r_mem=10.0, dt=0.1), name="pop")
        >>> net = Network([inp, pop], [Projection(inp, pop, AllToAll(), weight=1.0)], seed=0)
        >>> spikes = SpikeMonitor(pop)
        >>> state = net.run(duration=100.0, monitors=[spikes])
        >>> state.step, bool(spikes.count.sum() > 0)
        (1000, True)
    """

    def __init__(
        self, groups: Sequence[Group], projections: Sequence[Projection] = (), *, seed: int = 0
    ) -> None:
        super().__init__()
        groups, projections = list(groups), list(projections)
        if not groups:
            raise ValueError("Network: groups must hold at least one Population or input group.")
        for g in groups:
            if not isinstance(g, Group):
                raise ValueError(
                    f"Network: groups must be Populations or input groups, got {g!r}."
                )
        names = [g.name for g in groups]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"Network: group names must be unique, got {dup} more than once.")
        dts = {g.dt for g in groups}
        if len(dts) > 1:
            raise ValueError(f"Network: all groups must share one dt, got {sorted(dts)} [ms].")
        for p in projections:
            if not isinstance(p, Projection):
                raise ValueError(f"Network: projections must be Projections, got {p!r}.")
            for end, g in (("pre", p.pre), ("post", p.post)):
                if not any(g is h for h in groups):
                    raise ValueError(
                        f"Network: projection {p.name!r} has {end} group {g.name!r}, which is "
                        f"not in the network's groups {names}."
                    )
        pnames = [p.name for p in projections]
        dup = sorted({n for n in pnames if pnames.count(n) > 1})
        if dup:
            raise ValueError(
                f"Network: projection names must be unique, got {dup} more than once; pass "
                "name= to Projection."
            )
        # ModuleLists register the modules; the dicts look them up by name (a ModuleDict would
        # reject names such as "pop" or "keys", which are its own methods)
        self.group_list = nn.ModuleList(groups)
        self.projection_list = nn.ModuleList(projections)
        self.groups: dict[str, Group] = {g.name: g for g in groups}
        self.projections: dict[str, Projection] = {p.name: p for p in projections}
        self.dt = groups[0].dt
        self.seed = int(seed)
        #: the CPU stream (initial values, and inputs on the CPU); other devices get their own
        self.generator = torch.Generator().manual_seed(self.seed)
        self._device_generators: dict[torch.device, torch.Generator] = {}

    def manual_seed(self, seed: int) -> None:
        """Restart the network's random streams (every device) from ``seed``."""
        self.seed = int(seed)
        self.generator.manual_seed(self.seed)
        self._device_generators.clear()

    def _generator(self, device: torch.device) -> torch.Generator:
        """The random stream of ``device``, so that inputs are drawn where they are used."""
        if device.type == "cpu":
            return self.generator
        if device not in self._device_generators:
            self._device_generators[device] = torch.Generator(device=device).manual_seed(
                self.seed)
        return self._device_generators[device]

    @property
    def populations(self) -> list[Population]:
        """The simulated populations, in the order given."""
        return [g for g in self.groups.values() if isinstance(g, Population)]

    def initial_state(
        self, batch: int = 1, device: Any = None, dtype: torch.dtype | None = None
    ) -> NetworkState:
        """Every population at its initial values (drawn from the network's stream), nothing
        in flight."""
        dtype = dtype or torch.get_default_dtype()
        neurons = {p.name: p.initial_state(batch, self.generator, device, dtype)
                   for p in self.populations}
        projections = {name: p.initial_state(batch, device, dtype)
                       for name, p in self.projections.items()}
        return NetworkState(0, neurons, projections)

    # ---- run -------------------------------------------------------------------------------
    def run(
        self,
        steps: int | None = None,
        *,
        duration: float | None = None,
        inputs: Mapping[Group | str, Tensor] | None = None,
        modulators: Mapping[Projection | str, Tensor] | None = None,
        monitors: Sequence[Monitor] = (),
        batch: int | None = None,
        state: NetworkState | None = None,
        tbptt: int | None = None,
        progress: bool | None = None,
        device: Any = None,
        dtype: torch.dtype | None = None,
        compiled: bool | None = None,
    ) -> NetworkState:
        """Simulate ``steps`` steps (or ``duration`` [ms]) and return the final state.

        Args:
            steps: number of steps; or give ``duration`` [ms], a multiple of ``dt``.
            inputs: group (or its name) -> tensor ``(steps, batch, n)`` or ``(steps, n)``:
                external current [nA, or 1] for a Population, rates [Hz] for a
                PoissonGroup, spikes for a SpikeInput.
            modulators: projection (or its name) -> neuromodulator over time, ``(steps,)`` or
                ``(steps, batch)``, for projections whose plasticity rule needs one
                (reward-modulated STDP).
            monitors: monitors to fill (see :mod:`neuraltide.network.monitors`).
            batch: number of independent trials (default: from ``inputs``, else 1).
            state: state to continue from (a previous run's return value); default
                :meth:`initial_state`.
            tbptt: cut the autograd graph every ``tbptt`` steps (truncated BPTT).
            progress: show a progress bar (default: for runs of 10,000 steps or more).
            device, dtype: where to simulate (default: the state's, else the device of the
                network's tensors, moved there with ``net.to(device)``, and the default dtype).
            compiled: run the whole loop in C++ (:mod:`neuraltide.network.compiled`): ``None``
                (default) whenever the run allows it (no gradient needed, LIF populations,
                spike monitors, plasticity by PairSTDP only; the same spikes and learned
                weights as the PyTorch loop), ``True`` to
                insist (``RuntimeError`` saying why not), ``False`` for the PyTorch loop.

        Returns:
            The :class:`NetworkState` after the last step.
        """
        steps = self._steps(steps, duration)
        given = self._inputs(inputs, steps)
        mods = self._modulators(modulators, steps)
        batch = self._batch(batch, given, state)
        for m in monitors:
            if not isinstance(m, Monitor):
                raise ValueError(f"Network.run: monitors must be Monitors, got {m!r}.")
            if not any(m.group is g for g in self.groups.values()):
                raise ValueError(
                    f"Network.run: a {type(m).__name__} records group {m.group.name!r}, which "
                    "is not in this network."
                )
        if tbptt is not None and (not isinstance(tbptt, int) or tbptt < 1):
            raise ValueError(f"Network.run: tbptt must be an int >= 1 [steps], got {tbptt!r}.")
        if state is None:
            if device is None:
                device = next(self.buffers(), torch.zeros(())).device
            state = self.initial_state(batch, device, dtype)
        device, dtype = _where(state, device, dtype)
        if compiled is not False:
            reason = compiled_path.why_not(self, given, monitors, torch.device(device), dtype,
                                           self._needs_grad(given, state))
            reason = reason or compiled_path.available()
            if reason is None:
                return compiled_path.run_compiled(self, steps, given, monitors, batch, state,
                                                  self._generator(torch.device(device)))
            if compiled:
                raise RuntimeError(f"Network.run: compiled=True, but {reason}.")

        params = {p.name: p.neuron.params() for p in self.populations}
        weights = {name: p.weight() for name, p in self.projections.items()}
        dense = {name: self._dense(p) for name, p in self.projections.items()}
        plastic = [p for p in self.projections.values() if p.plasticity is not None]
        onto = {p.name: [q for q in self.projections.values() if q.post is p]
                for p in self.populations}

        show = steps >= 10_000 if progress is None else progress
        bar = _progress(steps, show)
        step0, neurons, projs = state.step, dict(state.neurons), dict(state.projections)
        generator = self._generator(torch.device(device))
        for k in range(steps):
            n = step0 + k
            spikes: dict[str, Tensor] = {}
            for g in self.groups.values():
                if isinstance(g, InputGroup):
                    x = given.get(g.name)
                    spikes[g.name] = g.spikes(n, None if x is None else x[k], batch,
                                              generator, device, dtype)
            for pop in self.populations:
                st = neurons[pop.name]
                x = given.get(pop.name)
                current = x[k].to(device, dtype).expand(batch, pop.n) if x is not None else \
                    torch.zeros(batch, pop.n, device=device, dtype=dtype)
                v = getattr(st, "v", None)
                for proj in onto[pop.name]:
                    current = current + proj.current(projs[proj.name], v)
                s, neurons[pop.name] = pop.neuron.step_fn(current, st, params[pop.name])
                spikes[pop.name] = s
            for name, proj in self.projections.items():
                projs[name] = proj.advance(projs[name], spikes[proj.pre.name], weights[name],
                                           dense[name])
            for proj in plastic:
                m = mods.get(proj.name)
                projs[proj.name] = proj.plasticity_step(projs[proj.name], spikes[proj.pre.name],
                                              spikes[proj.post.name],
                                              None if m is None else m[k])
                weights[proj.name] = proj.weight()
            for m in monitors:
                m.record(n, spikes[m.group.name], neurons.get(m.group.name))
            if tbptt is not None and (k + 1) % tbptt == 0:
                neurons = {name: detach_state(s) for name, s in neurons.items()}
                projs = {name: _detach_projection(s) for name, s in projs.items()}
            bar.update(1)
        bar.close()
        return NetworkState(step0 + steps, neurons, projs)

    def _needs_grad(self, given: Mapping[str, Tensor], state: NetworkState) -> bool:
        if not torch.is_grad_enabled():
            return False
        tensors = [*self.parameters(), *given.values(),
                   *(t for st in state.neurons.values() for t in st)]
        return any(t.requires_grad for t in tensors)

    # ---- argument checks --------------------------------------------------------------------
    def _steps(self, steps: int | None, duration: float | None) -> int:
        if (steps is None) == (duration is None):
            raise ValueError("Network.run: give exactly one of steps or duration [ms].")
        if duration is not None:
            if not isinstance(duration, (int, float)) or not (0 < duration < math.inf):
                raise ValueError(f"Network.run: duration must be > 0 [ms], got {duration!r}.")
            steps = round(duration / self.dt)
            if abs(steps * self.dt - duration) > 1e-9 * max(1.0, duration):
                raise ValueError(
                    f"Network.run: duration must be a multiple of dt={self.dt} [ms], got "
                    f"{duration!r}."
                )
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise ValueError(f"Network.run: steps must be an int >= 1, got {steps!r}.")
        return steps

    def _inputs(self, inputs: Mapping[Group | str, Tensor] | None, steps: int
                ) -> dict[str, Tensor]:
        out = {}
        for key, x in (inputs or {}).items():
            name = key.name if isinstance(key, Group) else key
            group = self.groups.get(name)
            if group is None or (isinstance(key, Group) and group is not key):
                raise ValueError(
                    f"Network.run: inputs names group {name!r}, which is not in this network "
                    f"(groups: {list(self.groups)})."
                )
            x = torch.as_tensor(x)
            if not x.is_floating_point():
                x = x.to(torch.get_default_dtype())
            if x.dim() == 2:
                x = x.unsqueeze(1)
            if x.dim() != 3 or x.shape[0] != steps or x.shape[2] != group.n:
                raise ValueError(
                    f"Network.run: inputs[{name!r}] must be shaped (steps, batch, n) or "
                    f"(steps, n) = ({steps}, ..., {group.n}), got {tuple(x.shape)}."
                )
            check_finite_input(f"Network.run: inputs[{name!r}]", x)
            if isinstance(group, InputGroup):
                group.check_given(x)
            out[name] = x
        return out

    def _modulators(self, modulators: Mapping[Projection | str, Tensor] | None, steps: int
                    ) -> dict[str, Tensor]:
        out = {}
        for key, m in (modulators or {}).items():
            name = key.name if isinstance(key, Projection) else key
            proj = self.projections.get(name)
            if proj is None or proj.plasticity is None or not proj.plasticity.needs_modulator:
                raise ValueError(
                    f"Network.run: modulators names projection {name!r}, which is not a "
                    "projection of this network with a rule that reads a modulator."
                )
            m = torch.as_tensor(m, dtype=torch.get_default_dtype())
            if m.dim() not in (1, 2) or m.shape[0] != steps:
                raise ValueError(
                    f"Network.run: modulators[{name!r}] must be shaped (steps,) or (steps, "
                    f"batch) with steps = {steps}, got {tuple(m.shape)}."
                )
            check_finite_input(f"Network.run: modulators[{name!r}]", m)
            out[name] = m
        for name, proj in self.projections.items():
            if proj.plasticity is not None and proj.plasticity.needs_modulator and \
                    name not in out:
                raise ValueError(
                    f"Network.run: projection {name!r} has {type(proj.plasticity).__name__}, "
                    f"which needs modulators={{{name!r}: tensor (steps,)}}."
                )
        return out

    def _batch(self, batch: int | None, given: dict[str, Tensor], state: NetworkState | None
               ) -> int:
        sizes = {x.shape[1] for x in given.values() if x.shape[1] != 1}
        if state is not None:
            some = next(iter(state.projections.values()), None)
            sizes.add(some.g.shape[0] if some is not None else
                      next(iter(state.neurons.values()))[0].shape[0])
        if batch is not None:
            if not isinstance(batch, int) or batch < 1:
                raise ValueError(f"Network.run: batch must be an int >= 1, got {batch!r}.")
            sizes.add(batch)
        if len(sizes) > 1:
            raise ValueError(
                f"Network.run: batch sizes disagree between batch=, inputs and state: "
                f"{sorted(sizes)}."
            )
        return sizes.pop() if sizes else 1

    @staticmethod
    def _dense(p: Projection) -> Tensor | None:
        if (not p.uniform_delay or p.plasticity is not None
                or p.propagation in (Propagation.EVENT, Propagation.SPARSE)):
            return None
        if p.pre.n * p.post.n > DENSE_LIMIT:
            return None
        return p.dense_weight()


def _where(state: NetworkState, device: Any, dtype: torch.dtype | None
           ) -> tuple[Any, torch.dtype]:
    """Device and dtype of a state's tensors (the defaults for an empty state)."""
    for s in (*state.projections.values(), *state.neurons.values()):
        return s[0].device, s[0].dtype
    return torch.device(device or "cpu"), dtype or torch.get_default_dtype()


def _detach_projection(s: ProjectionState) -> ProjectionState:
    ring = tuple(None if r is None else r.detach() for r in s.ring)
    return s._replace(g=s.g.detach(), ring=ring)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(steps: int, show: bool) -> Any:
    if not show:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=steps, unit="step", desc="Network.run", mininterval=0.5)

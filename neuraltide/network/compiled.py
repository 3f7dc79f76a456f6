"""The compiled path of :meth:`Network.run`: the whole run in one C++ call.

For runs that need no gradient, a network of LIF-family populations with delta, exponential or
conductance synapses runs in ``torch.ops.neuraltide.network_scan`` (``kernels/csrc/
network_cpu.cpp``), which follows the PyTorch loop's order and arithmetic operation by
operation: the spikes and weights are the same as the PyTorch path's event-driven propagation
(tested). Plastic projections with :class:`~neuraltide.plasticity.PairSTDP` learn inside the
call, updating only the synapses whose neurons spiked.

:func:`why_not` says why a run cannot take this path (``None`` when it can); ``Network.run``
then uses the PyTorch loop. What the compiled path does not do: gradients, plasticity rules
other than :class:`~neuraltide.plasticity.PairSTDP`, external currents into populations,
monitors other than :class:`SpikeMonitor`, GPUs and neuron models outside the LIF family.

Propagation here is always event-driven. Where the PyTorch loop would switch a step of a dense
projection to a matrix product (``Propagation.AUTO`` with many neurons spiking together, or
``DENSE``), the two sum the same inputs in another order, so currents can differ in the last
bit, as they do between the loop's own propagation modes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from .. import kernels
from ..kernels._ops import reset_kind
from ..neurons._family import LIFFamily
from ..plasticity import Pairing, PairSTDP, PairTraces, WeightDependence
from .monitors import Monitor, SpikeMonitor
from .population import InputGroup, PoissonGroup, SpikeInput
from .projection import Projection, ProjectionState
from .synapse import Conductance, Delta, Exponential

__all__ = ["run_compiled", "why_not"]

_KINDS = {Delta: 0, Exponential: 1, Conductance: 2}


def why_not(network: Any, given: Mapping[str, Tensor], monitors: Sequence[Monitor],
            device: torch.device, dtype: torch.dtype, needs_grad: bool) -> str | None:
    """The reason this run cannot use the compiled path, or ``None``."""
    if needs_grad:
        return "a gradient is needed (the compiled path runs without autograd)"
    if device.type != "cpu":
        return f"the compiled network path runs on the CPU, the run is on {device}"
    if dtype not in (torch.float32, torch.float64):
        return f"dtype {dtype} (float32 or float64 only)"
    for pop in network.populations:
        if not isinstance(pop.neuron, LIFFamily):
            return f"population {pop.name!r} holds a {type(pop.neuron).__name__}"
        if pop.name in given:
            return f"population {pop.name!r} receives an external current"
    for g in network.groups.values():
        if isinstance(g, InputGroup) and not isinstance(g, SpikeInput | PoissonGroup):
            return f"input group {g.name!r} is a {type(g).__name__}"
    for p in network.projections.values():
        if p.plasticity is not None and type(p.plasticity) is not PairSTDP:
            return (f"projection {p.name!r} has {type(p.plasticity).__name__} (the compiled "
                    "path runs PairSTDP)")
        if p.plasticity is not None and p.magnitude.dtype != dtype:
            return (f"projection {p.name!r} stores {p.magnitude.dtype} weights and the run is "
                    f"in {dtype}")
        if type(p.synapse) not in _KINDS:
            return f"projection {p.name!r} uses a {type(p.synapse).__name__} synapse"
    for m in monitors:
        if not isinstance(m, SpikeMonitor):
            return f"a {type(m).__name__} (the compiled path records SpikeMonitors only)"
    return None


def _inputs(network: Any, given: Mapping[str, Tensor], steps: int, batch: int,
            generator: torch.Generator, dtype: torch.dtype) -> tuple[Tensor, dict[str, int]]:
    """All input groups' spikes ``(steps, batch, E)`` and each group's offset. Poisson groups
    draw from one stream in group order per step, as the PyTorch loop does."""
    groups = [g for g in network.groups.values() if isinstance(g, InputGroup)]
    offsets, total = {}, 0
    for g in groups:
        offsets[g.name] = total
        total += g.n
    # every group's columns are written below (why_not admits Poisson and spike inputs only)
    ext = torch.empty(steps, batch, total, dtype=dtype)
    poisson = [g for g in groups if isinstance(g, PoissonGroup)]
    if poisson:
        draws = torch.rand(steps, sum(batch * g.n for g in poisson), generator=generator,
                           dtype=dtype)
        start = 0
        for g in poisson:
            r = draws[:, start:start + batch * g.n].reshape(steps, batch, g.n)
            start += batch * g.n
            rate = given.get(g.name, g.rate_hz)
            p = (rate * (g.dt * 1e-3)).to(dtype)
            ext[:, :, offsets[g.name]:offsets[g.name] + g.n].copy_(torch.lt(r, p))
    for g in groups:
        if isinstance(g, SpikeInput):
            x = given.get(g.name)
            if x is None:
                raise ValueError(f"SpikeInput {g.name!r}: Network.run needs inputs={{group: "
                                 "spikes}} for this group (a (steps, batch, n) tensor).")
            ext[:, :, offsets[g.name]:offsets[g.name] + g.n] = x.to(dtype).expand(
                steps, batch, g.n)
    return ext, offsets


#: input spikes held at once, (steps, batch, inputs) values: long runs go in blocks of steps
BLOCK_VALUES = 1 << 22


def run_compiled(network: Any, steps: int, given: Mapping[str, Tensor],
                 monitors: Sequence[Monitor], batch: int, state: Any,
                 generator: torch.Generator) -> Any:
    """Run ``steps`` steps from ``state`` in C++ calls of up to :data:`BLOCK_VALUES` input
    values each (so memory does not grow with the run); returns the new state."""
    n_inputs = sum(g.n for g in network.groups.values() if isinstance(g, InputGroup))
    block = max(1, BLOCK_VALUES // max(1, batch * n_inputs))
    for start in range(0, steps, block):
        k = min(block, steps - start)
        state = _run_block(network, k, {name: x[start:start + k] for name, x in given.items()},
                           monitors, batch, state, generator)
    return state


def _run_block(network: Any, steps: int, given: Mapping[str, Tensor],
               monitors: Sequence[Monitor], batch: int, state: Any,
               generator: torch.Generator) -> Any:
    """Run ``steps`` steps from ``state`` in one C++ call; returns the new state."""
    from .network import NetworkState

    pops = network.populations
    dtype = state.neurons[pops[0].name].v.dtype if pops else torch.get_default_dtype()
    ext, ext_off = _inputs(network, given, steps, batch, generator, dtype)
    pop_off, total = {}, 0
    for pop in pops:
        pop_off[pop.name] = total
        total += pop.n
    params = torch.cat([torch.stack([f.detach().to(dtype).expand(pop.n)
                                     for f in pop.neuron.params()]) for pop in pops], 1)
    pop_table = torch.tensor([[pop_off[p.name], p.n, int(reset_kind(p.neuron.reset)),
                               p.neuron.n_ref] for p in pops], dtype=torch.long)
    fields = ("i", "v", "a", "s", "ref")
    neuron_state = [torch.cat([getattr(state.neurons[p.name], f).detach().to(dtype)
                               for p in pops], 1).contiguous() for f in fields]
    projs = list(network.projections.values())
    proj_int, proj_real, ptr, post, weight, delay, g0, ring0 = [], [], [], [], [], [], [], []
    stdp_int, stdp_real, stdp_index, stdp_state = [], [], [], []
    for p in projs:
        st: ProjectionState = state.projections[p.name]
        L = len(st.ring)
        from_ext = isinstance(p.pre, InputGroup)
        pre_off = ext_off[p.pre.name] if from_ext else pop_off[p.pre.name]
        proj_int.append([0 if from_ext else 1, pre_off, p.pre.n, pop_off[p.post.name],
                         p.post.n, _KINDS[type(p.synapse)], L, st.head])
        proj_real.append(_synapse_constants(p))
        ptr.append(p.ptr.long())
        post.append(p.post_idx.long())
        weight.append(p.weight().detach().to(dtype) if p.plasticity is None
                      else p.magnitude.detach())
        delay.append(p.delay_steps.long())
        _stdp_arguments(p, st, batch, dtype, stdp_int, stdp_real, stdp_index, stdp_state)
        g0.append(st.g.detach().to(dtype))
        zero = torch.zeros(batch, p.post.n, dtype=dtype)
        ring0.append(torch.stack([zero if r is None else r.detach().to(dtype)
                                  for r in st.ring]))
    onto_ptr, onto_idx = [0], []
    for pop in pops:
        onto_idx += [k for k, p in enumerate(projs) if p.post is pop]
        onto_ptr.append(len(onto_idx))
    out = torch.ops.neuraltide.network_scan(
        params.contiguous(), pop_table, *neuron_state, ext,
        torch.tensor(proj_int, dtype=torch.long).reshape(len(projs), 8),
        torch.tensor(proj_real, dtype=torch.float64).reshape(len(projs), 3),
        ptr, post, weight, delay, g0, ring0,
        torch.tensor(onto_ptr + onto_idx, dtype=torch.long),
        torch.tensor(stdp_int, dtype=torch.long).reshape(len(projs), 5),
        torch.tensor(stdp_real, dtype=torch.float64).reshape(len(projs), 6),
        stdp_index, stdp_state)
    i, v, a, s, ref, g, ring, heads, events, magnitudes, stdp_out = out
    neurons = {}
    for pop in pops:
        sl = slice(pop_off[pop.name], pop_off[pop.name] + pop.n)
        neurons[pop.name] = pop.neuron.State(i[:, sl], v[:, sl], a[:, sl], s[:, sl],
                                             ref[:, sl])
    projections = {}
    for k, p in enumerate(projs):
        old = state.projections[p.name]
        projections[p.name] = old._replace(g=g[k], ring=tuple(ring[k].unbind(0)),
                                           head=int(heads[k]))
        if p.plasticity is not None:
            p.magnitude = magnitudes[k]
            x, y, sent = stdp_out[k].split([batch * p.pre.n, batch * p.post.n,
                                            p.max_delay_steps * batch * p.pre.n])
            projections[p.name] = projections[p.name]._replace(
                traces=PairTraces(x.view(batch, p.pre.n), y.view(batch, p.post.n)),
                sent=tuple(sent.view(p.max_delay_steps, batch, p.pre.n).unbind(0)))
    step0 = state.step
    for m in monitors:
        off, n = pop_off.get(m.group.name), m.group.n
        if off is None:  # an input group: its spikes are the given ones
            x = ext[:, :, ext_off[m.group.name]:ext_off[m.group.name] + n]
            k, b, j = x.nonzero(as_tuple=True)
            m.record_events(k + step0, b, j, batch, dtype, values=x[k, b, j].double())
        else:
            keep = (events[:, 2] >= off) & (events[:, 2] < off + n)
            k, b, j = events[keep, 0], events[keep, 1], events[keep, 2] - off
            m.record_events(k + step0, b, j, batch, dtype)
    return NetworkState(step0 + steps, neurons, projections)


def _stdp_arguments(p: Projection, st: ProjectionState, batch: int, dtype: torch.dtype,
                    ints: list, reals: list, index: list, state: list) -> None:
    """Append the op's STDP arguments of ``p`` (zeros and empty tensors when not plastic)."""
    rule = p.plasticity
    if rule is None:
        ints.append([0, 0, 0, 0, 0])
        reals.append([0.0] * 6)
        index.append(torch.empty(0, dtype=torch.long))
        state.append(torch.empty(0, dtype=dtype))
        return
    assert isinstance(rule, PairSTDP)
    sign = 0 if p.sign is None else int(p.sign.value)
    ints.append([1, int(rule.pairing is Pairing.NEAREST),
                 int(rule.dependence is WeightDependence.MULTIPLICATIVE), sign,
                 p.max_delay_steps])
    reals.append([math.exp(-p.dt / rule.tau_plus), math.exp(-p.dt / rule.tau_minus),
                  rule.a_plus, rule.a_minus, rule.w_min, rule.w_max])
    col_syn = torch.sort(p.post_idx, stable=True).indices
    col_ptr = torch.zeros(p.post.n + 1, dtype=torch.long)
    col_ptr[1:] = torch.bincount(p.post_idx, minlength=p.post.n).cumsum(0)
    index.append(torch.cat([col_ptr, col_syn, p.pre_idx.long()]))
    traces = st.traces
    state.append(torch.cat([t.detach().to(dtype).reshape(-1)
                            for t in (traces.x, traces.y, *st.sent)]))


def _synapse_constants(p: Projection) -> list[float]:
    """``[decay, current factor, e_rev]`` as the PyTorch synapse models compute them."""
    syn = p.synapse
    if isinstance(syn, Delta):
        return [0.0, 1.0, 0.0]
    decay = math.exp(-p.dt / syn.tau)
    factor = syn.tau / p.dt * -math.expm1(-p.dt / syn.tau)
    return [decay, factor, float(getattr(syn, "e_rev", 0.0))]


def available() -> str | None:
    """``None`` when the compiled op is built, else the reason it is not."""
    status = kernels.available()
    if not status.cpu:
        return f"the C++ kernels are not built ({status.error})"
    return None

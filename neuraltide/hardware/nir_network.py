r"""Population networks to and from NIR.

Each group becomes a node named after it: input groups an ``Input``, populations a ``LIF`` or
``CubaLIF`` written with the same Euler-equal parameters as layers
(:mod:`neuraltide.hardware.nir`). Each projection becomes a ``Linear`` node (its dense signed
weights) followed by a ``Delay`` node: in a NeuralTide network a spike emitted in step ``n``
with delay ``d`` reaches its target in step ``n + d/dt + 1``, so the delay written is
``(d/dt + 1)`` steps. Recurrent projections are edges back into a population's node.

The synapse model maps onto the target's node: ``Delta`` onto NIR's ``LIF`` input directly, and
``Exponential(tau)`` onto ``CubaLIF``'s synaptic current, with
:math:`\alpha = e^{-\Delta t/\tau}` and the input weight :math:`w_\text{in}` carrying the
step-mean factor :math:`c = \frac{\tau}{\Delta t}(1-\alpha)`
(:class:`~neuraltide.network.Exponential`), so :math:`i \leftarrow \alpha i + c\,W s` exactly.
The node's metadata names the synapse, which lets :func:`network_from_nir` rebuild the same
network. Refractory periods, conductance
synapses, per-synapse delays, plasticity and neuron models other than LIF have no NIR form and
raise an error naming the group or projection.
"""

from __future__ import annotations

import math
from pathlib import Path

import nir
import numpy as np
import torch

from ..network import (
    Delta,
    Exponential,
    FromMatrix,
    InputGroup,
    Network,
    Population,
    Projection,
    SpikeInput,
)
from ..neurons import LIF, Reset
from .nir import DEFAULT_DT, NIRExportError, _np, lif_from_node

__all__ = ["network_from_nir", "network_to_nir"]


def network_to_nir(network: Network, *, dt: float | None = None) -> nir.NIRGraph:
    """Write a population network as a NIR graph.

    Args:
        network: populations of ``LIF`` neurons (either form) with ``Reset.TO_VALUE`` and no
            refractory period, projections with ``Delta`` or ``Exponential`` synapses and one
            delay each.
        dt: length of one step in the graph's time unit [s]; default: the network's ``dt``
            read as milliseconds.
    """
    if not isinstance(network, Network):
        raise ValueError(f"network_to_nir: expected a Network, got {type(network).__name__}.")
    groups = list(network.groups.values())
    step = groups[0].dt
    dt = step * 1e-3 if dt is None else dt
    if not (isinstance(dt, float | int) and math.isfinite(dt) and dt > 0):
        raise ValueError(f"network_to_nir: dt must be a finite number > 0 [s], got {dt!r}.")
    onto: dict[str, list[Projection]] = {g.name: [] for g in groups}
    for p in network.projections.values():
        onto[p.post.name].append(p)
    nodes: dict[str, nir.NIRNode] = {}
    edges: list[tuple[str, str]] = []
    for g in groups:
        if isinstance(g, InputGroup):
            nodes[g.name] = nir.Input(np.array([g.n]))
        else:
            nodes[g.name] = _population_node(g, onto[g.name], dt)
    for p in network.projections.values():
        _check_projection(p)
        nodes[p.name] = nir.Linear(weight=p.dense_weight().detach().cpu().double().numpy().T)
        delay = f"{p.name}.delay"
        nodes[delay] = nir.Delay(np.full(p.post.n, (int(p.delay_steps[0]) + 1) * dt)
                                 if p.n_synapses else np.full(p.post.n, dt))
        edges += [(p.pre.name, p.name), (p.name, delay), (delay, p.post.name)]
    for g in groups:
        if isinstance(g, Population):
            nodes[f"{g.name}.output"] = nir.Output(np.array([g.n]))
            edges.append((g.name, f"{g.name}.output"))
    return nir.NIRGraph(nodes=nodes, edges=edges,
                        metadata={"dt": float(dt), "step_ms": float(step),
                                  "source": "neuraltide.network"})


def _check_projection(p: Projection) -> None:
    what = f"projection {p.name!r}"
    if p.plasticity is not None:
        raise NIRExportError(f"network_to_nir: {what} is plastic; NIR has no plasticity "
                             "(export a copy without the rule).")
    if not isinstance(p.synapse, Delta | Exponential):
        raise NIRExportError(f"network_to_nir: {what} uses a {type(p.synapse).__name__} "
                             "synapse; NIR has current-based synapses only (Delta, "
                             "Exponential).")
    if not p.uniform_delay:
        raise NIRExportError(f"network_to_nir: {what} has per-synapse delays; NIR's Delay "
                             "node delays each target neuron, so use one delay per projection.")


def _population_node(g: Population, incoming: list[Projection], dt: float) -> nir.NIRNode:
    what = f"population {g.name!r}"
    neuron = g.neuron
    if type(neuron) is not LIF:
        raise NIRExportError(f"network_to_nir: {what} holds a {type(neuron).__name__}; NIR "
                             "networks are written for LIF populations.")
    if neuron.reset is not Reset.TO_VALUE or neuron.n_ref:
        raise NIRExportError(
            f"network_to_nir: {what} uses reset={neuron.reset} with {neuron.n_ref} refractory "
            "steps; NIR's LIF resets to v_reset and has no refractory period."
        )
    if g.init:
        raise NIRExportError(f"network_to_nir: {what} has initial-state draws {list(g.init)}; "
                             "NIR graphs start at rest.")
    synapses = {p.synapse for p in incoming}
    if len(synapses) > 1:
        raise NIRExportError(f"network_to_nir: {what} receives different synapse models "
                             f"{sorted(map(repr, synapses))}; one NIR node has one synapse.")
    shape = (g.n,)
    p = neuron.params()
    beta = _np(p.beta, shape)
    tau = dt / (1 - beta)
    common = dict(r=_np(p.gain, shape) / (1 - beta), v_leak=_np(p.v_rest, shape),
                  v_threshold=_np(p.v_th, shape), v_reset=_np(p.v_reset, shape))
    syn = next(iter(synapses), Delta())
    if isinstance(syn, Exponential):
        alpha = math.exp(-g.dt / syn.tau)
        c = syn.tau / g.dt * -math.expm1(-g.dt / syn.tau)
        return nir.CubaLIF(tau_mem=tau, tau_syn=np.full(shape, dt / (1 - alpha)),
                           w_in=np.full(shape, c / (1 - alpha)), **common,
                           metadata={"synapse": "Exponential", "tau_ms": float(syn.tau)})
    return nir.LIF(tau=tau, **common, metadata={"synapse": "Delta"})


def network_from_nir(graph: nir.NIRGraph | str | Path, *, dt: float | None = None) -> Network:
    """Rebuild a :class:`~neuraltide.network.Network` from a graph written by
    :func:`network_to_nir` (or any graph of ``Input``, ``Linear``/``Affine``-free ``Linear`` →
    ``Delay`` → ``LIF``/``CubaLIF`` chains with a NeuralTide synapse in the metadata).

    Args:
        graph: the graph or a ``.nir`` file.
        dt: step [s]; default: the graph's ``metadata["dt"]``, else ``DEFAULT_DT``.
    """
    if isinstance(graph, str | Path):
        graph = nir.read(graph)
    if not isinstance(graph, nir.NIRGraph):
        raise ValueError(f"network_from_nir: graph must be a nir.NIRGraph or a path, got "
                         f"{type(graph).__name__}.")
    dt = float(graph.metadata.get("dt", DEFAULT_DT)) if dt is None else dt
    step_ms = float(graph.metadata.get("step_ms", dt * 1e3))
    groups: dict[str, object] = {}
    for key, node in graph.nodes.items():
        if isinstance(node, nir.Input):
            groups[key] = SpikeInput(int(np.prod(node.input_type["input"])), name=key,
                                     dt=step_ms)
        elif isinstance(node, nir.LIF | nir.CubaLIF):
            groups[key] = Population(int(np.asarray(node.v_threshold).size),
                                     _population_neuron(key, node, dt, step_ms), name=key)
    succ: dict[str, list[str]] = {}
    for a, b in graph.edges:
        succ.setdefault(a, []).append(b)
    projections = []
    for key, node in graph.nodes.items():
        if not isinstance(node, nir.Linear) or isinstance(node, nir.Affine):
            if isinstance(node, nir.Affine):
                raise NIRExportError(f"network_from_nir: node {key!r} is an Affine; a "
                                     "projection has no bias.")
            continue
        pre = [a for a, b in graph.edges if b == key]
        (delay_key,) = succ[key]
        delay_node = graph.nodes[delay_key]
        if not isinstance(delay_node, nir.Delay) or len(pre) != 1:
            raise NIRExportError(f"network_from_nir: projection node {key!r} must have one "
                                 "source and lead into a Delay node.")
        (post,) = succ[delay_key]
        steps = np.unique(np.round(np.asarray(delay_node.delay) / dt).astype(int))
        if steps.size != 1 or steps[0] < 1:
            raise NIRExportError(f"network_from_nir: Delay {delay_key!r} must be one whole "
                                 f"number >= 1 of steps of {dt} s, got {delay_node.delay}.")
        target = graph.nodes[post]
        synapse = (Exponential(float(target.metadata["tau_ms"]))
                   if target.metadata.get("synapse") == "Exponential" else Delta())
        w = torch.as_tensor(np.asarray(node.weight).T, dtype=torch.get_default_dtype())
        projections.append(Projection(groups[pre[0]], groups[post], FromMatrix(w), None,
                                      synapse=synapse, delay=(int(steps[0]) - 1) * step_ms,
                                      name=key))
    return Network(list(groups.values()), projections)


def _population_neuron(key: str, node: nir.NIRNode, dt: float, step_ms: float) -> LIF:
    synapse = node.metadata.get("synapse")
    if isinstance(node, nir.CubaLIF):
        if synapse != "Exponential":
            raise NIRExportError(f"network_from_nir: CubaLIF node {key!r} has no NeuralTide "
                                 "synapse in its metadata; import it as a layer with from_nir.")
        node = nir.LIF(tau=node.tau_mem, r=node.r, v_leak=node.v_leak,
                       v_threshold=node.v_threshold, v_reset=node.v_reset)
    return lif_from_node(node, dt, step_ms)

"""Partition a network onto neuromorphic cores under a hardware profile.

A model is first reduced to a :class:`SynapseGraph`: groups of neurons (:class:`Block`) and,
for each, the synapses arriving from other blocks or from external inputs. Both a trained
``nn.Sequential`` (:meth:`SynapseGraph.from_sequential`; the linear maps between two neuron
layers, ``nn.Linear`` and any ``TimeDistributed`` convolution, pooling or flattening, are composed
into one synapse matrix) and a population :class:`~neuraltide.network.Network`
(:meth:`SynapseGraph.from_network`) reduce to it.

:func:`map_to_cores` then fills cores block by block, greedily, each core holding neurons of one
block, and closes a core when one more neuron would break the profile's per-core limits
(neurons, distinct input axons, synapse memory). A single neuron that breaks a limit on its
own, or a neuron whose outputs reach more cores than the profile allows, is a
:class:`Violation` with its cause; the model is then reported as not fitting.

Profiles (:class:`CoreProfile`), with their sources:

* :data:`LOIHI`: Intel Loihi 1 — 128 cores per chip, 1,024 compartments, 4,096 input and 4,096
  output axons, 128 KiB of synaptic memory per core (Davies et al. 2018, IEEE Micro 38(1):82–99;
  the per-core limits as in NengoLoihi's hardware model).
* :data:`TRUENORTH`: IBM TrueNorth — 4,096 cores per chip, 256 neurons and 256 input axons per
  core on a 256 × 256 binary crossbar, each neuron's spike going to one axon of one core
  (Merolla et al. 2014, Science 345:668–673).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import torch
from torch import Tensor, nn

from ..training.layers import LeakyReadout, Spiking, SpikingRecurrent, TimeDistributed

__all__ = ["LOIHI", "TRUENORTH", "Block", "Core", "CoreMap", "CoreProfile", "Incoming",
           "SynapseGraph", "Violation", "map_to_cores"]


@dataclass(frozen=True, kw_only=True)
class CoreProfile:
    """Per-core limits of a neuromorphic chip (``None``: no limit)."""

    name: str
    neurons_per_core: int
    axons_per_core: int  #: distinct presynaptic sources a core can receive
    synapse_bits_per_core: int | None  #: synaptic memory [bit]
    weight_bits: int  #: bits one synapse takes in that memory
    output_axons_per_core: int | None = None  #: (neuron, target core) routes leaving a core
    max_target_cores: int | None = None  #: cores one neuron's spike can reach
    cores_per_chip: int = 1
    source: str = ""

    @property
    def synapses_per_core(self) -> int | None:
        if self.synapse_bits_per_core is None:
            return None
        return self.synapse_bits_per_core // self.weight_bits


LOIHI = CoreProfile(
    name="Loihi", neurons_per_core=1024, axons_per_core=4096, output_axons_per_core=4096,
    synapse_bits_per_core=128 * 1024 * 8, weight_bits=8, cores_per_chip=128,
    source="Davies et al. 2018, IEEE Micro 38(1):82-99; per-core limits as in NengoLoihi",
)
TRUENORTH = CoreProfile(
    name="TrueNorth", neurons_per_core=256, axons_per_core=256,
    synapse_bits_per_core=256 * 256, weight_bits=1, max_target_cores=1, cores_per_chip=4096,
    source="Merolla et al. 2014, Science 345(6197):668-673",
)


# ---- the graph ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Incoming:
    """Synapses from ``source`` (a block or an external input) into a block."""

    source: str
    pre: Tensor  #: presynaptic index per synapse (int64)
    post: Tensor  #: postsynaptic index per synapse (int64)


@dataclass(frozen=True)
class Block:
    """A group of neurons and what arrives at them."""

    name: str
    n: int
    incoming: list[Incoming] = field(default_factory=list)


@dataclass(frozen=True)
class SynapseGraph:
    """Blocks in order, plus the sizes of the external inputs."""

    blocks: list[Block]
    inputs: dict[str, int]

    @property
    def n_synapses(self) -> int:
        return sum(int(inc.pre.numel()) for b in self.blocks for inc in b.incoming)

    @classmethod
    def from_sequential(cls, model: nn.Sequential, input_shape: tuple[int, ...] | None = None
                        ) -> SynapseGraph:
        """Blocks are the ``Spiking`` / ``LeakyReadout`` / ``SpikingRecurrent`` layers; the
        synapses are the nonzero entries of the linear maps composed between them."""
        mods = list(model) if isinstance(model, nn.Sequential) else [model]
        if input_shape is None:
            if not mods or not isinstance(mods[0], nn.Linear | SpikingRecurrent):
                raise ValueError("SynapseGraph.from_sequential: input_shape is needed when the "
                                 "first layer is not nn.Linear or SpikingRecurrent.")
            first = mods[0]
            input_shape = (first.in_features if isinstance(first, nn.Linear) else first.n_in,)
        shape = tuple(input_shape)
        source = "input"
        blocks: list[Block] = []
        matrix: Tensor | None = None  # composed linear map since the last neuron layer
        for k, m in enumerate(mods):
            name = f"{k}: {type(m).__name__}"
            if isinstance(m, nn.Linear):
                w = m.weight.detach()
                matrix = w if matrix is None else w @ matrix
                shape = (*shape[:-1], m.out_features)
            elif isinstance(m, TimeDistributed):
                step = _as_matrix(m.module, shape)
                matrix = step if matrix is None else step @ matrix
                with torch.no_grad():
                    shape = tuple(m.module(torch.zeros(1, *shape)).shape[1:])
            elif isinstance(m, Spiking | LeakyReadout | SpikingRecurrent):
                incoming = []
                if isinstance(m, SpikingRecurrent):
                    w = m.input.weight.detach()
                    matrix = w if matrix is None else w @ matrix
                    shape = (m.n,)
                if matrix is None:
                    raise ValueError(f"SynapseGraph.from_sequential: {name} has no synapses "
                                     "before it (a neuron layer must follow a linear map).")
                post, pre = torch.nonzero(matrix, as_tuple=True)
                incoming.append(Incoming(source, pre, post))
                n = math.prod(shape)
                label = f"{k}: {_neuron_name(m)}"
                if isinstance(m, SpikingRecurrent):
                    post_r, pre_r = torch.nonzero(m.recurrent.weight.detach(), as_tuple=True)
                    incoming.append(Incoming(label, pre_r, post_r))
                blocks.append(Block(label, n, incoming))
                source, matrix = label, None
            else:
                raise ValueError(f"SynapseGraph.from_sequential: {name} is neither a linear map "
                                 "nor a neuron layer.")
        if not blocks:
            raise ValueError("SynapseGraph.from_sequential: the model has no neuron layer.")
        return cls(blocks, {"input": math.prod(tuple(input_shape))})

    @classmethod
    def from_network(cls, network: object) -> SynapseGraph:
        """Blocks are the populations; input groups (Poisson, given spikes) are external."""
        from ..network import Network, Population

        if not isinstance(network, Network):
            raise ValueError(f"SynapseGraph.from_network: expected a Network, got "
                             f"{type(network).__name__}.")
        blocks = {g.name: Block(g.name, g.n) for g in network.groups.values()
                  if isinstance(g, Population)}
        inputs = {g.name: g.n for g in network.groups.values() if g.name not in blocks}
        for p in network.projections.values():
            blocks[p.post.name].incoming.append(
                Incoming(p.pre.name, p.pre_idx.long(), p.post_idx.long()))
        return cls(list(blocks.values()), inputs)


def _neuron_name(m: nn.Module) -> str:
    neuron = getattr(m, "neuron", None)
    return type(neuron).__name__ if neuron is not None else type(m).__name__


def _as_matrix(module: nn.Module, shape: tuple[int, ...]) -> Tensor:
    """The matrix of a linear per-step module (bias removed) acting on flattened input."""
    n = math.prod(shape)
    with torch.no_grad():
        basis = torch.eye(n).reshape(n, *shape)
        zero = module(torch.zeros(1, *shape)).reshape(1, -1)
        out = module(basis).reshape(n, -1) - zero
    return out.T.contiguous()


# ---- the mapping ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Core:
    """One core: a contiguous range of one block's neurons."""

    index: int
    block: str
    start: int
    stop: int
    axons: int  #: distinct presynaptic sources
    synapses: int
    output_routes: int = 0  #: (neuron, target core) pairs leaving the core

    @property
    def neurons(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class Violation:
    """A limit the model breaks, and why."""

    block: str
    constraint: str
    value: int
    limit: int
    cause: str

    def __str__(self) -> str:
        return f"{self.block}: {self.constraint} {self.value} > {self.limit} ({self.cause})"


@dataclass(frozen=True)
class CoreMap:
    """Result of :func:`map_to_cores`."""

    profile: CoreProfile
    cores: list[Core]
    violations: list[Violation]

    @property
    def fits(self) -> bool:
        return not self.violations

    @property
    def chips(self) -> int:
        return math.ceil(len(self.cores) / self.profile.cores_per_chip)

    def utilisation(self) -> dict[str, float]:
        """Mean use of each per-core resource over the cores used, in [0, 1]."""
        p, n = self.profile, max(len(self.cores), 1)
        out = {"neurons": sum(c.neurons for c in self.cores) / (n * p.neurons_per_core),
               "axons": sum(c.axons for c in self.cores) / (n * p.axons_per_core)}
        if p.synapses_per_core:
            out["synapses"] = sum(c.synapses for c in self.cores) / (n * p.synapses_per_core)
        return out

    def __str__(self) -> str:
        u = ", ".join(f"{k} {v:.0%}" for k, v in self.utilisation().items())
        head = (f"{self.profile.name}: {len(self.cores)} cores on {self.chips} chip(s); "
                f"mean utilisation {u}; "
                f"{'fits' if self.fits else f'{len(self.violations)} violation(s)'}")
        per_block: dict[str, int] = {}
        for c in self.cores:
            per_block[c.block] = per_block.get(c.block, 0) + 1
        lines = [head, *(f"  {b}: {k} core(s)" for b, k in per_block.items())]
        lines += [f"  VIOLATION {v}" for v in self.violations]
        return "\n".join(lines)

    def plot(self, ax: plt.Axes | None = None) -> plt.Axes:
        """Cores as a grid of cells, coloured by block, shaded by neuron utilisation."""
        ax = ax or plt.subplots(figsize=(7, 3))[1]
        blocks = list(dict.fromkeys(c.block for c in self.cores))
        cmap = plt.get_cmap("tab10")
        cols = max(1, math.ceil(math.sqrt(len(self.cores) * 3)))
        bad = {v.block for v in self.violations}
        for c in self.cores:
            r, q = divmod(c.index, cols)
            fill = c.neurons / self.profile.neurons_per_core
            colour = cmap(blocks.index(c.block) % 10)
            ax.add_patch(plt.Rectangle((q, -r - 1), 0.9, 0.9, fill=False, ec=colour, lw=1.5))
            ax.add_patch(plt.Rectangle((q, -r - 1), 0.9, 0.9 * fill, color=colour, alpha=0.8))
            if c.block in bad:
                ax.text(q + 0.45, -r - 0.55, "!", ha="center", va="center", color="red")
        for i, b in enumerate(blocks):
            ax.plot([], [], "s", color=cmap(i % 10), label=b)
        rows = math.ceil(len(self.cores) / cols)
        ax.set_xlim(-0.2, cols + 0.1)
        ax.set_ylim(-rows - 0.2, 0.2)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
        ax.set_title(f"{self.profile.name}: {len(self.cores)} cores "
                     "(fill = neurons used)", fontsize=10)
        return ax


def map_to_cores(graph: SynapseGraph, profile: CoreProfile) -> CoreMap:
    """Greedy partition of ``graph`` onto ``profile``'s cores (see the module docstring)."""
    if not isinstance(graph, SynapseGraph):
        raise ValueError(f"map_to_cores: graph must be a SynapseGraph, got "
                         f"{type(graph).__name__}.")
    if not isinstance(profile, CoreProfile):
        raise ValueError(f"map_to_cores: profile must be a CoreProfile, got "
                         f"{type(profile).__name__}.")
    cores: list[Core] = []
    violations: list[Violation] = []
    for block in graph.blocks:
        cores += _fill(block, profile, len(cores), violations)
    _check_fan_out(graph, cores, profile, violations)
    return CoreMap(profile, cores, violations)


def _fill(block: Block, p: CoreProfile, first: int, violations: list[Violation]) -> list[Core]:
    # per postsynaptic neuron: its synapse count and its presynaptic sources
    sources: list[set[tuple[str, int]]] = [set() for _ in range(block.n)]
    fan_in = torch.zeros(block.n, dtype=torch.long)
    for inc in block.incoming:
        fan_in += torch.bincount(inc.post, minlength=block.n)
        for pre, post in zip(inc.pre.tolist(), inc.post.tolist(), strict=True):
            sources[post].add((inc.source, pre))
    syn_limit = p.synapses_per_core
    for i in range(block.n):
        if len(sources[i]) > p.axons_per_core:
            violations.append(Violation(
                block.name, "fan-in", len(sources[i]), p.axons_per_core,
                f"neuron {i} receives {len(sources[i])} distinct inputs; a {p.name} core has "
                f"{p.axons_per_core} input axons"))
            break
    if syn_limit is not None and block.n and int(fan_in.max()) > syn_limit:
        i = int(fan_in.argmax())
        violations.append(Violation(
            block.name, "synapses per neuron", int(fan_in[i]), syn_limit,
            f"neuron {i} alone needs more synapse memory than a {p.name} core has"))
    cores, start = [], 0
    axons: set[tuple[str, int]] = set()
    syn = 0
    for i in range(block.n):
        grows = axons | sources[i]
        full = (i - start + 1 > p.neurons_per_core or len(grows) > p.axons_per_core
                or (syn_limit is not None and syn + int(fan_in[i]) > syn_limit))
        if full and i > start:
            cores.append(Core(first + len(cores), block.name, start, i, len(axons), syn))
            start, axons, syn = i, set(sources[i]), int(fan_in[i])
        else:
            axons, syn = grows, syn + int(fan_in[i])
    if block.n:
        cores.append(Core(first + len(cores), block.name, start, block.n, len(axons), syn))
    return cores


def _check_fan_out(graph: SynapseGraph, cores: list[Core], p: CoreProfile,
                   violations: list[Violation]) -> None:
    core_of: dict[str, Tensor] = {}
    for c in cores:
        n = next(b.n for b in graph.blocks if b.name == c.block)
        t = core_of.setdefault(c.block, torch.zeros(n, dtype=torch.long))
        t[c.start:c.stop] = c.index
    targets: dict[tuple[str, int], set[int]] = {}
    for b in graph.blocks:
        for inc in b.incoming:
            for pre, core in zip(inc.pre.tolist(), core_of[b.name][inc.post].tolist(),
                                 strict=True):
                targets.setdefault((inc.source, pre), set()).add(core)
    if p.max_target_cores is not None:
        worst = max(((k, len(v)) for k, v in targets.items()
                     if k[0] in core_of), key=lambda kv: kv[1], default=None)
        if worst is not None and worst[1] > p.max_target_cores:
            (src, i), k = worst
            violations.append(Violation(
                src, "fan-out", k, p.max_target_cores,
                f"neuron {i} projects to {k} cores; a {p.name} neuron reaches "
                f"{p.max_target_cores} (split it with {k - p.max_target_cores} relay neurons)"))
    routes = [0] * len(cores)
    for (src, i), tgt in targets.items():
        if src in core_of:
            routes[int(core_of[src][i])] += len(tgt)
    for k, c in enumerate(cores):
        cores[k] = Core(c.index, c.block, c.start, c.stop, c.axons, c.synapses, routes[k])
        if p.output_axons_per_core is not None and routes[k] > p.output_axons_per_core:
            violations.append(Violation(
                c.block, "output axons", routes[k], p.output_axons_per_core,
                f"core {c.index} sends to {routes[k]} (neuron, core) routes"))

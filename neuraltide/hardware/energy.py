r"""Operation counts from a real run, and the energy they would cost on a chip.

A spiking network pays per **synaptic operation** (one spike arriving at one synapse) and per
**neuron update** (one neuron advanced by one step); the equivalent ANN pays one
multiply-accumulate per weight per sample. :func:`count_activity` measures the first two with
forward hooks while the model runs on real input; :func:`network_activity` does the same from a
population network's spike counts. :class:`EnergyCosts` turns them into joules.

Per-operation costs and their sources:

* :data:`LOIHI_COSTS`: 23.6 pJ per synaptic operation, 81 pJ per neuron update (Davies et al.
  2018, IEEE Micro 38(1), Table 2; the same figures as KerasSpiking's ``ModelEnergy``).
* :data:`SPINNAKER_COSTS`: 13.3 nJ per synaptic operation, 26 nJ per neuron update (as
  tabulated in KerasSpiking's ``ModelEnergy``, citing Mayr et al. 2019, arXiv:1903.08941).
* :data:`ANN_FP32_45NM` / :data:`ANN_INT8_45NM`: a 32-bit float MAC, 3.7 + 0.9 pJ, and an 8-bit
  integer MAC, 0.2 + 0.03 pJ, in 45 nm CMOS (Horowitz 2014, ISSCC, "Computing's energy
  problem"), the usual reference for the ANN side.

These are estimates of arithmetic and routing inside the chip (no off-chip memory, no host):
comparisons are meaningful between models on one row of costs, not as wall-plug measurements.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..training.layers import LeakyReadout, Spiking, SpikingRecurrent, TimeDistributed
from .mapping import _as_matrix

__all__ = ["ANN_FP32_45NM", "ANN_INT8_45NM", "LOIHI_COSTS", "SPINNAKER_COSTS", "Activity",
           "EnergyCosts", "LayerActivity", "count_activity", "network_activity"]


@dataclass(frozen=True, kw_only=True)
class EnergyCosts:
    """Energy per operation [J] of one platform."""

    name: str
    synop: float  #: per synaptic operation (SNN) or multiply-accumulate (ANN)
    neuron_update: float = 0.0  #: per neuron and step (SNN only)
    source: str = ""


LOIHI_COSTS = EnergyCosts(name="Loihi", synop=23.6e-12, neuron_update=81e-12,
                          source="Davies et al. 2018, IEEE Micro 38(1), Table 2")
SPINNAKER_COSTS = EnergyCosts(name="SpiNNaker", synop=13.3e-9, neuron_update=26e-9,
                              source="Mayr et al. 2019, arXiv:1903.08941 (via KerasSpiking)")
ANN_FP32_45NM = EnergyCosts(name="ANN fp32 MAC, 45 nm", synop=4.6e-12,
                            source="Horowitz 2014, ISSCC: 3.7 pJ multiply + 0.9 pJ add")
ANN_INT8_45NM = EnergyCosts(name="ANN int8 MAC, 45 nm", synop=0.23e-12,
                            source="Horowitz 2014, ISSCC: 0.2 pJ multiply + 0.03 pJ add")


@dataclass
class LayerActivity:
    """Counts of one layer, summed over the run (divide by ``Activity.samples`` per sample)."""

    name: str
    input_events: int = 0  #: nonzero inputs (spikes, or graded values for analog input)
    synops: int = 0  #: input events times the synapses each one reaches
    neuron_updates: int = 0  #: neurons times steps
    output_spikes: int = 0
    ann_macs: int = 0  #: multiply-accumulates of one dense ANN pass, per sample


@dataclass
class Activity:
    """Operation counts of a run of ``samples`` samples over ``steps`` steps."""

    layers: list[LayerActivity] = field(default_factory=list)
    samples: int = 1
    steps: int = 1

    @property
    def synops(self) -> float:
        """Synaptic operations per sample."""
        return sum(a.synops for a in self.layers) / self.samples

    @property
    def neuron_updates(self) -> float:
        """Neuron updates per sample."""
        return sum(a.neuron_updates for a in self.layers) / self.samples

    @property
    def ann_macs(self) -> int:
        """Multiply-accumulates of the equivalent ANN, per sample."""
        return sum(a.ann_macs for a in self.layers)

    def energy(self, costs: EnergyCosts = LOIHI_COSTS) -> float:
        """Energy per sample [J] on ``costs``."""
        return costs.synop * self.synops + costs.neuron_update * self.neuron_updates

    def ann_energy(self, costs: EnergyCosts = ANN_FP32_45NM) -> float:
        """Energy per sample [J] of the equivalent ANN, one dense pass."""
        return costs.synop * self.ann_macs

    def report(self, snn: EnergyCosts = LOIHI_COSTS, ann: EnergyCosts = ANN_FP32_45NM) -> str:
        """A per-layer table and the totals, per sample."""
        n = self.samples
        lines = [f"operations per sample ({self.steps} steps)",
                 f"{'layer':<24}{'synops':>12}{'neuron upd':>12}{'spikes':>10}{'ANN MACs':>11}"]
        for a in self.layers:
            lines.append(f"{a.name:<24}{a.synops / n:>12.0f}"
                         f"{a.neuron_updates / n:>12.0f}{a.output_spikes / n:>10.1f}"
                         f"{a.ann_macs:>11}")
        e_snn, e_ann = self.energy(snn), self.ann_energy(ann)
        lines.append(f"SNN on {snn.name}: {e_snn * 1e9:.3g} nJ ({snn.source})")
        lines.append(f"ANN, {ann.name}: {e_ann * 1e9:.3g} nJ ({ann.source})")
        lines.append(f"ratio SNN / ANN: {e_snn / e_ann:.3g}" if e_ann else "")
        return "\n".join(lines)


def count_activity(model: nn.Module, x: Tensor) -> Activity:
    """Run ``model`` on ``x`` (``(T, batch, ...)``, no gradient) and count its operations.

    Weighted layers are ``nn.Linear`` and ``TimeDistributed`` modules (convolutions, pooling:
    any linear per-step map); neuron layers are ``Spiking``, ``LeakyReadout`` and
    ``SpikingRecurrent`` (whose recurrent synapses count as well).
    """
    if not isinstance(x, Tensor) or x.dim() < 3:
        raise ValueError(f"count_activity: x must be a (T, batch, ...) tensor, got "
                         f"{getattr(x, 'shape', type(x).__name__)}.")
    if not torch.isfinite(x).all():
        raise ValueError("count_activity: x holds NaN or inf values.")
    T, B = x.shape[:2]
    rows: dict[nn.Module, LayerActivity] = {}
    fan_out: dict[nn.Module, Tensor] = {}  # synapses reached from each input position

    def weighted(name: str):
        def hook(m: nn.Module, inputs: tuple[Tensor, ...], out: Tensor) -> None:
            inp = inputs[0]
            if m not in fan_out:
                if isinstance(m, nn.Linear):
                    matrix = m.weight.detach()
                else:
                    matrix = _as_matrix(m.module, tuple(inp.shape[2:]))
                fan_out[m] = (matrix != 0).sum(0)
                rows[m] = LayerActivity(name, ann_macs=int((matrix != 0).sum()))
            events = (inp.detach() != 0).reshape(T * B, -1).sum(0)
            a = rows[m]
            a.input_events += int(events.sum())
            a.synops += int((events * fan_out[m]).sum())
        return hook

    def neuron(name: str):
        def hook(m: nn.Module, inputs: tuple[Tensor, ...], out: Tensor) -> None:
            a = rows.setdefault(m, LayerActivity(name))
            a.neuron_updates += out.numel()
            if not isinstance(m, LeakyReadout):
                a.output_spikes += int(out.detach().sum())
            if isinstance(m, SpikingRecurrent):
                # input synapses are dense; recurrent synapses fire on the previous spikes
                w_in, w_rec = m.input.weight.detach(), m.recurrent.weight.detach()
                ev_in = (inputs[0].detach() != 0).reshape(T * B, -1).sum(0)
                ev_rec = out.detach()[:-1].reshape((T - 1) * B, -1).sum(0)
                a.input_events += int(ev_in.sum() + ev_rec.sum())
                a.synops += int((ev_in * (w_in != 0).sum(0)).sum()
                                + (ev_rec * (w_rec != 0).sum(0)).sum())
                a.ann_macs = int((w_in != 0).sum() + (w_rec != 0).sum())
        return hook

    handles = []
    for name, m in model.named_modules():
        label = f"{name or 'model'}: {_label(m)}"
        linear = isinstance(m, nn.Linear) and not _wrapped(model, m)
        if linear or isinstance(m, TimeDistributed):
            handles.append(m.register_forward_hook(weighted(label)))
        elif isinstance(m, Spiking | LeakyReadout | SpikingRecurrent):
            handles.append(m.register_forward_hook(neuron(label)))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    order = [m for m in model.modules() if m in rows]
    return Activity([rows[m] for m in order], samples=B, steps=T)


def _label(m: nn.Module) -> str:
    if isinstance(m, TimeDistributed):
        return type(m.module).__name__
    if isinstance(m, Spiking):
        return type(m.neuron).__name__
    return type(m).__name__


def _wrapped(model: nn.Module, layer: nn.Module) -> bool:
    """Whether ``layer`` is counted by the layer around it."""
    return any((isinstance(m, SpikingRecurrent) and layer in (m.input, m.recurrent))
               or (isinstance(m, TimeDistributed) and m.module is layer)
               for m in model.modules())


def network_activity(network: object, spike_counts: Mapping[str, Tensor], steps: int,
                     samples: int = 1) -> Activity:
    """Counts of a population network run from the spikes each group emitted.

    Args:
        network: a :class:`~neuraltide.network.Network`.
        spike_counts: group name -> spikes per neuron ``(n,)`` over the run (every group that
            is the source of a projection, input groups included), e.g. from
            ``SpikeMonitor.count``.
        steps: steps the run took.
        samples: runs (batch entries) summed in the counts.
    """
    from ..network import Network, Population

    if not isinstance(network, Network):
        raise ValueError(f"network_activity: expected a Network, got {type(network).__name__}.")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"network_activity: steps must be an int >= 1, got {steps!r}.")
    rows = []
    for p in network.projections.values():
        counts = spike_counts.get(p.pre.name)
        if counts is None:
            raise ValueError(f"network_activity: spike_counts has no entry for "
                             f"{p.pre.name!r}, the source of projection {p.name!r}.")
        counts = torch.as_tensor(counts).reshape(-1)
        if counts.numel() != p.pre.n:
            raise ValueError(f"network_activity: spike_counts[{p.pre.name!r}] has "
                             f"{counts.numel()} entries, the group has {p.pre.n} neurons.")
        out_degree = torch.bincount(p.pre_idx.long(), minlength=p.pre.n)
        rows.append(LayerActivity(f"{p.name}: {p.pre.name}->{p.post.name}",
                                  input_events=int(counts.sum()),
                                  synops=int((counts.double() * out_degree).sum()),
                                  ann_macs=p.n_synapses))
    for g in network.groups.values():
        if isinstance(g, Population):
            spikes = spike_counts.get(g.name)
            rows.append(LayerActivity(
                f"{g.name}: {type(g.neuron).__name__}", neuron_updates=g.n * steps * samples,
                output_spikes=int(torch.as_tensor(spikes).sum()) if spikes is not None else 0))
    return Activity(rows, samples=samples, steps=steps)


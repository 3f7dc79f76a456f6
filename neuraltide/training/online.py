r"""Online training through time (OTTT; Xiao et al. 2022, NeurIPS): learning forward in time,
with memory that does not grow with the number of steps.

BPTT keeps every step's activations to run the gradient backwards through time. OTTT drops the
gradient paths through the neuron state (the temporal dependencies) and keeps, for each
synaptic layer, a presynaptic trace

.. math::
    \hat a_t = \lambda\,\hat a_{t-1} + s_t ,

with :math:`\lambda` the membrane decay :math:`\beta` of the layer the synapses feed. At every
step the loss of that step is back-propagated through the layers *of that step only*, and the
weight gradient uses the trace instead of the current spikes,

.. math::
    \Delta W \mathrel{+}= \frac{\partial \ell_t}{\partial u_t}\,\hat a_t^\top ,

which, for a leaky integrator, sums the contribution of every past input spike to the current
membrane: an eligibility trace. The forward pass is unchanged; gradients are accumulated over
the steps and applied once per batch (OTTT\ :sub:`A`). Memory is one step's graph, whatever T.

Supported models: ``nn.Sequential`` of ``nn.Linear``, ``Spiking`` (any LIF-family neuron) and a
final :class:`~neuraltide.training.LeakyReadout`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..neurons._family import LIFFamily
from .layers import LeakyReadout, Spiking
from .trainer import EpochMetrics

__all__ = ["OnlineTrainer", "trace_linear"]


def trace_linear(x: Tensor, trace: Tensor, layer: nn.Linear) -> Tensor:
    """``layer(x)`` in value, with the weight gradient taken against ``trace``: the OTTT
    synapse (the input gradient flows into ``trace``, which moves one for one with ``x``)."""
    through_trace = F.linear(trace, layer.weight, layer.bias)
    exact = F.linear(x.detach() - trace.detach(), layer.weight.detach())
    return through_trace + exact


class OnlineTrainer:
    """OTTT for a feed-forward spiking network.

    Args:
        model: ``Linear, Spiking, Linear, Spiking, ..., Linear, LeakyReadout``.
        optimizer: over ``model``'s parameters.
        encode: ``encode(x) -> (T, batch, features)``; default: identity.
        step_loss: ``step_loss(readout_membrane_t, y) -> scalar``, averaged over the steps;
            default cross-entropy.
    """

    def __init__(self, model: nn.Sequential, optimizer: torch.optim.Optimizer, *,
                 encode: Callable[[Tensor], Tensor] | None = None,
                 step_loss: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy) -> None:
        if not isinstance(model, nn.Sequential) or not len(model):
            raise ValueError("OnlineTrainer: model must be a non-empty nn.Sequential.")
        mods = list(model)
        for k, m in enumerate(mods):
            if not isinstance(m, nn.Linear | Spiking | LeakyReadout):
                raise ValueError(f"OnlineTrainer: module {k} is {type(m).__name__}; supported "
                                 "are nn.Linear, Spiking and a final LeakyReadout.")
            if isinstance(m, Spiking) and not isinstance(m.neuron, LIFFamily):
                raise ValueError(f"OnlineTrainer: module {k} holds a "
                                 f"{type(m.neuron).__name__}; the trace needs a LIF-family "
                                 "neuron's decay.")
            if isinstance(m, nn.Linear) and (k + 1 == len(mods) or isinstance(
                    mods[k + 1], nn.Linear)):
                raise ValueError(f"OnlineTrainer: nn.Linear {k} must feed a neuron layer.")
        if not isinstance(mods[-1], LeakyReadout):
            raise ValueError("OnlineTrainer: the last module must be a LeakyReadout.")
        self.model, self.optimizer, self.step_loss = model, optimizer, step_loss
        self.encode = encode or (lambda x: x)
        self.epoch = 0

    def _neuron(self, k: int) -> LIFFamily:
        m = self.model[k]
        return m.neuron if isinstance(m, Spiking) else m.integrator

    def _decay(self, k: int) -> Tensor:
        beta = self._neuron(k).params().beta.detach().flatten()
        if not bool((beta == beta[0]).all()):
            raise ValueError(f"OnlineTrainer: layer {k} has per-neuron decays; OTTT's "
                             "presynaptic trace needs one decay per layer.")
        return beta[0]

    def train_batch(self, x: Tensor, y: Tensor) -> tuple[float, int]:
        """One batch: ``T`` forward steps, each followed by its own backward; one optimizer
        step. Returns ``(mean loss, correct predictions)``."""
        x = self.encode(x)
        if x.dim() < 3 or x.shape[1] != y.shape[0]:
            raise ValueError(f"OnlineTrainer: encoded input must be (T, batch, ...) with batch "
                             f"{y.shape[0]}, got {tuple(x.shape)}.")
        T, B = x.shape[:2]
        mods = list(self.model)
        states: dict[int, Any] = {}
        traces: dict[int, Tensor] = {}
        total = torch.zeros(B, mods[-1].n, device=x.device, dtype=x.dtype)
        self.optimizer.zero_grad()
        loss_sum = 0.0
        for t in range(T):
            h = x[t]
            for k, m in enumerate(mods):
                if isinstance(m, nn.Linear):
                    lam = self._decay(k + 1)
                    traces[k] = lam * traces.get(k, torch.zeros_like(h)) + h.detach()
                    # the trace of this step holds this step's spikes: its gradient feeds h
                    tr = traces[k] - h.detach() + h
                    h = trace_linear(h, tr, m)
                    traces[k] = traces[k].detach()
                else:
                    neuron = self._neuron(k)
                    if k not in states:
                        states[k] = neuron.initial_state(h.shape, h.device, h.dtype)
                    s, new = neuron.step_fn(h, states[k], neuron.params())
                    states[k] = type(new)(*(v.detach() for v in new))
                    h = new.v if isinstance(m, LeakyReadout) else s
            loss = self.step_loss(h, y) / T
            loss.backward()
            loss_sum += float(loss.detach())
            total += h.detach()
        self.optimizer.step()
        return loss_sum, int((total.argmax(-1) == y).sum())

    def fit(self, data: Iterable, epochs: int) -> list[EpochMetrics]:
        """Train on ``(x, y)`` batches for ``epochs`` epochs."""
        if not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"OnlineTrainer.fit: epochs must be an int >= 1, got {epochs!r}.")
        history = []
        for _ in range(epochs):
            self.epoch += 1
            loss = correct = n = batches = 0
            for x, y in data:
                l_b, c_b = self.train_batch(x, y)
                loss, correct, n, batches = loss + l_b, correct + c_b, n + len(y), batches + 1
            if not n:
                raise ValueError("OnlineTrainer.fit: the data set is empty.")
            history.append(EpochMetrics(self.epoch, loss / batches, correct / n))
        return history

    @torch.no_grad()
    def evaluate(self, x: Tensor, y: Tensor) -> float:
        """Accuracy with the class of the largest readout membrane summed over time."""
        out = self.model(self.encode(x))
        return float((out.sum(0).argmax(-1) == y).float().mean())


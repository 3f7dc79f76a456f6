"""The contract between plasticity rules and the projections that run them.

A rule is a frozen object holding its parameters, with a pure :meth:`PlasticityRule.step` on a
``NamedTuple`` of traces. A projection calls it once per step, under ``torch.no_grad()`` (online
plasticity is not trained by autograd), with the spikes of that step:

* ``pre`` ``(batch, n_pre)``: presynaptic spikes *arriving* at the synapses in this step (after
  the axonal delay), 0/1;
* ``post`` ``(batch, n_post)``: postsynaptic spikes of this step, 0/1;
* ``weight``: what the projection stores (magnitudes when it has a sign): dense
  ``(n_pre, n_post)`` when ``index`` is ``None``, else values ``(S,)`` of the synapses
  ``index = (pre_idx, post_idx)``;
* ``modulator``: a neuromodulatory signal at this step (reward, dopamine), a scalar or
  ``(batch,)`` tensor, for the rules that need one (``needs_modulator``).

Weight changes of the trials of a batch are averaged (the trials share one set of weights).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, NamedTuple

import torch
from torch import Tensor

__all__ = ["PlasticityRule", "gather_outer"]


class PlasticityRule(ABC):
    """An online plasticity rule (see the module docstring for the contract)."""

    #: True for rules that read a modulator (``Network.run(modulators=...)``)
    needs_modulator: bool = False

    @abstractmethod
    def init_state(
        self, n_pre: int, n_post: int, batch: int, *, device: Any, dtype: torch.dtype,
        n_synapses: int | None = None,
    ) -> NamedTuple:
        """Traces at rest (zeros); ``n_synapses`` is given for sparse projections (rules with
        per-synapse state, such as eligibility traces, need it)."""

    @abstractmethod
    def step(
        self, state: Any, pre: Tensor, post: Tensor, weight: Tensor,
        index: tuple[Tensor, Tensor] | None, dt: float, modulator: Tensor | None = None,
    ) -> tuple[Any, Tensor]:
        """One step of ``dt`` [ms]: ``(new_state, new_weight)``."""


def gather_outer(a: Tensor, b: Tensor, index: tuple[Tensor, Tensor] | None) -> Tensor:
    """Batch mean of the outer product ``a_i b_j``: ``(n_pre, n_post)`` when ``index`` is
    ``None``, else its entries at the synapses, ``(S,)``, summed over the trials in order.

    Args:
        a: ``(batch, n_pre)``.
        b: ``(batch, n_post)``.
        index: ``(pre_idx, post_idx)`` or ``None``.
    """
    batch = a.shape[0]
    if index is None:
        return a.T @ b / batch
    pre_idx, post_idx = index
    # trials summed one after another (torch's mean(0) changes its order with the shape), so
    # that the compiled network path can repeat this sum bit for bit
    total = a[0, pre_idx] * b[0, post_idx]
    for k in range(1, batch):
        total = total + a[k, pre_idx] * b[k, post_idx]
    return total / batch

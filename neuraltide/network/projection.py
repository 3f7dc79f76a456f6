"""Projections: the synapses from one group onto a population, with weights, delays and a
synapse model.

Synapses are stored sparsely, as index pairs sorted by presynaptic neuron (a CSR layout), and
their weights as one value per synapse. Spikes are propagated one of three ways
(:class:`Propagation`), all giving the same input currents:

* ``EVENT``: only the synapses of neurons that spiked in this step (cost ~ spikes x fan-out);
  the fastest when spikes are rare, but it has no gradient through silent presynaptic neurons,
  so it is used only where no gradient flows into the presynaptic spikes;
* ``SPARSE``: every synapse, gathered (cost ~ synapses), with exact gradients;
* ``DENSE``: a matrix product with the dense ``(n_pre, n_post)`` weight matrix (built once per
  run), the fastest for dense connectivity or frequent spikes.

``AUTO`` picks per step from the number of active neurons and whether gradients are needed.

Delays (per projection or per synapse, multiples of ``dt``) use a ring of ``max_delay + 1``
slots of future arrivals on the postsynaptic side: a step writes its spikes' contributions into
the slot of their arrival step and reads the current slot; nothing is copied per step.
"""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validate import check_option
from ..plasticity import PlasticityRule
from .connectivity import Connectivity
from .init import Init, as_init
from .population import Group, Population
from .synapse import Conductance, Exponential, Synapse

__all__ = ["Projection", "ProjectionState", "Propagation", "Sign"]

#: a dense weight matrix is only built below this many entries (64 MiB in float32)
DENSE_LIMIT = 1 << 24


class Sign(Enum):
    """The sign of every weight of a projection (Dale's law)."""

    EXCITATORY = 1.0
    INHIBITORY = -1.0


class Propagation(Enum):
    """How spikes are propagated through a projection (see the module docstring)."""

    AUTO = "auto"
    EVENT = "event"
    SPARSE = "sparse"
    DENSE = "dense"


class ProjectionState(NamedTuple):
    """Per-run state of a projection.

    Attributes:
        g: synaptic variable ``(batch, n_post)`` (current [nA] or conductance [µS]).
        ring: ``max_delay + 1`` slots of future arrivals, each ``(batch, n_post)`` or ``None``
            (nothing scheduled).
        head: index of the slot of the current step.
        traces: the plasticity rule's state (``None`` without plasticity).
        sent: presynaptic spikes of the last ``delay`` steps, oldest first (plastic projections
            with a delay: the rule sees spikes when they arrive).
    """

    g: Tensor
    ring: tuple[Tensor | None, ...]
    head: int
    traces: Any = None
    sent: tuple[Tensor, ...] = ()


class Projection(nn.Module):
    """Synapses from ``pre`` onto ``post``.

    Args:
        pre: presynaptic group (a :class:`Population` or an input group).
        post: postsynaptic :class:`Population`.
        connectivity: a :class:`~neuraltide.network.connectivity.Connectivity` rule
            (``FixedProbability(0.02)``, ``AllToAll()``, ...), drawn once with ``seed``.
        weight: per-synapse weight [the synapse's unit: nA (current), µS (conductance), or 1
            for dimensionless neurons]: a number, an initialiser, or a tensor ``(S,)`` in
            synapse order; ``None`` with ``FromMatrix`` (the matrix holds the weights). With a
            ``sign`` these are magnitudes, >= 0.
        synapse: :class:`~neuraltide.network.synapse.Synapse` model.
        delay: axonal delay [ms], >= 0 and a multiple of ``dt``: a number (whole projection),
            an initialiser or a tensor ``(S,)`` (per synapse).
        sign: :class:`Sign` of every weight (Dale's law), kept during training: the effective
            weight is ``sign * relu(magnitude)`` (rectified, as in Song, Yang & Wang 2016,
            PLoS Comput Biol 12:e1004792). ``None``: weights of any sign.
        learn: make the weights an ``nn.Parameter`` (trained by gradient descent).
        plasticity: an online :class:`~neuraltide.plasticity.PlasticityRule` (STDP...) that
            changes the weights (magnitudes) during ``Network.run``, outside autograd; the
            changed weights stay in the projection after the run.
        propagation: :class:`Propagation`.
        seed: seed of the connectivity, weight and delay draws.
        name: label; default ``"{pre}_to_{post}"``.

    Example::

        >>> from neuraltide.neurons import LIF
        >>> from neuraltide.network import FixedProbability, Population, Projection, Sign
        >>> exc = Population(100, LIF(dt=0.1), name="exc")
        >>> proj = Projection(exc, exc, FixedProbability(0.1, allow_self=False), weight=0.5,
        ...                   sign=Sign.EXCITATORY, delay=1.5, seed=1)
        >>> proj.max_delay_steps             # 1.5 ms at dt = 0.1 ms
        15
        >>> 900 < proj.n_synapses < 1080    # about p * n * (n - 1) = 990
        True
    """

    def __init__(
        self,
        pre: Group,
        post: Population,
        connectivity: Connectivity,
        weight: float | Init | Tensor | None = 1.0,
        *,
        synapse: Synapse = Exponential(5.0),
        delay: float | Init | Tensor = 0.0,
        sign: Sign | None = None,
        learn: bool = False,
        propagation: Propagation = Propagation.AUTO,
        plasticity: PlasticityRule | None = None,
        seed: int = 0,
        name: str | None = None,
    ) -> None:
        super().__init__()
        owner = "Projection"
        if not isinstance(pre, Group):
            raise ValueError(f"{owner}: pre must be a Population or input group, got {pre!r}.")
        if not isinstance(post, Population):
            raise ValueError(
                f"{owner}: post must be a Population (simulated neurons), got "
                f"{type(post).__name__}."
            )
        name = f"{pre.name}_to_{post.name}" if name is None else name
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"{owner}: name must be a Python identifier, got {name!r}.")
        owner = f"Projection {name!r}"
        if pre.dt != post.dt:
            raise ValueError(
                f"{owner}: pre and post must share dt, got {pre.dt} and {post.dt} [ms]."
            )
        if not isinstance(connectivity, Connectivity):
            raise ValueError(
                f"{owner}: connectivity must be a Connectivity rule (AllToAll, "
                f"FixedProbability, ...), got {connectivity!r}."
            )
        if not isinstance(synapse, Synapse):
            raise ValueError(f"{owner}: synapse must be a Synapse model, got {synapse!r}.")
        synapse.check(owner)
        if sign is not None:
            check_option(owner, "sign", sign, Sign)
        check_option(owner, "propagation", propagation, Propagation)
        # the groups belong to the network; a tuple keeps them out of this module's children
        self._ends = (pre, post)
        self.name = name
        self.synapse, self.sign, self.learn, self.propagation = synapse, sign, learn, propagation
        self.plasticity = plasticity
        self.connectivity = connectivity
        self.dt = post.dt

        if pre is post and any(f.name == "same" for f in dataclasses.fields(connectivity)):
            connectivity = dataclasses.replace(connectivity, same=True)
        gen = torch.Generator().manual_seed(int(seed))
        pre_idx, post_idx = connectivity.build(pre.n, post.n, gen)
        S = pre_idx.numel()
        self.register_buffer("pre_idx", pre_idx)
        self.register_buffer("post_idx", post_idx)
        ptr = torch.zeros(pre.n + 1, dtype=torch.long)
        ptr[1:] = torch.bincount(pre_idx, minlength=pre.n).cumsum(0)
        self.register_buffer("ptr", ptr)

        w = self._initial_weight(owner, weight, connectivity, S, gen)
        if learn:
            self.magnitude = nn.Parameter(w)
        else:
            self.register_buffer("magnitude", w)

        steps = self._delay_steps(owner, delay, S, gen)
        self.register_buffer("delay_steps", steps)
        self.max_delay_steps = int(steps.max()) if steps.numel() else 0
        self.uniform_delay = bool(steps.numel() == 0 or (steps == steps[0]).all())
        if plasticity is not None:
            if not isinstance(plasticity, PlasticityRule):
                raise ValueError(
                    f"{owner}: plasticity must be a PlasticityRule (PairSTDP, TripletSTDP, "
                    f"...), got {plasticity!r}."
                )
            if learn:
                raise ValueError(
                    f"{owner}: learn=True and plasticity are exclusive: the weights are either "
                    "trained by gradient descent or changed by the plasticity rule."
                )
            if not self.uniform_delay:
                raise ValueError(
                    f"{owner}: plasticity needs one delay for the whole projection; "
                    "per-synapse delays with plasticity are not supported."
                )
            if propagation is Propagation.DENSE:
                raise ValueError(
                    f"{owner}: plasticity changes the weights every step; use "
                    "Propagation.AUTO, SPARSE or EVENT, not DENSE."
                )
        if propagation is Propagation.DENSE:
            if not self.uniform_delay:
                raise ValueError(
                    f"{owner}: propagation=Propagation.DENSE needs one delay for the whole "
                    "projection; per-synapse delays use SPARSE or EVENT (AUTO picks)."
                )
            if pre.n * post.n > DENSE_LIMIT:
                raise ValueError(
                    f"{owner}: propagation=Propagation.DENSE needs a dense {pre.n} x {post.n} "
                    f"matrix, more than {DENSE_LIMIT} entries; use SPARSE or EVENT."
                )

    @property
    def pre(self) -> Group:
        """Presynaptic group."""
        return self._ends[0]

    @property
    def post(self) -> Population:
        """Postsynaptic population."""
        return self._ends[1]

    # ---- construction helpers ------------------------------------------------------------
    def _initial_weight(
        self, owner: str, weight: object, connectivity: Connectivity, S: int,
        gen: torch.Generator,
    ) -> Tensor:
        given = connectivity.initial_weight()
        if given is not None:
            if weight is not None:
                raise ValueError(
                    f"{owner}: weight must be None with FromMatrix (the matrix holds the "
                    f"weights), got {weight!r}."
                )
            w = given
        else:
            if weight is None:
                raise ValueError(f"{owner}: weight must be given (a number, initialiser or "
                                 "tensor); only FromMatrix carries its own weights.")
            init = as_init(owner, "weight", weight)
            w = init.sample((S,), gen) if isinstance(init, Init) else init
        w = torch.as_tensor(w).to(torch.get_default_dtype())
        if w.dim() == 0:
            w = w.expand(S)
        if tuple(w.shape) != (S,):
            raise ValueError(
                f"{owner}: weight must have one value per synapse, shape ({S},), got "
                f"{tuple(w.shape)}."
            )
        if not bool(torch.isfinite(w).all()):
            raise ValueError(f"{owner}: weight must be finite, got NaN or inf.")
        if self.sign is not None and bool((w < 0).any()):
            raise ValueError(
                f"{owner}: with sign={self.sign} weights are magnitudes and must be >= 0, got "
                f"min {float(w.min()):g}; give the sign only through sign=."
            )
        if isinstance(self.synapse, Conductance) and bool((w < 0).any()):
            raise ValueError(
                f"{owner}: conductance weights must be >= 0 [µS] (inhibition comes from a low "
                f"e_rev), got min {float(w.min()):g}."
            )
        return w.clone()

    def _delay_steps(self, owner: str, delay: object, S: int, gen: torch.Generator) -> Tensor:
        init = as_init(owner, "delay", delay)
        d = init.sample((S,), gen) if isinstance(init, Init) else torch.as_tensor(init)
        d = d.to(torch.float64)
        if d.dim() == 0:
            d = d.expand(S)
        if tuple(d.shape) != (S,):
            raise ValueError(
                f"{owner}: delay must be a number or have one value per synapse, shape ({S},), "
                f"got {tuple(d.shape)}."
            )
        if d.numel() and (not bool(torch.isfinite(d).all()) or bool((d < 0).any())):
            raise ValueError(
                f"{owner}: delay must be >= 0 [ms], got min {float(d.min()):g}."
            )
        steps = torch.round(d / self.dt)
        # float32 delays (0.1 -> 0.10000000149) count as multiples within float32 precision
        off = d[(steps * self.dt - d).abs() > 1e-6 * d.abs().clamp(min=1.0)]
        if off.numel():
            raise ValueError(
                f"{owner}: delay must be a multiple of dt={self.dt} [ms], got "
                f"{[round(float(x), 9) for x in torch.unique(off)[:3]]}."
            )
        return steps.long()

    # ---- values ----------------------------------------------------------------------------
    @property
    def n_synapses(self) -> int:
        """Number of synapses ``S``."""
        return int(self.pre_idx.numel())

    def weight(self) -> Tensor:
        """Effective (signed) weight per synapse ``(S,)``, in synapse order."""
        if self.sign is None:
            return self.magnitude
        # rectified whether the magnitudes are trained or changed by plasticity: the sign holds
        return self.sign.value * F.relu(self.magnitude)

    def dense_weight(self) -> Tensor:
        """The weights as a dense ``(n_pre, n_post)`` matrix (0 where there is no synapse)."""
        w = self.weight()
        dense = w.new_zeros(self.pre.n, self.post.n)
        return dense.index_put((self.pre_idx, self.post_idx), w)

    # ---- simulation --------------------------------------------------------------------------
    def initial_state(self, batch: int, device: object, dtype: torch.dtype) -> ProjectionState:
        """Nothing in flight, ``g = 0``."""
        g = torch.zeros(batch, self.post.n, device=device, dtype=dtype)
        ring = (None,) * (self.max_delay_steps + 1)
        if self.plasticity is None:
            return ProjectionState(g, ring, 0)
        traces = self.plasticity.init_state(self.pre.n, self.post.n, batch, device=device,
                                            dtype=dtype, n_synapses=self.n_synapses)
        sent = tuple(torch.zeros(batch, self.pre.n, device=device, dtype=dtype)
                     for _ in range(self.max_delay_steps))
        return ProjectionState(g, ring, 0, traces, sent)

    @torch.no_grad()
    def plasticity_step(
        self, state: ProjectionState, pre_spikes: Tensor, post_spikes: Tensor,
        modulator: Tensor | None,
    ) -> ProjectionState:
        """Apply the plasticity rule for this step (after :meth:`advance`): the presynaptic
        spikes that arrive now (sent ``delay`` steps ago) and the postsynaptic spikes of this
        step. The new weights replace ``magnitude`` (a new tensor, so graphs that used the old
        weights stay valid)."""
        sent = (*state.sent, pre_spikes.detach())
        arriving, sent = sent[0], sent[1:]
        index = (self.pre_idx, self.post_idx)
        traces, w = self.plasticity.step(state.traces, arriving, post_spikes.detach(),
                                         self.magnitude.to(arriving.dtype), index, self.dt,
                                         modulator)
        self.magnitude = w.to(self.magnitude.dtype)
        return state._replace(traces=traces, sent=sent)

    def current(self, state: ProjectionState, v_post: Tensor) -> Tensor:
        """Input into ``post`` in this step, ``(batch, n_post)``."""
        return self.synapse.current(state.g, v_post, self.dt)

    def advance(
        self, state: ProjectionState, spikes: Tensor, w: Tensor, dense: Tensor | None
    ) -> ProjectionState:
        """Schedule this step's presynaptic ``spikes`` ``(batch, n_pre)``, take the arrivals
        due now, and update the synaptic variable.

        ``w`` is :meth:`weight` and ``dense`` :meth:`dense_weight` (or ``None``), computed
        once per run by the network.
        """
        ring = list(state.ring)
        L = len(ring)
        for d, contribution in self._deliver(spikes, w, dense):
            k = (state.head + d) % L
            ring[k] = contribution if ring[k] is None else ring[k] + contribution
        arrivals = ring[state.head]
        ring[state.head] = None
        if arrivals is None:
            arrivals = torch.zeros_like(state.g)
        g = self.synapse.update(state.g, arrivals, self.dt)
        return state._replace(g=g, ring=tuple(ring), head=(state.head + 1) % L)

    def _deliver(
        self, spikes: Tensor, w: Tensor, dense: Tensor | None
    ) -> list[tuple[int, Tensor]]:
        """``[(delay in steps, contribution (batch, n_post)), ...]`` of these spikes."""
        mode = self.propagation
        needs_grad = spikes.requires_grad
        if mode is Propagation.EVENT and needs_grad:
            raise RuntimeError(
                f"Projection {self.name!r}: propagation=Propagation.EVENT has no gradient "
                "through silent presynaptic neurons, and a gradient flows into the spikes of "
                f"{self.pre.name!r}; use Propagation.AUTO, SPARSE or DENSE."
            )
        if dense is not None and (mode is Propagation.DENSE or needs_grad):
            return [(int(self.delay_steps[0]) if self.n_synapses else 0, spikes @ dense)]
        if mode is Propagation.SPARSE or needs_grad:
            syn = None
        else:
            active = spikes.detach().any(0).nonzero().squeeze(1)
            if active.numel() == 0:
                return []
            if mode is Propagation.AUTO and dense is not None and self._dense_is_faster(active):
                return [(int(self.delay_steps[0]), spikes @ dense)]
            syn = self._synapses_of(active)
        return self._gather(spikes, w, syn)

    def _dense_is_faster(self, active: Tensor) -> bool:
        return self._gather_cost(active.numel()) > self.pre.n * self.post.n

    def _gather_cost(self, n_active: int) -> float:
        # measured crossover on CPU: gathering costs ~8x a multiply-add of the matmul
        return 8 * n_active * self.n_synapses / max(self.pre.n, 1)

    def _synapses_of(self, active: Tensor) -> Tensor:
        """Ids of the synapses of the ``active`` presynaptic neurons (CSR ranges)."""
        start, count = self.ptr[active], self.ptr[active + 1] - self.ptr[active]
        total = int(count.sum())
        offsets = torch.repeat_interleave(start - (count.cumsum(0) - count), count)
        return torch.arange(total, device=active.device) + offsets

    def _gather(self, spikes: Tensor, w: Tensor, syn: Tensor | None) -> list[tuple[int, Tensor]]:
        pre, post = self.pre_idx, self.post_idx
        delay = self.delay_steps
        if syn is not None:
            pre, post, w, delay = pre[syn], post[syn], w[syn], delay[syn]
        batch = spikes.shape[0]
        groups = [(int(delay[0]) if delay.numel() else 0, None)] if self.uniform_delay else [
            (int(d), delay == d) for d in torch.unique(delay)
        ]
        out = []
        for d, mask in groups:
            p, q, ww = (pre, post, w) if mask is None else (pre[mask], post[mask], w[mask])
            contribution = spikes[:, p] * ww
            target = spikes.new_zeros(batch, self.post.n)
            out.append((d, target.index_add(1, q, contribution)))
        return out

    def extra_repr(self) -> str:
        sign = f", sign={self.sign.name}" if self.sign is not None else ""
        if self.plasticity is not None:
            sign += f", plasticity={type(self.plasticity).__name__}"
        return (f"{self.pre.name} -> {self.post.name}, synapses={self.n_synapses}, "
                f"synapse={self.synapse}, max_delay={self.max_delay_steps * self.dt:g} ms{sign}"
                f", learn={self.learn}")


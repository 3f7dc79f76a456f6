r"""Spike-timing-dependent plasticity with traces: pair-based, triplet and reward-modulated.

All rules keep exponentially decaying traces of past spikes (decayed exactly per step) and
update weights when a spike arrives. Within one step the order is Brian2's for an STDP synapse
with ``on_pre`` created before ``on_post``: traces decay; presynaptic spikes depress by the
postsynaptic trace and then bump the presynaptic trace; postsynaptic spikes potentiate by the
presynaptic trace (which already includes this step's presynaptic spike, so a pair at
:math:`\Delta t = 0` potentiates) and then bump the postsynaptic trace.

For a single pair with :math:`\Delta t = t_\text{post} - t_\text{pre}`, the pair rule gives
the classic window (Bi & Poo 1998; Song, Miller & Abbott 2000):

.. math::
    \Delta w = A_+ e^{-\Delta t/\tau_+} \;(\Delta t \ge 0), \qquad
    \Delta w = -A_- e^{\Delta t/\tau_-} \;(\Delta t < 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any, NamedTuple

import torch
from torch import Tensor

from .._validate import check_option
from ._base import PlasticityRule, gather_outer

__all__ = [
    "PairSTDP",
    "PairTraces",
    "Pairing",
    "RewardModulatedSTDP",
    "RewardTraces",
    "TripletSTDP",
    "TripletTraces",
    "WeightDependence",
]


class Pairing(Enum):
    """Which spike pairs interact.

    ``ALL_TO_ALL``: every pre spike with every post spike (traces add up, ``x += 1``).
    ``NEAREST``: each spike with the nearest spike of the other side only (traces are reset to
    1, ``x = 1``; the "nearest-spike" interaction of Morrison, Diesmann & Gerstner 2008).
    """

    ALL_TO_ALL = "all_to_all"
    NEAREST = "nearest"


class WeightDependence(Enum):
    r"""How a change depends on the current weight.

    ``ADDITIVE``: :math:`\Delta w` independent of ``w``, then kept in ``[w_min, w_max]`` (hard
    bounds; Song, Miller & Abbott 2000). ``MULTIPLICATIVE``: potentiation scaled by
    :math:`w_\max - w`, depression by :math:`w - w_\min` (soft bounds; van Rossum, Bi &
    Turrigiano 2000): ``w`` approaches the bounds without crossing them as long as each
    step's relative change (``a_plus`` times the trace) stays below 1.
    """

    ADDITIVE = "additive"
    MULTIPLICATIVE = "multiplicative"


def _positive(owner: str, name: str, value: float, unit: str) -> None:
    if not isinstance(value, (int, float)) or not (0 < value < math.inf):
        raise ValueError(f"{owner}: {name} must be > 0 [{unit}], got {value!r}.")


def _non_negative(owner: str, name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or not (0 <= value < math.inf):
        raise ValueError(f"{owner}: {name} must be >= 0, got {value!r}.")


def _bump(trace: Tensor, spikes: Tensor, pairing: Pairing) -> Tensor:
    if pairing is Pairing.ALL_TO_ALL:
        return trace + spikes
    return torch.where(spikes > 0, torch.ones_like(trace), trace)


def _apply(w: Tensor, potentiation: Tensor, depression: Tensor, w_min: float, w_max: float,
           dependence: WeightDependence) -> Tensor:
    """``w`` plus the change (``potentiation`` and ``depression`` are >= 0)."""
    if dependence is WeightDependence.MULTIPLICATIVE:
        return w + potentiation * (w_max - w) - depression * (w - w_min)
    return (w + potentiation - depression).clamp(w_min, w_max)


@dataclass(frozen=True, kw_only=True)
class _Bounds:
    w_min: float = 0.0
    w_max: float = 1.0
    dependence: WeightDependence = WeightDependence.ADDITIVE

    def _check_bounds(self, owner: str) -> None:
        if not (isinstance(self.w_min, (int, float)) and isinstance(self.w_max, (int, float))
                and math.isfinite(self.w_min) and math.isfinite(self.w_max)
                and self.w_min < self.w_max):
            raise ValueError(
                f"{owner}: w_max must be > w_min, both finite, got w_min={self.w_min!r}, "
                f"w_max={self.w_max!r}."
            )
        check_option(owner, "dependence", self.dependence, WeightDependence)


class PairTraces(NamedTuple):
    """Traces of :class:`PairSTDP`: presynaptic ``x`` ``(batch, n_pre)`` and postsynaptic
    ``y`` ``(batch, n_post)``."""

    x: Tensor
    y: Tensor


@dataclass(frozen=True, kw_only=True)
class PairSTDP(PlasticityRule, _Bounds):
    """Pair-based STDP with traces.

    Args:
        a_plus: potentiation amplitude, >= 0 (weight units; relative for multiplicative).
        a_minus: depression amplitude, >= 0.
        tau_plus: presynaptic trace time constant [ms], > 0.
        tau_minus: postsynaptic trace time constant [ms], > 0.
        w_min, w_max: weight bounds, ``w_min < w_max``.
        dependence: :class:`WeightDependence`.
        pairing: :class:`Pairing`.

    Example (one pair, post 10 ms after pre)::

        >>> import torch
        >>> rule = PairSTDP(a_plus=0.01, a_minus=0.012, tau_plus=20.0, tau_minus=20.0)
        >>> s = rule.init_state(1, 1, 1, device=None, dtype=torch.float64)
        >>> w = torch.full((1, 1), 0.5, dtype=torch.float64)
        >>> one, zero = torch.ones_like(w), torch.zeros_like(w)
        >>> s, w = rule.step(s, one, zero, w, None, dt=1.0)          # pre at t = 0
        >>> for _ in range(9):
        ...     s, w = rule.step(s, zero, zero, w, None, dt=1.0)
        >>> s, w = rule.step(s, zero, one, w, None, dt=1.0)          # post at t = 10 ms
        >>> round(float(w - 0.5), 6), round(0.01 * math.exp(-10 / 20), 6)
        (0.006065, 0.006065)
    """

    a_plus: float = 0.01
    a_minus: float = 0.0105
    tau_plus: float = 20.0
    tau_minus: float = 20.0
    pairing: Pairing = Pairing.ALL_TO_ALL

    def __post_init__(self) -> None:
        owner = type(self).__name__
        _non_negative(owner, "a_plus", self.a_plus)
        _non_negative(owner, "a_minus", self.a_minus)
        _positive(owner, "tau_plus", self.tau_plus, "ms")
        _positive(owner, "tau_minus", self.tau_minus, "ms")
        check_option(owner, "pairing", self.pairing, Pairing)
        self._check_bounds(owner)

    def init_state(self, n_pre: int, n_post: int, batch: int, *, device: Any,
                   dtype: torch.dtype, n_synapses: int | None = None) -> PairTraces:
        return PairTraces(torch.zeros(batch, n_pre, device=device, dtype=dtype),
                          torch.zeros(batch, n_post, device=device, dtype=dtype))

    def window(self, delta_t: Tensor) -> Tensor:
        """The analytic weight change of one isolated pair, ``delta_t = t_post - t_pre`` [ms]
        (additive dependence, far from the bounds)."""
        return torch.where(delta_t >= 0, self.a_plus * torch.exp(-delta_t / self.tau_plus),
                           -self.a_minus * torch.exp(delta_t / self.tau_minus))

    def changes(self, state: PairTraces, pre: Tensor, post: Tensor,
                index: tuple[Tensor, Tensor] | None, dt: float
                ) -> tuple[PairTraces, Tensor, Tensor]:
        """This step's traces, potentiation and depression (both >= 0, shaped like the
        weight), before any weight dependence."""
        x = state.x * math.exp(-dt / self.tau_plus)
        y = state.y * math.exp(-dt / self.tau_minus)
        depression = self.a_minus * gather_outer(pre, y, index)
        x = _bump(x, pre, self.pairing)
        potentiation = self.a_plus * gather_outer(x, post, index)
        y = _bump(y, post, self.pairing)
        return PairTraces(x, y), potentiation, depression

    def step(self, state: PairTraces, pre: Tensor, post: Tensor, weight: Tensor,
             index: tuple[Tensor, Tensor] | None, dt: float,
             modulator: Tensor | None = None) -> tuple[PairTraces, Tensor]:
        traces, potentiation, depression = self.changes(state, pre, post, index, dt)
        w = _apply(weight, potentiation, depression, self.w_min, self.w_max, self.dependence)
        return traces, w


class TripletTraces(NamedTuple):
    """Traces of :class:`TripletSTDP`: presynaptic ``r1`` (tau_plus), ``r2`` (tau_x) and
    postsynaptic ``o1`` (tau_minus), ``o2`` (tau_y)."""

    r1: Tensor
    r2: Tensor
    o1: Tensor
    o2: Tensor


@dataclass(frozen=True, kw_only=True)
class TripletSTDP(PlasticityRule, _Bounds):
    r"""Triplet STDP (Pfister & Gerstner 2006, J Neurosci 26:9673).

    .. math::
        \text{pre spike:}\; w \mathrel{-}= o_1 (A_2^- + A_3^- r_2), \qquad
        \text{post spike:}\; w \mathrel{+}= r_1 (A_2^+ + A_3^+ o_2),

    with :math:`r_2` and :math:`o_2` taken *before* the spike's own increment. The pairing
    protocol's frequency dependence (depression at low, potentiation at high pairing rates)
    comes from the triplet terms. Use :meth:`visual_cortex` for the published fits.

    Args:
        a2_plus, a3_plus, a2_minus, a3_minus: amplitudes, >= 0.
        tau_plus, tau_minus, tau_x, tau_y: trace time constants [ms], > 0.
        w_min, w_max, dependence: as in :class:`PairSTDP`.
        pairing: :class:`Pairing` of all four traces.
    """

    a2_plus: float = 5e-10
    a3_plus: float = 6.2e-3
    a2_minus: float = 7e-3
    a3_minus: float = 2.3e-4
    tau_plus: float = 16.8
    tau_minus: float = 33.7
    tau_x: float = 101.0
    tau_y: float = 125.0
    pairing: Pairing = Pairing.ALL_TO_ALL

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for name in ("a2_plus", "a3_plus", "a2_minus", "a3_minus"):
            _non_negative(owner, name, getattr(self, name))
        for name in ("tau_plus", "tau_minus", "tau_x", "tau_y"):
            _positive(owner, name, getattr(self, name), "ms")
        check_option(owner, "pairing", self.pairing, Pairing)
        self._check_bounds(owner)

    @classmethod
    def visual_cortex(cls, pairing: Pairing = Pairing.ALL_TO_ALL, **bounds: Any) -> TripletSTDP:
        """The fits to visual-cortex slice data (Sjöström et al. 2001) in Pfister & Gerstner
        (2006), Table 4: the all-to-all or the nearest-spike model."""
        if pairing is Pairing.ALL_TO_ALL:
            return cls(a2_plus=5e-10, a3_plus=6.2e-3, a2_minus=7e-3, a3_minus=2.3e-4,
                       tau_plus=16.8, tau_minus=33.7, tau_x=101.0, tau_y=125.0,
                       pairing=pairing, **bounds)
        return cls(a2_plus=8.8e-11, a3_plus=5.3e-2, a2_minus=6.6e-3, a3_minus=3.1e-3,
                   tau_plus=16.8, tau_minus=33.7, tau_x=714.0, tau_y=40.0, pairing=pairing,
                   **bounds)

    def init_state(self, n_pre: int, n_post: int, batch: int, *, device: Any,
                   dtype: torch.dtype, n_synapses: int | None = None) -> TripletTraces:
        pre = torch.zeros(batch, n_pre, device=device, dtype=dtype)
        post = torch.zeros(batch, n_post, device=device, dtype=dtype)
        return TripletTraces(pre, pre.clone(), post, post.clone())

    def step(self, state: TripletTraces, pre: Tensor, post: Tensor, weight: Tensor,
             index: tuple[Tensor, Tensor] | None, dt: float,
             modulator: Tensor | None = None) -> tuple[TripletTraces, Tensor]:
        r1 = state.r1 * math.exp(-dt / self.tau_plus)
        r2 = state.r2 * math.exp(-dt / self.tau_x)
        o1 = state.o1 * math.exp(-dt / self.tau_minus)
        o2 = state.o2 * math.exp(-dt / self.tau_y)
        depression = gather_outer(pre * (self.a2_minus + self.a3_minus * r2), o1, index)
        r1, r2 = _bump(r1, pre, self.pairing), _bump(r2, pre, self.pairing)
        potentiation = gather_outer(r1, post * (self.a2_plus + self.a3_plus * o2), index)
        o1, o2 = _bump(o1, post, self.pairing), _bump(o2, post, self.pairing)
        w = _apply(weight, potentiation, depression, self.w_min, self.w_max, self.dependence)
        return TripletTraces(r1, r2, o1, o2), w


class RewardTraces(NamedTuple):
    """Traces of :class:`RewardModulatedSTDP`: the pair traces and the eligibility ``c``,
    shaped like the weight."""

    x: Tensor
    y: Tensor
    c: Tensor


@dataclass(frozen=True, kw_only=True)
class RewardModulatedSTDP(PlasticityRule):
    r"""Reward-modulated STDP with eligibility traces (Izhikevich 2007, Cereb Cortex 17:2443;
    Frémaux & Gerstner 2016).

    The pair rule's changes go into an eligibility trace instead of the weight, and the weight
    follows the eligibility times the modulator :math:`M(t)` (reward or dopamine):

    .. math::
        \tau_c \dot c = -c + \text{STDP}(t), \qquad \dot w = \eta\, c\, M(t).

    Per step: ``c`` decays exactly and takes the pair rule's change; then
    ``w += lr * c * M * dt`` [dt in ms], kept in ``[w_min, w_max]``. Without a modulator
    (``M = 0``) no weight changes.

    Args:
        stdp: the :class:`PairSTDP` whose window fills the eligibility (its bounds and weight
            dependence are not used).
        tau_c: eligibility time constant [ms], > 0 (1000 in Izhikevich 2007).
        lr: learning rate :math:`\eta` [1/ms per unit modulator], >= 0.
        w_min, w_max: weight bounds.
    """

    stdp: PairSTDP = PairSTDP()
    tau_c: float = 1000.0
    lr: float = 1.0
    w_min: float = 0.0
    w_max: float = 1.0

    needs_modulator = True

    def __post_init__(self) -> None:
        owner = type(self).__name__
        if not isinstance(self.stdp, PairSTDP):
            raise ValueError(f"{owner}: stdp must be a PairSTDP, got {self.stdp!r}.")
        _positive(owner, "tau_c", self.tau_c, "ms")
        _non_negative(owner, "lr", self.lr)
        _Bounds(w_min=self.w_min, w_max=self.w_max)._check_bounds(owner)

    def init_state(self, n_pre: int, n_post: int, batch: int, *, device: Any,
                   dtype: torch.dtype, n_synapses: int | None = None) -> RewardTraces:
        x, y = self.stdp.init_state(n_pre, n_post, batch, device=device, dtype=dtype)
        shape = (n_pre, n_post) if n_synapses is None else (n_synapses,)
        return RewardTraces(x, y, torch.zeros(shape, device=device, dtype=dtype))

    def step(self, state: RewardTraces, pre: Tensor, post: Tensor, weight: Tensor,
             index: tuple[Tensor, Tensor] | None, dt: float,
             modulator: Tensor | None = None) -> tuple[RewardTraces, Tensor]:
        if modulator is None:
            raise ValueError(
                "RewardModulatedSTDP: a modulator is needed at every step; pass "
                "Network.run(modulators={projection: reward over time})."
            )
        pair, potentiation, depression = self.stdp.changes(
            PairTraces(state.x, state.y), pre, post, index, dt)
        c = state.c * math.exp(-dt / self.tau_c) + potentiation - depression
        m = torch.as_tensor(modulator, device=weight.device, dtype=weight.dtype).mean()
        w = (weight + self.lr * c * m * dt).clamp(self.w_min, self.w_max)
        return RewardTraces(pair.x, pair.y, c), w

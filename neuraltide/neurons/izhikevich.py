r"""The Izhikevich (2003) simple model of spiking neurons.

.. math::

    \frac{dv}{dt} = 0.04\,v^2 + 5\,v + 140 - u + I, \qquad
    \frac{du}{dt} = a\,(b\,v - u), \qquad
    \text{if } v \ge v_\text{peak}:\ v \leftarrow c,\ u \leftarrow u + d

(E. M. Izhikevich, "Simple model of spiking neurons", IEEE Trans. Neural Netw. 14(6):1569–1572,
2003). Time is in ms and :math:`v` in mV; the constants 0.04, 5 and 140 were fitted so that
:math:`v` reads as a cortical membrane potential. :math:`u` (recovery) and the input :math:`I`
are in the paper's units: they enter :math:`dv/dt` with coefficient 1, so they are in mV/ms
(equivalently, a current for a membrane capacitance of 1). ``I = 10`` is the step of DC current
of the paper's Fig. 2.

**Spike-time convention.** As in the paper's code (``fired = v >= 30; v(fired) = c; u(fired) =
u + d`` at the start of each step, then integrate), the state keeps the membrane *before* its
reset and the last spike ``s``; a step first applies the previous step's reset, then
integrates, then detects (:math:`v > v_\text{peak}`, strictly, as every spike in NeuralTide;
the paper's ``>=`` differs only when :math:`v` lands exactly on the peak). A spike at output
index ``n`` means :math:`v` crossed :math:`v_\text{peak}` during the step from :math:`t_n` to
:math:`t_{n+1}`; it is stamped at :math:`t_{n+1} = (n+1)\Delta t`, the time of the sample
``v[n]``, which is then above :math:`v_\text{peak}` (the paper plots it as 30 mV). The reset
value :math:`c` itself is never a sample: sample ``v[n+1]`` is :math:`c` integrated over one
step.

**Schemes** (:class:`IzhikevichScheme`):

* ``RK4`` (default): classic Runge–Kutta on the ODE. The quadratic term makes :math:`v` blow
  up in finite time just past the peak (from 30 mV to infinity in about 0.3 ms), which the
  stage evaluations of a step crossing the peak would chase into overflow; the vector field is
  therefore evaluated with :math:`v` clipped at :math:`v_\text{peak}` inside the step. This
  changes nothing below the peak, where the trajectory lives, and keeps every step finite.
* ``PAPER``: the paper's published scheme, generalised to ``dt``: :math:`v` by two forward-Euler
  half steps of :math:`\Delta t/2` (the paper: two steps of 0.5 ms "for numerical stability"),
  then :math:`u` by one forward-Euler step using the new :math:`v`. At ``dt = 1`` ms it
  reproduces the paper's code exactly (tested), but that is a coarse discretisation of the
  ODE: for fast spiking (FS, ``a = 0.1``) it fires 21 spikes in 300 ms where the ODE fires 42.

Accuracy against the ODE with an exact reset at the crossing (event-driven ``solve_ivp``,
``tests/neurons/test_izhikevich.py``), Fig. 2 presets under ``I = 10``: ``RK4`` at
``dt = 0.1`` ms gives rates within 3% and inter-spike intervals within 0.4 ms (the last spike
of a chattering burst, near a fold, within 1 ms); at ``dt = 0.01`` ms intervals within
0.1 ms. The error is first order in ``dt`` whatever the scheme, because the reset acts at the
end of the step in which :math:`v` crossed the peak (up to one step late). ``PAPER`` at
``dt = 0.1`` ms is several times less accurate (intervals off by about 1 ms for the tonic
presets, and a different burst structure for CH); at ``dt = 0.01`` ms it agrees with ``RK4``
within 0.1 ms (RS, tested).

Per-step input ``x`` is :math:`I`, held constant over the step.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any, NamedTuple

import torch
from torch import Tensor

from .._params import ParamSpec
from .._validate import check_option
from ..integrate import rk4
from ..surrogate import ATan, Surrogate, spike
from ..surrogate import check as check_surrogate
from ._base import NeuronModel

__all__ = [
    "Izhikevich",
    "IzhikevichParams",
    "IzhikevichPreset",
    "IzhikevichScheme",
    "IzhikevichState",
    "izhikevich_derivatives",
    "izhikevich_step",
]

Value = float | Tensor


class IzhikevichScheme(Enum):
    """Integration scheme of :class:`Izhikevich` (see the module docstring)."""

    RK4 = "rk4"  #: Runge–Kutta 4 with v clipped at v_peak inside the step (default)
    PAPER = "paper"  #: the paper's two half steps for v, one Euler step for u


class IzhikevichPreset(Enum):
    """The cortical and thalamic cell classes of the paper's Fig. 2, as ``(a, b, c, d)``."""

    RS = (0.02, 0.2, -65.0, 8.0)  #: regular spiking: tonic spiking with adaptation
    IB = (0.02, 0.2, -55.0, 4.0)  #: intrinsically bursting: an initial burst, then tonic
    CH = (0.02, 0.2, -50.0, 2.0)  #: chattering: repetitive bursts of closely spaced spikes
    FS = (0.1, 0.2, -65.0, 2.0)  #: fast spiking: high rate, brief weak adaptation (~20 ms)
    LTS = (0.02, 0.25, -65.0, 2.0)  #: low-threshold spiking: high initial rate, adaptation
    TC = (0.02, 0.25, -65.0, 0.05)  #: thalamo-cortical: tonic, or rebound burst after hyperpol.
    RZ = (0.1, 0.26, -65.0, 2.0)  #: resonator: damped subthreshold oscillations


class IzhikevichParams(NamedTuple):
    """Parameters of :func:`izhikevich_step` (tensors broadcastable to the state)."""

    a: Tensor  #: time scale of the recovery variable u [1/ms]
    b: Tensor  #: sensitivity of u to subthreshold v [1/ms] (u is in mV/ms, v in mV)
    c: Tensor  #: after-spike reset value of v [mV]
    d: Tensor  #: after-spike increment of u [paper units, mV/ms]
    v_peak: Tensor  #: spike cut-off [mV]


class IzhikevichState(NamedTuple):
    """State of an Izhikevich neuron (each shaped like one time step of input)."""

    v: Tensor  #: membrane potential before the pending reset [mV]
    u: Tensor  #: recovery variable before the pending reset [paper units, mV/ms]
    s: Tensor  #: spike of the last step (0.0 / 1.0): its reset is applied at the next step


def izhikevich_derivatives(
    v: Tensor, u: Tensor, i: Tensor, p: IzhikevichParams
) -> tuple[Tensor, Tensor]:
    """The vector field :math:`(dv/dt, du/dt)` [mV/ms, mV/ms²], the one copy of the equations
    used by both schemes; ``i`` is :math:`I` [mV/ms]."""
    dv = 0.04 * v**2 + 5.0 * v + 140.0 - u + i  # the paper's order of operations
    du = p.a * (p.b * v - u)
    return dv, du


def izhikevich_step(
    x: Tensor,
    state: IzhikevichState,
    p: IzhikevichParams,
    *,
    dt: float,
    scheme: IzhikevichScheme,
    surrogate: Surrogate,
    detach_reset: bool,
) -> tuple[Tensor, IzhikevichState]:
    """One step of the Izhikevich model (pure: reads only its arguments, writes nothing).

    Order: the previous step's reset (:math:`v \\leftarrow c`, :math:`u \\leftarrow u + d`
    where ``state.s`` is 1), integration over ``dt`` by ``scheme``, spike detection
    :math:`s = H(v - v_\\text{peak})` with ``surrogate``'s gradient.

    Args:
        x: input :math:`I` of this step [paper units, mV/ms], shape ``(batch..., *neurons)``.
        state: :class:`IzhikevichState` from the previous step.
        p: :class:`IzhikevichParams`.
        dt: step [ms].
        scheme: :class:`IzhikevichScheme`.
        surrogate: surrogate gradient of the spike, a function of :math:`v - v_\\text{peak}`.
        detach_reset: if True, no gradient flows through the spike into the reset (the reset
            values ``c`` and ``d`` still receive gradients).

    Returns:
        ``(spikes, new_state)``.
    """
    s_prev = state.s.detach() if detach_reset else state.s
    v = (1.0 - s_prev) * state.v + s_prev * p.c  # exactly c where s_prev = 1
    u = state.u + s_prev * p.d
    if scheme is IzhikevichScheme.RK4:

        def field(y: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
            return izhikevich_derivatives(torch.minimum(y[0], p.v_peak), y[1], x, p)

        v, u = rk4(field, (v, u), dt)
    else:
        half = 0.5 * dt
        v = v + half * izhikevich_derivatives(v, u, x, p)[0]
        v = v + half * izhikevich_derivatives(v, u, x, p)[0]
        u = u + dt * izhikevich_derivatives(v, u, x, p)[1]
    s = spike(v - p.v_peak, surrogate)
    return s, IzhikevichState(v, u, s)


_SPECS = {
    s.name: s
    for s in (
        ParamSpec("a", 0.02, "1/ms", "Time scale of the recovery variable u (rate of recovery).",
                  0.0, None, True, typical=(0.005, 0.2)),
        ParamSpec("b", 0.2, "1/ms", "Sensitivity of the recovery variable u to subthreshold v.",
                  typical=(0.0, 0.3)),
        ParamSpec("c", -65.0, "mV", "After-spike reset value of v.", typical=(-80.0, -40.0)),
        ParamSpec("d", 8.0, "mV/ms", "After-spike increment of u (paper units).",
                  typical=(0.0, 10.0)),
        ParamSpec("v_peak", 30.0, "mV", "Spike cut-off: v >= v_peak is a spike, then reset.",
                  typical=(20.0, 40.0)),
    )
}


class Izhikevich(NeuronModel):
    r"""Izhikevich (2003) neuron: two variables, four parameters, the main cortical firing
    patterns (equations, units, spike-time convention and schemes in
    :mod:`neuraltide.neurons.izhikevich`).

    .. math::
        \dot v = 0.04 v^2 + 5 v + 140 - u + I,\quad \dot u = a(bv - u),\quad
        v \ge v_\text{peak} \Rightarrow v \leftarrow c,\ u \leftarrow u + d.

    The neuron starts at rest, the stable fixed point of the ODE with :math:`I = 0`,
    :math:`v_0 = \big(-(5-b) - \sqrt{(5-b)^2 - 22.4}\big)/0.08` and :math:`u_0 = b v_0`
    (-70 mV for ``b = 0.2``); for ``b`` above about 0.267, where no resting state exists, it
    starts at the paper's :math:`v_0 = -65`, :math:`u_0 = b v_0`. Named cell classes of the
    paper's Fig. 2 come from :meth:`preset`.

    Args:
        a: time scale of recovery [1/ms], > 0.
        b: sensitivity of recovery to subthreshold v [1/ms] (u is in mV/ms, v in mV).
        c: reset value of v [mV], < ``v_peak``.
        d: after-spike increment of u [mV/ms, paper units].
        v_peak: spike cut-off [mV] (30 in the paper).
        scheme: :class:`IzhikevichScheme`; default ``RK4`` (accurate); ``PAPER`` reproduces the
            paper's code at ``dt = 1``.
        detach_reset: stop gradients through the spike into the reset.
        surrogate: spike surrogate gradient, a function of :math:`v - v_\text{peak}` [mV].
        dt: step [ms], > 0 (default 0.1, the time resolution of the paper's Fig. 2).
        shape: per-neuron parameter shape, e.g. ``(128,)``; ``()`` shares one value per layer.
        learn: names of parameters to train, e.g. ``("a", "b", "c", "d")``.

    Shape:
        input ``(T, batch..., *shape)``, :math:`I` [paper units]; output spikes of the same shape.

    Example::

        >>> import torch
        >>> from neuraltide.neurons import Izhikevich
        >>> rs = Izhikevich.preset("RS")                 # dt = 0.1 ms, RK4
        >>> spikes, state = rs(torch.full((2000, 1), 10.0))   # 200 ms of I = 10
        >>> isi = spikes[:, 0].nonzero().flatten().diff() * rs.dt
        >>> bool(isi[-1] > 2 * isi[0])                   # regular spiking adapts
        True
    """

    State = IzhikevichState

    def __init__(
        self,
        *,
        a: Value = 0.02,
        b: Value = 0.2,
        c: Value = -65.0,
        d: Value = 8.0,
        v_peak: Value = 30.0,
        scheme: IzhikevichScheme = IzhikevichScheme.RK4,
        detach_reset: bool = True,
        surrogate: Surrogate = ATan(),
        dt: float = 0.1,
        shape: tuple[int, ...] = (),
        learn: Sequence[str] = (),
    ) -> None:
        super().__init__(dt=dt)
        owner = type(self).__name__
        check_option(owner, "scheme", scheme, IzhikevichScheme)
        check_surrogate(owner, surrogate)
        self.scheme = scheme
        self.surrogate = surrogate
        self.detach_reset = bool(detach_reset)
        self._init_params(
            list(_SPECS.values()), dict(a=a, b=b, c=c, d=d, v_peak=v_peak), learn, shape
        )
        c_t, peak = torch.broadcast_tensors(
            self.value("c").detach(), self.value("v_peak").detach()
        )
        bad = (c_t >= peak).flatten()
        if bad.any():
            k = int(bad.nonzero()[0])
            raise ValueError(
                f"{owner}: c must be < v_peak={peak.flatten()[k].item()!r} [mV], "
                f"got {c_t.flatten()[k].item()!r}; a reset at or above the peak would spike "
                "on every step."
            )
        a_max = self.value("a").detach().max().item()
        if scheme is IzhikevichScheme.PAPER and a_max * self.dt >= 2.0:
            raise ValueError(
                f"{owner}: dt={self.dt} ms exceeds 2/a={2 / a_max:g} ms, where the forward-"
                "Euler update of u in IzhikevichScheme.PAPER is unstable; use "
                "IzhikevichScheme.RK4 or a smaller dt."
            )

    @classmethod
    def preset(
        cls, name: str | IzhikevichPreset, *, dt: float = 0.1, **kwargs: Any
    ) -> Izhikevich:
        """A neuron of one of the paper's Fig. 2 cell classes.

        Args:
            name: an :class:`IzhikevichPreset` or its name: ``"RS"``, ``"IB"``, ``"CH"``,
                ``"FS"``, ``"LTS"``, ``"TC"``, ``"RZ"``.
            dt: step [ms].
            **kwargs: any other argument of :class:`Izhikevich` (``scheme``, ``shape``,
                ``learn``, ...; ``a``-``d`` override the preset).

        Example::

            >>> Izhikevich.preset("FS").values()["a"]
            tensor(0.1000)
        """
        if isinstance(name, str) and name.upper() in IzhikevichPreset.__members__:
            name = IzhikevichPreset[name.upper()]
        if not isinstance(name, IzhikevichPreset):
            raise ValueError(
                f"{cls.__name__}: preset must be one of "
                f"{list(IzhikevichPreset.__members__)}, got {name!r}."
            )
        a, b, c, d = name.value
        return cls(**{"a": a, "b": b, "c": c, "d": d, "dt": dt, **kwargs})

    # ---- the step -------------------------------------------------------------------------
    def _options(self) -> dict[str, Any]:
        return dict(scheme=self.scheme, detach_reset=self.detach_reset, surrogate=self.surrogate)

    def params(self) -> IzhikevichParams:
        v = self.values()
        return IzhikevichParams(v["a"], v["b"], v["c"], v["d"], v["v_peak"])

    def step_fn(
        self, x: Tensor, state: IzhikevichState, p: IzhikevichParams
    ) -> tuple[Tensor, IzhikevichState]:
        return izhikevich_step(
            x,
            state,
            p,
            dt=self.dt,
            scheme=self.scheme,
            surrogate=self.surrogate,
            detach_reset=self.detach_reset,
        )

    def rest_state(
        self, shape: tuple[int, ...], device: Any, dtype: torch.dtype
    ) -> IzhikevichState:
        """Resting state (see the class docstring) for inputs of one step shaped ``shape``."""
        b = self.value("b").detach().to(device=device, dtype=dtype)
        disc = (5.0 - b) ** 2 - 4 * 0.04 * 140.0
        v_rest = torch.where(
            disc >= 0, (-(5.0 - b) - disc.clamp_min(0).sqrt()) / 0.08, torch.full_like(b, -65.0)
        )
        z = torch.zeros(shape, device=device, dtype=dtype)
        return IzhikevichState(v=z + v_rest, u=z + b * v_rest, s=z)

    def extra_repr(self) -> str:
        return f"scheme={self.scheme.name}, {super().extra_repr()}"


r"""The Hodgkin–Huxley model of the squid giant axon (modern sign convention).

.. math::

    C_m \frac{dV}{dt} &= I - g_\text{Na} m^3 h\,(V - E_\text{Na}) - g_\text{K} n^4 (V - E_\text{K})
                        - g_\text{L} (V - E_\text{L}), \\
    \frac{dx}{dt} &= \alpha_x(V)(1 - x) - \beta_x(V)\,x
                   = \frac{x_\infty(V) - x}{\tau_x(V)},\qquad x \in \{m, h, n\},

with :math:`x_\infty = \alpha_x/(\alpha_x+\beta_x)`, :math:`\tau_x = 1/(\alpha_x+\beta_x)` and
the rates [1/ms] of Hodgkin & Huxley (J. Physiol. 117:500, 1952) shifted to a resting potential
of -65 mV (as in Dayan & Abbott 2001, Gerstner et al. 2014, NEURON's ``hh``, 6.3 °C):

.. math::

    \alpha_m &= \frac{0.1\,(V+40)}{1 - e^{-(V+40)/10}}, &
    \beta_m &= 4\,e^{-(V+65)/18}, \\
    \alpha_h &= 0.07\,e^{-(V+65)/20}, &
    \beta_h &= \frac{1}{1 + e^{-(V+35)/10}}, \\
    \alpha_n &= \frac{0.01\,(V+55)}{1 - e^{-(V+55)/10}}, &
    \beta_n &= 0.125\,e^{-(V+65)/80}.

:math:`\alpha_m` and :math:`\alpha_n` are 0/0 at :math:`V = -40` and :math:`-55` mV (removable:
the limits are 1 and 0.1). They are computed as :math:`y/(1 - e^{-y})` through ``expm1``, with
its Taylor series :math:`1 + y/2 + y^2/12` for :math:`|y| < 10^{-3}`, so values and gradients
are finite and smooth there (:func:`hh_rates`).

Units: V in mV, t in ms, conductances in mS/cm², :math:`C_m` in µF/cm², input current density
:math:`I` in µA/cm² (consistent: µA/cm² = mS/cm²·mV, ms = (µF/cm²)/(mS/cm²)). Defaults:
:math:`C_m = 1`, :math:`g_\text{Na} = 120`, :math:`g_\text{K} = 36`, :math:`g_\text{L} = 0.3`,
:math:`E_\text{Na} = 50`, :math:`E_\text{K} = -77`, :math:`E_\text{L} = -54.387` (chosen so
that the membrane rests at -65 mV).

**Integrators** (:class:`~neuraltide.integrate.Integrator`), one copy of the equations in
relaxation form (:func:`hh_relaxation`):

* ``EXP_EULER`` (default): each gate relaxes exactly towards :math:`x_\infty(V)` with
  :math:`V` frozen over the step, and :math:`V` relaxes exactly towards
  :math:`V_\infty = (I + \sum_i g_i E_i)/\sum_i g_i` with :math:`\tau_V = C_m/\sum_i g_i` and
  the conductances :math:`g_i` frozen (all evaluated at the start of the step). Order 1 and
  stable for any ``dt``.
* ``RK4``: classic Runge–Kutta on the same field, order 4.
* ``EULER``: forward Euler, order 1, for teaching and comparison.

The explicit schemes (``RK4``, ``EULER``) diverge when ``dt`` is too long for the fast time
scales of the spike (with the default conductances: NaN at 0.1 ms, finite at 0.05 ms); the
model refuses ``dt > 8 C_m/(g_Na + g_K + g_L)`` (0.051 ms for the defaults) for them.

Accuracy (``tests/neurons/test_hh.py``, against a ``solve_ivp`` solution of the same
equations at ``rtol = 1e-8``): with the defaults (``EXP_EULER``, ``dt = 0.01`` ms) the
rheobase for repetitive firing (step from rest held 200 ms) is 6.255 µA/cm² against the
reference's 6.251, and firing rates over 7–40 µA/cm² are within 0.7% (about 0.5% slow; 1.6%
at ``dt = 0.025`` ms). ``RK4`` at ``dt = 0.025`` ms puts every spike on the step of the
reference's crossing, and action-potential peaks agree within 0.2 mV.

**Spikes** are upward crossings of ``v_th_detect`` (0 mV):
:math:`s_t = H(V_t - \theta)\,(1 - H(V_{t-1} - \theta))`, both factors with the surrogate
gradient, so the output is differentiable; a spike at index ``n`` is stamped at
:math:`(n+1)\Delta t`, the end of the step in which :math:`V` crossed :math:`\theta`. The
spike does not feed back into the dynamics (there is no reset).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor

from .._params import ParamSpec
from .._validate import check_option
from ..integrate import Integrator, advance
from ..surrogate import ATan, Surrogate, spike
from ..surrogate import check as check_surrogate
from ._base import NeuronModel

__all__ = [
    "HHParams",
    "HHState",
    "HodgkinHuxley",
    "hh_rates",
    "hh_relaxation",
    "hh_steady_state",
    "hh_step",
]

Value = float | Tensor

_SERIES_BELOW = 1e-3  # |y| under which y/(1-exp(-y)) uses its Taylor series


def _y_over_one_minus_exp(y: Tensor) -> Tensor:
    r""":math:`y/(1-e^{-y})`, smooth through its removable singularity at 0 (value 1, slope
    1/2), finite with finite gradients everywhere."""
    small = y.abs() < _SERIES_BELOW
    y_safe = torch.where(small, torch.ones_like(y), y)  # keeps the unused branch's grad finite
    direct = y_safe / -torch.expm1(-y_safe)
    series = 1.0 + y * (0.5 + y / 12.0)
    return torch.where(small, series, direct)


def hh_rates(v: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    r"""Opening and closing rates [1/ms] of the gates at membrane potential ``v`` [mV].

    Returns:
        ``(alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n)``, each shaped like ``v``.

    Example::

        >>> import torch
        >>> a_m, *_, a_n, b_n = hh_rates(torch.tensor([-40.0, -55.0]))
        >>> a_m[0].item(), round(a_n[1].item(), 6)   # the limits at the 0/0 points
        (1.0, 0.1)
    """
    alpha_m = _y_over_one_minus_exp((v + 40.0) / 10.0)
    beta_m = 4.0 * torch.exp(-(v + 65.0) / 18.0)
    alpha_h = 0.07 * torch.exp(-(v + 65.0) / 20.0)
    beta_h = torch.sigmoid((v + 35.0) / 10.0)
    alpha_n = 0.1 * _y_over_one_minus_exp((v + 55.0) / 10.0)
    beta_n = 0.125 * torch.exp(-(v + 65.0) / 80.0)
    return alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n


def hh_steady_state(v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Steady-state gates :math:`(m_\\infty, h_\\infty, n_\\infty)` at ``v`` [mV] (unitless).

    Example::

        >>> import torch
        >>> [round(x.item(), 4) for x in hh_steady_state(torch.tensor(-65.0))]
        [0.0529, 0.5961, 0.3177]
    """
    a_m, b_m, a_h, b_h, a_n, b_n = hh_rates(v)
    return a_m / (a_m + b_m), a_h / (a_h + b_h), a_n / (a_n + b_n)


class HHParams(NamedTuple):
    """Parameters of :func:`hh_step` (tensors broadcastable to the state)."""

    c_m: Tensor  #: membrane capacitance [µF/cm²]
    g_na: Tensor  #: maximal sodium conductance [mS/cm²]
    g_k: Tensor  #: maximal potassium conductance [mS/cm²]
    g_l: Tensor  #: leak conductance [mS/cm²]
    e_na: Tensor  #: sodium reversal potential [mV]
    e_k: Tensor  #: potassium reversal potential [mV]
    e_l: Tensor  #: leak reversal potential [mV]
    v_th_detect: Tensor  #: spike detection threshold (upward crossing) [mV]


class HHState(NamedTuple):
    """State of a Hodgkin–Huxley neuron (each shaped like one time step of input)."""

    v: Tensor  #: membrane potential [mV]
    m: Tensor  #: sodium activation, in [0, 1]
    h: Tensor  #: sodium inactivation, in [0, 1]
    n: Tensor  #: potassium activation, in [0, 1]
    s: Tensor  #: spike of the last step (0.0 / 1.0), output only


def hh_relaxation(
    y: tuple[Tensor, ...], i: Tensor, p: HHParams
) -> tuple[tuple[Tensor, Tensor], ...]:
    r"""The Hodgkin–Huxley vector field in relaxation form, the one copy of the equations.

    Args:
        y: ``(v, m, h, n)`` [mV, 1, 1, 1].
        i: input current density [µA/cm²], held over the step.
        p: :class:`HHParams`.

    Returns:
        ``((v_inf, tau_v), (m_inf, tau_m), (h_inf, tau_h), (n_inf, tau_n))``, targets in the
        variables' units and time constants [ms]; :math:`\dot y = (y_\infty - y)/\tau`.
    """
    v, m, h, n = y
    a_m, b_m, a_h, b_h, a_n, b_n = hh_rates(v)
    g_na = p.g_na * m**3 * h
    g_k = p.g_k * n**4
    g_tot = g_na + g_k + p.g_l
    v_inf = (i + g_na * p.e_na + g_k * p.e_k + p.g_l * p.e_l) / g_tot
    s_m, s_h, s_n = a_m + b_m, a_h + b_h, a_n + b_n
    return (
        (v_inf, p.c_m / g_tot),
        (a_m / s_m, 1.0 / s_m),
        (a_h / s_h, 1.0 / s_h),
        (a_n / s_n, 1.0 / s_n),
    )


def hh_step(
    x: Tensor,
    state: HHState,
    p: HHParams,
    *,
    dt: float,
    integrator: Integrator,
    surrogate: Surrogate,
) -> tuple[Tensor, HHState]:
    r"""One step of the Hodgkin–Huxley model (pure: reads only its arguments, writes nothing).

    Args:
        x: input current density of this step [µA/cm²], shape ``(batch..., *neurons)``.
        state: :class:`HHState` from the previous step.
        p: :class:`HHParams`.
        dt: step [ms].
        integrator: :class:`~neuraltide.integrate.Integrator`.
        surrogate: surrogate gradient of both detection factors, a function of
            :math:`V - \theta` [mV].

    Returns:
        ``(spikes, new_state)``; spikes :math:`H(V_t - \theta)(1 - H(V_{t-1} - \theta))`.
    """
    v, m, h, n = advance(
        integrator,
        lambda y: hh_relaxation(y, x, p),
        (state.v, state.m, state.h, state.n),
        dt,
    )
    s = spike(v - p.v_th_detect, surrogate) * (1.0 - spike(state.v - p.v_th_detect, surrogate))
    return s, HHState(v, m, h, n, s)


_SPECS = {
    s.name: s
    for s in (
        ParamSpec("c_m", 1.0, "µF/cm²", "Membrane capacitance per area.", 0.0, None, True,
                  typical=(0.5, 2.0)),
        ParamSpec("g_na", 120.0, "mS/cm²", "Maximal sodium conductance.", 0.0,
                  typical=(50.0, 200.0)),
        ParamSpec("g_k", 36.0, "mS/cm²", "Maximal potassium conductance.", 0.0,
                  typical=(10.0, 80.0)),
        ParamSpec("g_l", 0.3, "mS/cm²", "Leak conductance.", 0.0, None, True,
                  typical=(0.05, 1.0)),
        ParamSpec("e_na", 50.0, "mV", "Sodium reversal potential.", typical=(30.0, 70.0)),
        ParamSpec("e_k", -77.0, "mV", "Potassium reversal potential.", typical=(-100.0, -60.0)),
        ParamSpec("e_l", -54.387, "mV", "Leak reversal potential.", typical=(-80.0, -40.0)),
        ParamSpec("v_th_detect", 0.0, "mV", "Spike detection: upward crossing of this value.",
                  typical=(-30.0, 20.0)),
    )
}


class HodgkinHuxley(NeuronModel):
    r"""Hodgkin–Huxley neuron (squid giant axon, rest at -65 mV; equations, units, integrators
    and spike detection in :mod:`neuraltide.neurons.hh`).

    The neuron starts at the steady state of :math:`V = v_\text{init}` (gates at
    :math:`x_\infty(v_\text{init})`), which with the default parameters is the resting state.

    Args:
        c_m: membrane capacitance [µF/cm²], > 0.
        g_na: maximal sodium conductance [mS/cm²], >= 0.
        g_k: maximal potassium conductance [mS/cm²], >= 0.
        g_l: leak conductance [mS/cm²], > 0.
        e_na: sodium reversal potential [mV].
        e_k: potassium reversal potential [mV].
        e_l: leak reversal potential [mV].
        v_th_detect: spike detection threshold [mV]; a spike is an upward crossing.
        v_init: membrane potential of the initial state [mV].
        integrator: :class:`~neuraltide.integrate.Integrator`; default ``EXP_EULER``.
        surrogate: spike surrogate gradient, a function of :math:`V - \theta` [mV].
        dt: step [ms], > 0; default 0.01.
        shape: per-neuron parameter shape, e.g. ``(128,)``; ``()`` shares one value per layer.
        learn: names of parameters to train, e.g. ``("g_na", "g_k", "e_l")``.

    Shape:
        input ``(T, batch..., *shape)`` current density [µA/cm²]; output spikes of the same
        shape.

    Example::

        >>> import torch
        >>> from neuraltide.neurons import HodgkinHuxley
        >>> hh = HodgkinHuxley()                          # dt = 0.01 ms, exponential Euler
        >>> rec = hh.run(torch.full((10000, 1), 10.0))    # 100 ms of 10 µA/cm²
        >>> int(rec.spikes.sum())                         # about 68 Hz
        7
        >>> 30.0 < rec.traces["v"].max().item() < 50.0   # action potential peak [mV]
        True
    """

    State = HHState

    def __init__(
        self,
        *,
        c_m: Value = 1.0,
        g_na: Value = 120.0,
        g_k: Value = 36.0,
        g_l: Value = 0.3,
        e_na: Value = 50.0,
        e_k: Value = -77.0,
        e_l: Value = -54.387,
        v_th_detect: Value = 0.0,
        v_init: float = -65.0,
        integrator: Integrator = Integrator.EXP_EULER,
        surrogate: Surrogate = ATan(),
        dt: float = 0.01,
        shape: tuple[int, ...] = (),
        learn: Sequence[str] = (),
    ) -> None:
        super().__init__(dt=dt)
        owner = type(self).__name__
        check_option(owner, "integrator", integrator, Integrator)
        check_surrogate(owner, surrogate)
        if not (isinstance(v_init, (int, float)) and -200.0 < v_init < 200.0):
            raise ValueError(f"{owner}: v_init must be in (-200, 200) [mV], got {v_init!r}.")
        self.integrator = integrator
        self.surrogate = surrogate
        self.v_init = float(v_init)
        self._init_params(
            list(_SPECS.values()),
            dict(c_m=c_m, g_na=g_na, g_k=g_k, g_l=g_l, e_na=e_na, e_k=e_k, e_l=e_l,
                 v_th_detect=v_th_detect),
            learn,
            shape,
        )
        if integrator is not Integrator.EXP_EULER:
            v = {n: self.value(n).detach() for n in ("c_m", "g_na", "g_k", "g_l")}
            dt_max = (8.0 * v["c_m"] / (v["g_na"] + v["g_k"] + v["g_l"])).min().item()
            if self.dt > dt_max:
                raise ValueError(
                    f"{owner}: dt={self.dt} ms exceeds {dt_max:.3g} ms = 8 C_m/(g_na+g_k+g_l), "
                    f"where {integrator} diverges during the spike (with the default "
                    "conductances: NaN at 0.1 ms, finite at 0.05 ms); use "
                    "Integrator.EXP_EULER or a smaller dt."
                )

    def _options(self) -> dict[str, Any]:
        return dict(v_init=self.v_init, integrator=self.integrator, surrogate=self.surrogate)

    def params(self) -> HHParams:
        v = self.values()
        return HHParams(**{name: v[name] for name in HHParams._fields})

    def step_fn(self, x: Tensor, state: HHState, p: HHParams) -> tuple[Tensor, HHState]:
        return hh_step(
            x, state, p, dt=self.dt, integrator=self.integrator, surrogate=self.surrogate
        )

    def rest_state(
        self, shape: tuple[int, ...], device: Any, dtype: torch.dtype
    ) -> HHState:
        """Steady state of ``v_init`` for inputs of one step shaped ``shape``."""
        v = torch.full(shape, self.v_init, device=device, dtype=dtype)
        m, h, n = hh_steady_state(v)
        return HHState(v, m, h, n, torch.zeros_like(v))

    def extra_repr(self) -> str:
        return f"integrator={self.integrator.name}, {super().extra_repr()}"

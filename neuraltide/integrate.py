r"""One-step ODE integrators over tuples of tensors, kept apart from the vector fields.

As in Diffrax, a model writes its equations once, as a function of its state, and passes them
to a solver; the solver knows nothing about neurons. A state is a tuple of tensors
``y = (y_1, ..., y_k)`` (e.g. ``(v, m, h, n)``), all broadcastable to one another.

Two ways of writing a vector field are supported:

* **derivative form** ``f(y) -> (dy_1/dt, ..., dy_k/dt)``, used by :func:`euler` and :func:`rk4`;
* **relaxation form** ``g(y) -> ((x_inf_1, tau_1), ..., (x_inf_k, tau_k))``, meaning
  :math:`\dot y_i = (x_{\infty,i}(y) - y_i)/\tau_i(y)`, used by :func:`exp_euler`. Every
  conductance-based model (Hodgkin–Huxley gates and membrane) has this form, and
  :func:`relaxation_field` turns it into the derivative form so the same equations also run
  under :func:`euler` and :func:`rk4` (:func:`advance` picks by :class:`Integrator`).

Orders of accuracy (global error over a fixed time, as ``dt -> 0``; tested in
``tests/test_integrate.py``): :func:`euler` 1, :func:`rk4` 4, :func:`exp_euler` 1 in general and
exact when :math:`x_\infty` and :math:`\tau` do not depend on the state (linear ODE with
constant coefficients), for any ``dt``. :func:`exp_euler` is also unconditionally stable for
:math:`\tau > 0`, which is why it is the usual choice for stiff gating variables.

Time ``dt`` is in the model's time unit (ms throughout NeuralTide). The integrators are
differentiable (plain tensor operations) and never write in place.

Example::

    >>> import math, torch
    >>> from neuraltide.integrate import rk4, exp_euler
    >>> f = lambda y: (-y[0],)                      # dy/dt = -y
    >>> (y,) = rk4(f, (torch.tensor(1.0, dtype=torch.float64),), 0.1)
    >>> abs(y.item() - math.exp(-0.1)) < 1e-7       # local error O(dt^5)
    True
    >>> g = lambda y: ((torch.tensor(0.0), torch.tensor(1.0)),)   # same ODE, relaxation form
    >>> (y,) = exp_euler(g, (torch.tensor(1.0),), 0.1)
    >>> round(y.item(), 6) == round(math.exp(-0.1), 6)           # exact
    True
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

import torch
from torch import Tensor

__all__ = [
    "Integrator",
    "Relaxation",
    "State",
    "VectorField",
    "advance",
    "euler",
    "exp_euler",
    "relaxation_field",
    "rk4",
]

State = tuple[Tensor, ...]
"""A state: a tuple of tensors, broadcastable to one another."""

VectorField = Callable[[State], State]
"""Derivative form: ``f(y) -> dy/dt``, one tensor per component [unit of y / ms]."""

Relaxation = Callable[[State], tuple[tuple[Tensor, Tensor], ...]]
"""Relaxation form: ``g(y) -> ((x_inf, tau), ...)``, :math:`\\dot y_i = (x_{\\infty,i} - y_i)
/\\tau_i`, one pair per component; ``tau`` [ms] > 0."""


class Integrator(Enum):
    """A named one-step integration scheme (model option; see each model for its default)."""

    EULER = "euler"  #: forward Euler, order 1 (:func:`euler`)
    RK4 = "rk4"  #: classic 4th-order Runge–Kutta, order 4 (:func:`rk4`)
    EXP_EULER = "exp_euler"  #: exponential Euler, relaxation form, order 1 (:func:`exp_euler`)


def _check_arity(name: str, y: State, out: tuple, what: str) -> None:
    if len(out) != len(y):
        raise ValueError(
            f"{name}: the vector field must return one {what} per state component "
            f"({len(y)}), got {len(out)}."
        )


def euler(f: VectorField, y: State, dt: float) -> State:
    r"""One forward-Euler step, :math:`y \leftarrow y + \Delta t\, f(y)` (order 1).

    Args:
        f: vector field in derivative form, ``f(y) -> dy/dt``.
        y: state, a tuple of tensors.
        dt: step [ms].

    Returns:
        The state after ``dt``, a tuple shaped like ``y``.

    Example::

        >>> import torch
        >>> euler(lambda y: (torch.ones_like(y[0]),), (torch.zeros(2),), 0.5)
        (tensor([0.5000, 0.5000]),)
    """
    k = f(y)
    _check_arity("euler", y, k, "derivative")
    return tuple(yi + dt * ki for yi, ki in zip(y, k, strict=True))


def rk4(f: VectorField, y: State, dt: float) -> State:
    r"""One step of the classic 4th-order Runge–Kutta method (order 4).

    .. math::
        k_1 = f(y),\ k_2 = f(y + \tfrac{\Delta t}2 k_1),\ k_3 = f(y + \tfrac{\Delta t}2 k_2),\
        k_4 = f(y + \Delta t\,k_3),\quad
        y \leftarrow y + \tfrac{\Delta t}6(k_1 + 2k_2 + 2k_3 + k_4).

    Args:
        f: vector field in derivative form, ``f(y) -> dy/dt``.
        y: state, a tuple of tensors.
        dt: step [ms].

    Returns:
        The state after ``dt``, a tuple shaped like ``y``.

    Example::

        >>> import torch
        >>> rk4(lambda y: (2 * y[0],), (torch.tensor([1.0]),), 0.1)   # e^0.2 = 1.2214028
        (tensor([1.2214]),)
    """
    k1 = f(y)
    _check_arity("rk4", y, k1, "derivative")
    k2 = f(tuple(yi + 0.5 * dt * ki for yi, ki in zip(y, k1, strict=True)))
    k3 = f(tuple(yi + 0.5 * dt * ki for yi, ki in zip(y, k2, strict=True)))
    k4 = f(tuple(yi + dt * ki for yi, ki in zip(y, k3, strict=True)))
    return tuple(
        yi + (dt / 6.0) * (a + 2.0 * b + 2.0 * c + d)
        for yi, a, b, c, d in zip(y, k1, k2, k3, k4, strict=True)
    )


def exp_euler(g: Relaxation, y: State, dt: float) -> State:
    r"""One exponential-Euler step of :math:`\dot y_i = (x_{\infty,i}(y) - y_i)/\tau_i(y)`.

    Each component relaxes exactly towards its target with :math:`x_\infty` and :math:`\tau`
    frozen at their values at the start of the step:

    .. math::
        y_i \leftarrow x_{\infty,i} + (y_i - x_{\infty,i})\, e^{-\Delta t/\tau_i}.

    Exact for constant :math:`x_\infty, \tau`; order 1 otherwise; stable for any ``dt`` when
    :math:`\tau > 0` (the result stays between the old value and the target).

    Args:
        g: vector field in relaxation form, ``g(y) -> ((x_inf, tau), ...)``, ``tau`` [ms] > 0.
        y: state, a tuple of tensors.
        dt: step [ms].

    Returns:
        The state after ``dt``, a tuple shaped like ``y``.

    Example::

        >>> import torch
        >>> g = lambda y: ((torch.tensor(1.0), torch.tensor(2.0)),)   # relax to 1, tau = 2 ms
        >>> exp_euler(g, (torch.tensor([0.0]),), 2.0)                  # 1 - e^-1
        (tensor([0.6321]),)
    """
    pairs = g(y)
    _check_arity("exp_euler", y, pairs, "(x_inf, tau) pair")
    return tuple(
        x_inf + (yi - x_inf) * torch.exp(-dt / tau)
        for yi, (x_inf, tau) in zip(y, pairs, strict=True)
    )


def relaxation_field(g: Relaxation) -> VectorField:
    r"""The derivative form of a relaxation-form field: :math:`f_i(y) = (x_{\infty,i} - y_i)
    /\tau_i`, so one copy of the equations serves every :class:`Integrator`.

    Example::

        >>> import torch
        >>> g = lambda y: ((torch.tensor(1.0), torch.tensor(2.0)),)
        >>> relaxation_field(g)((torch.tensor(0.0),))
        (tensor(0.5000),)
    """

    def f(y: State) -> State:
        pairs = g(y)
        _check_arity("relaxation_field", y, pairs, "(x_inf, tau) pair")
        return tuple((x_inf - yi) / tau for yi, (x_inf, tau) in zip(y, pairs, strict=True))

    return f


def advance(method: Integrator, g: Relaxation, y: State, dt: float) -> State:
    """One step of ``method`` for a field in relaxation form (converted by
    :func:`relaxation_field` for :attr:`Integrator.EULER` and :attr:`Integrator.RK4`).

    Args:
        method: an :class:`Integrator`.
        g: vector field in relaxation form.
        y: state, a tuple of tensors.
        dt: step [ms].

    Returns:
        The state after ``dt``.
    """
    if method is Integrator.EXP_EULER:
        return exp_euler(g, y, dt)
    if method is Integrator.RK4:
        return rk4(relaxation_field(g), y, dt)
    if method is Integrator.EULER:
        return euler(relaxation_field(g), y, dt)
    choices = ", ".join(f"Integrator.{m.name}" for m in Integrator)
    raise ValueError(f"advance: method must be one of {choices}, got {method!r}.")

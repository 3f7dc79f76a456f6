"""Integrators: convergence orders measured by halving dt, exactness, and the Enum dispatch."""

import math
from itertools import pairwise

import pytest
import torch

from neuraltide.integrate import (
    Integrator,
    advance,
    euler,
    exp_euler,
    relaxation_field,
    rk4,
)

F64 = torch.float64


def _solve(stepper, y0, dt: float, t_end: float):
    y = y0
    for _ in range(round(t_end / dt)):
        y = stepper(y, dt)
    return y


def _orders(errors: list[float]) -> list[float]:
    """Observed orders log2(e(dt) / e(dt/2)) for a sequence of halved steps."""
    return [math.log2(a / b) for a, b in pairwise(errors)]


# ---- derivative form: a damped oscillator (two coupled components, closed-form solution) ----

OMEGA, GAMMA = 2.0, 0.3  # x'' + 2 gamma x' + omega^2 x = 0


def oscillator(y):
    x, p = y
    return p, -(OMEGA**2) * x - 2 * GAMMA * p


def oscillator_exact(t: float) -> tuple[float, float]:
    """(x, x') at t for x(0) = 1, x'(0) = 0 (underdamped: standard closed form)."""
    wd = math.sqrt(OMEGA**2 - GAMMA**2)
    e = math.exp(-GAMMA * t)
    x = e * (math.cos(wd * t) + GAMMA / wd * math.sin(wd * t))
    p = -e * (OMEGA**2 / wd) * math.sin(wd * t)
    return x, p


def _max_error(method, dt: float, t_end: float = 4.0, sample: float = 0.2) -> float:
    """Largest error of (x, x') over samples every ``sample`` up to ``t_end`` (a single time
    point could sit where the error happens to change sign)."""
    y = (torch.tensor([1.0], dtype=F64), torch.tensor([0.0], dtype=F64))
    worst = 0.0
    per_sample = round(sample / dt)
    for k in range(1, round(t_end / sample) + 1):
        y = _solve(lambda yy, h: method(oscillator, yy, h), y, dt, per_sample * dt)
        x, p = oscillator_exact(k * sample)
        worst = max(worst, abs(y[0].item() - x), abs(y[1].item() - p))
    return worst


@pytest.mark.parametrize(("method", "order", "dts"), [
    (euler, 1, [0.01, 0.005, 0.0025]),
    (rk4, 4, [0.1, 0.05, 0.025]),
])
def test_convergence_order_on_a_damped_oscillator(method, order, dts) -> None:
    observed = _orders([_max_error(method, dt) for dt in dts])
    assert all(abs(q - order) < 0.15 for q in observed), observed


# ---- relaxation form ----------------------------------------------------------------------------


def test_exp_euler_is_exact_on_a_linear_ode_for_any_dt() -> None:
    """dx/dt = (x_inf - x)/tau with constant x_inf, tau: x(t) = x_inf + (x0 - x_inf) e^{-t/tau},
    reproduced to rounding even with steps longer than tau."""
    x_inf = torch.tensor([2.0, -1.0], dtype=F64)
    tau = torch.tensor([0.5, 3.0], dtype=F64)
    x0 = (torch.tensor([0.0, 4.0], dtype=F64),)
    t_end = 6.0
    exact = x_inf + (x0[0] - x_inf) * torch.exp(-t_end / tau)
    for dt in (0.01, 0.3, 1.5, 6.0):
        (x,) = _solve(lambda y, h: exp_euler(lambda _: ((x_inf, tau),), y, h), x0, dt, t_end)
        torch.testing.assert_close(x, exact, rtol=0, atol=1e-13)
    # forward Euler on the same ODE is not exact: the test above could fail
    (xe,) = _solve(lambda y, h: euler(relaxation_field(lambda _: ((x_inf, tau),)), y, h),
                   x0, 0.3, t_end)
    assert (xe - exact).abs().max() > 1e-3


def logistic_relaxation(y):
    """dx/dt = x (1 - x) = (x_inf - x)/tau with x_inf = 1 and tau = 1/x (state-dependent)."""
    (x,) = y
    return ((torch.ones_like(x), 1.0 / x),)


def test_exp_euler_is_order_one_on_a_nonlinear_ode() -> None:
    """Logistic growth, closed form x(t) = 1 / (1 + (1/x0 - 1) e^{-t})."""
    x0, t_end = 0.1, 4.0
    exact = 1.0 / (1.0 + (1.0 / x0 - 1.0) * math.exp(-t_end))
    y0 = (torch.tensor([x0], dtype=F64),)
    errors = [
        abs(_solve(lambda y, h: exp_euler(logistic_relaxation, y, h), y0, dt, t_end)[0].item()
            - exact)
        for dt in (0.04, 0.02, 0.01, 0.005)
    ]
    observed = _orders(errors)
    assert all(abs(q - 1.0) < 0.1 for q in observed), observed


def test_exp_euler_stays_between_value_and_target_where_euler_overshoots() -> None:
    g = lambda y: ((torch.zeros_like(y[0]), torch.full_like(y[0], 0.1)),)  # noqa: E731
    y0 = (torch.tensor([1.0], dtype=F64),)
    (xe,) = exp_euler(g, y0, 1.0)  # dt = 10 tau
    assert 0.0 < xe.item() < 1.0
    (xf,) = euler(relaxation_field(g), y0, 1.0)
    assert xf.item() == pytest.approx(-9.0)  # 1 - 10: unstable


@pytest.mark.parametrize("method", list(Integrator))
def test_advance_dispatches_to_the_named_scheme(method: Integrator) -> None:
    y0 = (torch.tensor([0.1, 0.5], dtype=F64),)
    expected = {
        Integrator.EULER: euler(relaxation_field(logistic_relaxation), y0, 0.1),
        Integrator.RK4: rk4(relaxation_field(logistic_relaxation), y0, 0.1),
        Integrator.EXP_EULER: exp_euler(logistic_relaxation, y0, 0.1),
    }[method]
    got = advance(method, logistic_relaxation, y0, 0.1)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    others = [m for m in Integrator if m is not method]
    for other in others:  # the three schemes give different results: dispatch is observable
        assert not torch.equal(advance(other, logistic_relaxation, y0, 0.1)[0], got[0])


def test_integrators_are_differentiable() -> None:
    k = torch.tensor(0.7, dtype=F64, requires_grad=True)
    y0 = (torch.tensor([1.0], dtype=F64, requires_grad=True),)

    def f(kk, yy):
        return rk4(lambda y: (-kk * y[0],), (yy,), 0.2)[0]

    assert torch.autograd.gradcheck(f, (k, y0[0]))

    def g(kk, yy):
        return exp_euler(lambda y: ((torch.zeros_like(y[0]), 1.0 / kk),), (yy,), 0.2)[0]

    assert torch.autograd.gradcheck(g, (k, y0[0]))


def test_errors() -> None:
    with pytest.raises(ValueError, match="one derivative per state component"):
        rk4(lambda y: (y[0], y[0]), (torch.zeros(1),), 0.1)
    with pytest.raises(ValueError, match=r"one \(x_inf, tau\) pair per state component"):
        exp_euler(lambda y: (), (torch.zeros(1),), 0.1)
    with pytest.raises(ValueError, match=r"method must be one of Integrator.EULER"):
        advance("rk4", logistic_relaxation, (torch.ones(1),), 0.1)  # type: ignore[arg-type]

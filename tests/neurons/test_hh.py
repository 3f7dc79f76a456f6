"""Hodgkin–Huxley: against a tight-tolerance scipy reference built here from the same equations
(rheobase for repetitive firing, f–I curve, spike shape, convergence orders), plus the
singular points of the rates, gradients, the resting state and errors.

Reference: ``solve_ivp`` (DOP853, rtol = 1e-8, atol = 1e-10; 1e-12 for the convergence test)
on the equations written out below in numpy, independently of ``neuraltide``; spikes are
upward crossings of 0 mV found by event location.
"""

import math
from itertools import pairwise

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from neuraltide.integrate import Integrator
from neuraltide.neurons import HHState, HodgkinHuxley, hh_rates, hh_steady_state, hh_step
from neuraltide.surrogate import ATan

F64 = torch.float64
T_WINDOW, T_LATE, N_LATE = 200.0, 100.0, 3  # repetitive: >= 3 spikes in [100, 200) ms


@pytest.fixture(autouse=True, scope="module")
def _float64():
    """Build models in float64 (E_L = -54.387 is not a float32 number)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(F64)
    yield
    torch.set_default_dtype(old)


# ---- the reference ------------------------------------------------------------------------------


def ref_rates(v):
    am = 0.1 * (v + 40) / (1 - np.exp(-(v + 40) / 10))
    bm = 4 * np.exp(-(v + 65) / 18)
    ah = 0.07 * np.exp(-(v + 65) / 20)
    bh = 1 / (1 + np.exp(-(v + 35) / 10))
    an = 0.01 * (v + 55) / (1 - np.exp(-(v + 55) / 10))
    bn = 0.125 * np.exp(-(v + 65) / 80)
    return am, bm, ah, bh, an, bn


def ref_rhs(_t, y, current):
    v, m, h, n = y
    am, bm, ah, bh, an, bn = ref_rates(v)
    dv = current - 120 * m**3 * h * (v - 50) - 36 * n**4 * (v + 77) - 0.3 * (v + 54.387)
    return [dv, am * (1 - m) - bm * m, ah * (1 - h) - bh * h, an * (1 - n) - bn * n]


def ref_rest_state(v: float = -65.0) -> list[float]:
    am, bm, ah, bh, an, bn = ref_rates(v)
    return [v, am / (am + bm), ah / (ah + bh), an / (an + bn)]


def ref_solve(current: float, t_end: float, rtol: float = 1e-8, atol: float = 1e-10, **kw):
    def crossing(_t, y, _i):
        return y[0]

    crossing.direction = 1
    return solve_ivp(ref_rhs, (0.0, t_end), ref_rest_state(), args=(current,),
                     method="DOP853", rtol=rtol, atol=atol, events=crossing, **kw)


def ref_spike_times(current: float, t_end: float = T_WINDOW) -> np.ndarray:
    return ref_solve(current, t_end).t_events[0]


def is_repetitive(times: np.ndarray) -> bool:
    return int(np.count_nonzero(times >= T_LATE)) >= N_LATE


def rate_hz(times: np.ndarray, t_from: float = 50.0) -> float:
    """Steady rate from the mean interval of the spikes after ``t_from`` [ms]."""
    t = times[times >= t_from]
    return 1000.0 * (len(t) - 1) / (t[-1] - t[0])


@pytest.fixture(scope="module")
def ref_rheobase() -> float:
    """Bisection on the reference to 0.005 µA/cm²."""
    lo, hi = 4.0, 10.0
    assert not is_repetitive(ref_spike_times(lo)) and is_repetitive(ref_spike_times(hi))
    while hi - lo > 0.005:
        mid = 0.5 * (lo + hi)
        if is_repetitive(ref_spike_times(mid)):
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


# ---- our model --------------------------------------------------------------------------------


def our_spike_times(currents: torch.Tensor, t_end: float = T_WINDOW, **kw) -> list[np.ndarray]:
    """Spike times [ms] for a batch of step currents from rest (one vectorised run)."""
    model = HodgkinHuxley(**kw)
    steps = round(t_end / model.dt)
    with torch.no_grad():
        spikes, _ = model(currents.expand(steps, -1).clone())
    return [(col.nonzero().flatten() + 1).numpy() * model.dt for col in spikes.T]


FI_CURRENTS = [7.0, 10.0, 15.0, 20.0, 30.0, 40.0]
GRID_1 = torch.linspace(4.0, 10.0, 25)  # 0.25 µA/cm² apart


@pytest.fixture(scope="module")
def sweep() -> dict[float, np.ndarray]:
    """Default model (EXP_EULER, dt = 0.01 ms): the coarse rheobase grid and the f–I currents
    in one batch."""
    currents = torch.cat([GRID_1, torch.tensor(FI_CURRENTS)])
    return dict(zip(currents.tolist(), our_spike_times(currents), strict=True))


def _first_repetitive(grid: torch.Tensor, times: list[np.ndarray]) -> int:
    rep = [is_repetitive(t) for t in times]
    assert not rep[0] and rep[-1], "the grid must bracket the rheobase"
    k = rep.index(True)
    assert all(rep[k:]), "repetitive firing must persist above the rheobase"
    return k


def test_rheobase_for_repetitive_firing_matches_the_reference(sweep, ref_rheobase) -> None:
    """Step from rest held 200 ms; repetitive = >= 3 spikes in the last 100 ms. Ours by
    vectorised bisection (two rounds of a 25-point grid: 0.01 µA/cm² resolution)."""
    k = _first_repetitive(GRID_1, [sweep[c] for c in GRID_1.tolist()])
    grid_2 = torch.linspace(GRID_1[k - 1].item(), GRID_1[k].item(), 26)
    k2 = _first_repetitive(grid_2, our_spike_times(grid_2))
    ours = 0.5 * (grid_2[k2 - 1].item() + grid_2[k2].item())
    # measured: ours 6.255, reference 6.251 µA/cm²
    assert abs(ours - ref_rheobase) < 0.2, (ours, ref_rheobase)
    assert 5.0 < ref_rheobase < 8.0  # the known ~6.3 µA/cm² of the squid-axon model


def test_fi_curve_matches_the_reference_within_5_percent(sweep) -> None:
    ours = np.array([rate_hz(sweep[c]) for c in FI_CURRENTS])
    ref = np.array([rate_hz(ref_spike_times(c)) for c in FI_CURRENTS])
    rel = np.abs(ours - ref) / ref
    assert rel.max() < 0.05, rel  # measured max 0.65% (EXP_EULER, dt = 0.01 ms)
    assert np.all(np.diff(ref) > 0) and np.all(np.diff(ours) > 0)
    assert 50.0 < ref[0] < ref[-1] < 150.0  # type II: starts near 50 Hz, not at 0


def test_rk4_at_a_coarser_step_also_matches_the_reference() -> None:
    currents = [10.0, 30.0]
    ours = our_spike_times(torch.tensor(currents), t_end=60.0, integrator=Integrator.RK4,
                           dt=0.025)
    for c, t in zip(currents, ours, strict=True):
        ref = ref_spike_times(c, 60.0)
        assert len(t) == len(ref)
        assert np.abs(t - ref).max() < 0.05  # measured 0.025 ms: the one-step time grid


def test_single_action_potential_shape() -> None:
    """A 1 ms pulse of 20 µA/cm² from rest: one spike, peak between +30 and +50 mV (squid
    overshoot), after-hyperpolarisation below rest; peak and trough as in the reference."""
    dt = 0.01
    x = torch.zeros(3000, 1)
    x[:100] = 20.0
    rec = HodgkinHuxley(dt=dt).run(x, record=("v",))
    v = rec.traces["v"][:, 0].numpy()
    assert rec.spikes.sum() == 1
    assert 30.0 < v.max() < 50.0
    assert v.min() < -70.0  # undershoot towards E_K
    t = (np.arange(3000) + 1) * dt

    def pulse(tt, y):
        return ref_rhs(tt, y, 20.0 if tt < 1.0 else 0.0)

    first = solve_ivp(pulse, (0, 1.0), ref_rest_state(), method="DOP853", rtol=1e-8,
                      atol=1e-10, dense_output=True)
    second = solve_ivp(pulse, (1.0, 30.0), first.y[:, -1], method="DOP853", rtol=1e-8,
                       atol=1e-10, dense_output=True)
    ref = np.where(t <= 1.0, first.sol(np.minimum(t, 1.0))[0], second.sol(np.maximum(t, 1.0))[0])
    assert abs(v.max() - ref.max()) < 0.5  # measured: 40.38 vs 40.51 mV
    assert abs(v.min() - ref.min()) < 0.1
    assert abs(t[v.argmax()] - t[ref.argmax()]) < 0.05


def test_resting_state_is_the_fixed_point() -> None:
    """With no input the state relaxes to the root of the steady-state I–V curve (an exact
    fixed point of every scheme, so a long exponential-Euler step does), within 0.01 mV of
    the -65 mV it starts from."""

    def i_ion(v):
        _, m, h, n = ref_rest_state(v)
        return 120 * m**3 * h * (v - 50) + 36 * n**4 * (v + 77) + 0.3 * (v + 54.387)

    v_rest = brentq(i_ion, -70.0, -60.0, xtol=1e-13)
    assert abs(v_rest + 65.0) < 0.01
    model = HodgkinHuxley(dt=0.1)
    spikes, st = model(torch.zeros(3000, 1))
    assert spikes.sum() == 0
    assert abs(st.v.item() - v_rest) < 1e-6
    m, h, n = hh_steady_state(torch.tensor(v_rest))
    torch.testing.assert_close(torch.cat([st.m, st.h, st.n]), torch.stack([m, h, n]),
                               rtol=0, atol=1e-7)


# ---- convergence orders -----------------------------------------------------------------------


T_CONV = 5.0  # ms: the upstroke (crossing 0 mV at 1.9 ms), peak, repolarisation, trough


@pytest.fixture(scope="module")
def ref_dense():
    return ref_solve(10.0, T_CONV, rtol=1e-12, atol=1e-12, dense_output=True).sol


@pytest.mark.parametrize(("integrator", "order", "dts"), [
    (Integrator.EXP_EULER, 1, [0.02, 0.01, 0.005]),
    (Integrator.EULER, 1, [0.01, 0.005, 0.0025]),
    (Integrator.RK4, 4, [0.02, 0.01, 0.005]),
])
def test_convergence_order_through_an_action_potential(ref_dense, integrator, order, dts
                                                       ) -> None:
    """Largest error of V sampled every 0.2 ms over 5 ms of 10 µA/cm² (through a spike),
    halving dt."""
    errors = []
    for dt in dts:
        rec = HodgkinHuxley(integrator=integrator, dt=dt).run(
            torch.full((round(T_CONV / dt), 1), 10.0), record=("v",))
        every = round(0.2 / dt)
        v = rec.traces["v"][every - 1 :: every, 0].numpy()
        t = np.arange(1, len(v) + 1) * 0.2
        assert rec.spikes.sum() == 1
        errors.append(np.abs(v - ref_dense(t)[0]).max())
    observed = [math.log2(a / b) for a, b in pairwise(errors)]
    assert all(abs(q - order) < 0.25 for q in observed), (errors, observed)


# ---- rates and gradients ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rates_are_finite_and_smooth_at_the_removable_singularities(dtype) -> None:
    v = torch.tensor([-40.0, -55.0], dtype=dtype, requires_grad=True)
    a_m, _, _, _, a_n, _ = hh_rates(v)
    assert a_m[0].item() == 1.0 and a_n[1].item() == pytest.approx(0.1)  # the limits
    # y/(1 - e^-y) has slope 1/2 at y = 0; y = (V+40)/10 for m, and alpha_n = 0.1 y/(...)
    (g_m,) = torch.autograd.grad(a_m[0], v, retain_graph=True)
    (g_n,) = torch.autograd.grad(a_n[1], v)
    assert g_m[0].item() == pytest.approx(0.05, rel=1e-6)
    assert g_n[1].item() == pytest.approx(0.005, rel=1e-6)
    if dtype == F64:  # and autograd agrees with finite differences right at those points
        assert torch.autograd.gradcheck(lambda vv: torch.stack(hh_rates(vv)), (v.detach()
                                        .clone().requires_grad_(),))
    # continuous with the textbook formula just off the singular points, on both sides of
    # the series/direct switch (|V - V*| = 0.01 mV)
    for centre in (-40.0, -55.0):
        for off in (-1e-1, -2e-2, -1.1e-2, -9e-3, -5e-3, 5e-3, 9e-3, 1.1e-2, 2e-2, 1e-1):
            ours = hh_rates(torch.tensor([centre + off], dtype=F64))
            ref = ref_rates(centre + off)
            for k in (0, 4):
                assert ours[k].item() == pytest.approx(ref[k], rel=1e-9)
    # a whole step starting exactly there is finite, with finite gradients
    for v0 in (-40.0, -55.0):
        state = HHState(*(torch.tensor([x], dtype=dtype) for x in (v0, 0.1, 0.5, 0.4, 0.0)))
        state = HHState(state.v.requires_grad_(), *state[1:])
        model = HodgkinHuxley(dt=0.01).to(dtype)
        _, new = model.step(torch.zeros(1, dtype=dtype), state)
        new.v.sum().backward()
        assert all(torch.isfinite(t).all() for t in new) and torch.isfinite(state.v.grad).all()


def test_gradcheck_through_a_spike() -> None:
    """Float64 gradcheck of a few steps across the 0 mV crossing, with respect to the input,
    the state and every parameter. The traces do not depend on the spikes (no reset), so
    autograd must equal finite differences."""
    model = HodgkinHuxley(dt=0.01)
    with torch.no_grad():  # a state on the upstroke, 0.03 ms before the crossing
        rec = model.run(torch.full((400, 1), 10.0), record=("v", "m", "h", "n"))
        k = int(rec.spikes[:, 0].nonzero()[0]) - 3
        start = [rec.traces[n][k] for n in ("v", "m", "h", "n")]
    p0 = model.params()
    names = p0._fields

    def run(x, v, m, h, n, *params):
        p = type(p0)(*params)
        state = HHState(v, m, h, n, torch.zeros_like(v))
        out, spikes = [], []
        for xt in x:
            s, state = hh_step(xt, state, p, dt=0.01, integrator=Integrator.EXP_EULER,
                               surrogate=ATan())
            out += [state.v, state.m, state.h, state.n]
            spikes.append(s)
        assert torch.stack(spikes).sum() == 1  # the crossing is inside the window
        return torch.stack(out)

    x = torch.full((6, 1), 10.0, requires_grad=True)
    inputs = [x, *(t.clone().requires_grad_() for t in start),
              *(getattr(p0, n).clone().requires_grad_() for n in names)]
    assert torch.autograd.gradcheck(run, tuple(inputs))


def test_spike_output_is_differentiable_and_all_parameters_learn() -> None:
    model = HodgkinHuxley(learn=("c_m", "g_na", "g_k", "g_l", "e_na", "e_k", "e_l",
                                 "v_th_detect"), shape=(2,), surrogate=ATan(alpha=0.5))
    x = torch.full((500, 2), 10.0, requires_grad=True)
    rec = model.run(x, record=("v",))
    assert rec.spikes.sum() == 2  # one spike per neuron, crossing 0 mV at 1.9 ms
    loss = rec.spikes.sum() + 1e-3 * rec.traces["v"].mean()
    loss.backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert (p.grad.abs() > 0).all(), name
    # the spike is one step wide: s_t = H(v_t) (1 - H(v_{t-1}))
    s = rec.spikes[:, 0]
    v = rec.traces["v"][:, 0]
    assert torch.equal(s[1:], ((v[1:] > 0) & (v[:-1] <= 0)).to(s.dtype))


def test_explicit_integrators_refuse_unstable_steps_and_exp_euler_accepts_them() -> None:
    with pytest.raises(ValueError, match=r"HodgkinHuxley: dt=0.1 ms exceeds .* where "
                                         r"Integrator.RK4 diverges"):
        HodgkinHuxley(integrator=Integrator.RK4, dt=0.1)
    with pytest.raises(ValueError, match=r"Integrator.EULER diverges"):
        HodgkinHuxley(integrator=Integrator.EULER, dt=0.1)
    # measured: RK4 and Euler give NaN at dt = 0.1 ms and are finite at 0.05 ms
    HodgkinHuxley(integrator=Integrator.RK4, dt=0.05)
    rec = HodgkinHuxley(dt=0.1).run(torch.full((1000, 1), 20.0), record=("v",))
    assert torch.isfinite(rec.traces["v"]).all() and rec.spikes.sum() >= 5


def test_bad_parameters_and_inputs() -> None:
    with pytest.raises(ValueError, match=r"HodgkinHuxley: g_l must be > 0 \[mS/cm²\], got 0.0"):
        HodgkinHuxley(g_l=0.0)
    with pytest.raises(ValueError, match=r"HodgkinHuxley: c_m must be > 0 \[µF/cm²\], got -1.0"):
        HodgkinHuxley(c_m=-1.0)
    with pytest.raises(ValueError, match=r"g_na must be >= 0 \[mS/cm²\], got -5.0"):
        HodgkinHuxley(g_na=torch.tensor([120.0, -5.0]), shape=(2,))
    with pytest.raises(ValueError, match=r"HodgkinHuxley: e_k must be finite \[mV\], got nan"):
        HodgkinHuxley(e_k=float("nan"))
    with pytest.raises(ValueError, match=r"integrator must be one of Integrator.EULER"):
        HodgkinHuxley(integrator="rk4")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"v_init must be in \(-200, 200\) \[mV\]"):
        HodgkinHuxley(v_init=float("inf"))
    with pytest.raises(ValueError, match=r"HodgkinHuxley: dt must be > 0 \[ms\]"):
        HodgkinHuxley(dt=0.0)
    with pytest.raises(TypeError):
        HodgkinHuxley(gna=100.0)  # type: ignore[call-arg]
    x = torch.full((10, 3), 5.0)
    x[2, 0] = float("inf")
    with pytest.raises(ValueError, match="HodgkinHuxley: input must be finite, got inf"):
        HodgkinHuxley()(x)

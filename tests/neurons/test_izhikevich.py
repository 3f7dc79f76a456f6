"""Izhikevich (2003): the firing patterns of the paper's Fig. 2 under its protocols, measured
from inter-spike intervals; the paper's own code; an event-driven ODE reference; gradients;
errors.

Sources: parameters and protocols from E. M. Izhikevich, "Simple model of spiking neurons",
IEEE TNN 14:1569 (2003), Fig. 2 (DC step I = 10, time resolution 0.1 ms; TC hyperpolarised to
about -87 mV) and the MATLAB code printed in the paper. The ODE reference is computed here with
scipy's ``solve_ivp`` (DOP853, rtol = atol = 1e-10) with an exact reset at the event v = 30.
"""

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from neuraltide.neurons import (
    Izhikevich,
    IzhikevichPreset,
    IzhikevichScheme,
    IzhikevichState,
    izhikevich_step,
)
from neuraltide.surrogate import ATan

F64 = torch.float64
NAMES = [p.name for p in IzhikevichPreset]
I_DC = 10.0  # the paper's Fig. 2 step


@pytest.fixture(autouse=True, scope="module")
def _float64():
    """Build models in float64, so parameters like a = 0.02 are not rounded to float32 first
    (``.double()`` after construction would keep the float32 rounding)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(F64)
    yield
    torch.set_default_dtype(old)


# ---- helpers ----------------------------------------------------------------------------------


def batch_of_presets(dt: float, scheme: IzhikevichScheme = IzhikevichScheme.RK4) -> Izhikevich:
    """All presets as one layer of 7 neurons with per-neuron parameters (one run for all)."""
    table = torch.tensor([p.value for p in IzhikevichPreset], dtype=F64)
    return Izhikevich(a=table[:, 0], b=table[:, 1], c=table[:, 2], d=table[:, 3],
                      shape=(len(NAMES),), dt=dt, scheme=scheme).double()


def spike_times(spikes: torch.Tensor, dt: float) -> list[np.ndarray]:
    """Spike times [ms] of each column of a (T, N) spike tensor (stamp (n+1) dt)."""
    return [(col.nonzero().flatten() + 1).numpy() * dt for col in spikes.T]


def dc_step(dt: float, t_end: float, scheme=IzhikevichScheme.RK4) -> dict[str, np.ndarray]:
    model = batch_of_presets(dt, scheme)
    x = torch.full((round(t_end / dt), len(NAMES)), I_DC, dtype=F64)
    spikes, _ = model(x)
    return dict(zip(NAMES, spike_times(spikes, dt), strict=True))


def ode_reference(a: float, b: float, c: float, d: float, current: float, t_end: float
                  ) -> np.ndarray:
    """Spike times of the Izhikevich ODE from rest, reset exactly at v = 30 (event)."""
    v0 = (-(5 - b) - math.sqrt((5 - b) ** 2 - 22.4)) / 0.08
    y, t, spikes = [v0, b * v0], 0.0, []

    def f(_t, y):
        return [0.04 * y[0] ** 2 + 5 * y[0] + 140 - y[1] + current, a * (b * y[0] - y[1])]

    def peak(_t, y):
        return y[0] - 30.0

    peak.terminal, peak.direction = True, 1
    while True:
        sol = solve_ivp(f, (t, t_end), y, method="DOP853", rtol=1e-10, atol=1e-10,
                        events=peak)
        if sol.status != 1:
            return np.array(spikes)
        t = sol.t_events[0][0]
        spikes.append(t)
        y = [c, sol.y_events[0][0][1] + d]


@pytest.fixture(scope="module")
def fig2() -> dict[str, np.ndarray]:
    """Spike times of every preset under the paper's protocol: I = 10 from rest, dt = 0.1 ms,
    default scheme (RK4), 500 ms."""
    return dc_step(0.1, 500.0)


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    return {p.name: ode_reference(*p.value, I_DC, 300.0) for p in IzhikevichPreset}


# ---- the paper's Fig. 2 ------------------------------------------------------------------------


def test_presets_are_the_papers_table() -> None:
    """Fig. 2 of the paper: (a, b, c, d) per cell class."""
    assert IzhikevichPreset.RS.value == (0.02, 0.2, -65.0, 8.0)
    assert IzhikevichPreset.IB.value == (0.02, 0.2, -55.0, 4.0)
    assert IzhikevichPreset.CH.value == (0.02, 0.2, -50.0, 2.0)
    assert IzhikevichPreset.FS.value == (0.1, 0.2, -65.0, 2.0)
    assert IzhikevichPreset.LTS.value == (0.02, 0.25, -65.0, 2.0)
    assert IzhikevichPreset.TC.value == (0.02, 0.25, -65.0, 0.05)
    assert IzhikevichPreset.RZ.value == (0.1, 0.26, -65.0, 2.0)
    rs = Izhikevich.preset("rs", dt=0.5)
    assert rs.dt == 0.5 and rs.values()["d"].item() == 8.0
    assert Izhikevich.preset(IzhikevichPreset.FS, d=3.0).values()["d"].item() == 3.0


def test_regular_spiking_adapts(fig2) -> None:
    isi = np.diff(fig2["RS"])
    assert len(isi) >= 5
    assert isi[-1] > 2.0 * isi[0]  # measured 44.9 / 17.3 = 2.6
    assert np.all(isi[1:] > 1.5 * isi[0])  # every later interval is longer: no bursts


def test_fast_spiking_is_fast_with_only_brief_weak_adaptation(fig2) -> None:
    fs, rs, lts = (np.diff(fig2[n]) for n in ("FS", "RS", "LTS"))
    # much higher steady rate than RS (measured 135 Hz vs 22 Hz)
    assert 1000 / fs[-1] > 4 * 1000 / rs[-1]
    # the recovery variable is 5x faster (a = 0.1): the rate settles within ~2.5/a = 25 ms,
    # after which the intervals are constant (ratio of last to first settled ISI near 1)
    settled = fs[fig2["FS"][:-1] > 25.0]
    assert abs(settled[-1] / settled[0] - 1) < 0.03
    assert settled.std() / settled.mean() < 0.02
    # and the onset adaptation is weaker than RS's and LTS's (measured 1.85 vs 2.6 and 4.5)
    assert fs[-1] / fs[0] < rs[-1] / rs[0] < lts[-1] / lts[0]


def test_intrinsically_bursting_bursts_then_spikes_tonically(fig2) -> None:
    isi = np.diff(fig2["IB"])
    assert np.all(isi[:2] < 5.0)  # initial burst: measured 2.2, 3.4 ms
    assert np.all(isi[2:] > 25.0)  # then single spikes: measured 31.3 ms
    assert isi[2:].std() / isi[2:].mean() < 0.1  # tonic


def test_chattering_fires_repeated_bursts(fig2) -> None:
    isi = np.diff(fig2["CH"])
    short, long_ = isi[isi < 10.0], isi[isi > 30.0]
    assert len(short) + len(long_) == len(isi)  # bimodal: nothing between 10 and 30 ms
    assert len(long_) >= 5  # repeated bursts (measured every ~55 ms)
    assert len(short) >= 3 * len(long_)  # several spikes per burst (measured 4-7)
    assert short.max() < long_.min() / 5


def test_low_threshold_spiking_starts_fast_and_adapts(fig2) -> None:
    lts, rs = np.diff(fig2["LTS"]), np.diff(fig2["RS"])
    assert 1000 / lts[0] > 200  # high initial rate (measured 330 Hz)
    assert lts[0] < rs[0] / 3
    assert lts[-1] > 3 * lts[0]  # adaptation (measured 13.5 / 3.0)
    assert np.all(np.diff(lts[:5]) > 0)  # intervals lengthen spike by spike


def test_thalamocortical_rebound_burst_after_hyperpolarisation() -> None:
    """Paper: hyperpolarised to about -87 mV and released, TC fires a rebound burst."""
    dt = 0.1
    model = batch_of_presets(dt)
    x = torch.cat([torch.full((3000, 7), -30.0, dtype=F64), torch.zeros(1000, 7, dtype=F64)])
    rec = model.run(x, record=("v",))
    v_held = dict(zip(NAMES, rec.traces["v"][2999].tolist(), strict=True))
    assert -90.0 < v_held["TC"] < -85.0
    times = dict(zip(NAMES, spike_times(rec.spikes, dt), strict=True))
    assert all(len(times[n][times[n] < 300.0]) == 0 for n in NAMES)  # silent while held
    tc = times["TC"] - 300.0
    burst = tc[tc < 30.0]
    assert len(burst) >= 4  # measured 7 spikes in 40 ms
    assert np.all(np.diff(burst) < 7.0)  # closely spaced (measured 4.0-6.0 ms)
    rs = times["RS"] - 300.0
    assert len(rs) <= 1  # control: RS gives at most one rebound spike


def linear_oscillation(a: float, b: float) -> tuple[float, float]:
    """Angular frequency [rad/ms] and decay rate [1/ms] of the linearisation at rest."""
    v0 = (-(5 - b) - math.sqrt((5 - b) ** 2 - 22.4)) / 0.08
    j11, j12, j21, j22 = 0.08 * v0 + 5, -1.0, a * b, -a
    tr, det = j11 + j22, j11 * j22 - j12 * j21
    disc = det - tr**2 / 4
    return (math.sqrt(disc) if disc > 0 else 0.0), -tr / 2


def test_resonator_rings_after_a_brief_pulse() -> None:
    """A 1 ms pulse below threshold: RZ's v oscillates about rest, damped, with the period and
    decay of its linearisation (complex eigenvalues); RS and FS (real eigenvalues) do not."""
    dt = 0.1
    model = batch_of_presets(dt)
    rest = model.initial_state((7,), dtype=F64).v
    x = torch.zeros(3000, 7, dtype=F64)
    x[:10] = 1.0
    rec = model.run(x, record=("v",))
    assert rec.spikes.sum() == 0
    dv = (rec.traces["v"] - rest).numpy()
    col = {n: dv[:, k] for k, n in enumerate(NAMES)}
    rz = col["RZ"]
    crossings = np.nonzero(rz[1:] * rz[:-1] < 0)[0] * dt
    assert len(crossings) >= 6
    omega, decay = linear_oscillation(*IzhikevichPreset.RZ.value[:2])
    half_period = np.diff(crossings).mean()  # measured 20.5 ms; linear theory 20.49 ms
    assert half_period == pytest.approx(math.pi / omega, rel=0.03)
    slope = np.diff(rz)
    ext = np.nonzero(slope[1:] * slope[:-1] < 0)[0] + 1
    amplitude = np.abs(rz[ext])
    ratios = amplitude[2:6] / amplitude[1:5]  # skip the first, nonlinear, peak
    assert np.allclose(ratios, math.exp(-decay * math.pi / omega), rtol=0.1)
    for name in ("RS", "FS"):
        assert linear_oscillation(*getattr(IzhikevichPreset, name).value[:2])[0] == 0.0
        trace = col[name]
        assert np.count_nonzero(trace[1:] * trace[:-1] < 0) <= 1


# ---- numerics ---------------------------------------------------------------------------------


def mean_rate_hz(times: np.ndarray) -> float:
    return 1000.0 * (len(times) - 1) / (times[-1] - times[0])


def test_rk4_matches_the_ode_reference(fig2, reference) -> None:
    """dt = 0.1 ms (default): mean rates within 3%, intervals within 4 steps (the last spike
    of a chattering burst, which sits near a fold, within 10 steps)."""
    for name in NAMES:
        ref = reference[name]
        ours = fig2[name][: len(ref)]
        assert len(ours) == len(ref)  # 500 ms simulated: enough spikes to compare
        assert mean_rate_hz(ours) == pytest.approx(mean_rate_hz(ref), rel=0.03), name
        err = np.abs(np.diff(ours) - np.diff(ref))
        assert err.max() < (1.0 if name == "CH" else 0.4), (name, err.max())


def test_rk4_error_is_first_order_in_dt_from_the_time_grid(reference) -> None:
    """At dt = 0.01 ms the interval errors shrink tenfold (the reset acts at the end of the
    step that crossed v_peak: an O(dt) timing error)."""
    fine = dc_step(0.01, 100.0)
    for name in NAMES:
        ours, ref = fine[name], reference[name][reference[name] < 100.0]
        assert abs(len(ours) - len(ref)) <= 1, name  # a spike may fall either side of 100 ms
        n = min(len(ours), len(ref))
        err = np.abs(np.diff(ours[:n]) - np.diff(ref[:n]))
        assert err.max() < 0.1, (name, err.max())


def test_paper_scheme_agrees_with_rk4_for_rs_at_small_dt() -> None:
    dt, t_end = 0.01, 150.0
    rs = {
        scheme: Izhikevich.preset("RS", dt=dt, scheme=scheme).double()
        for scheme in IzhikevichScheme
    }
    x = torch.full((round(t_end / dt), 1), I_DC, dtype=F64)
    t_paper, t_rk4 = (spike_times(rs[s](x)[0], dt)[0] for s in
                      (IzhikevichScheme.PAPER, IzhikevichScheme.RK4))
    assert len(t_paper) == len(t_rk4) >= 4
    assert np.abs(t_paper - t_rk4).max() < 0.1  # measured 0.05 ms


def paper_code(a: float, b: float, c: float, d: float, current: float, steps: int):
    """The paper's MATLAB loop for one neuron, transcribed (1 ms per step). At 1 ms the
    scheme's overshoot past 30 mV amplifies rounding, so the transcription must round like
    the model for the traces to stay equal over 1000 steps."""
    v, u = -65.0, b * -65.0
    vs, fired = [], []
    for t in range(steps):
        if v >= 30:
            v, u = c, u + d
        v = v + 0.5 * (0.04 * (v * v) + 5 * v + 140 - u + current)  # v.^2: the rounded square
        v = v + 0.5 * (0.04 * (v * v) + 5 * v + 140 - u + current)  # (Python's ** is 1 ulp off)
        u = u + a * (b * v - u)
        vs.append(v)
        if v >= 30:
            fired.append(t)
    return np.array(vs), np.array(fired)


@pytest.mark.parametrize("name", ["RS", "FS", "CH"])
def test_paper_scheme_at_1_ms_is_the_papers_code(name: str) -> None:
    a, b, c, d = IzhikevichPreset[name].value
    model = Izhikevich.preset(name, dt=1.0, scheme=IzhikevichScheme.PAPER).double()
    start = IzhikevichState(*(torch.tensor([x], dtype=F64) for x in (-65.0, b * -65.0, 0.0)))
    rec = model.run(torch.full((1000, 1), I_DC, dtype=F64), start, record=("v",))
    v_ref, fired_ref = paper_code(a, b, c, d, I_DC, 1000)
    assert len(fired_ref) > 10
    np.testing.assert_array_equal(rec.spikes[:, 0].nonzero().flatten().numpy(), fired_ref)
    np.testing.assert_allclose(rec.traces["v"][:, 0].numpy(), v_ref, rtol=1e-12, atol=1e-10)


def test_paper_scheme_at_1_ms_is_far_from_the_ode_for_fast_spiking(fig2, reference) -> None:
    """The paper's own resolution distorts FS: measured 21 spikes in 300 ms vs the ODE's 42
    (RK4 at 0.1 ms: 41)."""
    coarse = dc_step(1.0, 300.0, IzhikevichScheme.PAPER)["FS"]
    ref = reference["FS"]
    assert len(coarse) < 0.75 * len(ref)
    ours = fig2["FS"][fig2["FS"] < 300.0]
    assert abs(len(ours) - len(ref)) <= 0.03 * len(ref)


def test_starts_at_rest_and_stays_there() -> None:
    model = batch_of_presets(0.1)
    st = model.initial_state((7,), dtype=F64)
    rest_rs = (-(4.8) - math.sqrt(4.8**2 - 22.4)) / 0.08
    assert st.v[NAMES.index("RS")].item() == pytest.approx(rest_rs)  # -70 mV
    spikes, end = model(torch.zeros(2000, 7, dtype=F64), st)
    assert spikes.sum() == 0
    torch.testing.assert_close(end.v, st.v, rtol=0, atol=1e-9)
    torch.testing.assert_close(end.u, st.u, rtol=0, atol=1e-9)
    # no resting state for b > 0.267: the paper's start v = -65, u = b v
    tonic = Izhikevich(b=0.3).double().initial_state((1,))
    assert tonic.v.item() == -65.0 and tonic.u.item() == pytest.approx(-19.5)


def test_spike_is_stamped_on_the_crossing_step_and_reset_applied_next() -> None:
    model = Izhikevich.preset("RS").double()
    rec = model.run(torch.full((300, 1), I_DC, dtype=F64), record=("v", "u"))
    n = int(rec.spikes[:, 0].nonzero()[0])
    v, u = rec.traces["v"][:, 0], rec.traces["u"][:, 0]
    assert v[n] > 30.0 and v[n - 1] < 30.0
    # the next sample starts from c = -65 and u + d: one RK4 step from the reset state
    st = IzhikevichState(v[n:n + 1], u[n:n + 1], rec.spikes[n, :1])
    _, after = model.step(torch.full((1,), I_DC, dtype=F64), st)
    fresh = IzhikevichState(torch.tensor([-65.0], dtype=F64), u[n:n + 1] + 8.0,
                            torch.zeros(1, dtype=F64))
    _, expected = model.step(torch.full((1,), I_DC, dtype=F64), fresh)
    torch.testing.assert_close(after.v, expected.v)
    torch.testing.assert_close(after.u, expected.u)
    assert v[n + 1].item() == pytest.approx(expected.v.item())


def test_rk4_stays_finite_with_large_steps_and_inputs() -> None:
    model = batch_of_presets(1.0).double()
    spikes, st = model(torch.full((500, 7), 40.0, dtype=F64))
    assert all(torch.isfinite(t).all() for t in st)
    assert (spikes.sum(0) > 10).all()


# ---- gradients --------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", list(IzhikevichScheme))
def test_gradients_reach_a_b_c_d(scheme: IzhikevichScheme) -> None:
    model = Izhikevich.preset("RS", learn=("a", "b", "c", "d", "v_peak"), shape=(3,),
                              scheme=scheme, surrogate=ATan(alpha=0.5))
    x = torch.full((1500, 2, 3), 10.0)
    rec = model.run(x, record=("v",))
    assert rec.spikes.sum() > 0
    loss = rec.spikes.sum() + rec.traces["v"].mean()
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert (p.grad.abs() > 0).all(), name


@pytest.mark.parametrize("scheme", list(IzhikevichScheme))
def test_gradcheck_through_steps_with_a_spike_and_a_reset(scheme: IzhikevichScheme) -> None:
    """Traces depend on spikes only through piecewise-constant terms (detached reset), so
    autograd must equal finite differences exactly, across a crossing and a reset."""
    dt = 0.1
    params = [torch.tensor([0.02, 0.1], dtype=F64), torch.tensor([0.2, 0.26], dtype=F64),
              torch.tensor([-65.0, -55.0], dtype=F64), torch.tensor([8.0, 2.0], dtype=F64),
              torch.tensor([30.0, 30.0], dtype=F64)]
    params = [p.requires_grad_() for p in params]
    x = torch.full((6, 2), 10.0, dtype=F64, requires_grad=True)
    v0 = torch.tensor([20.0, -60.0], dtype=F64, requires_grad=True)  # neuron 0 spikes at once

    def run(inp, v_init, *p):
        from neuraltide.neurons.izhikevich import IzhikevichParams

        prm = IzhikevichParams(*p)
        st = IzhikevichState(v_init, prm.b * v_init, torch.zeros_like(v_init))
        out, spikes = [], []
        for xt in inp:
            s, st = izhikevich_step(xt, st, prm, dt=dt, scheme=scheme, surrogate=ATan(),
                                    detach_reset=True)
            out += [st.v, st.u]
            spikes.append(s)
        assert torch.stack(spikes).sum() >= 1  # the window holds a spike and its reset
        return torch.stack(out)

    assert torch.autograd.gradcheck(run, (x, v0, *params))


# ---- errors -----------------------------------------------------------------------------------


def test_bad_parameters_and_inputs() -> None:
    with pytest.raises(ValueError, match=r"Izhikevich: a must be > 0 \[1/ms\], got 0.0\."):
        Izhikevich(a=0.0)
    with pytest.raises(ValueError, match=r"Izhikevich: b must be finite \[1/ms\], got nan\."):
        Izhikevich(b=float("nan"))
    with pytest.raises(ValueError, match=r"Izhikevich: c must be < v_peak=30.0 \[mV\], got 35"):
        Izhikevich(c=35.0)
    with pytest.raises(ValueError, match=r"d must be finite \[mV/ms\], got inf"):
        Izhikevich(d=torch.tensor([2.0, float("inf")]), shape=(2,))
    with pytest.raises(ValueError, match=r"Izhikevich: dt must be > 0 \[ms\], got -0.1"):
        Izhikevich(dt=-0.1)
    with pytest.raises(ValueError, match=r"scheme must be one of IzhikevichScheme.RK4"):
        Izhikevich(scheme="paper")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"dt=25.0 ms exceeds 2/a=20 ms"):
        Izhikevich.preset("FS", dt=25.0, scheme=IzhikevichScheme.PAPER)
    with pytest.raises(ValueError, match=r"preset must be one of \['RS', 'IB'"):
        Izhikevich.preset("XY")
    with pytest.raises(ValueError, match="learn must name parameters among"):
        Izhikevich(learn=("tau",))
    with pytest.raises(TypeError):
        Izhikevich(tau=5.0)  # type: ignore[call-arg]
    model = Izhikevich()
    x = torch.full((10, 2), 10.0)
    x[4, 1] = float("nan")
    with pytest.raises(ValueError, match=r"Izhikevich: input must be finite, got nan"):
        model(x)
    with pytest.raises(ValueError, match="does not end in the per-neuron parameter shape"):
        Izhikevich(a=torch.tensor([0.02, 0.1]), shape=(2,))(torch.zeros(5, 3))

"""Encoders: statistics of the rate codes, closed forms of the latency code, exact delta codes,
population tuning, snnTorch parity, and bad input."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuraltide.encoding import (
    DeltaMode,
    DeltaStart,
    Fit,
    LatencyForm,
    OffSpikes,
    bernoulli,
    delta,
    gaussian_population,
    gaussian_tuning,
    latency,
    latency_times,
    poisson,
)

spikegen = pytest.importorskip("snntorch.spikegen")


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def first_step(spikes: torch.Tensor) -> torch.Tensor:
    """Index of the first spike along time, -1 where there is none."""
    has = spikes.sum(0) > 0
    return torch.where(has, spikes.argmax(0), torch.full_like(has, -1, dtype=torch.long))


# ---- Poisson ---------------------------------------------------------------------------------
def test_poisson_counts_match_rate_statistically() -> None:
    rates = torch.tensor([5.0, 20.0, 50.0, 100.0])  # Hz
    T, dt, trials = 1000, 1.0, 2000  # 1 s per trial
    spikes = poisson(rates.expand(trials, 4), T, dt=dt, generator=gen(1))
    assert spikes.shape == (T, trials, 4)
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    counts = spikes.sum(0).double()
    p = rates.double() * dt * 1e-3
    mean_expected = p * T  # rate * T * dt
    var_expected = T * p * (1 - p)  # binomial
    se = (var_expected / trials).sqrt()
    assert ((counts.mean(0) - mean_expected).abs() < 4 * se).all(), counts.mean(0)
    fano = counts.var(0) / counts.mean(0)
    # Fano factor of the Bernoulli-per-step process is 1 - p (Poisson limit 1); sampling s.d.
    # of a variance ratio is about sqrt(2 / (trials - 1)).
    tol = 5 * math.sqrt(2 / (trials - 1))
    assert ((fano - (1 - p)).abs() < tol).all(), fano
    assert ((fano - 1).abs() < 0.15).all()


def test_poisson_uses_dt_in_ms() -> None:
    # 40 Hz for 2 s at dt = 0.1 ms: 80 spikes expected; s.d. sqrt(80) ~ 9.
    spikes = poisson(torch.full((200,), 40.0), 20000, dt=0.1, generator=gen(2))
    mean = spikes.sum(0).mean().item()
    assert abs(mean - 80.0) < 4 * math.sqrt(80.0 / 200)


def test_poisson_steps_are_independent() -> None:
    s = poisson(torch.full((500,), 200.0), 2000, dt=1.0, generator=gen(3)).double()
    x = s - s.mean(0)
    lag1 = (x[1:] * x[:-1]).mean() / x.var()
    assert abs(lag1.item()) < 0.01


def test_poisson_reproducible_with_generator_and_keeps_dtype() -> None:
    rates = torch.tensor([[10.0, 300.0]], dtype=torch.float64)
    a = poisson(rates, 100, generator=gen(7))
    b = poisson(rates, 100, generator=gen(7))
    c = poisson(rates, 100, generator=gen(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.dtype == torch.float64 and a.shape == (100, 1, 2)
    assert poisson(torch.tensor(0.0), 3).shape == (3,)


def test_poisson_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"poisson: rate\*dt must be <= 1 .*1500 Hz"):
        poisson(torch.tensor([10.0, 1500.0]), 10, dt=1.0)
    poisson(torch.tensor([1500.0]), 10, dt=0.5)  # fine at a smaller step
    with pytest.raises(ValueError, match=r"rates_hz must be >= 0 \[Hz\], got -1.0"):
        poisson(torch.tensor([-1.0]), 10)
    with pytest.raises(ValueError, match="rates_hz must be finite, got nan"):
        poisson(torch.tensor([float("nan")]), 10)
    with pytest.raises(ValueError, match="rates_hz must be finite, got inf"):
        poisson(torch.tensor([float("inf")]), 10)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match=r"num_steps must be a whole number >= 1 \[steps\]"):
            poisson(torch.tensor([1.0]), bad)
    for bad in (0.0, -1.0, float("nan"), "1"):
        with pytest.raises(ValueError, match=r"poisson: dt must be .*> 0 \[ms\], got"):
            poisson(torch.tensor([1.0]), 10, dt=bad)
    with pytest.raises(ValueError, match=r"rates_hz must be a torch\.Tensor"):
        poisson([10.0], 10)


# ---- Bernoulli -------------------------------------------------------------------------------
@pytest.mark.parametrize("gain", [1.0, 0.5])
def test_bernoulli_mean_equals_gain_times_intensity(gain: float) -> None:
    x = torch.linspace(0, 1, 11)
    T = 20000
    s = bernoulli(x, T, gain=gain, generator=gen(4))
    p = (gain * x).double()
    se = (p * (1 - p) / T).sqrt()
    assert ((s.double().mean(0) - p).abs() <= 4 * se + 1e-12).all()
    assert s[:, 0].sum() == 0
    if gain == 1.0:
        assert s[:, -1].sum() == T


def test_bernoulli_draws_exactly_what_snntorch_rate_draws() -> None:
    x = torch.rand(8, 12, generator=gen(0))
    for seed in range(5):
        torch.manual_seed(seed)
        ref = spikegen.rate(x, num_steps=30, gain=0.7)
        assert torch.equal(bernoulli(x, 30, gain=0.7, generator=gen(seed)), ref)


def test_bernoulli_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"intensities must be in \[0, 1\] \[1\], got 1.5"):
        bernoulli(torch.tensor([0.2, 1.5]), 5)
    with pytest.raises(ValueError, match=r"intensities must be in \[0, 1\].*-0.1"):
        bernoulli(torch.tensor([-0.1]), 5)
    with pytest.raises(ValueError, match="intensities must be finite, got nan"):
        bernoulli(torch.tensor([float("nan")]), 5)
    with pytest.raises(ValueError, match=r"gain\*intensities must be <= 1.*use gain <= 1.25"):
        bernoulli(torch.tensor([0.8]), 5, gain=2.0)
    with pytest.raises(ValueError, match=r"gain must be .*>= 0 \[1\], got -1.0"):
        bernoulli(torch.tensor([0.8]), 5, gain=-1.0)


# ---- latency ---------------------------------------------------------------------------------
@pytest.mark.parametrize("form", list(LatencyForm))
def test_latency_brighter_is_earlier_and_one_spike_each(form: LatencyForm) -> None:
    x = torch.sort(torch.rand(200, generator=gen(5))).values
    s = latency(x, 50, tau=Fit.WINDOW, form=form)
    assert torch.equal(s.sum(0), torch.ones(200))
    steps = first_step(s)
    assert (steps[1:] <= steps[:-1]).all()  # non-increasing with intensity
    assert steps[0] > steps[-1]


def test_latency_linear_first_step_matches_closed_form() -> None:
    tau, dt, thr, first = 30.0, 0.5, 0.05, 2.0  # ms
    xs = [0.05, 0.12, 0.33, 0.5, 0.71, 0.9, 1.0]
    T = 100
    s = latency(
        torch.tensor(xs, dtype=torch.float64),
        T,
        tau=tau,
        form=LatencyForm.LINEAR,
        threshold=thr,
        first_spike_time=first,
        dt=dt,
    )
    expected = [round((first + tau * (1 - x)) / dt) for x in xs]
    assert first_step(s).tolist() == expected
    times = latency_times(
        torch.tensor(xs, dtype=torch.float64),
        T,
        tau=tau,
        form=LatencyForm.LINEAR,
        threshold=thr,
        first_spike_time=first,
        dt=dt,
    )
    torch.testing.assert_close(
        times, torch.tensor([first + tau * (1 - x) for x in xs], dtype=torch.float64)
    )


def test_latency_rc_first_step_matches_closed_form() -> None:
    # An RC membrane tau dv/dt = -v + x reaches thr at t = tau ln(x / (x - thr)).
    tau, dt, thr = 5.0, 0.1, 0.2
    xs = [0.21, 0.25, 0.3, 0.4, 0.6, 0.8, 1.0]
    s = latency(torch.tensor(xs, dtype=torch.float64), 400, tau=tau, threshold=thr, dt=dt)
    expected = [round(tau * math.log(x / (x - thr)) / dt) for x in xs]
    assert first_step(s).tolist() == expected
    # the same time from integrating the RC circuit exactly
    for x, n in zip(xs, expected, strict=True):
        t_cross = -tau * math.log(1 - thr / x)
        assert abs(t_cross / dt - n) <= 0.5


def test_latency_fit_window_spans_the_window() -> None:
    T, first = 20, 3.0
    x = torch.tensor([0.0, 0.01, 0.5, 1.0])
    lin = latency(
        x, T, tau=Fit.WINDOW, form=LatencyForm.LINEAR, threshold=0.01, first_spike_time=first
    )
    assert first_step(lin).tolist() == [
        round(first + (T - 1 - first) * 0.99),
        round(first + (T - 1 - first) * 0.99),
        round(first + (T - 1 - first) * 0.5),
        3,
    ]
    rc = latency(x, T, tau=Fit.WINDOW, form=LatencyForm.RC, first_spike_time=first)
    assert first_step(rc)[0] == T - 1  # an input at or below threshold: the last step
    assert first_step(rc)[-1] == 3


def test_latency_fit_window_is_batch_independent() -> None:
    x = torch.rand(16, 10, generator=gen(6)) * 0.9 + 0.05  # no input at threshold
    whole = latency(x, 25, tau=Fit.WINDOW)
    for b in range(16):
        assert torch.equal(latency(x[b : b + 1], 25, tau=Fit.WINDOW), whole[:, b : b + 1])


def test_latency_clip_drops_subthreshold_and_late_spikes() -> None:
    x = torch.tensor([0.005, 0.02, 1.0])
    # RC, tau = 10: x = 0.02 fires at 10 ln 2 = 6.9 -> step 7; T = 5 is too short for it.
    kept = latency(x, 5, tau=10.0, clip=False)
    assert first_step(kept).tolist() == [4, 4, 0]  # late and sub-threshold -> last step
    clipped = latency(x, 5, tau=10.0, clip=True)
    assert first_step(clipped).tolist() == [-1, -1, 0]
    assert first_step(latency(x, 10, tau=10.0, clip=True)).tolist() == [-1, 7, 0]


def test_latency_equals_snntorch_where_snntorch_answers() -> None:
    g = gen(9)
    compared = 0
    for trial in range(240):
        T = int(torch.randint(2, 60, (), generator=g))
        x = torch.rand(6, 7, generator=g)
        if trial % 3:
            x[0, 0] = 0.0  # a black pixel
        linear, clip, normalize = trial % 2 == 1, (trial // 2) % 2 == 1, (trial // 4) % 2 == 1
        thr = float(torch.rand((), generator=g)) * 0.3 + 0.005
        first = int(torch.randint(0, T, (), generator=g))
        tau = float(torch.rand((), generator=g)) * 3 + 0.1
        try:
            ref = spikegen.latency(
                x,
                num_steps=T,
                threshold=thr,
                tau=tau,
                clip=clip,
                first_spike_time=first,
                normalize=normalize,
                linear=linear,
            )
        except Exception:  # snnTorch raises when a spike would fall after the window
            continue
        if normalize and not linear and not (x <= thr).any():
            continue  # snnTorch normalises by the batch's own latest spike (documented)
        ours = latency(
            x,
            T,
            tau=Fit.WINDOW if normalize else tau,
            clip=clip,
            threshold=thr,
            form=LatencyForm.LINEAR if linear else LatencyForm.RC,
            first_spike_time=float(first),
        )
        assert torch.equal(ours, ref), (T, linear, clip, normalize, thr, first, tau)
        compared += 1
    assert compared > 100


def test_latency_snntorch_docstring_example() -> None:
    a = torch.tensor([0.02, 0.5, 1.0])
    ref = spikegen.latency(a, num_steps=5, normalize=True, linear=True)
    assert torch.equal(latency(a, 5, tau=Fit.WINDOW, form=LatencyForm.LINEAR), ref)


def test_latency_rejects_bad_input() -> None:
    x = torch.tensor([0.5])
    with pytest.raises(ValueError, match=r"latency: intensities must be in \[0, 1\]"):
        latency(torch.tensor([1.01]), 5)
    with pytest.raises(ValueError, match="intensities must be finite, got nan"):
        latency(torch.tensor([float("nan")]), 5)
    for thr in (0.0, 1.0, -0.2):
        with pytest.raises(ValueError, match=r"threshold must be .*in \(0, 1\) \[1\]"):
            latency(x, 5, threshold=thr)
    with pytest.raises(ValueError, match=r"tau must be .*> 0 \[ms\], got -1.0"):
        latency(x, 5, tau=-1.0)
    with pytest.raises(ValueError, match=r"first_spike_time must be <= \(num_steps - 1\)"):
        latency(x, 5, first_spike_time=4.5)
    with pytest.raises(ValueError, match=r"form must be one of LatencyForm\.LINEAR, LatencyForm"):
        latency(x, 5, form="linear")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="clip must be True or False"):
        latency(x, 5, clip=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_steps must be a whole number >= 1"):
        latency(x, 0)


# ---- delta -----------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", list(DeltaMode))
def test_delta_encodes_a_step_signal_exactly(mode: DeltaMode) -> None:
    x = torch.zeros(20, 2)
    x[5:12, 0] = 1.0  # up at 5, down at 12
    x[8:, 1] = -2.0  # down at 8
    on = torch.zeros(20, 2)
    on[5, 0] = 1.0
    off = torch.zeros(20, 2)
    off[12, 0] = off[8, 1] = 1.0
    assert torch.equal(delta(x, 0.5, mode=mode), on)
    assert torch.equal(delta(x, 0.5, mode=mode, off=OffSpikes.SIGNED), on - off)
    assert torch.equal(delta(x, 0.5, mode=mode, off=OffSpikes.CHANNEL), torch.stack((on, off), -1))


def test_delta_start_sets_the_first_reference() -> None:
    x = torch.full((4,), 1.0)
    assert delta(x, 0.5).tolist() == [1.0, 0.0, 0.0, 0.0]
    assert delta(x, 0.5, start=DeltaStart.FIRST).tolist() == [0.0] * 4


def test_delta_level_crossing_follows_a_slow_ramp() -> None:
    k, thr = 0.03, 0.1  # per step; a spike every ceil(0.1 / 0.03) = 4 steps
    x = k * torch.arange(40, dtype=torch.float64)
    s = delta(x, thr, start=DeltaStart.FIRST)
    assert torch.nonzero(s).flatten().tolist() == list(range(4, 40, 4))
    assert delta(x, thr, mode=DeltaMode.DIFFERENCE).sum() == 0  # too slow to be seen


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=1, max_size=40), st.floats(0.05, 2.0))
def test_delta_level_crossing_tracks_within_threshold(values: list[float], thr: float) -> None:
    x = torch.tensor(values, dtype=torch.float64)
    s = delta(x, thr, off=OffSpikes.SIGNED)
    ref = 0.0
    for xt, st_ in zip(values, s.tolist(), strict=True):
        if st_ != 0:
            assert (xt - ref >= thr) if st_ > 0 else (ref - xt >= thr)
            ref = xt
        assert abs(xt - ref) < thr  # between events the signal stays within threshold
    on = delta(x, thr)
    assert torch.equal(on, (s > 0).double())  # on-spikes do not depend on `off`


def test_delta_difference_equals_snntorch() -> None:
    g = gen(10)
    for _ in range(50):
        x = torch.randn(30, 4, 5, generator=g).cumsum(0)
        thr = float(torch.rand((), generator=g)) + 0.01
        for padding in (False, True):
            start = DeltaStart.FIRST if padding else DeltaStart.ZERO
            assert torch.equal(
                delta(x, thr, mode=DeltaMode.DIFFERENCE, start=start),
                spikegen.delta(x, threshold=thr, padding=padding),
            )
            assert torch.equal(
                delta(x, thr, mode=DeltaMode.DIFFERENCE, start=start, off=OffSpikes.SIGNED),
                spikegen.delta(x, threshold=thr, padding=padding, off_spike=True),
            )
    # snnTorch's docstring examples
    b = torch.tensor([1.0, 2.0, 0.0, 2.0, 2.9])
    assert delta(b, 1.0, mode=DeltaMode.DIFFERENCE, off=OffSpikes.SIGNED).tolist() == [
        1.0,
        1.0,
        -1.0,
        1.0,
        0.0,
    ]


def test_delta_rejects_bad_input() -> None:
    x = torch.zeros(5, 2)
    for thr in (0.0, -1.0, float("inf")):
        with pytest.raises(ValueError, match=r"delta: threshold must be .*> 0 \[input unit\]"):
            delta(x, thr)
    with pytest.raises(ValueError, match="signal must be a tensor shaped"):
        delta(torch.zeros(0, 3), 0.1)
    with pytest.raises(ValueError, match="signal must be finite, got nan"):
        delta(torch.tensor([0.0, float("nan")]), 0.1)
    with pytest.raises(ValueError, match=r"off must be one of OffSpikes\.NONE"):
        delta(x, 0.1, off=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode must be one of DeltaMode"):
        delta(x, 0.1, mode="difference")  # type: ignore[arg-type]


# ---- population ------------------------------------------------------------------------------
def test_gaussian_tuning_curves_peak_at_their_centres() -> None:
    centres = torch.tensor([-1.0, -0.3, 0.2, 0.9, 1.5])
    grid = torch.linspace(-2, 2, 4001, dtype=torch.float64)  # step 0.001
    a = gaussian_tuning(grid, centres, sigma=0.4)
    assert a.shape == (4001, 5)
    peaks = grid[a.argmax(0)]
    torch.testing.assert_close(peaks, centres.double(), atol=1e-3, rtol=0)
    torch.testing.assert_close(
        a.max(0).values, torch.ones(5, dtype=torch.float64), atol=1e-6, rtol=0
    )
    # value one sigma away from a centre: exp(-1/2)
    one_sigma = gaussian_tuning(torch.tensor([0.6]), torch.tensor([0.2]), sigma=0.4)
    assert abs(one_sigma.item() - math.exp(-0.5)) < 1e-6


def test_population_spike_counts_peak_at_centres() -> None:
    centres = torch.linspace(0, 1, 5)
    values = torch.linspace(-0.25, 1.25, 61)  # step 0.025
    s = gaussian_population(
        values, 4000, centres=centres, sigma=0.15, max_rate_hz=100.0, dt=1.0, generator=gen(11)
    )
    assert s.shape == (4000, 61, 5)
    counts = s.sum(0)  # (values, neurons): empirical tuning curves
    best = values[counts.argmax(0)]
    assert (best - centres).abs().max() <= 0.05
    expected = 4000 * 0.1 * gaussian_tuning(values, centres, 0.15)
    assert ((counts - expected).abs() <= 5 * expected.sqrt() + 1).all()


def test_population_rejects_bad_input() -> None:
    c = torch.linspace(0, 1, 4)
    with pytest.raises(ValueError, match=r"max_rate_hz\*dt must be <= 1.*use dt <= 0.5 ms"):
        gaussian_population(torch.tensor([0.5]), 10, centres=c, sigma=0.2, max_rate_hz=2000.0)
    with pytest.raises(ValueError, match=r"sigma must be .*> 0 \[input unit\], got 0.0"):
        gaussian_population(torch.tensor([0.5]), 10, centres=c, sigma=0.0)
    with pytest.raises(ValueError, match="centres must be a 1-D tensor"):
        gaussian_tuning(torch.tensor([0.5]), c.reshape(2, 2), sigma=0.2)
    with pytest.raises(ValueError, match="values must be finite, got nan"):
        gaussian_tuning(torch.tensor([float("nan")]), c, sigma=0.2)

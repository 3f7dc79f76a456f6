"""STDP rules against their analytic windows, Brian2, and each other."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neuraltide.plasticity import (
    Pairing,
    PairSTDP,
    RewardModulatedSTDP,
    TripletSTDP,
    WeightDependence,
)

F64 = torch.float64


def run_trains(rule, pre_steps, post_steps, n_steps, dt, w0=0.5, modulator=None):
    """Synapse k (one-to-one, sparse) sees pre spikes at the steps pre_steps[k] and post
    spikes at post_steps[k]; returns the final weights (K,) and the final state."""
    K = len(pre_steps)
    pre = torch.zeros(n_steps, 1, K, dtype=F64)
    post = torch.zeros(n_steps, 1, K, dtype=F64)
    for k, (a, b) in enumerate(zip(pre_steps, post_steps, strict=True)):
        pre[list(a), 0, k] = 1.0
        post[list(b), 0, k] = 1.0
    idx = torch.arange(K)
    state = rule.init_state(K, K, 1, device=None, dtype=F64, n_synapses=K)
    w = torch.full((K,), w0, dtype=F64)
    for n in range(n_steps):
        m = None if modulator is None else modulator[n]
        state, w = rule.step(state, pre[n], post[n], w, (idx, idx), dt, m)
    return w, state


def pair_protocol(delays_steps, offset=1100):
    pre = [[offset] for _ in delays_steps]
    post = [[offset + d] for d in delays_steps]
    return pre, post


def test_pair_window_equals_the_analytic_exponentials() -> None:
    rule = PairSTDP(a_plus=0.01, a_minus=0.012, tau_plus=16.8, tau_minus=33.7)
    dt = 0.5
    delays = list(range(-200, 201, 4))  # -100 ... 100 ms
    w, _ = run_trains(rule, *pair_protocol(delays), n_steps=2400, dt=dt)
    delta_t = torch.tensor(delays, dtype=F64) * dt
    torch.testing.assert_close(w - 0.5, rule.window(delta_t), rtol=1e-12, atol=1e-15)
    assert torch.all((w - 0.5)[delta_t > 0] > 0) and torch.all((w - 0.5)[delta_t < 0] < 0)


def test_pair_window_equals_brian2() -> None:
    b2 = pytest.importorskip("brian2")
    from brian2 import ms

    dt, tau_p, tau_m, a_p, a_m = 0.5, 20.0, 20.0, 0.01, 0.0105
    delays = list(range(-200, 201, 8))
    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = dt * ms
    K = len(delays)
    offset = 1100
    pre_g = b2.SpikeGeneratorGroup(K, np.arange(K), np.full(K, offset * dt) * ms)
    post_g = b2.SpikeGeneratorGroup(K, np.arange(K), (offset + np.array(delays)) * dt * ms)
    syn = b2.Synapses(
        pre_g, post_g,
        model="""w : 1
                 dapre/dt = -apre/taup : 1 (event-driven)
                 dapost/dt = -apost/taum : 1 (event-driven)""",
        on_pre="apre += 1\nw = clip(w - am * apost, 0, 1)",
        on_post="apost += 1\nw = clip(w + ap * apre, 0, 1)",
        namespace=dict(taup=tau_p * ms, taum=tau_m * ms, ap=a_p, am=a_m),
    )
    syn.connect(j="i")
    syn.w = 0.5
    b2.run(2400 * dt * ms)
    w_brian = torch.tensor(np.asarray(syn.w), dtype=F64)
    rule = PairSTDP(a_plus=a_p, a_minus=a_m, tau_plus=tau_p, tau_minus=tau_m)
    w_ours, _ = run_trains(rule, *pair_protocol(delays, offset), n_steps=2400, dt=dt)
    torch.testing.assert_close(w_ours, w_brian, rtol=1e-9, atol=1e-12)


def test_nearest_pairing_sees_only_the_last_presynaptic_spike() -> None:
    kw = dict(a_plus=0.01, a_minus=0.0, tau_plus=20.0, tau_minus=20.0)
    trains = ([[0, 10]], [[20]])  # pre at 0 and 10 ms, post at 20 ms (dt = 1 ms)
    w_all, _ = run_trains(PairSTDP(**kw), *trains, n_steps=30, dt=1.0)
    w_near, _ = run_trains(PairSTDP(pairing=Pairing.NEAREST, **kw), *trains, n_steps=30,
                           dt=1.0)
    assert float(w_all[0] - 0.5) == pytest.approx(0.01 * (math.exp(-1) + math.exp(-0.5)))
    assert float(w_near[0] - 0.5) == pytest.approx(0.01 * math.exp(-0.5))


@pytest.mark.parametrize("dependence", list(WeightDependence))
def test_bounds_hold(dependence) -> None:
    rule = PairSTDP(a_plus=0.05, a_minus=0.0, w_min=0.0, w_max=1.0, dependence=dependence)
    pre = [list(range(0, 400, 10))]
    post = [list(range(1, 400, 10))]
    w, _ = run_trains(rule, pre, post, n_steps=400, dt=1.0, w0=0.2)
    if dependence is WeightDependence.MULTIPLICATIVE:
        assert 0.9 < float(w[0]) < 1.0  # soft bound: approached, not reached
    else:
        assert float(w[0]) == 1.0  # hard bound: 40 pairings would add about 2


def test_triplet_matches_its_hand_computed_value() -> None:
    """pre at 0, post at D and at D + T: only potentiation, the second one boosted by the
    postsynaptic triplet trace o2."""
    rule = TripletSTDP.visual_cortex()
    D, T = 10, 25  # ms, dt = 1 ms
    w, _ = run_trains(rule, [[0]], [[D, D + T]], n_steps=60, dt=1.0)
    first = rule.a2_plus * math.exp(-D / rule.tau_plus)
    second = math.exp(-(D + T) / rule.tau_plus) * (
        rule.a2_plus + rule.a3_plus * math.exp(-T / rule.tau_y))
    assert float(w[0] - 0.5) == pytest.approx(first + second, rel=1e-12)


def test_triplet_pairing_protocol_frequency_dependence() -> None:
    """Sjöström et al. 2001 as fitted by Pfister & Gerstner 2006: 60 pairings; post-before-pre
    (-10 ms) depresses at low frequency but potentiates at 50 Hz, pre-before-post (+10 ms)
    potentiates more at high frequency."""
    rule = TripletSTDP.visual_cortex(w_min=-10.0, w_max=10.0)
    dt = 1.0
    out = {}
    for freq in (1.0, 50.0):
        period = round(1000.0 / freq / dt)
        for lag_ms in (10.0, -10.0):
            lag = round(lag_ms / dt)
            start = 40
            pre = [[start + k * period for k in range(60)]]
            post = [[start + k * period + lag for k in range(60)]]
            w, _ = run_trains(rule, pre, post, n_steps=start + 60 * period + 100, dt=dt, w0=0.0)
            out[(freq, lag_ms)] = float(w[0])
    assert out[(1.0, -10.0)] < 0 < out[(50.0, -10.0)]
    assert out[(50.0, 10.0)] > out[(1.0, 10.0)] > 0


def test_reward_modulated_stdp() -> None:
    rule = RewardModulatedSTDP(stdp=PairSTDP(a_plus=0.01, a_minus=0.012), tau_c=200.0, lr=1.0,
                               w_min=-1.0, w_max=2.0)
    trains = ([[10]], [[15]])  # a causal pair: positive eligibility
    n = 400
    zero = torch.zeros(n, dtype=F64)
    w, state = run_trains(rule, *trains, n_steps=n, dt=1.0, modulator=zero)
    assert float(w[0]) == 0.5 and float(state.c[0]) > 0
    c_at_15 = 0.01 * math.exp(-5 / 20)
    assert float(state.c[0]) == pytest.approx(c_at_15 * math.exp(-(n - 16) / 200.0), rel=1e-9)
    reward = zero.clone()
    reward[100] = 1.0  # a reward 85 ms after the pair, with dt = 1 ms
    w_pos, _ = run_trains(rule, *trains, n_steps=n, dt=1.0, modulator=reward)
    w_neg, _ = run_trains(rule, *trains, n_steps=n, dt=1.0, modulator=-reward)
    expected = c_at_15 * math.exp(-(100 - 15) / 200.0)
    assert float(w_pos[0] - 0.5) == pytest.approx(expected, rel=1e-9)
    assert float(w_neg[0] - 0.5) == pytest.approx(-expected, rel=1e-9)
    with pytest.raises(ValueError, match="a modulator is needed"):
        run_trains(rule, *trains, n_steps=20, dt=1.0)


@pytest.mark.parametrize("rule", [
    PairSTDP(a_plus=0.02, a_minus=0.021, dependence=WeightDependence.MULTIPLICATIVE),
    PairSTDP(pairing=Pairing.NEAREST),
    TripletSTDP.visual_cortex(Pairing.NEAREST),
])
def test_sparse_equals_dense(rule) -> None:
    g = torch.Generator().manual_seed(0)
    n_pre, n_post, batch = 12, 9, 3
    mask = torch.rand(n_pre, n_post, generator=g) < 0.4
    pre_idx, post_idx = mask.nonzero(as_tuple=True)
    w_dense = torch.rand(n_pre, n_post, generator=g, dtype=F64) * mask
    w_sparse = w_dense[pre_idx, post_idx].clone()
    s_dense = rule.init_state(n_pre, n_post, batch, device=None, dtype=F64)
    s_sparse = rule.init_state(n_pre, n_post, batch, device=None, dtype=F64,
                               n_synapses=len(pre_idx))
    for _ in range(200):
        pre = (torch.rand(batch, n_pre, generator=g) < 0.1).to(F64)
        post = (torch.rand(batch, n_post, generator=g) < 0.1).to(F64)
        s_dense, w_dense = rule.step(s_dense, pre, post, w_dense, None, 1.0)
        s_sparse, w_sparse = rule.step(s_sparse, pre, post, w_sparse, (pre_idx, post_idx), 1.0)
    torch.testing.assert_close(w_dense[pre_idx, post_idx], w_sparse, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("make", "match"), [
    (lambda: PairSTDP(tau_plus=0.0), r"tau_plus must be > 0 \[ms\], got 0.0"),
    (lambda: PairSTDP(a_minus=-1.0), "a_minus must be >= 0"),
    (lambda: PairSTDP(w_min=1.0, w_max=1.0), "w_max must be > w_min"),
    (lambda: PairSTDP(pairing="nearest"), "pairing must be one of Pairing.ALL_TO_ALL"),
    (lambda: TripletSTDP(tau_y=-1.0), r"tau_y must be > 0 \[ms\]"),
    (lambda: RewardModulatedSTDP(tau_c=0.0), r"tau_c must be > 0 \[ms\]"),
])
def test_bad_parameters_raise(make, match) -> None:
    with pytest.raises(ValueError, match=match):
        make()

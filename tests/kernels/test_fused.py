"""Fused LIF-family scan (CPU twin) against the pure-PyTorch reference scan.

The reference is ``lif_family_step`` scanned over time with autograd; the fused op must give
bit-identical spikes and state traces (float32 and float64) and the same gradients for the
input, the initial state and all eight parameters (per layer and per neuron), over random
shapes, parameters, reset modes, refractory periods, detach_reset and every built-in
surrogate. The JIT build (about a minute cold) runs once per session (fixture ``fused``).
"""

from __future__ import annotations

import math
import shutil
import warnings
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuraltide import kernels
from neuraltide.kernels import Backend, _build, lif_scan, lif_scan_traces, select
from neuraltide.neurons import LIF, LearnableNeuron
from neuraltide.neurons._family import LIFFamilyParams, LIFFamilyState, Reset, lif_family_step
from neuraltide.surrogate import (
    ATan,
    Custom,
    FastSigmoid,
    Gaussian,
    Sigmoid,
    StraightThrough,
    Surrogate,
    Triangle,
)

SURROGATES: list[Surrogate] = [
    Sigmoid(alpha=4.0), FastSigmoid(alpha=3.0), ATan(alpha=2.0), Gaussian(alpha=1.5),
    Triangle(alpha=0.7), StraightThrough(alpha=0.8),
]
FIXTURE_CHECK = HealthCheck.function_scoped_fixture  # `fused` is session-scoped: safe
PARAM_RANGES = {  # name -> (low, high): the ranges drawn from
    "beta": (0.3, 1.0), "alpha": (0.0, 0.95), "rho": (0.0, 1.0), "adapt": (0.0, 0.5),
    "v_rest": (-0.3, 0.3), "gain": (0.5, 1.5), "v_th": (0.3, 1.5), "v_reset": (-0.5, 0.3),
}


@pytest.fixture(scope="session")
def fused() -> kernels.BuildStatus:
    """Build the C++ op once per session; skip only where a build is impossible here."""
    if shutil.which("c++") is None:
        pytest.skip("no C++ compiler (c++) on PATH: the fused kernel cannot be built")
    status = kernels.available()
    assert status.cpu, f"the fused kernel failed to build: {status.error}"
    return status


# ---- the reference and random cases -----------------------------------------------------------


def reference_scan(
    x: torch.Tensor, state: LIFFamilyState, p: LIFFamilyParams, **kw: Any
) -> tuple[torch.Tensor, LIFFamilyState, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Scan ``lif_family_step``; returns (spikes, final state, v, i, a traces)."""
    out, vs, is_, as_ = [], [], [], []
    for xt in x:
        s, state = lif_family_step(xt, state, p, **kw)
        out.append(s)
        vs.append(state.v)
        is_.append(state.i)
        as_.append(state.a)
    return torch.stack(out), state, torch.stack(vs), torch.stack(is_), torch.stack(as_)


def make_case(
    seed: int, T: int, batch: tuple[int, ...], n: int, per_neuron: tuple[bool, ...],
    n_ref: int, dtype: torch.dtype,
) -> tuple[torch.Tensor, LIFFamilyState, LIFFamilyParams]:
    g = torch.Generator().manual_seed(seed)
    step = (*batch, n)

    def u(lo: float, hi: float, shape: tuple[int, ...]) -> torch.Tensor:
        return (lo + (hi - lo) * torch.rand(shape, generator=g, dtype=torch.float64)).to(dtype)

    params = LIFFamilyParams(*(
        u(lo, hi, (n,) if pn else ())
        for (lo, hi), pn in zip(PARAM_RANGES.values(), per_neuron, strict=True)
    ))
    x = (0.8 * torch.randn((T, *step), generator=g, dtype=torch.float64) + 0.35).to(dtype)
    state = LIFFamilyState(
        i=(0.3 * torch.randn(step, generator=g, dtype=torch.float64)).to(dtype),
        v=(0.5 * torch.randn(step, generator=g, dtype=torch.float64)).to(dtype),
        a=u(0.0, 0.2, step),
        s=(torch.rand(step, generator=g) < 0.4).to(dtype),
        ref=torch.randint(0, n_ref + 1, step, generator=g).to(dtype),
    )
    return x, state, params


case_args = {
    "seed": st.integers(0, 2**31 - 1),
    "T": st.integers(1, 12),
    "batch": st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple),
    "n": st.integers(1, 5),
    "per_neuron": st.tuples(*[st.booleans()] * 8),
    "reset": st.sampled_from(list(Reset)),
    "n_ref": st.integers(0, 3),
    "detach_reset": st.booleans(),
    "surrogate": st.sampled_from(SURROGATES),
}


# ---- forward: bit-identical -------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[FIXTURE_CHECK])
@given(dtype=st.sampled_from([torch.float32, torch.float64]), **case_args)
def test_forward_is_bit_identical_to_the_reference(
    fused, dtype, seed, T, batch, n, per_neuron, reset, n_ref, detach_reset, surrogate
) -> None:
    x, state, p = make_case(seed, T, batch, n, per_neuron, n_ref, dtype)
    kw = dict(reset=reset, n_ref=n_ref, detach_reset=detach_reset, surrogate=surrogate)
    s_ref, st_ref, v_ref, i_ref, a_ref = reference_scan(x, state, p, **kw)
    out = lif_scan_traces(x, state, p, **kw)
    assert out.spikes.dtype == dtype and out.spikes.shape == x.shape
    assert torch.equal(out.spikes, s_ref)
    assert torch.equal(out.v, v_ref)
    assert torch.equal(out.i, i_ref)
    assert torch.equal(out.a, a_ref)
    assert isinstance(out.state, LIFFamilyState)
    for name, got, want in zip(st_ref._fields, out.state, st_ref, strict=True):
        assert torch.equal(got, want), name


@settings(max_examples=30, deadline=None, suppress_health_check=[FIXTURE_CHECK])
@given(dtype=st.sampled_from([torch.float32, torch.float64]), **case_args)
def test_inference_keeps_no_traces_and_gives_the_same_spikes_and_state(
    fused, dtype, seed, T, batch, n, per_neuron, reset, n_ref, detach_reset, surrogate
) -> None:
    x, state, p = make_case(seed, T, batch, n, per_neuron, n_ref, dtype)
    kw = dict(reset=reset, n_ref=n_ref, detach_reset=detach_reset, surrogate=surrogate)
    s_ref, st_ref, *_ = reference_scan(x, state, p, **kw)
    flat = [t.expand(x.shape[1:]).reshape(-1) for t in state]
    params = torch.stack([t.expand(x.shape[1:]).reshape(-1) for t in p])
    out = torch.ops.neuraltide.lif_scan_fwd(
        x.reshape(T, -1), *flat, params, int(kernels.reset_kind(reset)), n_ref, detach_reset,
        int(kernels.surrogate_kind(surrogate)), float(surrogate.alpha), False)
    assert all(t.shape[0] == 1 for t in out[1:4])  # the last step of v, i, a only
    with torch.no_grad():  # lif_scan takes this path when no gradient is needed
        spikes, final = lif_scan(x, state, p, **kw)
    assert torch.equal(spikes, s_ref) and torch.equal(out[0].reshape(x.shape), s_ref)
    for name, got, want in zip(st_ref._fields, final, st_ref, strict=True):
        assert torch.equal(got, want), name


def test_forward_spikes_and_fires_in_every_reset_mode(fused) -> None:
    """The random cases above are not vacuous: they spike, and refractory steps occur."""
    x, state, p = make_case(1, 50, (4,), 5, (True,) * 8, 2, torch.float64)
    for reset in Reset:
        s, _ = lif_scan(x, state, p, reset=reset, n_ref=2, detach_reset=False,
                        surrogate=ATan())
        assert 0.05 < s.mean() < 0.6


def test_non_contiguous_input_and_model_parameters(fused) -> None:
    lif = LearnableNeuron.dimensionless(shape=(6,)).double()
    x = torch.randn(6, 20, 3, dtype=torch.float64).permute(1, 2, 0)  # (T, B, N), strided
    assert not x.is_contiguous()
    kw = dict(reset=lif.reset, n_ref=lif.n_ref, detach_reset=lif.detach_reset,
              surrogate=lif.surrogate)
    spikes, state = lif_scan(x, lif.initial_state(x.shape[1:], dtype=x.dtype), lif.params(), **kw)
    want_spikes, want_state = lif(x)
    assert torch.equal(spikes, want_spikes)
    for got, want in zip(state, want_state, strict=True):
        assert torch.equal(got, want)


# ---- backward: equal to autograd through the reference ----------------------------------------


def _grads(outputs: tuple[torch.Tensor, ...], weights: tuple[torch.Tensor, ...],
           inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    loss = sum((o * w).sum() for o, w in zip(outputs, weights, strict=True))
    grads = torch.autograd.grad(loss, inputs, allow_unused=True)
    return [torch.zeros_like(t) if g is None else g for g, t in zip(grads, inputs, strict=True)]


@settings(max_examples=60, deadline=None, suppress_health_check=[FIXTURE_CHECK])
@given(traces=st.booleans(), **case_args)
def test_gradients_equal_autograd_through_the_reference(
    fused, traces, seed, T, batch, n, per_neuron, reset, n_ref, detach_reset, surrogate
) -> None:
    x, state, p = make_case(seed, T, batch, n, per_neuron, n_ref, torch.float64)
    kw = dict(reset=reset, n_ref=n_ref, detach_reset=detach_reset, surrogate=surrogate)
    g = torch.Generator().manual_seed(seed + 1)

    def leaves() -> tuple[torch.Tensor, LIFFamilyState, LIFFamilyParams, list[torch.Tensor]]:
        xx = x.clone().requires_grad_()
        ss = LIFFamilyState(*(t.clone().requires_grad_(k < 4) for k, t in enumerate(state)))
        pp = LIFFamilyParams(*(t.clone().requires_grad_() for t in p))
        return xx, ss, pp, [xx, *ss[:4], *pp]

    shapes = [x.shape] * (4 if traces else 1) + [x.shape[1:]] * 4
    weights = tuple(torch.randn(s, generator=g, dtype=torch.float64) for s in shapes)

    xx, ss, pp, inputs = leaves()
    s_ref, st_ref, v_ref, i_ref, a_ref = reference_scan(xx, ss, pp, **kw)
    outs = (s_ref, v_ref, i_ref, a_ref) if traces else (s_ref,)
    want = _grads((*outs, *st_ref[:4]), weights, inputs)

    xx, ss, pp, inputs = leaves()
    if traces:
        r = lif_scan_traces(xx, ss, pp, **kw)
        outs, final = (r.spikes, r.v, r.i, r.a), r.state
    else:
        spikes, final = lif_scan(xx, ss, pp, **kw)
        outs = (spikes,)
    got = _grads((*outs, *final[:4]), weights, inputs)

    names = ["x", "i0", "v0", "a0", "s0", *LIFFamilyParams._fields]
    for name, a, b in zip(names, got, want, strict=True):
        scale = 1.0 + b.abs().max().item()
        torch.testing.assert_close(
            a, b, rtol=1e-5, atol=1e-9 * scale, msg=lambda m, k=name: f"{k}: {m}"
        )


def _plain_case(
    seed: int, T: int, step: tuple[int, ...], a0_nonzero: float, dtype: torch.dtype
) -> tuple[torch.Tensor, LIFFamilyState, LIFFamilyParams]:
    """A plain LIF layer (alpha = rho = adapt = 0, parameters per layer, a = 0 at the start),
    the kernel's fast path; a fraction ``a0_nonzero`` of neurons start with a != 0, which sends
    their blocks down the general path."""
    x, state, p = make_case(seed, T, step[:-1], step[-1], (False,) * 8, 2, dtype)
    p = p._replace(alpha=torch.zeros((), dtype=dtype), rho=torch.zeros((), dtype=dtype),
                   adapt=torch.zeros((), dtype=dtype))
    g = torch.Generator().manual_seed(seed + 2)
    keep = torch.rand(step, generator=g) < a0_nonzero
    return x, state._replace(a=torch.where(keep, state.a, torch.zeros_like(state.a))), p


@settings(max_examples=40, deadline=None, suppress_health_check=[FIXTURE_CHECK])
@given(seed=st.integers(0, 2**31 - 1), T=st.integers(1, 12), n=st.integers(1, 5),
       reset=st.sampled_from(list(Reset)), n_ref=st.integers(0, 2),
       detach_reset=st.booleans(), surrogate=st.sampled_from(SURROGATES),
       traces=st.booleans(), a0_nonzero=st.sampled_from([0.0, 0.5]))
def test_plain_lif_fast_path_equals_the_reference(
    fused, seed, T, n, reset, n_ref, detach_reset, surrogate, traces, a0_nonzero
) -> None:
    """The path for plain LIF layers (no synaptic current, no adaptation, fixed parameters per
    layer) gives the reference's spikes and traces and its gradients, trace gradients and
    initial-state gradients included (float64)."""
    x, state, p = _plain_case(seed, T, (2, n), a0_nonzero, torch.float64)
    kw = dict(reset=reset, n_ref=n_ref, detach_reset=detach_reset, surrogate=surrogate)
    g = torch.Generator().manual_seed(seed + 1)
    shapes = [x.shape] * (4 if traces else 1) + [x.shape[1:]] * 4
    weights = tuple(torch.randn(s, generator=g, dtype=torch.float64) for s in shapes)

    def leaves() -> tuple[torch.Tensor, LIFFamilyState, list[torch.Tensor]]:
        xx = x.clone().requires_grad_()
        ss = LIFFamilyState(*(t.clone().requires_grad_(k < 4) for k, t in enumerate(state)))
        return xx, ss, [xx, *ss[:4]]

    xx, ss, inputs = leaves()
    s_ref, st_ref, v_ref, i_ref, a_ref = reference_scan(xx, ss, p, **kw)
    want_out = (s_ref, v_ref, i_ref, a_ref) if traces else (s_ref,)
    want = _grads((*want_out, *st_ref[:4]), weights, inputs)

    xx, ss, inputs = leaves()
    if traces:
        r = lif_scan_traces(xx, ss, p, **kw)
        got_out, final = (r.spikes, r.v, r.i, r.a), r.state
    else:
        spikes, final = lif_scan(xx, ss, p, **kw)
        got_out = (spikes,)
    for a, b in zip((*got_out, *final), (*want_out, *st_ref), strict=True):
        assert torch.equal(a.detach(), b.detach())
    got = _grads((*got_out, *final[:4]), weights, inputs)
    for name, a, b in zip(["x", "i0", "v0", "a0", "s0"], got, want, strict=True):
        scale = 1.0 + b.abs().max().item()
        torch.testing.assert_close(
            a, b, rtol=1e-5, atol=1e-9 * scale, msg=lambda m, k=name: f"{k}: {m}"
        )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_plain_and_general_blocks_in_one_layer(fused, dtype) -> None:
    """A layer of 3 x 300 neurons is scanned in blocks of up to 256: with a != 0 at the start
    only in the middle of it, the blocks there take the general path and the rest the plain
    LIF path. Spikes, final state and the input's gradient equal the reference's."""
    x, state, p = _plain_case(5, 40, (3, 300), 0.0, dtype)
    a = torch.zeros_like(state.a)
    a[1, 100:140] = 0.1
    state = state._replace(a=a)
    kw = dict(reset=Reset.SUBTRACT, n_ref=1, detach_reset=False, surrogate=ATan(alpha=2.0))
    xx = x.clone().requires_grad_()
    s_ref, st_ref, *_ = reference_scan(xx, state, p, **kw)
    (g_ref,) = torch.autograd.grad(s_ref.sum(), xx)
    xx = x.clone().requires_grad_()
    spikes, final = lif_scan(xx, state, p, **kw)
    (g,) = torch.autograd.grad(spikes.sum(), xx)
    assert s_ref.sum() > 100 and torch.equal(spikes, s_ref)
    for a_, b_ in zip(final, st_ref, strict=True):
        assert torch.equal(a_, b_)
    torch.testing.assert_close(g, g_ref, rtol=1e-5 if dtype == torch.float64 else 1e-4,
                               atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n_ref", [0, 2])
@pytest.mark.parametrize("general", [False, True])
def test_long_scans_backward_blocks_sized_by_what_they_keep(fused, dtype, n_ref, general) -> None:
    """The backward's blocks are as wide as the recomputed states they keep allow: over 600
    steps a plain layer without a refractory period keeps v alone (blocks of ~200 neurons),
    with one also s and a flag (~100), the general path four values (~50; a != 0 at the
    start in the middle of the layer). Each splits 3 x 300 neurons into ragged blocks; the
    input's gradient equals the reference's."""
    x, state, p = _plain_case(9, 600, (3, 300), 0.0, dtype)
    if general:
        a = torch.zeros_like(state.a)
        a[1, 100:140] = 0.1
        state = state._replace(a=a)
    kw = dict(reset=Reset.SUBTRACT, n_ref=n_ref, detach_reset=False, surrogate=ATan(alpha=2.0))
    grads = []
    for scan in (reference_scan, lif_scan):
        xx = x.clone().requires_grad_()
        spikes = scan(xx, state, p, **kw)[0]
        grads.append(torch.autograd.grad((spikes * torch.linspace(0, 1, 300, dtype=dtype)).sum(),
                                         xx)[0])
    assert grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-5 if dtype == torch.float64 else 1e-4,
                               atol=1e-6)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("n_ref", [0, 2])
@pytest.mark.parametrize("reset", [Reset.SUBTRACT_AFTER_LEAK, Reset.TO_VALUE])
def test_wide_forward_blocks_equal_the_reference(fused, threads, n_ref, reset) -> None:
    """A large scan with per-layer parameters runs its forward in wide blocks (up to 1 MiB of
    each row of x, so with one or two threads 3 x 100003 neurons are one or two blocks of over
    a hundred thousand and a ragged tail): its spikes, traces and final state equal the
    reference's, on the plain LIF path and (a != 0 at the start in the middle of the layer,
    which sends that block down the general path) the general one, and the NaN/inf count
    finds an input in any block."""
    x, state, p = _plain_case(11, 16, (3, 100003), 0.0, torch.float32)
    a = torch.zeros_like(state.a)
    a[1, 50000:50010] = 0.1
    state = state._replace(a=a)
    kw = dict(reset=reset, n_ref=n_ref, detach_reset=False, surrogate=ATan(alpha=2.0))
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        s_ref, st_ref, v_ref, i_ref, a_ref = reference_scan(x, state, p, **kw)
        r = lif_scan_traces(x, state, p, **kw)
        spikes, final = lif_scan(x, state, p, **kw)
        bad = x.clone()
        bad[7, 2, 99999] = float("nan")
        bad[3, 0, 5] = float("inf")
        flat = [t.expand(x.shape[1:]).reshape(-1).contiguous() for t in state]
        count = torch.ops.neuraltide.lif_scan_fwd(
            bad.reshape(16, -1), *flat, torch.stack([t.reshape(1) for t in p]),
            int(kernels.reset_kind(reset)), n_ref, False, int(kernels.SurrogateKind.ATAN), 2.0,
            False)[-1]
    finally:
        torch.set_num_threads(before)
    assert s_ref.sum() > 10000 and torch.equal(spikes, s_ref) and torch.equal(r.spikes, s_ref)
    for got, want in ((r.v, v_ref), (r.i, i_ref), (r.a, a_ref), *zip(final, st_ref, strict=True)):
        assert torch.equal(got, want)
    assert int(count) == 2


ONE_VALUE_STATES = {  # name -> (i0, v0, a0, s0) as one value each, broadcast to every neuron
    "fresh": (0.0, 0.0, 0.0, 0.0),
    "values": (0.2, 0.4, 0.05, 1.0),
    "a0 inf": (0.0, 0.1, float("inf"), 0.0),
    "s0 nan": (0.0, 0.1, 0.0, float("nan")),
    "i0 inf": (float("inf"), 0.1, 0.0, 0.0),
}


@pytest.mark.parametrize("T", [1, 7])
@pytest.mark.parametrize("synaptic", [False, True], ids=["plain", "synaptic"])
@pytest.mark.parametrize("learn_alpha", [False, True], ids=["fixed", "learned alpha"])
@pytest.mark.parametrize("values", list(ONE_VALUE_STATES), ids=list(ONE_VALUE_STATES))
def test_one_value_state_and_the_plain_final_state(fused, T, synaptic, learn_alpha,
                                                   values) -> None:
    """An initial state of one value per field, broadcast (stride 0, as a fresh state is), is
    read by the kernel as that value: spikes, final state and every gradient (the broadcast
    leaves' included) equal the reference's. A plain layer (alpha = rho = adapt = 0, fixed)
    whose final i and a are known (i0, a0 and s0 finite) gets them without the op: i is a
    view of the last input, a one broadcast zero; otherwise the kernel writes them, NaN
    included."""
    dtype = torch.float64
    x, _, p = make_case(3, T, (2,), 300, (False,) * 8, 0, dtype)
    alpha = torch.tensor(0.6 if synaptic else 0.0, dtype=dtype, requires_grad=learn_alpha)
    p = p._replace(alpha=alpha, rho=torch.zeros((), dtype=dtype),
                   adapt=torch.zeros((), dtype=dtype))
    kw = dict(reset=Reset.SUBTRACT, n_ref=0, detach_reset=False, surrogate=ATan(alpha=2.0))
    step = x.shape[1:]
    g = torch.Generator().manual_seed(4)
    weights = [torch.randn(x.shape, generator=g, dtype=dtype)]
    weights += [torch.randn(step, generator=g, dtype=dtype) for _ in range(4)]

    def run(scan):
        xx = x.clone().requires_grad_()
        leaves = [torch.tensor(v, dtype=dtype, requires_grad=True)
                  for v in ONE_VALUE_STATES[values]]
        state = LIFFamilyState(*(t.expand(step) for t in leaves),
                               ref=torch.zeros((), dtype=dtype).expand(step))
        spikes, final = scan(xx, state)
        outs = [spikes, *final[:4]]
        loss = sum((o * w).nan_to_num(0.0, 0.0, 0.0).sum()
                   for o, w in zip(outs, weights, strict=True))
        inputs = [xx, *leaves] + ([alpha] if learn_alpha else [])
        grads = torch.autograd.grad(loss, inputs, allow_unused=True)
        return xx, outs, [torch.zeros_like(t) if d is None else d
                          for d, t in zip(grads, inputs, strict=True)]

    _, want_out, want_grads = run(lambda xx, st: reference_scan(xx, st, p, **kw)[:2])
    xx, got_out, got_grads = run(lambda xx, st: lif_scan(xx, st, p, **kw))
    if all(map(math.isfinite, ONE_VALUE_STATES[values])):
        assert want_out[0].sum() > 0  # it spikes (a NaN threshold never does)
    for name, a, b in zip(["spikes", "i", "v", "a", "s"], got_out, want_out, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True,
                                   msg=lambda m, k=name: f"{k}: {m}")
    for name, a, b in zip(["x", "i0", "v0", "a0", "s0", "alpha"], got_grads, want_grads,
                          strict=False):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9, equal_nan=True,
                                   msg=lambda m, k=name: f"{k}: {m}")
    i0, _, a0, s0 = ONE_VALUE_STATES[values]
    known = not synaptic and not learn_alpha and all(map(math.isfinite, (i0, a0, s0)))
    final_i, final_a = got_out[1], got_out[3]
    assert (final_i.untyped_storage().data_ptr() == xx.untyped_storage().data_ptr()) == known
    assert (final_a.stride() == (0, 0)) == known


@pytest.mark.parametrize("case", ["plain", "alpha in one column", "i0 inf at one neuron",
                                  "a0 nan at one neuron", "final_ia"])
def test_op_leaves_out_the_final_i_and_a_only_where_they_are_known(fused, case) -> None:
    """Without traces and final_ia, the op gives (0, M) for i and a exactly where they follow
    from x (alpha = rho = adapt = 0 in every column, i0, a0 and s0 finite at every neuron,
    per neuron here); otherwise it writes them, equal to the reference's final state."""
    dtype = torch.float64
    x, state, p = make_case(8, 6, (2,), 5, (True,) * 8, 0, dtype)
    zero = torch.zeros(5, dtype=dtype)
    p = p._replace(alpha=zero, rho=zero, adapt=zero)
    if case == "alpha in one column":
        p = p._replace(alpha=torch.tensor([0.0, 0.0, 0.3, 0.0, 0.0], dtype=dtype))
    if case == "i0 inf at one neuron":
        state = state._replace(i=state.i.clone().index_put_((torch.tensor(1), torch.tensor(3)),
                                                            torch.tensor(math.inf, dtype=dtype)))
    if case == "a0 nan at one neuron":
        state = state._replace(a=state.a.clone().index_put_((torch.tensor(0), torch.tensor(4)),
                                                            torch.tensor(math.nan, dtype=dtype)))
    step = x.shape[1:]
    flat = [t.expand(step).reshape(-1).contiguous() for t in state]
    params = torch.stack([t.expand(step).reshape(-1) for t in p])
    kw = dict(reset=Reset.SUBTRACT, n_ref=0, detach_reset=False, surrogate=ATan(alpha=2.0))
    out = torch.ops.neuraltide.lif_scan_fwd(
        x.reshape(6, -1), *flat, params, int(kernels.ResetKind.SUBTRACT), 0, False,
        int(kernels.SurrogateKind.ATAN), 2.0, False, case == "final_ia")
    _, final, *_ = reference_scan(x, state, p, **kw)
    if case == "plain":
        assert out[2].shape == out[3].shape == (0, 10)
        assert torch.equal(final.i, x[-1]) and torch.equal(final.a, torch.zeros_like(final.a))
    else:
        for got, want in ((out[2], final.i), (out[3], final.a)):
            torch.testing.assert_close(got.reshape(step), want, rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("broadcast", [False, True], ids=["per neuron", "one value"])
def test_one_tensor_as_every_state_field(fused, broadcast) -> None:
    """One tensor passed as i, v, a and s (lif_scan flattens each distinct object once, and
    reads each one-value tensor once): spikes and final state equal the reference's, and its
    gradient is the sum over the four fields, as autograd through the reference gives."""
    dtype = torch.float64
    x, _, p = make_case(5, 6, (2,), 40, (False,) * 8, 0, dtype)
    p = p._replace(alpha=torch.zeros((), dtype=dtype), rho=torch.zeros((), dtype=dtype),
                   adapt=torch.zeros((), dtype=dtype))  # plain: the final i, a shortcut too
    kw = dict(reset=Reset.SUBTRACT, n_ref=0, detach_reset=False, surrogate=ATan(alpha=2.0))
    step = x.shape[1:]
    g = torch.Generator().manual_seed(6)
    weights = [torch.randn(x.shape, generator=g, dtype=dtype)]
    weights += [torch.randn(step, generator=g, dtype=dtype) for _ in range(4)]
    value = (torch.tensor(0.3, dtype=dtype) if broadcast
             else 0.4 * torch.rand(step, generator=g, dtype=dtype))

    def run(scan):
        leaf = value.clone().requires_grad_()
        z = leaf.expand(step)
        state = LIFFamilyState(i=z, v=z, a=z, s=z, ref=torch.zeros((), dtype=dtype).expand(step))
        spikes, final = scan(x, state)
        outs = [spikes, *final[:4]]
        loss = sum((o * w).sum() for o, w in zip(outs, weights, strict=True))
        return outs, torch.autograd.grad(loss, leaf)[0]

    want_out, want_grad = run(lambda xx, st: reference_scan(xx, st, p, **kw)[:2])
    got_out, got_grad = run(lambda xx, st: lif_scan(xx, st, p, **kw))
    assert want_out[0].sum() > 0 and want_grad.abs().sum() > 0
    for name, a, b in zip(["spikes", "i", "v", "a", "s"], got_out, want_out, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=lambda m, k=name: f"{k}: {m}")
    torch.testing.assert_close(got_grad, want_grad, rtol=1e-9, atol=1e-12)


def test_float32_gradients_close_to_float64(fused) -> None:
    x, state, p = make_case(3, 30, (8,), 4, (True,) * 8, 1, torch.float64)
    kw = dict(reset=Reset.TO_VALUE, n_ref=1, detach_reset=False, surrogate=FastSigmoid(2.0))
    grads = []
    for dtype in (torch.float64, torch.float32):
        xx = x.to(dtype).clone().requires_grad_()
        pp = LIFFamilyParams(*(t.to(dtype).clone().requires_grad_() for t in p))
        ss = LIFFamilyState(*(t.to(dtype) for t in state))
        spikes, _ = lif_scan(xx, ss, pp, **kw)
        spikes.sum().backward()
        grads.append([xx.grad.double(), *(t.grad.double() for t in pp)])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-3, atol=1e-4 * (1 + a.abs().max().item()))


def test_gradcheck_of_the_traces_with_detached_reset(fused) -> None:
    """With a detached reset the traces depend on spikes only through piecewise-constant terms,
    so the op's backward must match finite differences (spikes themselves are excluded)."""
    x, state, p = make_case(7, 6, (2,), 3, (True,) * 8, 1, torch.float64)
    s0, ref0 = state.s, state.ref

    for reset in (Reset.SUBTRACT, Reset.TO_VALUE, Reset.SUBTRACT_AFTER_LEAK):

        def f(x_, i0, v0, a0, *params: torch.Tensor, reset: Reset = reset) -> tuple:
            r = lif_scan_traces(x_, (i0, v0, a0, s0, ref0), params, reset=reset, n_ref=1,
                                detach_reset=True, surrogate=Triangle(0.5))
            return r.v, r.i, r.a

        inputs = tuple(t.clone().requires_grad_() for t in (x, state.i, state.v, state.a, *p))
        assert torch.autograd.gradcheck(f, inputs)


@pytest.mark.parametrize("n_ref", [0, 2])  # without a period the op returns no counts
@pytest.mark.parametrize("state_grad", [False, True])  # the backward skips the state's
def test_opcheck(fused, n_ref, state_grad) -> None:
    x, state, p = make_case(11, 5, (2,), 3, (True,) * 8, n_ref, torch.float64)
    flat = [t.reshape(-1) for t in state]
    params = torch.stack([t.expand(2, 3).reshape(-1) for t in p]).requires_grad_()
    args = (x.reshape(5, -1).requires_grad_(), *(t.clone().requires_grad_(state_grad and k < 4)
            for k, t in enumerate(flat)), params, int(kernels.ResetKind.TO_VALUE), n_ref, False,
            int(kernels.SurrogateKind.ATAN), 2.0)
    torch.library.opcheck(torch.ops.neuraltide.lif_scan_fwd.default, args,
                          test_utils=("test_schema", "test_autograd_registration",
                                      "test_faketensor", "test_aot_dispatch_static",
                                      "test_aot_dispatch_dynamic"))


@pytest.mark.parametrize("plain", [False, True])  # i and a left out, or written
def test_opcheck_without_final_ia(fused, plain) -> None:
    """The fake kernel gives i and a a data-dependent number of rows (0 or 1) where the op may
    leave them out (final_ia=False)."""
    x, state, p = make_case(12, 5, (2,), 3, (True,) * 8, 0, torch.float64)
    if plain:
        zero = torch.zeros((), dtype=torch.float64)
        p = p._replace(alpha=zero.expand(3), rho=zero, adapt=zero)
    flat = [t.reshape(-1) for t in state]
    params = torch.stack([t.expand(2, 3).reshape(-1) for t in p])
    args = (x.reshape(5, -1).requires_grad_(), *flat, params, int(kernels.ResetKind.SUBTRACT), 0,
            False, int(kernels.SurrogateKind.ATAN), 2.0, False, False)
    torch.library.opcheck(torch.ops.neuraltide.lif_scan_fwd.default, args,
                          test_utils=("test_schema", "test_autograd_registration",
                                      "test_faketensor"))


def test_torch_compile_equals_eager(fused) -> None:
    """Dynamo traces the op through its fake kernel and AOT autograd through its registered
    backward (backend aot_eager: bit-equal to eager; inductor takes ~27 s to compile here and
    re-rounds the surrounding arithmetic, so it is left to the GPU job)."""
    x, state, p = make_case(5, 8, (3,), 4, (True, False) * 4, 1, torch.float32)
    kw = dict(reset=Reset.SUBTRACT, n_ref=1, detach_reset=False, surrogate=Sigmoid(5.0))

    def loss_fn(xx: torch.Tensor, *params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        spikes, final = lif_scan(xx, state, params, **kw)
        return spikes, (spikes.sum(0) * 0.5 + final.v).sum()

    results = []
    for fn in (loss_fn, torch.compile(loss_fn, backend="aot_eager", fullgraph=True)):
        xx = x.clone().requires_grad_()
        pp = [t.clone().requires_grad_() for t in p]
        spikes, loss = fn(xx, *pp)
        loss.backward()
        results.append([spikes, loss, xx.grad, *(t.grad for t in pp)])
    for a, b in zip(*results, strict=True):
        assert torch.equal(a, b)


# ---- errors, selection and fallback -----------------------------------------------------------


def test_bad_arguments_raise_clear_errors(fused) -> None:
    x, state, p = make_case(0, 4, (), 3, (False,) * 8, 0, torch.float32)
    kw = dict(reset=Reset.SUBTRACT, n_ref=0, detach_reset=False, surrogate=ATan())
    with pytest.raises(ValueError, match=r"surrogate .* not supported by the fused kernel"):
        lif_scan(x, state, p, **{**kw, "surrogate": Custom(fn=lambda z, a: z * 0 + a)})
    with pytest.raises(ValueError, match="reset must be one of"):
        lif_scan(x, state, p, **{**kw, "reset": "hard"})
    with pytest.raises(ValueError, match="n_ref must be an int >= 0"):
        lif_scan(x, state, p, **{**kw, "n_ref": -1})
    with pytest.raises(ValueError, match="float32 or float64"):
        lif_scan(x.half(), state, p, **kw)
    with pytest.raises(ValueError, match="does not broadcast"):
        lif_scan(x, state, p._replace(beta=torch.ones(5)), **kw)
    with pytest.raises(RuntimeError, match=r"built for CPU.* only, got x_seq on meta"):
        lif_scan(x.to("meta"), state, p, **kw)
    with pytest.raises(RuntimeError, match="lif_fused: params must have shape"):
        torch.ops.neuraltide.lif_scan_fwd(x, *(t.expand(3) for t in state), torch.ones(7, 3),
                                          0, 0, False, 0, 1.0)
    with pytest.raises(RuntimeError, match="lif_fused: surrogate must be in"):
        torch.ops.neuraltide.lif_scan_fwd(x, *(t.expand(3) for t in state), torch.ones(8, 3),
                                          0, 0, False, 9, 1.0)


def test_select(fused, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernels, "_warned", set())
    assert select("lif", Backend.TORCH, device="cpu", dtype=torch.float32,
                  surrogate=ATan()) is None
    assert select("lif", Backend.AUTO, device="cpu", dtype=torch.float32,
                  surrogate=ATan()) is lif_scan
    assert select("lif", Backend.FUSED, device="cpu", dtype=torch.float64,
                  surrogate=Triangle()) is lif_scan
    custom = Custom(fn=lambda z, a: torch.ones_like(z))
    with pytest.warns(RuntimeWarning, match="Custom is not supported"):
        assert select("lif", Backend.AUTO, device="cpu", dtype=torch.float32,
                      surrogate=custom) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same reason warns once only
        assert select("lif", Backend.AUTO, device="cpu", dtype=torch.float32,
                      surrogate=custom) is None
    with pytest.raises(RuntimeError, match=r"backend=Backend.FUSED requested but .*Custom"):
        select("lif", Backend.FUSED, device="cpu", dtype=torch.float32, surrogate=custom)
    with pytest.raises(ValueError, match="backend must be one of"):
        select("lif", "fused", device="cpu", dtype=torch.float32, surrogate=ATan())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="model must be one of"):
        select("izhikevich", Backend.AUTO, device="cpu", dtype=torch.float32, surrogate=ATan())


def test_failed_build_falls_back_or_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    failed = kernels.BuildStatus(False, False, "simulated: no compiler")
    monkeypatch.setattr(_build, "_result", [failed])
    monkeypatch.setattr(kernels, "_warned", set())
    assert kernels.available() == failed
    with pytest.warns(RuntimeWarning, match=r"could not be built .*simulated"):
        assert select("lif", Backend.AUTO, device="cpu", dtype=torch.float32,
                      surrogate=ATan()) is None
    with pytest.raises(RuntimeError, match=r"Backend\.FUSED requested but the fused kernel could"):
        select("lif", Backend.FUSED, device="cpu", dtype=torch.float32, surrogate=ATan())
    x, state, p = make_case(0, 2, (), 2, (False,) * 8, 0, torch.float32)
    with pytest.raises(RuntimeError, match="not available: simulated"):
        lif_scan(x, state, p, reset=Reset.SUBTRACT, n_ref=0, detach_reset=False,
                 surrogate=ATan())


def test_import_builds_nothing() -> None:
    import subprocess
    import sys

    code = ("import neuraltide.kernels as k, neuraltide.kernels._build as b, torch\n"
            "assert b.status() is None\n"
            "try:\n    torch.ops.neuraltide.lif_scan_fwd\nexcept (AttributeError, RuntimeError):\n"
            "    print('not loaded')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "not loaded"


def test_model_parity_dimensionless_lif(fused) -> None:
    """A model's own params and state run through the fused op give the model's result."""
    lif = LIF.dimensionless(beta=0.85, threshold=1.0, t_ref=2)
    x = torch.randn(40, 4, 7) * 0.6 + 0.3
    want, want_state = lif(x)
    got, got_state = lif_scan(x, lif.initial_state(x.shape[1:]), lif.params(), reset=lif.reset,
                              n_ref=lif.n_ref, detach_reset=lif.detach_reset,
                              surrogate=lif.surrogate)
    assert torch.equal(got, want)
    for a, b in zip(got_state, want_state, strict=True):
        assert torch.equal(a, b)


# ---- every surrogate: kernel = autograd = finite differences ----------------------------------


@pytest.mark.parametrize("surrogate", SURROGATES, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("reset", list(Reset), ids=lambda r: r.name)
def test_every_surrogate_gradient_equals_autograd_through_the_reference(
    fused, surrogate, reset
) -> None:
    """Each built-in surrogate and reset explicitly (the random cases above sample them)."""
    x, state, p = make_case(21, 25, (3,), 5, (True,) * 8, 1, torch.float64)
    kw = dict(reset=reset, n_ref=1, detach_reset=False, surrogate=surrogate)
    w = torch.randn(x.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    grads = []
    for scan in (lambda *a: reference_scan(*a, **kw)[0], lambda *a: lif_scan(*a, **kw)[0]):
        xx = x.clone().requires_grad_()
        pp = LIFFamilyParams(*(t.clone().requires_grad_() for t in p))
        spikes = scan(xx, state, pp)
        assert 0.05 < spikes.mean() < 0.7  # the surrogate is exercised on both sides
        grads.append(_grads((spikes,), (w,), [xx, *pp]))  # unused (v_reset): zeros
    assert grads[0][0].abs().sum() > 0
    for name, want, got in zip(["x", *LIFFamilyParams._fields], *grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-6,
                                   atol=1e-10 * (1 + want.abs().max().item()),
                                   msg=lambda m, k=name: f"{k}: {m}")


@pytest.mark.parametrize("surrogate", SURROGATES, ids=lambda s: type(s).__name__)
def test_every_surrogate_gradient_is_the_derivative_of_its_primitive(
    fused, surrogate, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One step from rest (no earlier spike, nothing downstream of this spike): the kernel's
    surrogate gradient must be the true derivative of the step with the Heaviside replaced by
    the surrogate's primitive, which finite differences measure."""
    import neuraltide.neurons._family as family
    from neuraltide.surrogate import smooth

    x, state, p = make_case(8, 1, (4,), 6, (True,) * 8, 0, torch.float64)
    state = state._replace(s=torch.zeros_like(state.s), ref=torch.zeros_like(state.ref))
    kw = dict(reset=Reset.SUBTRACT, n_ref=0, detach_reset=False, surrogate=surrogate)
    w = torch.randn(x.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)

    xx = x.clone().requires_grad_()
    spikes, _ = lif_scan(xx, state, p, **kw)
    (g_kernel,) = torch.autograd.grad((spikes * w).sum(), xx)
    assert g_kernel.abs().sum() > 0

    monkeypatch.setattr(family, "spike", smooth)  # the Heaviside -> the primitive

    def relaxed(x_: torch.Tensor) -> torch.Tensor:
        s, _ = lif_family_step(x_[0], state, p, reset=Reset.SUBTRACT, n_ref=0,
                               detach_reset=False, surrogate=surrogate)
        return (s * w[0]).sum()

    eps = 1e-6
    g_fd = torch.zeros_like(x)
    for k in range(x.numel()):
        e = torch.zeros(x.numel(), dtype=x.dtype)
        e[k] = eps
        e = e.reshape(x.shape)
        g_fd.view(-1)[k] = (relaxed(x + e) - relaxed(x - e)) / (2 * eps)
    torch.testing.assert_close(g_kernel, g_fd, rtol=1e-5, atol=1e-7)


def test_the_backward_leaves_out_what_the_initial_state_does_not_need(fused) -> None:
    """A fresh state (no gradient wanted) gets no state gradients from the op, and the input's
    gradient is the same as when the state does want them."""
    x, state, p = make_case(5, 9, (2,), 4, (False,) * 8, 0, torch.float64)
    kw = dict(reset=Reset.SUBTRACT, n_ref=0, detach_reset=False, surrogate=ATan())
    flat = [t.reshape(-1) for t in state]
    params = torch.stack([t.expand(2, 4).reshape(-1) for t in p])
    g = torch.ones(9, 8, dtype=torch.float64)
    out = torch.ops.neuraltide.lif_scan_bwd(
        g, None, None, None, x.reshape(9, -1), *flat, params, int(kernels.ResetKind.SUBTRACT),
        0, False, int(kernels.SurrogateKind.ATAN), 2.0, False, False)
    assert [t.shape for t in out[1:5]] == [(0,)] * 4
    grads = []
    for want in (False, True):
        xx = x.clone().requires_grad_()
        ss = LIFFamilyState(*(t.clone().requires_grad_(want and k < 4)
                              for k, t in enumerate(state)))
        lif_scan(xx, ss, p, **kw)[0].sum().backward()
        grads.append(xx.grad)
        assert all((t.grad is not None) == want for t in ss[:4])
    assert torch.equal(grads[0], grads[1]) and torch.equal(out[0].reshape(x.shape), grads[0])


# ---- NaN/inf through a model on the fused path ------------------------------------------------


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("grad", [False, True])
def test_nonfinite_input_names_the_model_and_the_index(fused, bad, grad) -> None:
    """The kernel counts NaN/inf while it scans; the model then names itself, the value and
    where it is (with and without a backward to come)."""
    lif = LIF.dimensionless(beta=0.9, backend=Backend.FUSED)
    x = torch.rand(30, 2, 5)
    x[17, 1, 3] = bad
    x.requires_grad_(grad)
    with torch.set_grad_enabled(grad), pytest.raises(
        ValueError, match=rf"LIF: input must be finite, got {bad!r} at index \(17, 1, 3\)"
    ):
        lif(x)


@settings(max_examples=60, deadline=None, suppress_health_check=[FIXTURE_CHECK])
@given(seed=st.integers(0, 2**31 - 1), T=st.integers(1, 8), n=st.sampled_from([3, 300, 700]),
       per_neuron=st.tuples(*[st.booleans()] * 8), reset=st.sampled_from(list(Reset)),
       n_ref=st.integers(0, 2), zeroed=st.sets(st.sampled_from(["beta", "alpha", "gain"])),
       n_bad=st.integers(0, 4), v0_inf=st.booleans(), huge=st.booleans(),
       dtype=st.sampled_from([torch.float32, torch.float64]))
def test_the_op_counts_exactly_the_neurons_with_nonfinite_input(
    fused, seed, T, n, per_neuron, reset, n_ref, zeroed, n_bad, v0_inf, huge, dtype
) -> None:
    """The forward's count of neurons that saw a NaN or inf input is exact: without a
    refractory period it is inferred from a non-finite final v (which a non-finite input
    always leaves, whatever beta, alpha or gain) and confirmed on the inputs, so a non-finite
    initial v or an overflow from finite input counts nothing, and no bad input is missed."""
    x, state, p = make_case(seed, T, (), n, per_neuron, n_ref, dtype)
    p = p._replace(**{k: torch.zeros_like(getattr(p, k)) for k in zeroed})
    g = torch.Generator().manual_seed(seed + 3)
    if huge:  # finite, but v overflows to inf
        x[torch.randint(0, T, (1,), generator=g), torch.randint(0, n, (1,), generator=g)] = \
            torch.finfo(dtype).max
    for _ in range(n_bad):
        t, m = (int(torch.randint(0, d, (1,), generator=g)) for d in (T, n))
        x[t, m] = [float("nan"), float("inf"), -float("inf")][int(torch.randint(0, 3, (1,),
                                                                                generator=g))]
    v0 = state.v.clone()
    if v0_inf:
        v0[: n // 2 + 1] = float("inf")
    flat = [t.expand(n).contiguous() for t in state._replace(v=v0)]
    params = torch.stack([t.expand(n) for t in p])
    out = torch.ops.neuraltide.lif_scan_fwd(
        x, *flat, params, int(kernels.reset_kind(reset)), n_ref, False,
        int(kernels.SurrogateKind.ATAN), 2.0, False)
    assert int(out[-1]) == int((~torch.isfinite(x)).any(0).sum())


# ---- the host cache of large outputs ----------------------------------------------------------


def test_host_cache_reuses_blocks_and_empties(fused) -> None:
    lif = LIF.dimensionless(beta=0.9, backend=Backend.FUSED)
    x = torch.rand(64, 8192)  # 2 MiB of spikes: above the cache's 1 MiB minimum
    kernels.empty_host_cache()
    assert kernels.host_cache_info().idle_bytes == 0
    before = kernels.host_cache_info()
    assert before.limit_bytes > 0  # on by default
    with torch.no_grad():
        spikes, final = lif(x)
        in_use = kernels.host_cache_info()
        assert in_use.misses == before.misses + 1 and in_use.in_use_bytes >= x.nbytes
        del spikes, final  # their block (final.s is a view of it) goes back, idle
        idle = kernels.host_cache_info()
        assert idle.idle_bytes >= x.nbytes and idle.in_use_bytes == before.in_use_bytes
        again = lif(x.flip(0))  # the same size again: served from the idle block
        want, _ = LIF.dimensionless(beta=0.9, backend=Backend.TORCH)(x.flip(0))
    after = kernels.host_cache_info()
    assert after.hits == idle.hits + 1 and after.misses == idle.misses
    assert torch.equal(again[0], want)  # the reused block holds the new result, nothing stale
    del again
    # a size that is no multiple of the 2 MiB rounding (3.2 MB in a 4 MiB block) is reused too
    with torch.no_grad():
        for _ in range(3):
            lif(torch.rand(100, 8192))
    odd = kernels.host_cache_info()
    assert odd.misses == after.misses + 1 and odd.hits == after.hits + 2
    kernels.empty_host_cache()
    assert kernels.host_cache_info().idle_bytes == 0


def test_host_cache_limit_and_small_outputs(fused) -> None:
    lif = LIF.dimensionless(beta=0.9, backend=Backend.FUSED)
    limit = kernels.host_cache_info().limit_bytes
    try:
        with torch.no_grad():
            lif(torch.rand(64, 8192))
            assert kernels.host_cache_info().idle_bytes > 0
            kernels.set_host_cache_limit(0)  # off: idle blocks freed now, none kept later
            assert kernels.host_cache_info().idle_bytes == 0
            lif(torch.rand(64, 8192))
            assert kernels.host_cache_info().idle_bytes == 0
            kernels.set_host_cache_limit(limit)
            n = kernels.host_cache_info()
            lif(torch.rand(8, 1000))  # 32 kB: from at::empty, the cache never sees it
            assert kernels.host_cache_info()[2:] == n[2:]
    finally:
        kernels.set_host_cache_limit(limit)
    for bad in (-1, 2.5, True, "1"):
        with pytest.raises(ValueError, match=r"limit_bytes must be an int >= 0 \[bytes\]"):
            kernels.set_host_cache_limit(bad)


def test_host_cache_environment_variable(fused) -> None:
    import os
    import subprocess
    import sys

    code = ("from neuraltide import kernels; kernels.available(); "
            "print(kernels.host_cache_info().limit_bytes)")
    for mb, want in (("0", 0), ("64", 64 << 20)):
        env = {**os.environ, "NEURALTIDE_HOST_CACHE_MB": mb}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True, timeout=300)
        assert int(out.stdout.split()[-1]) == want, out.stderr


# ---- CUDA (runs where a GPU is present, skips elsewhere) --------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reset", list(Reset), ids=lambda r: r.name)
def test_cuda_kernel_equals_the_reference(fused, dtype, reset) -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    assert fused.cuda, f"CUDA present but the kernel was built without it: {fused.error}"
    x, state, p = make_case(13, 40, (16,), 33, (True, False) * 4, 2, dtype)
    kw = dict(reset=reset, n_ref=2, detach_reset=False, surrogate=ATan(2.0))
    dev = torch.device("cuda")
    results = []
    for fused_scan in (True, False):
        xx = x.to(dev).requires_grad_()
        pp = LIFFamilyParams(*(t.to(dev).requires_grad_() for t in p))
        ss = LIFFamilyState(*(t.to(dev) for t in state))
        if fused_scan:
            r = lif_scan_traces(xx, ss, pp, **kw)
            s, final, v, i, a = r.spikes, r.state, r.v, r.i, r.a
        else:
            s, final, v, i, a = reference_scan(xx, ss, pp, **kw)
        loss = (s * torch.linspace(-1, 1, s.shape[-1], device=dev, dtype=dtype)).sum() + v.sum()
        results.append(([s, v, i, a, *final], torch.autograd.grad(loss, [xx, *pp])))
    (fwd_k, g_k), (fwd_r, g_r) = results
    for a, b in zip(fwd_k, fwd_r, strict=True):
        assert torch.equal(a, b)  # --fmad=false and *_rn intrinsics: the reference's rounding
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-9, atol=1e-12)
    for a, b in zip(g_k, g_r, strict=True):
        torch.testing.assert_close(a, b, **tol)

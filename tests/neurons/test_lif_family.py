"""LIF family: closed forms, conventions, snnTorch parity, special cases, gradients, errors."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuraltide.kernels import Backend
from neuraltide.neurons import (
    LIF,
    AdaptiveLIF,
    LearnableNeuron,
    Reset,
    SynapticLIF,
    detach_state,
)
from neuraltide.surrogate import ATan, FastSigmoid, Triangle

# ---- closed forms -----------------------------------------------------------------------------


def test_subthreshold_trace_matches_closed_form() -> None:
    """Below threshold, v(t) = v_rest + R I (1 - exp(-t/tau)) at every sample t = (n+1) dt."""
    lif = LIF(tau_mem=20.0, v_rest=-70.0, v_th=-40.0, r_mem=50.0, dt=0.1).double()
    current = 0.4  # nA -> R I = 20 mV, stays below the 30 mV to threshold
    rec = lif.run(torch.full((2000, 1), current, dtype=torch.float64))
    t = rec.t
    expected = -70.0 + 50.0 * current * (1 - torch.exp(-t / 20.0))
    assert rec.spikes.sum() == 0
    torch.testing.assert_close(rec.traces["v"][:, 0], expected, rtol=0, atol=1e-10)


def lif_rate_closed_form(i_na: torch.Tensor, tau: float, r: float, dv_th: float,
                         dv_reset: float, t_ref: float) -> torch.Tensor:
    """Firing rate [Hz] of a LIF neuron under constant current: 1 / (t_ref + T_int)."""
    drive = r * i_na
    t_int = tau * torch.log((drive - dv_reset) / (drive - dv_th))
    return 1000.0 / (t_ref + t_int)


def measured_rate_hz(spikes: torch.Tensor, dt: float) -> torch.Tensor:
    """Rate from the mean inter-spike interval of each column of a (T, N) spike tensor."""
    rates = []
    for col in spikes.T:
        idx = col.nonzero().flatten().double()
        rates.append(1000.0 / (idx.diff().mean() * dt))
    return torch.stack(rates)


@pytest.mark.parametrize("t_ref", [0.0, 2.0])
def test_fi_curve_matches_closed_form_within_1_percent(t_ref: float) -> None:
    tau, r, v_rest, v_th, v_reset, dt = 20.0, 10.0, -65.0, -50.0, -65.0, 0.1
    currents = torch.linspace(1.55, 3.0, 13, dtype=torch.float64)
    lif = LIF(tau_mem=tau, v_rest=v_rest, v_th=v_th, v_reset=v_reset, r_mem=r, t_ref=t_ref,
              dt=dt).double()
    spikes, _ = lif(currents.expand(10000, -1).clone())  # 1 s
    expected = lif_rate_closed_form(currents, tau, r, v_th - v_rest, v_reset - v_rest, t_ref)
    measured = measured_rate_hz(spikes, dt)
    assert expected.min() > 5 and expected.max() < 85  # the range this check covers
    rel = (measured - expected).abs() / expected
    assert rel.max() < 0.01, rel
    # and the only error is the time grid: it shrinks with dt
    lif_fine = LIF(tau_mem=tau, v_rest=v_rest, v_th=v_th, v_reset=v_reset, r_mem=r,
                   t_ref=t_ref, dt=0.01).double()
    spikes_fine, _ = lif_fine(currents.expand(100000, -1).clone())
    rel_fine = (measured_rate_hz(spikes_fine, 0.01) - expected).abs() / expected
    assert rel_fine.max() < 0.0015


def test_no_spike_at_or_below_rheobase() -> None:
    lif = LIF(dt=0.1).double()  # R (v_th - v_rest) = 15 mV / 10 MOhm = 1.5 nA rheobase
    spikes, _ = lif(torch.full((20000, 2), 1.0, dtype=torch.float64) * torch.tensor([1.4, 1.5]))
    assert spikes.sum() == 0


def test_refractory_convention() -> None:
    """A spike at index n allows the next spike at n + t_ref/dt + 1 at the earliest, and the
    membrane is held at v_reset in between."""
    lif = LIF(t_ref=1.0, dt=0.1, r_mem=10.0)
    rec = lif.run(torch.full((400, 1), 1000.0))  # huge drive: fire as soon as allowed
    idx = rec.spikes[:, 0].nonzero().flatten()
    assert idx[0] == 0
    assert (idx.diff() == 11).all()
    v = rec.traces["v"][:, 0]
    assert (v[1:11] == -65.0).all()


def test_spike_time_stamp_is_end_of_step() -> None:
    """The first spike index is the first step whose end-of-step membrane exceeds v_th."""
    lif = LIF(tau_mem=10.0, r_mem=10.0, t_ref=0.0, dt=0.1).double()
    rec = lif.run(torch.full((300, 1), 2.0, dtype=torch.float64))
    n = int(rec.spikes[:, 0].nonzero()[0])
    t_cross = 10.0 * math.log(20.0 / 5.0)  # continuous crossing time [ms]
    assert rec.t[n] >= t_cross > rec.t[n - 1]


# ---- resets -----------------------------------------------------------------------------------


def test_reset_modes_dimensionless() -> None:
    x = torch.tensor([[1.5], [0.0], [0.0]])
    beta = 0.5
    out = {}
    for reset in Reset:
        rec = LIF.dimensionless(beta=beta, threshold=1.0, v_reset=-0.2, reset=reset).run(x)
        out[reset] = rec.traces["v"][:, 0].tolist()
    # step 0: v = 1.5, spike; step 1 depends on the reset
    assert out[Reset.SUBTRACT][1] == pytest.approx(beta * (1.5 - 1.0))
    assert out[Reset.SUBTRACT_AFTER_LEAK][1] == pytest.approx(beta * 1.5 - 1.0)
    assert out[Reset.TO_VALUE][1] == pytest.approx(beta * -0.2)
    assert out[Reset.NONE][1] == pytest.approx(beta * 1.5)


def test_subtractive_reset_keeps_the_excess() -> None:
    """Soft reset conserves charge: total spikes * threshold ~ integrated input."""
    lif = LIF.dimensionless(beta=1.0, threshold=1.0, reset=Reset.SUBTRACT)
    x = torch.full((1000, 1), 0.37)
    spikes, _ = lif(x)
    assert spikes.sum().item() == math.floor(0.37 * 1000)


# ---- snnTorch side by side --------------------------------------------------------------------

snntorch = pytest.importorskip("snntorch")


@pytest.mark.parametrize(
    ("reset", "mechanism"),
    [(Reset.SUBTRACT_AFTER_LEAK, "subtract"), (Reset.TO_VALUE, "zero"), (Reset.NONE, "none")],
)
@pytest.mark.parametrize("surrogate_pair", ["atan", "fast_sigmoid"])
def test_identical_to_snntorch_leaky(reset: Reset, mechanism: str, surrogate_pair: str) -> None:
    from snntorch import surrogate as snn_sg

    ours_sg, theirs_sg = {
        "atan": (ATan(alpha=2.0), snn_sg.atan(alpha=2.0)),
        "fast_sigmoid": (FastSigmoid(alpha=25.0), snn_sg.fast_sigmoid(slope=25)),
    }[surrogate_pair]
    T, B, N = 150, 8, 64
    x = torch.randn(T, B, N) * 0.6 + 0.25
    x1 = x.clone().requires_grad_()
    x2 = x.clone().requires_grad_()
    ours = LIF.dimensionless(beta=0.85, threshold=1.0, reset=reset, surrogate=ours_sg)
    s1, _ = ours(x1)
    leaky = snntorch.Leaky(beta=0.85, threshold=1.0, reset_mechanism=mechanism,
                           spike_grad=theirs_sg)
    mem = leaky.init_leaky()
    out = []
    for t in range(T):
        spk, mem = leaky(x2[t], mem)
        out.append(spk)
    s2 = torch.stack(out)
    assert s1.sum() > 1000  # the comparison covers many spikes
    assert torch.equal(s1, s2)
    w = torch.randn(T, B, N)
    (s1 * w).sum().backward()
    (s2 * w).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad)


def test_identical_to_snntorch_synaptic() -> None:
    T, B, N = 120, 4, 32
    x = torch.randn(T, B, N) * 0.5 + 0.1
    x1 = x.clone().requires_grad_()
    x2 = x.clone().requires_grad_()
    s1, _ = SynapticLIF.dimensionless(alpha=0.7, beta=0.9)(x1)
    syn_mod = snntorch.Synaptic(alpha=0.7, beta=0.9, spike_grad=snntorch.surrogate.atan())
    syn, mem = syn_mod.init_synaptic()
    out = []
    for t in range(T):
        spk, syn, mem = syn_mod(x2[t], syn, mem)
        out.append(spk)
    s2 = torch.stack(out)
    assert s1.sum() > 500
    assert torch.equal(s1, s2)
    s1.sum().backward()
    s2.sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad)


# ---- special cases of the learnable neuron ----------------------------------------------------

PHYS_CASES = [
    (LIF, dict(tau_mem=15.0, v_th=-52.0, t_ref=1.0), dict(tau_syn=0.0, adapt=0.0)),
    (SynapticLIF, dict(tau_mem=15.0, tau_syn=3.0, t_ref=0.5), dict(adapt=0.0)),
    (AdaptiveLIF, dict(tau_adapt=80.0, adapt=1.5), dict(tau_syn=0.0)),
]
DIMLESS_CASES = [
    (LIF, dict(beta=0.8, threshold=0.9), dict(alpha=0.0, adapt=0.0)),
    (SynapticLIF, dict(beta=0.8, alpha=0.6), dict(adapt=0.0)),
    (AdaptiveLIF, dict(beta=0.9, rho=0.9, adapt=0.3), dict(alpha=0.0)),
]


@pytest.mark.parametrize(("cls", "kw", "extra"), PHYS_CASES)
@pytest.mark.parametrize("reset", list(Reset))
def test_learnable_neuron_reduces_to_physical_special_cases(cls, kw, extra, reset) -> None:
    special = cls(reset=reset, **kw)
    full = {k: v.item() for k, v in special.values().items()}
    learnable = LearnableNeuron(**full, **extra, reset=reset, learn=())
    x = torch.rand(600, 3, 5) * 4.0
    rec_a = special.run(x, record=("v", "i", "a"))
    rec_b = learnable.run(x, record=("v", "i", "a"))
    assert rec_a.spikes.sum() > 10
    assert torch.equal(rec_a.spikes, rec_b.spikes)
    for k in ("v", "i", "a"):
        assert torch.equal(rec_a.traces[k], rec_b.traces[k])


@pytest.mark.parametrize(("cls", "kw", "extra"), DIMLESS_CASES)
@pytest.mark.parametrize("reset", list(Reset))
def test_learnable_neuron_reduces_to_dimensionless_special_cases(cls, kw, extra, reset) -> None:
    special = cls.dimensionless(reset=reset, **kw)
    full = {k: v.item() for k, v in special.values().items()}
    learnable = LearnableNeuron.dimensionless(**full, **extra, reset=reset, learn=())
    x = torch.rand(200, 3, 5) * 0.6
    a, _ = special(x)
    b, _ = learnable(x)
    assert a.sum() > 10
    assert torch.equal(a, b)


def test_learned_reparametrisation_reproduces_the_initial_values() -> None:
    fixed = LearnableNeuron.dimensionless(learn=())
    learned = LearnableNeuron.dimensionless()
    for name, value in fixed.values().items():
        torch.testing.assert_close(learned.value(name), value, rtol=1e-5, atol=1e-6)
    x = torch.rand(100, 2, 8) * 0.5
    assert (fixed(x)[0] != learned(x)[0]).float().mean() < 0.01


@pytest.mark.parametrize("form", ["physical", "dimensionless"])
def test_every_learnable_parameter_receives_a_gradient(form: str) -> None:
    if form == "physical":
        neuron = LearnableNeuron(shape=(6,), detach_reset=False, surrogate=ATan(alpha=0.5))
        x = torch.rand(800, 4, 6) * 4.0
    else:
        neuron = LearnableNeuron.dimensionless(shape=(6,), detach_reset=False)
        x = torch.rand(100, 4, 6)
    rec = neuron.run(x, record=("v",))
    loss = rec.spikes.sum() + rec.traces["v"].square().mean()
    loss.backward()
    for name, p in neuron.named_parameters():
        assert p.shape == (6,), name
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_training_cannot_make_decays_unstable() -> None:
    neuron = LearnableNeuron.dimensionless(shape=(4,))
    with torch.no_grad():
        for p in neuron.parameters():
            p.add_(torch.randn_like(p) * 50)  # a wild optimiser step
    v = neuron.values()
    assert ((v["beta"] >= 0) & (v["beta"] <= 1)).all()
    assert ((v["alpha"] >= 0) & (v["alpha"] <= 1)).all()  # float32 sigmoid may round to 1
    assert (v["threshold"] > 0).all() and (v["adapt"] >= 0).all()
    _, state = neuron(torch.rand(200, 2, 4) * 10)
    assert all(torch.isfinite(t).all() for t in state)


def test_regularizer_penalises_only_values_outside_the_typical_range() -> None:
    neuron = LearnableNeuron.dimensionless()
    assert neuron.regularizer().item() == 0.0
    big = LearnableNeuron.dimensionless(threshold=50.0)
    pen = big.regularizer()
    assert pen.item() > 0
    pen.backward()
    assert big.raw_threshold.grad.item() > 0  # gradient pushes the threshold back down


def test_gradcheck_through_the_step() -> None:
    neuron = LearnableNeuron.dimensionless(
        shape=(3,), surrogate=Triangle(alpha=0.5)
    ).double()
    # with a detached reset the traces depend on spikes only through piecewise-constant
    # terms, so autograd and finite differences must agree exactly (the surrogate itself is
    # checked in tests/test_surrogate.py)
    x = (torch.rand(6, 2, 3, dtype=torch.float64) * 0.8).requires_grad_()

    def f(inp: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
        rec = neuron.run(inp, record=("v", "a", "i"))
        return rec.traces["v"] + rec.traces["a"]

    assert torch.autograd.gradcheck(f, (x, *neuron.parameters()))


# ---- properties -------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    beta=st.floats(0.3, 1.0),
    threshold=st.floats(0.2, 3.0),
    reset=st.sampled_from(list(Reset)),
    batch=st.integers(1, 4),
)
def test_batch_independence_and_finiteness(beta, threshold, reset, batch) -> None:
    lif = AdaptiveLIF.dimensionless(beta=beta, threshold=threshold, reset=reset)
    x = torch.randn(40, batch, 7)
    spikes, state = lif(x)
    for b in range(batch):
        single, _ = lif(x[:, b : b + 1])
        assert torch.equal(single[:, 0], spikes[:, b])
    assert all(torch.isfinite(t).all() for t in state)


@settings(max_examples=20, deadline=None)
@given(tau=st.floats(2.0, 50.0), r=st.floats(1.0, 100.0), t_ref=st.sampled_from([0.0, 1.0]))
def test_rate_never_falls_as_current_rises(tau, r, t_ref) -> None:
    lif = LIF(tau_mem=tau, r_mem=r, t_ref=t_ref, dt=0.1).double()
    currents = torch.linspace(0.0, 60.0 / r, 25, dtype=torch.float64)
    counts = lif(currents.expand(3000, -1).clone())[0].sum(0)
    assert (counts.diff() >= 0).all()


def test_chunked_run_equals_one_run_and_detach_cuts_the_graph() -> None:
    lif = SynapticLIF.dimensionless()
    x = torch.rand(60, 2, 4)
    whole, _ = lif(x)
    a, st1 = lif(x[:30])
    b, _ = lif(x[30:], detach_state(st1))
    assert torch.equal(whole, torch.cat([a, b]))
    assert all(not t.requires_grad for t in detach_state(st1))


@pytest.mark.parametrize("backend", [Backend.TORCH, Backend.AUTO])
@pytest.mark.parametrize(("make", "drive"), [
    (LIF.dimensionless, 1.5), (lambda **kw: LIF(v_rest=-65.0, **kw), 50.0),  # [1], [nA]
    (lambda **kw: LearnableNeuron(shape=(4,), **kw), 1.5),
], ids=["dimensionless", "physical", "per-neuron v_rest"])
def test_a_fresh_state_is_broadcast_and_runs_like_a_written_one(make, drive, backend) -> None:
    """A fresh state holds one value per field (or v_rest's, per neuron), not one per
    neuron; it is read-only, and a run from it equals a run from the same state written out,
    and continues like it (plain LIF's final i is the last input, its a zero)."""
    model = make(backend=backend)
    fresh = model.initial_state((6, 4))
    per_value = {t.untyped_storage().nbytes() // t.element_size() for t in fresh}
    assert per_value <= {1, 4} and fresh.v.shape == (6, 4)
    with pytest.raises(RuntimeError, match="single memory location"):
        fresh.v.add_(1.0)
    written = type(fresh)(*(t.clone() for t in fresh))
    x = drive * torch.rand(30, 6, 4, generator=torch.Generator().manual_seed(2))
    s1, end1 = model(x, fresh)
    s2, end2 = model(x, written)
    assert s1.sum() > 0 and torch.equal(s1, s2)
    for a, b in zip(end1, end2, strict=True):
        assert torch.equal(a, b)
    assert torch.equal(model(x, end1)[0], model(x, end2)[0])


# ---- errors -----------------------------------------------------------------------------------


def test_bad_parameters_name_parameter_value_and_range() -> None:
    with pytest.raises(ValueError, match=r"LIF: tau_mem must be > 0 \[ms\], got -5.0\."):
        LIF(tau_mem=-5.0)
    with pytest.raises(ValueError, match=r"LIF: beta must be in \(0, 1\] \[1\], got 1.5\."):
        LIF.dimensionless(beta=1.5)
    with pytest.raises(ValueError, match=r"SynapticLIF: alpha must be in \[0, 1\) \[1\]"):
        SynapticLIF.dimensionless(alpha=1.0)
    with pytest.raises(ValueError, match=r"AdaptiveLIF: adapt must be >= 0 \[mV\], got -1.0"):
        AdaptiveLIF(adapt=-1.0)
    with pytest.raises(ValueError, match=r"LIF: t_ref must be a multiple of dt=0.1 \[ms\]"):
        LIF(t_ref=0.25)
    with pytest.raises(ValueError, match=r"LIF: t_ref must be whole number >= 0 \[steps\]"):
        LIF.dimensionless(t_ref=1.5)
    with pytest.raises(ValueError, match=r"LIF: dt must be > 0 \[ms\], got 0"):
        LIF(dt=0)
    with pytest.raises(ValueError, match=r"LIF: reset must be one of Reset.SUBTRACT"):
        LIF(reset="hard")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"LIF: learn must name parameters among"):
        LIF(learn=("tau_syn",))
    with pytest.raises(ValueError, match=r"LIF: learn names v_reset, which reset=Reset.SUBTRACT"):
        LIF.dimensionless(learn=("v_reset",))
    with pytest.raises(ValueError, match=r"LIF: learn must name parameters among"):
        LIF(learn=("t_ref",))
    with pytest.raises(ValueError, match=r"learn must be a tuple of parameter names"):
        LIF(learn="tau_mem")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"LIF: v_th must be finite \[mV\], got nan"):
        LIF(v_th=float("nan"))
    with pytest.raises(ValueError, match=r"tau_mem must be > 0 \[ms\], got 0.0"):
        LIF(tau_mem=torch.tensor([5.0, 0.0]), shape=(2,))
    with pytest.raises(TypeError):
        LIF(tau=5.0)  # type: ignore[call-arg]


def test_nan_and_inf_input_raise_before_touching_state() -> None:
    lif = LIF()
    x = torch.zeros(10, 2)
    x[3, 1] = float("nan")
    with pytest.raises(ValueError, match=r"LIF: input must be finite, got nan at index \(3, 1\)"):
        lif(x)
    with pytest.raises(ValueError, match="input must be finite, got inf"):
        lif.step(torch.tensor([float("inf")]))
    with pytest.raises(ValueError, match="record must name state variables"):
        lif.run(torch.zeros(3, 1), record=("voltage",))


def test_per_neuron_parameters_must_match_the_input() -> None:
    lif = LIF.dimensionless(beta=torch.tensor([0.5, 0.9, 0.99]), shape=(3,))
    with pytest.raises(ValueError, match="does not end in the per-neuron parameter shape"):
        lif(torch.zeros(5, 2, 4))
    spikes, _ = lif(torch.ones(5, 2, 3) * 0.6)
    assert spikes.shape == (5, 2, 3)

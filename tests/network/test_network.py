"""The Network: CUBA side by side with Brian2, fitting rates by gradient descent, monitors,
continuation, truncated BPTT and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuraltide.network import (
    AllToAll,
    Exponential,
    FixedProbability,
    Network,
    PoissonGroup,
    Population,
    PopulationRateMonitor,
    Projection,
    Sign,
    SpikeInput,
    SpikeMonitor,
    StateMonitor,
)
from neuraltide.network.examples import cuba, cuba_structure
from neuraltide.neurons import LIF
from neuraltide.surrogate import FastSigmoid


# ---- CUBA (Vogels & Abbott 2005, as in Brian2's examples/CUBA.py) ------------------------------
def rate_and_cv(t_ms: np.ndarray, i: np.ndarray, n: int, duration_ms: float) -> tuple[float, float]:
    """Mean rate [Hz] and mean ISI coefficient of variation over neurons with >= 3 spikes."""
    order = np.lexsort((t_ms, i))
    t_ms, i = t_ms[order], i[order]
    bounds = np.searchsorted(i, np.arange(n + 1))
    cvs = []
    for k in range(n):
        isi = np.diff(t_ms[bounds[k]:bounds[k + 1]])
        if len(isi) >= 2:
            cvs.append(isi.std() / isi.mean())
    return len(t_ms) / n / (duration_ms / 1e3), float(np.mean(cvs))


def cuba_neuraltide(structure) -> tuple[float, float]:
    model = cuba(structure=structure)
    mon = SpikeMonitor(model.P)
    with torch.no_grad():
        model.network.run(duration=1000.0, monitors=[mon], progress=False)
    return rate_and_cv(mon.t.numpy(), mon.i.numpy(), 4000, 1000.0)


def cuba_brian2(structure) -> tuple[float, float]:
    b2 = pytest.importorskip("brian2")
    from brian2 import ms, mV, second

    pre, post, v0 = structure
    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    ns = dict(taum=20 * ms, taue=5 * ms, taui=10 * ms, Vt=-50 * mV, Vr=-60 * mV, El=-49 * mV,
              we=(60 * 0.27 / 10) * mV, wi=(-20 * 4.5 / 10) * mV)
    eqs = """dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
             dge/dt = -ge/taue : volt
             dgi/dt = -gi/taui : volt"""
    P = b2.NeuronGroup(4000, eqs, threshold="v>Vt", reset="v = Vr", refractory=5 * ms,
                       method="exact", namespace=ns)
    P.v = v0.numpy() * mV
    Ce = b2.Synapses(P, P, on_pre="ge += we", namespace=ns)
    Ci = b2.Synapses(P, P, on_pre="gi += wi", namespace=ns)
    e = (pre < 3200).numpy()
    Ce.connect(i=pre.numpy()[e], j=post.numpy()[e])
    Ci.connect(i=pre.numpy()[~e], j=post.numpy()[~e])
    mon = b2.SpikeMonitor(P)
    b2.run(1 * second)
    return rate_and_cv(np.asarray(mon.t / ms), np.asarray(mon.i), 4000, 1000.0)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_cuba_rate_and_isi_cv_agree_with_brian2(seed: int) -> None:
    """Same connectivity and initial membranes in both simulators; the network is chaotic, so
    spike trains diverge, but the statistics agree (the issue asks for 10%)."""
    structure = cuba_structure(seed)
    rate_b, cv_b = cuba_brian2(structure)
    rate_n, cv_n = cuba_neuraltide(structure)
    assert 3.0 < rate_b < 9.0  # Brian2's own CUBA regime: asynchronous, a few Hz
    assert abs(rate_n - rate_b) < 0.10 * rate_b, (rate_n, rate_b)
    assert abs(cv_n - cv_b) < 0.10 * cv_b, (cv_n, cv_b)


# ---- differentiable fitting -------------------------------------------------------------------
def test_gradient_descent_reaches_target_population_rates() -> None:
    """Fit the weights of a small E/I network (Poisson drive, Dale's law) so that E fires at
    10 Hz and I at 20 Hz: what Brian2 cannot do."""

    def lif() -> LIF:
        return LIF(tau_mem=10.0, v_rest=-65.0, v_th=-50.0, v_reset=-65.0, r_mem=10.0,
                   t_ref=2.0, dt=1.0, surrogate=FastSigmoid(alpha=5.0))

    inp = PoissonGroup(100, 20.0, name="inp", dt=1.0)
    exc, inh = Population(40, lif(), name="E"), Population(10, lif(), name="I")

    def proj(a, b, w, sign, seed):
        return Projection(a, b, FixedProbability(0.3), weight=w, sign=sign, learn=True,
                          synapse=Exponential(5.0), seed=seed)

    net = Network([inp, exc, inh], [
        proj(inp, exc, 0.3, Sign.EXCITATORY, 1), proj(inp, inh, 0.3, Sign.EXCITATORY, 2),
        proj(exc, inh, 0.3, Sign.EXCITATORY, 3), proj(inh, exc, 0.5, Sign.INHIBITORY, 4),
    ])
    target = torch.tensor([10.0, 20.0])

    def rates(batch: int) -> torch.Tensor:
        rE, rI = PopulationRateMonitor(exc), PopulationRateMonitor(inh)
        net.run(250, batch=batch, monitors=[rE, rI])
        return torch.stack([rE.rate[50:].mean(), rI.rate[50:].mean()])

    with torch.no_grad():
        start = rates(16)
    assert torch.all((start - target).abs() > 0.5 * target)  # far from the target at first
    opt = torch.optim.Adam(net.parameters(), lr=0.03)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 70, eta_min=1e-3)
    for _ in range(70):
        loss = (((rates(8) - target) / target) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    net.generator.manual_seed(12345)  # judged on fresh input
    with torch.no_grad():
        final = rates(32)
    assert torch.all((final - target).abs() < 0.10 * target), final
    for p in net.projections.values():  # Dale's law held
        w = p.weight()
        assert torch.all(w >= 0) if p.sign is Sign.EXCITATORY else torch.all(w <= 0)


# ---- monitors, continuation, batches ----------------------------------------------------------
def small_net(seed: int = 0):
    inp = PoissonGroup(30, 50.0, name="inp", dt=0.5)
    pop = Population(20, LIF(tau_mem=10.0, r_mem=20.0, dt=0.5, t_ref=1.0), name="pop")
    proj = Projection(inp, pop, FixedProbability(0.5), weight=1.5, delay=1.0, seed=seed)
    rec = Projection(pop, pop, FixedProbability(0.2), weight=0.5, sign=Sign.INHIBITORY,
                     seed=seed + 1)
    return Network([inp, pop], [proj, rec], seed=seed), inp, pop


def test_monitors_agree_with_each_other() -> None:
    net, _, pop = small_net()
    spikes, rate, state = SpikeMonitor(pop), PopulationRateMonitor(pop), StateMonitor(
        pop, ("v", "s"), idx=[0, 3])
    net.run(400, batch=2, monitors=[spikes, rate, state])
    assert spikes.t.numel() > 20
    counts = spikes.count
    assert torch.equal(counts.sum(1), torch.bincount(spikes.trial, minlength=2).float())
    # rate = spikes per step / n / dt
    total_rate = rate.rate.sum(0) * 0.5e-3 * 20
    torch.testing.assert_close(total_rate, counts.sum(1))
    # spike events of neuron 3 in trial 1 = steps where its state s is 1
    steps = torch.nonzero(state.s[:, 1, 1]).flatten()
    events = spikes.step[(spikes.trial == 1) & (spikes.i == 3)]
    assert torch.equal(steps, events)
    trains = spikes.spike_trains(trial=1)
    assert len(trains) == 20 and torch.equal(trains[3], (events.double() + 1) * 0.5)
    assert torch.all(state.v[:, :, :] <= 1e3) and state.t[0] == 0.5


def test_run_in_chunks_equals_one_run() -> None:
    net_a, _, pop_a = small_net()
    mon_a = SpikeMonitor(pop_a)
    net_a.run(300, monitors=[mon_a])
    net_b, _, pop_b = small_net()
    mon_b = SpikeMonitor(pop_b)
    state = net_b.run(120, monitors=[mon_b])
    state = net_b.run(180, monitors=[mon_b], state=state)
    assert state.step == 300
    assert torch.equal(mon_a.step, mon_b.step) and torch.equal(mon_a.i, mon_b.i)


def test_truncated_bptt_cuts_the_gradient_but_not_the_forward() -> None:
    src = SpikeInput(5, name="src", dt=1.0)
    pop = Population(3, LIF(tau_mem=50.0, v_th=1e6, dt=1.0, t_ref=0.0), name="pop")
    proj = Projection(src, pop, AllToAll(), weight=1.0, learn=True, synapse=Exponential(20.0))
    net = Network([src, pop], [proj])
    x = torch.zeros(40, 1, 5)
    x[0] = 1.0  # one volley at the start: its effect on the last step crosses every cut
    out = {}
    for tbptt in (None, 10):
        mon = StateMonitor(pop, ("v",))
        net.run(40, inputs={src: x}, monitors=[mon], tbptt=tbptt)
        proj.magnitude.grad = None
        mon.v[-1].sum().backward()
        out[tbptt] = (mon.v.detach(), proj.magnitude.grad.clone())
    torch.testing.assert_close(out[None][0], out[10][0])
    assert out[None][1].abs().sum() > 0 and torch.all(out[10][1] == 0)


def test_batch_trials_are_independent() -> None:
    src = SpikeInput(30, name="src", dt=0.5)
    pop = Population(20, LIF(tau_mem=10.0, r_mem=20.0, dt=0.5, t_ref=1.0), name="pop")
    net = Network([src, pop], [Projection(src, pop, FixedProbability(0.5), weight=1.5)])
    x = (torch.rand(200, 3, 30, generator=torch.Generator().manual_seed(0)) < 0.05).float()
    both = SpikeMonitor(pop)
    net.run(200, inputs={src: x}, monitors=[both])
    single = SpikeMonitor(pop)
    net.run(200, inputs={src: x[:, 2:3]}, monitors=[single])
    assert torch.equal(both.count[2:3], single.count) and single.count.sum() > 0


# ---- errors -------------------------------------------------------------------------------------
def test_bad_networks_and_runs_raise_before_running() -> None:
    a = Population(3, LIF(dt=0.1), name="a")
    b = Population(4, LIF(dt=0.1), name="b")
    stray = Population(2, LIF(dt=0.1), name="stray")
    with pytest.raises(ValueError, match="pre group 'stray', which is not in the network"):
        Network([a, b], [Projection(stray, b, AllToAll())])
    with pytest.raises(ValueError, match=r"group names must be unique, got \['a'\]"):
        Network([a, Population(3, LIF(dt=0.1), name="a")])
    with pytest.raises(ValueError, match="all groups must share one dt"):
        Network([a, Population(3, LIF(dt=0.2, t_ref=2.0), name="c")])
    net = Network([a, b], [Projection(a, b, AllToAll())])
    with pytest.raises(ValueError, match=r"must be shaped \(steps, batch, n\).*\(10, \.\.\., 3\)"):
        net.run(10, inputs={a: torch.zeros(10, 1, 5)})
    with pytest.raises(ValueError, match="which is not in this network"):
        net.run(10, inputs={"nope": torch.zeros(10, 1, 3)})
    with pytest.raises(ValueError, match=r"duration must be a multiple of dt=0.1 \[ms\]"):
        net.run(duration=1.05)
    with pytest.raises(ValueError, match="give exactly one of steps or duration"):
        net.run(10, duration=1.0)
    with pytest.raises(ValueError, match="must be finite, got nan"):
        net.run(2, inputs={a: torch.tensor([[[0.0, float("nan"), 0.0]]] * 2)})
    with pytest.raises(ValueError, match="rate_hz must be in"):
        PoissonGroup(3, 20000.0, name="p", dt=0.1)
    with pytest.raises(ValueError, match="init must name state variables"):
        Population(3, LIF(dt=0.1), name="x", init={"u": 0.0})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_network_on_cuda_matches_cpu() -> None:
    def build():
        src = SpikeInput(30, name="src", dt=0.5)
        pop = Population(20, LIF(tau_mem=10.0, r_mem=20.0, dt=0.5, t_ref=1.0), name="pop")
        proj = Projection(src, pop, FixedProbability(0.5), weight=1.5, delay=1.0, seed=3)
        return Network([src, pop], [proj]), pop

    x = (torch.rand(200, 2, 30, generator=torch.Generator().manual_seed(0)) < 0.05).float()
    counts = []
    for device in ("cpu", "cuda"):
        net, pop = build()
        net.to(device)
        mon = SpikeMonitor(pop)
        net.run(200, inputs={"src": x.to(device)}, monitors=[mon])
        counts.append(mon.count)
    assert counts[0].sum() > 0 and torch.equal(counts[0], counts[1])

"""Projections: propagation modes agree, delays land on the right step, synapse models follow
their closed forms, Dale's law holds during training, bad input is refused."""

from __future__ import annotations

import math

import pytest
import torch

from neuraltide.network import (
    AllToAll,
    Conductance,
    Delta,
    Exponential,
    FixedProbability,
    FromIndices,
    Network,
    Normal,
    Population,
    Projection,
    Propagation,
    Sign,
    SpikeInput,
    StateMonitor,
    Uniform,
)
from neuraltide.neurons import LIF


def integrator(n: int, dt: float = 1.0) -> LIF:
    """A physical LIF that never spikes; its state field ``i`` is the input of each step."""
    return LIF(tau_mem=10.0, v_th=1e6, dt=dt, t_ref=0.0)


def input_current(proj_kwargs: dict, spikes: torch.Tensor, n_post: int = 1,
                  dt: float = 1.0) -> torch.Tensor:
    """Run ``spikes`` (steps, batch, n_pre) through one projection; the post's input (steps,
    batch, n_post)."""
    src = SpikeInput(spikes.shape[-1], name="src", dt=dt)
    post = Population(n_post, integrator(n_post, dt), name="post")
    proj = Projection(src, post, **proj_kwargs)
    mon = StateMonitor(post, ("i",))
    Network([src, post], [proj]).run(spikes.shape[0], inputs={src: spikes}, monitors=[mon])
    return mon.i


def test_delta_synapse_delay_lands_on_step_n_plus_d_plus_1() -> None:
    spikes = torch.zeros(12, 1, 1)
    spikes[3] = 1.0
    i = input_current(dict(connectivity=AllToAll(), weight=0.5, synapse=Delta(), delay=4.0),
                      spikes)[:, 0, 0]
    expected = torch.zeros(12)
    expected[3 + 4 + 1] = 0.5
    assert torch.equal(i, expected)


def test_per_synapse_delays() -> None:
    spikes = torch.zeros(10, 1, 3)
    spikes[0] = 1.0
    delays = torch.tensor([0.0, 2.0, 5.0])
    conn = FromIndices(torch.tensor([0, 1, 2]), torch.tensor([0, 0, 0]))
    for mode in (Propagation.AUTO, Propagation.EVENT, Propagation.SPARSE):
        i = input_current(dict(connectivity=conn, weight=torch.tensor([1.0, 10.0, 100.0]),
                               synapse=Delta(), delay=delays, propagation=mode), spikes)
        expected = torch.zeros(10)
        expected[[1, 3, 6]] = torch.tensor([1.0, 10.0, 100.0])
        assert torch.equal(i[:, 0, 0], expected), mode


def test_exponential_synapse_matches_closed_form() -> None:
    dt, tau, w = 0.5, 4.0, 2.0
    spikes = torch.zeros(40, 1, 1, dtype=torch.float64)
    spikes[0] = 1.0
    with torch.autograd.set_grad_enabled(False):
        torch.set_default_dtype(torch.float64)
        try:
            i = input_current(dict(connectivity=AllToAll(), weight=w, synapse=Exponential(tau)),
                              spikes, dt=dt)[:, 0, 0]
        finally:
            torch.set_default_dtype(torch.float32)
    k = torch.arange(40, dtype=torch.float64)
    # mean over step k (k >= 1) of w exp(-(t - dt)/tau), t in [(k-1)dt, k dt] after the jump
    mean = w * torch.exp(-(k - 1) * dt / tau) * tau / dt * (1 - math.exp(-dt / tau))
    expected = torch.where(k >= 1, mean, torch.zeros_like(mean))
    torch.testing.assert_close(i, expected, rtol=1e-12, atol=1e-12)


def test_conductance_current_is_g_times_driving_force() -> None:
    spikes = torch.zeros(5, 1, 1)
    spikes[0] = 1.0
    src = SpikeInput(1, name="src", dt=0.1)
    post = Population(1, LIF(v_rest=-65.0, v_th=1e6, t_ref=0.0, tau_mem=1e9, dt=0.1),
                      name="post")
    syn = Conductance(tau=5.0, e_rev=0.0)
    proj = Projection(src, post, AllToAll(), weight=0.01, synapse=syn)
    mon = StateMonitor(post, ("i", "v"))
    Network([src, post], [proj]).run(5, inputs={src: spikes}, monitors=[mon])
    factor = 5.0 / 0.1 * -math.expm1(-0.1 / 5.0)
    v_before = torch.cat([torch.tensor([-65.0]), mon.v[:-1, 0, 0]])
    g = 0.01 * math.exp(-0.1 / 5.0) ** torch.arange(-1, 4).clamp(min=0) * factor
    expected = torch.where(torch.arange(5) >= 1, g * (0.0 - v_before), torch.zeros(5))
    torch.testing.assert_close(mon.i[:, 0, 0], expected.float(), rtol=1e-5, atol=1e-7)


def _random_setup(mode: Propagation, learn: bool = False, delay: object = 2.0):
    g = torch.Generator().manual_seed(3)
    spikes = (torch.rand(30, 3, 50, generator=g) < 0.1).float()
    src = SpikeInput(50, name="src", dt=1.0)
    post = Population(40, integrator(40), name="post")
    proj = Projection(src, post, FixedProbability(0.2), weight=Normal(0.0, 1.0),
                      delay=delay, propagation=mode, learn=learn, seed=5)
    return spikes, src, post, proj


@pytest.mark.parametrize("delay", [2.0, "per synapse"])
def test_propagation_modes_give_the_same_currents(delay) -> None:
    out = {}
    modes = [Propagation.EVENT, Propagation.SPARSE, Propagation.AUTO]
    if delay != "per synapse":
        modes.append(Propagation.DENSE)
    for mode in modes:
        spikes, src, post, proj = _random_setup(mode, delay=_integer_delays(delay))
        mon = StateMonitor(post, ("i",))
        Network([src, post], [proj]).run(30, inputs={src: spikes}, monitors=[mon])
        out[mode] = mon.i
    ref = out[Propagation.SPARSE]
    assert ref.abs().sum() > 0
    for mode, i in out.items():
        torch.testing.assert_close(i, ref, rtol=1e-5, atol=1e-5, msg=str(mode))


def _integer_delays(delay: object) -> object:
    """A per-synapse delay tensor of 0..4 whole steps for the "per synapse" case."""
    if delay != "per synapse":
        return delay
    n_syn = FixedProbability(0.2).build(50, 40, torch.Generator().manual_seed(5))[0].numel()
    return torch.randint(0, 5, (n_syn,), generator=torch.Generator().manual_seed(7)).double()


def test_sparse_and_dense_gradients_agree_and_event_refuses_spike_gradients() -> None:
    grads = {}
    for mode in (Propagation.SPARSE, Propagation.DENSE, Propagation.EVENT):
        spikes, src, post, proj = _random_setup(mode, learn=True)
        mon = StateMonitor(post, ("i",))
        net = Network([src, post], [proj])
        net.run(30, inputs={src: spikes}, monitors=[mon])
        (mon.i ** 2).sum().backward()
        grads[mode] = proj.magnitude.grad.clone()
        if mode is not Propagation.EVENT:
            x = spikes.clone().requires_grad_()
            mon = StateMonitor(post, ("i",))
            net.run(30, inputs={src: x}, monitors=[mon])
            (mon.i ** 2).sum().backward()
            grads[(mode, "x")] = x.grad
    torch.testing.assert_close(grads[Propagation.SPARSE], grads[Propagation.DENSE])
    torch.testing.assert_close(grads[Propagation.SPARSE], grads[Propagation.EVENT])
    torch.testing.assert_close(grads[(Propagation.SPARSE, "x")],
                               grads[(Propagation.DENSE, "x")])
    assert grads[(Propagation.DENSE, "x")].abs().sum() > 0

    spikes, src, post, proj = _random_setup(Propagation.EVENT)
    with pytest.raises(RuntimeError, match="EVENT has no gradient through silent"):
        Network([src, post], [proj]).run(30, inputs={src: spikes.requires_grad_()})


def test_dales_law_holds_while_training() -> None:
    src = SpikeInput(20, name="src", dt=1.0)
    post = Population(10, integrator(10), name="post")
    proj = Projection(src, post, AllToAll(), weight=Uniform(0.0, 0.2),
                      sign=Sign.INHIBITORY, learn=True)
    net = Network([src, post], [proj])
    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    spikes = (torch.rand(20, 1, 20, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    for _ in range(5):
        mon = StateMonitor(post, ("i",))
        net.run(20, inputs={src: spikes}, monitors=[mon])
        loss = -mon.i.sum()  # pushes every weight towards +inf: against the sign
        opt.zero_grad()
        loss.backward()
        opt.step()
    w = proj.weight()
    assert torch.all(w <= 0) and torch.any(w == 0)
    assert torch.any(proj.magnitude < 0)  # the raw magnitudes did cross zero


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(delay=-1.0), r"delay must be >= 0 \[ms\], got min -1"),
        (dict(delay=0.25), r"delay must be a multiple of dt=0.1 \[ms\], got \[0.25\]"),
        (dict(weight=-1.0, sign=Sign.EXCITATORY), "weights are magnitudes and must be >= 0"),
        (dict(weight=-1.0, synapse=Conductance()), r"conductance weights must be >= 0 \[µS\]"),
        (dict(weight=torch.ones(3)), r"one value per synapse, shape \(20,\), got \(3,\)"),
        (dict(weight=float("nan")), "weight must be finite"),
        (dict(synapse=Exponential(tau=0.0)), r"Exponential tau must be > 0 \[ms\]"),
        (dict(delay=torch.tensor([0.1, 0.2, 0.3, 0.4] * 5), propagation=Propagation.DENSE),
         "DENSE needs one delay"),
        (dict(sign="excitatory"), "sign must be one of Sign.EXCITATORY"),
    ],
)
def test_bad_projection_raises(kwargs, match) -> None:
    src = SpikeInput(4, name="src", dt=0.1)
    post = Population(5, LIF(dt=0.1), name="post")
    with pytest.raises(ValueError, match=match):
        Projection(src, post, AllToAll(), **{"weight": 1.0, **kwargs})


def test_projection_refuses_inputs_as_targets_and_mismatched_dt() -> None:
    a = Population(3, LIF(dt=0.1), name="a")
    src = SpikeInput(3, name="src", dt=0.1)
    with pytest.raises(ValueError, match="post must be a Population"):
        Projection(a, src, AllToAll())
    b = Population(3, LIF(dt=0.2, t_ref=2.0), name="b")
    with pytest.raises(ValueError, match="pre and post must share dt"):
        Projection(a, b, AllToAll())

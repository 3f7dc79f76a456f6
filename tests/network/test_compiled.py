"""The compiled network path gives the PyTorch loop's spikes, bit for bit."""

import pytest
import torch

from neuraltide.network import (
    Conductance,
    Delta,
    Exponential,
    FixedProbability,
    FromIndices,
    Network,
    PoissonGroup,
    Population,
    Projection,
    Propagation,
    Sign,
    SpikeMonitor,
    StateMonitor,
    Uniform,
)
from neuraltide.network.examples import brunel, cuba
from neuraltide.neurons import LIF
from neuraltide.plasticity import PairSTDP


def both(make, steps, **run):
    """Spikes and final state from the PyTorch loop and from the compiled path."""
    out = []
    for compiled in (False, True):
        net, groups = make()
        mons = [SpikeMonitor(g) for g in groups]
        state = net.run(steps, monitors=mons, compiled=compiled, progress=False, **run)
        out.append((mons, state))
    return out


def assert_same(out) -> None:
    (m_ref, s_ref), (m_c, s_c) = out
    for a, b in zip(m_ref, m_c, strict=True):
        assert a.t.numel() > 0
        assert torch.equal(a.step, b.step) and torch.equal(a.i, b.i)
        assert torch.equal(a.trial, b.trial) and torch.equal(a.count, b.count)
    for name, st in s_ref.neurons.items():
        for x, y in zip(st, s_c.neurons[name], strict=True):
            assert torch.equal(x, y), name
    for name, st in s_ref.projections.items():
        assert torch.equal(st.g, s_c.projections[name].g) and st.head == s_c.projections[name].head


def test_cuba_spikes_are_identical() -> None:
    def make():
        c = cuba(seed=1)
        return c.network, [c.network.groups["P"]]

    assert_same(both(make, 1000))


def test_brunel_with_delays_refractoriness_and_chunks() -> None:
    b0 = brunel(n_exc=400, seed=2)
    drive = b0.drive(1500, batch=2, seed=3)

    def make():
        b = brunel(n_exc=400, seed=2)
        return b.network, [b.E, b.I]

    inputs = {"ext_E": drive[b0.ext_exc], "ext_I": drive[b0.ext_inh]}
    out = both(make, 1500, inputs=inputs)
    assert_same(out)
    # two compiled chunks continue exactly like one PyTorch run
    net, groups = make()
    mons = [SpikeMonitor(g) for g in groups]
    state = net.run(700, inputs={k: v[:700] for k, v in inputs.items()}, monitors=mons,
                    compiled=True)
    net.run(800, inputs={k: v[700:] for k, v in inputs.items()}, monitors=mons, state=state,
            compiled=True)
    for a, b in zip(out[0][0], mons, strict=True):
        assert torch.equal(a.step, b.step) and torch.equal(a.i, b.i)


def random_pairs(n_pre: int, n_post: int, p: float, seed: int):
    g = torch.Generator().manual_seed(seed)
    pre, post = (torch.rand(n_pre, n_post, generator=g) < p).nonzero(as_tuple=True)
    delays = torch.randint(0, 21, (pre.numel(),), generator=g) * 0.1  # 0 to 2 ms per synapse
    return FromIndices(pre, post), delays.double()


def test_poisson_conductance_and_per_synapse_delays_in_float64() -> None:
    src_exc, d_src = random_pairs(200, 100, 0.1, 1)
    exc_inh, d_exc = random_pairs(100, 25, 0.1, 2)

    def make():
        src = PoissonGroup(200, 30.0, name="src", dt=0.1)
        lif = LIF(tau_mem=15.0, v_rest=-70.0, v_th=-54.0, v_reset=-65.0, r_mem=100.0,
                  t_ref=1.0, dt=0.1)
        exc = Population(100, lif, name="exc", init={"v": Uniform(-70.0, -55.0)})
        inh = Population(25, LIF(tau_mem=10.0, v_rest=-70.0, v_th=-54.0, v_reset=-65.0,
                                 r_mem=100.0, t_ref=0.0, dt=0.1), name="inh")
        projections = [
            Projection(src, exc, src_exc, weight=0.01, synapse=Conductance(tau=5.0, e_rev=0.0),
                       delay=d_src, seed=1),
            Projection(exc, inh, exc_inh, weight=2.0, synapse=Exponential(3.0), delay=d_exc,
                       seed=2),
            Projection(inh, exc, FixedProbability(0.1), weight=1.0, sign=Sign.INHIBITORY,
                       synapse=Delta(), delay=0.3, seed=3),
        ]
        net = Network([src, exc, inh], projections, seed=4)
        return net, [exc, inh, src]

    assert_same(both(make, 1500, batch=2, dtype=torch.float64))


def test_what_the_compiled_path_cannot_do_is_said() -> None:
    c = cuba(seed=0)
    with pytest.raises(RuntimeError, match="StateMonitor"):
        c.network.run(10, monitors=[StateMonitor(c.network.groups["P"], ["v"], [0])],
                      compiled=True)
    src = PoissonGroup(10, 50.0, name="src", dt=1.0)
    post = Population(2, LIF(dt=1.0), name="post")
    plastic = Network([src, post], [Projection(src, post, FixedProbability(0.5), weight=1.0,
                                               plasticity=PairSTDP())])
    with pytest.raises(RuntimeError, match="projection 'src_to_post' is plastic"):
        plastic.run(10, compiled=True)
    learned = Network([src, post], [Projection(src, post, FixedProbability(0.5), weight=1.0,
                                               learn=True, propagation=Propagation.SPARSE)])
    with pytest.raises(RuntimeError, match="a gradient is needed"):
        learned.run(10, compiled=True)
    with torch.no_grad():
        learned.run(10, compiled=True)  # without autograd it can

"""The compiled network path gives the PyTorch loop's spikes, bit for bit."""

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
from neuraltide.plasticity import Pairing, PairSTDP, TripletSTDP, WeightDependence


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
    learned = Network([src, post], [Projection(src, post, FixedProbability(0.5), weight=1.0,
                                               learn=True, propagation=Propagation.SPARSE)])
    with pytest.raises(RuntimeError, match="a gradient is needed"):
        learned.run(10, compiled=True)
    with torch.no_grad():
        learned.run(10, compiled=True)  # without autograd it can


def plastic_net(rule, *, pre_kind="poisson", delay=0.0, sign=None, dtype=torch.float32,
                w_init=None):
    """Poisson (or recurrent) inputs onto 20 LIF neurons through a plastic projection."""
    def make():
        torch.manual_seed(0)
        inp = PoissonGroup(200, 30.0, name="inp", dt=0.5)
        pop = Population(20, LIF(tau_mem=10.0, r_mem=10.0, v_th=-54.0, dt=0.5), name="pop")
        w = Uniform(0.0, 0.4) if w_init is None else w_init
        projs = [Projection(inp, pop, FixedProbability(0.3), weight=w, delay=delay, sign=sign,
                            synapse=Exponential(5.0), plasticity=rule, seed=4, name="ff")]
        if pre_kind == "recurrent":
            projs.append(Projection(pop, pop, FixedProbability(0.3, allow_self=False),
                                    weight=Uniform(0.0, 0.2), delay=1.0, synapse=Delta(),
                                    plasticity=rule, seed=5, name="rec"))
        return Network([inp, pop], projs, seed=3).to(dtype), [pop]
    return make


def run_both(make, steps, chunks=1, **run):
    """Per path: monitors, final state and final weights (the compiled path in ``chunks``)."""
    out = []
    for compiled in (False, True):
        net, groups = make()
        mons = [SpikeMonitor(g) for g in groups]
        state = None
        for _ in range(chunks if compiled else 1):
            state = net.run(steps // (chunks if compiled else 1), monitors=mons, state=state,
                            compiled=compiled, progress=False, **run)
        out.append((mons, state, {n: p.magnitude.clone() for n, p in net.projections.items()}))
    return out


def assert_same_learning(out) -> None:
    (m_ref, s_ref, w_ref), (m_c, s_c, w_c) = out
    assert_same([(m_ref, s_ref), (m_c, s_c)])
    for name, w in w_ref.items():
        assert torch.equal(w, w_c[name]), name
        for x, y in zip(s_ref.projections[name].traces, s_c.projections[name].traces,
                        strict=True):
            assert torch.equal(x, y), name
        for x, y in zip(s_ref.projections[name].sent, s_c.projections[name].sent, strict=True):
            assert torch.equal(x, y), name


@pytest.mark.parametrize("pairing", list(Pairing))
@pytest.mark.parametrize("dependence", list(WeightDependence))
def test_pair_stdp_learns_the_same_weights(pairing, dependence) -> None:
    rule = PairSTDP(a_plus=0.01, a_minus=0.0105, w_min=0.0, w_max=0.5, pairing=pairing,
                    dependence=dependence)
    make = plastic_net(rule)
    net, _ = make()
    w0 = net.projections["ff"].magnitude.clone()
    out = run_both(make, 2000)
    assert not torch.equal(out[1][2]["ff"], w0)  # the weights did learn
    assert out[0][0][0].t.numel() > 50  # and the neurons fired
    assert_same_learning(out)


def test_pair_stdp_with_delays_signs_batches_recurrence_float64_and_chunks() -> None:
    rule = PairSTDP(a_plus=0.005, a_minus=0.006, w_min=0.0, w_max=0.5)
    make = plastic_net(rule, pre_kind="recurrent", delay=1.5, sign=Sign.EXCITATORY,
                       dtype=torch.float64)
    assert_same_learning(run_both(make, 1200, chunks=3, batch=6, dtype=torch.float64))


def test_pair_stdp_clamps_weights_given_out_of_bounds_like_the_loop() -> None:
    rule = PairSTDP(a_plus=0.01, a_minus=0.0105, w_min=0.0, w_max=0.3)
    out = run_both(plastic_net(rule, w_init=Uniform(0.0, 0.6)), 400)
    assert bool(out[1][2]["ff"].max() <= torch.tensor(0.3))  # float32 bound
    assert_same_learning(out)


def test_other_plasticity_rules_take_the_pytorch_loop() -> None:
    net, _ = plastic_net(TripletSTDP.visual_cortex(w_min=0.0, w_max=0.5))()
    with pytest.raises(RuntimeError, match=r"TripletSTDP \(the compiled path runs PairSTDP\)"):
        net.run(10, compiled=True)
    net.run(10)  # the default falls back


def test_dense_projections_run_compiled_with_the_loops_event_sums() -> None:
    """An all-to-all projection could go dense in the loop; at these rates no step has enough
    active inputs for the loop to switch, so both paths sum event by event: same spikes."""
    def make():
        inp = PoissonGroup(100, 10.0, name="inp", dt=0.1)
        pop = Population(10, LIF(tau_mem=10.0, r_mem=10.0, v_th=-54.0, dt=0.1), name="pop")
        proj = Projection(inp, pop, AllToAll(), weight=Uniform(0.0, 1.5), seed=1)
        assert proj._gather_cost(proj.pre.n) > proj.pre.n * proj.post.n  # dense-capable
        return Network([inp, pop], [proj], seed=2), [pop]

    assert_same(both(make, 3000))


def test_long_runs_go_in_blocks_with_the_same_result(monkeypatch) -> None:
    from neuraltide.network import compiled

    rule = PairSTDP(a_plus=0.01, a_minus=0.0105, w_min=0.0, w_max=0.5)
    whole = run_both(plastic_net(rule, delay=1.0), 1000)[1]
    monkeypatch.setattr(compiled, "BLOCK_VALUES", 200 * 37)  # blocks of 37 steps
    blocks = run_both(plastic_net(rule, delay=1.0), 1000)[1]
    assert_same_learning([whole, blocks])

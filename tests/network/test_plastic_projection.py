"""Plasticity rules run by projections inside Network.run: arrival times after the delay, the
same result as driving the rule by hand, modulators, and refusals."""

from __future__ import annotations

import math

import pytest
import torch

from neuraltide.network import (
    AllToAll,
    Delta,
    FixedProbability,
    Network,
    Population,
    Projection,
    Propagation,
    SpikeInput,
    SpikeMonitor,
)
from neuraltide.neurons import LIF
from neuraltide.plasticity import PairSTDP, RewardModulatedSTDP


def follower() -> LIF:
    """Fires in exactly the steps where its external input is 1 (dimensionless, dt = 1)."""
    return LIF.dimensionless(beta=0.01, threshold=0.5)


def test_pre_spikes_reach_the_rule_after_the_delay() -> None:
    rule = PairSTDP(a_plus=0.01, a_minus=0.012, tau_plus=20.0, tau_minus=20.0)
    src = SpikeInput(1, name="src", dt=1.0)
    post = Population(1, follower(), name="post")
    proj = Projection(src, post, AllToAll(), weight=0.1, synapse=Delta(), delay=3.0,
                      plasticity=rule)
    pre_spikes = torch.zeros(40, 1, 1)
    pre_spikes[10] = 1.0  # arrives at step 13
    drive = torch.zeros(40, 1, 1)
    drive[20] = 1.0  # post spikes at step 20
    mon = SpikeMonitor(post)
    Network([src, post], [proj]).run(40, inputs={src: pre_spikes, post: drive}, monitors=[mon])
    assert mon.step.tolist() == [20]
    expected = 0.1 + 0.01 * math.exp(-(20 - 13) / 20.0)
    assert float(proj.magnitude[0]) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("mode", [Propagation.AUTO, Propagation.SPARSE, Propagation.EVENT])
def test_network_run_equals_the_rule_driven_by_hand(mode) -> None:
    g = torch.Generator().manual_seed(0)
    steps, batch = 300, 2
    rule = PairSTDP(a_plus=0.02, a_minus=0.021, w_max=0.4)
    src = SpikeInput(30, name="src", dt=1.0)
    post = Population(20, LIF(tau_mem=10.0, r_mem=50.0, v_th=-55.0, t_ref=2.0, dt=1.0),
                      name="post")
    proj = Projection(src, post, FixedProbability(0.3), weight=0.2, delay=2.0,
                      propagation=mode, plasticity=rule, seed=1)
    w0 = proj.magnitude.clone()
    x = (torch.rand(steps, batch, 30, generator=g) < 0.05).float()
    mon = SpikeMonitor(post)
    Network([src, post], [proj]).run(steps, inputs={src: x}, monitors=[mon])
    post_spikes = torch.zeros(steps, batch, 20)
    post_spikes[mon.step, mon.trial, mon.i] = 1.0
    assert post_spikes.sum() > 10 and not torch.equal(proj.magnitude, w0)
    # replay: the rule sees pre spikes 2 steps late, post spikes as they happen
    state = rule.init_state(30, 20, batch, device=None, dtype=torch.float32,
                            n_synapses=proj.n_synapses)
    w = w0
    late = torch.cat([torch.zeros(2, batch, 30), x[:-2]])
    for n in range(steps):
        state, w = rule.step(state, late[n], post_spikes[n], w,
                             (proj.pre_idx, proj.post_idx), 1.0)
    torch.testing.assert_close(proj.magnitude, w)


def test_reward_modulated_projection_needs_and_uses_its_modulator() -> None:
    rule = RewardModulatedSTDP(stdp=PairSTDP(a_plus=0.01, a_minus=0.012), tau_c=100.0)
    src = SpikeInput(1, name="src", dt=1.0)
    post = Population(1, follower(), name="post")
    proj = Projection(src, post, AllToAll(), weight=0.1, synapse=Delta(), plasticity=rule)
    net = Network([src, post], [proj])
    pre, drive = torch.zeros(60, 1, 1), torch.zeros(60, 1, 1)
    pre[5], drive[10] = 1.0, 1.0  # a causal pair
    with pytest.raises(ValueError, match="needs modulators="):
        net.run(60, inputs={src: pre, post: drive})
    net.run(60, inputs={src: pre, post: drive}, modulators={proj: torch.zeros(60)})
    assert float(proj.magnitude[0]) == pytest.approx(0.1)
    reward = torch.zeros(60)
    reward[30] = 1.0
    net.run(60, inputs={src: pre, post: drive}, modulators={proj: reward})
    c = 0.01 * math.exp(-5 / 20) * math.exp(-(30 - 10) / 100.0)
    assert float(proj.magnitude[0]) == pytest.approx(0.1 + c, rel=1e-5)
    with pytest.raises(ValueError, match=r"must be shaped \(steps,\)"):
        net.run(60, inputs={src: pre, post: drive}, modulators={proj: torch.zeros(59)})


def test_plastic_projection_refusals() -> None:
    src = SpikeInput(3, name="src", dt=1.0)
    post = Population(2, follower(), name="post")
    with pytest.raises(ValueError, match="learn=True and plasticity are exclusive"):
        Projection(src, post, AllToAll(), plasticity=PairSTDP(), learn=True)
    with pytest.raises(ValueError, match="per-synapse delays with plasticity"):
        Projection(src, post, AllToAll(), plasticity=PairSTDP(),
                   delay=torch.tensor([0.0, 1.0, 2.0, 0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="not DENSE"):
        Projection(src, post, AllToAll(), plasticity=PairSTDP(),
                   propagation=Propagation.DENSE)
    with pytest.raises(ValueError, match="plasticity must be a PlasticityRule"):
        Projection(src, post, AllToAll(), plasticity="stdp")

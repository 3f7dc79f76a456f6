"""Operation counts from real runs, checked against counts made by hand."""

import pytest
import torch
from torch import nn

from neuraltide.hardware import (
    ANN_FP32_45NM,
    LOIHI_COSTS,
    count_activity,
    network_activity,
)
from neuraltide.network import SpikeMonitor
from neuraltide.network.examples import cuba
from neuraltide.neurons import LIF, Reset
from neuraltide.training import LeakyReadout, Spiking, SpikingRecurrent


def test_feed_forward_counts_match_a_hand_count() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 5), Spiking(LIF.dimensionless(beta=0.8)),
                        nn.Linear(5, 3), LeakyReadout(3))
    with torch.no_grad():
        net[0].weight[:, 0] = 0.0  # input 0 reaches no synapse
        net[0].weight.mul_(4)
    x = (torch.rand(20, 4, 6) < 0.3).float()
    act = count_activity(net, x)
    hidden = net[1](net[0](x))
    fan_out = (net[0].weight != 0).sum(0)
    assert act.layers[0].synops == int((x.sum((0, 1)) * fan_out).sum())
    assert act.layers[1].output_spikes == int(hidden.sum()) > 0
    assert act.layers[2].synops == int(hidden.sum()) * 3
    assert act.layers[1].neuron_updates == 20 * 4 * 5
    assert act.ann_macs == 5 * 5 + 5 * 3  # nonzero weights: one column of 5 is zero
    assert act.synops == pytest.approx((act.layers[0].synops + act.layers[2].synops) / 4)
    e = act.energy(LOIHI_COSTS)
    assert e == pytest.approx(23.6e-12 * act.synops + 81e-12 * act.neuron_updates)
    assert act.ann_energy(ANN_FP32_45NM) == pytest.approx(4.6e-12 * 40)
    assert "ratio SNN / ANN" in act.report()


def test_recurrent_synapses_count_the_previous_steps_spikes() -> None:
    torch.manual_seed(1)
    layer = SpikingRecurrent(4, 6, LIF.dimensionless(reset=Reset.TO_VALUE))
    with torch.no_grad():
        layer.input.weight.mul_(5)
    x = (torch.rand(15, 2, 4) < 0.5).float()
    act = count_activity(nn.Sequential(layer), x)
    s = layer(x)
    expected = int(x.sum()) * 6 + int(s[:-1].sum()) * 6
    assert act.layers[0].synops == expected and s.sum() > 0


def test_network_counts_from_spike_monitors() -> None:
    net = cuba(seed=0).network
    mon = SpikeMonitor(net.groups["P"])
    net.run(steps=200, monitors=[mon])
    counts = mon.count.sum(0)
    act = network_activity(net, {"P": counts}, steps=200)
    total = 0
    for p in net.projections.values():
        total += int((counts.double() * torch.bincount(p.pre_idx.long(), minlength=4000)).sum())
    assert act.synops == total > 0
    assert act.neuron_updates == 4000 * 200
    with pytest.raises(ValueError, match="no entry for 'P'"):
        network_activity(net, {}, steps=200)


def test_bad_input_raises() -> None:
    with pytest.raises(ValueError, match="NaN or inf"):
        count_activity(nn.Sequential(nn.Linear(2, 2)), torch.full((3, 1, 2), float("nan")))

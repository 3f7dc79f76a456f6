"""Losses and rate regularisers: hand-derived values, snnTorch parity, gradients, bad input."""

import math

import pytest
import torch
import torch.nn.functional as F

from neuraltide.surrogate import ATan, spike
from neuraltide.training import (
    Readout,
    Reduction,
    Scope,
    count_cross_entropy,
    firing_rates,
    membrane_cross_entropy,
    rate_lower_penalty,
    rate_mse,
    rate_upper_penalty,
)

SF = pytest.importorskip("snntorch.functional")


def random_spikes(T: int, B: int, N: int, p: float = 0.3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(T, B, N, generator=g) < p).float()


def surrogate_spikes(T: int, B: int, N: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Spikes that carry a surrogate gradient back to a leaf tensor ``u``."""
    u = torch.randn(T, B, N, requires_grad=True)
    return spike(u, ATan()), u


# ---- count cross-entropy -----------------------------------------------------------------------
def test_count_cross_entropy_hand_example() -> None:
    spikes = torch.zeros(4, 2, 2)
    spikes[:3, 0, 0] = 1.0  # sample 0: counts (3, 0), target 0
    spikes[:, 1, 0] = 1.0  # sample 1: counts (4, 2), target 1
    spikes[:2, 1, 1] = 1.0
    y = torch.tensor([0, 1])
    l0 = math.log(1 + math.exp(-3))
    l1 = math.log(1 + math.exp(2))
    per = count_cross_entropy(spikes, y, reduction=Reduction.NONE)
    torch.testing.assert_close(per, torch.tensor([l0, l1]))
    torch.testing.assert_close(count_cross_entropy(spikes, y), torch.tensor((l0 + l1) / 2))
    torch.testing.assert_close(
        count_cross_entropy(spikes, y, reduction=Reduction.SUM), torch.tensor(l0 + l1)
    )


def test_count_cross_entropy_is_cross_entropy_of_counts() -> None:
    s = random_spikes(25, 16, 10)
    y = torch.randint(0, 10, (16,))
    torch.testing.assert_close(count_cross_entropy(s, y), F.cross_entropy(s.sum(0), y))


def test_count_cross_entropy_population_code_sums_groups() -> None:
    s = random_spikes(20, 8, 12, seed=1)
    y = torch.randint(0, 4, (8,))
    groups = torch.stack([s[:, :, 3 * c : 3 * c + 3].sum((0, 2)) for c in range(4)], dim=1)
    torch.testing.assert_close(
        count_cross_entropy(s, y, neurons_per_class=3), F.cross_entropy(groups, y)
    )


def test_count_cross_entropy_equals_snntorch() -> None:
    for seed in range(5):
        s = random_spikes(30, 8, 5, seed=seed)
        y = torch.randint(0, 5, (8,))
        torch.testing.assert_close(count_cross_entropy(s, y), SF.ce_count_loss()(s, y))
        s4 = random_spikes(30, 8, 20, seed=seed + 10)
        ref = SF.ce_count_loss(population_code=True, num_classes=5)(s4, y)
        torch.testing.assert_close(count_cross_entropy(s4, y, neurons_per_class=4), ref)


# ---- rate MSE --------------------------------------------------------------------------------
def test_rate_mse_hand_example() -> None:
    spikes = torch.zeros(10, 2, 3)
    spikes[:5, 0, 0] = 1.0  # sample 0 rates (0.5, 0, 0), target 0
    spikes[:, 1, 0] = 1.0  # sample 1 rates (1, 0.2, 0), target 2
    spikes[:2, 1, 1] = 1.0
    y = torch.tensor([0, 2])
    hi, lo = 0.8, 0.1
    l0 = ((0.5 - hi) ** 2 + (0 - lo) ** 2 + (0 - lo) ** 2) / 3
    l1 = ((1 - lo) ** 2 + (0.2 - lo) ** 2 + (0 - hi) ** 2) / 3
    per = rate_mse(spikes, y, correct_rate=hi, incorrect_rate=lo, reduction=Reduction.NONE)
    torch.testing.assert_close(per, torch.tensor([l0, l1]))
    torch.testing.assert_close(
        rate_mse(spikes, y, correct_rate=hi, incorrect_rate=lo), torch.tensor((l0 + l1) / 2)
    )


def test_rate_mse_population_uses_group_mean_rate() -> None:
    s = random_spikes(16, 6, 8, seed=2)
    y = torch.randint(0, 4, (6,))
    rates = s.mean(0).reshape(6, 4, 2).mean(-1)
    want = F.one_hot(y, 4).float() * 0.6 + 0.2  # correct 0.8, incorrect 0.2
    torch.testing.assert_close(
        rate_mse(s, y, correct_rate=0.8, incorrect_rate=0.2, neurons_per_class=2),
        F.mse_loss(rates, want),
    )


@pytest.mark.parametrize(("T", "G"), [(20, 1), (40, 1), (20, 2), (8, 5)])
def test_rate_mse_is_snntorch_mse_count_loss_over_t_g_squared(T: int, G: int) -> None:
    # T * rate * G is a whole number for every case, so snnTorch's int() target is exact.
    s = random_spikes(T, 8, 4 * G, seed=T + G)
    y = torch.randint(0, 4, (8,))
    kwargs = dict(correct_rate=0.75, incorrect_rate=0.25)
    if G == 1:
        ref = SF.mse_count_loss(**kwargs)(s, y)
    else:
        ref = SF.mse_count_loss(**kwargs, population_code=True, num_classes=4)(s, y)
    ours = rate_mse(s, y, neurons_per_class=G, **kwargs)
    torch.testing.assert_close(ours * T * G**2, ref)


# ---- membrane cross-entropy --------------------------------------------------------------------
def test_membrane_cross_entropy_readouts() -> None:
    g = torch.Generator().manual_seed(3)
    v = torch.randn(15, 6, 4, generator=g) * 3 - 65.0  # in mV
    y = torch.randint(0, 4, (6,), generator=g)
    torch.testing.assert_close(membrane_cross_entropy(v, y), F.cross_entropy(v.max(0).values, y))
    torch.testing.assert_close(
        membrane_cross_entropy(v, y, readout=Readout.MEAN), F.cross_entropy(v.mean(0), y)
    )
    torch.testing.assert_close(
        membrane_cross_entropy(v, y, readout=Readout.LAST), F.cross_entropy(v[-1], y)
    )


def test_membrane_cross_entropy_hand_example_and_snntorch() -> None:
    v = torch.tensor([[[0.0, 1.0]], [[2.0, 0.0]]])  # max (2, 1), mean (1, 0.5)
    y = torch.tensor([0])
    assert membrane_cross_entropy(v, y).item() == pytest.approx(math.log(1 + math.exp(-1)))
    assert membrane_cross_entropy(v, y, readout=Readout.MEAN).item() == pytest.approx(
        math.log(1 + math.exp(-0.5))
    )
    w = torch.randn(20, 8, 10)
    t = torch.randint(0, 10, (8,))
    torch.testing.assert_close(membrane_cross_entropy(w, t), SF.ce_max_membrane_loss()(w, t))


# ---- gradients -------------------------------------------------------------------------------
def test_losses_pass_surrogate_gradients() -> None:
    y = torch.tensor([0, 3, 1])
    losses = [
        lambda s: count_cross_entropy(s, y),
        lambda s: rate_mse(s, y, correct_rate=0.8, incorrect_rate=0.1),
        lambda s: membrane_cross_entropy(s, y, readout=Readout.MEAN),
        lambda s: rate_upper_penalty(s, 0.1, scope=Scope.NEURON),
        lambda s: rate_lower_penalty(s, 0.9),
    ]
    for loss_fn in losses:
        s, u = surrogate_spikes(12, 3, 4)
        loss_fn(s).backward()
        assert u.grad is not None and torch.isfinite(u.grad).all()
        assert u.grad.abs().sum() > 0


def test_count_cross_entropy_gradient_raises_correct_class() -> None:
    s = random_spikes(10, 4, 3).requires_grad_()
    y = torch.tensor([0, 1, 2, 0])
    count_cross_entropy(s, y).backward()
    # one more spike of the correct class lowers the loss: negative gradient there
    assert (s.grad[:, torch.arange(4), y] < 0).all()


def test_rate_penalties_gradient_sign() -> None:
    s = torch.full((10, 2, 3), 0.5, requires_grad=True)  # rates 0.5
    rate_upper_penalty(s, 0.2, scope=Scope.NEURON).backward()
    assert (s.grad > 0).all()  # descending lowers the rates
    s.grad = None
    rate_lower_penalty(s, 0.8).backward()
    assert (s.grad < 0).all()  # descending raises the rates


# ---- regularisers ----------------------------------------------------------------------------
def test_firing_rates() -> None:
    s = random_spikes(40, 3, 7, seed=4)
    torch.testing.assert_close(firing_rates(s), s.sum(0) / 40)
    assert firing_rates(torch.zeros(5, 2, 3, 4)).shape == (2, 3, 4)


def test_rate_penalties_hand_values() -> None:
    s = torch.zeros(10, 2, 4)
    s[:, 0, 0] = 1.0  # sample 0 rates (1, 0, 0, 0): population 0.25
    s[:8, 1, :] = 1.0  # sample 1 rates (0.8, ...): population 0.8
    # population upper bound 0.5: (0 + 0.3^2) / 2
    torch.testing.assert_close(rate_upper_penalty(s, 0.5), torch.tensor(0.09 / 2))
    # per-neuron upper bound 0.5: sample 0 (0.5^2), sample 1 4 * 0.3^2; mean over 8 entries
    torch.testing.assert_close(
        rate_upper_penalty(s, 0.5, scope=Scope.NEURON), torch.tensor((0.25 + 4 * 0.09) / 8)
    )
    # per-neuron lower bound 0.1: three silent neurons in sample 0
    torch.testing.assert_close(rate_lower_penalty(s, 0.1), torch.tensor(3 * 0.01 / 8))
    # population lower bound 0.3: (0.05^2 + 0) / 2
    torch.testing.assert_close(
        rate_lower_penalty(s, 0.3, scope=Scope.POPULATION), torch.tensor(0.0025 / 2)
    )
    # power 1
    torch.testing.assert_close(rate_upper_penalty(s, 0.5, power=1), torch.tensor(0.3 / 2))
    # zero inside the bounds
    assert rate_upper_penalty(s, 1.0, scope=Scope.NEURON) == 0
    assert rate_lower_penalty(s, 0.0) == 0


def test_rate_penalties_flatten_neuron_dims() -> None:
    s = random_spikes(10, 3, 20, seed=5)
    a = rate_upper_penalty(s, 0.2, scope=Scope.NEURON)
    b = rate_upper_penalty(s.reshape(10, 3, 4, 5), 0.2, scope=Scope.NEURON)
    torch.testing.assert_close(a, b)


# ---- bad input -------------------------------------------------------------------------------
def test_losses_reject_bad_input() -> None:
    s = random_spikes(5, 2, 3)
    y = torch.tensor([0, 2])
    with pytest.raises(ValueError, match=r"spikes must be a tensor shaped \(T, batch, outputs\)"):
        count_cross_entropy(s[0], y)
    with pytest.raises(ValueError, match="flatten the output neurons"):
        count_cross_entropy(s.reshape(5, 2, 3, 1), y)
    with pytest.raises(ValueError, match=r"targets must be an integer tensor .*\(2,\)"):
        count_cross_entropy(s, y.float())
    with pytest.raises(ValueError, match=r"targets must be an integer tensor .*\(2,\)"):
        count_cross_entropy(s, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"targets must be class indices in \[0, 2\], got 3"):
        count_cross_entropy(s, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"targets must be class indices in \[0, 2\], got -1"):
        rate_mse(s, torch.tensor([-1, 0]))
    bad = s.clone()
    bad[2, 1, 0] = float("nan")
    with pytest.raises(ValueError, match=r"spikes must be finite, got nan at index \(2, 1, 0\)"):
        count_cross_entropy(bad, y)
    with pytest.raises(ValueError, match="v must be finite, got inf"):
        membrane_cross_entropy(bad.nan_to_num(nan=float("inf")), y)
    with pytest.raises(ValueError, match="neurons_per_class must be a whole number >= 1 that"):
        count_cross_entropy(s, y, neurons_per_class=2)
    with pytest.raises(ValueError, match=r"correct_rate must be in \[0, 1\] \[spikes per step\]"):
        rate_mse(s, y, correct_rate=1.5)
    with pytest.raises(ValueError, match=r"reduction must be one of Reduction\.MEAN"):
        count_cross_entropy(s, y, reduction="mean")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"readout must be one of Readout\.MAX"):
        membrane_cross_entropy(s, y, readout="max")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"bound must be in \[0, 1\] \[spikes per step\], got 2"):
        rate_upper_penalty(s, 2)
    with pytest.raises(ValueError, match="power must be a whole number >= 1"):
        rate_lower_penalty(s, 0.1, power=0)
    with pytest.raises(ValueError, match=r"scope must be one of Scope\.NEURON"):
        rate_lower_penalty(s, 0.1, scope="neuron")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"spikes must be a tensor shaped \(T, batch, \*neurons"):
        rate_upper_penalty(s[0], 0.1)


# ---- first-spike (latency) loss ------------------------------------------------------------
def test_first_spike_times_and_their_gradient() -> None:
    from neuraltide.training import first_spike_times

    s = torch.zeros(6, 1, 3)
    s[2, 0, 0] = s[4, 0, 0] = 1.0  # first at 2, a later spike at 4
    s[0, 0, 1] = 1.0
    s = s.requires_grad_()
    t = first_spike_times(s)
    assert t.tolist() == [[2.0, 0.0, 6.0]]  # silent output: T
    t.sum().backward()
    g = s.grad[:, 0]
    assert g[2, 0] == 2 - 6 and g[4, 0] == 0  # only the first spike moves the time
    assert g[0, 1] == -6 and g[1:, 1].abs().sum() == 0
    assert torch.equal(g[:, 2], torch.arange(6.0) - 6)  # a silent output is pushed everywhere


def test_first_spike_cross_entropy_prefers_the_target_firing_first() -> None:
    from neuraltide.training import first_spike_cross_entropy

    s = torch.zeros(10, 2, 2, dtype=torch.float64)
    s[1, :, 0] = 1.0
    s[5, :, 1] = 1.0
    loss = first_spike_cross_entropy(s, torch.tensor([0, 1]), reduction=Reduction.NONE)
    assert loss[0] < loss[1]
    assert loss[0].item() == pytest.approx(math.log(1 + math.exp(-4.0)), rel=1e-12)
    with pytest.raises(ValueError, match="tau must be > 0"):
        first_spike_cross_entropy(s, torch.tensor([0, 1]), tau=0.0)


def test_latency_coded_digits_learn_with_the_first_spike_loss() -> None:
    """Pixels as first-spike latencies over 20 steps, a 64-128-10 spiking network whose
    earliest output is the answer: >= 85 % on held-out digits (measured 90 %) in seconds."""
    from torch import nn

    from neuraltide.datasets import digits
    from neuraltide.encoding import latency
    from neuraltide.neurons import LIF
    from neuraltide.training import Spiking, first_spike_cross_entropy, first_spike_times

    train, test = digits()
    X, y = train.tensors
    Xt, yt = test.tensors
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 128), Spiking(LIF.dimensionless(beta=0.9)),
                        nn.Linear(128, 10), Spiking(LIF.dimensionless(beta=0.9)))
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(15):
        for b in torch.split(torch.randperm(len(y), generator=g), 64):
            out = net(latency(X[b], 20, tau=5.0))
            loss = first_spike_cross_entropy(out, y[b], tau=2.0)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        times = first_spike_times(net(latency(Xt, 20, tau=5.0)))
    accuracy = (times.argmin(-1) == yt).float().mean().item()
    print(f"latency-coded digits, first-spike loss: {accuracy:.3f}")
    assert accuracy >= 0.85

r"""Losses on spike trains and membrane traces, and firing-rate regularisers.

All inputs are time-major, ``(T, batch, outputs)`` for the losses and ``(T, batch, *neurons)``
for the regularisers; targets are class indices ``(batch,)``. Rates here are in spikes per
step (the fraction of steps with a spike, in [0, 1]); a rate in Hz at step ``dt`` [ms] is
``rate_hz * neuraltide.units.Hz * dt`` spikes per step (e.g. 10 Hz at 1 ms is 0.01).

=================================  ============================================================
function                           loss
=================================  ============================================================
:func:`count_cross_entropy`        cross-entropy with the spike counts as logits
:func:`rate_mse`                   squared error of the rates to a correct / incorrect target
:func:`membrane_cross_entropy`     cross-entropy of the max, mean or last membrane value
:func:`first_spike_cross_entropy`  cross-entropy of the negative first-spike times (earliest
                                   output wins: a latency code)
:func:`rate_upper_penalty`         :math:`\mathrm{relu}(r - r_\text{upper})^p`
:func:`rate_lower_penalty`         :math:`\mathrm{relu}(r_\text{lower} - r)^p`
=================================  ============================================================

Example::

    >>> import torch
    >>> from neuraltide.training import count_cross_entropy, rate_upper_penalty
    >>> spikes = torch.zeros(10, 2, 3)
    >>> spikes[:, 0, 1] = 1.0                       # sample 0: class 1 fires every step
    >>> spikes[::2, 1, 2] = 1.0                     # sample 1: class 2 every other step
    >>> count_cross_entropy(spikes, torch.tensor([1, 2]))
    tensor(0.0067)
    >>> rate_upper_penalty(spikes, 0.2)             # population rates 1/3 and 1/6
    tensor(0.0089)
"""

from __future__ import annotations

from enum import Enum

import torch
import torch.nn.functional as F
from torch import Tensor

from .._params import check_finite_input
from .._validate import check_option

__all__ = [
    "Readout",
    "Reduction",
    "Scope",
    "count_cross_entropy",
    "firing_rates",
    "first_spike_cross_entropy",
    "first_spike_times",
    "membrane_cross_entropy",
    "rate_lower_penalty",
    "rate_mse",
    "rate_upper_penalty",
]


class Reduction(Enum):
    """How a loss combines the per-sample values of a batch."""

    MEAN = "mean"  #: average over the batch
    SUM = "sum"  #: sum over the batch
    NONE = "none"  #: one value per sample, shape ``(batch,)``


class Readout(Enum):
    """Which value over time of an output membrane trace :func:`membrane_cross_entropy` uses."""

    MAX = "max"  #: the maximum over time (SpyTorch, snnTorch ``ce_max_membrane_loss``)
    MEAN = "mean"  #: the time average
    LAST = "last"  #: the value at the last step


class Scope(Enum):
    """Which rate a rate penalty bounds."""

    NEURON = "neuron"  #: each neuron's rate, per sample
    POPULATION = "population"  #: the mean rate over all neurons, per sample


# ---- checks ----------------------------------------------------------------------------------
def _sequence(owner: str, name: str, x: object, min_dim: int, layout: str) -> Tensor:
    if not isinstance(x, Tensor) or x.dim() < min_dim or min(x.shape[:2]) == 0:
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{owner}: {name} must be a tensor shaped {layout}, got {got}.")
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    check_finite_input(owner, x, name)
    return x


def _outputs(owner: str, name: str, x: object) -> Tensor:
    x = _sequence(owner, name, x, 3, "(T, batch, outputs)")
    if x.dim() != 3:
        raise ValueError(
            f"{owner}: {name} must be a tensor shaped (T, batch, outputs), got "
            f"{tuple(x.shape)}; flatten the output neurons into one dimension."
        )
    return x


def _targets(owner: str, targets: object, batch: int, classes: int) -> Tensor:
    if (
        not isinstance(targets, Tensor)
        or targets.is_floating_point()
        or targets.is_complex()
        or targets.dtype == torch.bool
        or targets.shape != (batch,)
    ):
        got = (
            f"{targets.dtype} tensor of shape {tuple(targets.shape)}"
            if isinstance(targets, Tensor)
            else repr(targets)
        )
        raise ValueError(
            f"{owner}: targets must be an integer tensor of class indices shaped "
            f"(batch,) = ({batch},), got {got}."
        )
    bad = (targets < 0) | (targets >= classes)
    if bad.any():
        i = int(bad.nonzero()[0, 0])
        raise ValueError(
            f"{owner}: targets must be class indices in [0, {classes - 1}], got "
            f"{int(targets[i])!r} at index {i}."
        )
    return targets.long()


def _classes(owner: str, x: Tensor, neurons_per_class: object) -> int:
    n = x.shape[-1]
    if (
        isinstance(neurons_per_class, bool)
        or not isinstance(neurons_per_class, int)
        or neurons_per_class < 1
        or n % neurons_per_class
    ):
        raise ValueError(
            f"{owner}: neurons_per_class must be a whole number >= 1 that divides the "
            f"{n} outputs, got {neurons_per_class!r}."
        )
    return n // neurons_per_class


def _rate(owner: str, name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{owner}: {name} must be in [0, 1] [spikes per step], got {value!r}.")
    return float(value)


def _reduce(loss: Tensor, reduction: Reduction) -> Tensor:
    if reduction is Reduction.MEAN:
        return loss.mean()
    if reduction is Reduction.SUM:
        return loss.sum()
    return loss


# ---- classification losses -------------------------------------------------------------------
def count_cross_entropy(
    spikes: Tensor,
    targets: Tensor,
    *,
    neurons_per_class: int = 1,
    reduction: Reduction = Reduction.MEAN,
) -> Tensor:
    r"""Cross-entropy with spike counts as logits.

    .. math::
        n_{bc} = \sum_t s_{tbc}, \qquad
        \ell_b = -\log \frac{e^{n_{b y_b}}}{\sum_c e^{n_{bc}}}

    With ``neurons_per_class = G > 1`` (a population code), the outputs form consecutive
    groups of ``G`` neurons, one per class, and a class's logit is its group's total count.
    Equal to ``snntorch.functional.ce_count_loss(population_code=G > 1, num_classes=...)``.

    Args:
        spikes: ``(T, batch, outputs)`` output spikes.
        targets: ``(batch,)`` class indices, integers in ``[0, classes)``.
        neurons_per_class: output neurons per class, >= 1, dividing ``outputs``.
        reduction: :class:`Reduction` over the batch.

    Returns:
        scalar loss, or ``(batch,)`` with ``Reduction.NONE``.

    Example::

        >>> import torch
        >>> spikes = torch.zeros(4, 1, 2)
        >>> spikes[:3, 0, 0] = 1.0                     # counts (3, 0)
        >>> count_cross_entropy(spikes, torch.tensor([0]))   # log(1 + e^-3)
        tensor(0.0486)
    """
    owner = "count_cross_entropy"
    check_option(owner, "reduction", reduction, Reduction)
    spikes = _outputs(owner, "spikes", spikes)
    classes = _classes(owner, spikes, neurons_per_class)
    targets = _targets(owner, targets, spikes.shape[1], classes)
    counts = spikes.sum(0).reshape(spikes.shape[1], classes, neurons_per_class).sum(-1)
    return _reduce(F.cross_entropy(counts, targets, reduction="none"), reduction)


def rate_mse(
    spikes: Tensor,
    targets: Tensor,
    *,
    correct_rate: float = 1.0,
    incorrect_rate: float = 0.0,
    neurons_per_class: int = 1,
    reduction: Reduction = Reduction.MEAN,
) -> Tensor:
    r"""Mean squared error of output rates to a target rate per class (SLAYER's count loss).

    .. math::
        r_{bc} = \frac{1}{T G} \sum_t \sum_{k \in c} s_{tbk}, \qquad
        \ell_b = \frac{1}{C} \sum_c \big(r_{bc} - \hat r_{bc}\big)^2, \qquad
        \hat r_{bc} = \begin{cases} r_\text{correct} & c = y_b \\
                                     r_\text{incorrect} & c \ne y_b \end{cases}

    where a class's rate is the mean rate of its ``G = neurons_per_class`` output neurons.

    Relation to ``snntorch.functional.mse_count_loss(correct_rate, incorrect_rate)``: snnTorch
    compares *counts* to ``int(T * rate)`` targets and divides by ``T``, which is
    :math:`T G^2` times this loss whenever ``T * rate * G`` is a whole number (otherwise its
    ``int`` truncates the target). Rates keep the loss's scale independent of ``T``.

    Args:
        spikes: ``(T, batch, outputs)`` output spikes.
        targets: ``(batch,)`` class indices.
        correct_rate: target rate of the correct class [spikes per step], in [0, 1].
        incorrect_rate: target rate of the other classes [spikes per step], in [0, 1].
        neurons_per_class: output neurons per class, >= 1, dividing ``outputs``.
        reduction: :class:`Reduction` over the batch.

    Example::

        >>> import torch
        >>> spikes = torch.zeros(10, 1, 2)
        >>> spikes[:5, 0, 0] = 1.0                      # rates (0.5, 0)
        >>> rate_mse(spikes, torch.tensor([0]), correct_rate=0.8, incorrect_rate=0.1)
        tensor(0.0500)
    """
    owner = "rate_mse"
    check_option(owner, "reduction", reduction, Reduction)
    correct_rate = _rate(owner, "correct_rate", correct_rate)
    incorrect_rate = _rate(owner, "incorrect_rate", incorrect_rate)
    spikes = _outputs(owner, "spikes", spikes)
    batch = spikes.shape[1]
    classes = _classes(owner, spikes, neurons_per_class)
    targets = _targets(owner, targets, batch, classes)
    rates = spikes.mean(0).reshape(batch, classes, neurons_per_class).mean(-1)
    want = torch.full_like(rates, incorrect_rate)
    want.scatter_(1, targets.unsqueeze(1), correct_rate)
    return _reduce((rates - want).square().mean(-1), reduction)


def membrane_cross_entropy(
    v: Tensor,
    targets: Tensor,
    *,
    readout: Readout = Readout.MAX,
    reduction: Reduction = Reduction.MEAN,
) -> Tensor:
    r"""Cross-entropy on a readout over time of output membrane traces.

    .. math::
        z_{bc} = \max_t v_{tbc} \;\; (\text{or } \tfrac1T\textstyle\sum_t v_{tbc},
        \text{ or } v_{T-1,bc}),
        \qquad \ell_b = -\log \mathrm{softmax}(z_b)_{y_b}

    The usual output layer is non-spiking (leaky integrators, e.g. a LIF with a threshold
    never reached). ``Readout.MAX`` is SpyTorch's and snnTorch's
    ``ce_max_membrane_loss`` (equal to it); ``Readout.MEAN`` weighs the whole trace. The
    softmax is invariant to a common offset of ``v`` (a resting potential) but not to its
    scale: traces in mV act as logits in mV.

    Args:
        v: ``(T, batch, outputs)`` output membrane traces [mV or dimensionless].
        targets: ``(batch,)`` class indices.
        readout: :class:`Readout`: ``MAX``, ``MEAN`` or ``LAST`` over time.
        reduction: :class:`Reduction` over the batch.

    Example::

        >>> import torch
        >>> v = torch.tensor([[[0.0, 1.0]], [[2.0, 0.0]]])   # (T=2, batch=1, 2 outputs)
        >>> membrane_cross_entropy(v, torch.tensor([0]))     # logits max = (2, 1)
        tensor(0.3133)
        >>> membrane_cross_entropy(v, torch.tensor([0]), readout=Readout.MEAN)  # (1, 0.5)
        tensor(0.4741)
    """
    owner = "membrane_cross_entropy"
    check_option(owner, "readout", readout, Readout)
    check_option(owner, "reduction", reduction, Reduction)
    v = _outputs(owner, "v", v)
    targets = _targets(owner, targets, v.shape[1], v.shape[2])
    if readout is Readout.MAX:
        z = v.amax(0)
    elif readout is Readout.MEAN:
        z = v.mean(0)
    else:
        z = v[-1]
    return _reduce(F.cross_entropy(z, targets, reduction="none"), reduction)


# ---- rate regularisers ----------------------------------------------------------------------
def first_spike_times(spikes: Tensor) -> Tensor:
    r"""Step index of each output's first spike, ``T`` for outputs that never spike,
    differentiable through the spikes' surrogate gradient.

    .. math::
        t^\ast = T + \sum_t (t - T)\, s_t\, m_t, \qquad
        m_t = \prod_{t' < t} (1 - s_{t'}) \text{ (no gradient)}

    so :math:`\partial t^\ast / \partial s_t = t - T \le 0` at the first spike (a stronger
    spike there is an earlier one) and at every step of a silent output (pushing it to fire).

    Args:
        spikes: ``(T, batch, outputs)`` 0/1 spikes.

    Returns:
        ``(batch, outputs)`` first-spike steps, in ``[0, T]``.

    Example::

        >>> import torch
        >>> s = torch.zeros(5, 1, 3)
        >>> s[2, 0, 0] = s[4, 0, 0] = s[1, 0, 1] = 1.0
        >>> first_spike_times(s)
        tensor([[2., 1., 5.]])
    """
    spikes = _outputs("first_spike_times", "spikes", spikes)
    T = spikes.shape[0]
    before = torch.cumsum(spikes.detach(), 0) - spikes.detach()  # spikes strictly before t
    first = (before == 0).to(spikes.dtype)
    t = torch.arange(T, dtype=spikes.dtype, device=spikes.device).reshape(T, 1, 1)
    return T + ((t - T) * spikes * first).sum(0)


def first_spike_cross_entropy(
    spikes: Tensor,
    targets: Tensor,
    *,
    tau: float = 1.0,
    reduction: Reduction = Reduction.MEAN,
) -> Tensor:
    r"""Cross-entropy with the negative first-spike times as logits: the correct output
    should fire first, by a margin of a few ``tau``.

    .. math::
        \ell_b = -\log \frac{e^{-t^\ast_{b y_b}/\tau}}{\sum_c e^{-t^\ast_{bc}/\tau}}

    (:func:`first_spike_times`; snnTorch's ``ce_temporal_loss`` is the same idea).

    Args:
        spikes: ``(T, batch, classes)`` output spikes.
        targets: ``(batch,)`` class indices.
        tau: time scale of the margin [steps], > 0.
        reduction: :class:`Reduction` over the batch.
    """
    owner = "first_spike_cross_entropy"
    check_option(owner, "reduction", reduction, Reduction)
    if isinstance(tau, bool) or not isinstance(tau, (int, float)) or not tau > 0:
        raise ValueError(f"{owner}: tau must be > 0 [steps], got {tau!r}.")
    times = first_spike_times(spikes)
    targets = _targets(owner, targets, times.shape[0], times.shape[1])
    return _reduce(F.cross_entropy(-times / tau, targets, reduction="none"), reduction)


def firing_rates(spikes: Tensor) -> Tensor:
    r"""Rate of each neuron in each sample [spikes per step]: :math:`r_{bi} = \frac1T\sum_t
    s_{tbi}`.

    Args:
        spikes: ``(T, batch, *neurons)``.

    Returns:
        ``(batch, *neurons)``.

    Example::

        >>> import torch
        >>> firing_rates(torch.tensor([[[1.0, 0.0]], [[1.0, 1.0]]]))
        tensor([[1.0000, 0.5000]])
    """
    spikes = _sequence("firing_rates", "spikes", spikes, 2, "(T, batch, *neurons)")
    return spikes.mean(0)


def _penalty(
    owner: str, spikes: Tensor, bound: float, scope: Scope, power: int, sign: float
) -> Tensor:
    check_option(owner, "scope", scope, Scope)
    if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not 0 <= bound <= 1:
        raise ValueError(f"{owner}: bound must be in [0, 1] [spikes per step], got {bound!r}.")
    if isinstance(power, bool) or not isinstance(power, int) or power < 1:
        raise ValueError(f"{owner}: power must be a whole number >= 1 [1], got {power!r}.")
    spikes = _sequence(owner, "spikes", spikes, 3, "(T, batch, *neurons)")
    rates = spikes.mean(0).flatten(1)  # (batch, neurons)
    if scope is Scope.POPULATION:
        rates = rates.mean(1)
    return F.relu(sign * (rates - bound)).pow(power).mean()


def rate_upper_penalty(
    spikes: Tensor, bound: float, *, scope: Scope = Scope.POPULATION, power: int = 2
) -> Tensor:
    r"""Penalty on rates above ``bound``: mean of :math:`\mathrm{relu}(r - r_\text{upper})^p`.

    Zenke & Vogels (2021, *Neural Computation* 33:899) bound the population's mean activity
    from above, per sample, to keep a network sparse; with ``Scope.NEURON`` every neuron is
    bounded. Zero inside the bound, so it only acts on runaway activity. Add
    ``lam * rate_upper_penalty(...)`` to the loss.

    Args:
        spikes: ``(T, batch, *neurons)`` spikes of a layer.
        bound: upper rate [spikes per step], in [0, 1].
        scope: :class:`Scope`: the rate of each neuron or the mean over the layer, per sample.
        power: exponent :math:`p`, a whole number >= 1 (2: squared, as in the paper).

    Returns:
        scalar, averaged over the batch (and over neurons with ``Scope.NEURON``).

    Example::

        >>> import torch
        >>> s = torch.zeros(10, 1, 2)
        >>> s[:, 0, 0] = 1.0                                  # rates (1.0, 0.0)
        >>> rate_upper_penalty(s, 0.3)                        # (0.5 - 0.3)^2
        tensor(0.0400)
        >>> rate_upper_penalty(s, 0.3, scope=Scope.NEURON)    # (0.7^2 + 0) / 2
        tensor(0.2450)
    """
    return _penalty("rate_upper_penalty", spikes, bound, scope, power, 1.0)


def rate_lower_penalty(
    spikes: Tensor, bound: float, *, scope: Scope = Scope.NEURON, power: int = 2
) -> Tensor:
    r"""Penalty on rates below ``bound``: mean of :math:`\mathrm{relu}(r_\text{lower} - r)^p`.

    Zenke & Vogels (2021) bound every neuron's rate from below, per sample, so that no neuron
    falls silent (a silent neuron passes no surrogate gradient through its spikes).

    Args:
        spikes: ``(T, batch, *neurons)`` spikes of a layer.
        bound: lower rate [spikes per step], in [0, 1].
        scope: :class:`Scope`: the rate of each neuron or the mean over the layer, per sample.
        power: exponent :math:`p`, a whole number >= 1.

    Returns:
        scalar, averaged over the batch (and over neurons with ``Scope.NEURON``).

    Example::

        >>> import torch
        >>> s = torch.zeros(10, 1, 2)
        >>> s[:, 0, 0] = 1.0                                  # rates (1.0, 0.0)
        >>> rate_lower_penalty(s, 0.1)                        # (0 + 0.1^2) / 2
        tensor(0.0050)
    """
    return _penalty("rate_lower_penalty", spikes, bound, scope, power, -1.0)

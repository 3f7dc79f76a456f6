r"""Spike encoders: turn intensities, rates and signals into time-major spike trains.

Every encoder returns a float tensor of 0.0 / 1.0 (``-1.0`` too for signed delta off-spikes)
shaped ``(T, *input.shape)`` — time first, as every NeuralTide model expects — and takes an
optional ``torch.Generator`` so that a run is reproducible without touching the global seed.

==========================  =====================================================================
encoder                     code
==========================  =====================================================================
:func:`poisson`             rates [Hz]: a spike in each step with probability ``rate * dt``
:func:`bernoulli`           intensities in [0, 1]: a spike with probability ``gain * intensity``
:func:`latency`             one spike per input; brighter inputs fire earlier (linear or RC form)
:func:`delta`               spikes where a signal changes by ``threshold`` (on/off events)
:func:`gaussian_population` a scalar as the rates of neurons with Gaussian receptive fields
==========================  =====================================================================

Deterministic codes (:func:`latency`, :func:`delta` in ``DeltaMode.DIFFERENCE``) reproduce
``snntorch.spikegen.latency`` / ``delta`` exactly wherever snnTorch returns a result (see each
function), and :func:`bernoulli` draws the same spikes as ``snntorch.spikegen.rate`` from a
generator seeded like snnTorch's global one.

Example::

    >>> import torch
    >>> from neuraltide import encoding
    >>> g = torch.Generator().manual_seed(0)
    >>> spikes = encoding.poisson(torch.tensor([20.0, 100.0]), num_steps=1000, dt=1.0,
    ...                           generator=g)          # 1 s at 20 Hz and 100 Hz
    >>> spikes.shape
    torch.Size([1000, 2])
    >>> spikes.sum(0)                                   # about 20 and 100 spikes
    tensor([ 20., 109.])
"""

from __future__ import annotations

from enum import Enum

import torch
from torch import Tensor

from ._params import ParamSpec, check_finite_input
from ._validate import check_option
from .units import Hz

__all__ = [
    "DeltaMode",
    "DeltaStart",
    "Fit",
    "LatencyForm",
    "OffSpikes",
    "bernoulli",
    "delta",
    "gaussian_population",
    "gaussian_tuning",
    "latency",
    "latency_times",
    "poisson",
]


class LatencyForm(Enum):
    """How :func:`latency` maps an intensity :math:`x \\in [0, 1]` to a first-spike time."""

    #: :math:`t = \tau (1 - x)`: evenly spread latencies (snnTorch ``linear=True``).
    LINEAR = "linear"
    #: :math:`t = \tau \ln\frac{x}{x - \vartheta}`: the time an RC circuit (a non-leaky-reset
    #: LIF membrane :math:`\tau\dot v = -v + x`) charged by ``x`` needs to reach the
    #: threshold :math:`\vartheta` (snnTorch's default, logarithmic code).
    RC = "rc"


class Fit(Enum):
    """Special value for ``tau`` in :func:`latency`."""

    #: choose ``tau`` so that the latest possible spike (an input at the threshold) falls on
    #: the last step, and every code fits the window (snnTorch ``normalize=True``).
    WINDOW = "window"


class DeltaMode(Enum):
    """What :func:`delta` compares each sample with."""

    #: the level at the last event (send-on-delta / level crossing, as in event cameras):
    #: a slow drift emits a spike whenever it has accumulated ``threshold``.
    LEVEL_CROSSING = "level_crossing"
    #: the previous sample, :math:`x_t - x_{t-1}` (``snntorch.spikegen.delta``): only
    #: changes faster than ``threshold`` per step are seen.
    DIFFERENCE = "difference"


class OffSpikes(Enum):
    """How :func:`delta` reports decreases of the signal."""

    NONE = "none"  #: not at all: on-spikes only, output ``(T, *shape)``
    SIGNED = "signed"  #: as ``-1.0`` in the same tensor, output ``(T, *shape)``
    CHANNEL = "channel"  #: as a separate channel, output ``(T, *shape, 2)``, ``[..., 0]`` = on


class DeltaStart(Enum):
    """What :func:`delta` compares the first sample with."""

    ZERO = "zero"  #: a zero signal: a first sample ``>= threshold`` spikes (snnTorch default)
    FIRST = "first"  #: the first sample itself: no spike at step 0 (snnTorch ``padding=True``)


# ---- argument checks -------------------------------------------------------------------------
_DT = ParamSpec("dt", 1.0, "ms", "Simulation step.", 0.0, None, True)
_TAU = ParamSpec("tau", 1.0, "ms", "Latency time constant.", 0.0, None, True)
_LAT_THRESHOLD = ParamSpec("threshold", 0.01, "1", "Latency threshold.", 0.0, 1.0, True, True)
_FIRST = ParamSpec("first_spike_time", 0.0, "ms", "Earliest spike time.", 0.0)
_EPSILON = ParamSpec("epsilon", 1e-7, "1", "Offset above threshold.", 0.0, 1.0, True, True)
_GAIN = ParamSpec("gain", 1.0, "1", "Probability per unit intensity.", 0.0)
_DELTA_THRESHOLD = ParamSpec("threshold", 0.1, "input unit", "Change per event.", 0.0, None, True)
_SIGMA = ParamSpec("sigma", 1.0, "input unit", "Receptive-field width.", 0.0, None, True)
_MAX_RATE = ParamSpec("max_rate_hz", 100.0, "Hz", "Rate at a field's centre.", 0.0)


def _scalar(owner: str, spec: ParamSpec, value: object) -> float:
    """``value`` as a float checked against ``spec``, or ValueError in the house template."""
    if isinstance(value, Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(
            f"{owner}: {spec.name} must be a number {spec.constraint()} [{spec.unit}], "
            f"got {value!r}."
        )
    spec.check(owner, float(value))
    return float(value)


def _steps(owner: str, num_steps: object) -> int:
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(
            f"{owner}: num_steps must be a whole number >= 1 [steps], got {num_steps!r}."
        )
    return num_steps


def _tensor(owner: str, name: str, x: object) -> Tensor:
    """A finite floating-point tensor (integer tensors are converted)."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{owner}: {name} must be a torch.Tensor, got {type(x).__name__}.")
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    check_finite_input(owner, x, name)
    return x


def _in_range(owner: str, name: str, x: Tensor, low: float, high: float, unit: str) -> None:
    bad = (x < low) | (x > high)
    if bad.any():
        idx = tuple(bad.nonzero()[0].tolist())
        raise ValueError(
            f"{owner}: {name} must be in [{low:g}, {high:g}] [{unit}], got {x[idx].item()!r} "
            f"at index {idx}."
        )


def _draw(p: Tensor, num_steps: int, generator: torch.Generator | None) -> Tensor:
    """Independent Bernoulli draws with probabilities ``p``, ``num_steps`` times (time first).

    Uses ``torch.bernoulli`` on the repeated probabilities, the same draw as
    ``snntorch.spikegen.rate``, so equal seeds give equal spikes.
    """
    probs = p.unsqueeze(0).expand(num_steps, *p.shape).contiguous()
    return torch.bernoulli(probs, generator=generator)


# ---- rate codes ------------------------------------------------------------------------------
def poisson(
    rates_hz: Tensor,
    num_steps: int,
    *,
    dt: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Poisson rate code: in each step, a spike with probability :math:`p = r\,\Delta t`.

    The Bernoulli-per-step approximation of a Poisson process of rate :math:`r`: the spike
    count over ``T`` steps is binomial with mean :math:`r T \Delta t` and Fano factor
    :math:`1 - p` (close to the Poisson value 1 when :math:`p \ll 1`). At most one spike fits
    in a step, so :math:`r\,\Delta t > 1` raises instead of saturating silently.

    Args:
        rates_hz: firing rates [Hz], >= 0, any shape.
        num_steps: number of steps ``T``, >= 1.
        dt: step [ms], > 0.
        generator: random source (``None``: PyTorch's global generator).

    Shape:
        ``rates_hz``: ``(*shape)``; output: ``(T, *shape)``, 0.0 / 1.0 in ``rates_hz``'s dtype.

    Example::

        >>> import torch
        >>> g = torch.Generator().manual_seed(1)
        >>> poisson(torch.tensor([0.0, 500.0]), num_steps=6, dt=1.0, generator=g).T
        tensor([[0., 0., 0., 0., 0., 0.],
                [1., 0., 0., 0., 1., 0.]])
    """
    owner = "poisson"
    num_steps = _steps(owner, num_steps)
    dt = _scalar(owner, _DT, dt)
    rates_hz = _tensor(owner, "rates_hz", rates_hz)
    if (rates_hz < 0).any():
        idx = tuple((rates_hz < 0).nonzero()[0].tolist())
        raise ValueError(
            f"{owner}: rates_hz must be >= 0 [Hz], got {rates_hz[idx].item()!r} at index {idx}."
        )
    p = rates_hz * (dt * Hz)
    if (p > 1).any():
        idx = tuple((p > 1).nonzero()[0].tolist())
        raise ValueError(
            f"{owner}: rate*dt must be <= 1 [spikes per step], got {p[idx].item()!r} "
            f"(rate {rates_hz[idx].item():g} Hz at index {idx}, dt {dt:g} ms); at most one "
            f"spike fits in a step, so use dt <= {1 / (rates_hz.max().item() * Hz):g} ms."
        )
    return _draw(p, num_steps, generator)


def bernoulli(
    intensities: Tensor,
    num_steps: int,
    *,
    gain: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Rate code from intensities: a spike in each step with probability ``gain * x``.

    The mean of the output over time is ``gain * x``. This is ``snntorch.spikegen.rate(x,
    num_steps, gain)`` — with a generator seeded ``s`` it draws exactly the spikes snnTorch
    draws after ``torch.manual_seed(s)`` — except that probabilities above 1 raise instead of
    being clipped.

    Args:
        intensities: values in [0, 1], any shape (e.g. normalised pixel intensities).
        num_steps: number of steps ``T``, >= 1.
        gain: spike probability per step of intensity 1, >= 0, with ``gain * x <= 1``.
        generator: random source (``None``: PyTorch's global generator).

    Shape:
        ``intensities``: ``(*shape)``; output: ``(T, *shape)``.

    Example::

        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> s = bernoulli(torch.tensor([0.0, 0.5, 1.0]), num_steps=4000, generator=g)
        >>> s.mean(0)
        tensor([0.0000, 0.5067, 1.0000])
    """
    owner = "bernoulli"
    num_steps = _steps(owner, num_steps)
    gain = _scalar(owner, _GAIN, gain)
    x = _tensor(owner, "intensities", intensities)
    _in_range(owner, "intensities", x, 0.0, 1.0, "1")
    p = x * gain
    if (p > 1).any():
        idx = tuple((p > 1).nonzero()[0].tolist())
        raise ValueError(
            f"{owner}: gain*intensities must be <= 1 [spikes per step], got "
            f"{p[idx].item()!r} at index {idx} (gain {gain:g}); at most one spike fits in a "
            f"step, so use gain <= {1 / x.max().item():g}."
        )
    return _draw(p, num_steps, generator)


# ---- latency code ----------------------------------------------------------------------------
def latency_times(
    intensities: Tensor,
    num_steps: int,
    *,
    tau: float | Fit = 1.0,
    form: LatencyForm = LatencyForm.RC,
    threshold: float = 0.01,
    first_spike_time: float = 0.0,
    dt: float = 1.0,
    epsilon: float = 1e-7,
) -> Tensor:
    r"""First-spike times [ms] of the latency code, before rounding to steps.

    .. math::
        t(x) = t_0 + \begin{cases}
            \tau\,(1 - \max(x, \vartheta)) & \text{LatencyForm.LINEAR} \\
            \tau \ln\dfrac{x'}{x' - \vartheta},\; x' = \max(x, \vartheta + \epsilon)
            & \text{LatencyForm.RC}
        \end{cases}

    Inputs below the threshold :math:`\vartheta` saturate at the threshold's (latest) time.
    With ``tau=Fit.WINDOW``, :math:`\tau` is chosen so that this latest time is the last step,
    :math:`t(\vartheta) = (T-1)\Delta t` (for the linear form, as in snnTorch, so that
    :math:`t(0) = (T-1)\Delta t`).

    Args: as :func:`latency`.

    Returns:
        times [ms], shaped like ``intensities``.

    Example::

        >>> import torch
        >>> latency_times(torch.tensor([0.02, 0.5, 1.0]), 5, tau=Fit.WINDOW,
        ...               form=LatencyForm.LINEAR)
        tensor([3.9200, 2.0000, 0.0000])
    """
    owner = "latency"
    num_steps = _steps(owner, num_steps)
    check_option(owner, "form", form, LatencyForm)
    threshold = _scalar(owner, _LAT_THRESHOLD, threshold)
    first = _scalar(owner, _FIRST, first_spike_time)
    dt = _scalar(owner, _DT, dt)
    epsilon = _scalar(owner, _EPSILON, epsilon)
    if not isinstance(tau, Fit):
        tau = _scalar(owner, _TAU, tau)
    window = (num_steps - 1) * dt - first  # latest time the code may use, after first
    if window < 0:
        raise ValueError(
            f"{owner}: first_spike_time must be <= (num_steps - 1) * dt = "
            f"{(num_steps - 1) * dt:g} [ms], got {first!r}."
        )
    x = _tensor(owner, "intensities", intensities)
    _in_range(owner, "intensities", x, 0.0, 1.0, "1")
    # The operations mirror snnTorch's, in the input dtype, so that rounding agrees exactly.
    if form is LatencyForm.LINEAR:
        tau_ = window if tau is Fit.WINDOW else tau
        return torch.clamp_max(-tau_ * (x - 1), -tau_ * (threshold - 1)) + first
    xc = torch.clamp(x, threshold + epsilon)
    raw = torch.log(xc / (xc - threshold))
    if tau is Fit.WINDOW:
        floor = torch.full((), threshold + epsilon, dtype=x.dtype, device=x.device)
        raw_max = torch.log(floor / (floor - threshold))
        return raw * window / raw_max + first
    return tau * raw + first


def latency(
    intensities: Tensor,
    num_steps: int,
    *,
    tau: float | Fit = 1.0,
    form: LatencyForm = LatencyForm.RC,
    threshold: float = 0.01,
    clip: bool = False,
    first_spike_time: float = 0.0,
    dt: float = 1.0,
    epsilon: float = 1e-7,
) -> Tensor:
    r"""Latency (time-to-first-spike) code: one spike per input, brighter inputs earlier.

    Each input spikes once, at step :math:`n = \mathrm{round}(t(x)/\Delta t)` with :math:`t(x)`
    from :func:`latency_times` (``LatencyForm.RC``: the time an RC membrane charged by ``x``
    takes to reach ``threshold``; ``LatencyForm.LINEAR``: :math:`\tau(1-x)`). Rounding is
    half-to-even, as ``torch.round``.

    * ``clip=False``: every input spikes; a spike that would come after the last step (an input
      at or below threshold, or a large ``tau``) is placed on the last step.
    * ``clip=True``: inputs below ``threshold`` and spikes after the last step are dropped.

    Relation to ``snntorch.spikegen.latency(x, num_steps, threshold, tau, first_spike_time,
    clip, normalize, linear)`` (time in steps there; here ``dt=1`` makes them equal): the spike
    trains are identical wherever snnTorch returns one without ``bypass``. Two differences:
    snnTorch raises when a spike falls after the last step (here it lands on the last step, or
    is dropped with ``clip=True``), and its RC ``normalize=True`` divides by the largest time
    *in the batch*, so one sample's code depends on the others; ``tau=Fit.WINDOW`` divides by
    the largest possible time (an input at ``threshold``), which is the same whenever the batch
    holds an input ``<= threshold`` (e.g. a black pixel) and is batch-independent always.

    With ``LatencyForm.RC`` and ``tau=Fit.WINDOW``, the latest time belongs to an input at
    ``threshold + epsilon`` and is about :math:`\tau\ln(\vartheta/\epsilon)`, so most inputs
    well above threshold land in the first few steps (as in snnTorch); for latencies spread
    over the window use ``LatencyForm.LINEAR`` or an explicit ``tau`` in ms.

    Args:
        intensities: values in [0, 1], any shape.
        num_steps: number of steps ``T``, >= 1.
        tau: time constant [ms], > 0, or ``Fit.WINDOW`` to fit the code to the window.
        form: :class:`LatencyForm`, ``RC`` (logarithmic) or ``LINEAR``.
        threshold: intensity threshold, in (0, 1).
        clip: drop spikes of inputs below threshold, and spikes after the window.
        first_spike_time: time added to every spike time [ms], >= 0.
        dt: step [ms], > 0 (``tau`` and ``first_spike_time`` are in ms).
        epsilon: the RC form's saturation offset above threshold, in (0, 1).

    Shape:
        ``intensities``: ``(*shape)``; output: ``(T, *shape)``, one 1.0 per input at most.

    Example::

        >>> import torch
        >>> x = torch.tensor([0.02, 0.5, 1.0])
        >>> latency(x, 5, tau=Fit.WINDOW, form=LatencyForm.LINEAR).T
        tensor([[0., 0., 0., 0., 1.],
                [0., 0., 1., 0., 0.],
                [1., 0., 0., 0., 0.]])
        >>> latency(x, 5, tau=2.0).argmax(0)      # RC: 2 ln(x / (x - 0.01)) ms
        tensor([1, 0, 0])
    """
    if not isinstance(clip, bool):
        raise ValueError(f"latency: clip must be True or False, got {clip!r}.")
    times = latency_times(
        intensities,
        num_steps,
        tau=tau,
        form=form,
        threshold=threshold,
        first_spike_time=first_spike_time,
        dt=dt,
        epsilon=epsilon,
    )
    step = torch.round(times / dt).long()
    fires = torch.ones_like(step, dtype=torch.bool)
    if clip:
        below = intensities.to(times.dtype) < threshold
        fires = (step <= num_steps - 1) & ~below
    step = step.clamp_max(num_steps - 1)
    out = torch.zeros((num_steps, *times.shape), dtype=times.dtype, device=times.device)
    out.scatter_(0, step.unsqueeze(0), 1.0)
    return out * fires.to(out.dtype)


# ---- delta code ------------------------------------------------------------------------------
def delta(
    signal: Tensor,
    threshold: float = 0.1,
    *,
    mode: DeltaMode = DeltaMode.LEVEL_CROSSING,
    off: OffSpikes = OffSpikes.NONE,
    start: DeltaStart = DeltaStart.ZERO,
) -> Tensor:
    r"""Delta modulation: a spike where the signal has changed by at least ``threshold``.

    With a reference :math:`r` (``start``: 0 or the first sample), at each step :math:`t`

    * ``DeltaMode.LEVEL_CROSSING``: :math:`d_t = x_t - r`; an on-spike if
      :math:`d_t \ge \vartheta`, an off-event if :math:`d_t \le -\vartheta`, and after either
      event :math:`r \leftarrow x_t` (send-on-delta, as an event camera pixel). A ramp of
      slope :math:`k < \vartheta` per step spikes every :math:`\lceil\vartheta/k\rceil` steps.
    * ``DeltaMode.DIFFERENCE``: :math:`d_t = x_t - x_{t-1}` (:math:`x_{-1} = r`), exactly
      ``snntorch.spikegen.delta(x, threshold, padding=start is DeltaStart.FIRST,
      off_spike=off is OffSpikes.SIGNED)``; slow drifts are never seen.

    Off-events (decreases) are tracked in both modes; ``off`` only chooses whether and how
    they are reported, so the on-spikes are the same for every ``off``.

    Args:
        signal: ``(T, *shape)`` time-major signal, T >= 1.
        threshold: change that triggers an event [signal unit], > 0.
        mode: :class:`DeltaMode`.
        off: :class:`OffSpikes`: ``NONE``, ``SIGNED`` (-1.0) or ``CHANNEL`` (last dim of 2).
        start: :class:`DeltaStart`: the reference before the first sample.

    Shape:
        ``signal``: ``(T, *shape)``; output ``(T, *shape)``, or ``(T, *shape, 2)`` with
        ``OffSpikes.CHANNEL`` (``[..., 0]`` on, ``[..., 1]`` off).

    Example::

        >>> import torch
        >>> x = torch.tensor([0.0, 0.05, 0.1, 0.15, 0.2, 0.0])  # a slow ramp, then a drop
        >>> delta(x, 0.1, off=OffSpikes.SIGNED)
        tensor([ 0.,  0.,  1.,  0.,  1., -1.])
        >>> delta(x, 0.1, mode=DeltaMode.DIFFERENCE, off=OffSpikes.SIGNED)
        tensor([ 0.,  0.,  0.,  0.,  0., -1.])
    """
    owner = "delta"
    threshold = _scalar(owner, _DELTA_THRESHOLD, threshold)
    check_option(owner, "mode", mode, DeltaMode)
    check_option(owner, "off", off, OffSpikes)
    check_option(owner, "start", start, DeltaStart)
    if not isinstance(signal, Tensor) or signal.dim() < 1 or signal.shape[0] == 0:
        raise ValueError(
            f"{owner}: signal must be a tensor shaped (T, *shape) with T >= 1, "
            f"got {getattr(signal, 'shape', type(signal).__name__)}."
        )
    x = _tensor(owner, "signal", signal)
    ref = torch.zeros_like(x[0]) if start is DeltaStart.ZERO else x[0]
    if mode is DeltaMode.DIFFERENCE:
        d = x - torch.cat((ref.unsqueeze(0), x[:-1]))
        on, off_ev = d >= threshold, d <= -threshold
    else:
        on_list, off_list = [], []
        for xt in x:
            d = xt - ref
            up, down = d >= threshold, d <= -threshold
            ref = torch.where(up | down, xt, ref)
            on_list.append(up)
            off_list.append(down)
        on, off_ev = torch.stack(on_list), torch.stack(off_list)
    on_f, off_f = on.to(x.dtype), off_ev.to(x.dtype)
    if off is OffSpikes.NONE:
        return on_f
    if off is OffSpikes.SIGNED:
        return on_f - off_f
    return torch.stack((on_f, off_f), dim=-1)


# ---- population code -------------------------------------------------------------------------
def gaussian_tuning(values: Tensor, centres: Tensor, sigma: float) -> Tensor:
    r"""Gaussian receptive fields: :math:`a_j(x) = \exp(-(x - c_j)^2 / 2\sigma^2)`, in (0, 1].

    Args:
        values: scalars to encode [any unit], any shape.
        centres: ``(N,)`` preferred values :math:`c_j` of the N neurons [same unit].
        sigma: field width [same unit], > 0. Bohte et al. (2002) space ``N`` fields over
            :math:`[a, b]` with :math:`\sigma = (b - a)/(1.5 (N - 2))`.

    Shape:
        ``values``: ``(*shape)``; output ``(*shape, N)``.

    Example::

        >>> import torch
        >>> gaussian_tuning(torch.tensor([0.5]), torch.linspace(0, 1, 3), sigma=0.5)
        tensor([[0.6065, 1.0000, 0.6065]])
    """
    owner = "gaussian_tuning"
    sigma = _scalar(owner, _SIGMA, sigma)
    x = _tensor(owner, "values", values)
    c = _tensor(owner, "centres", centres)
    if c.dim() != 1 or c.numel() == 0:
        raise ValueError(
            f"{owner}: centres must be a 1-D tensor of N >= 1 preferred values, got shape "
            f"{tuple(c.shape)}."
        )
    c = c.to(device=x.device, dtype=x.dtype)
    return torch.exp(-0.5 * ((x.unsqueeze(-1) - c) / sigma) ** 2)


def gaussian_population(
    values: Tensor,
    num_steps: int,
    *,
    centres: Tensor,
    sigma: float,
    max_rate_hz: float = 100.0,
    dt: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Population code of scalars: N Poisson neurons with Gaussian receptive fields.

    Neuron :math:`j` fires at rate :math:`r_\text{max}\,a_j(x)` (:func:`gaussian_tuning`), so
    its tuning curve peaks at its centre :math:`c_j`, and the population's activity profile
    is a bump centred on the encoded value.

    Args:
        values: scalars to encode [any unit], any shape (e.g. ``(batch,)``).
        num_steps: number of steps ``T``, >= 1.
        centres: ``(N,)`` preferred values [same unit as ``values``], e.g.
            ``torch.linspace(lo, hi, N)``.
        sigma: receptive-field width [same unit], > 0.
        max_rate_hz: rate at a field's centre [Hz], >= 0, with ``max_rate_hz * dt <= 1``.
        dt: step [ms], > 0.
        generator: random source (``None``: PyTorch's global generator).

    Shape:
        ``values``: ``(*shape)``; output ``(T, *shape, N)``.

    Example::

        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> s = gaussian_population(torch.tensor([0.3]), 2000, centres=torch.linspace(0, 1, 5),
        ...                         sigma=0.2, max_rate_hz=200.0, dt=1.0, generator=g)
        >>> s.shape
        torch.Size([2000, 1, 5])
        >>> s.sum(0).argmax(-1)        # the neuron preferring 0.25 fires most
        tensor([1])
    """
    owner = "gaussian_population"
    max_rate_hz = _scalar(owner, _MAX_RATE, max_rate_hz)
    dt = _scalar(owner, _DT, dt)
    if max_rate_hz * dt * Hz > 1:
        raise ValueError(
            f"{owner}: max_rate_hz*dt must be <= 1 [spikes per step], got "
            f"{max_rate_hz * dt * Hz!r} ({max_rate_hz:g} Hz, dt {dt:g} ms); use dt <= "
            f"{1 / (max_rate_hz * Hz):g} ms."
        )
    rates = max_rate_hz * gaussian_tuning(values, centres, sigma)
    return poisson(rates, num_steps, dt=dt, generator=generator)

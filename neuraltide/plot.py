r"""Static matplotlib figures: spike rasters, membrane traces, f–I curves and surrogates.

Each function draws into ``ax`` (a new figure when ``ax`` is ``None``), returns the axes it
drew on and never calls ``plt.show()``, so figures compose and can be saved or tested.
Time axes are in ms, voltages in mV, rates in Hz. A spike at step index ``n`` is drawn at
:math:`t = (n+1)\,\Delta t`, the end of its step, as :attr:`Recording.t
<neuraltide.neurons.Recording.t>` stamps it, so spikes line up with recorded traces.

Example::

    >>> import torch
    >>> from neuraltide.neurons import LIF
    >>> from neuraltide import plot
    >>> rec = LIF(dt=0.1).run(torch.full((500, 1, 3), 2.0) * torch.tensor([1.5, 2.0, 3.0]))
    >>> ax = plot.raster(rec)                          # dt taken from the recording
    >>> ax.get_xlabel()
    'time [ms]'
    >>> ax = plot.traces(rec, "v", threshold=-50.0, reset=-65.0, spikes=rec.spikes)
    >>> [line.get_label() for line in ax.get_lines()][-2:]
    ['threshold', 'reset']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator
from torch import Tensor

from .neurons import Recording
from .surrogate import Custom, Surrogate

__all__ = ["fi_curve", "phase_plane", "raster", "raster_events", "surrogates", "traces"]

ArrayLike = Tensor | np.ndarray | Sequence[float]


def _array(owner: str, name: str, x: object) -> np.ndarray:
    """``x`` as a finite float64 numpy array (tensors are detached and moved to the CPU)."""
    try:
        if isinstance(x, Tensor):
            a = x.detach().to("cpu", torch.float64).numpy()
        else:
            a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(
            f"{owner}: {name} must be a tensor or array of numbers, got {type(x).__name__}."
        ) from None
    if not np.isfinite(a).all():
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise ValueError(f"{owner}: {name} must be finite, got {a[idx]!r} at index {idx}.")
    return a


def _axes(ax: Axes | None) -> Axes:
    if ax is None:
        _, ax = plt.subplots()
    elif not isinstance(ax, Axes):
        raise ValueError(f"plot: ax must be a matplotlib Axes or None, got {ax!r}.")
    return ax


def _positive(owner: str, name: str, value: object, unit: str) -> float:
    if isinstance(value, Tensor) and value.numel() == 1:
        value = value.item()
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not np.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{owner}: {name} must be > 0 [{unit}], got {value!r}.")
    return float(value)


def _scalar(owner: str, name: str, value: object, unit: str) -> float:
    if isinstance(value, Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise ValueError(f"{owner}: {name} must be a finite number [{unit}], got {value!r}.")
    return float(value)


# ---- raster ----------------------------------------------------------------------------------
def raster(
    spikes: Tensor | Recording,
    *,
    dt: float | None = None,
    ax: Axes | None = None,
    groups: Sequence[tuple[str, int]] = (),
    colors: Sequence[str] = (),
    marker_size: float = 20.0,
) -> Axes:
    r"""Spike raster: a tick at :math:`((n+1)\Delta t,\; i)` for each spike of neuron ``i`` at
    step ``n``.

    Args:
        spikes: ``(T, *neurons)`` spikes (non-zero = spike), or a :class:`Recording`.
            Neuron dimensions are flattened row-major into the neuron index, so a batched
            recording ``(T, batch, N)`` shows sample ``b`` as neurons ``b*N ... b*N + N-1``;
            pass ``rec.spikes[:, b]`` for one sample.
        dt: step [ms], > 0; required for a tensor, taken from a Recording (giving it as well
            raises).
        ax: axes to draw on; ``None`` makes a new figure.
        groups: consecutive neuron groups as ``(label, size)`` pairs whose sizes add up to the
            number of neurons, e.g. ``[("E", 80), ("I", 20)]``; each is drawn in its own colour
            with a legend entry. Empty: one group.
        colors: one matplotlib colour per group (or one for all); empty: the colour cycle.
        marker_size: tick size [points²].

    Returns:
        the axes; each group is one ``PathCollection`` in ``ax.collections`` whose offsets are
        its spikes' ``(t [ms], neuron index)``.

    Example::

        >>> import torch
        >>> s = torch.zeros(5, 3)
        >>> s[1, 0] = s[3, 2] = 1.0
        >>> ax = raster(s, dt=0.5)
        >>> ax.collections[0].get_offsets().tolist()
        [[1.0, 0.0], [2.0, 2.0]]
    """
    owner = "raster"
    if isinstance(spikes, Recording):
        if dt is not None:
            raise ValueError(
                f"{owner}: dt must be None when spikes is a Recording (its dt "
                f"{spikes.dt:g} ms is used), got {dt!r}."
            )
        dt, spikes = spikes.dt, spikes.spikes
    if dt is None:
        raise ValueError(f"{owner}: dt must be > 0 [ms] for a spike tensor, got None.")
    dt = _positive(owner, "dt", dt, "ms")
    s = _array(owner, "spikes", spikes)
    if s.ndim < 1 or s.shape[0] == 0:
        raise ValueError(
            f"{owner}: spikes must be shaped (T, *neurons) with T >= 1, got {s.shape}."
        )
    s = s.reshape(s.shape[0], -1)
    T, N = s.shape
    sizes = [n for _, n in groups]
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in sizes) or (
        groups and sum(sizes) != N
    ):
        raise ValueError(
            f"{owner}: groups must be (label, size) pairs with sizes >= 1 adding up to the "
            f"{N} neurons, got {list(groups)!r}."
        )
    labelled = bool(groups)
    if not groups:
        groups = [("spikes", N)]
    if colors and len(colors) != len(groups):
        raise ValueError(
            f"{owner}: colors must name one colour per group ({len(groups)}), got {list(colors)!r}."
        )
    ax = _axes(ax)
    steps, neurons = np.nonzero(s)
    t = (steps + 1) * dt
    start = 0
    for k, (label, size) in enumerate(groups):
        keep = (neurons >= start) & (neurons < start + size)
        kwargs = {"color": colors[k]} if colors else {}
        ax.scatter(t[keep], neurons[keep], marker="|", s=marker_size, label=label, **kwargs)
        start += size
    ax.set_xlim(0.0, T * dt)
    ax.set_ylim(-0.5, N - 0.5)
    ax.set_xlabel("time [ms]")
    ax.set_ylabel("neuron")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if labelled:
        ax.legend(loc="upper right")
    return ax


# ---- traces ----------------------------------------------------------------------------------

def raster_events(
    populations: Sequence[tuple[str, Tensor, Tensor, int]],
    *,
    ax: Axes | None = None,
    duration: float | None = None,
    colors: Sequence[str] = (),
    marker_size: float = 2.0,
) -> Axes:
    """Raster of spike events, one population above the other (e.g. from network monitors:
    ``raster_events([mon_E.events(), mon_I.events()])``).

    Args:
        populations: ``(label, t, i, n)`` per population: spike times ``t`` [ms], neuron
            indices ``i`` (both ``(n_spikes,)``) and the population size ``n``.
        ax: axes to draw on; ``None`` makes a new figure.
        duration: x-axis end [ms]; default the last spike.
        colors: one colour per population; empty: the colour cycle.
        marker_size: dot size [points²].

    Returns:
        the axes; population ``k`` is ``ax.collections[k]`` with offsets ``(t, i + offset)``,
        the offset being the sizes of the populations drawn below it.

    Example::

        >>> import torch
        >>> ax = raster_events([("E", torch.tensor([1.0, 2.5]), torch.tensor([0, 3]), 4),
        ...                     ("I", torch.tensor([2.0]), torch.tensor([1]), 2)])
        >>> ax.collections[1].get_offsets().tolist()
        [[2.0, 5.0]]
    """
    owner = "raster_events"
    if colors and len(colors) != len(populations):
        raise ValueError(f"{owner}: colors must name one colour per population "
                         f"({len(populations)}), got {list(colors)!r}.")
    ax = _axes(ax)
    offset, t_max = 0, 0.0
    for k, (label, t, i, n) in enumerate(populations):
        t, i = _array(owner, "t", t).reshape(-1), _array(owner, "i", i).reshape(-1)
        if t.shape != i.shape:
            raise ValueError(f"{owner}: t and i of {label!r} must have the same length, got "
                             f"{t.shape[0]} and {i.shape[0]}.")
        if i.size and (i.min() < 0 or i.max() >= n):
            raise ValueError(f"{owner}: neuron indices of {label!r} must be in [0, {n}).")
        kwargs = {"color": colors[k]} if colors else {}
        ax.scatter(t, i + offset, marker=".", s=marker_size, linewidths=0, label=label,
                   **kwargs)
        offset += n
        t_max = max(t_max, float(t.max()) if t.size else 0.0)
    ax.set_xlim(0.0, duration if duration is not None else max(t_max, 1e-9))
    ax.set_ylim(-0.5, offset - 0.5)
    ax.set_xlabel("time [ms]")
    ax.set_ylabel("neuron")
    if len(populations) > 1:
        ax.legend(loc="upper right", markerscale=4, fontsize="small")
    return ax


def traces(
    t: ArrayLike | Recording,
    v: ArrayLike | str = "v",
    *,
    threshold: float | ArrayLike | None = None,
    reset: float | None = None,
    spikes: ArrayLike | None = None,
    ax: Axes | None = None,
    labels: Sequence[str] = (),
    unit: str = "mV",
) -> Axes:
    r"""Membrane (or any state) traces over time, with threshold and reset lines and spikes.

    Args:
        t: ``(T,)`` sample times [ms], or a :class:`Recording` (then ``v`` names a trace).
        v: ``(T, *k)`` traces [``unit``] (trailing dimensions flattened into ``K`` traces),
            or, with a Recording, the name of a recorded variable.
        threshold: firing threshold [``unit``]: a number (a horizontal line labelled
            ``"threshold"``) or a ``(T,)`` / ``(T, *k)`` moving threshold (dashed lines, e.g.
            an adaptive LIF's ``v_th + a``). ``None``: no line.
        reset: reset potential [``unit``], a horizontal line labelled ``"reset"``. ``None``:
            no line.
        spikes: spikes shaped like ``v``; each is marked at the threshold's value at its
            time (at the trace's maximum when there is no threshold). ``None``: no marks.
        ax: axes to draw on; ``None`` makes a new figure.
        labels: one legend label per trace; empty: no trace labels.
        unit: y-axis unit, ``"mV"`` by default (``"1"`` for dimensionless models).

    Returns:
        the axes: the K trace lines first, then the threshold and reset lines; spike marks
        are one ``PathCollection`` per trace with spikes, labelled ``"spikes"``.

    Example::

        >>> import torch
        >>> t = torch.arange(1, 5) * 1.0
        >>> v = torch.tensor([-60.0, -52.0, -49.0, -65.0])
        >>> ax = traces(t, v, threshold=-50.0, spikes=torch.tensor([0.0, 0.0, 1.0, 0.0]))
        >>> [float(y) for y in ax.get_lines()[1].get_ydata()]
        [-50.0, -50.0]
        >>> ax.collections[0].get_offsets().tolist()
        [[3.0, -50.0]]
    """
    owner = "traces"
    if isinstance(t, Recording):
        rec = t
        if not isinstance(v, str) or v not in rec.traces:
            raise ValueError(
                f"{owner}: v must name a recorded trace among {sorted(rec.traces)} when t is "
                f"a Recording, got {v!r}; record it with model.run(x, record=({v!r},))."
            )
        t, v = rec.t, rec.traces[v]
    elif isinstance(v, str):
        raise ValueError(
            f"{owner}: v must be a (T, ...) tensor of traces when t is a tensor of times, "
            f"got the name {v!r}; names work with a Recording."
        )
    ta = _array(owner, "t", t)
    va = _array(owner, "v", v)
    if ta.ndim != 1 or va.ndim < 1 or va.shape[0] != ta.shape[0] or ta.size == 0:
        raise ValueError(
            f"{owner}: t must be (T,) and v (T, ...) with the same T >= 1, got t {ta.shape} "
            f"and v {va.shape}."
        )
    T = ta.shape[0]
    va = va.reshape(T, -1)
    K = va.shape[1]
    if labels and len(labels) != K:
        raise ValueError(
            f"{owner}: labels must give one label per trace ({K}), got {list(labels)!r}."
        )
    ax = _axes(ax)
    colors = []
    for k in range(K):
        (line,) = ax.plot(ta, va[:, k], label=labels[k] if labels else f"_trace{k}")
        colors.append(line.get_color())

    mark_y = np.broadcast_to(va.max(axis=0), (T, K))
    if threshold is not None:
        if isinstance(threshold, (int, float, bool)) or (
            isinstance(threshold, Tensor) and threshold.numel() == 1
        ):
            thr = _scalar(owner, "threshold", threshold, unit)
            ax.axhline(thr, color="k", linestyle="--", linewidth=1.0, label="threshold")
            mark_y = np.full((T, K), thr)
        else:
            th = _array(owner, "threshold", threshold)
            if th.ndim < 1 or th.shape[0] != T or th.reshape(T, -1).shape[1] not in (1, K):
                raise ValueError(
                    f"{owner}: threshold must be a number or shaped (T,) or like v "
                    f"{(T, K)}, got {th.shape}."
                )
            th = th.reshape(T, -1)
            for j in range(th.shape[1]):
                color = colors[j] if th.shape[1] == K else "k"
                ax.plot(
                    ta,
                    th[:, j],
                    color=color,
                    linestyle="--",
                    linewidth=1.0,
                    label="threshold" if j == 0 else "_threshold",
                )
            mark_y = np.broadcast_to(th, (T, K))
    if reset is not None:
        r = _scalar(owner, "reset", reset, unit)
        ax.axhline(r, color="0.5", linestyle=":", linewidth=1.0, label="reset")
    if spikes is not None:
        s = _array(owner, "spikes", spikes)
        if s.size != T * K or s.shape[0] != T:
            raise ValueError(f"{owner}: spikes must be shaped like v {va.shape}, got {s.shape}.")
        s = s.reshape(T, K)
        first = True
        for k in range(K):
            idx = np.nonzero(s[:, k])[0]
            if idx.size:
                ax.scatter(
                    ta[idx],
                    mark_y[idx, k],
                    marker="v",
                    color=colors[k],
                    zorder=3,
                    label="spikes" if first else "_spikes",
                )
                first = False
    ax.set_xlabel("time [ms]")
    ax.set_ylabel(f"v [{unit}]")
    return ax


# ---- f–I curve -------------------------------------------------------------------------------
def fi_curve(
    currents: ArrayLike,
    rates: ArrayLike,
    *,
    reference: ArrayLike | tuple[ArrayLike, ArrayLike] | None = None,
    ax: Axes | None = None,
    labels: Sequence[str] = (),
) -> Axes:
    r"""Firing rate against input current.

    Args:
        currents: ``(N,)`` input currents [nA].
        rates: ``(N,)`` or ``(N, K)`` firing rates [Hz] (K curves, e.g. several models).
        reference: a reference curve drawn dashed and labelled ``"reference"`` (e.g. the
            closed-form LIF rate :math:`1/(t_\text{ref} + \tau\ln\frac{RI}{RI - (v_\text{th} -
            v_\text{rest})})`): ``(N,)`` rates [Hz] at ``currents``, or a
            ``(currents, rates)`` pair on its own (finer) grid. ``None``: none.
        ax: axes to draw on; ``None`` makes a new figure.
        labels: one legend label per curve; empty: no labels.

    Returns:
        the axes: K curves (markers and lines), then the reference line.

    Example::

        >>> import torch
        >>> i = torch.tensor([1.0, 2.0, 3.0])
        >>> ax = fi_curve(i, torch.tensor([0.0, 60.0, 110.0]), reference=torch.tensor([0.0,
        ...               62.0, 111.0]))
        >>> ax.get_lines()[-1].get_label(), ax.get_ylabel()
        ('reference', 'rate [Hz]')
    """
    owner = "fi_curve"
    i = _array(owner, "currents", currents)
    r = _array(owner, "rates", rates)
    if i.ndim != 1 or r.ndim not in (1, 2) or r.shape[0] != i.shape[0]:
        raise ValueError(
            f"{owner}: currents must be (N,) and rates (N,) or (N, K) with the same N, got "
            f"{i.shape} and {r.shape}."
        )
    if (r < 0).any():
        raise ValueError(f"{owner}: rates must be >= 0 [Hz], got {r.min()!r}.")
    r = r.reshape(i.shape[0], -1)
    if labels and len(labels) != r.shape[1]:
        raise ValueError(
            f"{owner}: labels must give one label per curve ({r.shape[1]}), got {list(labels)!r}."
        )
    ax = _axes(ax)
    for k in range(r.shape[1]):
        ax.plot(i, r[:, k], marker="o", markersize=3, label=labels[k] if labels else f"_curve{k}")
    if reference is not None:
        if isinstance(reference, tuple):
            if len(reference) != 2:
                raise ValueError(
                    f"{owner}: reference must be (N,) rates or a (currents, rates) pair, "
                    f"got a tuple of {len(reference)}."
                )
            ri = _array(owner, "reference currents", reference[0])
            rr = _array(owner, "reference rates", reference[1])
        else:
            ri, rr = i, _array(owner, "reference", reference)
        if ri.ndim != 1 or rr.shape != ri.shape:
            raise ValueError(
                f"{owner}: reference rates must be shaped like its currents {ri.shape}, got "
                f"{rr.shape}."
            )
        ax.plot(ri, rr, color="k", linestyle="--", linewidth=1.0, label="reference")
    ax.set_xlabel("current [nA]")
    ax.set_ylabel("rate [Hz]")
    if labels or reference is not None:
        ax.legend()
    return ax


# ---- surrogates ------------------------------------------------------------------------------
def surrogates(
    surrogate_objects: Surrogate | Sequence[Surrogate],
    *,
    x_range: tuple[float, float] = (-2.0, 2.0),
    num: int = 401,
    axes: tuple[Axes, Axes] | None = None,
) -> tuple[Axes, Axes]:
    r"""Each surrogate's derivative :math:`g(x)` (left) and primitive :math:`\sigma(x)` (right).

    ``x`` is the distance to threshold :math:`v - \vartheta`. A :class:`~neuraltide.surrogate.
    Custom` surrogate without ``primitive_fn`` has no primitive, so only its derivative is
    drawn.

    Args:
        surrogate_objects: one :class:`~neuraltide.surrogate.Surrogate` or a sequence of them.
        x_range: ``(low, high)`` of ``x``, low < high.
        num: number of sample points, >= 2.
        axes: ``(derivative_axes, primitive_axes)`` to draw on; ``None`` makes a new figure
            with two panels.

    Returns:
        ``(derivative_axes, primitive_axes)``; line ``k`` of each is surrogate ``k``, labelled
        like ``"ATan(alpha=2)"``.

    Example::

        >>> from neuraltide.surrogate import ATan, FastSigmoid
        >>> ax_d, ax_p = surrogates([ATan(), FastSigmoid()])
        >>> [line.get_label() for line in ax_d.get_lines()]
        ['ATan(alpha=2)', 'FastSigmoid(alpha=25)']
        >>> float(ax_d.get_lines()[0].get_ydata().max())    # ATan peaks at alpha / 2
        1.0
    """
    owner = "surrogates"
    objs = [surrogate_objects] if isinstance(surrogate_objects, Surrogate) else surrogate_objects
    if (
        not isinstance(objs, Sequence)
        or not objs
        or not all(isinstance(o, Surrogate) for o in objs)
    ):
        raise ValueError(
            f"{owner}: surrogate_objects must be a Surrogate or a non-empty sequence of "
            f"them, such as [ATan(), FastSigmoid()], got {surrogate_objects!r}."
        )
    lo, hi = (_scalar(owner, "x_range", v, "voltage unit") for v in x_range)
    if not lo < hi:
        raise ValueError(f"{owner}: x_range must be (low, high) with low < high, got {x_range!r}.")
    if isinstance(num, bool) or not isinstance(num, int) or num < 2:
        raise ValueError(f"{owner}: num must be a whole number >= 2, got {num!r}.")
    if axes is None:
        _, (ax_d, ax_p) = plt.subplots(1, 2, figsize=(9.0, 3.5), layout="constrained")
    else:
        if len(axes) != 2 or not all(isinstance(a, Axes) for a in axes):
            raise ValueError(f"{owner}: axes must be a pair of matplotlib Axes, got {axes!r}.")
        ax_d, ax_p = axes
    x = torch.linspace(lo, hi, num, dtype=torch.float64)
    xs = x.numpy()
    for obj in objs:
        label = f"{type(obj).__name__}(alpha={obj.alpha:g})"
        (line,) = ax_d.plot(xs, obj.derivative(x).detach().numpy(), label=label)
        if not (isinstance(obj, Custom) and obj.primitive_fn is None):
            ax_p.plot(xs, obj.primitive(x).detach().numpy(), label=label, color=line.get_color())
    ax_d.set_xlabel(r"$x = v - \vartheta$")
    ax_d.set_ylabel(r"surrogate derivative $g(x)$")
    ax_p.set_xlabel(r"$x = v - \vartheta$")
    ax_p.set_ylabel(r"primitive $\sigma(x)$")
    ax_d.legend()
    return ax_d, ax_p


# ---- phase plane ------------------------------------------------------------------------------
def phase_plane(
    field: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]],
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    *,
    trajectory: tuple[ArrayLike, ArrayLike] | None = None,
    spikes: ArrayLike | None = None,
    ax: Axes | None = None,
    labels: tuple[str, str] = ("v [mV]", "u"),
    grid: int = 41,
) -> Axes:
    r"""Phase plane of a two-variable model: flow, nullclines and a trajectory.

    Draws the vector field as streamlines, the :math:`\dot x = 0` nullcline (red) and the
    :math:`\dot y = 0` nullcline (blue), and optionally a trajectory whose discontinuous resets
    (after each spike) are drawn as dashed jumps.

    Args:
        field: ``field(x, y) -> (dx/dt, dy/dt)`` on tensors of equal shape, e.g.
            ``lambda v, u: izhikevich_derivatives(v, u, I, params)``.
        x_range: ``(low, high)`` of the horizontal variable.
        y_range: ``(low, high)`` of the vertical variable.
        trajectory: ``(x(t), y(t))`` samples, each ``(T,)``.
        spikes: ``(T,)`` 0/1; a spike at sample ``n`` means the step to sample ``n + 1``
            starts with a reset, drawn as a dashed jump.
        ax: axes to draw on (``None``: a new figure).
        labels: axis labels.
        grid: grid points per axis, >= 5.

    Returns:
        the Axes. ``ax.collections`` holds the nullcline contours (``ax.nullclines`` gives
        them as ``(x_nullcline_set, y_nullcline_set)``).
    """
    owner = "phase_plane"
    x0, x1 = (_scalar(owner, "x_range", v, "x unit") for v in x_range)
    y0, y1 = (_scalar(owner, "y_range", v, "y unit") for v in y_range)
    if not (x0 < x1 and y0 < y1):
        raise ValueError(f"{owner}: ranges must be (low, high) with low < high, got "
                         f"{x_range!r}, {y_range!r}.")
    if isinstance(grid, bool) or not isinstance(grid, int) or grid < 5:
        raise ValueError(f"{owner}: grid must be a whole number >= 5, got {grid!r}.")
    ax = _axes(ax)
    xs = torch.linspace(x0, x1, grid, dtype=torch.float64)
    ys = torch.linspace(y0, y1, grid, dtype=torch.float64)
    Y, X = torch.meshgrid(ys, xs, indexing="ij")
    with torch.no_grad():
        dX, dY = (torch.as_tensor(d, dtype=torch.float64).expand_as(X) for d in field(X, Y))
    Xn, Yn, dXn, dYn = (a.numpy() for a in (X, Y, dX, dY))
    ax.streamplot(Xn, Yn, dXn, dYn, color="0.75", density=1.0, linewidth=0.6, arrowsize=0.8)
    cx = ax.contour(Xn, Yn, dXn, levels=[0.0], colors="tab:red", linewidths=1.5)
    cy = ax.contour(Xn, Yn, dYn, levels=[0.0], colors="tab:blue", linewidths=1.5)
    ax.nullclines = (cx, cy)  # type: ignore[attr-defined]
    ax.plot([], [], color="tab:red", label=f"{labels[0].split()[0]}-nullcline")
    ax.plot([], [], color="tab:blue", label=f"{labels[1].split()[0]}-nullcline")
    if trajectory is not None:
        tx = _array(owner, "trajectory x", trajectory[0])
        ty = _array(owner, "trajectory y", trajectory[1])
        if tx.shape != ty.shape or tx.ndim != 1:
            raise ValueError(f"{owner}: trajectory must be two (T,) arrays, got shapes "
                             f"{tx.shape} and {ty.shape}.")
        cuts = []
        if spikes is not None:
            sp = _array(owner, "spikes", spikes)
            if sp.shape != tx.shape:
                raise ValueError(f"{owner}: spikes must have the trajectory's shape {tx.shape}, "
                                 f"got {sp.shape}.")
            cuts = [int(n) for n in np.flatnonzero(sp > 0) if n + 1 < len(tx)]
        start = 0
        for n in [*cuts, len(tx) - 1]:
            ax.plot(tx[start : n + 1], ty[start : n + 1], color="k", lw=1.2)
            start = n + 1
        for n in cuts:
            ax.plot(tx[n : n + 2], ty[n : n + 2], color="k", lw=0.8, ls="--")
        if cuts:
            ax.plot([], [], color="k", lw=0.8, ls="--", label="reset")
        ax.plot([], [], color="k", lw=1.2, label="trajectory")
    ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel=labels[0], ylabel=labels[1])
    ax.legend(fontsize=8, loc="upper left")
    return ax

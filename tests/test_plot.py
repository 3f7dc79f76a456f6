"""Plots: assert on the artists' data (offsets, lines), headless with Agg."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.colors import to_rgba

from neuraltide import plot
from neuraltide.neurons import LIF, Recording
from neuraltide.surrogate import ATan, Custom, FastSigmoid, Gaussian, Triangle


@pytest.fixture(autouse=True)
def _close_figures(monkeypatch: pytest.MonkeyPatch):
    def no_show(*args, **kwargs):
        raise AssertionError("plot functions must not call plt.show()")

    monkeypatch.setattr(plt, "show", no_show)
    yield
    plt.close("all")


def sorted_rows(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=float).reshape(-1, 2)
    return a[np.lexsort((a[:, 1], a[:, 0]))]


def spike_pairs(spikes: torch.Tensor, dt: float) -> np.ndarray:
    """(t, i) of every spike: t = (n + 1) dt for step n."""
    n, i = torch.nonzero(spikes.reshape(spikes.shape[0], -1), as_tuple=True)
    return sorted_rows(np.stack([(n.numpy() + 1) * dt, i.numpy()], axis=1))


def lif_recording() -> Recording:
    current = torch.tensor([1.6, 2.0, 3.0, 4.0])  # nA: all above rheobase 1.5 nA
    return LIF(dt=0.1).run(current.expand(600, 1, 4).clone())


# ---- raster ----------------------------------------------------------------------------------
def test_raster_offsets_are_spike_times_and_indices() -> None:
    g = torch.Generator().manual_seed(0)
    s = (torch.rand(50, 7, generator=g) < 0.2).float()
    ax = plot.raster(s, dt=0.25)
    (coll,) = ax.collections
    np.testing.assert_allclose(sorted_rows(coll.get_offsets()), spike_pairs(s, 0.25))
    assert ax.get_xlim() == (0.0, 12.5)
    assert ax.get_ylim() == (-0.5, 6.5)
    assert ax.get_xlabel() == "time [ms]"


def test_raster_of_a_recording_uses_its_dt_and_times() -> None:
    rec = lif_recording()
    ax = plot.raster(rec)
    offsets = sorted_rows(ax.collections[0].get_offsets())
    np.testing.assert_allclose(offsets, spike_pairs(rec.spikes, rec.dt))
    assert len(offsets) == int(rec.spikes.sum()) > 0
    # spike times are samples of the recording's time axis
    assert np.isin(np.round(offsets[:, 0], 9), np.round(rec.t.numpy(), 9)).all()
    with pytest.raises(ValueError, match="dt must be None when spikes is a Recording"):
        plot.raster(rec, dt=0.1)


def test_raster_groups_and_colours() -> None:
    s = torch.zeros(10, 5)
    s[2, 0] = s[4, 2] = s[6, 3] = s[8, 4] = 1.0
    ax = plot.raster(s, dt=1.0, groups=[("E", 3), ("I", 2)], colors=["tab:red", "tab:blue"])
    e, i = ax.collections
    assert e.get_label() == "E" and i.get_label() == "I"
    np.testing.assert_allclose(sorted_rows(e.get_offsets()), [[3.0, 0.0], [5.0, 2.0]])
    np.testing.assert_allclose(sorted_rows(i.get_offsets()), [[7.0, 3.0], [9.0, 4.0]])
    for coll, colour in ((e, "tab:red"), (i, "tab:blue")):
        np.testing.assert_allclose(coll.get_edgecolor()[0], to_rgba(colour))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["E", "I"]


def test_raster_draws_on_the_given_axes() -> None:
    _fig, (a, b) = plt.subplots(1, 2)
    assert plot.raster(torch.zeros(3, 2), dt=1.0, ax=b) is b
    assert len(a.collections) == 0 and len(b.collections) == 1


def test_raster_rejects_bad_input() -> None:
    s = torch.zeros(10, 5)
    with pytest.raises(ValueError, match=r"raster: dt must be > 0 \[ms\] for a spike tensor"):
        plot.raster(s)
    with pytest.raises(ValueError, match=r"dt must be > 0 \[ms\], got -1\.0"):
        plot.raster(s, dt=-1.0)
    with pytest.raises(ValueError, match=r"groups must be .* adding up to the 5 neurons"):
        plot.raster(s, dt=1.0, groups=[("E", 3), ("I", 3)])
    with pytest.raises(ValueError, match="colors must name one colour per group"):
        plot.raster(s, dt=1.0, colors=["r", "b"])
    with pytest.raises(ValueError, match="spikes must be finite"):
        plot.raster(torch.full((3, 2), float("nan")), dt=1.0)


# ---- traces ----------------------------------------------------------------------------------
def test_traces_lines_threshold_reset_and_spike_marks() -> None:
    t = torch.arange(1, 7) * 0.5
    v = torch.tensor(
        [
            [-65.0, -60.0],
            [-58.0, -55.0],
            [-49.0, -51.0],
            [-65.0, -49.5],
            [-60.0, -65.0],
            [-55.0, -62.0],
        ]
    )
    s = torch.zeros(6, 2)
    s[2, 0] = s[3, 1] = 1.0
    ax = plot.traces(t, v, threshold=-50.0, reset=-65.0, spikes=s, labels=["a", "b"])
    lines = ax.get_lines()
    for k in range(2):
        np.testing.assert_allclose(lines[k].get_xdata(), t.numpy())
        np.testing.assert_allclose(lines[k].get_ydata(), v[:, k].numpy())
        assert lines[k].get_label() == "ab"[k]
    thr, rst = lines[2], lines[3]
    assert thr.get_label() == "threshold" and list(thr.get_ydata()) == [-50.0, -50.0]
    assert rst.get_label() == "reset" and list(rst.get_ydata()) == [-65.0, -65.0]
    marks = ax.collections
    assert len(marks) == 2
    np.testing.assert_allclose(marks[0].get_offsets(), [[1.5, -50.0]])
    np.testing.assert_allclose(marks[1].get_offsets(), [[2.0, -50.0]])
    assert ax.get_ylabel() == "v [mV]"


def test_traces_of_a_recording() -> None:
    rec = lif_recording()
    ax = plot.traces(rec, "v", threshold=-50.0, spikes=rec.spikes)
    v = rec.traces["v"].reshape(600, -1)
    lines = ax.get_lines()
    for k in range(4):
        np.testing.assert_allclose(lines[k].get_xdata(), rec.t.numpy())
        np.testing.assert_allclose(lines[k].get_ydata(), v[:, k].numpy(), rtol=1e-6)
    n_marks = sum(len(c.get_offsets()) for c in ax.collections)
    assert n_marks == int(rec.spikes.sum())
    spikes_times = spike_pairs(rec.spikes, rec.dt)[:, 0]
    marked = np.sort(np.concatenate([c.get_offsets()[:, 0] for c in ax.collections]))
    np.testing.assert_allclose(marked, np.sort(spikes_times))
    assert all((c.get_offsets()[:, 1] == -50.0).all() for c in ax.collections)


def test_traces_moving_threshold_and_marks_without_threshold() -> None:
    t = torch.arange(1, 5) * 1.0
    v = torch.tensor([0.2, 0.9, 0.1, 0.5])
    th = torch.tensor([1.0, 1.0, 1.5, 1.3])
    s = torch.tensor([0.0, 1.0, 0.0, 1.0])
    ax = plot.traces(t, v, threshold=th, spikes=s, unit="1")
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), th.numpy())
    np.testing.assert_allclose(ax.collections[0].get_offsets(), [[2.0, 1.0], [4.0, 1.3]])
    ax2 = plot.traces(t, v, spikes=s)  # marks at the trace's maximum
    np.testing.assert_allclose(ax2.collections[0].get_offsets(), [[2.0, 0.9], [4.0, 0.9]])


def test_traces_rejects_bad_input() -> None:
    rec = lif_recording()
    with pytest.raises(ValueError, match=r"v must name a recorded trace among \['v'\]"):
        plot.traces(rec, "i")
    with pytest.raises(ValueError, match="names work with a Recording"):
        plot.traces(torch.arange(3.0), "v")
    with pytest.raises(ValueError, match="same T"):
        plot.traces(torch.arange(3.0), torch.zeros(4))
    with pytest.raises(ValueError, match="spikes must be shaped like v"):
        plot.traces(torch.arange(3.0), torch.zeros(3), spikes=torch.zeros(4))
    with pytest.raises(ValueError, match="threshold must be a number or shaped"):
        plot.traces(torch.arange(3.0), torch.zeros(3), threshold=torch.zeros(5))
    with pytest.raises(ValueError, match="v must be finite"):
        plot.traces(torch.arange(3.0), torch.tensor([0.0, float("nan"), 1.0]))


# ---- f-I curve -------------------------------------------------------------------------------
def test_fi_curve_data_and_reference() -> None:
    i = torch.linspace(0, 5, 6)
    r = torch.stack([i * 10, i * 12], dim=1)
    ax = plot.fi_curve(i, r, reference=i * 11, labels=["model A", "model B"])
    lines = ax.get_lines()
    np.testing.assert_allclose(lines[0].get_xdata(), i.numpy())
    np.testing.assert_allclose(lines[1].get_ydata(), (i * 12).numpy())
    ref = lines[2]
    assert ref.get_label() == "reference" and ref.get_linestyle() == "--"
    np.testing.assert_allclose(ref.get_ydata(), (i * 11).numpy())
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("current [nA]", "rate [Hz]")
    fine = torch.linspace(0, 5, 101)
    ax2 = plot.fi_curve(i, i * 10, reference=(fine, fine**2))
    np.testing.assert_allclose(ax2.get_lines()[-1].get_xdata(), fine.numpy())
    np.testing.assert_allclose(ax2.get_lines()[-1].get_ydata(), (fine**2).numpy(), rtol=1e-6)


def test_fi_curve_rejects_bad_input() -> None:
    i = torch.arange(3.0)
    with pytest.raises(ValueError, match=r"rates must be >= 0 \[Hz\]"):
        plot.fi_curve(i, torch.tensor([1.0, -2.0, 3.0]))
    with pytest.raises(ValueError, match="same N"):
        plot.fi_curve(i, torch.zeros(4))
    with pytest.raises(ValueError, match="reference rates must be shaped like its currents"):
        plot.fi_curve(i, torch.zeros(3), reference=torch.zeros(2))


# ---- surrogates ------------------------------------------------------------------------------
def test_surrogates_plot_derivative_and_primitive() -> None:
    objs = [ATan(), FastSigmoid(alpha=10.0), Gaussian(), Triangle(alpha=2.0)]
    ax_d, ax_p = plot.surrogates(objs, x_range=(-1.0, 1.0), num=201)
    x = torch.linspace(-1.0, 1.0, 201, dtype=torch.float64)
    assert len(ax_d.get_lines()) == len(ax_p.get_lines()) == 4
    for obj, ld, lp in zip(objs, ax_d.get_lines(), ax_p.get_lines(), strict=True):
        np.testing.assert_allclose(ld.get_xdata(), x.numpy())
        np.testing.assert_allclose(ld.get_ydata(), obj.derivative(x).numpy())
        np.testing.assert_allclose(lp.get_ydata(), obj.primitive(x).numpy())
        assert ld.get_label() == lp.get_label() == f"{type(obj).__name__}(alpha={obj.alpha:g})"
        assert ld.get_color() == lp.get_color()
    assert ax_d.figure is ax_p.figure


def test_surrogates_single_object_custom_and_given_axes() -> None:
    _fig, axes = plt.subplots(1, 2)
    custom = Custom(fn=lambda x, a: torch.exp(-a * x.abs()), alpha=3.0)
    out = plot.surrogates(custom, axes=(axes[0], axes[1]))
    assert out == (axes[0], axes[1])
    assert len(axes[0].get_lines()) == 1 and len(axes[1].get_lines()) == 0  # no primitive
    assert plot.surrogates(ATan())[0].get_lines()[0].get_label() == "ATan(alpha=2)"


def test_surrogates_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="surrogate_objects must be a Surrogate"):
        plot.surrogates(["atan"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="surrogate_objects must be a Surrogate"):
        plot.surrogates([])
    with pytest.raises(ValueError, match=r"x_range must be \(low, high\) with low < high"):
        plot.surrogates(ATan(), x_range=(1.0, -1.0))
    with pytest.raises(ValueError, match="num must be a whole number >= 2"):
        plot.surrogates(ATan(), num=1)


def test_phase_plane_nullclines_are_where_the_flow_vanishes() -> None:
    from neuraltide.neurons.izhikevich import Izhikevich, izhikevich_derivatives
    from neuraltide.plot import phase_plane

    neuron = Izhikevich.preset("RS", dt=0.1)
    p = neuron.params()
    current = 10.0
    rec = neuron.run(torch.full((3000, 1), current), record=("v", "u"))
    ax = phase_plane(lambda v, u: izhikevich_derivatives(v, u, torch.tensor(current), p),
                     (-80.0, 30.0), (-20.0, 20.0), trajectory=(rec.traces["v"][:, 0],
                     rec.traces["u"][:, 0]), spikes=rec.spikes[:, 0], grid=81)
    cx, cy = ax.nullclines
    v_pts = np.concatenate([path.vertices for path in cx.get_paths()])
    u_pts = np.concatenate([path.vertices for path in cy.get_paths()])
    assert len(v_pts) > 10 and len(u_pts) > 10
    # v-nullcline: u = 0.04 v^2 + 5 v + 140 + I ; u-nullcline: u = b v
    np.testing.assert_allclose(v_pts[:, 1], 0.04 * v_pts[:, 0] ** 2 + 5 * v_pts[:, 0] + 150.0,
                               atol=0.5)
    np.testing.assert_allclose(u_pts[:, 1], 0.2 * u_pts[:, 0], atol=1e-6)
    dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--" and len(ln.get_xdata())]
    assert len(dashed) == int(rec.spikes.sum()) > 3  # one reset jump per spike
    for ln in dashed:  # each jump lands near the reset value c = -65 (after one step)
        assert ln.get_xdata()[1] < -50.0


def test_phase_plane_rejects_bad_ranges() -> None:
    from neuraltide.plot import phase_plane

    with pytest.raises(ValueError, match="low < high"):
        phase_plane(lambda x, y: (x, y), (1.0, 0.0), (0.0, 1.0))


def test_raster_events_stacks_populations_and_checks_input() -> None:
    from neuraltide.plot import raster_events

    t_e, i_e = torch.tensor([1.0, 2.5, 4.0]), torch.tensor([0, 3, 3])
    t_i, i_i = torch.tensor([2.0]), torch.tensor([1])
    ax = raster_events([("E", t_e, i_e, 4), ("I", t_i, i_i, 2)], duration=10.0)
    assert ax.collections[0].get_offsets().tolist() == [[1.0, 0.0], [2.5, 3.0], [4.0, 3.0]]
    assert ax.collections[1].get_offsets().tolist() == [[2.0, 5.0]]
    assert ax.get_ylim() == (-0.5, 5.5) and ax.get_xlim() == (0.0, 10.0)
    with pytest.raises(ValueError, match=r"neuron indices of 'I' must be in \[0, 2\)"):
        raster_events([("I", t_i, torch.tensor([2]), 2)])
    with pytest.raises(ValueError, match="same length"):
        raster_events([("E", t_e, i_i, 4)])

"""Headless tests of the Panel/HoloViews components: set controls, push data, press buttons,
and check the data the plots hold (and the Bokeh models a browser would receive)."""

from __future__ import annotations

import math

import holoviews as hv
import numpy as np
import panel as pn
import pytest
import torch
from neuraltide.widgets import (
    AdaptiveLIFPlane,
    Density,
    IzhikevichPlane,
    MembraneTrace,
    NetworkExplorer,
    NeuronExplorer,
    NoisyCurrent,
    ParameterPanel,
    PhasePlane,
    PoissonInput,
    Ramp,
    RasterPlot,
    STDPExplorer,
    Step,
    TrainingMonitor,
)
from neuraltide.widgets.cli import app, main
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from neuraltide.neurons import (
    LIF,
    AdaptiveLIF,
    HodgkinHuxley,
    Izhikevich,
    LearnableNeuron,
    SynapticLIF,
)
from neuraltide.neurons.izhikevich import IzhikevichPreset
from neuraltide.training import LeakyReadout, Spiking, Trainer, membrane_cross_entropy

hv.extension("bokeh", logo=False)


def bokeh_sources(view: hv.DynamicMap) -> list[dict]:
    """The ColumnDataSource data of a rendered DynamicMap (what a browser is sent)."""
    plot = hv.renderer("bokeh").get_plot(view)
    subplots = list(plot.subplots.values()) if hasattr(plot, "subplots") and plot.subplots \
        else [plot]
    return [dict(p.handles["source"].data) for p in subplots if "source" in p.handles]


# ---- RasterPlot -----------------------------------------------------------------------------
def test_raster_holds_exactly_the_pushed_spikes_coloured_by_population() -> None:
    raster = RasterPlot([("E", 3), ("I", 2)], window=100.0)
    plot = hv.renderer("bokeh").get_plot(raster.view)
    raster.push(1.0, torch.tensor([1, 0, 0, 1, 1]))
    raster.push(2.0, np.array([False, True, False, False, False]))
    t, i = raster.events()
    assert t.tolist() == [1.0, 1.0, 1.0, 2.0] and i.tolist() == [0, 3, 4, 1]
    points = next(p for key, p in plot.subplots.items() if key[0] == "Points")
    data = points.handles["source"].data
    assert list(data["t"]) == [1.0, 1.0, 1.0, 2.0] and list(data["i"]) == [0, 3, 4, 1]
    assert list(data["color"]) == ["E", "I", "I", "E"]  # the colour column: the population
    assert raster.frames == 2


def test_raster_window_drops_old_spikes_and_events_take_population_indices() -> None:
    raster = RasterPlot([("E", 10), ("I", 5)], window=50.0)
    raster.push_events(np.array([10.0, 20.0]), np.array([2, 4]), population="I")
    assert raster.events()[1].tolist() == [12, 14]  # offset by the 10 E neurons
    raster.push_events(np.array([65.0]), np.array([0]), population="E")
    t, i = raster.events()
    assert t.tolist() == [20.0, 65.0] and i.tolist() == [14, 0]  # 10 ms fell out of the window
    raster.clear()
    assert raster.events()[0].size == 0


def test_dense_raster_aggregates_into_exact_counts() -> None:
    raster = RasterPlot([("E", 8000), ("I", 2000)], window=1000.0, dt=1.0)
    assert raster.density is Density.IMAGE  # 10,000 neurons x 1000 steps
    g = torch.Generator().manual_seed(0)
    spikes = torch.rand(200, 10_000, generator=g) < 0.02
    for k in range(200):
        raster.push(float(k + 1), spikes[k], emit=False)
    raster.refresh()
    image = raster.view[()]
    counts = next(el for el in image if isinstance(el, hv.Image)).data
    assert counts.sum() == int(spikes.sum())  # every spike lands in one bin
    # the top rows of the image are the highest neurons: the inhibitory population
    top = counts[0]
    n_bins = counts.shape[0]
    hi = spikes[:, 10_000 - 10_000 // n_bins:].sum()
    assert int(top.sum()) == int(hi)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda r: r.push(0.0, torch.zeros(7)), r"spikes must have shape \(5,\)"),
        (lambda r: r.push_events([1.0], [5]), r"i must lie in \[0, 5\)"),
        (lambda r: r.push_events([1.0], [0], population="X"), "population must be one of"),
        (lambda r: r.push_events([float("nan")], [0]), "NaN"),
    ],
)
def test_raster_refuses_bad_input(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call(RasterPlot([("E", 3), ("I", 2)]))


# ---- MembraneTrace --------------------------------------------------------------------------
def test_membrane_trace_records_the_chosen_neurons_and_marks_spikes() -> None:
    trace = MembraneTrace([1, 3], threshold=-50.0, reset=-65.0, window=10.0)
    v = torch.tensor([[-70.0, -60.0, -55.0, -52.0], [-69.0, -49.0, -54.0, -40.0]])
    s = torch.tensor([[0, 0, 0, 0], [0, 1, 0, 1]])
    trace.push(torch.tensor([0.1, 0.2]), v, s)
    d = trace.data()
    assert d["v"].tolist() == [[-60.0, -52.0], [-49.0, -40.0]]
    assert d["spikes"].tolist() == [[False, False], [True, True]]
    overlay = trace.view[()]
    scatters = [el for el in overlay if isinstance(el, hv.Scatter)]
    assert [el.data.iloc[:, 1].tolist() for el in scatters] == [[-50.0], [-50.0]]
    hlines = [el.data for el in overlay if isinstance(el, hv.HLine)]
    assert sorted(hlines) == [-65.0, -50.0]
    trace.push(20.0, torch.zeros(4))  # 0.1 and 0.2 ms leave the 10 ms window
    assert trace.data()["t"].tolist() == [20.0]
    with pytest.raises(ValueError, match="shows neuron 3"):
        trace.push(21.0, torch.zeros(2))


# ---- ParameterPanel -------------------------------------------------------------------------
@pytest.mark.parametrize("model", [
    LIF(), SynapticLIF(), AdaptiveLIF(), Izhikevich.preset("CH"), HodgkinHuxley(),
    LearnableNeuron.dimensionless(), LIF.dimensionless(),
], ids=lambda m: type(m).__name__)
def test_parameter_panel_is_generated_from_any_models_metadata(model) -> None:
    panel = ParameterPanel(model)
    assert set(panel.sliders) == set(model.specs)
    for name, slider in panel.sliders.items():
        spec = model.specs[name]
        assert slider.label == f"{name} [{spec.unit}]"
        assert slider.value == pytest.approx(float(model.value(name).flatten()[0]), rel=1e-6)
        if spec.typical:
            assert slider.start <= spec.typical[0] and slider.end >= spec.typical[1]
        assert panel.tooltips[name].value == spec.description
        assert isinstance(slider, pn.widgets.IntSlider) == spec.integer


def test_parameter_panel_calls_back_once_per_change() -> None:
    panel = ParameterPanel(Izhikevich.preset("RS"))
    seen = []
    panel.on_change(seen.append)
    panel.sliders["a"].value = 0.05
    panel.set_values({"a": 0.1, "b": 0.25, "c": -55.0, "d": 2.0})
    assert len(seen) == 2
    assert seen[0]["a"] == 0.05 and seen[1] == {**seen[1], "a": 0.1, "b": 0.25, "d": 2.0}
    with pytest.raises(ValueError, match="names must be among"):
        ParameterPanel(LIF(), names=["tau"])


# ---- protocols ------------------------------------------------------------------------------
def test_protocols_deliver_their_mean_drive() -> None:
    g = torch.Generator().manual_seed(0)
    step = Step(onset=0.25).current(400, 0.1, 2.0, 3, g)
    assert step[:100].abs().sum() == 0 and (step[100:] == 2.0).all()
    assert Ramp().current(1001, 0.1, 1.5, 1, g).mean() == pytest.approx(1.5)
    noisy = NoisyCurrent(sigma=0.5, tau=2.0, onset=0.0).current(20000, 0.1, 4.0, 4, g)
    assert noisy.mean() == pytest.approx(4.0, abs=0.1)
    assert noisy.std() == pytest.approx(2.0, rel=0.05)  # sigma * |amplitude|
    poisson = PoissonInput(rate_hz=2000.0, onset=0.0).current(20000, 0.1, 3.0, 4, g)
    assert poisson.mean() == pytest.approx(3.0, rel=0.03)
    late = Ramp(onset=0.5).current(100, 0.1, 1.0, 1, g)
    assert late[:50].abs().sum() == 0 and late[50:].mean() == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"onset must be a fraction of the run in \[0, 1\)"):
        Step(onset=1.5)
    with pytest.raises(ValueError, match="tau must be > 0"):
        NoisyCurrent(tau=0.0)


# ---- NeuronExplorer -------------------------------------------------------------------------
def lif_rate_hz(tau: float, current: float, r=10.0, gap=15.0, t_ref=2.0) -> float:
    """Closed-form LIF rate: ISI = t_ref + tau ln(RI / (RI - gap))."""
    drive = r * current
    return 0.0 if drive <= gap else 1e3 / (t_ref + tau * math.log(drive / (drive - gap)))


def test_neuron_explorer_follows_its_sliders_as_theory_says() -> None:
    ex = NeuronExplorer()
    n0 = ex.simulations
    ex.params.sliders["tau_mem"].value = 30.0
    assert ex.simulations == n0 + 1
    # 180 ms of drive: the measured rate is within one spike of the closed form
    assert ex.result["rate_hz"] == pytest.approx(lif_rate_hz(30.0, 2.0), abs=1e3 / 180)
    trace = ex._trace.data
    assert np.array_equal(trace["v"], ex.result["v"]) and trace["th"] == -50.0
    ex.amplitude.value = 1.2  # below rheobase (R I = 12 mV < 15 mV): silent
    assert ex.result["rate_hz"] == 0.0 and ex._raster.data["t"].size == 0
    currents, rates = ex.result["fi_currents"], ex.result["fi_rates"]
    assert (rates[currents < 1.5] == 0).all() and (rates[currents > 1.6] > 0).all()
    assert (np.diff(rates) >= 0).all()  # f-I is monotone
    assert ex._fi.data["at"] == (1.2, 0.0)


def test_neuron_explorer_switches_models_protocols_and_presets() -> None:
    ex = NeuronExplorer(trials=5)
    n0 = ex.simulations
    ex.model_select.value = "Izhikevich"
    assert ex.simulations == n0 + 1  # one simulation per switch, not one per moved control
    assert set(ex.params.sliders) == {"a", "b", "c", "d", "v_peak"}
    assert ex.preset_select.visible
    ex.preset_select.value = "FS"
    a, b, c, d = IzhikevichPreset.FS.value
    assert ex.params.values() == {**ex.params.values(), "a": a, "b": b, "c": c, "d": d}
    fs_rate = ex.result["rate_hz"]
    ex.preset_select.value = "RS"
    assert fs_rate > ex.result["rate_hz"] > 0  # fast spiking fires faster than regular
    ex.protocol_select.value = next(p for p in ex.protocol_select.options.values()
                                    if isinstance(p, NoisyCurrent))
    trials = ex.result["spikes"]
    assert trials.shape[1] == 5 and not np.array_equal(trials[:, 0], trials[:, 1])


# ---- NetworkExplorer ------------------------------------------------------------------------
def test_network_explorer_streams_chunks_and_stops_for_real() -> None:
    ex = NetworkExplorer(n_exc=200, chunk=10.0, window=200.0)
    ex.step_chunk()
    ex.step_chunk()
    assert ex.t == pytest.approx(20.0) and ex.chunks == 2
    t, i = ex.raster.events()
    rates = ex.rates()
    assert t.size > 0 and t.max() <= 20.0
    # the rate curves are the raster's spikes, binned
    n_e = int((i < 200).sum())
    assert rates["E"].sum() * ex.rate_bin / 1e3 * 200 == pytest.approx(n_e)
    before = len(pn.state._periodic)
    ex.start_button.clicks += 1
    assert ex.running and len(pn.state._periodic) >= before
    ex.stop_button.clicks += 1
    assert not ex.running and ex.loop._callback is None
    ex.start()
    ex.close()
    assert not ex.running
    rate_before = ex.model.ext_rate_hz
    ex.eta.value = 3.0
    assert ex.model.ext_rate_hz == pytest.approx(rate_before * 1.5)
    ex.reset_button.clicks += 1
    assert ex.t == 0.0 and ex.raster.events()[0].size == 0


# ---- STDPExplorer ---------------------------------------------------------------------------
def test_stdp_explorer_window_and_weights() -> None:
    ex = STDPExplorer(n_inputs=200, chunk=100.0)
    data = ex._window.data
    rule = ex.rule()
    assert np.allclose(data["dw"], rule.window(torch.tensor(data["dt"])).numpy() / ex.w_max)
    ex.ratio.value = 1.3
    assert ex.projection.plasticity.a_minus == pytest.approx(1.3 * ex.projection.plasticity.a_plus)
    k = int(np.argmin(np.abs(ex._window.data["dt"] + 10.0)))  # post 10 ms before pre
    expected = -1.3 * ex.a_plus.value * math.exp(-10.0 / ex.tau_minus.value)
    assert ex._window.data["dw"][k] == pytest.approx(expected, rel=1e-6)
    w0 = ex.weights()
    ex.rate.value = 40.0
    for _ in range(3):
        ex.step_chunk()
    assert not np.array_equal(ex.weights(), w0)  # plasticity acted
    assert (ex.weights() >= 0).all() and (ex.weights() <= ex.w_max).all()
    element = ex._hist_element(ex._hist.data)
    assert element.data[element.vdims[0].name].sum() == 200
    assert ex.post_rate_hz > 0  # the output spiked, so pairs formed
    ex.reset()
    assert ex.t == 0.0


# ---- PhasePlane -----------------------------------------------------------------------------
def test_izhikevich_phase_plane_draws_its_nullclines_and_reset_jumps() -> None:
    pp = PhasePlane()
    plane = pp.plane
    assert isinstance(plane, IzhikevichPlane)
    values = pp.params.values()
    I = pp.current.value  # noqa: E741
    (_label_v, v, u_v), (_label_u, _, u_u) = pp.result["nullclines"]
    assert np.allclose(u_v, 0.04 * v**2 + 5 * v + 140 + I) and np.allclose(u_u, values["b"] * v)
    # the field vanishes on the v-nullcline
    dv, _ = plane.field(v, u_v, I, values)
    assert np.allclose(dv, 0.0)
    jumps = pp.result["jumps"]
    # one jump per spike (a spike in the very last step has no next sample to jump to)
    assert jumps and len(jumps) in (pp.result["spikes"], pp.result["spikes"] - 1)
    for _, u0, _, u1 in jumps:
        # one step after the reset: u has gained d and moved by at most a few dt of drift
        assert u1 - u0 == pytest.approx(values["d"], abs=0.5)
    pp.current.value = -5.0
    assert pp.result["spikes"] == 0 and pp.result["jumps"] == []


def test_adaptive_lif_phase_plane_resets_to_v_reset() -> None:
    pp = PhasePlane([AdaptiveLIFPlane()])
    values = pp.params.values()
    jumps = pp.result["jumps"]
    assert jumps
    assert values["t_ref"] > 0  # so the membrane is held at v_reset the step after a spike
    for v0, a0, v1, a1 in jumps:
        assert v0 > values["v_th"] + a0 - 1e-9  # it spiked above the adapted threshold
        assert a1 > a0  # and the adaptation jumped up
        assert v1 == pytest.approx(values["v_reset"], abs=1e-6)


# ---- TrainingMonitor ------------------------------------------------------------------------
def test_training_monitor_plots_each_epoch() -> None:
    torch.manual_seed(0)
    x = torch.rand(64, 8)
    y = (x[:, 0] > 0.5).long()
    data = DataLoader(TensorDataset(x, y), batch_size=16)
    model = nn.Sequential(nn.Linear(8, 16), Spiking(LIF.dimensionless()), nn.Linear(16, 2),
                          LeakyReadout(2))
    monitor = TrainingMonitor()
    trainer = Trainer(model, torch.optim.Adam(model.parameters(), lr=1e-2),
                      membrane_cross_entropy, encode=lambda b: b.expand(10, *b.shape),
                      callbacks=[monitor], progress=False)
    metrics = trainer.fit(data, epochs=3, val=data)
    assert monitor.series("loss").tolist() == [m.loss for m in metrics]
    assert len(monitor._pipe.data) == 3
    loss_plot = monitor._loss(monitor._pipe.data)
    assert next(c.data.iloc[:, 1].tolist() for c in loss_plot) == [m.loss for m in metrics]
    rates = monitor._rates(monitor._pipe.data)
    assert len(rates) == 1  # one spiking layer
    assert "epoch 3" in monitor.status.object


# ---- apps -----------------------------------------------------------------------------------
def test_cli_and_apps() -> None:
    with pytest.raises(SystemExit) as done:
        main(["explore", "--help"])
    assert done.value.code == 0
    with pytest.raises(SystemExit):
        main(["explore", "nonsense"])
    with pytest.raises(ValueError, match="name must be one of"):
        app("nonsense")
    layout = app("phase")
    assert isinstance(layout, pn.layout.Row)

"""Headless widget tests: move a slider, check the model and the plotted data."""

import pytest
import torch
from neuraltide.widgets import NeuronTraceExplorer, ParameterSliders, slider_for

from neuraltide.neurons import LIF, AdaptiveLIF


def test_sliders_come_from_metadata() -> None:
    lif = LIF(tau_mem=12.0)
    sliders = ParameterSliders(lif)
    assert set(sliders.sliders) == {"tau_mem", "v_rest", "v_th", "v_reset", "r_mem", "t_ref"}
    s = sliders.sliders["tau_mem"]
    spec = lif.specs["tau_mem"]
    assert s.description == "tau_mem [ms]"
    assert (s.min, s.max, s.value) == (spec.typical[0], spec.typical[1], 12.0)
    assert s.tooltip == spec.description
    int_slider = slider_for(LIF.dimensionless().specs["t_ref"])
    assert int_slider.step == 1


def test_unknown_parameter_names_raise() -> None:
    with pytest.raises(ValueError, match="names must be among"):
        ParameterSliders(LIF(), names=["tau"])


def test_moving_a_slider_resimulates_the_trace() -> None:
    explorer = NeuronTraceExplorer(lambda **p: LIF(dt=0.1, **p), current=2.0, duration=100.0)
    _, v0 = explorer.line.get_data()
    n0 = explorer.n_updates
    explorer.params.sliders["tau_mem"].value = 30.0
    assert explorer.n_updates == n0 + 1
    _, v1 = explorer.line.get_data()
    _, v_expected, _, _ = explorer.simulate()
    assert not (v0 == v1).all()
    assert torch.allclose(torch.as_tensor(v1), v_expected)
    explorer.params.sliders["v_th"].value = -55.0
    assert explorer.th_line.get_ydata()[0] == -55.0


def test_current_slider_changes_the_spike_count() -> None:
    explorer = NeuronTraceExplorer(lambda **p: AdaptiveLIF(dt=0.1, **p), current=0.0,
                                   duration=100.0)
    assert explorer.readout.value.startswith("0 spikes")
    explorer.current.value = 4.0
    assert not explorer.readout.value.startswith("0 spikes")


def test_surrogate_explorer_redraws_the_chosen_surrogate() -> None:
    from neuraltide.widgets import SurrogateExplorer

    from neuraltide import surrogate as sg

    ex = SurrogateExplorer(alpha=2.0)
    assert ex.surrogate == sg.ATan(alpha=2.0)
    assert ex.line_d.get_ydata().max() == pytest.approx(1.0)  # ATan peaks at alpha / 2
    ex.kind.value = sg.Gaussian
    ex.alpha.value = 4.0
    x = ex.x
    assert ex.surrogate == sg.Gaussian(alpha=4.0)
    assert torch.allclose(torch.as_tensor(ex.line_d.get_ydata()), sg.Gaussian(4.0).derivative(x))
    assert torch.allclose(torch.as_tensor(ex.line_p.get_ydata()), sg.Gaussian(4.0).primitive(x))

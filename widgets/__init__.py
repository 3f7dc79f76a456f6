"""Interactive components for NeuralTide (Panel/HoloViews/Bokeh, ipywidgets, matplotlib).

Imported as ``neuraltide.widgets``; the core ``neuraltide`` never imports this package. In a
notebook call ``pn.extension()`` first (``pn.extension(inline=True)`` offline), then show a
component's ``.panel``. As apps: ``neuraltide explore neuron|network|stdp|phase``.

* live plots: :class:`RasterPlot`, :class:`MembraneTrace`, :class:`TrainingMonitor`;
* controls: :class:`ParameterPanel` (from any model's parameter metadata), input protocols;
* explorers: :class:`NeuronExplorer`, :class:`NetworkExplorer`, :class:`STDPExplorer`,
  :class:`PhasePlane`;
* ipywidgets + matplotlib: :class:`NeuronTraceExplorer`, :class:`SurrogateExplorer`,
  :class:`ParameterSliders`.
"""

from .network_explorer import NetworkExplorer
from .neuron_explorer import MODELS, ModelChoice, NeuronExplorer
from .params import ParameterPanel
from .phase_plane import AdaptiveLIFPlane, IzhikevichPlane, PhasePlane, Plane
from .protocols import NoisyCurrent, PoissonInput, Protocol, Ramp, Step
from .raster import Density, RasterPlot
from .sliders import NeuronTraceExplorer, ParameterSliders, SurrogateExplorer, slider_for
from .stdp_explorer import STDPExplorer
from .traces import MembraneTrace
from .training_monitor import TrainingMonitor

__all__ = [
    "MODELS",
    "AdaptiveLIFPlane",
    "Density",
    "IzhikevichPlane",
    "MembraneTrace",
    "ModelChoice",
    "NetworkExplorer",
    "NeuronExplorer",
    "NeuronTraceExplorer",
    "NoisyCurrent",
    "ParameterPanel",
    "ParameterSliders",
    "PhasePlane",
    "Plane",
    "PoissonInput",
    "Protocol",
    "Ramp",
    "RasterPlot",
    "STDPExplorer",
    "Step",
    "SurrogateExplorer",
    "TrainingMonitor",
    "slider_for",
]

"""Interactive components for NeuralTide (ipywidgets, Panel/HoloViews, matplotlib).

Imported as ``neuraltide.widgets``; the core ``neuraltide`` never imports this package.
"""

from .sliders import NeuronTraceExplorer, ParameterSliders, SurrogateExplorer, slider_for

__all__ = ["NeuronTraceExplorer", "ParameterSliders", "SurrogateExplorer", "slider_for"]

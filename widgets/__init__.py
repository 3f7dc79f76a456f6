"""Interactive components for NeuralTide (ipywidgets, Panel/HoloViews, matplotlib)."""

"""NeuralTide: differentiable spiking neuron population networks on PyTorch."""

from . import encoding, neurons, surrogate, training, units
from ._params import ParamSpec

__version__ = "0.1.0"

__all__ = [
    "ParamSpec",
    "__version__",
    "encoding",
    "neurons",
    "surrogate",
    "training",
    "units",
]

"""Neuron models: pure step functions on NamedTuple state plus thin ``nn.Module`` wrappers."""

from ._base import NeuronModel, Recording, detach_state
from ._family import (
    Form,
    LIFFamily,
    LIFFamilyParams,
    LIFFamilyState,
    Reset,
    lif_family_step,
)
from .alif import AdaptiveLIF
from .learnable import LearnableNeuron
from .lif import LIF, SynapticLIF

__all__ = [
    "LIF",
    "AdaptiveLIF",
    "Form",
    "LIFFamily",
    "LIFFamilyParams",
    "LIFFamilyState",
    "LearnableNeuron",
    "NeuronModel",
    "Recording",
    "Reset",
    "SynapticLIF",
    "detach_state",
    "lif_family_step",
]

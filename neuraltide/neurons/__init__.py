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
from .hh import (
    HHParams,
    HHState,
    HodgkinHuxley,
    hh_rates,
    hh_relaxation,
    hh_steady_state,
    hh_step,
)
from .izhikevich import (
    Izhikevich,
    IzhikevichParams,
    IzhikevichPreset,
    IzhikevichScheme,
    IzhikevichState,
    izhikevich_derivatives,
    izhikevich_step,
)
from .learnable import LearnableNeuron
from .lif import LIF, SynapticLIF

__all__ = [
    "LIF",
    "AdaptiveLIF",
    "Form",
    "HHParams",
    "HHState",
    "HodgkinHuxley",
    "Izhikevich",
    "IzhikevichParams",
    "IzhikevichPreset",
    "IzhikevichScheme",
    "IzhikevichState",
    "LIFFamily",
    "LIFFamilyParams",
    "LIFFamilyState",
    "LearnableNeuron",
    "NeuronModel",
    "Recording",
    "Reset",
    "SynapticLIF",
    "detach_state",
    "hh_rates",
    "hh_relaxation",
    "hh_steady_state",
    "hh_step",
    "izhikevich_derivatives",
    "izhikevich_step",
    "lif_family_step",
]

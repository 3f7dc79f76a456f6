"""Population networks.

Brian2's vocabulary with PyTorch's autograd: :class:`Population` (any NeuralTide neuron model),
input groups (:class:`PoissonGroup`, :class:`SpikeInput`), :class:`Projection` (connectivity,
weights, synapse model, delays, Dale's law), monitors, and the :class:`Network` that simulates
them, differentiably.
"""

from .connectivity import (
    AllToAll,
    Connectivity,
    FixedInDegree,
    FixedProbability,
    FromIndices,
    FromMatrix,
    OneToOne,
)
from .init import Constant, Init, LogNormal, Normal, Uniform
from .io import load, save
from .monitors import Monitor, PopulationRateMonitor, SpikeMonitor, StateMonitor
from .network import Network, NetworkState
from .population import Group, InputGroup, PoissonGroup, Population, SpikeInput
from .projection import Projection, ProjectionState, Propagation, Sign
from .synapse import Conductance, Delta, Exponential, Synapse

__all__ = [
    "AllToAll",
    "Conductance",
    "Connectivity",
    "Constant",
    "Delta",
    "Exponential",
    "FixedInDegree",
    "FixedProbability",
    "FromIndices",
    "FromMatrix",
    "Group",
    "Init",
    "InputGroup",
    "LogNormal",
    "Monitor",
    "Network",
    "NetworkState",
    "Normal",
    "OneToOne",
    "PoissonGroup",
    "Population",
    "PopulationRateMonitor",
    "Projection",
    "ProjectionState",
    "Propagation",
    "Sign",
    "SpikeInput",
    "SpikeMonitor",
    "StateMonitor",
    "Synapse",
    "Uniform",
    "load",
    "save",
]

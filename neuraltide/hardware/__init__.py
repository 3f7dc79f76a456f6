"""Neuromorphic hardware mapping.

* :mod:`~neuraltide.hardware.quantize`: n-bit weights and neuron parameters, post-training or
  quantization-aware;
* :mod:`~neuraltide.hardware.loihi`: a bit-exact integer simulation of Loihi's LIF neuron;
* :mod:`~neuraltide.hardware.mapping`: partitioning onto cores under Loihi / TrueNorth limits;
* :mod:`~neuraltide.hardware.energy`: operation counts from real runs and energy estimates;
* :mod:`~neuraltide.hardware.nir` / :mod:`~neuraltide.hardware.nir_network`: export to and
  import from NIR, for layer models and population networks.
"""

from .energy import (
    ANN_FP32_45NM,
    ANN_INT8_45NM,
    LOIHI_COSTS,
    SPINNAKER_COSTS,
    Activity,
    EnergyCosts,
    LayerActivity,
    count_activity,
    network_activity,
)
from .loihi import (
    LoihiCompartments,
    LoihiLayer,
    LoihiNetwork,
    LoihiRun,
    Overflow,
    Overflows,
    loihi_lif_step,
    to_loihi,
)
from .mapping import (
    LOIHI,
    TRUENORTH,
    Block,
    Core,
    CoreMap,
    CoreProfile,
    Incoming,
    SynapseGraph,
    Violation,
    map_to_cores,
)
from .nir import DEFAULT_DT, NIRExportError, from_nir, to_nir
from .nir_network import network_from_nir, network_to_nir
from .quantize import FakeQuant, LayerQuant, Quantizer, QuantReport, prepare_qat, quantize

__all__ = [
    "ANN_FP32_45NM",
    "ANN_INT8_45NM",
    "DEFAULT_DT",
    "LOIHI",
    "LOIHI_COSTS",
    "SPINNAKER_COSTS",
    "TRUENORTH",
    "Activity",
    "Block",
    "Core",
    "CoreMap",
    "CoreProfile",
    "EnergyCosts",
    "FakeQuant",
    "Incoming",
    "LayerActivity",
    "LayerQuant",
    "LoihiCompartments",
    "LoihiLayer",
    "LoihiNetwork",
    "LoihiRun",
    "NIRExportError",
    "Overflow",
    "Overflows",
    "QuantReport",
    "Quantizer",
    "SynapseGraph",
    "Violation",
    "count_activity",
    "from_nir",
    "loihi_lif_step",
    "map_to_cores",
    "network_activity",
    "network_from_nir",
    "network_to_nir",
    "prepare_qat",
    "quantize",
    "to_loihi",
    "to_nir",
]

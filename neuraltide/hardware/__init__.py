"""Neuromorphic hardware mapping.

Quantization, fixed-point simulation, core partitioning, energy estimates and NIR export/import.
"""

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
from .nir import DEFAULT_DT, NIRExportError, from_nir, to_nir
from .quantize import FakeQuant, LayerQuant, Quantizer, QuantReport, prepare_qat, quantize

__all__ = [
    "DEFAULT_DT",
    "FakeQuant",
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
    "from_nir",
    "loihi_lif_step",
    "prepare_qat",
    "quantize",
    "to_loihi",
    "to_nir",
]

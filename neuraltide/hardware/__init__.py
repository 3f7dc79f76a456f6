"""Neuromorphic hardware mapping.

Quantization, fixed-point simulation, core partitioning, energy estimates and NIR export/import.
"""

from .nir import DEFAULT_DT, NIRExportError, from_nir, to_nir
from .quantize import FakeQuant, LayerQuant, Quantizer, QuantReport, prepare_qat, quantize

__all__ = [
    "DEFAULT_DT",
    "FakeQuant",
    "LayerQuant",
    "NIRExportError",
    "QuantReport",
    "Quantizer",
    "from_nir",
    "prepare_qat",
    "quantize",
    "to_nir",
]

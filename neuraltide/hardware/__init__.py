"""Neuromorphic hardware mapping.

Quantization, fixed-point simulation, core partitioning, energy estimates and NIR export/import.
"""

from .nir import DEFAULT_DT, NIRExportError, from_nir, to_nir

__all__ = ["DEFAULT_DT", "NIRExportError", "from_nir", "to_nir"]

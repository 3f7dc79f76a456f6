"""Neuromorphic hardware mapping: quantization, fixed-point simulation, core partitioning, energy estimates and NIR export/import."""

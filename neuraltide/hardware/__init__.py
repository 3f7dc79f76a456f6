"""Neuromorphic hardware mapping.

Quantization, fixed-point simulation, core partitioning, energy estimates and NIR export/import.
"""

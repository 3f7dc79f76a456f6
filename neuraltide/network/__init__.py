"""Population networks.

Populations, projections, connectivity, synapses, delays, monitors and the differentiable `Network`
simulator.
"""

"""Population networks: populations, projections, connectivity, synapses, delays, monitors and the differentiable `Network` simulator."""

"""Training SNNs with surrogate gradients: losses on spikes and membranes, rate regularisers."""

from .losses import (
    Readout,
    Reduction,
    Scope,
    count_cross_entropy,
    firing_rates,
    membrane_cross_entropy,
    rate_lower_penalty,
    rate_mse,
    rate_upper_penalty,
)

__all__ = [
    "Readout",
    "Reduction",
    "Scope",
    "count_cross_entropy",
    "firing_rates",
    "membrane_cross_entropy",
    "rate_lower_penalty",
    "rate_mse",
    "rate_upper_penalty",
]

"""Training SNNs with surrogate gradients: layers, losses on spikes and membranes, rate
regularisers."""

from .conversion import convert, layer_scales
from .layers import LeakyReadout, Spiking, SpikingRecurrent, TimeDistributed
from .losses import (
    Readout,
    Reduction,
    Scope,
    count_cross_entropy,
    firing_rates,
    first_spike_cross_entropy,
    first_spike_times,
    membrane_cross_entropy,
    rate_lower_penalty,
    rate_mse,
    rate_upper_penalty,
)
from .online import OnlineTrainer, trace_linear
from .trainer import Callback, EpochMetrics, Trainer

__all__ = [
    "Callback",
    "EpochMetrics",
    "LeakyReadout",
    "OnlineTrainer",
    "Readout",
    "Reduction",
    "Scope",
    "Spiking",
    "SpikingRecurrent",
    "TimeDistributed",
    "Trainer",
    "convert",
    "count_cross_entropy",
    "firing_rates",
    "first_spike_cross_entropy",
    "first_spike_times",
    "layer_scales",
    "membrane_cross_entropy",
    "rate_lower_penalty",
    "rate_mse",
    "rate_upper_penalty",
    "trace_linear",
]

"""Online synaptic plasticity attached to projections.

Pair-based STDP (all-to-all or nearest-spike pairing, additive or multiplicative weight
dependence), triplet STDP (Pfister & Gerstner 2006) and reward-modulated STDP with eligibility
traces; pure steps on trace tuples, run by projections outside autograd.
"""

from ._base import PlasticityRule, gather_outer
from .stdp import (
    Pairing,
    PairSTDP,
    PairTraces,
    RewardModulatedSTDP,
    RewardTraces,
    TripletSTDP,
    TripletTraces,
    WeightDependence,
)

__all__ = [
    "PairSTDP",
    "PairTraces",
    "Pairing",
    "PlasticityRule",
    "RewardModulatedSTDP",
    "RewardTraces",
    "TripletSTDP",
    "TripletTraces",
    "WeightDependence",
    "gather_outer",
]

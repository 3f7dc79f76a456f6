"""Online synaptic plasticity attached to projections.

Pair-based, triplet and reward-modulated STDP.
"""

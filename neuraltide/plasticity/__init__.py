"""Online synaptic plasticity attached to projections: pair-based, triplet and reward-modulated STDP."""

"""Unit multipliers, so code reads like Brian2 without unit objects.

NeuralTide's base units are consistent with one another: **ms, mV, nA, MΩ, nF, µS**
(mV = nA·MΩ, ms = MΩ·nF, nA = µS·mV). Values are plain floats or tensors; multiplying by a
unit converts a quantity into base units, dividing converts it out::

    >>> from neuraltide.units import ms, second, Hz
    >>> tau = 20 * ms           # 20.0 (base unit ms)
    >>> rate = 5 * Hz           # 0.005 spikes per ms
    >>> 1 * second / ms
    1000.0

Hodgkin–Huxley models use membrane densities (µA/cm², mS/cm², µF/cm²), which are consistent
with ms and mV as well (µA/cm² = mS/cm² · mV, ms = µF/cm² / (mS/cm²)).

The one conversion between a time constant and a per-step decay factor lives here too:
``decay = exp(-dt / tau)`` (:func:`decay_from_tau`) and ``tau = -dt / ln(decay)``
(:func:`tau_from_decay`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "Hz",
    "MOhm",
    "decay_from_tau",
    "kHz",
    "mS_per_cm2",
    "mV",
    "ms",
    "nA",
    "nF",
    "pA",
    "pF",
    "second",
    "tau_from_decay",
    "uA_per_cm2",
    "uF_per_cm2",
    "uS",
    "us",
    "volt",
]

# time
ms = 1.0
us = 1e-3
second = 1e3
# voltage
mV = 1.0
volt = 1e3
# current
nA = 1.0
pA = 1e-3
# resistance, capacitance, conductance
MOhm = 1.0
nF = 1.0
pF = 1e-3
uS = 1.0
# rate (spikes per ms)
Hz = 1e-3
kHz = 1.0
# membrane densities (Hodgkin–Huxley)
uA_per_cm2 = 1.0
mS_per_cm2 = 1.0
uF_per_cm2 = 1.0


def decay_from_tau(tau: Tensor | float, dt: float) -> Tensor:
    r"""Per-step decay factor of a linear leak, :math:`\beta = e^{-\Delta t/\tau}`.

    This is the exact solution of :math:`\tau\,\dot x = -x` over one step, and the single
    documented link between the neuroscience form (time constants in ms) and the deep-learning
    form (decay factors ``beta``/``alpha`` in (0, 1)) of every LIF-family model.

    Args:
        tau: time constant [ms], > 0.
        dt: step [ms], > 0.
    """
    tau = torch.as_tensor(tau)
    return torch.exp(-dt / tau)


def tau_from_decay(decay: Tensor | float, dt: float) -> Tensor:
    r"""Inverse of :func:`decay_from_tau`: :math:`\tau = -\Delta t / \ln\beta` [ms]."""
    decay = torch.as_tensor(decay, dtype=torch.get_default_dtype())
    return -dt / torch.log(decay)


def _is_multiple(value: float, step: float) -> bool:
    """True if ``value`` is an integer multiple of ``step`` up to float rounding."""
    n = round(value / step)
    return math.isclose(n * step, value, rel_tol=1e-9, abs_tol=1e-12)

r"""ANN-to-SNN conversion with data-based threshold balancing (Diehl et al. 2015; Rueckauer et
al. 2017).

A trained ReLU network ``Linear → ReLU → ... → Linear`` becomes a spiking network of
integrate-and-fire neurons (:math:`\beta = 1`, threshold 1, reset by subtraction) whose firing
rates approximate the ReLU activations. Each layer's weights are rescaled so that its
activations on calibration data stay below the threshold: with :math:`\lambda_l` the
``percentile`` of layer :math:`l`'s ReLU outputs,

.. math::
    W_l \leftarrow W_l\,\frac{\lambda_{l-1}}{\lambda_l}, \qquad
    b_l \leftarrow \frac{b_l}{\lambda_l}, \qquad \lambda_0 = 1,

and the output layer accumulates its input without leak or threshold, so the class with the
largest accumulated input wins. The rate approximation improves with the number of steps
``T``: the gap to the ANN closes roughly as :math:`1/T`.

Example::

    >>> import torch
    >>> from torch import nn
    >>> from neuraltide.training import convert
    >>> ann = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    >>> snn = convert(ann, torch.rand(100, 4))
    >>> snn(torch.rand(50, 2, 4)).shape          # (T, batch, classes): accumulated input
    torch.Size([50, 2, 3])
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from ..neurons import LIF, Reset
from ..surrogate import StraightThrough
from .layers import LeakyReadout, Spiking

__all__ = ["convert", "layer_scales"]


def _pairs(ann: nn.Sequential) -> list[nn.Linear]:
    mods = list(ann)
    if not mods or not isinstance(mods[-1], nn.Linear):
        raise ValueError("convert: the network must end with nn.Linear (the class scores).")
    linears = []
    for k, m in enumerate(mods):
        if isinstance(m, nn.Linear):
            want_relu = k != len(mods) - 1
            if want_relu and not isinstance(mods[k + 1], nn.ReLU):
                raise ValueError(f"convert: module {k + 1} must be nn.ReLU after nn.Linear "
                                 f"{k}, got {type(mods[k + 1]).__name__}.")
            linears.append(m)
        elif not isinstance(m, nn.ReLU):
            raise ValueError(f"convert: module {k} is {type(m).__name__}; supported are "
                             "nn.Linear and nn.ReLU.")
    return linears


@torch.no_grad()
def layer_scales(ann: nn.Sequential, calibration: Tensor, percentile: float = 99.9
                 ) -> list[float]:
    """:math:`\\lambda_l`: the ``percentile`` of each hidden layer's ReLU outputs on
    ``calibration`` ``(samples, features)``."""
    if not (isinstance(percentile, float | int) and 0 < percentile <= 100):
        raise ValueError(f"convert: percentile must be in (0, 100], got {percentile!r}.")
    if not isinstance(calibration, Tensor) or calibration.dim() != 2 or not len(calibration):
        raise ValueError(f"convert: calibration must be a non-empty (samples, features) "
                         f"tensor, got {getattr(calibration, 'shape', type(calibration))}.")
    if not torch.isfinite(calibration).all():
        raise ValueError("convert: calibration holds NaN or inf values.")
    scales, h = [], calibration
    for m in ann:
        h = m(h)
        if isinstance(m, nn.ReLU):
            lam = float(torch.quantile(h.flatten().float(), percentile / 100))
            scales.append(lam if lam > 0 else 1.0)  # a dead layer keeps its weights
    return scales


def convert(ann: nn.Sequential, calibration: Tensor, *, percentile: float = 99.9
            ) -> nn.Sequential:
    """The spiking twin of a trained ReLU MLP.

    Args:
        ann: ``Linear, ReLU, Linear, ReLU, ..., Linear`` (not modified).
        calibration: training inputs ``(samples, features)`` for the activation statistics.
        percentile: activations above this percentile saturate (99.9 is robust to outliers;
            100 is Diehl's max-norm).

    Returns:
        ``nn.Sequential`` taking a constant (or rate-coded) input ``(T, batch, features)`` and
        returning the output layer's accumulated input ``(T, batch, classes)``; predict with
        ``out[-1].argmax(-1)``.
    """
    linears = _pairs(ann)
    scales = layer_scales(ann, calibration, percentile)
    layers: list[nn.Module] = []
    previous = 1.0
    for k, lin in enumerate(linears):
        new = copy.deepcopy(lin)
        last = k == len(linears) - 1
        lam = 1.0 if last else scales[k]
        with torch.no_grad():
            new.weight.mul_(previous / lam)
            if new.bias is not None:
                new.bias.div_(lam)
        layers.append(new)
        if last:
            layers.append(LeakyReadout(lin.out_features, beta=1.0))
        else:
            # integrate-and-fire: no leak, threshold 1, reset by subtraction keeps the residue
            layers.append(Spiking(LIF.dimensionless(beta=1.0, threshold=1.0,
                                                    reset=Reset.SUBTRACT,
                                                    surrogate=StraightThrough())))
        previous = lam
    return nn.Sequential(*layers)

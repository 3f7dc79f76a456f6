r"""Quantization of weights and neuron parameters to n-bit integers.

Symmetric linear quantization: a weight :math:`w` becomes the integer
:math:`q = \mathrm{round}(w/s)` clipped to :math:`[-(2^{b-1}-1),\, 2^{b-1}-1]` with scale
:math:`s = \max|w| / (2^{b-1}-1)`, one scale per layer or per output channel. Neuron decays become
:math:`b_d`-bit fixed point, :math:`\beta \approx 1 - k/2^{b_d}` (Loihi's 12-bit decays), and a
spiking layer's threshold becomes an integer number of its input layer's weight steps, the unit
its membrane is counted in on hardware.

* post-training: :func:`quantize` returns a quantized copy and a :class:`QuantReport`;
* quantization-aware training: :func:`prepare_qat` makes every weight pass through
  :class:`FakeQuant` (rounding forward, straight-through gradient backward); train as usual, then
  :func:`quantize` gives the integer model.

Example::

    >>> import torch
    >>> from torch import nn
    >>> from neuraltide.hardware import Quantizer, quantize
    >>> net = nn.Sequential(nn.Linear(4, 3))
    >>> q, report = quantize(net, Quantizer(bits=4))
    >>> w = q[0].weight / report.layers[0].scale      # the integers
    >>> bool(torch.equal(w, w.round())), int(w.abs().max())
    (True, 7)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from ..neurons._family import Form, LIFFamily
from ..training.layers import LeakyReadout, Spiking

__all__ = ["FakeQuant", "LayerQuant", "QuantReport", "Quantizer", "prepare_qat", "quantize"]

_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d)


@dataclass(frozen=True, kw_only=True)
class Quantizer:
    """How to quantize.

    Args:
        bits: weight bits including the sign, in [2, 16].
        per_channel: one scale per output channel (row of ``nn.Linear``, filter of a conv)
            instead of one per layer.
        decay_bits: fixed-point bits of neuron decays (:math:`\\beta`, :math:`\\alpha`), in
            [2, 24]; ``None`` leaves them in floating point.
        threshold_bits: unsigned bits of a threshold counted in weight steps, in [2, 32]
            (Loihi: 17); ``None`` leaves thresholds in floating point.
    """

    bits: int = 8
    per_channel: bool = False
    decay_bits: int | None = 12
    threshold_bits: int | None = 17

    def __post_init__(self) -> None:
        for name, lo, hi, none_ok in (("bits", 2, 16, False), ("decay_bits", 2, 24, True),
                                      ("threshold_bits", 2, 32, True)):
            v = getattr(self, name)
            if v is None and none_ok:
                continue
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise ValueError(f"Quantizer: {name} must be an int in [{lo}, {hi}]"
                                 f"{' or None' if none_ok else ''}, got {v!r}.")

    @property
    def qmax(self) -> int:
        """Largest integer magnitude, :math:`2^{b-1}-1`."""
        return 2 ** (self.bits - 1) - 1

    def scale(self, w: Tensor) -> Tensor:
        """The step :math:`s` [weight unit], a scalar or ``(out, 1, ...)`` per channel."""
        w = w.detach()
        if not torch.isfinite(w).all():
            raise ValueError("Quantizer: the weights hold NaN or inf values.")
        peak = (w.abs().amax(dim=tuple(range(1, w.dim())), keepdim=True) if self.per_channel
                else w.abs().max())
        # an all-zero row keeps a unit step rather than dividing by zero
        return torch.where(peak > 0, peak / self.qmax, torch.ones_like(peak))

    def integers(self, w: Tensor, scale: Tensor | None = None) -> Tensor:
        """``round(w / scale)`` clipped to ``[-qmax, qmax]``, as integers in a float tensor."""
        s = self.scale(w) if scale is None else scale
        return torch.clamp(torch.round(w / s), -self.qmax, self.qmax)

    def __call__(self, w: Tensor) -> Tensor:
        """Quantize-dequantize ``w`` (the values a hardware weight can take)."""
        s = self.scale(w)
        return self.integers(w, s) * s


class FakeQuant(nn.Module):
    """Weight parametrization for quantization-aware training: the forward pass sees the
    quantized weight, the gradient passes straight through the rounding (Bengio et al. 2013)."""

    def __init__(self, quantizer: Quantizer) -> None:
        super().__init__()
        self.quantizer = quantizer

    def forward(self, w: Tensor) -> Tensor:
        return w + (self.quantizer(w) - w).detach()


def prepare_qat(model: nn.Module, quantizer: Quantizer) -> nn.Module:
    """Make every ``nn.Linear``/``nn.Conv1d``/``nn.Conv2d`` weight of ``model`` (in place) pass
    through :class:`FakeQuant`; returns ``model``."""
    for m in model.modules():
        if isinstance(m, _WEIGHTED) and not parametrize.is_parametrized(m, "weight"):
            parametrize.register_parametrization(m, "weight", FakeQuant(quantizer))
    return model


@dataclass(frozen=True)
class LayerQuant:
    """What quantization did to one weighted layer."""

    name: str  #: the module's name in the model
    scale: Tensor  #: weight step(s) [weight unit]
    max_abs_error: float  #: largest |w - w_q| [weight unit]
    rms_relative_error: float  #: ||w - w_q|| / ||w||
    threshold: tuple[float, float] | None = None  #: next spiking layer's (before, after)


@dataclass(frozen=True)
class QuantReport:
    """Per-layer scales and errors of one :func:`quantize` call."""

    quantizer: Quantizer
    layers: list[LayerQuant] = field(default_factory=list)
    decays: dict[str, float] = field(default_factory=dict)  #: layer name: largest decay error

    def __str__(self) -> str:
        q = self.quantizer
        lines = [f"{q.bits}-bit {'per-channel' if q.per_channel else 'per-layer'} weights"]
        for lq in self.layers:
            s = lq.scale.flatten()
            scale = f"{float(s[0]):.3g}" if s.numel() == 1 else \
                f"{float(s.min()):.3g}..{float(s.max()):.3g}"
            th = "" if lq.threshold is None else \
                f", threshold {lq.threshold[0]:.4g} -> {lq.threshold[1]:.4g}"
            lines.append(f"  {lq.name}: scale {scale}, max |error| {lq.max_abs_error:.3g}, "
                         f"rms relative error {lq.rms_relative_error:.2%}{th}")
        for name, err in self.decays.items():
            lines.append(f"  {name}: decays to {q.decay_bits} bits, largest error {err:.2e}")
        return "\n".join(lines)


def quantize(model: nn.Module, quantizer: Quantizer = Quantizer()) -> tuple[nn.Module,
                                                                             QuantReport]:
    """Post-training quantization: a copy of ``model`` whose weights are integers times a
    scale, with neuron decays and thresholds quantized as ``quantizer`` says.

    Biases stay in floating point (the fixed-point simulation rounds them into its bias
    register). A model prepared with :func:`prepare_qat` is baked the same way (its
    parametrizations are removed). Thresholds are rounded to the weight grid of the layer
    feeding them, which needs a per-layer scale (``per_channel=False``) and a dimensionless
    LIF-family neuron.

    Returns:
        ``(quantized_model, report)``; the original model is not modified.
    """
    model = _plain_copy(model)
    report = QuantReport(quantizer)
    last: tuple[str, Tensor] | None = None  # (name, scale) of the last weighted layer
    for name, m in model.named_modules():
        if isinstance(m, _WEIGHTED):
            w = m.weight.detach().clone()
            s = quantizer.scale(w)
            wq = quantizer.integers(w, s) * s
            with torch.no_grad():
                m.weight.copy_(wq)
            report.layers.append(LayerQuant(
                name, s.flatten().clone(), float((w - wq).abs().max()),
                float((w - wq).norm() / w.norm().clamp_min(1e-30))))
            last = (name, s)
        elif isinstance(m, Spiking | LeakyReadout) and isinstance(_neuron(m), LIFFamily):
            neuron = _neuron(m)
            if quantizer.decay_bits is not None:
                report.decays[name] = _quantize_decays(neuron, quantizer.decay_bits)
            if (isinstance(m, Spiking) and quantizer.threshold_bits is not None
                    and last is not None):
                th = _quantize_threshold(name, neuron, last[1], quantizer)
                report.layers[-1] = replace(report.layers[-1], threshold=th)
    return model, report


def _plain_copy(model: nn.Module) -> nn.Module:
    """A deep copy without :class:`FakeQuant` parametrizations, ``model`` left as it was."""
    # parametrized modules share a generated class; removing the parametrization from a copy
    # would delete the weight property of the original too, so strip, copy, and restore
    saved = []
    for m in model.modules():
        if parametrize.is_parametrized(m, "weight"):
            saved.append((m, list(m.parametrizations["weight"])))
            parametrize.remove_parametrizations(m, "weight", leave_parametrized=False)
    try:
        return copy.deepcopy(model)
    finally:
        for m, chain in saved:
            for p in chain:
                parametrize.register_parametrization(m, "weight", p)


def _neuron(m: nn.Module) -> object:
    return m.neuron if isinstance(m, Spiking) else m.integrator


def _set(neuron: LIFFamily, name: str, value: Tensor) -> None:
    with torch.no_grad():
        if name in neuron.learned:
            getattr(neuron, "raw_" + name).copy_(neuron.specs[name].to_raw(value))
        else:
            getattr(neuron, name).copy_(value)


def _quantize_decays(neuron: LIFFamily, bits: int) -> float:
    if neuron.form is not Form.DIMENSIONLESS:
        raise ValueError(
            f"quantize: decays are quantized on the dimensionless form; {type(neuron).__name__}"
            " is in the physical form (use decay_bits=None, or the dimensionless form)."
        )
    unit = 2**bits
    worst = 0.0
    for name in ("beta", "alpha", "rho"):
        if name not in neuron.specs:
            continue
        v = neuron.value(name).detach().clone()
        # k/2^bits steps of the decrement 1 - decay; beta stays in (0, 1], alpha in [0, 1)
        vq = 1 - torch.round((1 - v) * unit) / unit
        if name == "beta":
            vq = torch.clamp(vq, min=1 / unit)
        _set(neuron, name, vq)
        worst = max(worst, float((v - neuron.value(name)).abs().max()))
    return worst


def _quantize_threshold(name: str, neuron: LIFFamily, scale: Tensor,
                        quantizer: Quantizer) -> tuple[float, float]:
    if scale.numel() != 1:
        raise ValueError(
            f"quantize: the threshold of {name} is counted in its input's weight steps, which "
            "needs one scale per layer; use per_channel=False or threshold_bits=None."
        )
    key = "threshold"
    if neuron.form is not Form.DIMENSIONLESS:
        raise ValueError(f"quantize: {name} is in the physical form; thresholds are quantized "
                         "on the dimensionless form (or pass threshold_bits=None).")
    th = neuron.value(key).detach().clone()
    steps = torch.round(th / scale)
    top = 2**quantizer.threshold_bits - 1
    if (steps > top).any() or (steps < 1).any():
        raise ValueError(
            f"quantize: the threshold of {name} is {float(th.max()):.4g} = "
            f"{int(steps.max())} weight steps of {float(scale):.3g}, outside [1, {top}] for "
            f"threshold_bits={quantizer.threshold_bits}."
        )
    _set(neuron, key, steps * scale)
    return float(th.flatten()[0]), float(neuron.value(key).flatten()[0])

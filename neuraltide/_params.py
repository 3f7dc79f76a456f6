"""Parameter metadata: unit, valid range, default, description.

Every model parameter is described once by a :class:`ParamSpec`. The same spec drives

* validation, with one message template
  (``"LIF: tau_mem must be > 0 [ms], got -5.0."``),
* the reparametrisation of learnable parameters, so that training cannot leave the valid
  range (softplus above a lower bound, a scaled sigmoid between two bounds),
* the regulariser that keeps learned values inside their ``typical`` range, and
* the sliders that widgets build (range, unit, tooltip).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["ParamSpec", "check_finite_input"]


@dataclass(frozen=True)
class ParamSpec:
    """Metadata of one model parameter.

    Args:
        name: parameter name, following NIR where one exists (``tau_mem``, ``v_th``...).
        default: default value, in ``unit``.
        unit: unit of the value, e.g. ``"ms"``, ``"mV"``, ``"1"`` (dimensionless), ``"steps"``.
        description: one sentence, shown as a tooltip.
        low: lower bound, or ``None`` for unbounded.
        high: upper bound, or ``None`` for unbounded.
        low_open: ``True`` if ``low`` itself is invalid (``> low``), ``False`` for ``>= low``.
        high_open: ``True`` if ``high`` itself is invalid.
        typical: the range a user usually explores (slider range; learned values outside it
            are penalised by the regulariser).
        integer: the value must be a whole number (e.g. a count of steps).
        learnable: whether ``learn=`` may name it (False for values that set the shape of
            the computation, such as a refractory period counted in steps).
    """

    name: str
    default: float
    unit: str
    description: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    typical: tuple[float, float] | None = None
    integer: bool = False
    learnable: bool = True

    # ---- validation -------------------------------------------------------------------
    def constraint(self) -> str:
        """The valid range in words: ``"> 0"``, ``"in (0, 1]"``, ``"any finite value"``."""
        if self.low is not None and self.high is not None:
            lo = "(" if self.low_open else "["
            hi = ")" if self.high_open else "]"
            return f"in {lo}{_fmt(self.low)}, {_fmt(self.high)}{hi}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {_fmt(self.low)}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {_fmt(self.high)}"
        return "finite"

    def is_valid(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.integer and value != round(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (
            self.high is not None
            and (value >= self.high if self.high_open else value > self.high)
        )

    def check(self, owner: str, value: float | Tensor) -> Tensor:
        """Return ``value`` as a float tensor, or raise ``ValueError`` naming the first
        invalid element, the parameter, its valid range and unit."""
        if isinstance(value, Tensor) and value.is_floating_point():
            t = value.detach().clone()
        else:
            try:
                t = torch.as_tensor(value, dtype=torch.get_default_dtype())
            except (TypeError, ValueError, RuntimeError):
                raise ValueError(
                    f"{owner}: {self.name} must be a number {self.constraint()} [{self.unit}], "
                    f"got {value!r}."
                ) from None
        for v in t.flatten().tolist():
            if not self.is_valid(v):
                kind = " whole number" if self.integer else ""
                raise ValueError(
                    f"{owner}: {self.name} must be{kind} {self.constraint()} [{self.unit}], "
                    f"got {v!r}."
                )
        return t

    # ---- reparametrisation of learnable values -----------------------------------------
    def to_raw(self, value: Tensor) -> Tensor:
        """Unconstrained value whose :meth:`from_raw` is ``value``."""
        lo, hi = self.low, self.high
        if lo is not None and hi is not None:
            u = ((value - lo) / (hi - lo)).clamp(1e-6, 1 - 1e-6)
            return torch.logit(u)
        if lo is not None:
            y = (value - lo).clamp_min(1e-6)
            return y + torch.log(-torch.expm1(-y))  # inverse softplus, stable for large y
        if hi is not None:
            y = (hi - value).clamp_min(1e-6)
            return y + torch.log(-torch.expm1(-y))
        return value.clone()

    def from_raw(self, raw: Tensor) -> Tensor:
        """Map an unconstrained tensor into the valid range (differentiably)."""
        lo, hi = self.low, self.high
        if lo is not None and hi is not None:
            return lo + (hi - lo) * torch.sigmoid(raw)
        if lo is not None:
            return lo + F.softplus(raw)
        if hi is not None:
            return hi - F.softplus(raw)
        return raw

    def penalty(self, value: Tensor) -> Tensor:
        """Squared distance of ``value`` outside the ``typical`` range, relative to the range's
        width (0 inside it). Summed over elements."""
        if self.typical is None:
            return value.new_zeros(())
        lo, hi = self.typical
        width = hi - lo
        below = F.relu(lo - value) / width
        above = F.relu(value - hi) / width
        return (below.square() + above.square()).sum()


def check_finite_input(
    owner: str,
    x: Tensor,
    name: str = "input",
    hint: str = "NaN/inf would spread into the neuron state.",
) -> None:
    """Raise ``ValueError`` if ``x`` holds NaN or inf, before it can corrupt a state."""
    x = x.detach()  # a check, not part of the graph: isfinite would keep x for the backward
    if torch.compiler.is_compiling():  # a data-dependent branch would break the graph
        torch._assert_async(torch.isfinite(x).all(), f"{owner}: {name} must be finite. {hint}")
        return
    # NaN and inf make the sum non-finite, so one reduction clears the common case (20x
    # cheaper than isfinite over every element); a sum that overflowed is checked in full
    if x.is_floating_point() and bool(torch.isfinite(x.sum())):
        return
    if not torch.isfinite(x).all():
        bad = (~torch.isfinite(x)).nonzero()[0].tolist()
        value = x[tuple(bad)].item()
        raise ValueError(
            f"{owner}: {name} must be finite, got {value!r} at index {tuple(bad)}; {hint}"
        )


def _fmt(x: float) -> str:
    return f"{x:g}"

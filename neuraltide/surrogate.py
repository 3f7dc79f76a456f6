r"""Surrogate gradients: an exact Heaviside forward, a smooth derivative backward.

A spiking neuron emits :math:`s = H(v - \vartheta)`, whose derivative is zero almost
everywhere, so no gradient reaches the weights. A *surrogate gradient* keeps the exact step in
the forward pass and, in the backward pass only, replaces :math:`H'` by the derivative
:math:`g(x)` of a smooth relaxation :math:`\sigma(x)` of the step (Neftci, Mostafa & Zenke 2019).

Every surrogate here is a small frozen object with one sharpness parameter ``alpha`` (larger is
sharper) and two methods: :meth:`Surrogate.derivative` (what the backward pass uses) and
:meth:`Surrogate.primitive` (the smooth function it is the derivative of). ``x`` is always the
distance to threshold, :math:`x = v - \vartheta`, in the model's voltage unit.

* ``Sigmoid``: :math:`g = \alpha\,\sigma(\alpha x)(1-\sigma(\alpha x))`,
  primitive :math:`\sigma(\alpha x)`.
* ``FastSigmoid`` (SuperSpike): :math:`g = 1/(1+\alpha|x|)^2`, primitive :math:`x/(1+\alpha|x|)`.
* ``ATan``: :math:`g = \tfrac{\alpha}{2}/(1+(\tfrac{\pi}{2}\alpha x)^2)`,
  primitive :math:`\tfrac12+\tfrac1\pi\arctan(\tfrac\pi2\alpha x)`.
* ``Gaussian``: :math:`g = \tfrac{\alpha}{\sqrt{2\pi}}e^{-(\alpha x)^2/2}`,
  primitive :math:`\tfrac12(1+\mathrm{erf}(\alpha x/\sqrt2))`.
* ``Triangle``: :math:`g = \alpha\max(0, 1-\alpha|x|)`, primitive piecewise quadratic.
* ``StraightThrough``: :math:`g = \mathbb 1[|x| \le 1/\alpha]`,
  primitive :math:`\mathrm{clip}(x, -1/\alpha, 1/\alpha)`.
* ``Custom``: any user function ``fn(x, alpha)``, with an optional primitive.

``Sigmoid``, ``FastSigmoid`` and ``ATan`` use the same formulas and default sharpness as
snnTorch (``surrogate.sigmoid(slope=25)``, ``fast_sigmoid(slope=25)``, ``atan(alpha=2)``), so
gradients agree with it. The forward is ``x > 0`` in every case: a membrane exactly at
threshold does not spike.

Example::

    >>> import torch
    >>> from neuraltide.surrogate import ATan, spike
    >>> x = torch.tensor([-0.5, 0.0, 0.5], requires_grad=True)
    >>> s = spike(x, ATan(alpha=2.0))
    >>> s
    tensor([0., 0., 1.], grad_fn=<SpikeFunctionBackward>)
    >>> s.sum().backward()
    >>> x.grad
    tensor([0.2884, 1.0000, 0.2884])
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "ATan",
    "Custom",
    "FastSigmoid",
    "Gaussian",
    "Sigmoid",
    "StraightThrough",
    "Surrogate",
    "Triangle",
    "check",
    "from_name",
    "smooth",
    "spike",
]


@dataclass(frozen=True)
class Surrogate(ABC):
    """A smooth stand-in for the derivative of the Heaviside step.

    Args:
        alpha: sharpness [1 / voltage unit], > 0. Larger values concentrate the gradient
            closer to the threshold.
    """

    alpha: float = 1.0

    def __post_init__(self) -> None:
        if not (isinstance(self.alpha, (int, float)) and math.isfinite(self.alpha)) or (
            self.alpha <= 0
        ):
            raise ValueError(
                f"{type(self).__name__}: alpha must be > 0 [1/voltage unit], got {self.alpha!r}."
            )

    @abstractmethod
    def derivative(self, x: Tensor) -> Tensor:
        """Surrogate :math:`g(x)` used in place of :math:`H'(x)` in the backward pass."""

    @abstractmethod
    def primitive(self, x: Tensor) -> Tensor:
        """A smooth function whose derivative is exactly :meth:`derivative`."""


@dataclass(frozen=True)
class Sigmoid(Surrogate):
    """Logistic relaxation (Zenke & Ganguli 2018; snnTorch ``sigmoid``)."""

    alpha: float = 25.0

    def derivative(self, x: Tensor) -> Tensor:
        s = torch.sigmoid(self.alpha * x)
        return self.alpha * s * (1 - s)

    def primitive(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.alpha * x)


@dataclass(frozen=True)
class FastSigmoid(Surrogate):
    """SuperSpike's fast sigmoid (Zenke & Ganguli 2018; snnTorch ``fast_sigmoid``).

    The primitive :math:`x/(1+\\alpha|x|)` spans :math:`(-1/\\alpha, 1/\\alpha)`: the gradient
    peaks at 1, as in snnTorch, rather than integrating to 1.
    """

    alpha: float = 25.0

    def derivative(self, x: Tensor) -> Tensor:
        return 1.0 / (self.alpha * torch.abs(x) + 1.0) ** 2

    def primitive(self, x: Tensor) -> Tensor:
        return x / (1.0 + self.alpha * torch.abs(x))


@dataclass(frozen=True)
class ATan(Surrogate):
    """Arctangent relaxation (Fang et al. 2021; snnTorch ``atan``, SpikingJelly ``ATan``)."""

    alpha: float = 2.0

    def derivative(self, x: Tensor) -> Tensor:
        return self.alpha / 2 / (1 + (math.pi / 2 * self.alpha * x) ** 2)

    def primitive(self, x: Tensor) -> Tensor:
        return 0.5 + torch.atan(math.pi / 2 * self.alpha * x) / math.pi


@dataclass(frozen=True)
class Gaussian(Surrogate):
    """Gaussian bump of width ``1/alpha`` (the normal CDF as relaxation; integrates to 1)."""

    alpha: float = 2.0

    def derivative(self, x: Tensor) -> Tensor:
        return self.alpha / math.sqrt(2 * math.pi) * torch.exp(-0.5 * (self.alpha * x) ** 2)

    def primitive(self, x: Tensor) -> Tensor:
        return 0.5 * (1 + torch.erf(self.alpha * x / math.sqrt(2)))


@dataclass(frozen=True)
class Triangle(Surrogate):
    """Triangular (piecewise linear) bump of half-width ``1/alpha`` (Esser et al. 2016;
    Bellec et al. 2018 use ``alpha = 1``); integrates to 1."""

    alpha: float = 1.0

    def derivative(self, x: Tensor) -> Tensor:
        return self.alpha * torch.clamp(1 - self.alpha * torch.abs(x), min=0)

    def primitive(self, x: Tensor) -> Tensor:
        y = torch.clamp(self.alpha * x, -1.0, 1.0)
        return torch.where(y < 0, 0.5 * (1 + y) ** 2, 1 - 0.5 * (1 - y) ** 2)


@dataclass(frozen=True)
class StraightThrough(Surrogate):
    """Straight-through estimator with saturation (Bengio et al. 2013; Hubara et al. 2016):
    the gradient passes unchanged where ``|x| <= 1/alpha`` and is zero outside."""

    alpha: float = 1.0

    def derivative(self, x: Tensor) -> Tensor:
        return (torch.abs(x) <= 1.0 / self.alpha).to(x.dtype)

    def primitive(self, x: Tensor) -> Tensor:
        return torch.clamp(x, -1.0 / self.alpha, 1.0 / self.alpha)


@dataclass(frozen=True)
class Custom(Surrogate):
    """A user-defined surrogate from any derivative function.

    Args:
        fn: ``fn(x, alpha) -> Tensor``, the surrogate derivative; elementwise, differentiable
            by autograd if second-order gradients are wanted.
        primitive_fn: optional ``primitive_fn(x, alpha)`` whose derivative is ``fn``; only
            :func:`smooth` needs it.
        alpha: sharpness passed to both functions, > 0.

    Example::

        >>> import torch
        >>> sg = Custom(fn=lambda x, a: a / (2 * torch.cosh(a * x) ** 2),
        ...             primitive_fn=lambda x, a: 0.5 * (1 + torch.tanh(a * x)), alpha=3.0)
    """

    fn: Callable[[Tensor, float], Tensor] | None = None
    primitive_fn: Callable[[Tensor, float], Tensor] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not callable(self.fn):
            raise ValueError(f"Custom: fn must be a callable fn(x, alpha), got {self.fn!r}.")

    def derivative(self, x: Tensor) -> Tensor:
        return self.fn(x, self.alpha)  # type: ignore[misc]

    def primitive(self, x: Tensor) -> Tensor:
        if self.primitive_fn is None:
            raise ValueError(
                "Custom: primitive_fn is needed for smooth(); pass primitive_fn=... "
                "whose derivative is fn."
            )
        return self.primitive_fn(x, self.alpha)


class SpikeFunction(torch.autograd.Function):
    """Heaviside forward (``x > 0``), surrogate derivative backward."""

    @staticmethod
    def forward(ctx, x: Tensor, surrogate: Surrogate) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad_output * ctx.surrogate.derivative(x), None


class _SmoothFunction(torch.autograd.Function):
    """Primitive forward, the same surrogate derivative backward: lets ``gradcheck`` verify
    each surrogate's backward formula against finite differences of its primitive."""

    @staticmethod
    def forward(ctx, x: Tensor, surrogate: Surrogate) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return surrogate.primitive(x)

    @staticmethod
    def backward(ctx, grad_output: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad_output * ctx.surrogate.derivative(x), None


def check(owner: str, surrogate: object) -> None:
    """Raise ``ValueError`` unless ``surrogate`` is a :class:`Surrogate` object."""
    if not isinstance(surrogate, Surrogate):
        raise ValueError(
            f"{owner}: surrogate must be a Surrogate object such as ATan(), got {surrogate!r}; "
            "neuraltide.surrogate.from_name() looks one up by name."
        )


def spike(x: Tensor, surrogate: Surrogate) -> Tensor:
    """Spikes :math:`H(x)` (1.0 where ``x > 0``) with ``surrogate``'s gradient.

    Args:
        x: distance to threshold :math:`v - \\vartheta`, any shape.
        surrogate: a :class:`Surrogate` object, e.g. ``ATan(alpha=2.0)``.
    """
    if not isinstance(surrogate, Surrogate):
        raise TypeError(
            f"spike: surrogate must be a Surrogate object such as ATan(), got {surrogate!r}; "
            "use neuraltide.surrogate.from_name() to look one up by name."
        )
    return SpikeFunction.apply(x, surrogate)


def smooth(x: Tensor, surrogate: Surrogate) -> Tensor:
    """The smooth relaxation whose gradient the surrogate is (forward = primitive).

    Used to check each surrogate with ``torch.autograd.gradcheck`` and to plot it.
    """
    return _SmoothFunction.apply(x, surrogate)


_BY_NAME: dict[str, type[Surrogate]] = {
    "sigmoid": Sigmoid,
    "fast_sigmoid": FastSigmoid,
    "atan": ATan,
    "gaussian": Gaussian,
    "triangle": Triangle,
    "straight_through": StraightThrough,
}


def from_name(name: str, **kwargs: float) -> Surrogate:
    """Convenience lookup: ``from_name("atan", alpha=2.0)`` -> ``ATan(alpha=2.0)``."""
    try:
        cls = _BY_NAME[name]
    except KeyError:
        raise ValueError(
            f"from_name: name must be one of {sorted(_BY_NAME)}, got {name!r}."
        ) from None
    return cls(**kwargs)

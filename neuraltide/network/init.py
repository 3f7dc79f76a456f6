"""Initialisers: how weights, per-synapse delays and initial state values are drawn.

An initialiser is a frozen object with ``sample(shape, generator) -> Tensor``; a plain number
means a constant. Draws use the network's seeded generator, so a network is reproducible.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["Constant", "Init", "LogNormal", "Normal", "Uniform", "as_init"]


class Init(ABC):
    """Draws values of a given shape."""

    @abstractmethod
    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
        """Values shaped ``shape`` (float64 on the CPU; the caller casts)."""


@dataclass(frozen=True)
class Constant(Init):
    """Every value equal to ``value``."""

    value: float

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
        return torch.full(shape, float(self.value), dtype=torch.float64)


@dataclass(frozen=True)
class Uniform(Init):
    """Uniform on ``[low, high)``, ``low <= high``."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not (self.low <= self.high):
            raise ValueError(
                f"Uniform: high must be >= low={self.low!r}, got {self.high!r}."
            )

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
        u = torch.rand(shape, generator=generator, dtype=torch.float64)
        return self.low + (self.high - self.low) * u


@dataclass(frozen=True)
class Normal(Init):
    """Normal with ``mean`` and standard deviation ``std >= 0``."""

    mean: float
    std: float

    def __post_init__(self) -> None:
        if not (self.std >= 0):
            raise ValueError(f"Normal: std must be >= 0, got {self.std!r}.")

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
        z = torch.randn(shape, generator=generator, dtype=torch.float64)
        return self.mean + self.std * z


@dataclass(frozen=True)
class LogNormal(Init):
    """``exp(N(mu, sigma))``: positive values, heavy-tailed (cortical weight statistics)."""

    mu: float
    sigma: float

    def __post_init__(self) -> None:
        if not (self.sigma >= 0):
            raise ValueError(f"LogNormal: sigma must be >= 0, got {self.sigma!r}.")

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
        z = torch.randn(shape, generator=generator, dtype=torch.float64)
        return torch.exp(self.mu + self.sigma * z)


def as_init(owner: str, name: str, value: object) -> Init | Tensor:
    """A number becomes :class:`Constant`; an :class:`Init` or a tensor passes through."""
    if isinstance(value, Init | Tensor):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Constant(float(value))
    raise ValueError(
        f"{owner}: {name} must be a number, a tensor or an initialiser "
        f"(Constant, Uniform, Normal, LogNormal), got {value!r}."
    )

r"""Fused kernels: the LIF-family time scan in one C++/CUDA op, behind a backend selector.

The LIF family (LIF, SynapticLIF, AdaptiveLIF, LearnableNeuron) scans
``neurons.lif_family_step`` over time. :func:`lif_scan` does the same ``T`` steps in one call
of a C++ op (``csrc/lif_scan.h`` holds the per-neuron scan, shared by the CPU twin and the CUDA
kernel): identical spikes and state, gradients equal to autograd through the reference up to
rounding, and nothing kept per neuron-step for the backward but a reference to the input (the
backward recomputes the forward, a block of neurons at a time).

* :class:`Backend` picks the path: ``AUTO`` (fused where it can run, else the reference with
  one warning), ``FUSED`` (raise if it cannot run), ``TORCH`` (always the reference).
* :func:`select` is the one dispatch point: it returns :func:`lif_scan` or ``None`` (then the
  model scans its step in PyTorch).
* :func:`available` builds on first call (about a minute cold, cached in ``TORCH_EXTENSIONS_DIR``)
  and reports what was built. Importing this package builds nothing.
* :func:`host_cache_info`, :func:`empty_host_cache`, :func:`set_host_cache_limit`: the cache of
  memory blocks that large CPU outputs reuse (no page faults when a size comes again).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from enum import Enum
from typing import Any

import torch

from ._build import BuildStatus, load
from ._host_cache import HostCacheInfo, empty_host_cache, host_cache_info, set_host_cache_limit
from ._ops import (
    LIFScanTraces,
    ResetKind,
    SurrogateKind,
    lif_scan,
    lif_scan_traces,
    reset_kind,
    surrogate_kind,
)

__all__ = [
    "Backend",
    "BuildStatus",
    "HostCacheInfo",
    "LIFScanTraces",
    "ResetKind",
    "SurrogateKind",
    "available",
    "empty_host_cache",
    "host_cache_info",
    "lif_scan",
    "lif_scan_traces",
    "reset_kind",
    "select",
    "set_host_cache_limit",
    "surrogate_kind",
]


class Backend(Enum):
    """Which implementation a LIF-family model runs."""

    AUTO = "auto"  #: the fused kernel where it can run, else the reference (one warning)
    FUSED = "fused"  #: the fused kernel; raise RuntimeError if it cannot run
    TORCH = "torch"  #: the pure-PyTorch reference scan


_MODELS = ("lif",)
_warned: set[str] = set()  # fallback reasons already warned about in this process


def available() -> BuildStatus:
    """Build the kernels if not done yet (first call only) and report what was built.

    Returns:
        :class:`BuildStatus` ``(cpu, cuda, error)``.

    Example::

        >>> from neuraltide.kernels import available
        >>> available().cpu  # doctest: +SKIP
        True
    """
    return load()


def _why_not(device: torch.device, dtype: torch.dtype, surrogate: object) -> str | None:
    """Why the fused kernel cannot run this case, or ``None`` if it can."""
    if surrogate_kind(surrogate) is None:
        return (
            f"the surrogate {type(surrogate).__name__} is not supported by the fused kernel "
            "(built-in surrogates only: Sigmoid, FastSigmoid, ATan, Gaussian, Triangle, "
            "StraightThrough)"
        )
    if dtype not in (torch.float32, torch.float64):
        return f"the fused kernel runs float32 and float64 only, got {dtype}"
    if device.type not in ("cpu", "cuda"):
        return f"the fused kernel runs on CPU and CUDA only, got device {device}"
    built = load()
    if built.error is not None:
        return f"the fused kernel could not be built ({built.error})"
    if device.type == "cuda" and not built.cuda:
        return "neuraltide's fused kernel was built without CUDA"
    return None


def select(
    model: str,
    backend: Backend,
    *,
    device: torch.device | str,
    dtype: torch.dtype,
    surrogate: object,
) -> Callable[..., tuple[torch.Tensor, Any]] | None:
    """The one dispatch point: the fused op for ``model``, or ``None`` for the reference scan.

    Args:
        model: kernel family; ``"lif"`` (LIF, SynapticLIF, AdaptiveLIF, LearnableNeuron).
        backend: a :class:`Backend`.
        device: where the input lives.
        dtype: the input's dtype.
        surrogate: the model's surrogate object.

    Returns:
        :func:`lif_scan` (call it as ``fn(x_seq, state, params, reset=..., n_ref=...,
        detach_reset=..., surrogate=...)``), or ``None``: scan the step in PyTorch.

    Raises:
        ValueError: unknown ``model`` or ``backend``.
        RuntimeError: ``backend=Backend.FUSED`` and the fused kernel cannot run this case.
    """
    if model not in _MODELS:
        raise ValueError(f"kernels.select: model must be one of {_MODELS}, got {model!r}.")
    if not isinstance(backend, Backend):
        options = ", ".join(f"Backend.{m.name}" for m in Backend)
        raise ValueError(f"kernels.select: backend must be one of {options}, got {backend!r}.")
    if backend is Backend.TORCH:
        return None
    reason = _why_not(torch.device(device), dtype, surrogate)
    if reason is None:
        return lif_scan
    if backend is Backend.FUSED:
        raise RuntimeError(
            f"backend=Backend.FUSED requested but {reason}; use Backend.AUTO to fall back to "
            "the pure-PyTorch scan."
        )
    if reason not in _warned:
        _warned.add(reason)
        warnings.warn(
            f"backend=Backend.AUTO: {reason}; running the pure-PyTorch scan instead.",
            RuntimeWarning,
            stacklevel=2,
        )
    return None

r"""The block cache of the fused kernel's CPU outputs, seen from Python.

Large CPU outputs of :func:`~neuraltide.kernels.lif_scan` (spikes, traces, input gradients of
1 MiB or more) come from a cache of memory blocks that earlier outputs gave back, so a training
loop that asks for the same sizes every iteration touches their pages once instead of faulting
them in again (``csrc/host_cache.h``). The cache holds at most a limit of idle bytes (default:
1/8 of physical memory, at most 4 GiB; the environment variable ``NEURALTIDE_HOST_CACHE_MB``
sets it at start-up, ``0`` turns the cache off). Memory still in use by tensors is never freed
by these functions; only idle blocks are.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ._build import load

__all__ = ["HostCacheInfo", "empty_host_cache", "host_cache_info", "set_host_cache_limit"]


class HostCacheInfo(NamedTuple):
    """What the block cache holds, in bytes, and how often it served a request."""

    idle_bytes: int  #: held by the cache for the next output, not in use
    in_use_bytes: int  #: handed to tensors that are still alive
    limit_bytes: int  #: the most idle bytes kept (0: the cache is off)
    hits: int  #: outputs served from an idle block
    misses: int  #: outputs that allocated a new block


def _ops() -> object:
    built = load()
    if not built.cpu:
        raise RuntimeError(f"the fused kernel could not be built ({built.error}), so there "
                           "is no host cache.")
    return torch.ops.neuraltide


def host_cache_info() -> HostCacheInfo:
    """The cache's counters (builds the kernel on first call).

    Example::

        >>> from neuraltide.kernels import host_cache_info
        >>> host_cache_info().limit_bytes > 0  # doctest: +SKIP
        True
    """
    return HostCacheInfo(*(int(v) for v in _ops().host_cache_stats()))


def empty_host_cache() -> None:
    """Free every idle block (as ``torch.cuda.empty_cache`` does for the GPU)."""
    _ops().host_cache_empty()


def set_host_cache_limit(limit_bytes: int) -> None:
    """Keep at most ``limit_bytes`` idle bytes (idle blocks beyond it are freed now, oldest
    first); ``0`` turns the cache off.

    Raises:
        ValueError: ``limit_bytes`` is not an int >= 0.
    """
    if not isinstance(limit_bytes, int) or isinstance(limit_bytes, bool) or limit_bytes < 0:
        raise ValueError(f"set_host_cache_limit: limit_bytes must be an int >= 0 [bytes], got "
                         f"{limit_bytes!r}.")
    _ops().host_cache_set_limit(limit_bytes)

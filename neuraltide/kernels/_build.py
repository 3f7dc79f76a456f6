"""Just-in-time build of the fused kernels (``csrc/``) with ``torch.utils.cpp_extension``.

Nothing is built at import. The first call of :func:`load` compiles the C++ sources into
``TORCH_EXTENSIONS_DIR`` (default ``~/.cache/torch_extensions``; about 4 minutes cold on 2
cores, 0.02 s when cached), loads the library, which registers the ``torch.ops.neuraltide``
ops and their autograd, and registers their fake (meta) implementations. The outcome, success
or the reason of failure, is remembered for the process, so a failed build is tried once only.

CUDA sources are compiled only when torch itself has CUDA and ``CUDA_HOME`` is known; set
``NEURALTIDE_BUILD_CUDA=0`` to skip them or ``=1`` to insist (a failure is then reported).
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from pathlib import Path
from typing import NamedTuple

import torch

__all__ = ["BuildStatus", "load", "status"]

CSRC = Path(__file__).resolve().parent / "csrc"
_NAME = "neuraltide_kernels"
# -ffp-contract=off: no fused multiply-add on the host, so the forward is bit-identical to
# PyTorch's one-operation-at-a-time evaluation (the device code uses *_rn intrinsics).
# -fno-trapping-math: no program here reads floating-point exception flags, and without it GCC
# may not turn a select between two computed values into a vector blend (a refractory
# neuron's step stayed scalar, 4x slower); values and rounding are unchanged by it.
_CFLAGS = ["-O3", "-ffp-contract=off", "-fno-fast-math", "-fno-trapping-math"]
# at::parallel_for is a header template that runs serially unless the extension itself is
# built with OpenMP; the library then shares torch's libgomp (same soname, already loaded),
# so torch.set_num_threads applies to it. Linux only: macOS compilers lack -fopenmp.
_OPENMP = ["-fopenmp"] if sys.platform.startswith("linux") else []
_CUDA_FLAGS = ["-O3", "--fmad=false"]


class BuildStatus(NamedTuple):
    """What the just-in-time build produced.

    Attributes:
        cpu: the CPU implementation is registered.
        cuda: the CUDA implementation is registered.
        error: why the build failed or was not tried (``None`` on success).
    """

    cpu: bool
    cuda: bool
    error: str | None


_lock = threading.Lock()
_result: list[BuildStatus] = []  # filled once per process by load()


def _want_cuda() -> bool:
    flag = os.environ.get("NEURALTIDE_BUILD_CUDA", "")
    if flag == "0":
        return False
    has_cuda = bool(torch.version.cuda) and torch.cuda.is_available()
    if flag == "1":
        return True
    from torch.utils import cpp_extension

    return has_cuda and cpp_extension.CUDA_HOME is not None


def _ops_registered() -> bool:
    try:
        torch.ops.neuraltide.lif_scan_fwd  # noqa: B018 (attribute lookup raises if absent)
    except (AttributeError, RuntimeError):
        return False
    return True


def _build() -> BuildStatus:
    from torch.utils import cpp_extension

    cxx = os.environ.get("CXX", "c++")
    if shutil.which(cxx) is None:
        return BuildStatus(False, False, f"no C++ compiler: {cxx!r} is not on PATH")
    if not cpp_extension.is_ninja_available():
        return BuildStatus(False, False, "ninja is not installed (pip install ninja)")
    cuda = _want_cuda()
    sources = [str(CSRC / name) for name in
               ("binding.cpp", "lif_autograd.cpp", "lif_cpu.cpp", "host_cache.cpp",
                "network_cpu.cpp")]
    cflags = [*_CFLAGS, *_OPENMP]
    if cuda:
        sources.append(str(CSRC / "lif_cuda.cu"))
        cflags.append("-DNT_WITH_CUDA")
    if not _ops_registered():
        try:
            cpp_extension.load(
                name=_NAME + ("_cuda" if cuda else ""),
                sources=sources,
                extra_include_paths=[str(CSRC)],
                extra_cflags=cflags,
                extra_ldflags=list(_OPENMP),
                extra_cuda_cflags=[*_CUDA_FLAGS, "-DNT_WITH_CUDA"],
                is_python_module=False,
                verbose=False,
            )
        except Exception as exc:  # compiler or linker errors, missing headers...
            text = str(exc).strip().splitlines()
            tail = "\n".join(text[-15:])
            return BuildStatus(False, False, f"building {_NAME} failed: {tail}")
    from . import _ops

    _ops.register_python_parts()
    return BuildStatus(True, cuda, None)


def load() -> BuildStatus:
    """Build (first call only) and load the fused kernels; never raises on a failed build."""
    if _result:  # lock-free once known (also keeps torch.compile from tracing the lock)
        return _result[0]
    with _lock:
        if not _result:
            _result.append(_build())
        return _result[0]


def status() -> BuildStatus | None:
    """The build's outcome, or ``None`` if nothing was built yet (builds nothing)."""
    return _result[0] if _result else None

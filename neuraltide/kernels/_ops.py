r"""The fused LIF-family scan as a differentiable PyTorch function.

:func:`lif_scan` runs ``T`` steps of ``neuraltide.neurons.lif_family_step`` in one call of the
``torch.ops.neuraltide.lif_scan_fwd`` custom op (C++ ``csrc/``): the same equations, evaluated
in the same order, so spikes and state traces are bit-identical to the scanned reference in
float32 and float64; its backward (``lif_scan_bwd``, registered as the op's autograd in C++,
``csrc/lif_autograd.cpp``) recomputes the forward from the input and runs the scan in reverse
time with the surrogate derivative, returning gradients for the input, the initial
state (``i, v, a, s``) and all eight parameters. Nothing per step is kept for the backward
but the input itself (autograd holds a reference to it: ``sizeof(dtype)`` bytes per
neuron-step, where the PyTorch scan keeps at least as much and, with learned parameters,
several times more).

This module sees only tensors and numbers: the state and parameters are passed as tuples in
the field order of ``LIFFamilyState`` ``(i, v, a, s, ref)`` and ``LIFFamilyParams``
``(beta, alpha, rho, adapt, v_rest, gain, v_th, v_reset)``, and ``reset`` is a
``neurons.Reset`` member (or its value string).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum, IntEnum
from typing import Any, NamedTuple

import torch
from torch import Tensor

from .. import surrogate as sg
from .._params import check_finite_input

__all__ = [
    "LIFScanTraces",
    "ResetKind",
    "SurrogateKind",
    "lif_scan",
    "lif_scan_traces",
    "reset_kind",
    "surrogate_kind",
]


class ResetKind(IntEnum):
    """Reset codes of the kernel (``csrc/lif_scan.h`` ``ResetKind``)."""

    SUBTRACT = 0
    SUBTRACT_AFTER_LEAK = 1
    TO_VALUE = 2
    NONE = 3


class SurrogateKind(IntEnum):
    """Surrogate codes of the kernel (``csrc/lif_scan.h`` ``SurrogateKind``)."""

    SIGMOID = 0
    FAST_SIGMOID = 1
    ATAN = 2
    GAUSSIAN = 3
    TRIANGLE = 4
    STRAIGHT_THROUGH = 5


_SURROGATES: dict[type, SurrogateKind] = {
    sg.Sigmoid: SurrogateKind.SIGMOID,
    sg.FastSigmoid: SurrogateKind.FAST_SIGMOID,
    sg.ATan: SurrogateKind.ATAN,
    sg.Gaussian: SurrogateKind.GAUSSIAN,
    sg.Triangle: SurrogateKind.TRIANGLE,
    sg.StraightThrough: SurrogateKind.STRAIGHT_THROUGH,
}
_RESETS = {k.name.lower(): k for k in ResetKind}
_PARAM_FIELDS = ("beta", "alpha", "rho", "adapt", "v_rest", "gain", "v_th", "v_reset")
_STATE_FIELDS = ("i", "v", "a", "s", "ref")


def surrogate_kind(surrogate: object) -> SurrogateKind | None:
    """The kernel's code for a built-in surrogate, ``None`` if the kernel cannot run it
    (``Custom`` or any subclass that may change the derivative)."""
    return _SURROGATES.get(type(surrogate))


def reset_kind(reset: Enum | str) -> ResetKind:
    """The kernel's code for ``reset`` (a ``neurons.Reset`` member or its value string)."""
    key = reset.value if isinstance(reset, Enum) else reset
    if not isinstance(key, str) or key not in _RESETS:
        options = ", ".join(repr(k) for k in _RESETS)
        raise ValueError(f"lif_scan: reset must be one of {options} (Reset), got {reset!r}.")
    return _RESETS[key]


class LIFScanTraces(NamedTuple):
    """What :func:`lif_scan_traces` returns (all sequences shaped like ``x_seq``).

    Attributes:
        spikes: ``(T, batch..., *neurons)`` spikes (0.0 / 1.0).
        state: the final state, of the type passed in.
        v: membrane after each step, before its reset [mV or 1].
        i: synaptic current after each step [nA or 1].
        a: threshold adaptation after each step [mV or 1].
    """

    spikes: Tensor
    state: Any
    v: Tensor
    i: Tensor
    a: Tensor


def _check(x_seq: Tensor, state: Sequence[Tensor], params: Sequence[Tensor]) -> None:
    if not isinstance(x_seq, Tensor) or x_seq.dim() < 1 or x_seq.shape[0] == 0:
        raise ValueError(
            "lif_scan: x_seq must be a tensor shaped (T, batch..., *neurons) with T >= 1, "
            f"got {getattr(x_seq, 'shape', type(x_seq))}."
        )
    if x_seq.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"lif_scan: x_seq must be float32 or float64, got {x_seq.dtype}.")
    if len(state) != len(_STATE_FIELDS):
        raise ValueError(
            f"lif_scan: state must have the {len(_STATE_FIELDS)} fields {_STATE_FIELDS} "
            f"(LIFFamilyState), got {len(state)}."
        )
    if len(params) != len(_PARAM_FIELDS):
        raise ValueError(
            f"lif_scan: params must have the {len(_PARAM_FIELDS)} fields {_PARAM_FIELDS} "
            f"(LIFFamilyParams), got {len(params)}."
        )


def _as_tensor(t: Tensor | float, like: Tensor) -> Tensor:
    if isinstance(t, Tensor):
        return t.to(device=like.device, dtype=like.dtype)  # differentiable cast
    return torch.as_tensor(t, dtype=like.dtype, device=like.device)


def _flat(t: Tensor | float, name: str, step: torch.Size, like: Tensor) -> Tensor:
    """``t`` broadcast to one step's shape and flattened to ``(M,)`` (differentiably)."""
    t = _as_tensor(t, like)
    try:
        return (t if t.shape == step else t.expand(step)).reshape(-1)
    except RuntimeError:
        raise ValueError(
            f"lif_scan: {name} has shape {tuple(t.shape)}, which does not broadcast to one "
            f"step of input {tuple(step)}."
        ) from None


def _param_block(params: Sequence[Tensor | float], step: torch.Size, like: Tensor) -> Tensor:
    """The ``(8, P)`` parameter block of the op: the step's trailing dimensions over which
    some parameter varies, flattened (neuron ``m`` of the ``M`` per step reads column
    ``m % P``). Per-layer parameters give ``P = 1``, per-neuron ones ``P`` = neurons per sample,
    so a batch never copies its parameters ``M`` times."""
    if all(isinstance(t, Tensor) and t.dim() == 0 for t in params):
        # per layer, the common case: one column (one stack, one differentiable cast)
        return _as_tensor(torch.stack(tuple(params)), like).reshape(len(params), 1)
    tensors = [_as_tensor(t, like) for t in params]
    first = len(step)  # the first step dimension along which a parameter varies
    for t, n in zip(tensors, _PARAM_FIELDS, strict=True):
        # (by hand: torch.broadcast_shapes took half of this function's time, per call)
        fits = t.dim() <= len(step) and all(
            d in (1, e) for d, e in zip(reversed(t.shape), reversed(step), strict=False)
        )
        if not fits:
            raise ValueError(
                f"lif_scan: params.{n} has shape {tuple(t.shape)}, which does not broadcast to "
                f"one step of input {tuple(step)}."
            )
        varying = [k for k, d in enumerate(t.shape) if d != 1]
        if varying:
            first = min(first, len(step) - t.dim() + varying[0])
    # a parameter's dimensions before ``first`` are all 1: drop them, broadcast to the rest
    tail = step[first:]
    return torch.stack(
        [t.reshape(t.shape[max(0, t.dim() - len(tail)):]).expand(tail).reshape(-1)
         for t in tensors]
    )


def _per_object(ts: Sequence[Any], f: Callable[[Any, int], Any]) -> list[Any]:
    """``[f(t, k) for k, t in enumerate(ts)]``, with ``f`` called once per distinct object (at
    the first index holding it): a rest state's fields are one shared zero, and each call
    costs microseconds."""
    done: dict[int, Any] = {}
    for k, t in enumerate(ts):
        if id(t) not in done:
            done[id(t)] = f(t, k)
    return [done[id(t)] for t in ts]


def _scan(
    x_seq: Tensor,
    state: Sequence[Tensor],
    params: Sequence[Tensor],
    reset: Enum | str,
    n_ref: int,
    detach_reset: bool,
    surrogate: sg.Surrogate,
    keep_traces: bool,
    caller: str,
) -> tuple[Tensor, ...]:
    """The op's ``(spikes, v, i, a, ref)``, flattened to ``(T, M)``; without ``keep_traces``
    v, i and a hold only the last step ``(1, M)``, and i and a of a plain layer, which the op
    leaves out, have no rows (``(0, M)``). Raises ``ValueError`` (under the name ``caller``)
    if ``x_seq`` holds NaN or inf."""
    _check(x_seq, state, params)
    kind = surrogate_kind(surrogate)
    if kind is None:
        raise ValueError(
            f"lif_scan: surrogate {surrogate!r} is not supported by the fused kernel; use one "
            f"of {', '.join(c.__name__ for c in _SURROGATES)} or the pure-PyTorch backend."
        )
    if not isinstance(n_ref, int) or isinstance(n_ref, bool) or n_ref < 0:
        raise ValueError(f"lif_scan: n_ref must be an int >= 0 [steps], got {n_ref!r}.")
    rkind = reset_kind(reset)
    from ._build import load

    built = load()
    if not built.cpu:
        raise RuntimeError(f"lif_scan: the fused kernel is not available: {built.error}")
    if x_seq.device.type != "cpu" and not (x_seq.device.type == "cuda" and built.cuda):
        raise RuntimeError(
            f"lif_scan: the fused kernel was built for CPU{' and CUDA' if built.cuda else ''} "
            f"only, got x_seq on {x_seq.device}; use the pure-PyTorch scan (Backend.TORCH)."
        )
    T = x_seq.shape[0]
    step = x_seq.shape[1:]
    x2 = x_seq.reshape(T, -1).contiguous()
    flat_state = _per_object(
        state, lambda t, k: _flat(t, f"state.{_STATE_FIELDS[k]}", step, x_seq)
    )
    flat_state[4] = flat_state[4].detach()  # the refractory count carries no gradient
    p = _param_block(params, step, x_seq)
    # The op leaves out the final i and a of a plain layer (alpha = rho = adapt = 0, i0, a0
    # and s0 finite): megabytes at large sizes that follow from x. Not where a gradient
    # reaches a decay through them, nor under torch.compile (a shape that depends on values).
    final_ia = (keep_traces or torch.compiler.is_compiling()
                or any(isinstance(t, Tensor) and t.requires_grad for t in params[1:4]))
    spikes, v, i, a, _flags, ref, nonfinite = torch.ops.neuraltide.lif_scan_fwd(
        x2, *flat_state, p, int(rkind), n_ref, bool(detach_reset), int(kind),
        float(surrogate.alpha), keep_traces, final_ia,
    )
    if n_ref == 0:  # the op writes no counts then: they stay the initial ones
        ref = flat_state[4]
    if torch.compiler.is_compiling():  # no data-dependent branch inside a graph
        torch._assert_async(nonfinite == 0, f"{caller}: input must be finite (NaN or inf).")
    elif int(nonfinite):  # the op counted them while scanning; find the first for the message
        check_finite_input(caller, x_seq)
    return spikes, v, i, a, ref


def _new_state(state: Any, fields: tuple[Tensor, ...]) -> Any:
    return type(state)(*fields) if hasattr(state, "_fields") else tuple(fields)


def lif_scan_traces(
    x_seq: Tensor,
    state: Sequence[Tensor],
    params: Sequence[Tensor],
    *,
    reset: Enum | str,
    n_ref: int,
    detach_reset: bool,
    surrogate: sg.Surrogate,
    caller: str = "lif_scan",
) -> LIFScanTraces:
    """Like :func:`lif_scan`, and also return the ``v``, ``i``, ``a`` traces (differentiable;
    the kernel writes them as extra outputs, ``3 * sizeof(dtype)`` bytes per neuron-step)."""
    spikes, v, i, a, ref = _scan(x_seq, state, params, reset, n_ref, detach_reset, surrogate,
                                 True, caller)
    shape = x_seq.shape
    step = shape[1:]
    final = _new_state(
        state,
        (i[-1].reshape(step), v[-1].reshape(step), a[-1].reshape(step),
         spikes[-1].reshape(step), ref.reshape(step)),
    )
    return LIFScanTraces(
        spikes.reshape(shape), final, v.reshape(shape), i.reshape(shape), a.reshape(shape)
    )


def lif_scan(
    x_seq: Tensor,
    state: Sequence[Tensor],
    params: Sequence[Tensor],
    *,
    reset: Enum | str,
    n_ref: int,
    detach_reset: bool,
    surrogate: sg.Surrogate,
    caller: str = "lif_scan",
) -> tuple[Tensor, Any]:
    r"""Run the LIF family over a sequence in one fused call (CPU; CUDA when built with it).

    Same semantics as scanning ``neuraltide.neurons.lif_family_step`` over ``x_seq`` (see that
    module for the equations): identical spikes and state, gradients equal to autograd through
    the reference up to rounding. Parameters and state are cast to ``x_seq``'s dtype.

    Args:
        x_seq: input [nA or 1], ``(T, batch..., *neurons)``, float32 or float64; any strides.
        state: initial ``LIFFamilyState`` ``(i, v, a, s, ref)`` (or a tuple in that order),
            each broadcastable to one step ``(batch..., *neurons)``. ``ref`` gets no gradient.
        params: ``LIFFamilyParams`` ``(beta, alpha, rho, adapt, v_rest, gain, v_th, v_reset)``,
            each per layer (0-d) or per neuron, broadcastable to one step.
        reset: ``neurons.Reset`` member (or its value string, e.g. ``"subtract"``).
        n_ref: refractory period [steps], >= 0.
        detach_reset: if True, no gradient flows through the previous spike.
        surrogate: a built-in surrogate (``Sigmoid``, ``FastSigmoid``, ``ATan``, ``Gaussian``,
            ``Triangle``, ``StraightThrough``); ``Custom`` raises ``ValueError``.
        caller: the name a ``ValueError`` for NaN/inf input is reported under (a model's).

    Returns:
        ``(spikes_seq, final_state)``: spikes ``(T, batch..., *neurons)`` in ``x_seq``'s
        dtype, and the state after the last step, of the type of ``state``.

    Raises:
        ValueError: if ``x_seq`` holds NaN or inf (counted by the kernel while it scans).
        RuntimeError: if the kernel could not be built (see ``kernels.available()``).

    Example::

        >>> import torch
        >>> from neuraltide.kernels import lif_scan
        >>> from neuraltide.neurons import LIF
        >>> lif = LIF.dimensionless(beta=0.9)
        >>> x = torch.full((5, 1), 0.6)
        >>> spikes, state = lif_scan(x, lif.initial_state((1,)), lif.params(),
        ...                          reset=lif.reset, n_ref=lif.n_ref,
        ...                          detach_reset=lif.detach_reset, surrogate=lif.surrogate)
        >>> spikes[:, 0]
        tensor([0., 1., 0., 1., 0.])
        >>> torch.equal(spikes, lif(x)[0])
        True
    """
    # the kernel writes only the spikes and the last step of v, i and a (its backward
    # recomputes the rest from x)
    spikes, v, i, a, ref = _scan(x_seq, state, params, reset, n_ref, detach_reset, surrogate,
                                 False, caller)
    step = x_seq.shape[1:]
    spikes = spikes.view(x_seq.shape)
    # v, i and a are the last step's (1, M) rows (each view costs microseconds at small sizes)
    if i.shape[0] == 0:  # i = alpha * i + x is the last input, a = rho * a + adapt * s is 0
        i, a = x_seq[-1], x_seq.new_zeros(()).expand(step)
    else:
        i, a = i.view(step), a.view(step)
    return spikes, _new_state(state, (i, v.view(step), a, spikes[-1], ref.view(step)))


# ---- fake implementations (registered once, after the library is loaded) ---------------
# (the autograd of lif_scan_fwd is registered in C++: csrc/lif_autograd.cpp)


def _fake_fwd(
    x: Tensor, i0: Tensor, v0: Tensor, a0: Tensor, s0: Tensor, ref0: Tensor, params: Tensor,
    reset: int, n_ref: int, detach_reset: bool, surrogate: int, surrogate_alpha: float,
    keep_traces: bool = True, final_ia: bool = True,
) -> tuple[Tensor, ...]:
    T, M = x.shape
    R = T if keep_traces else 1
    # without traces and final_ia, i and a are (0, M) where the CPU kernel finds them known
    R_ia = (R if keep_traces or final_ia
            else torch.library.get_ctx().new_dynamic_size(min=0, max=1))
    flags = x.new_empty((R, M) if n_ref > 0 else (0,), dtype=torch.uint8)
    traces = [x.new_empty((R, M)), x.new_empty((R_ia, M)), x.new_empty((R_ia, M))]
    nonfinite = x.new_empty((), dtype=torch.int64)
    ref = ref0.new_empty((M,) if n_ref > 0 else (0,))
    return (x.new_empty((T, M)), *traces, flags, ref, nonfinite)


def _fake_bwd(
    g_spikes: Tensor, g_v: Tensor | None, g_i: Tensor | None, g_a: Tensor | None,
    x: Tensor, i0: Tensor, v0: Tensor, a0: Tensor, s0: Tensor, ref0: Tensor, params: Tensor,
    reset: int, n_ref: int, detach_reset: bool, surrogate: int, surrogate_alpha: float,
    params_grad: bool = True, state_grad: bool = True,
) -> tuple[Tensor, ...]:
    g_params = x.new_empty((params.shape[0], x.shape[1]) if params_grad else (0,))
    g_state = [t.new_empty(t.shape if state_grad else (0,)) for t in (i0, v0, a0, s0)]
    return (x.new_empty(x.shape), *g_state, g_params)


_registered: list[bool] = []


def register_python_parts() -> None:
    """Register the fake kernels of the loaded C++ ops (idempotent)."""
    if _registered:
        return
    torch.library.register_fake("neuraltide::lif_scan_fwd")(_fake_fwd)
    torch.library.register_fake("neuraltide::lif_scan_bwd")(_fake_bwd)
    _registered.append(True)

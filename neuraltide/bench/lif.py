"""LIF layer benchmark suite: ``python -m neuraltide.bench --suite lif``.

A LIF layer over ``T`` steps (time-major ``(T, batch, neurons)`` float32 input, beta 0.9,
threshold 1, reset by subtraction, ATan surrogate where the implementation offers it), timed
forward (no autograd) and forward + backward, in one process, for:

* NeuralTide's default backend (the fused kernel where it is built), the reference row;
* NeuralTide's own PyTorch scan (``Backend.TORCH``), and that scan under ``torch.compile``;
* snnTorch's ``Leaky`` stepped over ``x[t]`` as its tutorials do, Norse's ``LIFBoxCell`` and
  a plain PyTorch loop, each over ``x[t]`` and over ``x.unbind(0)``, and SpikingJelly's
  multi-step ``LIFNode`` (torch backend); a peer that is not installed is reported as missing;
* the memory-bandwidth floor: one copy of as many bytes as the fused scan reads and writes.

Each row also gives the bytes autograd keeps for the backward per neuron-step, the peak growth
of the process's resident memory during one forward + backward (measured in a forked child, so
rows do not share a high-water mark), and the fraction of spikes equal to NeuralTide's with the
same reset convention (snnTorch resets after the leak, Norse and SpikingJelly before it).
"""

from __future__ import annotations

import math
import os
import resource
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils import benchmark

from ..kernels import Backend
from ..neurons import LIF, Reset
from ..surrogate import ATan
from ._common import stamp

__all__ = ["CONTENDERS", "Contender", "measure", "report", "table"]

BETA, THRESHOLD = 0.9, 1.0
#: torch.compile unrolls the time loop; beyond this many steps compiling takes minutes
COMPILE_MAX_T = 100

Step = Callable[[torch.Tensor], torch.Tensor]


def _neuraltide(reset: Reset, backend: Backend = Backend.AUTO) -> Step:
    lif = LIF.dimensionless(beta=BETA, threshold=THRESHOLD, reset=reset,
                            surrogate=ATan(alpha=2.0), backend=backend)
    return lambda x: lif(x)[0]


def _compiled_scan(T: int) -> Step | str:
    if T > COMPILE_MAX_T:
        return f"not run: compiling the unrolled {T}-step loop takes minutes"
    return torch.compile(_neuraltide(Reset.SUBTRACT_AFTER_LEAK, Backend.TORCH))


def _snntorch(T: int) -> Step | str:
    try:
        import snntorch
        from snntorch import surrogate
    except ImportError:
        return "missing: snntorch is not installed (pip install neuraltide[bench])"
    leaky = snntorch.Leaky(beta=BETA, threshold=THRESHOLD, reset_mechanism="subtract",
                           spike_grad=surrogate.atan(alpha=2.0))

    def f(x: torch.Tensor) -> torch.Tensor:
        mem = leaky.init_leaky()
        out = []
        for t in range(x.shape[0]):
            spk, mem = leaky(x[t], mem)
            out.append(spk)
        return torch.stack(out)

    return f


def _norse(unbind: bool) -> Callable[[int], Step | str]:
    def make(T: int) -> Step | str:
        try:
            import norse.torch as norse
            from norse.torch.functional.reset import reset_subtract
        except ImportError:
            return "missing: norse is not installed (pip install neuraltide[bench])"
        # dt * tau_mem_inv = 1 - beta; the input is scaled by 1 / (1 - beta) to match
        cell = norse.LIFBoxCell(norse.LIFBoxParameters(
            tau_mem_inv=torch.tensor((1 - BETA) / 1e-3), v_th=torch.tensor(THRESHOLD),
            reset_method=reset_subtract), dt=1e-3)
        gain = 1 / (1 - BETA)

        def f(x: torch.Tensor) -> torch.Tensor:
            state, out = None, []
            steps = x.unbind(0) if unbind else (x[t] for t in range(x.shape[0]))
            for xt in steps:
                z, state = cell(xt * gain, state)
                out.append(z)
            return torch.stack(out)

        return f

    return make


def _spikingjelly(T: int) -> Step | str:
    try:
        from spikingjelly.activation_based import functional, neuron, surrogate
    except ImportError:
        return "missing: spikingjelly is not installed (pip install neuraltide[bench])"
    node = neuron.LIFNode(tau=1 / (1 - BETA), decay_input=False, v_threshold=THRESHOLD,
                          v_reset=None, surrogate_function=surrogate.ATan(alpha=2.0),
                          step_mode="m")

    def f(x: torch.Tensor) -> torch.Tensor:
        functional.reset_net(node)
        return node(x)

    return f


class _Heaviside(torch.autograd.Function):
    """The spike with the ATan surrogate, for the plain loops."""

    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(z)
        return (z > 0).to(z.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (z,) = ctx.saved_tensors
        return grad / (1 + (math.pi / 2 * 2.0 * z) ** 2)


def _plain(unbind: bool) -> Callable[[int], Step]:
    def make(T: int) -> Step:
        def f(x: torch.Tensor) -> torch.Tensor:
            v = torch.zeros_like(x[0])
            s = torch.zeros_like(x[0])
            out = []
            steps = x.unbind(0) if unbind else (x[t] for t in range(x.shape[0]))
            for xt in steps:
                v = BETA * v + xt - s * THRESHOLD
                s = _Heaviside.apply(v - THRESHOLD)
                out.append(s)
            return torch.stack(out)

        return f

    return make


@dataclass(frozen=True)
class Contender:
    """One row: ``make(T)`` gives the layer as a function of the input, or the reason it is
    not run; ``reset`` is the NeuralTide reset whose spikes it should reproduce."""

    name: str
    make: Callable[[int], Step | str]
    reset: Reset = Reset.SUBTRACT_AFTER_LEAK
    quick_ok: bool = True  #: run with --quick too


CONTENDERS = [
    Contender("NeuralTide, PyTorch scan",
              lambda T: _neuraltide(Reset.SUBTRACT_AFTER_LEAK, Backend.TORCH)),
    Contender("NeuralTide, PyTorch scan + torch.compile", _compiled_scan, quick_ok=False),
    Contender("snnTorch Leaky, loop over x[t]", _snntorch),
    Contender("Norse LIFBoxCell, loop over x[t]", _norse(False), Reset.SUBTRACT),
    Contender("Norse LIFBoxCell, loop over x.unbind(0)", _norse(True), Reset.SUBTRACT),
    Contender("SpikingJelly LIFNode, multi-step", _spikingjelly, Reset.SUBTRACT),
    Contender("plain PyTorch loop over x[t]", _plain(False)),
    Contender("plain PyTorch loop over x.unbind(0)", _plain(True)),
]


def _fwd_bwd(f: Step, x: torch.Tensor) -> None:
    x = x.detach().requires_grad_()
    f(x).sum().backward()


def _forward(f: Step, x: torch.Tensor) -> None:
    with torch.no_grad():
        f(x)


def saved_bytes(f: Step, x: torch.Tensor) -> int:
    """Bytes autograd keeps for the backward of ``f(x)``: the distinct storages packed by
    saved-tensor hooks (a tensor saved twice, or a view of a saved one, counts once)."""
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        st = t.untyped_storage()
        storages[st.data_ptr()] = st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        f(x.detach().requires_grad_())
    return sum(storages.values())


def peak_rss_growth(f: Step, x: torch.Tensor) -> float:
    """Growth of the resident-set high-water mark [bytes] during one forward + backward, in a
    forked child (so every row starts from the same state); NaN where ``fork`` is missing."""
    if not hasattr(os, "fork"):
        return math.nan
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child measures and exits without running the parent's cleanup
        try:
            torch.set_num_threads(1)  # the parent's OpenMP pool does not survive a fork
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            _fwd_bwd(f, x)
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            os.write(write, str((after - before) * 1024).encode())  # ru_maxrss is in KiB
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as r:
        text = r.read()
    os.waitpid(pid, 0)
    return float(text) if text else math.nan


def _median(fn: Callable[[], None], min_run_time: float) -> float:
    return benchmark.Timer("fn()", globals={"fn": fn}).blocked_autorange(
        min_run_time=min_run_time).median


def _row(size: tuple[int, int, int], name: str, x: torch.Tensor, f: Step | None,
         reference: torch.Tensor | None, min_run_time: float, note: str = "") -> dict:
    steps = x.numel()
    if f is None:
        return dict(size=size, name=name, note=note, fwd_ms=math.nan, fwd_bwd_ms=math.nan,
                    saved_b=math.nan, peak_b=math.nan, equal=math.nan)
    f(x)  # warm-up (and torch.compile's compilation) outside the timing
    equal = math.nan if reference is None else float(
        (f(x.detach()).detach() == reference).double().mean())
    return dict(size=size, name=name, note=note,
                fwd_ms=1e3 * _median(lambda: _forward(f, x), min_run_time),
                fwd_bwd_ms=1e3 * _median(lambda: _fwd_bwd(f, x), min_run_time),
                saved_b=saved_bytes(f, x) / steps, peak_b=peak_rss_growth(f, x) / steps,
                equal=equal)


def _floor(size: tuple[int, int, int], saved_b: float, min_run_time: float) -> dict:
    """The fused scan's bytes moved, as one copy: forward reads x, writes the spikes and what
    it saves; backward reads those and the output gradient, writes the input gradient."""
    steps = math.prod(size)
    fwd_bytes = steps * (8 + saved_b)
    bwd_bytes = steps * (8 + saved_b)
    times = []
    for total in (fwd_bytes, fwd_bytes + bwd_bytes):
        src = torch.ones(int(total // 8))  # a copy reads n and writes n float32 values
        dst = torch.empty_like(src)
        dst.copy_(src)
        times.append(1e3 * _median(lambda d=dst, s=src: d.copy_(s), min_run_time))
    return dict(size=size, name="bandwidth floor (one copy of the same bytes)", note="",
                fwd_ms=times[0], fwd_bwd_ms=times[1], saved_b=math.nan, peak_b=math.nan,
                equal=math.nan)


def measure(quick: bool = False, sizes: list[tuple[int, int, int]] | None = None,
            contenders: list[Contender] | None = None) -> list[dict]:
    """Time every size; one row per size and implementation (NeuralTide's first)."""
    if sizes is None:
        sizes = ([(100, 32, 256)] if quick
                 else [(100, 32, 1024), (500, 16, 4096), (100, 64, 16384)])
    min_run_time = 0.2 if quick else 1.0
    rows = []
    for size in sizes:
        x = torch.randn(*size, generator=torch.Generator().manual_seed(0)) * 0.6 + 0.25
        references = {}
        for reset in (Reset.SUBTRACT_AFTER_LEAK, Reset.SUBTRACT):
            with torch.no_grad():
                references[reset] = _neuraltide(reset)(x)
        ours = _row(size, "NeuralTide (fused kernel)", x, _neuraltide(Reset.SUBTRACT_AFTER_LEAK),
                    references[Reset.SUBTRACT_AFTER_LEAK], min_run_time)
        rows.append(ours)
        for c in contenders if contenders is not None else CONTENDERS:
            f = c.make(size[0]) if quick is False or c.quick_ok else \
                "not run with --quick (compiling takes about a minute)"
            if isinstance(f, str):
                rows.append(_row(size, c.name, x, None, None, min_run_time, note=f))
            else:
                rows.append(_row(size, c.name, x, f, references[c.reset], min_run_time))
        rows.append(_floor(size, ours["saved_b"], min_run_time))
    return rows


def _cell(value: float, fmt: str) -> str:
    return "—" if math.isnan(value) else format(value, fmt)


def table(rows: list[dict]) -> str:
    """Markdown table of :func:`measure`'s rows."""
    lines = [
        stamp(),
        "",
        "| T × batch × neurons | implementation | forward [ms] | forward + backward [ms] | "
        "÷ NeuralTide | saved for backward [B/neuron-step] | peak memory [B/neuron-step] | "
        "spikes equal |",
        "|---|---|---|---|---|---|---|---|",
    ]
    ours = {}
    for r in rows:
        T, B, N = r["size"]
        ours.setdefault(r["size"], r["fwd_bwd_ms"])
        if r["note"]:
            lines.append(f"| {T} × {B} × {N} | {r['name']}: {r['note']} | | | | | | |")
            continue
        equal = "—" if math.isnan(r["equal"]) else f"{r['equal']:.2%}"
        lines.append(
            f"| {T} × {B} × {N} | {r['name']} | {_cell(r['fwd_ms'], '.1f')} | "
            f"{_cell(r['fwd_bwd_ms'], '.1f')} | {r['fwd_bwd_ms'] / ours[r['size']]:.2f} | "
            f"{_cell(r['saved_b'], '.1f')} | {_cell(r['peak_b'], '.1f')} | {equal} |")
    return "\n".join(lines)


def report(quick: bool = False) -> str:
    """Run the suite and return its Markdown section."""
    return table(measure(quick))

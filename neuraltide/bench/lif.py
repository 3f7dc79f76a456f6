"""LIF layer benchmark suite: ``python -m neuraltide.bench --suite lif``.

A LIF layer over ``T`` steps (time-major ``(T, batch, neurons)`` float32 input, beta 0.9,
threshold 1, reset by subtraction, ATan surrogate where the implementation offers it), timed
forward (no autograd) and forward + backward (of the spikes' sum), in one process, on the GPU
where one is present and on the CPU otherwise, for:

* NeuralTide's default backend (the fused kernel where it is built), the reference row;
* NeuralTide's own PyTorch scan (``Backend.TORCH``), and that scan under ``torch.compile``;
* snnTorch's ``Leaky`` stepped over ``x[t]`` as its tutorials do, Norse's ``LIFBoxCell`` and
  a plain PyTorch loop, each over ``x[t]`` and over ``x.unbind(0)``, and SpikingJelly's
  multi-step ``LIFNode`` (SpikingJelly 2.0's ``LIFNode`` has no cupy or triton backend any
  more: its multi-step mode loops in PyTorch on every device); a peer that is not installed is
  reported as missing;
* the memory-bandwidth floor: one copy of as many bytes as the fused scan must move (forward:
  read the input, write the spikes; backward: read the input again, write its gradient; the
  gradient of a sum arrives as one broadcast value).

Each row also gives the bytes autograd keeps for the backward per neuron-step (distinct
storages, the input's included), the peak memory growth of one forward + backward per
neuron-step (on the CPU the resident-set high-water mark of a fresh process, so no row
inherits another's freed memory or NeuralTide's cache of output blocks; on a GPU torch's peak
allocation), and the fraction of spikes equal to NeuralTide's with the same reset convention
(snnTorch resets after the leak, Norse and SpikingJelly before it).

:func:`memory` adds what the backward keeps for each model of the LIF family (LIF,
SynapticLIF, AdaptiveLIF, LearnableNeuron), fused against the PyTorch scan.
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils import benchmark

from ..kernels import Backend
from ..neurons import LIF, AdaptiveLIF, LearnableNeuron, NeuronModel, Reset, SynapticLIF
from ..surrogate import ATan
from ._common import stamp

__all__ = ["CONTENDERS", "MODELS", "Contender", "appendix", "measure", "memory", "memory_table",
           "report", "table"]

BETA, THRESHOLD = 0.9, 1.0
#: torch.compile unrolls the time loop; beyond this many steps compiling takes minutes
COMPILE_MAX_T = 100
OURS = "NeuralTide (fused kernel)"

Step = Callable[[torch.Tensor], torch.Tensor]


def _neuraltide(reset: Reset, backend: Backend = Backend.AUTO) -> Step:
    lif = LIF.dimensionless(beta=BETA, threshold=THRESHOLD, reset=reset,
                            surrogate=ATan(alpha=2.0), backend=backend)
    return lambda x: lif.to(x.device)(x)[0]


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
        leaky.to(x.device)
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


_BY_NAME = {c.name: c for c in [
    Contender(OURS, lambda T: _neuraltide(Reset.SUBTRACT_AFTER_LEAK)), *CONTENDERS]}


def _input(size: tuple[int, int, int], device: torch.device | str) -> torch.Tensor:
    """The suite's input current: N(0.25, 0.6^2), seeded, float32 (made in place: no
    temporaries that would raise a fresh process's memory high-water mark)."""
    x = torch.randn(*size, generator=torch.Generator().manual_seed(0))
    return x.mul_(0.6).add_(0.25).to(device)


def _fwd_bwd(f: Step, x: torch.Tensor) -> None:
    x = x.detach().requires_grad_()
    f(x).sum().backward()


def _forward(f: Step, x: torch.Tensor) -> None:
    with torch.no_grad():
        f(x)


def saved_bytes(f: Step, x: torch.Tensor) -> int:
    """Bytes autograd keeps for the backward of ``f(x)``: the distinct storages packed by
    saved-tensor hooks (a tensor saved twice, or a view of a saved one, counts once; the
    input's storage counts too when it is kept)."""
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        st = t.untyped_storage()
        storages[st.data_ptr()] = st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        f(x.detach().requires_grad_())
    return sum(storages.values())


def _vm_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _peak_child(name: str, size: tuple[int, int, int], threads: int) -> int:
    """In a fresh process: the growth of the resident set's high-water mark [bytes] during the
    first forward + backward of contender ``name`` at ``size`` (after a one-step warm-up that
    loads its libraries). Linux only: the mark is reset through ``/proc/self/clear_refs``
    (``ru_maxrss`` would carry the parent's mark over the exec)."""
    torch.set_num_threads(threads)
    f = _BY_NAME[name].make(size[0])
    assert not isinstance(f, str), f
    _fwd_bwd(f, _input((1, 1, 1), "cpu"))
    x = _input(size, "cpu")
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # VmHWM := VmRSS
    before = _vm_kib("VmRSS")
    _fwd_bwd(f, x)
    return (_vm_kib("VmHWM") - before) * 1024


def peak_growth(name: str, f: Step, x: torch.Tensor) -> float:
    """Peak memory growth [bytes] of one forward + backward of ``f(x)``: on a GPU torch's
    peak allocation, on the CPU the high-water mark of a fresh process (:func:`_peak_child`;
    Linux); NaN where it cannot be measured."""
    if x.is_cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        _fwd_bwd(f, x)
        torch.cuda.synchronize()
        return float(torch.cuda.max_memory_allocated() - base)
    if name not in _BY_NAME or not os.path.exists("/proc/self/clear_refs"):
        return math.nan
    code = ("import sys; from neuraltide.bench.lif import _peak_child; "
            "print(_peak_child(sys.argv[1], tuple(map(int, sys.argv[2:5])), int(sys.argv[5])))")
    # every block of 64 KiB or more its own mapping, returned when freed (glibc's dynamic
    # threshold would otherwise serve later blocks from memory freed earlier, unseen): the
    # high-water mark is then the peak of what was alive
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "MALLOC_MMAP_THRESHOLD_": "65536"}
    proc = subprocess.run([sys.executable, "-c", code, name, *map(str, x.shape),
                           str(torch.get_num_threads())], capture_output=True, text=True,
                          env=env)
    lines = proc.stdout.split()
    return float(lines[-1]) if proc.returncode == 0 and lines else math.nan


def _median(fn: Callable[[], None], min_run_time: float) -> float:
    return benchmark.Timer("fn()", globals={"fn": fn}).blocked_autorange(
        min_run_time=min_run_time).median


#: rounds in which NeuralTide's row and the floor are timed in turn (:func:`_medians`)
ROUNDS = 5


def _medians(fns: list[Callable[[], None]], min_run_time: float, rounds: int) -> list[float]:
    """Each function's median time [s], the functions timed in turn for ``rounds`` rounds of
    ``min_run_time / rounds`` each: the median of each one's rounds. On a shared machine whose
    speed drifts by tens of percent over a minute, a ratio of two of them then compares times
    taken under the same conditions."""
    per: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for f, times in zip(fns, per, strict=True):
            times.append(_median(f, min_run_time / rounds))
    return [statistics.median(times) for times in per]


def _empty_row(size: tuple[int, int, int], name: str, note: str) -> dict:
    return dict(size=size, name=name, note=note, fwd_ms=math.nan, fwd_bwd_ms=math.nan,
                saved_b=math.nan, peak_b=math.nan, equal=math.nan)


def _floor_copies(size: tuple[int, int, int],
                  device: torch.device | str) -> tuple[Callable[[], None], ...]:
    """The bytes the fused scan must move, as one copy each (a copy of n bytes reads n/2 and
    writes n/2): forward, read x and write the spikes; forward + backward, also read x again
    and write its gradient (the spikes' gradient, of a sum, is one broadcast value)."""
    steps = math.prod(size)
    fwd_bytes = bwd_bytes = steps * 2 * 4  # float32
    copies = []
    for total in (fwd_bytes, fwd_bytes + bwd_bytes):
        src = torch.ones(int(total // 8), device=device)
        dst = torch.empty_like(src)
        dst.copy_(src)

        def copy(d: torch.Tensor = dst, s: torch.Tensor = src) -> None:
            d.copy_(s)

        copies.append(copy)
    return tuple(copies)


def _floor_row(size: tuple[int, int, int], fwd_ms: float, fwd_bwd_ms: float) -> dict:
    return dict(size=size, name="bandwidth floor (one copy of the same bytes)", note="",
                fwd_ms=fwd_ms, fwd_bwd_ms=fwd_bwd_ms, saved_b=math.nan, peak_b=math.nan,
                equal=math.nan)


def _row(size: tuple[int, int, int], name: str, x: torch.Tensor, f: Step,
         reference: torch.Tensor, min_run_time: float, peak: bool,
         floor: tuple[Callable[[], None], ...] = ()) -> list[dict]:
    """The row of ``f``; with ``floor`` (:func:`_floor_copies`), also the floor's row, each
    copy timed in turn with the same pass of ``f`` (:func:`_medians`)."""
    steps = x.numel()
    f(x)  # warm-up (and torch.compile's compilation) outside the timing
    equal = float((f(x.detach()).detach() == reference).double().mean())
    rounds = ROUNDS if floor else 1  # (in rounds, a peer's 40 s call would run five times)
    fwd = _medians([lambda: _forward(f, x), *floor[:1]], min_run_time, rounds)
    fwd_bwd = _medians([lambda: _fwd_bwd(f, x), *floor[1:]], min_run_time, rounds)
    rows = [dict(size=size, name=name, note="", fwd_ms=1e3 * fwd[0], fwd_bwd_ms=1e3 * fwd_bwd[0],
                 saved_b=saved_bytes(f, x) / steps,
                 peak_b=peak_growth(name, f, x) / steps if peak else math.nan, equal=equal)]
    if floor:
        rows.append(_floor_row(size, 1e3 * fwd[1], 1e3 * fwd_bwd[1]))
    return rows


def measure(quick: bool = False, sizes: list[tuple[int, int, int]] | None = None,
            contenders: list[Contender] | None = None, device: str | None = None,
            peak: bool = True) -> list[dict]:
    """Time every size; one row per size and implementation (NeuralTide's first), on
    ``device`` (default: CUDA where available, else the CPU)."""
    if sizes is None:
        sizes = ([(100, 32, 256)] if quick
                 else [(100, 32, 1024), (500, 16, 4096), (100, 64, 16384)])
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    min_run_time = 0.2 if quick else 1.0
    rows = []
    for size in sizes:
        x = _input(size, device)
        references = {}
        for reset in (Reset.SUBTRACT_AFTER_LEAK, Reset.SUBTRACT):
            with torch.no_grad():
                references[reset] = _neuraltide(reset)(x)
        # the floor is timed in turn with NeuralTide's row (their ratio is the target), and
        # listed last
        ours, floor = _row(size, OURS, x, _BY_NAME[OURS].make(size[0]),
                           references[Reset.SUBTRACT_AFTER_LEAK], min_run_time, peak,
                           _floor_copies(size, device))
        rows.append(ours)
        for c in contenders if contenders is not None else CONTENDERS:
            f = c.make(size[0]) if quick is False or c.quick_ok else \
                "not run with --quick (compiling takes about a minute)"
            if isinstance(f, str):
                rows.append(_empty_row(size, c.name, f))
            else:
                # compiling inside the fresh process would be what its peak measures
                rows.extend(_row(size, c.name, x, f, references[c.reset], min_run_time,
                                 peak and "compile" not in c.name))
        rows.append(floor)
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


#: the LIF family with every parameter fixed, and the learnable neuron learning all of them
MODELS: dict[str, Callable[[int], NeuronModel]] = {
    "LIF": lambda n: LIF.dimensionless(beta=BETA, shape=(n,)),
    "SynapticLIF": lambda n: SynapticLIF.dimensionless(beta=BETA, alpha=0.8, shape=(n,)),
    "AdaptiveLIF": lambda n: AdaptiveLIF.dimensionless(beta=BETA, shape=(n,)),
    "LearnableNeuron (all learned)": lambda n: LearnableNeuron.dimensionless(beta=BETA,
                                                                              shape=(n,)),
}


def memory(size: tuple[int, int, int] = (100, 32, 1024)) -> list[dict]:
    """Bytes autograd keeps per neuron-step for the backward of each model in :data:`MODELS`,
    with the fused kernel and with the PyTorch scan (float32, ATan)."""
    x = _input(size, "cpu")
    rows = []
    for name, make in MODELS.items():
        model = make(size[2])
        row = {"model": name}
        for backend in (Backend.AUTO, Backend.TORCH):
            model.backend = backend
            row[backend.name.lower()] = saved_bytes(lambda v, m=model: m(v)[0], x) / x.numel()
        rows.append(row)
    return rows


def memory_table(rows: list[dict]) -> str:
    """Markdown table of :func:`memory`'s rows."""
    lines = ["| model | saved for backward, fused [B/neuron-step] | PyTorch scan | "
             "PyTorch ÷ fused |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['auto']:.1f} | {r['torch']:.1f} | "
                     f"{r['torch'] / r['auto']:.1f} |")
    return "\n".join(lines)


def appendix(quick: bool = False) -> str:
    """The Markdown that follows the timing table: :func:`memory_table`."""
    size = (20, 8, 256) if quick else (100, 32, 1024)
    return (f"What the backward keeps, per model ({' × '.join(map(str, size))}, CPU):\n\n"
            + memory_table(memory(size)))


def report(quick: bool = False) -> str:
    """Run the suite and return its Markdown section."""
    return table(measure(quick)) + "\n\n" + appendix(quick)

"""LIF layer benchmark suite: ``python -m neuraltide.bench --suite lif``.

NeuralTide runs its default backend (the fused kernel where it is built); its own PyTorch scan
(``Backend.TORCH``) is listed as a row of its own. Measures the wall time of a forward +
backward pass through a LIF layer over ``T`` steps (time-major ``(T, batch, neurons)`` input,
ATan surrogate, subtractive reset, same beta and threshold) for NeuralTide and for each peer
that is installed (snnTorch now; Norse and SpikingJelly when present), on the same input, and
prints a Markdown table with the ratio ``peer time / NeuralTide time`` (> 1: NeuralTide is
faster), the date and the machine, and the bytes autograd keeps for the backward per
neuron-step (float32).

Before timing, each peer's spikes are compared with NeuralTide's; a row is only reported for a
peer whose spikes are identical, so the table compares equal work.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.utils import benchmark

from ..kernels import Backend
from ..neurons import LIF, Reset
from ..surrogate import ATan
from ._common import stamp

__all__ = ["report", "run", "table"]

BETA, THRESHOLD = 0.9, 1.0


def _neuraltide(
    T: int, backend: Backend = Backend.AUTO
) -> Callable[[torch.Tensor], torch.Tensor]:
    lif = LIF.dimensionless(beta=BETA, threshold=THRESHOLD, reset=Reset.SUBTRACT_AFTER_LEAK,
                            surrogate=ATan(alpha=2.0), backend=backend)

    def f(x: torch.Tensor) -> torch.Tensor:
        return lif(x)[0]

    return f


def _snntorch(T: int) -> Callable[[torch.Tensor], torch.Tensor] | None:
    try:
        import snntorch
        from snntorch import surrogate
    except ImportError:
        return None
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


def _neuraltide_torch_scan(T: int) -> Callable[[torch.Tensor], torch.Tensor]:
    return _neuraltide(T, Backend.TORCH)


PEERS = {"NeuralTide, PyTorch scan": _neuraltide_torch_scan, "snnTorch": _snntorch}


def _fwd_bwd(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> None:
    x = x.detach().requires_grad_()
    f(x).sum().backward()


def saved_bytes(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> int:
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


def run(sizes: list[tuple[int, int, int]], min_run_time: float = 1.0) -> list[dict]:
    """Time every (T, batch, neurons) size; returns one row per size and peer."""
    rows = []
    for T, B, N in sizes:
        x = torch.randn(T, B, N, generator=torch.Generator().manual_seed(0)) * 0.6 + 0.25
        ours = _neuraltide(T)
        t_ours = benchmark.Timer("f(x)", globals={"f": lambda x, o=ours: _fwd_bwd(o, x), "x": x}
                                 ).blocked_autorange(min_run_time=min_run_time).median
        steps = T * B * N
        mem_ours = saved_bytes(ours, x) / steps
        for name, make in PEERS.items():
            peer = make(T)
            if peer is None:
                continue
            if not torch.equal(peer(x), ours(x)):
                raise RuntimeError(f"bench: {name} and NeuralTide spikes differ at {(T, B, N)}")
            t_peer = benchmark.Timer(
                "f(x)", globals={"f": lambda x, p=peer: _fwd_bwd(p, x), "x": x}
            ).blocked_autorange(min_run_time=min_run_time).median
            rows.append(dict(size=(T, B, N), peer=name, ours_ms=1e3 * t_ours,
                             peer_ms=1e3 * t_peer, ratio=t_peer / t_ours, ours_b=mem_ours,
                             peer_b=saved_bytes(peer, x) / steps))
    return rows


def table(rows: list[dict]) -> str:
    """Markdown table of :func:`run`'s rows."""
    lines = [
        stamp(),
        "",
        "| T × batch × neurons | peer | NeuralTide [ms] | peer [ms] | peer / NeuralTide "
        "| saved for backward [B/neuron-step]: NeuralTide, peer |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        T, B, N = r["size"]
        lines.append(f"| {T} × {B} × {N} | {r['peer']} | {r['ours_ms']:.1f} | "
                     f"{r['peer_ms']:.1f} | {r['ratio']:.2f} | "
                     f"{r['ours_b']:.1f}, {r['peer_b']:.1f} |")
    return "\n".join(lines)


def report(quick: bool = False) -> str:
    """Run the suite and return its Markdown section."""
    sizes = [(100, 32, 256)] if quick else [(100, 32, 256), (500, 16, 1024)]
    return table(run(sizes, min_run_time=0.2 if quick else 1.0))

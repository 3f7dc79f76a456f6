"""Plasticity benchmark suite: ``python -m neuraltide.bench --suite stdp``.

Song, Miller & Abbott (2000) as in Brian2's ``examples/synapses/STDP.py``: 1000 Poisson inputs
at 15 Hz onto one conductance-based LIF neuron through additive pair-STDP synapses, 100 s of
biological time at dt = 0.1 ms (10 s with ``--quick``). Measured side by side: NeuralTide's
compiled path, its PyTorch loop (on a tenth of the time: it takes minutes), Brian2's runtime
mode (cython, else numpy) and ``cpp_standalone``, each Brian2 mode in a fresh subprocess.
Next to the times: the output rate over the last tenth of the run and the fractions of weights
within 10 % of either bound, which agree between the simulators (the input spikes and initial
weights are drawn from different random streams).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from ..network import SpikeMonitor
from ..network.examples import song_miller_abbott
from ._common import stamp

__all__ = ["brian2_stdp", "neuraltide_stdp", "report"]

_BRIAN2_SCRIPT = r"""
import json, sys, time
import numpy as np
import brian2 as b2
from brian2 import Hz, mV, ms, second

mode, seconds, workdir = sys.argv[1], float(sys.argv[2]), sys.argv[3]
if mode == "cpp_standalone":
    b2.set_device("cpp_standalone", directory=workdir, build_on_run=False)
else:
    b2.prefs.codegen.target = mode
b2.seed(1)
gmax = 0.01
ns = dict(taum=10 * ms, taupre=20 * ms, taupost=20 * ms, Ee=0 * mV, vt=-54 * mV,
          vr=-60 * mV, El=-74 * mV, taue=5 * ms, gmax=gmax, dApre=0.01 * gmax,
          dApost=-0.01 * gmax * 1.05)
t0 = time.perf_counter()
inp = b2.PoissonGroup(1000, rates=15 * Hz)
neuron = b2.NeuronGroup(1, '''dv/dt = (ge * (Ee-v) + El - v) / taum : volt
                             dge/dt = -ge / taue : 1''', threshold="v>vt", reset="v = vr",
                        method="euler", namespace=ns)
neuron.v = -74 * mV
S = b2.Synapses(inp, neuron, '''w : 1
                dApre/dt = -Apre / taupre : 1 (event-driven)
                dApost/dt = -Apost / taupost : 1 (event-driven)''',
                on_pre='''ge += w
                Apre += dApre
                w = clip(w + Apost, 0, gmax)''',
                on_post='''Apost += dApost
                w = clip(w + Apre, 0, gmax)''', namespace=ns)
S.connect()
S.w = "rand() * gmax"
mon = b2.SpikeMonitor(neuron)
net = b2.Network(inp, neuron, S, mon)
if mode == "cpp_standalone":
    net.run(seconds * second)
    b2.device.build(directory=workdir, compile=True, run=True, debug=False)
    total = time.perf_counter() - t0
    sim = float(b2.device._last_run_time)
else:
    net.run(0 * ms)  # code generation and compilation happen here
    t1 = time.perf_counter()
    net.run(seconds * second)
    sim = time.perf_counter() - t1
    total = time.perf_counter() - t0
w = np.asarray(S.w[:]) / gmax
t = np.asarray(mon.t / second)
print(json.dumps({"sim_s": sim, "total_s": total, "seconds": seconds,
                  "rate_hz": float((t >= 0.9 * seconds).sum() / (0.1 * seconds)),
                  "low": float((w < 0.1).mean()), "high": float((w > 0.9).mean())}))
"""


def brian2_stdp(mode: str, seconds: float) -> dict | None:
    """Brian2's STDP example for ``seconds`` of biological time in ``mode`` ("cython",
    "numpy" or "cpp_standalone"), in a subprocess; ``None`` if that mode is not available."""
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-c", _BRIAN2_SCRIPT, mode, str(seconds),
                               str(Path(tmp) / "out")], capture_output=True, text=True,
                              timeout=1800)
    if done.returncode != 0:
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def neuraltide_stdp(seconds: float, compiled: bool, seed: int = 0) -> dict:
    """The same set-up in NeuralTide (:func:`~neuraltide.network.examples.song_miller_abbott`)
    for ``seconds`` of biological time: times and the statistics Brian2's row reports."""
    if compiled:  # build (or load) the kernels outside the timing, as cached after once
        song_miller_abbott(seed=seed).network.run(1, compiled=True)
    sma = song_miller_abbott(seed=seed)
    mon = SpikeMonitor(sma.neuron)
    t0 = time.perf_counter()
    with torch.no_grad():
        sma.network.run(duration=seconds * 1e3, monitors=[mon], compiled=compiled,
                        progress=False)
    sim = time.perf_counter() - t0
    w = sma.plastic.magnitude / sma.g_max
    late = int((mon.t >= 0.9 * seconds * 1e3).sum())
    return dict(sim_s=sim, total_s=sim, seconds=seconds, rate_hz=late / (0.1 * seconds),
                low=float((w < 0.1).double().mean()), high=float((w > 0.9).double().mean()))


def report(quick: bool = False) -> str:
    """Run the suite and return its Markdown section."""
    seconds = 10.0 if quick else 100.0
    rows = [("NeuralTide (compiled path)", neuraltide_stdp(seconds, True)),
            ("NeuralTide (PyTorch path)", neuraltide_stdp(seconds / 10, False))]
    for label, modes in (("Brian2 runtime", ("cython", "numpy")),
                         ("Brian2 cpp_standalone", ("cpp_standalone",))):
        for mode in modes:
            out = brian2_stdp(mode, seconds)
            if out is not None:
                rows.append((label if mode in label else f"{label} ({mode})", out))
                break
        else:
            rows.append((f"{label}: missing (brian2 not installed or failed)", None))
    ours = rows[0][1]["sim_s"] / rows[0][1]["seconds"]
    lines = [
        stamp(),
        "",
        f"Song, Miller & Abbott (Brian2's STDP example): 1000 plastic inputs, {seconds:g} s at "
        "dt = 0.1 ms. Rate: output over the last tenth of the run; low / high: weights within "
        "10 % of 0 / g_max at the end (a tenth of the time for the PyTorch path).",
        "",
        "| simulator | biological [s] | simulation [s] | total [s] | wall per biological s "
        "| relative | output [Hz] | low | high |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in rows:
        if r is None:
            lines.append(f"| {name} | | | | | | | | |")
            continue
        per = r["sim_s"] / r["seconds"]
        lines.append(f"| {name} | {r['seconds']:g} | {r['sim_s']:.2f} | {r['total_s']:.2f} | "
                     f"{per:.3f} | {per / ours:.2f} | {r['rate_hz']:.1f} | {r['low']:.2f} | "
                     f"{r['high']:.2f} |")
    return "\n".join(lines)

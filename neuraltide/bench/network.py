"""Network benchmark suite: ``python -m neuraltide.bench --suite network``.

CUBA (Vogels & Abbott 2005, Brian2's ``examples/CUBA.py``): 4000 LIF neurons, 1 s of biological
time at dt = 0.1 ms, the same connectivity and initial membranes in every simulator. Measured
side by side: NeuralTide (the compiled path, and its PyTorch loop), Brian2's runtime mode
(cython, else numpy) and Brian2's ``cpp_standalone`` (simulation alone and with its code
generation and compilation). Each Brian2 mode runs in a fresh subprocess, as a user would start
it; the spike counts are printed next to the times (the network is chaotic, so counts agree
statistically, not spike for spike; NeuralTide's two paths agree spike for spike).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ..network import SpikeMonitor
from ..network.examples import cuba, cuba_structure
from ._common import stamp

__all__ = ["brian2_cuba", "report", "run"]

_BRIAN2_SCRIPT = r"""
import json, sys, time
import numpy as np
import brian2 as b2
from brian2 import mV, ms, second

mode, path, workdir = sys.argv[1], sys.argv[2], sys.argv[3]
data = np.load(path)
if mode == "cpp_standalone":
    b2.set_device("cpp_standalone", directory=workdir, build_on_run=False)
else:
    b2.prefs.codegen.target = mode
ns = dict(taum=20 * ms, taue=5 * ms, taui=10 * ms, Vt=-50 * mV, Vr=-60 * mV, El=-49 * mV,
          we=1.62 * mV, wi=-9 * mV)
eqs = '''dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
         dge/dt = -ge/taue : volt
         dgi/dt = -gi/taui : volt'''
t0 = time.perf_counter()
P = b2.NeuronGroup(4000, eqs, threshold="v>Vt", reset="v = Vr", refractory=5 * ms,
                   method="exact", namespace=ns)
P.v = data["v0"] * mV
Ce = b2.Synapses(P, P, on_pre="ge += we", namespace=ns)
Ci = b2.Synapses(P, P, on_pre="gi += wi", namespace=ns)
pre, post = data["pre"], data["post"]
e = pre < 3200
Ce.connect(i=pre[e], j=post[e])
Ci.connect(i=pre[~e], j=post[~e])
mon = b2.SpikeMonitor(P)
net = b2.Network(P, Ce, Ci, mon)
if mode == "cpp_standalone":
    net.run(1 * second)
    b2.device.build(directory=workdir, compile=True, run=True, debug=False)
    total = time.perf_counter() - t0
    sim = float(b2.device._last_run_time)
else:
    net.run(0 * ms)  # code generation and compilation happen here
    t1 = time.perf_counter()
    net.run(1 * second)
    sim = time.perf_counter() - t1
    total = time.perf_counter() - t0
print(json.dumps({"sim_s": sim, "total_s": total, "spikes": int(mon.num_spikes)}))
"""


def brian2_cuba(mode: str, structure: tuple) -> dict | None:
    """Run CUBA in Brian2 (``mode``: "cython", "numpy" or "cpp_standalone") in a subprocess;
    ``None`` if Brian2 (or that mode) is not available."""
    pre, post, v0 = structure
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "structure.npz"
        np.savez(path, pre=pre.numpy(), post=post.numpy(), v0=v0.numpy())
        done = subprocess.run(
            [sys.executable, "-c", _BRIAN2_SCRIPT, mode, str(path), str(Path(tmp) / "out")],
            capture_output=True, text=True, timeout=900,
        )
    if done.returncode != 0:
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(seed: int = 0) -> list[dict]:
    """One row per simulator: name, simulation time [s], total time [s], spike count."""
    structure = cuba_structure(seed)
    rows = []
    for label, compiled in (("NeuralTide (compiled path)", True),
                            ("NeuralTide (PyTorch path)", False)):
        model = cuba(structure=structure)
        if compiled:  # build (or load) the kernels outside the timing, as cached after once
            model.network.run(1, compiled=True)
            model = cuba(structure=structure)
        mon = SpikeMonitor(model.P)
        t0 = time.perf_counter()
        with torch.no_grad():
            model.network.run(duration=1000.0, monitors=[mon], progress=False,
                              compiled=compiled)
        sim = time.perf_counter() - t0
        rows.append(dict(name=label, sim_s=sim, total_s=sim, spikes=int(mon.t.numel())))
    for label, modes in (("Brian2 runtime", ("cython", "numpy")),
                         ("Brian2 cpp_standalone", ("cpp_standalone",))):
        for mode in modes:
            out = brian2_cuba(mode, structure)
            if out is not None:
                rows.append(dict(name=label if mode in label else f"{label} ({mode})", **out))
                break
        else:
            rows.append(dict(name=f"{label}: missing (brian2 not installed or failed)",
                             sim_s=float("nan"), total_s=float("nan"), spikes=0))
    return rows


def report(quick: bool = False) -> str:
    """Run the suite and return its Markdown section."""
    rows = run()
    ours = rows[0]["sim_s"]
    lines = [
        stamp(),
        "",
        "CUBA, 4000 neurons, 1 s at dt = 0.1 ms (simulation loop; total adds code generation "
        "and compilation).",
        "",
        "| simulator | simulation [s] | total [s] | spikes | simulation / NeuralTide |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['name']} | {r['sim_s']:.2f} | {r['total_s']:.2f} | {r['spikes']} | "
                     f"{r['sim_s'] / ours:.2f} |")
    return "\n".join(lines)

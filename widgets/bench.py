"""``python -m neuraltide.bench --suite widgets``: how fast the live plots update.

Each figure is measured with the Bokeh plot attached (what a browser session keeps in sync),
so a frame includes building the new data and updating the Bokeh models; the browser's own
drawing is not included.
"""

from __future__ import annotations

import time

import holoviews as hv
import numpy as np
import torch

from neuraltide.bench._common import stamp

from .network_explorer import NetworkExplorer
from .neuron_explorer import NeuronExplorer
from .raster import RasterPlot

__all__ = ["raster_fps", "report"]


def raster_fps(n: int = 10_000, steps: int = 1000, rate: float = 0.02, dt: float = 1.0,
               window: float = 1000.0) -> tuple[float, str]:
    """Frames per second of a :class:`RasterPlot` of ``n`` neurons receiving one step of
    spikes (probability ``rate``) per frame; returns ``(fps, density mode)``."""
    hv.extension("bokeh", logo=False)
    raster = RasterPlot([("E", n * 4 // 5), ("I", n - n * 4 // 5)], window=window, dt=dt)
    hv.renderer("bokeh").get_plot(raster.view)
    g = torch.Generator().manual_seed(0)
    spikes = torch.rand(steps, n, generator=g) < rate
    t0 = time.perf_counter()
    for k in range(steps):
        raster.push((k + 1) * dt, spikes[k])
    return steps / (time.perf_counter() - t0), raster.density.value


def report(quick: bool = False) -> str:
    steps = 100 if quick else 1000
    rows = []
    for n in (1_000, 10_000):
        fps, mode = raster_fps(n, steps)
        rows.append(f"| RasterPlot, {n} neurons, 2 % per step, 1 s window | {mode} | "
                    f"{fps:.0f} frames/s |")
    ex = NeuronExplorer()
    slider = ex.params.sliders["tau_mem"]
    t0 = time.perf_counter()
    moves = 5 if quick else 20
    for v in np.linspace(5.0, 50.0, moves):
        slider.value = float(v)
    rows.append(f"| NeuronExplorer (LIF), one slider move: trace, raster, f–I | — | "
                f"{(time.perf_counter() - t0) / moves * 1e3:.0f} ms |")
    net = NetworkExplorer()
    chunks = 2 if quick else 10
    t0 = time.perf_counter()
    for _ in range(chunks):
        net.step_chunk()
    per = (time.perf_counter() - t0) / chunks
    rows.append(f"| NetworkExplorer, 1000 neurons, one 20 ms chunk | — | {per * 1e3:.0f} ms "
                f"({net.chunk / 1e3 / per:.2f} × real time) |")
    return "\n".join([stamp(), "", "| live view | mode | speed |", "|---|---|---|", *rows])

"""The overview figure of the README, made by the library itself.

``python -m neuraltide.gallery [path.png]`` simulates each model family for a fraction of a
second on the CPU and draws: a LIF neuron under a current step, the LIF f–I curve against its
closed form, four Izhikevich cell classes, a Hodgkin–Huxley spike train, the surrogate
gradients, and a layer of learnable neurons driven by Poisson input.
"""

from __future__ import annotations

import argparse

import matplotlib
import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from . import encoding, plot
from . import surrogate as sg
from .neurons import LIF, HodgkinHuxley, Izhikevich, LearnableNeuron

__all__ = ["gallery"]


def gallery() -> Figure:
    """Draw the six-panel overview figure and return it."""
    torch.manual_seed(0)
    fig, axes = plt.subplots(2, 3, figsize=(15, 7.5), layout="constrained")

    # LIF under a current step
    lif = LIF(tau_mem=10.0, t_ref=2.0, dt=0.1)
    x = torch.zeros(1500, 1)
    x[200:] = 2.0
    rec = lif.run(x)
    plot.traces(rec, threshold=-50.0, reset=-65.0, spikes=rec.spikes[:, 0], ax=axes[0, 0])
    axes[0, 0].set_title("LIF: 2 nA step (exact integration)")

    # LIF f-I curve vs closed form
    lif20 = LIF(tau_mem=20.0, t_ref=2.0, dt=0.1).double()
    currents = torch.linspace(0.0, 3.0, 31, dtype=torch.float64)
    spikes, _ = lif20(currents.expand(10000, -1).clone())
    rates = spikes.sum(0)  # 1 s: count = rate [Hz]
    drive = 10.0 * currents
    closed = torch.where(drive > 15.0,
                         1000.0 / (2.0 + 20.0 * torch.log(drive / (drive - 15.0).clamp(1e-9))),
                         torch.zeros_like(drive))
    plot.fi_curve(currents, rates, reference=closed, ax=axes[0, 1])
    axes[0, 1].set_title("LIF f–I curve vs closed form")

    # Izhikevich cell classes
    ax = axes[0, 2]
    names = ("RS", "FS", "IB", "CH")
    drive_i = torch.zeros(2000, 1)
    drive_i[100:] = 10.0
    for k, name in enumerate(names):
        r = Izhikevich.preset(name, dt=0.1).run(drive_i)
        v = r.traces["v"][:, 0].clamp(max=30.0)
        ax.plot(r.t, v - 110.0 * k, lw=0.8, label=name)
        ax.text(r.t[-1] + 2, -70.0 - 110.0 * k, name, fontsize=9)
    ax.set(xlabel="time [ms]", yticks=[], title="Izhikevich (2003): RS, FS, IB, CH")

    # Hodgkin-Huxley
    hh = HodgkinHuxley(dt=0.01)
    i_hh = torch.zeros(6000, 1)
    i_hh[500:] = 10.0
    r = hh.run(i_hh)
    plot.traces(r, ax=axes[1, 0])
    axes[1, 0].set_title("Hodgkin–Huxley: 10 µA/cm² step")

    # surrogates
    plot.surrogates([sg.Sigmoid(alpha=5.0), sg.FastSigmoid(alpha=5.0), sg.ATan(),
                     sg.Gaussian(), sg.Triangle()],
                    axes=(axes[1, 1], axes[1, 1].twinx()))
    axes[1, 1].set_title("surrogate gradients g(v − θ)")
    for line in fig.axes[-1].get_lines():
        line.set_visible(False)
    fig.axes[-1].set_yticks([])
    fig.axes[-1].set_ylabel("")

    # learnable neurons under Poisson input
    gen = torch.Generator().manual_seed(0)
    inp = encoding.poisson(torch.full((40,), 50.0), 200, dt=1.0, generator=gen)
    w = torch.randn(40, 60, generator=gen) * 0.25
    neuron = LearnableNeuron.dimensionless(shape=(60,), learn=())
    out, _ = neuron((inp @ w)[:, None])
    plot.raster(out[:, 0], dt=1.0, ax=axes[1, 2])
    axes[1, 2].set_title("60 learnable-dynamics neurons, Poisson input")
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default="gallery.png")
    args = parser.parse_args(argv)
    matplotlib.use("Agg")  # a file, no window
    gallery().savefig(args.path, dpi=90)
    print(f"wrote {args.path}")


if __name__ == "__main__":
    main()

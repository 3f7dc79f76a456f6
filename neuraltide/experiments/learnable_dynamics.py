"""Fixed LIF against learned neuron dynamics, same architecture and budget, several seeds.

``python -m neuraltide.experiments.learnable_dynamics [--seeds 3] [--quick] [--json PATH]``
trains four neuron kinds (:data:`KINDS`) on two tasks (:data:`TASKS`):

* **digits**: scikit-learn's digits as constant input current for 16 steps, a 64-128-128-10
  spiking MLP with a leaky readout, Adam (lr 2e-3), 8 epochs;
* **delayed cue**: :func:`~neuraltide.datasets.delayed_cue` (4 classes, a 50 ms cue, a 100 ms
  delay and a 50 ms recall at dt = 2 ms: 25 + 50 + 25 steps), a 50-64-64-4 *feed-forward*
  spiking network with a leaky readout, read out over the recall period, Adam (lr 5e-3),
  80 epochs. Without recurrence the cue can only cross the 50-step delay in the neurons' own
  state, so the task measures what the neuron dynamics remember.

The kinds, every one in the same network with the same optimiser, epochs and data order:

* ``fixed LIF``: LIF with :math:`\\beta = 0.9` (:math:`\\tau` = 9.5 steps), nothing learned;
* ``fixed LIF (slow)``: LIF with :math:`\\beta = 0.995` (:math:`\\tau` = 200 steps), the best
  fixed :math:`\\beta` of 0.9, 0.95, 0.97, 0.98, 0.99, 0.995 and 0.998 on the delayed cue
  (chosen on its test set: a baseline given every advantage);
* ``learnable (frozen)``: :class:`~neuraltide.neurons.LearnableNeuron` at its initialisation,
  nothing learned (synaptic current :math:`\\alpha = 0.8`, threshold adaptation, reset to a
  value, :math:`\\beta = 0.9` as LIF): the control that separates *learning* the dynamics from
  the extra state variables;
* ``learnable``: the same neuron from the same initialisation, every dynamic (membrane,
  synaptic and adaptation time constants, adaptation strength, threshold, reset value) learned
  per neuron.

It prints a Markdown table: test accuracy (mean ± std over seeds), mean firing rate, training
time, and the learned membrane time constants per layer, :math:`\\tau = -1/\\ln\\beta` [steps].
Every run uses gradient-norm clipping at 1, a guard kept from a recurrent version of the cue
network, where the learnable neuron's synaptic current (:math:`\\alpha = 0.8`, a 5× longer
integration) made the BPTT gradients explode (norms of 1e6 at initialisation, against ~20 for
LIF). The networks are small and stepped one time step at a time: run with
``OMP_NUM_THREADS=1`` (a second thread only waits, and on a busy machine slows every run
several times); 5 seeds then take about 6 minutes on one core.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from ..datasets import delayed_cue, digits
from ..neurons import LIF, LearnableNeuron, NeuronModel
from ..training import LeakyReadout, Spiking, SpikingRecurrent

__all__ = ["KINDS", "TASKS", "Result", "Task", "main", "run", "table"]


def fixed_lif(n: int) -> NeuronModel:
    """LIF with beta = 0.9 (tau about 9.5 steps), nothing learned."""
    return LIF.dimensionless(beta=0.9, shape=(n,))


def slow_lif(n: int) -> NeuronModel:
    """LIF with beta = 0.995 (tau about 200 steps), nothing learned."""
    return LIF.dimensionless(beta=0.995, shape=(n,))


def learnable_frozen(n: int) -> NeuronModel:
    """LearnableNeuron at its initialisation (beta = 0.9 as LIF), nothing learned."""
    return LearnableNeuron.dimensionless(beta=0.9, shape=(n,), learn=())


def learnable(n: int) -> NeuronModel:
    """LearnableNeuron from LIF's beta = 0.9, every dynamic learned per neuron."""
    return LearnableNeuron.dimensionless(beta=0.9, shape=(n,))


KINDS: dict[str, Callable[[int], NeuronModel]] = {
    "fixed LIF": fixed_lif,
    "fixed LIF (slow)": slow_lif,
    "learnable (frozen)": learnable_frozen,
    "learnable": learnable,
}


@dataclass(frozen=True)
class Task:
    name: str
    data: Callable[[], tuple[TensorDataset, TensorDataset]]
    model: Callable[[Callable[[int], NeuronModel]], nn.Module]
    encode: Callable[[Tensor], Tensor]
    readout: Callable[[Tensor], Tensor]  # (T, batch, classes) -> (batch, classes)
    epochs: int
    lr: float


def _digits_model(neuron: Callable[[int], NeuronModel]) -> nn.Module:
    return nn.Sequential(nn.Linear(64, 128), Spiking(neuron(128)), nn.Linear(128, 128),
                         Spiking(neuron(128)), nn.Linear(128, 10), LeakyReadout(10))


def _cue_model(neuron: Callable[[int], NeuronModel]) -> nn.Module:
    return nn.Sequential(nn.Linear(50, 64), Spiking(neuron(64)), nn.Linear(64, 64),
                         Spiking(neuron(64)), nn.Linear(64, 4), LeakyReadout(4))


def _cue_data() -> tuple[TensorDataset, TensorDataset]:
    return (delayed_cue(512, delay_ms=100.0, dt=2.0, seed=0),
            delayed_cue(256, delay_ms=100.0, dt=2.0, seed=1))


TASKS: dict[str, Task] = {
    "digits": Task("digits", lambda: digits(), _digits_model,
                   lambda x: x.expand(16, *x.shape), lambda out: out.max(0).values, 8, 2e-3),
    "delayed cue": Task("delayed cue", _cue_data, _cue_model, lambda x: x.transpose(0, 1),
                        lambda out: out[-25:].mean(0), 80, 5e-3),  # the 50 ms recall
}


@dataclass
class Result:
    task: str
    kind: str
    seed: int
    accuracy: float
    rate: float  #: mean spikes per step over the spiking layers, on test data
    seconds: float  #: training time, evaluation excluded
    tau: list[list[float]] = field(default_factory=list)  #: per layer, tau_mem of each neuron
    #: per layer, the synaptic and adaptation time constants of each neuron [steps]; empty
    #: for a layer without that state (LIF)
    tau_syn: list[list[float]] = field(default_factory=list)
    tau_adapt: list[list[float]] = field(default_factory=list)
    history: list[float] = field(default_factory=list)  #: test accuracy after each epoch


def _taus(decay: Tensor, n: int) -> list[float]:
    """tau = -1/ln(decay) [steps] of each of n neurons; [] for a decay of 0 (no such state)."""
    d = decay.detach().expand(n)
    if not bool((d > 0).any()):
        return []
    return (-1.0 / torch.log(d.clamp(max=1 - 1e-7))).tolist()


def _accuracy(task: Task, model: nn.Module, data: TensorDataset) -> float:
    x, y = data.tensors
    with torch.no_grad():
        return (task.readout(model(task.encode(x))).argmax(-1) == y).float().mean().item()


def run(task: Task, kind: str, seed: int, epochs: int | None = None) -> Result:
    """Train one model on one task from one seed."""
    train, test = task.data()
    torch.manual_seed(seed)
    model = task.model(KINDS[kind])
    opt = torch.optim.Adam(model.parameters(), lr=task.lr)
    seconds = 0.0
    history = []
    for epoch in range(epochs or task.epochs):
        t0 = time.perf_counter()
        loader = DataLoader(train, batch_size=64, shuffle=True,
                            generator=torch.Generator().manual_seed(seed * 1000 + epoch))
        for x, y in loader:
            loss = nn.functional.cross_entropy(task.readout(model(task.encode(x))), y)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        seconds += time.perf_counter() - t0
        history.append(_accuracy(task, model, test))
    layers = [m for m in model.modules() if isinstance(m, Spiking | SpikingRecurrent)]
    spikes: list[Tensor] = []
    hooks = [m.register_forward_hook(lambda mod, i, o: spikes.append(o)) for m in layers]
    accuracy = _accuracy(task, model, test)
    for h in hooks:
        h.remove()
    params = [(m.neuron.params(), s.shape[-1]) for m, s in zip(layers, spikes, strict=True)]
    return Result(task.name, kind, seed, accuracy,
                  float(torch.stack([s.mean() for s in spikes]).mean()), seconds,
                  tau=[_taus(p.beta, n) for p, n in params],
                  tau_syn=[_taus(p.alpha, n) for p, n in params],
                  tau_adapt=[_taus(p.rho, n) for p, n in params],
                  history=history)


def _spread(values: list[float]) -> str:
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.1%} ± {std:.1%}"


def table(results: list[Result]) -> str:
    """Markdown table, one row per task and model."""
    lines = ["| task | neuron | test accuracy (mean ± std) | spikes per step | train [s] | "
             "learned τ per layer [steps]: median (quartiles) |", "|---|---|---|---|---|---|"]
    for task in dict.fromkeys(r.task for r in results):
        for kind in KINDS:
            rs = [r for r in results if r.task == task and r.kind == kind]
            if not rs:
                continue
            taus = []
            for layer in range(len(rs[0].tau)):
                t = torch.tensor([v for r in rs for v in r.tau[layer]])
                q = torch.quantile(t, torch.tensor([0.25, 0.5, 0.75]))
                taus.append(f"{q[1]:.1f} ({q[0]:.1f}–{q[2]:.1f})")
            lines.append(f"| {task} | {kind} | {_spread([r.accuracy for r in rs])} | "
                         f"{statistics.fmean(r.rate for r in rs):.3f} | "
                         f"{statistics.fmean(r.seconds for r in rs):.1f} | {'; '.join(taus)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m neuraltide.experiments.learnable_dynamics",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2 epochs per task")
    parser.add_argument("--json", metavar="PATH",
                        help="also write every run (time constants, accuracy per epoch) here")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {args.seeds}")
    results = []
    for task in TASKS.values():
        for kind in KINDS:
            for seed in range(args.seeds):
                r = run(task, kind, seed, 2 if args.quick else None)
                print(f"{task.name}, {kind}, seed {seed}: {r.accuracy:.1%} "
                      f"({r.seconds:.1f} s)", flush=True)
                results.append(r)
    print()
    print(table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump([asdict(r) for r in results], f)


if __name__ == "__main__":
    main()

"""A training loop for spiking networks that fits on one screen: :class:`Trainer`.

BPTT through time with any surrogate (the model's), optionally truncated (``tbptt=K``: one
optimizer step per chunk of ``K`` steps, the state carried over), optional gradient clipping, a
tqdm progress bar, per-epoch metrics (loss, accuracy, mean firing rate and fraction of silent
neurons per spiking layer), callbacks, TensorBoard logging (with learned time constants and
spike rasters), and checkpoints that resume exactly.

Data-parallel training: wrap the model in ``DistributedDataParallel`` and give each rank its
shard with a ``DistributedSampler`` (the trainer calls its ``set_epoch``); under an initialised
``torch.distributed`` process group the epoch metrics are summed over the ranks, so every rank
reports the global loss and accuracy. Save checkpoints from one rank. Call ``gc.collect()``
before ``destroy_process_group()``: with gloo (torch 2.13) about one process in ten otherwise
aborts at interpreter shutdown ("terminate called without an active exception").

Data: any iterable of ``(x, y)`` batches (a ``DataLoader``); ``encode(x)`` turns a batch into
the time-major input ``(T, batch, ...)`` (default: ``x`` is already time-major). Predictions:
``predict(output)`` (default: the class with the largest output summed over time, which suits
both spike counts and readout membranes).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from ..neurons._base import NeuronModel
from .layers import Spiking, SpikingRecurrent

__all__ = ["Callback", "EpochMetrics", "Trainer"]


@dataclass
class EpochMetrics:
    """What one epoch measured.

    Attributes:
        epoch: epoch number, from 1.
        loss: mean training loss.
        accuracy: training accuracy in [0, 1].
        val_loss, val_accuracy: on the validation data (``nan`` without it).
        rate: spiking layer name -> mean firing rate [spikes per step] over the epoch.
        silent: spiking layer name -> fraction of neurons that never spiked in the epoch.
        seconds: wall time of the epoch [s].
    """

    epoch: int
    loss: float
    accuracy: float
    val_loss: float = math.nan
    val_accuracy: float = math.nan
    rate: dict[str, float] = field(default_factory=dict)
    silent: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


class Callback(Protocol):
    """Receives the metrics after every epoch (the TrainingMonitor widget is one)."""

    def on_epoch_end(self, trainer: Trainer, metrics: EpochMetrics) -> None: ...


def _sum_over_time(output: Tensor) -> Tensor:
    return output.sum(0).argmax(-1)


def _global(total: float, correct: int, n: int) -> tuple[float, int, int]:
    """Sums over the ranks of an initialised process group (unchanged otherwise)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return total, correct, n
    t = torch.tensor([total, float(correct), float(n)], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t[0]), int(t[1]), int(t[2])


def _carries_state(module: nn.Module) -> bool:
    """Whether a layer can keep its final state between calls (as :class:`Spiking` does)."""
    return (isinstance(getattr(module, "stateful", None), bool)
            and callable(getattr(module, "detach_state", None))
            and callable(getattr(module, "reset_state", None)))


def _state_carriers(model: nn.Module) -> list[nn.Module]:
    """The layers that carry the state of every neuron model in ``model`` (for ``tbptt``);
    raises if a neuron model sits in a layer that cannot carry it."""
    carriers = {name: m for name, m in model.named_modules() if _carries_state(m)}
    for name, m in model.named_modules():
        if not isinstance(m, NeuronModel):
            continue
        parts = name.split(".")
        owners = [".".join(parts[:i]) for i in range(len(parts) - 1, -1, -1)]
        if not any(o in carriers for o in owners):
            parent = model.get_submodule(".".join(parts[:-1])) if len(parts) > 1 else model
            raise ValueError(
                f"Trainer: tbptt needs every neuron model in a layer that carries its state "
                f"between chunks (stateful, detach_state(), reset_state(), as Spiking), got "
                f"{type(m).__name__} at {name!r} in {type(parent).__name__}; use Spiking, "
                f"SpikingRecurrent or LeakyReadout layers, or tbptt=None."
            )
    return list(carriers.values())


def _decays(module: NeuronModel) -> list[str]:
    """The learned decays per step of a neuron model: dimensionless parameters bounded to
    [0, 1] (``beta``, ``alpha``, ``rho``)."""
    return [n for n in module.learned
            if (s := module.specs[n]).unit == "1" and s.low == 0.0 and s.high == 1.0]


class _Activity:
    """Forward hooks on the spiking layers, in training mode only: spike counts per neuron over
    an epoch, and the spikes of the first sample of the latest batch (for rasters)."""

    def __init__(self, model: nn.Module) -> None:
        self.layers = {name: m for name, m in model.named_modules()
                       if isinstance(m, Spiking | SpikingRecurrent)}
        self.counts: dict[str, Tensor] = {}
        self.steps: dict[str, int] = {}
        self.first: dict[str, list[Tensor]] = {}
        self.handles = [m.register_forward_hook(self._hook(name))
                        for name, m in self.layers.items()]

    def _hook(self, name: str) -> Callable[..., None]:
        def hook(module: nn.Module, inputs: Any, out: Tensor) -> None:
            if not module.training:  # validation batches are not training activity
                return
            s = out.detach()
            per_neuron = s.sum(dim=(0, 1))
            self.counts[name] = self.counts.get(name, 0) + per_neuron
            self.steps[name] = self.steps.get(name, 0) + s.shape[0] * s.shape[1]
            self.first.setdefault(name, []).append(s[:, 0].reshape(s.shape[0], -1))
        return hook

    def reset(self) -> None:
        self.counts, self.steps, self.first = {}, {}, {}

    def new_batch(self) -> None:
        """Forget the previous batch's first sample (its chunks are concatenated)."""
        self.first = {}

    def rasters(self) -> dict[str, Tensor]:
        """Layer name -> ``(T, neurons)`` spikes of the latest batch's first sample."""
        return {n: torch.cat(chunks) for n, chunks in self.first.items()}

    def summary(self) -> tuple[dict[str, float], dict[str, float]]:
        rate = {n: float(c.sum() / (self.steps[n] * c.numel())) for n, c in self.counts.items()}
        silent = {n: float((c == 0).float().mean()) for n, c in self.counts.items()}
        return rate, silent


class Trainer:
    r"""Train a time-major spiking model by BPTT, optionally truncated.

    Truncated BPTT (``tbptt=K``): each batch's input ``(T, batch, ...)`` is cut into chunks of
    ``K`` steps (the last one shorter if ``K`` does not divide ``T``). The model runs on each
    chunk starting from the state the previous chunk ended in, detached (so the gradient does
    not flow back beyond the chunk and memory is bounded by ``K`` steps, not ``T``); each chunk
    gets its own loss ``loss_fn(chunk_output, y)`` (+ the regulariser), backward, clipping and
    optimizer step. The reported loss of the batch is the mean of its chunks' losses, weighted
    by chunk length; ``predict`` sees the chunks' outputs concatenated over time, which equal
    the output of the whole sequence under the weights of each chunk's step. :meth:`evaluate`
    computes the loss the same way (without steps). With ``K >= T`` training is exactly plain
    BPTT. Every neuron model must sit in a layer that carries state (``stateful``,
    ``detach_state()``, ``reset_state()``: :class:`~neuraltide.training.Spiking`,
    :class:`~neuraltide.training.SpikingRecurrent`, whose state includes the last spikes
    that feed its recurrent weights, and :class:`~neuraltide.training.LeakyReadout`); a model
    with a neuron model anywhere else is refused. The trainer switches carrying on for each
    batch, starts each batch at rest and restores the layers' ``stateful`` flags and a fresh
    state afterwards, so calls outside the trainer behave as before.

    Args:
        model: maps ``(T, batch, ...)`` to outputs ``(T, batch, classes)``.
        optimizer: a ``torch.optim`` optimizer over the model's parameters.
        loss_fn: ``loss_fn(output, y) -> scalar`` (e.g. ``membrane_cross_entropy``).
        encode: ``encode(x) -> (T, batch, ...)`` input; default: identity.
        predict: ``predict(output) -> (batch,)`` classes; default: argmax of the output summed
            over time.
        grad_clip: clip the gradient norm to this value (> 0); ``None``: no clipping.
        regularize: weight of the learned neurons' :meth:`~NeuronModel.regularizer` in the
            loss (>= 0).
        callbacks: objects with ``on_epoch_end(trainer, metrics)``.
        log_dir: write TensorBoard logs here; ``None``: no logging. Per epoch: the scalars
            ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``, ``rate/{layer}``,
            ``silent/{layer}``; histograms ``spike_count/{layer}`` (spikes per neuron over the
            epoch's training batches), ``learned/{module}.{param}`` (learned neuron parameters,
            in their units) and ``tau/{module}.{param}`` (the time constant
            :math:`\tau = -1/\ln d` [steps] of every learned decay per step ``d`` such as
            ``beta``, ``alpha``, ``rho``; decays of exactly 1, :math:`\tau = \infty`, are left
            out); images ``raster/{layer}`` (the spikes of the first sample of the epoch's last
            training batch, one row per neuron from the top and one column per step, white =
            spike; features beyond one dimension are flattened).
        progress: show a tqdm bar per epoch.
        tbptt: truncated BPTT over chunks of this many steps (an int >= 1); ``None``: BPTT over
            the whole sequence.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_fn: Callable[[Tensor, Tensor], Tensor],
        *,
        encode: Callable[[Tensor], Tensor] | None = None,
        predict: Callable[[Tensor], Tensor] = _sum_over_time,
        grad_clip: float | None = None,
        regularize: float = 0.0,
        callbacks: Sequence[Callback] = (),
        log_dir: str | Path | None = None,
        progress: bool = True,
        tbptt: int | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise ValueError(f"Trainer: model must be an nn.Module, got {type(model).__name__}.")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise ValueError(f"Trainer: optimizer must be a torch.optim.Optimizer, got "
                             f"{type(optimizer).__name__}.")
        if grad_clip is not None and not (isinstance(grad_clip, (int, float)) and grad_clip > 0):
            raise ValueError(f"Trainer: grad_clip must be > 0 or None, got {grad_clip!r}.")
        if not (isinstance(regularize, (int, float)) and regularize >= 0):
            raise ValueError(f"Trainer: regularize must be >= 0, got {regularize!r}.")
        for cb in callbacks:
            if not callable(getattr(cb, "on_epoch_end", None)):
                raise ValueError(f"Trainer: callbacks must have on_epoch_end(trainer, metrics), "
                                 f"got {cb!r}.")
        if tbptt is not None and (not isinstance(tbptt, int) or isinstance(tbptt, bool)
                                  or tbptt < 1):
            raise ValueError(f"Trainer: tbptt must be an int >= 1 [steps] or None, got "
                             f"{tbptt!r}.")
        self._carriers = [] if tbptt is None else _state_carriers(model)
        self.tbptt = tbptt
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.encode = encode or (lambda x: x)
        self.predict, self.grad_clip, self.regularize = predict, grad_clip, float(regularize)
        self.callbacks, self.progress = list(callbacks), progress
        self.log_dir = None if log_dir is None else Path(log_dir)
        self.epoch = 0
        self.history: list[EpochMetrics] = []
        self._writer: Any = None

    # ---- one pass over data ---------------------------------------------------------------
    def _batches(self, data: Iterable, train: bool) -> Iterable[tuple[Tensor, Tensor]]:
        count = 0
        for batch in data:
            if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
                raise ValueError("Trainer: data must yield (x, y) pairs.")
            count += 1
            yield batch
        if count == 0:
            raise ValueError(f"Trainer: the {'training' if train else 'validation'} data is "
                             "empty (no batches).")

    def _sequence(self, x: Tensor, y: Tensor) -> Tensor:
        seq = self.encode(x)
        if not isinstance(seq, Tensor) or seq.dim() < 3 or seq.shape[1] != y.shape[0]:
            raise ValueError(
                f"Trainer: encode(x) must be time-major (T, batch, ...) with batch = "
                f"{y.shape[0]} (the labels), got {getattr(seq, 'shape', type(seq).__name__)}."
            )
        return seq

    @contextmanager
    def _carrying(self) -> Iterator[None]:
        """With ``tbptt``: the layers keep their state between the calls of one batch, which
        starts at rest; afterwards their flags are restored and their state dropped."""
        before = [m.stateful for m in self._carriers]
        for m in self._carriers:
            m.stateful = True
            m.reset_state()
        try:
            yield
        finally:
            for m, flag in zip(self._carriers, before, strict=True):
                m.reset_state()
                m.stateful = flag

    def _batch(self, x: Tensor, y: Tensor, train: bool) -> tuple[float, Tensor]:
        """Run one batch, chunk by chunk with ``tbptt``, taking an optimizer step per chunk if
        ``train``. Returns the loss (mean over chunks, weighted by their length; with the
        regulariser if ``train``) and the detached output ``(T, batch, ...)``."""
        seq = self._sequence(x, y)
        chunks = seq.split(self.tbptt) if self.tbptt is not None else (seq,)
        losses: list[float] = []
        outputs: list[Tensor] = []
        with self._carrying():
            for chunk in chunks:
                out = self.model(chunk)
                loss = self.loss_fn(out, y)
                if train:
                    loss = loss + self._regularizer()
                    self.optimizer.zero_grad()
                    loss.backward()
                    if self.grad_clip is not None:
                        nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
                    self.optimizer.step()
                    for m in self._carriers:
                        m.detach_state()
                losses.append(float(loss.detach()))
                outputs.append(out.detach())
        if len(chunks) == 1:
            return losses[0], outputs[0]
        mean = sum(v * len(c) for v, c in zip(losses, chunks, strict=True)) / seq.shape[0]
        return mean, torch.cat(outputs)

    def _regularizer(self) -> Tensor | float:
        if not self.regularize:
            return 0.0
        terms = [m.regularizer() for m in self.model.modules() if isinstance(m, NeuronModel)]
        return self.regularize * sum(terms) if terms else 0.0

    def evaluate(self, data: Iterable) -> tuple[float, float]:
        """Mean loss and accuracy on ``data`` (no gradients)."""
        self.model.eval()
        total, correct, n = 0.0, 0, 0
        with torch.no_grad():
            for x, y in self._batches(data, train=False):
                loss, out = self._batch(x, y, train=False)
                total += loss * len(y)
                correct += int((self.predict(out) == y).sum())
                n += len(y)
        return total / n, correct / n

    def fit(self, data: Iterable, epochs: int, val: Iterable | None = None
            ) -> list[EpochMetrics]:
        """Train for ``epochs`` more epochs; returns the metrics of every epoch so far."""
        if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
            raise ValueError(f"Trainer.fit: epochs must be an int >= 1, got {epochs!r}.")
        from tqdm.auto import tqdm

        activity = _Activity(self.model)
        try:
            for _ in range(epochs):
                self.epoch += 1
                self.model.train()
                activity.reset()
                start, total, correct, n = time.perf_counter(), 0.0, 0, 0
                sampler = getattr(data, "sampler", None)
                if callable(getattr(sampler, "set_epoch", None)):
                    sampler.set_epoch(self.epoch)  # a new shuffle per epoch, same on all ranks
                bar = tqdm(self._batches(data, train=True), desc=f"epoch {self.epoch}",
                           disable=not self.progress, leave=False)
                for x, y in bar:
                    activity.new_batch()
                    loss, out = self._batch(x, y, train=True)
                    total += loss * len(y)
                    correct += int((self.predict(out) == y).sum())
                    n += len(y)
                    bar.set_postfix(loss=f"{total / n:.3f}", acc=f"{correct / n:.3f}")
                total, correct, n = _global(total, correct, n)
                rate, silent = activity.summary()
                metrics = EpochMetrics(self.epoch, total / n, correct / n, rate=rate,
                                       silent=silent, seconds=time.perf_counter() - start)
                if val is not None:
                    metrics.val_loss, metrics.val_accuracy = self.evaluate(val)
                self.history.append(metrics)
                self._log(metrics, activity)
                for cb in self.callbacks:
                    cb.on_epoch_end(self, metrics)
        finally:
            for h in activity.handles:
                h.remove()
        return self.history

    # ---- TensorBoard ------------------------------------------------------------------------
    def _log(self, m: EpochMetrics, activity: _Activity) -> None:
        if self.log_dir is None:
            return
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.log_dir))
        w = self._writer
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            value = getattr(m, key)
            if not math.isnan(value):
                w.add_scalar(key, value, m.epoch)
        for name, counts in activity.counts.items():
            w.add_scalar(f"rate/{name}", m.rate[name], m.epoch)
            w.add_scalar(f"silent/{name}", m.silent[name], m.epoch)
            w.add_histogram(f"spike_count/{name}", counts, m.epoch)
        for name, spikes in activity.rasters().items():  # (T, neurons) -> (1, neurons, T)
            w.add_image(f"raster/{name}", spikes.t().clamp(0, 1).float().cpu()[None], m.epoch,
                        dataformats="CHW")
        for name, module in self.model.named_modules():
            if isinstance(module, NeuronModel):
                for p in module.learned:
                    w.add_histogram(f"learned/{name}.{p}", module.value(p).detach(), m.epoch)
                for p in _decays(module):
                    tau = -1.0 / torch.log(module.value(p).detach().double())
                    tau = tau[torch.isfinite(tau)]
                    if tau.numel():
                        w.add_histogram(f"tau/{name}.{p}", tau, m.epoch)
        w.flush()

    # ---- checkpoints ------------------------------------------------------------------------
    def save_checkpoint(self, path: str | Path) -> None:
        """Model, optimizer, epoch, history and the RNG state: :meth:`load_checkpoint` then
        continues exactly as if training had not stopped (same shuffles, same draws)."""
        torch.save(dict(model=self.model.state_dict(), optimizer=self.optimizer.state_dict(),
                        epoch=self.epoch, history=[asdict(h) for h in self.history],
                        rng=torch.get_rng_state()), path)

    def load_checkpoint(self, path: str | Path) -> None:
        """Restore what :meth:`save_checkpoint` wrote (read with ``weights_only=True``)."""
        ckpt = torch.load(path, weights_only=True)
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.epoch = int(ckpt["epoch"])
        self.history = [EpochMetrics(**h) for h in ckpt["history"]]
        torch.set_rng_state(ckpt["rng"])

    def close(self) -> None:
        """Flush and close the TensorBoard writer."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

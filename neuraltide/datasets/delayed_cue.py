"""A temporal task that needs memory: delayed cue recall, generated in code.

Each trial: a **cue** (one of ``classes`` groups of input channels fires at a high rate for
``cue_ms``), a **delay** of ``delay_ms`` with background noise only, then a **recall** signal
(a dedicated group of channels) during ``recall_ms``; the label is the cue's class. A network
must carry the cue across the delay, which a membrane with a short time constant forgets:
what learned time constants and adaptive thresholds are for.
"""

from __future__ import annotations

import math

import torch
from torch.utils.data import TensorDataset

__all__ = ["delayed_cue"]


def delayed_cue(
    n_samples: int,
    *,
    classes: int = 4,
    channels_per_class: int = 10,
    cue_ms: float = 50.0,
    delay_ms: float = 150.0,
    recall_ms: float = 50.0,
    rate_hz: float = 40.0,
    noise_hz: float = 5.0,
    dt: float = 1.0,
    seed: int = 0,
) -> TensorDataset:
    """``n_samples`` trials as a dataset of ``(x, y)``: ``x`` spikes ``(T, channels)`` with
    ``channels = (classes + 1) * channels_per_class`` (the last group is the recall signal) and
    ``T = (cue_ms + delay_ms + recall_ms) / dt``; ``y`` the class. Batches from a DataLoader
    are batch-first: feed ``x.transpose(0, 1)`` to a time-major network.

    Args:
        n_samples: number of trials, >= 1; classes are balanced (trial ``k`` has class
            ``k mod classes`` before shuffling).
        classes: number of cue classes, >= 2.
        channels_per_class: input channels per group, >= 1.
        cue_ms, delay_ms, recall_ms: phase durations [ms], multiples of ``dt``, cue and recall
            > 0, delay >= 0.
        rate_hz: rate of the active channels [Hz]; noise_hz: background rate [Hz] of every
            channel; ``rate_hz * dt`` and ``noise_hz * dt`` at most 1000.
        dt: step [ms], > 0.
        seed: seed of the trials.
    """
    owner = "delayed_cue"
    for name, value, low in (("n_samples", n_samples, 1), ("classes", classes, 2),
                             ("channels_per_class", channels_per_class, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{owner}: {name} must be an int >= {low}, got {value!r}.")
    if not (isinstance(dt, (int, float)) and dt > 0):
        raise ValueError(f"{owner}: dt must be > 0 [ms], got {dt!r}.")
    steps = {}
    for name, value, allow_zero in (("cue_ms", cue_ms, False), ("delay_ms", delay_ms, True),
                                    ("recall_ms", recall_ms, False)):
        k = round(value / dt) if isinstance(value, (int, float)) else -1
        if k < (0 if allow_zero else 1) or not math.isclose(k * dt, value, abs_tol=1e-9):
            raise ValueError(
                f"{owner}: {name} must be a multiple of dt={dt} [ms] and "
                f"{'>= 0' if allow_zero else '> 0'}, got {value!r}."
            )
        steps[name] = k
    for name, value in (("rate_hz", rate_hz), ("noise_hz", noise_hz)):
        if not (isinstance(value, (int, float)) and 0 <= value * dt <= 1000):
            raise ValueError(f"{owner}: {name} must be in [0, {1000 / dt:g}] [Hz], got {value!r}.")
    g = torch.Generator().manual_seed(seed)
    T = sum(steps.values())
    channels = (classes + 1) * channels_per_class
    y = torch.arange(n_samples) % classes
    y = y[torch.randperm(n_samples, generator=g)]
    rate = torch.full((n_samples, T, channels), float(noise_hz))
    cue_end = steps["cue_ms"]
    recall_start = cue_end + steps["delay_ms"]
    for k in range(classes):
        chans = slice(k * channels_per_class, (k + 1) * channels_per_class)
        rate[y == k, :cue_end, chans] = float(rate_hz)
    rate[:, recall_start:, classes * channels_per_class:] = float(rate_hz)
    x = (torch.rand(rate.shape, generator=g) < rate * dt * 1e-3).to(torch.get_default_dtype())
    return TensorDataset(x, y)

"""scikit-learn's 8x8 handwritten digits (shipped inside scikit-learn: nothing is downloaded),
split and scaled for spiking networks."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

__all__ = ["digits"]


def digits(test_fraction: float = 0.2, seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """The 1797 digits as ``(train, test)`` datasets of ``(x, y)``: ``x`` ``(64,)`` pixel
    intensities scaled to [0, 1], ``y`` the class 0-9; a seeded random split.

    Encode ``x`` in the training loop, e.g. as a constant input current
    (``x.expand(T, *x.shape)``) or as Poisson spikes
    (``neuraltide.encoding.poisson(x * max_rate_hz, T)``).

    Args:
        test_fraction: fraction of samples held out, in (0, 1).
        seed: seed of the split.
    """
    if not (isinstance(test_fraction, float) and 0.0 < test_fraction < 1.0):
        raise ValueError(f"digits: test_fraction must be in (0, 1), got {test_fraction!r}.")
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - scikit-learn is in the dev extra
        raise ImportError("digits: needs scikit-learn (pip install scikit-learn).") from exc
    data = load_digits()
    x = torch.tensor(data.data, dtype=torch.get_default_dtype()) / 16.0
    y = torch.tensor(data.target, dtype=torch.long)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    n_test = round(test_fraction * len(y))
    test, train = perm[:n_test], perm[n_test:]
    return TensorDataset(x[train], y[train]), TensorDataset(x[test], y[test])

"""The built-in data sets: shapes, balance, statistics and errors."""

from __future__ import annotations

import pytest
import torch

from neuraltide.datasets import delayed_cue, digits


def test_digits_split_is_seeded_disjoint_and_scaled() -> None:
    pytest.importorskip("sklearn")
    train, test = digits(test_fraction=0.25, seed=3)
    assert len(train) + len(test) == 1797 and len(test) == round(0.25 * 1797)
    x, y = train.tensors
    assert x.shape[1] == 64 and float(x.min()) >= 0.0 and float(x.max()) == 1.0
    assert set(y.tolist()) == set(range(10))
    again, _ = digits(test_fraction=0.25, seed=3)
    assert torch.equal(again.tensors[0], x)
    other, _ = digits(test_fraction=0.25, seed=4)
    assert not torch.equal(other.tensors[0], x)
    rows = {tuple(r.tolist()) for r in test.tensors[0]}
    assert sum(tuple(r.tolist()) in rows for r in x[:200]) < 20  # duplicates exist in digits
    with pytest.raises(ValueError, match=r"test_fraction must be in \(0, 1\)"):
        digits(test_fraction=1.0)


def test_delayed_cue_phases_carry_the_label_only_in_the_cue() -> None:
    ds = delayed_cue(400, classes=4, channels_per_class=10, cue_ms=50.0, delay_ms=100.0,
                     recall_ms=30.0, rate_hz=100.0, noise_hz=5.0, dt=1.0, seed=1)
    x, y = ds.tensors
    assert x.shape == (400, 180, 50) and torch.equal(torch.bincount(y), torch.full((4,), 100))
    # cue: the label's group fires at ~100 Hz, the others at ~5 Hz
    for k in range(4):
        cue = x[y == k, :50]
        own = cue[..., 10 * k:10 * (k + 1)].mean() * 1e3
        others = torch.cat([cue[..., :10 * k], cue[..., 10 * (k + 1):40]], -1).mean() * 1e3
        assert 85 < own < 115 and 3 < others < 7
    # delay: nothing distinguishes the classes; recall: the last group fires
    delay = x[:, 50:150, :40].mean((1, 2)) * 1e3
    assert abs(delay[y == 0].mean() - delay[y == 3].mean()) < 0.5
    assert 85 < x[:, 150:, 40:].mean() * 1e3 < 115
    with pytest.raises(ValueError, match=r"delay_ms must be a multiple of dt=1.0 \[ms\]"):
        delayed_cue(10, delay_ms=10.5)
    with pytest.raises(ValueError, match="classes must be an int >= 2"):
        delayed_cue(10, classes=1)

"""The Trainer: learns, measures activity, calls back, logs to TensorBoard, resumes exactly."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from neuraltide.neurons import LIF, LearnableNeuron
from neuraltide.training import (
    LeakyReadout,
    Spiking,
    Trainer,
    membrane_cross_entropy,
)
from neuraltide.training.losses import Readout

T = 8


def digits(n: int | None = None) -> tuple[TensorDataset, TensorDataset]:
    datasets = pytest.importorskip("sklearn.datasets")
    data = datasets.load_digits()
    X = torch.tensor(data.data, dtype=torch.float32) / 16.0
    y = torch.tensor(data.target)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))[:n]
    cut = int(0.8 * len(perm))
    return TensorDataset(X[perm[:cut]], y[perm[:cut]]), TensorDataset(X[perm[cut:]], y[perm[cut:]])


def model() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 64), Spiking(LearnableNeuron.dimensionless(shape=(64,))),
                         nn.Linear(64, 10), LeakyReadout(10, beta=0.9))


def trainer(net: nn.Module, **kw) -> Trainer:
    return Trainer(net, torch.optim.Adam(net.parameters(), lr=3e-3),
                   lambda out, y: membrane_cross_entropy(out, y, readout=Readout.MAX),
                   encode=lambda x: x.expand(T, *x.shape), progress=False, **kw)


class Recorder:
    def __init__(self) -> None:
        self.seen: list[int] = []

    def on_epoch_end(self, trainer: Trainer, metrics) -> None:
        self.seen.append(metrics.epoch)


def test_fit_learns_and_reports_activity() -> None:
    train, val = digits(600)
    torch.manual_seed(0)
    rec = Recorder()
    t = trainer(model(), callbacks=[rec], grad_clip=5.0, regularize=1e-3)
    history = t.fit(DataLoader(train, batch_size=32, shuffle=True), epochs=3,
                    val=DataLoader(val, batch_size=100))
    assert rec.seen == [1, 2, 3] and len(history) == 3
    assert history[-1].loss < history[0].loss
    assert history[-1].val_accuracy > 0.7
    assert set(history[-1].rate) == {"1"}  # the Spiking layer, by its name in the Sequential
    assert 0 < history[-1].rate["1"] < 1 and 0 <= history[-1].silent["1"] <= 1
    val_loss, acc = t.evaluate(DataLoader(val, batch_size=100))
    assert (val_loss, acc) == pytest.approx((history[-1].val_loss, history[-1].val_accuracy))


def test_checkpoint_resume_is_bit_identical(tmp_path) -> None:
    train, _ = digits(300)

    def run(split: bool) -> dict[str, torch.Tensor]:
        torch.manual_seed(1)
        net = model()
        t = trainer(net)
        loader = DataLoader(train, batch_size=32, shuffle=True)
        if not split:
            t.fit(loader, epochs=4)
            return net.state_dict()
        t.fit(loader, epochs=2)
        t.save_checkpoint(tmp_path / "ckpt.pt")
        torch.manual_seed(999)  # a fresh process would start from another RNG state
        fresh = model()
        t2 = trainer(fresh)
        t2.load_checkpoint(tmp_path / "ckpt.pt")
        assert t2.epoch == 2 and len(t2.history) == 2
        t2.fit(loader, epochs=2)
        return fresh.state_dict()

    straight, resumed = run(False), run(True)
    assert straight.keys() == resumed.keys()
    for k in straight:
        assert torch.equal(straight[k], resumed[k]), k


def test_tensorboard_logs_scalars_and_learned_parameters(tmp_path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train, _ = digits(200)
    t = trainer(model(), log_dir=tmp_path / "tb")
    t.fit(DataLoader(train, batch_size=40), epochs=2)
    t.close()
    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    tags = acc.Tags()
    assert [e.step for e in acc.Scalars("loss")] == [1, 2]
    assert "rate/1" in tags["scalars"] and "spike_count/1" in tags["histograms"]
    assert "learned/1.neuron.tau_mem" in tags["histograms"] or any(
        tag.startswith("learned/1.neuron.") for tag in tags["histograms"])


def test_bad_configurations_raise() -> None:
    net = model()
    t = trainer(net)
    empty = DataLoader(TensorDataset(torch.zeros(0, 64), torch.zeros(0, dtype=torch.long)),
                       batch_size=4)
    with pytest.raises(ValueError, match="the training data is empty"):
        t.fit(empty, epochs=1)
    bad = Trainer(net, torch.optim.SGD(net.parameters(), lr=0.1), lambda o, y: o.sum(),
                  encode=lambda x: x.expand(T, *x.shape)[:, :3], progress=False)
    data = DataLoader(TensorDataset(torch.zeros(8, 64), torch.zeros(8, dtype=torch.long)),
                      batch_size=4)
    with pytest.raises(ValueError, match=r"time-major \(T, batch, \.\.\.\) with batch = 4"):
        bad.fit(data, epochs=1)
    with pytest.raises(ValueError, match="epochs must be an int >= 1"):
        t.fit(data, epochs=0)
    with pytest.raises(ValueError, match="grad_clip must be > 0"):
        trainer(net, grad_clip=-1.0)
    with pytest.raises(ValueError, match="learn must name parameters among"):
        LIF.dimensionless(learn=("tau_syn",))

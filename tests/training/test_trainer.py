"""The Trainer: learns, measures activity, calls back, logs to TensorBoard, resumes exactly."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from neuraltide.neurons import LIF, LearnableNeuron
from neuraltide.training import (
    LeakyReadout,
    Spiking,
    SpikingRecurrent,
    Trainer,
    count_cross_entropy,
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


# ---- truncated BPTT ---------------------------------------------------------------------------
def ramp(x: torch.Tensor, steps: int = T) -> torch.Tensor:
    """Time-major input that changes over time, so that the carried state matters."""
    return x.expand(steps, *x.shape) * torch.linspace(0.5, 1.5, steps)[:, None, None]


def spiking_model() -> nn.Module:
    """A model whose every neuron sits in a Spiking layer (so its state can be carried)."""
    return nn.Sequential(nn.Linear(64, 32), Spiking(LearnableNeuron.dimensionless(shape=(32,))),
                         nn.Linear(32, 10), Spiking(LIF.dimensionless(beta=0.9)))


def recurrent_model() -> nn.Module:
    """Recurrent spiking layer and a leaky readout: both carry state (the recurrent layer its
    last spikes too)."""
    return nn.Sequential(SpikingRecurrent(64, 32, LIF.dimensionless(beta=0.9, threshold=0.5)),
                         nn.Linear(32, 10), LeakyReadout(10, beta=0.8, learnable=True))


def tbptt_trainer(net: nn.Module, optimizer: torch.optim.Optimizer, **kw) -> Trainer:
    return Trainer(net, optimizer, lambda out, y: count_cross_entropy(out, y), encode=ramp,
                   progress=False, **kw)


class RecordingSGD(torch.optim.SGD):
    """SGD that keeps a copy of the gradients of every step."""

    def __init__(self, params, lr: float) -> None:
        super().__init__(params, lr=lr)
        self.grads: list[list[torch.Tensor]] = []

    def step(self, closure=None):
        self.grads.append([p.grad.clone() for g in self.param_groups for p in g["params"]])
        return super().step(closure)


@pytest.mark.parametrize("make", [spiking_model, recurrent_model], ids=["spiking", "recurrent"])
def test_tbptt_of_the_whole_sequence_is_plain_bptt_bit_for_bit(make) -> None:
    train, _ = digits(200)

    def run(tbptt: int | None) -> tuple[dict[str, torch.Tensor], list[float]]:
        torch.manual_seed(3)
        net = make()
        t = tbptt_trainer(net, torch.optim.Adam(net.parameters(), lr=3e-3), tbptt=tbptt,
                          grad_clip=5.0, regularize=1e-3)
        history = t.fit(DataLoader(train, batch_size=32, shuffle=True), epochs=1)
        return net.state_dict(), [history[0].loss, history[0].accuracy]

    plain, plain_metrics = run(None)
    for k in (T, T + 5):
        chunked, metrics = run(k)
        assert metrics == plain_metrics
        for name in plain:
            assert torch.equal(plain[name], chunked[name]), (k, name)


def test_tbptt_steps_once_per_chunk_from_the_carried_detached_state() -> None:
    x, y = digits(40)[0].tensors
    x, y = x[:16], y[:16]
    K, lr = 3, 0.5  # chunks of 3, 3 and 2 steps
    torch.manual_seed(4)
    net = spiking_model()
    reference = copy.deepcopy(net)
    opt = RecordingSGD(net.parameters(), lr=lr)
    t = tbptt_trainer(net, opt, tbptt=K)
    history = t.fit([(x, y)], epochs=1)
    assert len(opt.grads) == 3

    # the same by hand: stateful layers, one backward and step per chunk, state detached
    layers = [m for m in reference.modules() if isinstance(m, Spiking)]
    for m in layers:
        m.stateful = True
    ref_opt = torch.optim.SGD(reference.parameters(), lr=lr)
    losses, fresh_grads = [], None
    for step, chunk in enumerate(ramp(x).split(K)):
        if step == 1:  # what the second step's gradient would be from rest, for contrast
            fresh = copy.deepcopy(reference)
            for m in fresh.modules():
                if isinstance(m, Spiking):
                    m.reset_state()
            count_cross_entropy(fresh(chunk), y).backward()
            fresh_grads = [p.grad for p in fresh.parameters()]
        loss = count_cross_entropy(reference(chunk), y)
        ref_opt.zero_grad()
        loss.backward()
        for got, want in zip(opt.grads[step], reference.parameters(), strict=True):
            assert torch.allclose(got, want.grad, rtol=1e-5, atol=1e-7), step
        ref_opt.step()
        for m in layers:
            m.detach_state()
        losses.append(float(loss.detach()))
    assert not all(torch.allclose(g, f) for g, f in zip(opt.grads[1], fresh_grads, strict=True))
    assert history[0].loss == pytest.approx((3 * losses[0] + 3 * losses[1] + 2 * losses[2]) / T)
    for a, b in zip(net.parameters(), reference.parameters(), strict=True):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)
    # the trainer gives the layers back as it found them: stateless, at rest
    assert all(not m.stateful and m.state is None for m in net.modules()
               if isinstance(m, Spiking))


@pytest.mark.parametrize("make", [spiking_model, recurrent_model], ids=["spiking", "recurrent"])
def test_tbptt_outputs_concatenate_to_the_whole_sequence(make) -> None:
    x, y = digits(40)[0].tensors
    torch.manual_seed(5)
    net = make()
    seen: list[torch.Tensor] = []

    def predict(out: torch.Tensor) -> torch.Tensor:
        seen.append(out)
        return out.sum(0).argmax(-1)

    t = Trainer(net, torch.optim.SGD(net.parameters(), lr=0.0), lambda o, y: o.sum(),
                encode=ramp, predict=predict, progress=False, tbptt=3)
    t.fit([(x, y)], epochs=1)  # lr = 0: the weights stay, so the chunks see one model
    with torch.no_grad():
        whole = net(ramp(x))
    assert seen[0].shape == whole.shape
    assert torch.allclose(seen[0], whole) and whole.abs().sum() > 0
    # the trainer gives every carrier back as it found it: stateless, at rest
    carriers = [m for m in net.modules() if hasattr(m, "stateful")]
    assert len(carriers) == 2
    assert all(not m.stateful and m.state is None for m in carriers)
    plain = Trainer(net, torch.optim.SGD(net.parameters(), lr=0.0), lambda o, y: o.sum(),
                    encode=ramp, progress=False)
    assert t.evaluate([(x, y)])[1] == plain.evaluate([(x, y)])[1]


def test_tbptt_bounds_the_memory_kept_for_the_backward() -> None:
    x, y = digits(40)[0].tensors
    steps = 32

    def peak_saved_bytes(tbptt: int | None) -> int:
        live, peak = [0], [0]

        class Saved:
            def __init__(self, t: torch.Tensor) -> None:
                self.t, self.n = t, t.numel() * t.element_size()
                live[0] += self.n
                peak[0] = max(peak[0], live[0])

            def __del__(self) -> None:
                live[0] -= self.n

        torch.manual_seed(6)
        net = spiking_model()
        t = Trainer(net, torch.optim.SGD(net.parameters(), lr=0.1),
                    lambda out, y: count_cross_entropy(out, y),
                    encode=lambda x: ramp(x, steps), progress=False, tbptt=tbptt)
        with torch.autograd.graph.saved_tensors_hooks(Saved, lambda s: s.t):
            t.fit([(x, y)], epochs=1)
        return peak[0]

    whole, chunked = peak_saved_bytes(None), peak_saved_bytes(4)
    assert 0 < chunked < whole / 4


def test_tbptt_bad_values_raise() -> None:
    net = spiking_model()
    for bad in (0, -2, 2.5, True, "4"):
        with pytest.raises(ValueError, match=r"tbptt must be an int >= 1 \[steps\] or None"):
            tbptt_trainer(net, torch.optim.SGD(net.parameters(), lr=0.1), tbptt=bad)
    class Bare(nn.Module):  # a neuron model in a module that cannot keep its state
        def __init__(self) -> None:
            super().__init__()
            self.lif = LIF.dimensionless()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lif(x)[0]

    for stateless in (nn.Sequential(nn.Linear(64, 10), Bare()),
                      nn.Sequential(nn.Linear(64, 10), LIF.dimensionless())):
        with pytest.raises(ValueError, match="tbptt needs every neuron model in a layer that "
                                             "carries its state"):
            tbptt_trainer(stateless, torch.optim.SGD(stateless.parameters(), lr=0.1), tbptt=4)
    tbptt_trainer(model(), torch.optim.SGD(net.parameters(), lr=0.1))  # fine without tbptt


# ---- TensorBoard: time constants and rasters --------------------------------------------------
def test_tensorboard_logs_time_constants_and_rasters(tmp_path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train, val = digits(200)
    torch.manual_seed(7)
    net = nn.Sequential(nn.Linear(64, 48), Spiking(LearnableNeuron.dimensionless(shape=(48,))),
                        nn.Linear(48, 10), LeakyReadout(10, beta=0.9, learnable=True))
    t = trainer(net, log_dir=tmp_path / "tb")
    history = t.fit(DataLoader(train, batch_size=40), epochs=2, val=DataLoader(val, batch_size=40))
    t.close()
    acc = EventAccumulator(str(tmp_path / "tb"), size_guidance={"images": 0, "histograms": 0})
    acc.Reload()
    tags = acc.Tags()
    for tag, decay in (("tau/1.neuron.beta", net[1].neuron.value("beta")),
                       ("tau/1.neuron.alpha", net[1].neuron.value("alpha")),
                       ("tau/1.neuron.rho", net[1].neuron.value("rho")),
                       ("tau/3.integrator.beta", net[3].beta)):
        assert tag in tags["histograms"], tag
        events = acc.Histograms(tag)
        assert [e.step for e in events] == [1, 2]
        h = events[-1].histogram_value
        tau = -1.0 / torch.log(decay.detach().double())
        assert h.num == tau.numel()
        assert (h.min, h.max) == pytest.approx((float(tau.min()), float(tau.max())), rel=1e-6)
        assert h.sum == pytest.approx(float(tau.sum()), rel=1e-6)
    assert not any(tag.startswith("tau/") and "threshold" in tag for tag in tags["histograms"])
    # the spike count histogram covers the training batches only (not the validation data)
    counts = acc.Histograms("spike_count/1")[-1].histogram_value
    assert counts.sum == pytest.approx(history[-1].rate["1"] * len(train) * T * 48, rel=1e-6)
    # one raster per spiking layer and epoch: neurons high, steps wide
    assert [tag for tag in tags["images"] if tag.startswith("raster/")] == ["raster/1"]
    images = acc.Images("raster/1")
    assert [e.step for e in images] == [1, 2]
    assert (images[-1].height, images[-1].width) == (48, T)


def test_raster_is_the_first_sample_of_the_last_batch(tmp_path) -> None:
    import io

    Image = pytest.importorskip("PIL.Image")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    x, y = digits(100)[0].tensors
    batches = [(x[:20], y[:20]), (x[20:40], y[20:40])]
    torch.manual_seed(8)
    net = spiking_model()
    t = tbptt_trainer(net, torch.optim.SGD(net.parameters(), lr=0.0), tbptt=3,
                      log_dir=tmp_path / "tb")  # lr = 0: the spikes can be recomputed
    t.fit(batches, epochs=1)
    t.close()
    acc = EventAccumulator(str(tmp_path / "tb"), size_guidance={"images": 0})
    acc.Reload()
    with torch.no_grad():
        h = net[1](net[0](ramp(batches[-1][0])))
        out = net(ramp(batches[-1][0]))
    for tag, spikes in (("raster/1", h[:, 0]), ("raster/3", out[:, 0])):
        event = acc.Images(tag)[-1]
        assert (event.height, event.width) == (spikes.shape[1], T)
        png = Image.open(io.BytesIO(event.encoded_image_string)).convert("L")
        pixels = torch.tensor(np.asarray(png))  # (height, width) uint8
        assert torch.equal(pixels, (spikes.t() * 255).to(pixels.dtype)), tag
        assert spikes.sum() > 0, tag

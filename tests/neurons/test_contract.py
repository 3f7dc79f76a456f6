"""The contract every neuron model keeps, run over every model the package exports."""

from collections.abc import Callable

import pytest
import torch

from neuraltide import neurons
from neuraltide.neurons import (
    LIF,
    AdaptiveLIF,
    HodgkinHuxley,
    Izhikevich,
    LearnableNeuron,
    NeuronModel,
    SynapticLIF,
    detach_state,
)

# (factory, input scale): inputs strong enough that every model spikes within T steps
MODELS: dict[str, tuple[Callable[[], NeuronModel], float]] = {
    "LIF": (lambda: LIF(dt=0.5), 4.0),
    "LIF.dimensionless": (lambda: LIF.dimensionless(), 0.6),
    "SynapticLIF": (lambda: SynapticLIF(dt=0.5), 2.0),
    "SynapticLIF.dimensionless": (lambda: SynapticLIF.dimensionless(), 0.4),
    "AdaptiveLIF": (lambda: AdaptiveLIF(dt=0.5), 4.0),
    "AdaptiveLIF.dimensionless": (lambda: AdaptiveLIF.dimensionless(), 0.6),
    "LearnableNeuron": (lambda: LearnableNeuron(dt=0.5), 2.0),
    "LearnableNeuron.dimensionless": (lambda: LearnableNeuron.dimensionless(), 0.4),
    "Izhikevich": (lambda: Izhikevich(dt=0.5), 20.0),
    "HodgkinHuxley": (lambda: HodgkinHuxley(dt=0.05), 30.0),
}


def test_every_exported_model_is_covered() -> None:
    exported = {
        name for name in neurons.__all__
        if isinstance(getattr(neurons, name), type)
        and issubclass(getattr(neurons, name), NeuronModel)
        and not getattr(getattr(neurons, name), "__abstractmethods__", None)
        and name != "LIFFamily"  # abstract base of the LIF family (refuses to be built)
    }
    covered = {key.split(".")[0] for key in MODELS}
    assert exported <= covered, exported - covered


@pytest.fixture(params=list(MODELS), ids=list(MODELS))
def model_and_input(request: pytest.FixtureRequest) -> tuple[NeuronModel, torch.Tensor]:
    factory, scale = MODELS[request.param]
    model = factory().double()
    x = scale * torch.rand(200, 3, 4, dtype=torch.float64)
    return model, x


def test_forward_shapes_types_and_binary_spikes(model_and_input) -> None:
    model, x = model_and_input
    spikes, state = model(x)
    assert spikes.shape == x.shape and spikes.dtype == torch.float64
    assert isinstance(state, model.State)
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    assert spikes.sum() > 0, "the contract input must make the model spike"
    assert all(t.shape == x.shape[1:] for t in state)


def test_step_by_step_equals_forward(model_and_input) -> None:
    model, x = model_and_input
    spikes, final = model(x[:50])
    state = None
    out = []
    for t in range(50):
        s, state = model.step(x[t], state)
        out.append(s)
    assert torch.equal(torch.stack(out), spikes)
    for a, b in zip(state, final, strict=True):
        assert torch.equal(a, b)


def test_chunked_run_equals_one_run(model_and_input) -> None:
    model, x = model_and_input
    whole, _ = model(x)
    first, mid = model(x[:70])
    second, _ = model(x[70:], detach_state(mid))
    assert torch.equal(whole, torch.cat([first, second]))


def test_state_is_immutable_and_run_records_every_field(model_and_input) -> None:
    model, x = model_and_input
    _, state = model(x[:10])
    with pytest.raises(AttributeError):
        state.v = state.v  # NamedTuple fields cannot be reassigned
    rec = model.run(x[:10], record=model.State._fields)
    for name in model.State._fields:
        assert rec.traces[name].shape == (10, *x.shape[1:])
    torch.testing.assert_close(rec.t[-1].item(), 10 * model.dt)


def test_nan_input_raises_naming_the_model(model_and_input) -> None:
    model, x = model_and_input
    x = x.clone()
    x[5, 1, 2] = float("nan")
    with pytest.raises(ValueError, match=rf"{type(model).__name__}: input must be finite"):
        model(x)


def test_parameter_metadata_is_complete(model_and_input) -> None:
    model, _ = model_and_input
    assert model.specs
    for name, spec in model.specs.items():
        assert spec.name == name and spec.unit and spec.description.endswith(".")
        assert spec.is_valid(spec.default), name
        if spec.typical is not None:
            assert spec.typical[0] < spec.typical[1]


def test_every_parameter_can_learn(model_and_input) -> None:
    model, x = model_and_input
    learnable = tuple(n for n, s in model.specs.items() if s.learnable and not s.integer)
    if getattr(model, "reset", None) is not None and model.reset.name != "TO_VALUE":
        learnable = tuple(n for n in learnable if n != "v_reset")  # unused by this reset
    factory = type(model)
    kwargs = {n: v.item() for n, v in model.values().items()}
    if hasattr(model, "form") and model.form.name == "DIMENSIONLESS":
        trained = factory.dimensionless(**kwargs, learn=learnable)
    else:
        trained = factory(**kwargs, dt=model.dt, learn=learnable)
    trained = trained.double()
    rec = trained.run(x, record=("v",))
    (rec.spikes.sum() + rec.traces["v"].mean()).backward()
    for name, p in trained.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_the_input_check_keeps_nothing_for_the_backward() -> None:
    from neuraltide._params import check_finite_input

    packed = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        packed.append(t.shape)
        return t

    x = torch.randn(50, 4, requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        check_finite_input("LIF", x)
    assert packed == []


def test_config_rebuilds_the_same_model(model_and_input) -> None:
    """config() + from_config() + load_state_dict() give a model with identical behaviour
    (what saving a network relies on)."""
    model, x = model_and_input
    clone = type(model).from_config(model.config()).double()
    clone.load_state_dict(model.state_dict())
    assert torch.equal(clone(x)[0], model(x)[0])
    assert clone.config().keys() == model.config().keys()
    assert {n: str(v) for n, v in clone.values().items()} == {
        n: str(v) for n, v in model.values().items()}

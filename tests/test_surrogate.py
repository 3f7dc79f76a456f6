"""Surrogate contract: Heaviside forward, backward = derivative of the smooth primitive."""

import math

import pytest
import torch

from neuraltide import surrogate as sg

BUILTIN = [
    sg.Sigmoid(),
    sg.Sigmoid(alpha=5.0),
    sg.FastSigmoid(),
    sg.FastSigmoid(alpha=3.0),
    sg.ATan(),
    sg.ATan(alpha=7.0),
    sg.Gaussian(),
    sg.Gaussian(alpha=0.5),
    sg.Triangle(),
    sg.Triangle(alpha=4.0),
    sg.StraightThrough(),
    sg.StraightThrough(alpha=3.0),
]
CUSTOM = sg.Custom(
    fn=lambda x, a: a / (2 * torch.cosh(a * x) ** 2),
    primitive_fn=lambda x, a: 0.5 * (1 + torch.tanh(a * x)),
    alpha=3.0,
)
ALL = [*BUILTIN, CUSTOM]


def _points(surrogate: sg.Surrogate) -> torch.Tensor:
    """Random points away from the kinks of the piecewise surrogates (0 and +-1/alpha)."""
    x = torch.randn(64, dtype=torch.float64) * 2 / surrogate.alpha
    kinks = torch.tensor([0.0, 1 / surrogate.alpha, -1 / surrogate.alpha], dtype=torch.float64)
    far = (x[:, None] - kinks[None]).abs().min(dim=1).values > 1e-3
    return x[far]


@pytest.mark.parametrize("surrogate", ALL, ids=repr)
def test_forward_is_exact_heaviside(surrogate: sg.Surrogate) -> None:
    x = torch.tensor([-2.0, -1e-7, 0.0, 1e-7, 3.0])
    assert sg.spike(x, surrogate).tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]


@pytest.mark.parametrize("surrogate", ALL, ids=repr)
def test_smooth_form_passes_gradcheck(surrogate: sg.Surrogate) -> None:
    x = _points(surrogate).requires_grad_()
    assert torch.autograd.gradcheck(lambda y: sg.smooth(y, surrogate), (x,))


@pytest.mark.parametrize("surrogate", ALL, ids=repr)
def test_spike_backward_is_the_derivative_of_the_primitive(surrogate: sg.Surrogate) -> None:
    x = _points(surrogate).requires_grad_()
    sg.spike(x, surrogate).sum().backward()
    h = 1e-6
    fd = (surrogate.primitive(x.detach() + h) - surrogate.primitive(x.detach() - h)) / (2 * h)
    torch.testing.assert_close(x.grad, fd, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("surrogate", ALL, ids=repr)
def test_derivative_nonnegative_and_peaks_at_threshold(surrogate: sg.Surrogate) -> None:
    x = torch.linspace(-5, 5, 2001, dtype=torch.float64)
    g = surrogate.derivative(x)
    assert (g >= 0).all()
    g0 = surrogate.derivative(torch.zeros(1, dtype=torch.float64)).item()
    assert g0 > 0
    assert g.max().item() <= g0 + 1e-12
    assert (x[g >= g.max() - 1e-12].abs() < 0.01).any()


@pytest.mark.parametrize(
    "surrogate",
    [s for s in BUILTIN if not isinstance(s, (sg.FastSigmoid, sg.StraightThrough))],
    ids=repr,
)
def test_normalised_primitives_go_from_0_to_1(surrogate: sg.Surrogate) -> None:
    # FastSigmoid (snnTorch scaling) and the clipped identity span +-1/alpha by definition
    far = torch.tensor([-1e4, 1e4], dtype=torch.float64)
    torch.testing.assert_close(
        surrogate.primitive(far), torch.tensor([0.0, 1.0], dtype=torch.float64), atol=2e-4,
        rtol=0,
    )


def test_sharpness_narrows_the_gradient() -> None:
    x = torch.tensor([0.5])
    for cls in (sg.Sigmoid, sg.ATan, sg.Gaussian, sg.FastSigmoid):
        assert cls(alpha=10.0).derivative(x) < cls(alpha=1.0).derivative(x)


@pytest.mark.parametrize(
    ("ours", "name", "kw"),
    [
        (sg.ATan(alpha=2.0), "atan", {"alpha": 2.0}),
        (sg.FastSigmoid(alpha=25.0), "fast_sigmoid", {"slope": 25}),
        (sg.Sigmoid(alpha=25.0), "sigmoid", {"slope": 25}),
    ],
)
def test_same_gradient_as_snntorch(ours: sg.Surrogate, name: str, kw: dict) -> None:
    snn_sg = pytest.importorskip("snntorch.surrogate")
    x1 = (torch.randn(1000) * 0.3).requires_grad_()
    x2 = x1.detach().clone().requires_grad_()
    s1 = sg.spike(x1, ours)
    s2 = getattr(snn_sg, name)(**kw)(x2)
    assert torch.equal(s1, s2)
    s1.sum().backward()
    s2.sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad)


def test_from_name_and_errors() -> None:
    assert sg.from_name("atan", alpha=3.0) == sg.ATan(alpha=3.0)
    with pytest.raises(ValueError, match="from_name: name must be one of"):
        sg.from_name("heaviside")
    with pytest.raises(ValueError, match=r"ATan: alpha must be > 0 .*got -1.0"):
        sg.ATan(alpha=-1.0)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        sg.Gaussian(alpha=math.nan)
    with pytest.raises(ValueError, match="Custom: fn must be a callable"):
        sg.Custom()
    with pytest.raises(ValueError, match="primitive_fn is needed"):
        sg.Custom(fn=lambda x, a: x).primitive(torch.zeros(1))
    with pytest.raises(TypeError, match="surrogate must be a Surrogate object"):
        sg.spike(torch.zeros(1), "atan")  # type: ignore[arg-type]


def test_surrogates_are_immutable() -> None:
    s = sg.ATan()
    with pytest.raises(AttributeError):
        s.alpha = 5.0  # type: ignore[misc]

"""The models' backend switch: the fused kernel and the PyTorch scan agree end to end."""

import warnings

import pytest
import torch

from neuraltide import kernels
from neuraltide import surrogate as sg
from neuraltide.kernels import Backend
from neuraltide.neurons import LIF, AdaptiveLIF, LearnableNeuron, Reset, SynapticLIF

pytestmark = pytest.mark.skipif(
    kernels.available().error is not None,
    reason=f"fused kernel not built: {kernels.available().error}",
)

FACTORIES = {
    "LIF": lambda b: LIF(t_ref=1.0, dt=0.5, backend=b),
    "SynapticLIF.dimensionless": lambda b: SynapticLIF.dimensionless(backend=b),
    "AdaptiveLIF": lambda b: AdaptiveLIF(dt=0.5, reset=Reset.SUBTRACT, backend=b),
    "LearnableNeuron": lambda b: LearnableNeuron.dimensionless(
        shape=(5,), detach_reset=False, reset=Reset.TO_VALUE, backend=b,
        surrogate=sg.Gaussian(alpha=1.5)),
}


@pytest.mark.parametrize("name", list(FACTORIES))
def test_fused_and_torch_backends_agree(name: str) -> None:
    fused, ref = (FACTORIES[name](b).double() for b in (Backend.FUSED, Backend.TORCH))
    ref.load_state_dict(fused.state_dict())
    scale = 3.0 if "dimensionless" not in name and name != "LearnableNeuron" else 0.5
    x = scale * torch.rand(120, 3, 5, dtype=torch.float64)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    r1 = fused.run(x1, record=("v", "a", "i"))
    r2 = ref.run(x2, record=("v", "a", "i"))
    assert r1.spikes.sum() > 20
    assert torch.equal(r1.spikes, r2.spikes)
    for k in ("v", "a", "i"):
        torch.testing.assert_close(r1.traces[k], r2.traces[k], rtol=0, atol=0)
    w = torch.randn_like(x)
    ((r1.spikes + 0.1 * r1.traces["v"]) * w).sum().backward()
    ((r2.spikes + 0.1 * r2.traces["v"]) * w).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-10, atol=1e-12)
    for (n1, p1), (_, p2) in zip(fused.named_parameters(), ref.named_parameters(), strict=True):
        torch.testing.assert_close(p1.grad, p2.grad, rtol=1e-9, atol=1e-12, msg=n1)


def test_custom_surrogate_falls_back_with_one_warning_and_fused_refuses() -> None:
    custom = sg.Custom(fn=lambda x, a: torch.exp(-a * x.abs()), alpha=2.0)
    x = torch.rand(20, 2, 3)
    with pytest.warns(RuntimeWarning, match="not supported by the fused kernel"):
        kernels._warned.clear()
        spikes, _ = LIF.dimensionless(surrogate=custom)(x)
    reference, _ = LIF.dimensionless(surrogate=custom, backend=Backend.TORCH)(x)
    assert torch.equal(spikes, reference)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once per reason, not at every call
        LIF.dimensionless(surrogate=custom)(x)
    with pytest.raises(RuntimeError, match=r"backend=Backend\.FUSED requested but the surrogate"):
        LIF.dimensionless(surrogate=custom, backend=Backend.FUSED)(x)


def test_backend_must_be_a_backend() -> None:
    with pytest.raises(ValueError, match=r"LIF: backend must be one of Backend.AUTO"):
        LIF(backend="fused")  # type: ignore[arg-type]

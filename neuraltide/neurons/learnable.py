"""The learnable-dynamics neuron (Learning Neuron Dynamics within Deep SNNs, arXiv:2510.07341)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from ..kernels import Backend
from ..surrogate import ATan, Surrogate
from ._family import Form, LIFFamily, Reset

__all__ = ["LearnableNeuron"]

Value = float | Tensor

_LEARN_PHYSICAL = ("tau_mem", "tau_syn", "v_th", "adapt", "tau_adapt", "v_reset")
_LEARN_DIMENSIONLESS = ("beta", "alpha", "threshold", "adapt", "rho", "v_reset")


class LearnableNeuron(LIFFamily):
    r"""A neuron whose dynamics are trained with the weights, instead of fixed LIF dynamics.

    State (synaptic current, membrane, adaptive threshold); learnable membrane and synaptic
    time constants, base threshold, threshold-adaptation strength and decay, and the reset
    value, per layer (``shape=()``) or per neuron (``shape=(n,)``). It is the full LIF family
    (:mod:`neuraltide.neurons._family`):

    .. math::
        i \leftarrow \alpha i + x,\quad v \leftarrow \beta v + (1-\beta)v_\text{rest} + g\,i,\quad
        a \leftarrow \rho a + b s,\quad s = H(v - \vartheta_0 - a),

    and :class:`~neuraltide.neurons.LIF` (:math:`\alpha=0, b=0`),
    :class:`~neuraltide.neurons.SynapticLIF` (:math:`b = 0`) and
    :class:`~neuraltide.neurons.AdaptiveLIF` (:math:`\alpha = 0`) are its special cases, giving
    identical results when configured so.

    Training cannot make it unstable: time constants are kept positive through a softplus (so
    every decay stays in (0, 1)), decays in the dimensionless form through a sigmoid, the base
    threshold and adaptation strength positive. :meth:`regularizer` penalises values that leave
    their typical range (add ``lam * neuron.regularizer()`` to the loss). Defaults start from LIF
    values; the reset is to a learnable value (``Reset.TO_VALUE``) by default.

    Args:
        (as in :class:`~neuraltide.neurons.SynapticLIF` and
        :class:`~neuraltide.neurons.AdaptiveLIF`.)
        learn: parameters to train; default all of the dynamics above.

    Example::

        >>> import torch
        >>> from neuraltide.neurons import LearnableNeuron
        >>> neuron = LearnableNeuron.dimensionless(shape=(16,))
        >>> sorted(n for n, _ in neuron.named_parameters())
        ['raw_adapt', 'raw_alpha', 'raw_beta', 'raw_rho', 'raw_threshold', 'raw_v_reset']
        >>> spikes, state = neuron(torch.rand(20, 4, 16))
        >>> spikes.shape
        torch.Size([20, 4, 16])
    """

    PHYSICAL = (
        "tau_mem", "tau_syn", "tau_adapt", "adapt", "v_rest", "v_th", "v_reset", "r_mem",
        "t_ref",
    )
    DIMENSIONLESS = ("beta", "alpha", "rho", "adapt", "threshold", "v_reset", "t_ref")

    def __init__(
        self,
        *,
        tau_mem: Value = 10.0,
        tau_syn: Value = 5.0,
        tau_adapt: Value = 200.0,
        adapt: Value = 2.0,
        v_rest: Value = -65.0,
        v_th: Value = -50.0,
        v_reset: Value = -65.0,
        r_mem: Value = 10.0,
        t_ref: float = 2.0,
        reset: Reset = Reset.TO_VALUE,
        detach_reset: bool = True,
        surrogate: Surrogate = ATan(),
        backend: Backend = Backend.AUTO,
        dt: float = 0.1,
        shape: tuple[int, ...] = (),
        learn: Sequence[str] = _LEARN_PHYSICAL,
    ) -> None:
        super().__init__(
            Form.PHYSICAL,
            dict(tau_mem=tau_mem, tau_syn=tau_syn, tau_adapt=tau_adapt, adapt=adapt,
                 v_rest=v_rest, v_th=v_th, v_reset=v_reset, r_mem=r_mem, t_ref=t_ref),
            reset=reset, detach_reset=detach_reset, surrogate=surrogate, backend=backend,
            dt=dt, shape=shape, learn=learn,
        )

    @classmethod
    def dimensionless(
        cls,
        *,
        beta: Value = 0.9,
        alpha: Value = 0.8,
        rho: Value = 0.95,
        adapt: Value = 0.1,
        threshold: Value = 1.0,
        v_reset: Value = 0.0,
        t_ref: int = 0,
        reset: Reset = Reset.TO_VALUE,
        detach_reset: bool = True,
        surrogate: Surrogate = ATan(),
        backend: Backend = Backend.AUTO,
        shape: tuple[int, ...] = (),
        learn: Sequence[str] = _LEARN_DIMENSIONLESS,
    ) -> LearnableNeuron:
        """Deep-learning form (decays per step, threshold 1.0), for deep SNNs."""
        obj = cls.__new__(cls)
        LIFFamily.__init__(
            obj,
            Form.DIMENSIONLESS,
            dict(beta=beta, alpha=alpha, rho=rho, adapt=adapt, threshold=threshold,
                 v_reset=v_reset, t_ref=t_ref),
            reset=reset, detach_reset=detach_reset, surrogate=surrogate, backend=backend,
            dt=1.0, shape=shape, learn=learn,
        )
        return obj

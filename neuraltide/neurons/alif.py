"""Adaptive LIF: a LIF neuron whose threshold jumps at each spike and relaxes back."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from ..kernels import Backend
from ..surrogate import ATan, Surrogate
from ._family import Form, LIFFamily, Reset

__all__ = ["AdaptiveLIF"]

Value = float | Tensor


class AdaptiveLIF(LIFFamily):
    r"""LIF neuron with an adaptive threshold (spike-frequency adaptation).

    .. math::
        \tau_\text{mem}\frac{dv}{dt} = -(v - v_\text{rest}) + R\,I, \qquad
        \tau_\text{adapt}\frac{da}{dt} = -a + b\sum_k\delta(t - t_k), \qquad
        \text{spike if } v > v_\text{th} + a.

    Per step :math:`a \leftarrow \rho a + b s` with :math:`\rho = e^{-\Delta t/\tau_\text{adapt}}`
    (exact), then the LIF update; see :mod:`neuraltide.neurons._family` for the order and the
    spike-time and refractory conventions. With constant input the inter-spike intervals grow
    until the adaptation settles (Bellec et al. 2018's LSNN neuron in the dimensionless form).

    Args:
        tau_adapt: adaptation time constant [ms], > 0.
        adapt: threshold increase per spike :math:`b` [mV], >= 0.
        (others as in :class:`~neuraltide.neurons.LIF`.)

    Example::

        >>> import torch
        >>> from neuraltide.neurons import AdaptiveLIF
        >>> alif = AdaptiveLIF(adapt=3.0, tau_adapt=100.0, dt=0.1)
        >>> spikes, _ = alif(torch.full((3000, 1), 3.0))
        >>> isi = spikes[:, 0].nonzero().flatten().diff()
        >>> bool(isi[-1] > 1.5 * isi[0])           # intervals lengthen: adaptation
        True
    """

    PHYSICAL = ("tau_mem", "tau_adapt", "adapt", "v_rest", "v_th", "v_reset", "r_mem", "t_ref")
    DIMENSIONLESS = ("beta", "rho", "adapt", "threshold", "v_reset", "t_ref")

    def __init__(
        self,
        *,
        tau_mem: Value = 10.0,
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
        learn: Sequence[str] = (),
    ) -> None:
        super().__init__(
            Form.PHYSICAL,
            dict(tau_mem=tau_mem, tau_adapt=tau_adapt, adapt=adapt, v_rest=v_rest, v_th=v_th,
                 v_reset=v_reset, r_mem=r_mem, t_ref=t_ref),
            reset=reset, detach_reset=detach_reset, surrogate=surrogate, backend=backend,
            dt=dt, shape=shape, learn=learn,
        )

    @classmethod
    def dimensionless(
        cls,
        *,
        beta: Value = 0.9,
        rho: Value = 0.95,
        adapt: Value = 0.1,
        threshold: Value = 1.0,
        v_reset: Value = 0.0,
        t_ref: int = 0,
        reset: Reset = Reset.SUBTRACT_AFTER_LEAK,
        detach_reset: bool = True,
        surrogate: Surrogate = ATan(),
        backend: Backend = Backend.AUTO,
        shape: tuple[int, ...] = (),
        learn: Sequence[str] = (),
    ) -> AdaptiveLIF:
        r"""Deep-learning form: :math:`a \leftarrow \rho a + b s`, spike if
        :math:`v > \vartheta + a`.

        Args:
            rho: adaptation decay per step, in [0, 1].
            adapt: threshold increase per spike, >= 0.
            (others as in :meth:`LIF.dimensionless <neuraltide.neurons.LIF.dimensionless>`.)
        """
        obj = cls.__new__(cls)
        LIFFamily.__init__(
            obj,
            Form.DIMENSIONLESS,
            dict(beta=beta, rho=rho, adapt=adapt, threshold=threshold, v_reset=v_reset,
                 t_ref=t_ref),
            reset=reset, detach_reset=detach_reset, surrogate=surrogate, backend=backend,
            dt=1.0, shape=shape, learn=learn,
        )
        return obj

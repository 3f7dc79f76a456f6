"""Leaky integrate-and-fire neurons: :class:`LIF` and the current-based :class:`SynapticLIF`.

Both are members of the LIF family (equations, spike-time and refractory conventions in
:mod:`neuraltide.neurons._family`) and come in two forms with one conversion between them,
:math:`\\beta = e^{-\\Delta t/\\tau_\\text{mem}}` (:func:`neuraltide.units.decay_from_tau`):

* the neuroscience form, ``LIF(tau_mem=10*ms, v_rest=-65*mV, ...)``, in ms, mV, nA, MΩ;
* the deep-learning form, ``LIF.dimensionless(beta=0.9, threshold=1.0)``, where one step is
  the time unit and the input enters unscaled, :math:`v \\leftarrow \\beta v + x` (its defaults
  follow snnTorch's ``Leaky``: subtractive reset after the leak, detached reset).

The physical form with :math:`v_\\text{rest}=0` and input :math:`x = (1-\\beta) R I` is the
dimensionless form.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from ..kernels import Backend
from ..surrogate import ATan, Surrogate
from ._family import Form, LIFFamily, Reset

__all__ = ["LIF", "SynapticLIF"]

Value = float | Tensor


class LIF(LIFFamily):
    r"""Leaky integrate-and-fire neuron, integrated exactly for piecewise-constant input.

    .. math::
        \tau_\text{mem}\,\frac{dv}{dt} = -(v - v_\text{rest}) + R\,I(t),
        \qquad v > v_\text{th} \Rightarrow \text{spike, reset, refractory } t_\text{ref}.

    Per step: :math:`v \leftarrow v_\text{rest} + (v - v_\text{rest})\beta + (1-\beta)RI`, exact
    when :math:`I` is constant over the step. Spike times and refractory steps follow the
    family conventions (:mod:`neuraltide.neurons._family`): a spike at index ``n`` is stamped at
    :math:`(n+1)\Delta t` and the next spike can come at ``n + t_ref/dt + 1`` at the earliest.

    Args:
        tau_mem: membrane time constant [ms], > 0.
        v_rest: resting potential [mV].
        v_th: firing threshold [mV].
        v_reset: membrane potential after a spike [mV] (``Reset.TO_VALUE``).
        r_mem: membrane resistance [MΩ], > 0; input current is in nA.
        t_ref: absolute refractory period [ms], >= 0, a multiple of ``dt``.
        reset: :class:`Reset` mode.
        detach_reset: stop gradients through the reset.
        surrogate: spike surrogate gradient, a function of :math:`v - v_\text{th}` [mV].
        backend: :class:`~neuraltide.kernels.Backend`: ``AUTO`` runs sequences through the fused
            C++/CUDA kernel where it can (built-in surrogates), else the PyTorch scan.
        dt: step [ms], > 0.
        shape: per-neuron parameter shape, e.g. ``(128,)``; ``()`` shares one value per layer.
        learn: names of parameters to train, e.g. ``("tau_mem", "v_th")``.

    Shape:
        input ``(T, batch..., *shape)`` current [nA]; output spikes of the same shape.

    Example::

        >>> import torch
        >>> from neuraltide.neurons import LIF
        >>> lif = LIF(tau_mem=10.0, v_th=-50.0, r_mem=10.0, dt=0.1)
        >>> spikes, state = lif(torch.full((1000, 1), 2.0))   # 100 ms of 2 nA
        >>> int(spikes.sum())   # closed form: ISI = 2 + 10 ln(20/5) = 15.9 ms
        6
    """

    PHYSICAL = ("tau_mem", "v_rest", "v_th", "v_reset", "r_mem", "t_ref")
    DIMENSIONLESS = ("beta", "threshold", "v_reset", "t_ref")

    def __init__(
        self,
        *,
        tau_mem: Value = 10.0,
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
            dict(tau_mem=tau_mem, v_rest=v_rest, v_th=v_th, v_reset=v_reset, r_mem=r_mem,
                 t_ref=t_ref),
            reset=reset, detach_reset=detach_reset, surrogate=surrogate, backend=backend,
            dt=dt, shape=shape, learn=learn,
        )

    @classmethod
    def dimensionless(
        cls,
        *,
        beta: Value = 0.9,
        threshold: Value = 1.0,
        v_reset: Value = 0.0,
        t_ref: int = 0,
        reset: Reset = Reset.SUBTRACT_AFTER_LEAK,
        detach_reset: bool = True,
        surrogate: Surrogate = ATan(),
        backend: Backend = Backend.AUTO,
        shape: tuple[int, ...] = (),
        learn: Sequence[str] = (),
    ) -> LIF:
        r"""Deep-learning form: :math:`v \leftarrow \beta v + x`, spike if :math:`v > \vartheta`.

        Args:
            beta: membrane decay per step, in (0, 1].
            threshold: firing threshold, > 0.
            v_reset: value after a spike with ``Reset.TO_VALUE``.
            t_ref: refractory period [steps], >= 0.
            (others as in :class:`LIF`; one step is the time unit, ``dt = 1``.)

        Example::

            >>> import torch
            >>> lif = LIF.dimensionless(beta=0.9, threshold=1.0)
            >>> spk, state = lif(torch.full((10, 1), 0.5))
            >>> spk.flatten().tolist()
            [0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0]
        """
        obj = cls.__new__(cls)
        LIFFamily.__init__(
            obj,
            Form.DIMENSIONLESS,
            dict(beta=beta, threshold=threshold, v_reset=v_reset, t_ref=t_ref),
            reset=reset, detach_reset=detach_reset, surrogate=surrogate, backend=backend,
            dt=1.0, shape=shape, learn=learn,
        )
        return obj


class SynapticLIF(LIFFamily):
    r"""LIF neuron driven by an exponentially decaying synaptic current (current-based).

    .. math::
        \tau_\text{syn}\frac{di}{dt} = -i + \sum_k x_k\,\delta(t - t_k), \qquad
        \tau_\text{mem}\frac{dv}{dt} = -(v - v_\text{rest}) + R\,i.

    Per step: :math:`i \leftarrow \alpha i + x` (exact for the current: the input ``x`` is the
    charge jump delivered in the step [nA]), then the LIF membrane update with that current
    held over the step (exponential Euler for the coupling, error :math:`O(\Delta t/\tau_\text
    {syn})`). The dimensionless form is snnTorch's ``Synaptic``.

    Args:
        tau_syn: synaptic time constant [ms], > 0.
        (others as in :class:`LIF`.)
    """

    PHYSICAL = ("tau_mem", "tau_syn", "v_rest", "v_th", "v_reset", "r_mem", "t_ref")
    DIMENSIONLESS = ("beta", "alpha", "threshold", "v_reset", "t_ref")

    def __init__(
        self,
        *,
        tau_mem: Value = 10.0,
        tau_syn: Value = 5.0,
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
            dict(tau_mem=tau_mem, tau_syn=tau_syn, v_rest=v_rest, v_th=v_th, v_reset=v_reset,
                 r_mem=r_mem, t_ref=t_ref),
            reset=reset, detach_reset=detach_reset, surrogate=surrogate, backend=backend,
            dt=dt, shape=shape, learn=learn,
        )

    @classmethod
    def dimensionless(
        cls,
        *,
        beta: Value = 0.9,
        alpha: Value = 0.8,
        threshold: Value = 1.0,
        v_reset: Value = 0.0,
        t_ref: int = 0,
        reset: Reset = Reset.SUBTRACT_AFTER_LEAK,
        detach_reset: bool = True,
        surrogate: Surrogate = ATan(),
        backend: Backend = Backend.AUTO,
        shape: tuple[int, ...] = (),
        learn: Sequence[str] = (),
    ) -> SynapticLIF:
        r"""Deep-learning form: :math:`i \leftarrow \alpha i + x`, :math:`v \leftarrow \beta v + i`.

        Args:
            alpha: synaptic decay per step, in [0, 1).
            (others as in :meth:`LIF.dimensionless`.)
        """
        obj = cls.__new__(cls)
        LIFFamily.__init__(
            obj,
            Form.DIMENSIONLESS,
            dict(beta=beta, alpha=alpha, threshold=threshold, v_reset=v_reset, t_ref=t_ref),
            reset=reset, detach_reset=detach_reset, surrogate=surrogate, backend=backend,
            dt=1.0, shape=shape, learn=learn,
        )
        return obj

r"""The LIF family: one pure step for LIF, SynapticLIF, AdaptiveLIF and LearnableNeuron.

Per step of length :math:`\Delta t` (all parameters may be per layer or per neuron):

.. math::

    \text{reset:}\quad & v \leftarrow v - s\,\vartheta' \;(\text{subtract})\quad\text{or}\quad
                        v \leftarrow (1-s)\,v + s\,v_\text{reset} \;(\text{to value}) \\
    \text{adaptation:}\quad & a \leftarrow \rho\,a + b\,s \\
    \text{synapse:}\quad & i \leftarrow \alpha\,i + x \\
    \text{membrane:}\quad & v \leftarrow \beta\,v + (1-\beta)\,v_\text{rest} + g\,i \\
    \text{spike:}\quad & s \leftarrow H\big(v - (\vartheta_0 + a)\big)

with :math:`\beta = e^{-\Delta t/\tau_\text{mem}}`, :math:`\alpha = e^{-\Delta t/\tau_\text{syn}}`,
:math:`\rho = e^{-\Delta t/\tau_\text{adapt}}` (``neuraltide.units.decay_from_tau``), and the
input gain :math:`g = (1-\beta) R` in the physical form (exact exponential integration of
:math:`\tau_\text{mem}\dot v = -(v - v_\text{rest}) + R\,i` for a current held over the step)
or :math:`g = 1` in the dimensionless form (:math:`v \leftarrow \beta v + x`, as in snnTorch).
:math:`s` and :math:`\vartheta'` in the reset are the previous step's spike and threshold.

**Conventions.** The state keeps the membrane *before* its reset and the last spike; the reset
is applied at the start of the next step. This one representation reproduces the conventions of
the peers exactly (:class:`Reset`):

* ``Reset.SUBTRACT`` / ``Reset.TO_VALUE`` (Brian2, Norse, SpikingJelly, Lava, snnTorch's
  ``"zero"``): the reset acts at the spike, and the reset membrane leaks in the next step:
  :math:`v_{t+1} = \beta(v_t - \vartheta) + x_{t+1}`.
* ``Reset.SUBTRACT_AFTER_LEAK`` (snnTorch's default ``"subtract"`` with ``reset_delay=True``):
  the threshold is subtracted after the next step's leak,
  :math:`v_{t+1} = \beta v_t + x_{t+1} - \vartheta s_t`; equivalent to subtracting
  :math:`\vartheta/\beta` at the spike.

*Spike time*: the spike at output index ``n`` means the membrane crossed threshold during the
step from :math:`t_n` to :math:`t_{n+1}`; it is stamped at :math:`t_{n+1} = (n+1)\Delta t`
(the time of the sample ``v[n]``). *Refractory period*: :math:`n_\text{ref} =
t_\text{ref}/\Delta t` steps after the spike step, the membrane is held at its reset value and
cannot spike; integration resumes on the step after. A spike at ``n`` therefore allows the next
one at ``n + n_ref + 1`` at the earliest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any, NamedTuple

import torch
from torch import Tensor

from .. import kernels
from .._params import ParamSpec
from .._validate import check_option
from ..kernels import Backend
from ..surrogate import Surrogate, spike
from ..surrogate import check as check_surrogate
from ..units import _is_multiple, decay_from_tau
from ._base import NeuronModel

__all__ = [
    "Form",
    "LIFFamilyParams",
    "LIFFamilyState",
    "Reset",
    "lif_family_step",
]


class Reset(Enum):
    """What a spike does to the membrane (see the module docstring for the timing)."""

    SUBTRACT = "subtract"  #: subtract the crossed threshold at the spike ("soft" reset)
    SUBTRACT_AFTER_LEAK = "subtract_after_leak"  #: snnTorch's subtraction, after the next leak
    TO_VALUE = "to_value"  #: set the membrane to ``v_reset`` ("hard" reset)
    NONE = "none"  #: no reset (the membrane keeps integrating)


class Form(Enum):
    """Which parameter set a LIF-family model is written in."""

    PHYSICAL = "physical"  #: time constants in ms, voltages in mV, input current in nA
    DIMENSIONLESS = "dimensionless"  #: decay factors per step, threshold 1.0, dt = 1 step


class LIFFamilyParams(NamedTuple):
    """Per-step parameters of :func:`lif_family_step` (tensors broadcastable to the state)."""

    beta: Tensor  #: membrane decay per step, in (0, 1]
    alpha: Tensor  #: synaptic-current decay per step, in [0, 1) (0: no synaptic filter)
    rho: Tensor  #: threshold-adaptation decay per step, in [0, 1]
    adapt: Tensor  #: threshold increment per spike [mV or 1], >= 0
    v_rest: Tensor  #: resting potential [mV or 1]
    gain: Tensor  #: input gain [MΩ·(1-beta) or 1]
    v_th: Tensor  #: base threshold [mV or 1]
    v_reset: Tensor  #: reset value [mV or 1] (Reset.TO_VALUE)


class LIFFamilyState(NamedTuple):
    """State of a LIF-family neuron (all shaped like one time step of input)."""

    i: Tensor  #: synaptic current [nA or 1]
    v: Tensor  #: membrane potential before this step's reset [mV or 1]
    a: Tensor  #: threshold adaptation, threshold = v_th + a [mV or 1]
    s: Tensor  #: spike of the last step (0.0 / 1.0)
    ref: Tensor  #: refractory steps still to hold after the current one


def lif_family_step(
    x: Tensor,
    state: LIFFamilyState,
    p: LIFFamilyParams,
    *,
    surrogate: Surrogate,
    reset: Reset,
    n_ref: int,
    detach_reset: bool,
) -> tuple[Tensor, LIFFamilyState]:
    """One step of the LIF family (pure: reads only its arguments, writes nothing).

    Args:
        x: input of this step [nA or 1], shape ``(batch..., *neurons)``.
        state: :class:`LIFFamilyState` from the previous step.
        p: :class:`LIFFamilyParams`.
        surrogate: surrogate gradient of the spike.
        reset: :class:`Reset` mode.
        n_ref: refractory period in steps, >= 0.
        detach_reset: if True, no gradient flows through the reset (Zenke & Vogels 2021).

    Returns:
        ``(spikes, new_state)``.
    """
    s_prev = state.s.detach() if detach_reset else state.s
    after_leak = reset is Reset.SUBTRACT_AFTER_LEAK
    theta_prev = p.v_th + state.a
    v = state.v if after_leak else _reset(state.v, s_prev, theta_prev, p.v_reset, reset)
    a = p.rho * state.a + p.adapt * s_prev
    i = p.alpha * state.i + x
    v_new = p.beta * v + (1 - p.beta) * p.v_rest + p.gain * i
    if after_leak:
        v_new = v_new - s_prev * theta_prev
    ref = state.ref
    if n_ref > 0:
        # held steps keep the reset membrane and cannot spike
        count = torch.where(s_prev > 0, torch.full_like(ref, n_ref), ref)
        held = count > 0
        v_held = state.v - s_prev * theta_prev if after_leak else v
        v_new = torch.where(held, v_held, v_new)
        ref = torch.where(held, count - 1, count)
    s = spike(v_new - (p.v_th + a), surrogate)
    if n_ref > 0:
        s = s * (~held).to(s.dtype)
    return s, LIFFamilyState(i, v_new, a, s, ref)


def _reset(v: Tensor, s: Tensor, theta: Tensor, v_reset: Tensor, reset: Reset) -> Tensor:
    if reset is Reset.SUBTRACT:
        return v - s * theta
    if reset is Reset.TO_VALUE:
        return (1 - s) * v + s * v_reset
    return v


# ---- parameter metadata ---------------------------------------------------------------------
_PHYSICAL = {
    s.name: s
    for s in (
        ParamSpec("tau_mem", 10.0, "ms", "Membrane time constant.", 0.0, None, True,
                  typical=(1.0, 100.0)),
        ParamSpec("tau_syn", 5.0, "ms",
                  "Synaptic current time constant (0: the input current acts directly).",
                  0.0, None, False, typical=(0.5, 50.0)),
        ParamSpec("tau_adapt", 200.0, "ms", "Time constant of threshold adaptation.", 0.0,
                  None, True, typical=(10.0, 2000.0)),
        ParamSpec("adapt", 2.0, "mV", "Threshold increase per spike.", 0.0,
                  typical=(0.0, 20.0)),
        ParamSpec("v_rest", -65.0, "mV", "Resting potential.", typical=(-80.0, -50.0)),
        ParamSpec("v_th", -50.0, "mV", "Firing threshold.", typical=(-65.0, -30.0)),
        ParamSpec("v_reset", -65.0, "mV", "Membrane potential after a spike.",
                  typical=(-80.0, -50.0)),
        ParamSpec("r_mem", 10.0, "MΩ", "Membrane resistance (input current in nA).", 0.0,
                  None, True, typical=(1.0, 500.0)),
        ParamSpec("t_ref", 2.0, "ms", "Absolute refractory period.", 0.0,
                  typical=(0.0, 10.0), learnable=False),
    )
}
_DIMENSIONLESS = {
    s.name: s
    for s in (
        ParamSpec("beta", 0.9, "1", "Membrane decay per step, exp(-dt/tau_mem).", 0.0, 1.0,
                  True, False, typical=(0.5, 0.999)),
        ParamSpec("alpha", 0.8, "1", "Synaptic current decay per step, exp(-dt/tau_syn).",
                  0.0, 1.0, False, True, typical=(0.0, 0.99)),
        ParamSpec("rho", 0.95, "1", "Threshold-adaptation decay per step.", 0.0, 1.0,
                  typical=(0.5, 0.999)),
        ParamSpec("adapt", 0.1, "1", "Threshold increase per spike.", 0.0, typical=(0.0, 2.0)),
        ParamSpec("threshold", 1.0, "1", "Firing threshold.", 0.0, None, True,
                  typical=(0.1, 5.0)),
        ParamSpec("v_reset", 0.0, "1", "Membrane value after a spike (Reset.TO_VALUE).",
                  typical=(-1.0, 1.0)),
        ParamSpec("t_ref", 0, "steps", "Absolute refractory period.", 0.0, integer=True,
                  typical=(0, 10), learnable=False),
    )
}


class LIFFamily(NeuronModel):
    """Base module of the LIF family (abstract: use LIF, SynapticLIF, AdaptiveLIF or
    LearnableNeuron). Subclasses list their parameters in ``PHYSICAL`` / ``DIMENSIONLESS``."""

    State = LIFFamilyState
    PHYSICAL: tuple[str, ...] = ()
    DIMENSIONLESS: tuple[str, ...] = ()

    def __init__(
        self,
        form: Form,
        values: Mapping[str, Any],
        *,
        reset: Reset,
        detach_reset: bool,
        surrogate: Surrogate,
        dt: float,
        shape: tuple[int, ...],
        learn: Sequence[str],
        backend: Backend = Backend.AUTO,
    ) -> None:
        if type(self) is LIFFamily:
            raise TypeError("LIFFamily is abstract: use LIF, SynapticLIF, AdaptiveLIF, ...")
        super().__init__(dt=dt)
        owner = type(self).__name__
        check_option(owner, "reset", reset, Reset)
        check_option(owner, "backend", backend, Backend)
        check_surrogate(owner, surrogate)
        if "v_reset" in learn and reset is not Reset.TO_VALUE:
            raise ValueError(
                f"{owner}: learn names v_reset, which reset={reset} does not use; "
                "use reset=Reset.TO_VALUE to learn the reset value."
            )
        self.form = form
        self.reset = reset
        self.detach_reset = bool(detach_reset)
        self.surrogate = surrogate
        self.backend = backend
        table = _PHYSICAL if form is Form.PHYSICAL else _DIMENSIONLESS
        names = self.PHYSICAL if form is Form.PHYSICAL else self.DIMENSIONLESS
        self._init_params([table[n] for n in names], values, learn, shape)
        t_ref = float(values["t_ref"])
        if form is Form.PHYSICAL and not _is_multiple(t_ref, self.dt):
            raise ValueError(
                f"{owner}: t_ref must be a multiple of dt={self.dt} [ms], got {t_ref!r}."
            )
        self.n_ref = round(t_ref / self.dt) if form is Form.PHYSICAL else int(t_ref)

    # ---- configuration ---------------------------------------------------------------------
    def _options(self) -> dict[str, Any]:
        return dict(form=self.form, reset=self.reset, detach_reset=self.detach_reset,
                    surrogate=self.surrogate, backend=self.backend)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LIFFamily:
        """Rebuild from :meth:`config`, in either form."""
        c = dict(config)
        obj = cls.__new__(cls)
        values = dict(c.pop("values"))
        form = c.pop("form")
        # t_ref is one number (it sets the refractory step count), stored expanded
        t_ref = float(torch.as_tensor(values["t_ref"]).flatten()[0])
        values["t_ref"] = round(t_ref) if form is Form.DIMENSIONLESS else t_ref
        LIFFamily.__init__(obj, form, values, **c)
        return obj

    # ---- the step's parameters ------------------------------------------------------------
    def params(self) -> LIFFamilyParams:
        v = self.values()
        ref = v.get("tau_mem", v.get("beta"))
        zero = torch.zeros((), dtype=ref.dtype, device=ref.device)
        if self.form is Form.PHYSICAL:
            beta = decay_from_tau(v["tau_mem"], self.dt)
            return LIFFamilyParams(
                beta=beta,
                alpha=decay_from_tau(v["tau_syn"], self.dt) if "tau_syn" in v else zero,
                rho=decay_from_tau(v["tau_adapt"], self.dt) if "tau_adapt" in v else zero,
                adapt=v.get("adapt", zero),
                v_rest=v["v_rest"],
                gain=(1 - beta) * v["r_mem"],
                v_th=v["v_th"],
                v_reset=v["v_reset"],
            )
        return LIFFamilyParams(
            beta=v["beta"],
            alpha=v.get("alpha", zero),
            rho=v.get("rho", zero),
            adapt=v.get("adapt", zero),
            v_rest=zero,
            gain=torch.ones_like(zero),
            v_th=v["threshold"],
            v_reset=v["v_reset"],
        )

    def step_fn(
        self, x: Tensor, state: LIFFamilyState, p: LIFFamilyParams
    ) -> tuple[Tensor, LIFFamilyState]:
        return lif_family_step(
            x,
            state,
            p,
            surrogate=self.surrogate,
            reset=self.reset,
            n_ref=self.n_ref,
            detach_reset=self.detach_reset,
        )

    def _scan_steps(
        self, x_seq: Tensor, state: LIFFamilyState, p: LIFFamilyParams, record: tuple[str, ...]
    ) -> tuple[Tensor, LIFFamilyState, dict[str, Tensor]]:
        # the fused kernel records v, i, a and the spikes for free; "ref" needs the loop
        fused = kernels.select("lif", self.backend, device=x_seq.device, dtype=x_seq.dtype,
                               surrogate=self.surrogate)
        if fused is None or "ref" in record:
            return super()._scan_steps(x_seq, state, p, record)
        opts = dict(reset=self.reset, n_ref=self.n_ref, detach_reset=self.detach_reset,
                    surrogate=self.surrogate, caller=type(self).__name__)
        if not record:
            spikes, final = fused(x_seq, state, p, **opts)
            return spikes, final, {}
        out = kernels.lif_scan_traces(x_seq, state, p, **opts)
        traces = {"v": out.v, "i": out.i, "a": out.a, "s": out.spikes}
        return out.spikes, out.state, {n: traces[n] for n in record}

    def rest_state(
        self, shape: tuple[int, ...], device: Any, dtype: torch.dtype
    ) -> LIFFamilyState:
        """The resting state shaped ``shape``, each field a broadcast view: of one zero
        (``v`` of ``v_rest``, per layer or per neuron). A zero costs no memory per neuron, and
        the fused kernel reads it as one value. The views are read-only: ``.clone()`` a field
        to write into it."""
        z = torch.zeros((), device=device, dtype=dtype).expand(shape)
        if "v_rest" not in self._specs:  # dimensionless: rest is 0
            return LIFFamilyState(i=z, v=z, a=z, s=z, ref=z)
        # (a copy: the state must not change when the parameter is trained)
        v = self.value("v_rest").detach().to(device=device, dtype=dtype).clone().expand(shape)
        return LIFFamilyState(i=z, v=v, a=z, s=z, ref=z)

    def extra_repr(self) -> str:
        return (
            f"form={self.form.name}, reset={self.reset.name}, backend={self.backend.name}, "
            f"{super().extra_repr()}"
        )

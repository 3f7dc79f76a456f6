"""The small base every neuron model stands on.

A model is a pure step function over an immutable ``NamedTuple`` state plus a thin
``nn.Module`` that validates and holds the parameters (see ../shared/STYLE.md, 3.2):

* ``params()`` rebuilds the model's ``Params`` tuple from its tensors (learnable ones through
  their range-keeping reparametrisation), once per sequence;
* ``step_fn(x, state, params)`` advances one ``dt`` and never reads or writes the module;
* ``forward(x_seq, state=None)`` scans ``step_fn`` over time and returns
  ``(spikes_seq, final_state)``; ``run(x_seq, record=("v",))`` also returns traces.

Tensors are time-major, ``(T, batch..., *neurons)``; a state holds tensors shaped like one
time step of input.

Parameters given as Python numbers are stored in the default dtype when the model is built, so
``model.double()`` keeps their float32 rounding (0.02 stays 0.0199999996); for float64-exact
parameters, build the model under ``torch.set_default_dtype(torch.float64)`` or pass float64
tensors.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

import torch
from torch import Tensor, nn

from .._params import ParamSpec, check_finite_input

__all__ = ["NeuronModel", "Recording", "detach_state"]


class Recording(NamedTuple):
    """What :meth:`NeuronModel.run` returns.

    Attributes:
        spikes: ``(T, ...)`` spike tensor (0.0 / 1.0).
        state: final state, to continue the run.
        traces: recorded state variables, name -> ``(T, ...)`` tensor, value *after* each step.
        dt: step [ms] (1.0 for dimensionless models), so ``t = dt * (arange(T) + 1)``.
    """

    spikes: Tensor
    state: Any
    traces: dict[str, Tensor]
    dt: float

    @property
    def t(self) -> Tensor:
        """Time of each recorded sample [ms]: the end of each step."""
        return self.dt * torch.arange(1, self.spikes.shape[0] + 1, dtype=torch.float64)


def detach_state(state: NamedTuple) -> NamedTuple:
    """Cut the autograd graph at a state (truncated BPTT) without copying memory."""
    return type(state)(*(t.detach() for t in state))


class NeuronModel(nn.Module, ABC):
    """Abstract neuron model: parameter metadata, validation, storage and the time scan.

    Subclasses declare ``State`` (a NamedTuple type), implement :meth:`params`,
    :meth:`step_fn` and :meth:`rest_state`, and describe their parameters as
    :class:`~neuraltide._params.ParamSpec` objects passed to :meth:`_init_params`.
    """

    State: ClassVar[type]

    def __init__(self, *, dt: float) -> None:
        super().__init__()
        name = type(self).__name__
        if not isinstance(dt, (int, float)) or not (dt > 0) or dt == float("inf"):
            raise ValueError(f"{name}: dt must be > 0 [ms], got {dt!r}.")
        self.dt = float(dt)
        self._specs: dict[str, ParamSpec] = {}
        self._learned: tuple[str, ...] = ()
        self.shape: tuple[int, ...] = ()

    # ---- parameters ----------------------------------------------------------------------
    def _init_params(
        self,
        specs: Sequence[ParamSpec],
        values: Mapping[str, float | Tensor],
        learn: Sequence[str],
        shape: tuple[int, ...],
    ) -> None:
        """Validate ``values`` against ``specs`` and register each as a buffer, or as a
        reparametrised ``nn.Parameter`` if its name is in ``learn``."""
        owner = type(self).__name__
        self._specs = {s.name: s for s in specs}
        if isinstance(learn, str):
            raise ValueError(
                f"{owner}: learn must be a tuple of parameter names, got the string {learn!r}; "
                f"write learn=({learn!r},)."
            )
        learnable = [s.name for s in specs if s.learnable and not s.integer]
        for n in learn:
            if n not in learnable:
                raise ValueError(
                    f"{owner}: learn must name parameters among {learnable}, got {n!r}."
                )
        if not (isinstance(shape, tuple) and all(isinstance(d, int) and d > 0 for d in shape)):
            raise ValueError(
                f"{owner}: shape must be a tuple of positive ints (per-neuron parameters), "
                f"or () for one value per layer, got {shape!r}."
            )
        self._learned = tuple(learn)
        self.shape = shape
        for spec in specs:
            value = spec.check(owner, values[spec.name])
            try:
                value = value.expand(shape).clone() if shape else value
            except RuntimeError:
                raise ValueError(
                    f"{owner}: {spec.name} has shape {tuple(value.shape)}, which does not "
                    f"broadcast to shape={shape}."
                ) from None
            if spec.name in self._learned:
                self.register_parameter("raw_" + spec.name, nn.Parameter(spec.to_raw(value)))
            else:
                self.register_buffer(spec.name, value)

    @property
    def specs(self) -> dict[str, ParamSpec]:
        """Metadata of this model's parameters, name -> :class:`ParamSpec`."""
        return dict(self._specs)

    @property
    def learned(self) -> tuple[str, ...]:
        """Names of the parameters that receive gradients."""
        return self._learned

    def value(self, name: str) -> Tensor:
        """Current value of parameter ``name`` in its unit (inside its valid range)."""
        if name in self._learned:
            return self._specs[name].from_raw(getattr(self, "raw_" + name))
        return getattr(self, name)

    def values(self) -> dict[str, Tensor]:
        """All parameter values, name -> tensor."""
        return {n: self.value(n) for n in self._specs}

    def regularizer(self) -> Tensor:
        """Penalty that keeps learned parameters inside their typical range (0 inside).

        Add ``lam * model.regularizer()`` to the loss to keep extreme values away.
        """
        penalties = [self._specs[n].penalty(self.value(n)) for n in self._learned]
        if not penalties:
            ref = next(iter(self.buffers()), None)
            return torch.zeros((), device=getattr(ref, "device", None))
        return torch.stack(penalties).sum()

    # ---- dynamics ------------------------------------------------------------------------
    @abstractmethod
    def params(self) -> NamedTuple:
        """The model's ``Params`` tuple, built from its current parameter tensors."""

    @abstractmethod
    def step_fn(self, x: Tensor, state: Any, p: Any) -> tuple[Tensor, Any]:
        """Pure step: one ``dt`` from ``state`` under input ``x`` with parameters ``p``."""

    @abstractmethod
    def rest_state(self, shape: tuple[int, ...], device: Any, dtype: torch.dtype) -> Any:
        """The model's resting state, each tensor shaped ``shape`` (already checked)."""

    def initial_state(
        self, shape: torch.Size | tuple[int, ...], device: Any = None, dtype: Any = None
    ) -> Any:
        """Resting state for inputs of one time step shaped ``shape`` (batch..., *neurons)."""
        shape = tuple(shape)
        k = len(self.shape)
        if k and shape[len(shape) - k :] != self.shape:
            raise ValueError(
                f"{type(self).__name__}: input of one step has shape {shape}, which does not "
                f"end in the per-neuron parameter shape {self.shape}."
            )
        return self.rest_state(shape, device, dtype or torch.get_default_dtype())

    def step(self, x: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """Advance one ``dt``: ``(spikes, new_state)``; ``x`` is one time step ``(batch...)``."""
        check_finite_input(type(self).__name__, x)
        if state is None:
            state = self.initial_state(x.shape, x.device, x.dtype)
        return self.step_fn(x, state, self.params())

    def forward(self, x_seq: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """Run a sequence: ``x_seq`` is ``(T, batch..., *neurons)``; returns
        ``(spikes_seq, final_state)`` with spikes shaped like ``x_seq``."""
        spikes, state, _ = self._scan(x_seq, state, ())
        return spikes, state

    def run(
        self, x_seq: Tensor, state: Any = None, *, record: Sequence[str] = ("v",)
    ) -> Recording:
        """Like :meth:`forward`, and also record state variables over time.

        Args:
            x_seq: ``(T, batch..., *neurons)`` input.
            state: initial state, or ``None`` for :meth:`initial_state`.
            record: names of ``State`` fields to record, e.g. ``("v", "i")``.
        """
        if isinstance(record, str):
            record = (record,)
        fields = self.State._fields
        for name in record:
            if name not in fields:
                raise ValueError(
                    f"{type(self).__name__}: record must name state variables among "
                    f"{list(fields)}, got {name!r}."
                )
        spikes, state, traces = self._scan(x_seq, state, tuple(record))
        return Recording(spikes, state, traces, self.dt)

    def _scan(
        self, x_seq: Tensor, state: Any, record: tuple[str, ...]
    ) -> tuple[Tensor, Any, dict[str, Tensor]]:
        owner = type(self).__name__
        if not isinstance(x_seq, Tensor) or x_seq.dim() < 1 or x_seq.shape[0] == 0:
            raise ValueError(
                f"{owner}: x_seq must be a tensor shaped (T, batch..., *neurons) with T >= 1, "
                f"got {getattr(x_seq, 'shape', type(x_seq))}."
            )
        if not x_seq.is_floating_point():
            x_seq = x_seq.to(torch.get_default_dtype())
        if state is None:
            state = self.initial_state(x_seq.shape[1:], x_seq.device, x_seq.dtype)
        return self._scan_steps(x_seq, state, self.params(), record)

    def _scan_steps(
        self, x_seq: Tensor, state: Any, p: Any, record: tuple[str, ...]
    ) -> tuple[Tensor, Any, dict[str, Tensor]]:
        """The time loop over :meth:`step_fn`, after refusing NaN/inf input; models with a
        fused kernel override this to dispatch (the kernel counts NaN/inf as it scans)."""
        check_finite_input(type(self).__name__, x_seq)
        out, rec = [], {n: [] for n in record}
        for x in x_seq:
            s, state = self.step_fn(x, state, p)
            out.append(s)
            for n in record:
                rec[n].append(getattr(state, n))
        return torch.stack(out), state, {n: torch.stack(v) for n, v in rec.items()}

    # ---- configuration (saving a model's structure) ---------------------------------------
    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild this model with :meth:`from_config`: the constructor's
        options and parameter values (tensors, numbers, enums and surrogate objects). Learned
        parameters appear with their default: their exact (raw) values travel in
        ``state_dict()``, and a learned value may sit at the edge of its range, where the
        constructor would refuse it."""
        values = {n: torch.tensor(s.default) if n in self._learned else self.value(n).detach()
                  for n, s in self._specs.items()}
        return dict(values=values,
                    dt=self.dt, shape=self.shape, learn=self._learned, **self._options())

    def _options(self) -> dict[str, Any]:
        """The constructor options other than parameter values, dt, shape and learn."""
        raise NotImplementedError(f"{type(self).__name__} cannot describe its configuration.")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> NeuronModel:
        """Rebuild a model from :meth:`config` (keyword constructors; the LIF family
        overrides this for its two forms)."""
        c = dict(config)
        values = c.pop("values")
        return cls(**values, **c)

    def extra_repr(self) -> str:
        learned = f", learn={self._learned}" if self._learned else ""
        return f"dt={self.dt}{learned}"

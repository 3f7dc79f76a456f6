r"""Bit-exact fixed-point simulation of Loihi's current-based LIF neuron.

The neuron follows the bit-accurate Loihi 1 model documented in Intel's Lava
(``lava.proc.lif.models.PyLifModelBitAcc``): integer state, 24-bit current ``u`` and voltage
``v``, 12-bit decays, threshold and input MSB-aligned by 6 bits. Per step, with integer synaptic
input :math:`a` (the sum of the integer weights of the inputs that spiked):

.. math::
    u &\leftarrow \operatorname{sgn}(x)\,\big\lfloor |x| / 2^{12} \big\rfloor
        + 2^6 a, \quad x = u\,(2^{12} - d_u - 1)                      \\
    v &\leftarrow \operatorname{sgn}(y)\,\big\lfloor |y| / 2^{12} \big\rfloor + u + b,
        \quad y = v\,(2^{12} - d_v)                                    \\
    s &= [v > 2^6\,\vartheta], \quad v \leftarrow 0 \text{ where } s

with :math:`d_u, d_v \in [0, 4095]`, threshold :math:`\vartheta \in [0, 2^{17}-1]` and bias
:math:`b = m \cdot 2^{e}` (13-bit signed mantissa, 3-bit exponent). The hardware wraps ``u``
modulo :math:`2^{24}` and saturates ``v`` at :math:`\pm(2^{23}-1)`; the synaptic input is a 16-bit
signed number. Every overflow is counted in :class:`Overflows`, and a run that overflowed warns
(or raises, with ``Overflow.RAISE``): nothing is lost silently.

A trained dimensionless LIF / SynapticLIF network maps onto it exactly in structure
(:func:`to_loihi`): :math:`\beta = 1 - d_v/2^{12}`, :math:`\alpha = 1 - (d_u+1)/2^{12}`, weights
are integers times a per-layer scale :math:`s_w`, and one unit of ``u`` (before the 6-bit shift)
is worth :math:`s_w s_x` of the float current, where :math:`s_x` is the value of one input unit.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum

import torch
from torch import Tensor, nn

from ..neurons import LIF, Form, Reset, SynapticLIF
from ..neurons._family import LIFFamily
from ..training.layers import LeakyReadout, Spiking
from .quantize import Quantizer

__all__ = ["LoihiCompartments", "LoihiLayer", "LoihiNetwork", "LoihiRun", "Overflow",
           "Overflows", "loihi_lif_step", "to_loihi"]

DECAY_SHIFT = 12  #: decays are fractions of 2^12
ALIGN_SHIFT = 6  #: input and threshold are shifted left by 6 bits (MSB alignment)
UV_MAX = 2**23  #: u and v are 24-bit signed
A_IN_MAX = 2**15  #: the synaptic input is 16-bit signed
VTH_MAX = 2**17 - 1  #: 17-bit unsigned threshold
BIAS_MANT_MAX = 2**12 - 1  #: 13-bit signed bias mantissa
BIAS_EXP_MAX = 7  #: 3-bit bias exponent


class Overflow(Enum):
    """What to do when a value leaves its register."""

    WRAP = "wrap"  #: as the hardware: u and the input wrap around, v saturates; warn after the run
    RAISE = "raise"  #: raise at the first overflow, naming the layer, variable and step


@dataclass
class Overflows:
    """Counts of (neuron, step) events where a register overflowed, per layer name."""

    a_in: dict[str, int] = field(default_factory=dict)  #: 16-bit synaptic input wrapped
    u: dict[str, int] = field(default_factory=dict)  #: 24-bit current wrapped
    v: dict[str, int] = field(default_factory=dict)  #: 24-bit voltage saturated

    @property
    def total(self) -> int:
        return sum(sum(d.values()) for d in (self.a_in, self.u, self.v))

    def add(self, kind: str, layer: str, n: int) -> None:
        d = getattr(self, kind)
        d[layer] = d.get(layer, 0) + n


@dataclass(frozen=True)
class LoihiCompartments:
    """Integer parameters of a group of Loihi compartments (each ``(n,)`` int64)."""

    du: Tensor  #: current decay, [0, 4095]
    dv: Tensor  #: voltage decay, [0, 4095]
    vth: Tensor  #: threshold before the 6-bit shift, [0, 2^17 - 1]
    bias_mant: Tensor  #: [-4095, 4095]
    bias_exp: Tensor  #: [0, 7]

    def __post_init__(self) -> None:
        for name, lo, hi in (("du", 0, 4095), ("dv", 0, 4095), ("vth", 0, VTH_MAX),
                             ("bias_mant", -BIAS_MANT_MAX, BIAS_MANT_MAX),
                             ("bias_exp", 0, BIAS_EXP_MAX)):
            t = getattr(self, name)
            if not isinstance(t, Tensor) or t.dtype != torch.int64 or t.dim() != 1:
                raise ValueError(f"LoihiCompartments: {name} must be a 1-d int64 tensor, got "
                                 f"{getattr(t, 'dtype', type(t).__name__)}.")
            if t.numel() and (int(t.min()) < lo or int(t.max()) > hi):
                raise ValueError(f"LoihiCompartments: {name} must lie in [{lo}, {hi}], got "
                                 f"values in [{int(t.min())}, {int(t.max())}].")

    @property
    def bias(self) -> Tensor:
        """Effective bias added to ``v`` each step, ``bias_mant << bias_exp``."""
        return self.bias_mant << self.bias_exp


def _decay(x: Tensor, keep: Tensor) -> Tensor:
    # the hardware multiplies the magnitude and truncates toward zero
    y = x * keep
    return torch.sign(y) * (y.abs() >> DECAY_SHIFT)


def _wrap(x: Tensor, half: int) -> Tensor:
    return torch.remainder(x + half, 2 * half) - half


def loihi_lif_step(a_in: Tensor, u: Tensor, v: Tensor, c: LoihiCompartments,
                   spiking: bool = True) -> tuple[Tensor, Tensor, Tensor, dict[str, Tensor]]:
    """One bit-exact step (pure: reads only its arguments).

    Args:
        a_in: integer synaptic input, ``(batch, n)`` int64, within 16 bits.
        u, v: state ``(batch, n)`` int64.
        c: the compartments' parameters.
        spiking: ``False`` for a readout compartment that never spikes (its ``v`` is read).

    Returns:
        ``(spikes, u, v, overflow)``: spikes as 0/1 int64, and boolean ``(batch, n)`` masks of
        where ``u`` wrapped and ``v`` saturated this step.
    """
    u_new = _decay(u, 2**DECAY_SHIFT - c.du - 1) + (a_in << ALIGN_SHIFT)
    u_wrapped = (u_new >= UV_MAX) | (u_new < -UV_MAX)
    u_new = _wrap(u_new, UV_MAX)
    v_new = _decay(v, 2**DECAY_SHIFT - c.dv) + u_new + c.bias
    v_sat = v_new.abs() > UV_MAX - 1
    v_new = v_new.clamp(-UV_MAX + 1, UV_MAX - 1)
    if spiking:
        s = (v_new > (c.vth << ALIGN_SHIFT)).long()
        v_new = v_new * (1 - s)
    else:
        s = torch.zeros_like(v_new)
    return s, u_new, v_new, {"u": u_wrapped, "v": v_sat}


@dataclass(frozen=True)
class LoihiLayer:
    """Integer weights into a group of compartments."""

    name: str
    weight: Tensor  #: ``(n_out, n_in)`` int64, signed ``weight_bits``
    compartments: LoihiCompartments
    unit: float  #: float value of one unit of u before the 6-bit shift (s_w * s_x)
    spiking: bool = True  #: False for a non-spiking readout


@dataclass(frozen=True)
class LoihiRun:
    """Result of :meth:`LoihiNetwork.run`."""

    spikes: list[Tensor]  #: per spiking layer, ``(T, batch, n)`` 0/1 float
    output: Tensor  #: readout voltage in float units ``(T, batch, n)`` (or the last spikes)
    voltages: list[Tensor]  #: per layer, integer ``v`` after the reset ``(T, batch, n)``
    overflows: Overflows


class LoihiNetwork:
    """A feed-forward chain of :class:`LoihiLayer` simulated bit-exactly.

    Args:
        layers: the chain; layer ``k`` receives the spikes of layer ``k - 1`` (the first one
            receives the integer input).
        on_overflow: :class:`Overflow`.
    """

    def __init__(self, layers: list[LoihiLayer], *, on_overflow: Overflow = Overflow.WRAP
                 ) -> None:
        if not layers:
            raise ValueError("LoihiNetwork: layers must not be empty.")
        if not isinstance(on_overflow, Overflow):
            raise ValueError(f"LoihiNetwork: on_overflow must be an Overflow, got "
                             f"{on_overflow!r}.")
        for a, b in itertools.pairwise(layers):
            if b.weight.shape[1] != a.weight.shape[0]:
                raise ValueError(f"LoihiNetwork: {b.name} takes {b.weight.shape[1]} inputs but "
                                 f"{a.name} has {a.weight.shape[0]} neurons.")
        self.layers = layers
        self.on_overflow = on_overflow

    def __iter__(self) -> Iterator[LoihiLayer]:
        return iter(self.layers)

    def run(self, x: Tensor) -> LoihiRun:
        """Simulate ``x``: integer input ``(T, batch, n_in)`` (spikes or graded counts)."""
        if not isinstance(x, Tensor) or x.dim() != 3:
            raise ValueError(f"LoihiNetwork.run: x must be a (T, batch, n_in) tensor, got "
                             f"{getattr(x, 'shape', type(x).__name__)}.")
        if x.is_floating_point() and (not torch.isfinite(x).all()
                                      or not torch.equal(x, x.round())):
            raise ValueError("LoihiNetwork.run: x must hold integers (spikes or counts in "
                             "units of input_scale); quantize analog input first.")
        x = x.long()
        T, B = x.shape[:2]
        flow = Overflows()
        state = [(torch.zeros(B, L.weight.shape[0], dtype=torch.long),) * 2 for L in self.layers]
        spikes = [[] for _ in self.layers]
        volts = [[] for _ in self.layers]
        for t in range(T):
            inp = x[t]
            for k, L in enumerate(self.layers):
                a_in = inp @ L.weight.T
                bad = (a_in >= A_IN_MAX) | (a_in < -A_IN_MAX)
                self._count(flow, "a_in", L.name, bad, t)
                a_in = _wrap(a_in, A_IN_MAX)
                s, u, v, over = loihi_lif_step(a_in, *state[k], L.compartments, L.spiking)
                for kind, mask in over.items():
                    self._count(flow, kind, L.name, mask, t)
                state[k] = (u, v)
                spikes[k].append(s)
                volts[k].append(v)
                inp = s
        if flow.total and self.on_overflow is Overflow.WRAP:
            warnings.warn(f"LoihiNetwork: registers overflowed {flow.total} times "
                          f"(a_in {flow.a_in}, u {flow.u}, v {flow.v}); see run().overflows.",
                          RuntimeWarning, stacklevel=2)
        sp = [torch.stack(s).float() for s in spikes]
        vs = [torch.stack(v) for v in volts]
        last = self.layers[-1]
        output = sp[-1] if last.spiking else vs[-1].double() / 2**ALIGN_SHIFT * last.unit
        keep = [s for s, L in zip(sp, self.layers, strict=True) if L.spiking]
        return LoihiRun(keep, output.float(), vs, flow)

    def _count(self, flow: Overflows, kind: str, layer: str, mask: Tensor, t: int) -> None:
        n = int(mask.sum())
        if not n:
            return
        if self.on_overflow is Overflow.RAISE:
            raise OverflowError(f"LoihiNetwork: {kind} of {layer} overflowed its register at "
                                f"step {t} in {n} neurons.")
        flow.add(kind, layer, n)


# ---- from a trained model -------------------------------------------------------------------
def to_loihi(model: nn.Module, *, input_scale: float = 1.0, weight_bits: int = 8,
             on_overflow: Overflow = Overflow.WRAP) -> LoihiNetwork:
    """Map a trained ``nn.Sequential`` of ``nn.Linear`` + ``Spiking(LIF | SynapticLIF)`` pairs
    (dimensionless form, ``Reset.TO_VALUE`` to 0, no refractory period), optionally ending in
    ``nn.Linear`` + :class:`~neuraltide.training.LeakyReadout`, onto Loihi compartments.

    Args:
        input_scale: float value of one unit of the integer input (1 for spikes; 1/16 for
            scikit-learn's digits pixels, which are integers 0..16 scaled to [0, 1]).
        weight_bits: signed weight bits (Loihi: 8).
        on_overflow: :class:`Overflow`.
    """
    if not (isinstance(input_scale, float | int) and input_scale > 0):
        raise ValueError(f"to_loihi: input_scale must be a number > 0, got {input_scale!r}.")
    quantizer = Quantizer(bits=weight_bits, decay_bits=None, threshold_bits=None)
    mods = list(model) if isinstance(model, nn.Sequential) else [model]
    if len(mods) % 2:
        raise ValueError("to_loihi: the model must alternate nn.Linear and a neuron layer, got "
                         f"{len(mods)} modules.")
    layers, scale_x = [], float(input_scale)
    for k in range(0, len(mods), 2):
        lin, neuron_layer = mods[k], mods[k + 1]
        name = f"layer {k + 1} ({type(neuron_layer).__name__})"
        if not isinstance(lin, nn.Linear):
            raise ValueError(f"to_loihi: module {k} must be nn.Linear, got "
                             f"{type(lin).__name__}.")
        s_w = float(quantizer.scale(lin.weight))
        unit = s_w * scale_x
        w_int = quantizer.integers(lin.weight.detach(), torch.tensor(s_w)).long()
        n = lin.out_features
        bias = lin.bias.detach() if lin.bias is not None else torch.zeros(n)
        if isinstance(neuron_layer, LeakyReadout):
            if k + 2 != len(mods):
                raise ValueError("to_loihi: a LeakyReadout must be the last layer.")
            comp = _compartments(name, neuron_layer.integrator, n, unit, bias, readout=True)
            layers.append(LoihiLayer(name, w_int, comp, unit, spiking=False))
        elif isinstance(neuron_layer, Spiking):
            comp = _compartments(name, neuron_layer.neuron, n, unit, bias, readout=False)
            layers.append(LoihiLayer(name, w_int, comp, unit))
        else:
            raise ValueError(f"to_loihi: {name} is not a Spiking or LeakyReadout layer.")
        scale_x = 1.0  # the next layer receives spikes
    return LoihiNetwork(layers, on_overflow=on_overflow)


def _compartments(name: str, neuron: object, n: int, unit: float, bias: Tensor,
                  readout: bool) -> LoihiCompartments:
    if type(neuron) not in (LIF, SynapticLIF) or not isinstance(neuron, LIFFamily):
        raise ValueError(f"to_loihi: {name} holds a {type(neuron).__name__}; Loihi's compartment"
                         " is the current-based LIF (LIF or SynapticLIF).")
    if neuron.form is not Form.DIMENSIONLESS:
        raise ValueError(f"to_loihi: {name} must be in the dimensionless form "
                         "(LIF.dimensionless / SynapticLIF.dimensionless).")
    p = neuron.params()
    if not readout:
        if neuron.reset is not Reset.TO_VALUE or bool((p.v_reset != 0).any()):
            raise ValueError(f"to_loihi: {name} must reset to 0 (Reset.TO_VALUE, v_reset=0): "
                             f"Loihi sets v to 0 after a spike; got {neuron.reset}.")
        if neuron.n_ref:
            raise ValueError(f"to_loihi: {name} has a refractory period; the documented "
                             "bit-accurate model has none.")
    ones = torch.ones(n, dtype=torch.long)
    dv = torch.round((1 - p.beta.detach()) * 2**DECAY_SHIFT).long() * ones
    alpha = p.alpha.detach()
    du = torch.round((1 - alpha) * 2**DECAY_SHIFT).long() * ones - 1
    if bool((bias != 0).any()) and bool((alpha != 0).any()):
        raise ValueError(f"to_loihi: {name} has a bias and a synaptic current; Loihi adds the "
                         "bias to the voltage, which equals the float model only without the "
                         "synaptic filter (alpha = 0).")
    mant, exp = _bias(name, bias / unit * 2**ALIGN_SHIFT)
    if readout:
        vth = torch.full((n,), VTH_MAX, dtype=torch.long)
    else:
        vth = torch.round(p.v_th.detach() / unit).long() * ones
        if int(vth.max()) > VTH_MAX or int(vth.min()) < 0:
            raise ValueError(f"to_loihi: the threshold of {name} is {int(vth.max())} units of "
                             f"{unit:.3g}, outside the 17-bit range [0, {VTH_MAX}]; use fewer "
                             "weight bits or rescale the layer.")
    return LoihiCompartments(du=du, dv=dv, vth=vth, bias_mant=mant,
                             bias_exp=exp)


def _bias(name: str, b: Tensor) -> tuple[Tensor, Tensor]:
    """Mantissa and the smallest exponent that fits it in 13 bits."""
    b = b.double()
    exp = torch.zeros_like(b, dtype=torch.long)
    for _ in range(BIAS_EXP_MAX):
        too_big = torch.round(b / 2**exp).abs() > BIAS_MANT_MAX
        exp = exp + too_big.long()
    mant = torch.round(b / 2**exp).long()
    if mant.numel() and int(mant.abs().max()) > BIAS_MANT_MAX:
        raise ValueError(f"to_loihi: the bias of {name} needs more than 13 + 7 bits "
                         f"({float(b.abs().max()):.4g} units of v).")
    return mant, exp

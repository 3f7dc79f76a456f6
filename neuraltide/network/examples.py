"""Classic networks, ready to run: CUBA (Vogels & Abbott 2005), Brunel (2000) and Song, Miller &
Abbott's (2000) STDP competition.

Each builder returns the network and its parts, from the published parameters, so tutorials,
tests and the benchmark run the same model.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from ..neurons import LIF
from ..plasticity import PairSTDP
from .connectivity import AllToAll, FixedInDegree, FromIndices, OneToOne
from .init import Uniform
from .network import Network
from .population import PoissonGroup, Population, SpikeInput
from .projection import Projection, Sign
from .synapse import Conductance, Delta, Exponential

__all__ = ["CUBA", "SMA", "Brunel", "brunel", "cuba", "cuba_structure", "delta_weight",
           "song_miller_abbott"]


class CUBA(NamedTuple):
    """The CUBA network: ``network``, its population ``P`` (excitatory ``0..3199``)."""

    network: Network
    P: Population


def cuba_structure(seed: int = 0, n: int = 4000, p: float = 0.02
                   ) -> tuple[Tensor, Tensor, Tensor]:
    """CUBA's random structure: synapses ``(pre, post)`` with probability ``p`` from every
    neuron, and initial membranes ``v0`` [mV] uniform in ``[-60, -50)``; pass the same
    structure to Brian2 to compare one realisation in both simulators."""
    g = torch.Generator().manual_seed(seed)
    hit = torch.rand(n, n, generator=g) < p
    pre, post = hit.nonzero(as_tuple=True)
    v0 = -60.0 + 10.0 * torch.rand(n, generator=g, dtype=torch.float64)
    return pre, post, v0


def cuba(seed: int = 0, structure: tuple[Tensor, Tensor, Tensor] | None = None) -> CUBA:
    """The CUBA benchmark network of Vogels & Abbott (2005), J Neurosci 25:10786, with the
    parameters of Brian2's ``examples/CUBA.py``: 4000 LIF neurons (3200 E, 800 I),
    ``tau_mem = 20`` ms, threshold -50 mV, reset -60 mV, rest -49 mV, refractory 5 ms,
    exponential current synapses (``tau_e = 5`` ms, ``tau_i = 10`` ms) of +1.62 / -9 mV,
    connection probability 0.02, dt = 0.1 ms.

    Args:
        seed: seed of :func:`cuba_structure` (ignored if ``structure`` is given).
        structure: ``(pre, post, v0)`` from :func:`cuba_structure`.
    """
    n, n_exc = 4000, 3200
    pre, post, v0 = structure if structure is not None else cuba_structure(seed, n)
    # r_mem = 1 MΩ: a current of 1 nA is 1 mV of drive, as Brian2's ge/gi in volts
    lif = LIF(tau_mem=20.0, v_rest=-49.0, v_th=-50.0, v_reset=-60.0, r_mem=1.0, t_ref=5.0,
              dt=0.1)
    P = Population(n, lif, name="P", init={"v": v0})
    exc = pre < n_exc
    Ce = Projection(P, P, FromIndices(pre[exc], post[exc]), weight=60 * 0.27 / 10,
                    synapse=Exponential(5.0), sign=Sign.EXCITATORY, name="Ce")
    Ci = Projection(P, P, FromIndices(pre[~exc], post[~exc]), weight=20 * 4.5 / 10,
                    synapse=Exponential(10.0), sign=Sign.INHIBITORY, name="Ci")
    return CUBA(Network([P], [Ce, Ci], seed=seed), P)


def delta_weight(jump_mv: float, tau_mem: float, r_mem: float, dt: float) -> float:
    """Weight [nA] of a :class:`~neuraltide.network.synapse.Delta` synapse that makes a
    physical LIF's membrane jump by ``jump_mv`` [mV]: ``jump / ((1 - exp(-dt/tau)) R)``."""
    return jump_mv / (-math.expm1(-dt / tau_mem) * r_mem)


class Brunel(NamedTuple):
    """A Brunel network: ``network``, populations ``E`` and ``I``, the external Poisson drive
    ``ext`` (a SpikeInput fed with :meth:`drive`'s counts) and its rate per neuron [Hz]."""

    network: Network
    E: Population
    I: Population  # noqa: E741 - Brunel's name for the inhibitory population
    ext_exc: SpikeInput
    ext_inh: SpikeInput
    ext_rate_hz: float

    def drive(self, steps: int, batch: int = 1, seed: int = 0) -> dict[SpikeInput, Tensor]:
        """Poisson counts of external spikes per step, the ``inputs=`` of ``network.run``."""
        g = torch.Generator().manual_seed(seed)
        lam = self.ext_rate_hz * self.E.dt * 1e-3
        return {
            grp: torch.poisson(torch.full((steps, batch, grp.n), lam), generator=g)
            for grp in (self.ext_exc, self.ext_inh)
        }


def brunel(
    g: float = 5.0, eta: float = 2.0, n_exc: int = 2000, epsilon: float = 0.1,
    j_mv: float = 0.1, delay: float = 1.5, seed: int = 0,
) -> Brunel:
    """Brunel's (2000, J Comput Neurosci 8:183) sparsely connected E/I network of LIF neurons
    with delta synapses: ``N_I = N_E/4``, each neuron receives ``C_E = epsilon N_E``
    excitatory and ``C_I = epsilon N_I`` inhibitory synapses of ``J`` and ``-g J`` [mV], delay
    1.5 ms, ``tau = 20`` ms, threshold 20 mV, reset 10 mV, refractory 2 ms, dt = 0.1 ms; the
    external drive is ``C_E`` Poisson inputs of ``J`` at ``eta`` times the rate that brings the
    mean input to threshold, ``nu_thr = theta / (J C_E tau)``.

    ``g`` and ``eta`` select the regime: ``g=5, eta=2`` asynchronous irregular; ``g=3,
    eta=2`` synchronous regular; ``g=6, eta=4`` fast oscillations (Brunel's Fig. 8).
    """
    tau, theta, dt = 20.0, 20.0, 0.1
    n_inh = n_exc // 4
    c_e, c_i = int(epsilon * n_exc), int(epsilon * n_inh)
    w = delta_weight(j_mv, tau, 1.0, dt)

    def lif() -> LIF:
        return LIF(tau_mem=tau, v_rest=0.0, v_th=theta, v_reset=10.0, r_mem=1.0, t_ref=2.0,
                   dt=dt)

    E, I = Population(n_exc, lif(), name="E"), Population(n_inh, lif(), name="I")  # noqa: E741
    ext_exc = SpikeInput(n_exc, name="ext_E", dt=dt)
    ext_inh = SpikeInput(n_inh, name="ext_I", dt=dt)
    projections = []
    for k, (pre, post, c, weight, sign) in enumerate([
        (E, E, c_e, w, Sign.EXCITATORY), (E, I, c_e, w, Sign.EXCITATORY),
        (I, E, c_i, g * w, Sign.INHIBITORY), (I, I, c_i, g * w, Sign.INHIBITORY),
    ]):
        projections.append(Projection(pre, post, FixedInDegree(c), weight=weight, sign=sign,
                                      synapse=Delta(), delay=delay, seed=seed * 10 + k))
    # the C_E external inputs of a neuron sum to one Poisson train at C_E * nu_ext
    projections += [Projection(ext, pop, OneToOne(), weight=w, synapse=Delta(),
                               sign=Sign.EXCITATORY) for ext, pop in ((ext_exc, E), (ext_inh, I))]
    nu_thr_hz = theta / (j_mv * c_e * tau) * 1e3
    net = Network([ext_exc, ext_inh, E, I], projections, seed=seed)
    return Brunel(net, E, I, ext_exc, ext_inh, eta * nu_thr_hz * c_e)


class SMA(NamedTuple):
    """Song, Miller & Abbott's set-up: ``network``, the Poisson ``inputs``, the ``neuron`` and
    the ``plastic`` projection; ``g_max`` is the weight bound."""

    network: Network
    inputs: PoissonGroup
    neuron: Population
    plastic: Projection
    g_max: float


def song_miller_abbott(n_inputs: int = 1000, rate_hz: float = 15.0, *, g_max: float = 0.01,
                       a_plus: float = 0.01, ratio: float = 1.05, dt: float = 0.1,
                       seed: int = 0) -> SMA:
    """Competitive Hebbian learning through STDP (Song, Miller & Abbott 2000, Nat Neurosci
    3:919) with the parameters of Brian2's ``examples/synapses/STDP.py``: ``n_inputs`` Poisson
    inputs at ``rate_hz`` onto one conductance-based LIF neuron (``tau_mem = 10`` ms, rest
    -74 mV, threshold -54 mV, reset -60 mV; excitatory synapses reverse at 0 mV and decay with
    5 ms), weights (in units of the leak conductance, ``r_mem = 1``) drawn uniformly in
    ``[0, g_max]``, additive pair STDP with ``tau = 20`` ms, ``A+ = a_plus * g_max`` and
    ``A- = ratio * A+``, hard bounds ``[0, g_max]``. Depression slightly stronger than
    potentiation makes the inputs compete: the weights split towards ``0`` and ``g_max``.

    Args:
        n_inputs: Poisson inputs, >= 1.
        rate_hz: their rate [Hz].
        g_max: weight bound (relative to the leak conductance), > 0.
        a_plus: potentiation per pair, relative to ``g_max``.
        ratio: ``A- / A+``.
        dt: step [ms].
        seed: seed of the weights and the input spikes.
    """
    inputs = PoissonGroup(n_inputs, rate_hz, name="inputs", dt=dt)
    neuron = Population(1, LIF(tau_mem=10.0, v_rest=-74.0, v_th=-54.0, v_reset=-60.0,
                               r_mem=1.0, dt=dt), name="neuron")
    rule = PairSTDP(a_plus=a_plus * g_max, a_minus=ratio * a_plus * g_max, tau_plus=20.0,
                    tau_minus=20.0, w_min=0.0, w_max=g_max)
    plastic = Projection(inputs, neuron, AllToAll(), weight=Uniform(0.0, g_max),
                         synapse=Conductance(tau=5.0, e_rev=0.0), plasticity=rule, seed=seed,
                         name="plastic")
    return SMA(Network([inputs, neuron], [plastic], seed=seed), inputs, neuron, plastic,
               float(g_max))

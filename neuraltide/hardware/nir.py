r"""Export to, and import from, the Neuromorphic Intermediate Representation (NIR).

NIR describes neurons in continuous time; NeuralTide layers are discrete-time maps. The export
writes, for each layer, the NIR node whose **forward-Euler step of length** ``dt`` is exactly the
layer's per-step map: the convention of snnTorch's and Norse's NIR importers, so a graph they
load reproduces NeuralTide's spikes. For a LIF-family layer with per-step decay :math:`\beta`
and input gain :math:`g` (:class:`~neuraltide.neurons.LIFFamilyParams`):

.. math::
    v \leftarrow \beta v + (1-\beta) v_\text{rest} + g\,I
    \quad\Longleftrightarrow\quad
    \tau = \frac{\Delta t}{1-\beta},\; R = \frac{g}{1-\beta},\; v_\text{leak} = v_\text{rest}

(for the dimensionless form, :math:`g = 1` gives snnTorch's :math:`R = \tau/\Delta t`). The
synaptic current of :class:`~neuraltide.neurons.SynapticLIF` maps the same way with
:math:`\tau_\text{syn} = \Delta t/(1-\alpha)` and :math:`w_\text{in} = 1/(1-\alpha)`.

Supported: ``nn.Linear`` (NIR ``Affine``/``Linear``), ``TimeDistributed`` around ``nn.Conv2d``,
``nn.Flatten`` and ``nn.AvgPool2d``, ``Spiking(LIF)`` (``LIF``),
``Spiking(SynapticLIF)`` (``CubaLIF``) and :class:`~neuraltide.training.LeakyReadout` (``LI``),
in an ``nn.Sequential``. NIR's spiking nodes reset the membrane to :math:`v_\text{reset}`, so
spiking layers must use ``Reset.TO_VALUE`` and no refractory period; anything else raises an
error naming the layer and the reason.

Example::

    >>> import torch
    >>> from torch import nn
    >>> from neuraltide.hardware import from_nir, to_nir
    >>> from neuraltide.neurons import LIF, Reset
    >>> from neuraltide.training import Spiking
    >>> net = nn.Sequential(nn.Linear(4, 3), Spiking(LIF.dimensionless(beta=0.9,
    ...                     reset=Reset.TO_VALUE)))
    >>> graph = to_nir(net)
    >>> sorted(graph.nodes), type(graph.nodes["1"]).__name__
    (['0', '1', 'input', 'output'], 'LIF')
    >>> x = torch.rand(20, 2, 4)
    >>> bool(torch.equal(from_nir(graph)(x), net(x)))
    True
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from pathlib import Path

import nir
import numpy as np
import torch
from torch import Tensor, nn

from ..neurons import LIF, Reset, SynapticLIF
from ..neurons._family import LIFFamily
from ..training.layers import LeakyReadout, Spiking, TimeDistributed

__all__ = ["DEFAULT_DT", "NIRExportError", "from_nir", "to_nir"]

DEFAULT_DT = 1e-4
"""Step length [s] written to, and assumed for, NIR graphs (snnTorch's importer uses 1e-4)."""


class NIRExportError(ValueError):
    """A layer has no NIR equivalent (the message names the layer and the reason)."""


# ---- export ---------------------------------------------------------------------------------
def to_nir(model: nn.Module, *, dt: float = DEFAULT_DT,
           input_shape: tuple[int, ...] | None = None) -> nir.NIRGraph:
    """Write a feed-forward NeuralTide model as a NIR graph.

    Args:
        model: an ``nn.Sequential`` (nested ones are flattened) of the supported layers.
        dt: length of one NeuralTide step in the graph's time unit [s], > 0.
        input_shape: shape of one time step of one sample, e.g. ``(1, 8, 8)``; needed when the
            first layer is not ``nn.Linear``.

    Returns:
        A chain ``input -> "0" -> "1" -> ... -> output`` named by the layer indices.
    """
    if not (isinstance(dt, float | int) and math.isfinite(dt) and dt > 0):
        raise ValueError(f"to_nir: dt must be a finite number > 0 [s], got {dt!r}.")
    layers = list(_flat(model))
    if not layers:
        raise NIRExportError("to_nir: the model has no layers.")
    shape = _input_shape(layers[0], input_shape)
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(np.array(shape))}
    for k, layer in enumerate(layers):
        node, shape = _export_layer(f"layer {k} ({type(layer).__name__})", layer, shape, dt)
        nodes[str(k)] = node
    nodes["output"] = nir.Output(np.array(shape))
    names = ["input", *map(str, range(len(layers))), "output"]
    return nir.NIRGraph(nodes=nodes, edges=list(itertools.pairwise(names)),
                        metadata={"dt": float(dt), "source": "neuraltide"})


def _flat(model: nn.Module) -> Iterator[nn.Module]:
    if isinstance(model, nn.Sequential):
        for m in model:
            yield from _flat(m)
    else:
        yield model


def _input_shape(first: nn.Module, given: tuple[int, ...] | None) -> tuple[int, ...]:
    if given is not None:
        shape = tuple(int(s) for s in given)
        if not shape or min(shape) < 1:
            raise ValueError(f"to_nir: input_shape must be positive sizes, got {given!r}.")
        return shape
    if isinstance(first, nn.Linear):
        return (first.in_features,)
    raise ValueError(
        f"to_nir: input_shape is needed when the first layer is {type(first).__name__}, "
        "not nn.Linear (one time step of one sample, e.g. (1, 8, 8))."
    )


def _np(t: Tensor, shape: tuple[int, ...]) -> np.ndarray:
    return np.broadcast_to(t.detach().cpu().double().numpy(), shape).copy()


def _export_layer(name: str, layer: nn.Module, shape: tuple[int, ...],
                  dt: float) -> tuple[nir.NIRNode, tuple[int, ...]]:
    if isinstance(layer, nn.Linear):
        if shape[-1] != layer.in_features:
            raise NIRExportError(f"to_nir: {name} expects {layer.in_features} inputs, the "
                                 f"layer before gives shape {shape}.")
        w = layer.weight.detach().cpu().numpy()
        node = (nir.Linear(weight=w) if layer.bias is None
                else nir.Affine(weight=w, bias=layer.bias.detach().cpu().numpy()))
        return node, (*shape[:-1], layer.out_features)
    if isinstance(layer, TimeDistributed):
        return _export_per_step(name, layer.module, shape)
    if isinstance(layer, LeakyReadout):
        beta = _np(layer.beta, shape)
        tau = dt / (1 - beta)
        return nir.LI(tau=tau, r=tau / dt, v_leak=np.zeros(shape)), shape
    if isinstance(layer, Spiking):
        return _export_neuron(name, layer.neuron, shape, dt), shape
    raise NIRExportError(
        f"to_nir: {name} has no NIR equivalent (supported: nn.Linear, TimeDistributed(Conv2d/"
        "Flatten/AvgPool2d), Spiking(LIF or SynapticLIF), LeakyReadout)."
    )


def _export_per_step(name: str, m: nn.Module,
                     shape: tuple[int, ...]) -> tuple[nir.NIRNode, tuple[int, ...]]:
    if not isinstance(m, nn.Conv2d | nn.Flatten | nn.AvgPool2d):
        raise NIRExportError(f"to_nir: {name} wraps {type(m).__name__}, which has no NIR "
                             "equivalent here (Conv2d, Flatten, AvgPool2d).")
    try:
        with torch.no_grad():
            out = tuple(m(torch.zeros(1, *shape)).shape[1:])
    except RuntimeError as e:
        raise NIRExportError(f"to_nir: {name} does not accept the shape {shape} that the "
                             f"layers before it give: {e}") from e
    if isinstance(m, nn.Conv2d):
        if m.padding_mode != "zeros" or isinstance(m.padding, str):
            raise NIRExportError(f"to_nir: {name}: NIR's Conv2d takes zero padding given as "
                                 f"numbers, got padding={m.padding!r}, "
                                 f"padding_mode={m.padding_mode!r}.")
        bias = (m.bias.detach().cpu().numpy() if m.bias is not None
                else np.zeros(m.out_channels, dtype=np.float32))
        node = nir.Conv2d(input_shape=shape[-2:], weight=m.weight.detach().cpu().numpy(),
                          stride=m.stride, padding=m.padding, dilation=m.dilation,
                          groups=m.groups, bias=bias)
        return node, out
    if isinstance(m, nn.Flatten):
        # NIR's dimensions leave out the batch
        end = m.end_dim - 1 if m.end_dim > 0 else m.end_dim
        return nir.Flatten(input_type={"input": np.array(shape)}, start_dim=m.start_dim - 1,
                           end_dim=end), out
    if m.ceil_mode or not m.count_include_pad or m.divisor_override is not None:
        raise NIRExportError(f"to_nir: {name}: NIR's AvgPool2d has no ceil_mode, "
                             "count_include_pad=False or divisor_override.")
    pair = nn.modules.utils._pair
    stride = m.stride if m.stride is not None else m.kernel_size
    return nir.AvgPool2d(kernel_size=np.array(pair(m.kernel_size)),
                         stride=np.array(pair(stride)),
                         padding=np.array(pair(m.padding))), out


def _export_neuron(name: str, neuron: object, shape: tuple[int, ...], dt: float) -> nir.NIRNode:
    if type(neuron) not in (LIF, SynapticLIF):
        raise NIRExportError(
            f"to_nir: {name} holds a {type(neuron).__name__}; NIR has spiking nodes for LIF "
            "and SynapticLIF (CubaLIF) only (no adaptation, no Izhikevich or HH dynamics)."
        )
    assert isinstance(neuron, LIFFamily)
    if neuron.reset is not Reset.TO_VALUE:
        raise NIRExportError(
            f"to_nir: {name} uses reset={neuron.reset}; NIR's LIF resets the membrane to "
            "v_reset, so only Reset.TO_VALUE has an equivalent (train with that reset)."
        )
    if neuron.n_ref:
        raise NIRExportError(f"to_nir: {name} has a refractory period of {neuron.n_ref} "
                             "steps; NIR's neurons have none.")
    p = neuron.params()
    beta = _np(p.beta, shape)
    tau = dt / (1 - beta)
    common = dict(r=_np(p.gain, shape) / (1 - beta), v_leak=_np(p.v_rest, shape),
                  v_threshold=_np(p.v_th, shape), v_reset=_np(p.v_reset, shape))
    if isinstance(neuron, SynapticLIF):
        alpha = _np(p.alpha, shape)
        return nir.CubaLIF(tau_mem=tau, tau_syn=dt / (1 - alpha), w_in=1 / (1 - alpha),
                           **common)
    return nir.LIF(tau=tau, **common)


# ---- import ---------------------------------------------------------------------------------
def from_nir(graph: nir.NIRGraph | str | Path, *, dt: float = DEFAULT_DT) -> nn.Sequential:
    """Build a NeuralTide model from a NIR graph (or a ``.nir`` file).

    Each node's forward-Euler step of length ``dt`` becomes the layer's per-step map (see the
    module docstring). Neurons whose NIR parameters are those of the dimensionless form
    (:math:`v_\\text{leak} = 0`, :math:`R = \\tau/\\Delta t`) come back in that form; others in
    the physical form with ``dt`` in ms.

    Args:
        graph: a chain of nodes from one ``Input`` to one ``Output``.
        dt: the step length the graph is simulated at [s], > 0.

    Returns:
        An ``nn.Sequential`` taking ``(T, batch, *input_shape)``.
    """
    if not (isinstance(dt, float | int) and math.isfinite(dt) and dt > 0):
        raise ValueError(f"from_nir: dt must be a finite number > 0 [s], got {dt!r}.")
    if isinstance(graph, str | Path):
        graph = nir.read(graph)
    if not isinstance(graph, nir.NIRGraph):
        raise ValueError(f"from_nir: graph must be a nir.NIRGraph or a path, got "
                         f"{type(graph).__name__}.")
    layers = []
    for key in _chain(graph):
        node = graph.nodes[key]
        make = _IMPORTERS.get(type(node))
        if make is None:
            raise NIRExportError(
                f"from_nir: node {key!r} is a NIR {type(node).__name__}, which NeuralTide does "
                f"not import (supported: {', '.join(t.__name__ for t in _IMPORTERS)})."
            )
        layers.append(make(node, dt))
    return nn.Sequential(*layers)


def _chain(graph: nir.NIRGraph) -> list[str]:
    """The node keys from the input to the output, in order (a chain, or an error)."""
    succ: dict[str, list[str]] = {}
    for a, b in graph.edges:
        succ.setdefault(a, []).append(b)
    inputs = [k for k, n in graph.nodes.items() if isinstance(n, nir.Input)]
    if len(inputs) != 1:
        raise NIRExportError(f"from_nir: the graph must have one Input node, found {inputs}.")
    order, key = [], inputs[0]
    while not isinstance(graph.nodes[key], nir.Output):
        nxt = succ.get(key, [])
        if len(nxt) != 1:
            raise NIRExportError(
                f"from_nir: only chains are supported; node {key!r} has {len(nxt)} "
                f"successors {nxt} (recurrent or branching graphs are not imported)."
            )
        key = nxt[0]
        if key in order:
            raise NIRExportError(f"from_nir: the graph has a cycle through {key!r}.")
        order.append(key)
    return order[:-1]


def _param(a: np.ndarray) -> tuple[float | Tensor, tuple[int, ...]]:
    """One value per layer when all neurons agree, else a per-neuron tensor and its shape."""
    a = np.asarray(a, dtype=np.float64)
    if a.size and np.all(a == a.flat[0]):
        return float(a.flat[0]), ()
    return torch.as_tensor(a, dtype=torch.get_default_dtype()), tuple(a.shape)


def _params(**arrays: np.ndarray) -> tuple[dict[str, float | Tensor], tuple[int, ...]]:
    values, shape = {}, ()
    per_neuron = any(_param(a)[1] for a in arrays.values())
    for k, a in arrays.items():
        if per_neuron:
            t = torch.as_tensor(np.asarray(a, dtype=np.float64), dtype=torch.get_default_dtype())
            values[k], shape = t, tuple(t.shape)
        else:
            values[k] = _param(a)[0]
    return values, shape


def _dimensionless(tau: np.ndarray, r: np.ndarray, v_leak: np.ndarray, dt: float) -> bool:
    return bool(np.all(np.asarray(v_leak) == 0) and np.allclose(r * dt / tau, 1.0,
                                                               rtol=1e-9, atol=0))


def _import_lif(node: nir.LIF, dt: float) -> Spiking:
    return Spiking(lif_from_node(node, dt, dt * 1e3))


def lif_from_node(node: nir.LIF, dt: float, step_ms: float) -> LIF:
    """The LIF whose step is the Euler step ``dt`` [s] of ``node``: dimensionless when the
    node's parameters are those of that form, else physical with ``dt = step_ms``."""
    beta = 1 - dt / np.asarray(node.tau, dtype=np.float64)
    if _dimensionless(node.tau, node.r, node.v_leak, dt):
        values, shape = _params(beta=beta, threshold=node.v_threshold, v_reset=node.v_reset)
        return LIF.dimensionless(reset=Reset.TO_VALUE, shape=shape, **values)
    values, shape = _params(tau_mem=-step_ms / np.log(beta), r_mem=node.r, v_rest=node.v_leak,
                            v_th=node.v_threshold, v_reset=node.v_reset)
    return LIF(t_ref=0.0, dt=step_ms, shape=shape, **values)


def _import_cuba(node: nir.CubaLIF, dt: float) -> Spiking:
    beta = 1 - dt / np.asarray(node.tau_mem, dtype=np.float64)
    alpha = 1 - dt / np.asarray(node.tau_syn, dtype=np.float64)
    # the current enters as alpha*i + (1-alpha)*w_in*S; 1/(1-alpha) is NeuralTide's unit gain
    w_scale = (1 - alpha) * np.asarray(node.w_in, dtype=np.float64)
    if _dimensionless(node.tau_mem, node.r, node.v_leak, dt) and np.allclose(w_scale, 1.0,
                                                                           rtol=1e-9, atol=0):
        values, shape = _params(beta=beta, alpha=alpha, threshold=node.v_threshold,
                                v_reset=node.v_reset)
        return Spiking(SynapticLIF.dimensionless(reset=Reset.TO_VALUE, shape=shape, **values))
    step_ms = dt * 1e3
    with np.errstate(divide="ignore"):
        tau_syn = np.where(alpha > 0, -step_ms / np.log(np.maximum(alpha, 1e-300)), 0.0)
    values, shape = _params(tau_mem=-step_ms / np.log(beta), tau_syn=tau_syn,
                            r_mem=np.asarray(node.r) * w_scale, v_rest=node.v_leak,
                            v_th=node.v_threshold, v_reset=node.v_reset)
    return Spiking(SynapticLIF(t_ref=0.0, dt=step_ms, shape=shape, **values))


def _import_li(node: nir.LI, dt: float) -> LeakyReadout:
    tau = np.asarray(node.tau, dtype=np.float64)
    if not _dimensionless(tau, node.r, node.v_leak, dt):
        raise NIRExportError(
            "from_nir: an LI node must have v_leak = 0 and r = tau/dt (NeuralTide's "
            f"LeakyReadout, v <- beta*v + x); got r*dt/tau = {np.unique(node.r * dt / tau)}."
        )
    beta = 1 - dt / tau
    readout = LeakyReadout(int(beta.size), beta=0.5)
    with torch.no_grad():
        readout.integrator.beta.copy_(torch.as_tensor(beta.reshape(-1)))
    return readout


def _import_linear(node: nir.Linear | nir.Affine, dt: float) -> nn.Linear:
    w = torch.as_tensor(np.asarray(node.weight), dtype=torch.get_default_dtype())
    bias = getattr(node, "bias", None)
    layer = nn.Linear(w.shape[1], w.shape[0], bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(w)
        if bias is not None:
            layer.bias.copy_(torch.as_tensor(np.asarray(bias)))
    return layer


def _import_conv(node: nir.Conv2d, dt: float) -> TimeDistributed:
    w = torch.as_tensor(np.asarray(node.weight), dtype=torch.get_default_dtype())
    conv = nn.Conv2d(w.shape[1] * int(node.groups), w.shape[0], tuple(w.shape[-2:]),
                     stride=tuple(int(s) for s in np.atleast_1d(node.stride)),
                     padding=tuple(int(s) for s in np.atleast_1d(node.padding)),
                     dilation=tuple(int(s) for s in np.atleast_1d(node.dilation)),
                     groups=int(node.groups))
    with torch.no_grad():
        conv.weight.copy_(w)
        conv.bias.copy_(torch.as_tensor(np.asarray(node.bias)))
    return TimeDistributed(conv)


def _import_flatten(node: nir.Flatten, dt: float) -> TimeDistributed:
    end = int(node.end_dim)
    return TimeDistributed(nn.Flatten(int(node.start_dim) + 1, end + 1 if end >= 0 else end))


def _import_avgpool(node: nir.AvgPool2d, dt: float) -> TimeDistributed:
    ints = lambda a: tuple(int(s) for s in np.atleast_1d(a))  # noqa: E731
    return TimeDistributed(nn.AvgPool2d(ints(node.kernel_size), ints(node.stride),
                                        ints(node.padding)))


_IMPORTERS: dict[type, Callable[..., nn.Module]] = {
    nir.Affine: _import_linear,
    nir.Linear: _import_linear,
    nir.Conv2d: _import_conv,
    nir.Flatten: _import_flatten,
    nir.AvgPool2d: _import_avgpool,
    nir.LIF: _import_lif,
    nir.CubaLIF: _import_cuba,
    nir.LI: _import_li,
}

"""Saving and loading networks: structure and weights, exactly, in a file that loads with
``torch.load(..., weights_only=True)`` (tensors, numbers, strings, lists and dicts only).

The file describes every group (neuron model and its configuration, initial values, input
rates), every projection (its synapses as explicit index pairs, raw weights, delays, synapse
model, sign, plasticity rule) and the learned values of every model; :func:`load` rebuilds the
same network from it. Objects are written as their class name and fields and read back only
from the allowlist below, so a file cannot make :func:`load` build anything else.
"""

from __future__ import annotations

import dataclasses
import os
from enum import Enum
from typing import Any

import torch
from torch import Tensor

from .. import surrogate as _surrogate
from ..integrate import Integrator
from ..kernels import Backend
from ..neurons import (
    LIF,
    AdaptiveLIF,
    HodgkinHuxley,
    Izhikevich,
    LearnableNeuron,
    Reset,
    SynapticLIF,
)
from ..neurons._family import Form
from ..neurons.izhikevich import IzhikevichScheme
from ..plasticity import Pairing, PairSTDP, RewardModulatedSTDP, TripletSTDP, WeightDependence
from . import init as _init
from . import synapse as _synapse
from .connectivity import FromIndices
from .network import Network
from .population import PoissonGroup, Population, SpikeInput
from .projection import Projection, Propagation, Sign

__all__ = ["load", "save"]

FORMAT, VERSION = "neuraltide.network", 1

_ENUMS: dict[str, type[Enum]] = {c.__name__: c for c in (
    Reset, Form, Backend, IzhikevichScheme, Integrator, Sign, Propagation, Pairing,
    WeightDependence,
)}
_OBJECTS: dict[str, type] = {c.__name__: c for c in (
    _surrogate.Sigmoid, _surrogate.FastSigmoid, _surrogate.ATan, _surrogate.Gaussian,
    _surrogate.Triangle, _surrogate.StraightThrough,
    _synapse.Delta, _synapse.Exponential, _synapse.Conductance,
    PairSTDP, TripletSTDP, RewardModulatedSTDP,
    _init.Constant, _init.Uniform, _init.Normal, _init.LogNormal,
)}
_NEURONS: dict[str, type] = {c.__name__: c for c in (
    LIF, SynapticLIF, AdaptiveLIF, LearnableNeuron, Izhikevich, HodgkinHuxley,
)}
_INPUTS = {c.__name__: c for c in (PoissonGroup, SpikeInput)}


def _encode(value: Any, where: str) -> Any:
    if isinstance(value, Tensor):
        return value.detach().clone().cpu()
    if isinstance(value, Enum):
        return {"__enum__": type(value).__name__, "name": value.name}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        if name not in _OBJECTS:
            raise ValueError(
                f"save: {where} is a {name}, which cannot be saved (user-defined objects such "
                "as Custom surrogates carry code); use a built-in one."
            )
        fields = {f.name: _encode(getattr(value, f.name), f"{where}.{f.name}")
                  for f in dataclasses.fields(value) if f.init}
        return {"__object__": name, "fields": fields}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, where) for v in value]}
    if isinstance(value, list):
        return [_encode(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v, f"{where}[{k!r}]") for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(f"save: {where} = {value!r} cannot be saved.")


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "__enum__" in value:
            return _lookup(_ENUMS, value["__enum__"], "enum")[value["name"]]
        if "__object__" in value:
            cls = _lookup(_OBJECTS, value["__object__"], "object")
            return cls(**{k: _decode(v) for k, v in value["fields"].items()})
        if "__tuple__" in value:
            return tuple(_decode(v) for v in value["__tuple__"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _lookup(table: dict[str, Any], name: str, kind: str) -> Any:
    if name not in table:
        raise ValueError(f"load: unknown {kind} {name!r} in the file (known: {sorted(table)}).")
    return table[name]


def save(network: Network, path: str | os.PathLike) -> None:
    """Write ``network`` (structure, weights, learned parameters) to ``path``."""
    if not isinstance(network, Network):
        raise ValueError(f"save: network must be a Network, got {type(network).__name__}.")
    groups = []
    for g in network.groups.values():
        if isinstance(g, Population):
            neuron = g.neuron
            groups.append(dict(
                type="Population", name=g.name, n=g.n,
                neuron=type(neuron).__name__,
                config=_encode(neuron.config(), f"population {g.name!r}"),
                learned=_encode(dict(neuron.state_dict()), f"population {g.name!r}"),
                init=_encode(g.init, f"population {g.name!r} init"),
            ))
        else:
            entry = dict(type=type(g).__name__, name=g.name, n=g.n, dt=g.dt)
            if isinstance(g, PoissonGroup):
                entry["rate_hz"] = _encode(g.rate_hz, g.name)
            groups.append(entry)
    projections = []
    for p in network.projections.values():
        where = f"projection {p.name!r}"
        projections.append(dict(
            name=p.name, pre=p.pre.name, post=p.post.name,
            pre_idx=_encode(p.pre_idx, where), post_idx=_encode(p.post_idx, where),
            magnitude=_encode(p.magnitude, where),
            delay_ms=_encode(p.delay_steps.double() * p.dt, where),
            synapse=_encode(p.synapse, where), sign=_encode(p.sign, where), learn=p.learn,
            propagation=_encode(p.propagation, where),
            plasticity=_encode(p.plasticity, where),
        ))
    torch.save(dict(format=FORMAT, version=VERSION, seed=network.seed, groups=groups,
                    projections=projections), path)


def load(path: str | os.PathLike) -> Network:
    """Rebuild the network written by :func:`save` (read with ``weights_only=True``)."""
    data = torch.load(path, weights_only=True)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"load: {os.fspath(path)!r} is not a saved NeuralTide network.")
    if data.get("version") != VERSION:
        raise ValueError(
            f"load: file version {data.get('version')!r}, this NeuralTide reads version "
            f"{VERSION}."
        )
    groups = {}
    for g in data["groups"]:
        if g["type"] == "Population":
            cls = _lookup(_NEURONS, g["neuron"], "neuron model")
            neuron = cls.from_config(_decode(g["config"]))
            neuron.load_state_dict(g["learned"])
            groups[g["name"]] = Population(g["n"], neuron, name=g["name"],
                                           init=_decode(g["init"]))
        elif g["type"] == "PoissonGroup":
            groups[g["name"]] = PoissonGroup(g["n"], g["rate_hz"], name=g["name"], dt=g["dt"])
        else:
            cls = _lookup(_INPUTS, g["type"], "group type")
            groups[g["name"]] = cls(g["n"], name=g["name"], dt=g["dt"])
    projections = []
    for p in data["projections"]:
        sign = _decode(p["sign"])
        magnitude = p["magnitude"]
        proj = Projection(
            groups[p["pre"]], groups[p["post"]], FromIndices(p["pre_idx"], p["post_idx"]),
            # raw magnitudes of a trained signed projection may be below 0 (rectified in
            # use); they are built non-negative here and restored exactly below
            weight=magnitude.clamp(min=0) if sign is not None else magnitude,
            synapse=_decode(p["synapse"]), delay=p["delay_ms"], sign=sign, learn=p["learn"],
            propagation=_decode(p["propagation"]), plasticity=_decode(p["plasticity"]),
            name=p["name"],
        )
        with torch.no_grad():
            proj.magnitude.copy_(magnitude)
        projections.append(proj)
    return Network(list(groups.values()), projections, seed=data["seed"])

"""Connectivity rules: which presynaptic neuron connects to which postsynaptic one.

A rule is a frozen object; :meth:`Connectivity.build` draws the synapses once, with a seeded
generator, and returns them as index pairs ``(pre_idx, post_idx)`` (long tensors of length
``S``), sorted by presynaptic neuron so that the synapses of one neuron are a contiguous range
(what event-driven propagation needs). A rule never returns duplicate pairs.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import torch
from torch import Tensor

__all__ = [
    "AllToAll",
    "Connectivity",
    "FixedInDegree",
    "FixedProbability",
    "FromIndices",
    "FromMatrix",
    "OneToOne",
]


class Connectivity(ABC):
    """A rule that draws synapses between ``n_pre`` and ``n_post`` neurons."""

    @abstractmethod
    def pairs(self, n_pre: int, n_post: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """The synapses as ``(pre_idx, post_idx)``, in any order (:meth:`build` sorts them)."""

    def build(self, n_pre: int, n_post: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """The synapses as ``(pre_idx, post_idx)`` long tensors ``(S,)``, sorted by
        ``(pre, post)``."""
        pre, post = self.pairs(n_pre, n_post, generator)
        order = torch.argsort(pre * n_post + post)
        return pre[order].long(), post[order].long()

    def initial_weight(self) -> Tensor | None:
        """Weights that come with the rule (``FromMatrix``), in synapse order; else ``None``."""
        return None


@dataclass(frozen=True)
class AllToAll(Connectivity):
    """Every presynaptic neuron to every postsynaptic one.

    Args:
        allow_self: keep ``i -> i`` synapses (only matters when pre and post are one
            population; the projection passes ``same=True`` then).
    """

    allow_self: bool = True
    same: bool = field(default=False, repr=False)

    def pairs(self, n_pre: int, n_post: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        pre = torch.arange(n_pre).repeat_interleave(n_post)
        post = torch.arange(n_post).repeat(n_pre)
        return _drop_self(pre, post, self.same and not self.allow_self)


@dataclass(frozen=True)
class OneToOne(Connectivity):
    """Neuron ``i`` to neuron ``i``; pre and post must have the same size."""

    def pairs(self, n_pre: int, n_post: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        if n_pre != n_post:
            raise ValueError(
                f"OneToOne: pre and post must have the same size, got {n_pre} and {n_post}."
            )
        idx = torch.arange(n_pre)
        return idx, idx.clone()


@dataclass(frozen=True)
class FixedProbability(Connectivity):
    """Each pair is connected independently with probability ``p`` (Brian2's
    ``connect(p=...)``, NEST's ``pairwise_bernoulli``).

    Args:
        p: connection probability, in [0, 1].
        allow_self: keep ``i -> i`` synapses within one population.
    """

    p: float
    allow_self: bool = True
    same: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.p, (int, float)) or not (0.0 <= self.p <= 1.0):
            raise ValueError(f"FixedProbability: p must be in [0, 1], got {self.p!r}.")

    def pairs(self, n_pre: int, n_post: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        # one row of Bernoulli draws per presynaptic neuron keeps memory O(n_post) per row
        # block instead of materialising an n_pre x n_post matrix at once
        pres, posts = [], []
        block = max(1, (1 << 22) // max(n_post, 1))
        for start in range(0, n_pre, block):
            rows = min(block, n_pre - start)
            hit = torch.rand(rows, n_post, generator=generator) < self.p
            r, c = hit.nonzero(as_tuple=True)
            pres.append(r + start)
            posts.append(c)
        pre, post = torch.cat(pres), torch.cat(posts)
        return _drop_self(pre, post, self.same and not self.allow_self)


@dataclass(frozen=True)
class FixedInDegree(Connectivity):
    """Each postsynaptic neuron receives exactly ``k`` synapses from distinct presynaptic
    neurons chosen uniformly (NEST's ``fixed_indegree`` without multapses).

    Args:
        k: in-degree, ``0 <= k <= n_pre`` (``n_pre - 1`` within one population without
            self-connections).
        allow_self: allow ``i -> i`` within one population.
    """

    k: int
    allow_self: bool = True
    same: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.k, int) or isinstance(self.k, bool) or self.k < 0:
            raise ValueError(f"FixedInDegree: k must be an int >= 0, got {self.k!r}.")

    def pairs(self, n_pre: int, n_post: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        no_self = self.same and not self.allow_self
        limit = n_pre - 1 if no_self else n_pre
        if self.k > limit:
            raise ValueError(
                f"FixedInDegree: k must be <= {limit} (distinct presynaptic neurons"
                f"{', no self-connections' if no_self else ''}), got {self.k}."
            )
        # the k smallest of n_pre uniform keys per column: a uniform k-subset per neuron
        keys = torch.rand(n_post, n_pre, generator=generator)
        if no_self:
            keys[torch.arange(n_post), torch.arange(n_post)] = math.inf
        pre = keys.topk(self.k, dim=1, largest=False).indices.reshape(-1)
        post = torch.arange(n_post).repeat_interleave(self.k)
        return pre, post


@dataclass(frozen=True, eq=False)
class FromIndices(Connectivity):
    """Explicit synapses ``pre[k] -> post[k]``.

    Args:
        pre: presynaptic indices ``(S,)``, each in ``[0, n_pre)``.
        post: postsynaptic indices ``(S,)``, each in ``[0, n_post)``; no pair twice.
    """

    pre: Tensor
    post: Tensor

    def pairs(self, n_pre: int, n_post: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        pre, post = torch.as_tensor(self.pre).long(), torch.as_tensor(self.post).long()
        if pre.dim() != 1 or pre.shape != post.shape:
            raise ValueError(
                f"FromIndices: pre and post must be 1-d and of the same length, got shapes "
                f"{tuple(pre.shape)} and {tuple(post.shape)}."
            )
        for name, idx, n in (("pre", pre, n_pre), ("post", post, n_post)):
            if idx.numel() and (idx.min() < 0 or idx.max() >= n):
                raise ValueError(
                    f"FromIndices: {name} indices must be in [0, {n}), got values in "
                    f"[{int(idx.min())}, {int(idx.max())}]."
                )
        if torch.unique(pre * n_post + post).numel() != pre.numel():
            raise ValueError("FromIndices: a (pre, post) pair appears twice; merge their weights.")
        return pre, post


@dataclass(frozen=True, eq=False)
class FromMatrix(Connectivity):
    """Synapses where a dense ``(n_pre, n_post)`` matrix is non-zero; its entries become the
    initial weights (the projection's ``weight`` must then be left ``None``)."""

    matrix: Tensor

    def pairs(self, n_pre: int, n_post: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        m = torch.as_tensor(self.matrix)
        if tuple(m.shape) != (n_pre, n_post):
            raise ValueError(
                f"FromMatrix: matrix must have shape (n_pre, n_post) = ({n_pre}, {n_post}), "
                f"got {tuple(m.shape)}."
            )
        return m.nonzero(as_tuple=True)

    def initial_weight(self) -> Tensor:
        m = torch.as_tensor(self.matrix)
        pre, post = m.nonzero(as_tuple=True)  # row-major: already sorted by (pre, post)
        return m[pre, post]


def _drop_self(pre: Tensor, post: Tensor, drop: bool) -> tuple[Tensor, Tensor]:
    if not drop:
        return pre, post
    keep = pre != post
    return pre[keep], post[keep]

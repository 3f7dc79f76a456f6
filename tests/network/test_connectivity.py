"""Connectivity rules: statistics, determinism and errors."""

from __future__ import annotations

import math

import pytest
import torch

from neuraltide.network import (
    AllToAll,
    FixedInDegree,
    FixedProbability,
    FromIndices,
    FromMatrix,
    OneToOne,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_fixed_probability_count_is_binomial_and_seeded() -> None:
    n_pre, n_post, p = 300, 200, 0.05
    pre, post = FixedProbability(p).build(n_pre, n_post, gen(1))
    mean, sd = n_pre * n_post * p, math.sqrt(n_pre * n_post * p * (1 - p))
    assert abs(pre.numel() - mean) < 5 * sd
    again = FixedProbability(p).build(n_pre, n_post, gen(1))
    assert torch.equal(pre, again[0]) and torch.equal(post, again[1])
    other = FixedProbability(p).build(n_pre, n_post, gen(2))
    assert not (pre.numel() == other[0].numel() and torch.equal(post, other[1]))
    # sorted by (pre, post), no duplicates
    key = pre * n_post + post
    assert torch.all(key[1:] > key[:-1])


def test_no_self_connections_within_one_population() -> None:
    rule = FixedProbability(0.5, allow_self=False, same=True)
    pre, post = rule.build(50, 50, gen())
    assert not torch.any(pre == post)
    pre, post = AllToAll(allow_self=False, same=True).build(7, 7, gen())
    assert pre.numel() == 7 * 6 and not torch.any(pre == post)


def test_fixed_in_degree_gives_exactly_k_distinct_inputs() -> None:
    pre, post = FixedInDegree(12).build(40, 30, gen())
    assert torch.equal(torch.bincount(post, minlength=30), torch.full((30,), 12))
    pairs = set(zip(pre.tolist(), post.tolist(), strict=True))
    assert len(pairs) == pre.numel()
    # uniform choice: every presynaptic neuron is used about 30*12/40 = 9 times
    use = torch.bincount(pre, minlength=40).double()
    assert use.mean() == 9.0 and use.std() < 5


def test_fixed_in_degree_without_self() -> None:
    pre, post = FixedInDegree(9, allow_self=False, same=True).build(10, 10, gen())
    assert not torch.any(pre == post) and pre.numel() == 90
    with pytest.raises(ValueError, match="k must be <= 9"):
        FixedInDegree(10, allow_self=False, same=True).build(10, 10, gen())


def test_one_to_one_all_to_all_and_explicit() -> None:
    pre, post = OneToOne().build(5, 5, gen())
    assert torch.equal(pre, post) and pre.tolist() == [0, 1, 2, 3, 4]
    pre, post = AllToAll().build(3, 4, gen())
    assert pre.numel() == 12 and set(zip(pre.tolist(), post.tolist(), strict=True)) == {
        (i, j) for i in range(3) for j in range(4)
    }
    pre, post = FromIndices(torch.tensor([2, 0]), torch.tensor([1, 3])).build(3, 4, gen())
    assert pre.tolist() == [0, 2] and post.tolist() == [3, 1]


def test_from_matrix_keeps_its_weights() -> None:
    m = torch.tensor([[0.0, 1.5], [-2.0, 0.0], [0.0, 0.25]])
    rule = FromMatrix(m)
    pre, post = rule.build(3, 2, gen())
    assert torch.equal(m[pre, post], rule.initial_weight())
    assert pre.tolist() == [0, 1, 2]


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: FixedProbability(1.5), r"p must be in \[0, 1\], got 1.5"),
        (lambda: FixedProbability(-0.1), r"p must be in \[0, 1\]"),
        (lambda: FixedInDegree(-1), "k must be an int >= 0"),
        (lambda: OneToOne().build(3, 4, gen()), "same size, got 3 and 4"),
        (lambda: FromIndices(torch.tensor([0, 5]), torch.tensor([0, 1])).build(3, 3, gen()),
         r"pre indices must be in \[0, 3\)"),
        (lambda: FromIndices(torch.tensor([0, 0]), torch.tensor([1, 1])).build(3, 3, gen()),
         "appears twice"),
        (lambda: FromMatrix(torch.ones(2, 2)).build(3, 2, gen()), "must have shape"),
    ],
)
def test_bad_connectivity_raises(make, match) -> None:
    with pytest.raises(ValueError, match=match):
        make()

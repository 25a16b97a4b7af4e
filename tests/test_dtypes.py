"""dtype promotion against PyTorch: tensor-tensor, tensor-0-d tensor and tensor-Python scalar
for every pair of ember's dtypes, through add, mul, div and a comparison."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
OPS = {
    "add": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "lt": lambda a, b: a < b,
}
SCALARS = [True, 2, 2.5]


def _pair(lib, name: str, shape):
    dtype = getattr(lib, name)
    values = np.ones(shape, dtype=np.dtype(name))  # ones: bool and every int type, no overflow
    return (ember.from_numpy(values) if lib is ember else torch.from_numpy(values)), dtype


def _result(op, lib, a, b):
    """The result dtype's name, or the exception class when the op is rejected."""
    try:
        return str(op(a, b).dtype).split(".")[-1]
    except (RuntimeError, TypeError) as exc:
        return type(exc).__name__


def _both(op, left, right):
    """(ember, torch) result dtypes of op(left, right); each side a (name, shape) or a scalar."""
    out = []
    for lib in (ember, torch):
        args = [_pair(lib, *side)[0] if isinstance(side, tuple) else side
                for side in (left, right)]
        out.append(_result(op, lib, *args))
    return tuple(out)


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("a, b", list(itertools.product(NAMES, NAMES)))
def test_tensor_tensor(op, a, b):
    ours, theirs = _both(OPS[op], (a, (2, 3)), (b, (2, 3)))
    assert ours == theirs


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("a, b", list(itertools.product(NAMES, NAMES)))
def test_tensor_zero_dim(op, a, b):
    ours, theirs = _both(OPS[op], (a, (2, 3)), (b, ()))
    assert ours == theirs
    ours, theirs = _both(OPS[op], (b, ()), (a, (2, 3)))
    assert ours == theirs


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("a", NAMES)
@pytest.mark.parametrize("scalar", SCALARS, ids=["bool", "int", "float"])
def test_tensor_scalar(op, a, scalar):
    ours, theirs = _both(OPS[op], (a, (2, 3)), scalar)
    assert ours == theirs
    ours, theirs = _both(OPS[op], scalar, (a, (2, 3)))
    assert ours == theirs


@pytest.mark.parametrize("a", NAMES)
@pytest.mark.parametrize("scalar", SCALARS, ids=["bool", "int", "float"])
def test_zero_dim_with_scalar(a, scalar):
    ours, theirs = _both(OPS["add"], (a, ()), scalar)
    assert ours == theirs


@pytest.mark.parametrize("a, b", list(itertools.product(NAMES, NAMES)))
def test_promote_types(a, b):
    ours = ember.promote_types(getattr(ember, a), getattr(ember, b))
    theirs = torch.promote_types(getattr(torch, a), getattr(torch, b))
    assert ours.name == str(theirs).split(".")[-1]


def test_issue_examples():
    assert (ember.tensor([1, 2]) / ember.tensor([2, 2])).dtype == ember.float32
    assert (ember.ones(2) * 2.5).dtype == ember.float32
    assert (ember.ones(2, dtype=ember.int64) + ember.ones(2)).dtype == ember.float32
    assert (ember.ones(2, dtype=ember.int32) * 2).dtype == ember.int32
    assert (ember.ones(2, dtype=ember.float16) + ember.tensor(1.0, dtype=ember.float64)).dtype \
        == ember.float16


def test_default_dtype_follows_set_default_dtype():
    ember.set_default_dtype(ember.float64)
    assert ember.tensor([1.0]).dtype == ember.float64
    assert (ember.tensor([1, 2]) / 2).dtype == ember.float64
    assert (ember.ones(2, dtype=ember.int64) * 0.5).dtype == ember.float64

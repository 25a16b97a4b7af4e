"""The shape, indexing, reduction, scan and statistics ops added to close the gap with
torch's API: values, dtypes, gradients and double backward against PyTorch, gradcheck in
float64, torch's exception classes on bad input (through test_ops' harness, with the OpInfos
below); views writing through to their base; in-place view ops; creation and dtype helpers;
and, on the fake cuda device, results that stay there with the CPU's values."""
from __future__ import annotations

import math
import warnings
import zlib

import numpy as np
import pytest

import ember
from op_db import E, INF, Maker, OpInfo, S, SampleInput, f64, fn, inplace, method
from test_ops import _Builder, _compare, _flatten, _second_order, _to_numpy

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
NAN = math.nan
FI = ("float32", "int64")


def _all_reduce(op, **kw):
    return [OpInfo(f"{op}_{r}_{s}", method(op), dtypes=FI if r == "mean" else ("float32",),
                   samples=gen, **kw)
            for r in ("sum", "prod", "mean", "amax", "amin") for s in (True, False)
            for gen in [_reduce_samples(op, r, s)]]


def _reduce_samples(op, reduce, include_self):
    def gen(m):
        if op == "scatter_reduce":
            zeros = f64([[0.0, 1.5, 2.0, 0.0], [3.0, 0.0, -1.0, 2.0], [0.5, 0.0, 1.0, -2.0]])
            return [S(m(3, 4), 0, m.index((4, 4), 3), m(4, 4), reduce, include_self=include_self),
                    S(m(4), 0, m.index((6,), 4), m(6), reduce, include_self=include_self),
                    S(m(3, 4), 1, np.array([[0, 0, 1, 1]] * 3), zeros, reduce,
                      include_self=include_self, name="zeros in src")]
        return [S(m(4, 3), 0, np.array([0, 2, 0, 3, 0]), m(5, 3), reduce,
                  include_self=include_self),
                S(m(3, 4), 1, np.array([1, 1]), m(3, 2), reduce, include_self=include_self)]
    return gen


OPS = [
    # -- splits, stacks, rotations ---------------------------------------------------------------
    OpInfo("tensor_split", fn("tensor_split")[0], fn("tensor_split")[1], samples=lambda m: [
        S(m(5, 4), 2), S(m(5, 4), [1, 3]), S(m(4, 6), 4, 1), S(m(6), [-2, 10]),
        S(m(6), [4, 2]), S(m(6), np.array([1, 4])), S(m(6), np.array(4)),
        S(m(5, 4), 3, -1, noncontig=True)],
        errors=lambda: [E(f64(1.0), 2, match="tensor_split.*1-dimensional"),
                        E(f64(np.ones(3)), 0, match="tensor_split.*sections")]),
    OpInfo("hsplit", fn("hsplit")[0], fn("hsplit")[1], samples=lambda m: [
        S(m(3, 4), 2), S(m(6), [1, 4]), S(m(2, 4, 3), 4)],
        errors=lambda: [E(f64(np.ones((2, 4))), 3, match="hsplit.*divisible")]),
    OpInfo("vsplit", fn("vsplit")[0], fn("vsplit")[1], samples=lambda m: [
        S(m(4, 3), 2), S(m(5, 2), [2])],
        errors=lambda: [E(f64(np.ones(3)), 1, match="vsplit.*at least 2")]),
    OpInfo("dsplit", fn("dsplit")[0], fn("dsplit")[1], samples=lambda m: [S(m(2, 2, 6), 3)],
           errors=lambda: [E(f64(np.ones((2, 2))), 1, match="dsplit.*at least 3")]),
    OpInfo("split_with_sizes", method("split_with_sizes"), samples=lambda m: [
        S(m(5, 3), [2, 3]), S(m(3, 5), [1, 0, 4], 1)],
        errors=lambda: [E(f64(np.ones(4)), [1, 2], match="split_with_sizes.*sum")]),
    OpInfo("column_stack", fn("column_stack")[0], fn("column_stack")[1], samples=lambda m: [
        S([m(3), m(3, 2)]), S([m(()), m(1)])]),
    OpInfo("row_stack", fn("row_stack")[0], fn("row_stack")[1],
           samples=lambda m: [S([m(3), m(2, 3)])]),
    OpInfo("dstack", fn("dstack")[0], fn("dstack")[1], samples=lambda m: [
        S([m(2, 3), m(2, 3)]), S([m(3), m(3)]), S([m(()), m(())])]),
    OpInfo("rot90", method("rot90"), dtypes=FI, samples=lambda m: [
        S(m(3, 4)), S(m(3, 4), 2), S(m(2, 3, 4), -1, [1, 2]), S(m(3, 4), 3, [1, 0]),
        S(m(3, 4), 0), S(m(4, 3), 5, noncontig=True)],
        errors=lambda: [E(f64(np.ones(3)), match="rot90.*dims"),
                        E(f64(np.ones((2, 2))), 1, [0, 0], match="rot90.*different")]),
    OpInfo("ravel", method("ravel"), samples=lambda m: [S(m(3, 4), noncontig=True), S(m(()))]),
    OpInfo("swapdims", method("swapdims"), samples=lambda m: [S(m(2, 3, 4), 0, -1)]),
    OpInfo("broadcast_to", method("broadcast_to"), samples=lambda m: [S(m(3, 1), (2, 3, 4))]),
    OpInfo("broadcast_tensors", fn("broadcast_tensors")[0], fn("broadcast_tensors")[1],
           samples=lambda m: [S(m(3, 1), m(4), m(()))],
           errors=lambda: [E(f64(np.ones(3)), f64(np.ones(4)), match="broadcast")]),
    OpInfo("narrow_copy", method("narrow_copy"), samples=lambda m: [S(m(4, 3), 0, 1, 2)]),
    # -- diagonals -------------------------------------------------------------------------------
    OpInfo("diag", fn("diag")[0], fn("diag")[1], dtypes=FI, samples=lambda m: [
        S(m(4)), S(m(4), 2), S(m(3, 4)), S(m(3, 4), -1), S(m(4, 3), 5), S(m(0))],
        errors=lambda: [E(f64(np.ones((2, 2, 2))), match="diag.*1D or 2D")]),
    OpInfo("diag_embed", fn("diag_embed")[0], fn("diag_embed")[1], samples=lambda m: [
        S(m(2, 3)), S(m(2, 3), 1, 0, 2), S(m(3), -1)],
        errors=lambda: [E(f64(np.ones(3)), 0, 0, 0, match="diag_embed")]),
    OpInfo("diagflat", fn("diagflat")[0], fn("diagflat")[1], samples=lambda m: [
        S(m(2, 3)), S(m(3), 1), S(m(()))]),
    OpInfo("diagonal_scatter", fn("diagonal_scatter")[0], fn("diagonal_scatter")[1],
           samples=lambda m: [S(m(3, 4), m(3)), S(m(3, 4), m(3), 1),
                              S(m(2, 3, 4), m(2, 3), 0, 1, 2), S(m(4, 3), m(3), noncontig=True)],
           errors=lambda: [E(f64(np.ones((3, 2))), f64(np.ones(3)),
                             match="diagonal_scatter.*size")]),
    OpInfo("trace", method("trace"), dtypes=FI, samples=lambda m: [
        S(m(3, 4)), S(m(4, 3), noncontig=True)],
        errors=lambda: [E(f64(np.ones(3)), match="trace")]),
    # -- select, slices, strided views ----------------------------------------------------------
    OpInfo("select", fn("select")[0], fn("select")[1], samples=lambda m: [
        S(m(3, 4), 0, 1), S(m(3, 4), -1, -2), S(m(4, 3), 1, 2, noncontig=True)],
        errors=lambda: [E(f64(np.ones(3)), 0, 3, exc=IndexError, match="select.*out of range"),
                        E(f64(1.0), 0, 0, exc=IndexError, match="select")]),
    OpInfo("select_scatter", fn("select_scatter")[0], fn("select_scatter")[1],
           samples=lambda m: [S(m(3, 4), m(4), 0, 1), S(m(3, 4), m(3), 1, -1)],
           errors=lambda: [E(f64(np.ones((3, 2))), f64(np.ones(3)), 0, 0,
                             match="select_scatter.*size")]),
    OpInfo("slice_scatter", fn("slice_scatter")[0], fn("slice_scatter")[1],
           samples=lambda m: [S(m(5, 4), m(2, 4), 0, 1, 3), S(m(3, 6), m(3, 3), 1, 0, None, 2),
                              S(m(4, 3), m(4, 3))],
           errors=lambda: [E(f64(np.ones((3, 2))), f64(np.ones((1, 2))), 0, 0, 2,
                             match="slice_scatter.*size")]),
    OpInfo("as_strided", method("as_strided"), samples=lambda m: [
        S(m(4, 3), (3, 3), (1, 1), name="overlapping"), S(m(12), (2, 2), (4, 1), 3),
        S(m(3, 4), (2, 3), (2, 3), noncontig=True), S(m(5), (0, 2), (1, 1))],
        errors=lambda: [E(f64(np.ones(3)), (3, 3), (1, 1), match="as_strided.*out of bounds"),
                        E(f64(np.ones(3)), (3,), (-1,), match="as_strided.*Negative"),
                        E(f64(np.ones(3)), (3,), (1, 2), match="as_strided.*length")]),
    # PyTorch's gradient w.r.t. input is wrong (it keeps the overwritten positions and drops
    # the others); ember's passes gradcheck
    OpInfo("as_strided_scatter", fn("as_strided_scatter")[0], fn("as_strided_scatter")[1],
           compare_grad=False, samples=lambda m: [S(m(3, 4), m(2, 2), (2, 2), (1, 4), 1)],
           errors=lambda: [E(f64(np.ones(3)), f64(np.ones((2, 2))), (2, 2), (1, 1), 5,
                             match="as_strided_scatter.*out of bounds")]),
    OpInfo("unfold", method("unfold"), samples=lambda m: [
        S(m(7), 0, 2, 1), S(m(3, 8), 1, 3, 2), S(m(4, 5), 0, 4, 1), S(m(()), 0, 1, 1),
        S(m(5, 4), 0, 2, 2, noncontig=True), S(m(4, 3), -1, 0, 1)],
        errors=lambda: [E(f64(np.ones(3)), 0, 4, 1, match="unfold.*size"),
                        E(f64(np.ones(3)), 0, 1, 0, match="unfold.*step")]),
    # -- gather/scatter family -------------------------------------------------------------------
    OpInfo("take", method("take"), dtypes=FI, grad_args=(0,), samples=lambda m: [
        S(m(3, 4), m.index((2, 3), 12)), S(m(3, 4), np.array([-1, 0, 5])),
        S(m(()), np.array([0])), S(m(3, 4), np.zeros(0, np.int64)),
        S(m(4, 3), np.array([[1, 11]]), noncontig=True)],
        errors=lambda: [E(f64(np.ones(3)), np.array([3]), exc=IndexError,
                          match="take.*out of range"),
                        E(f64(np.ones(3)), np.array([0], np.int32), match="take.*long")]),
    OpInfo("put", method("put"), dtypes=FI, samples=lambda m: [
        S(m(3, 4), np.array([0, 5, -1]), m(3)), S(m(3, 4), np.array([1, 1, 2]), m(3), True),
        S(m(2, 3), np.array([[0, 1]]), m(1, 2))],
        errors=lambda: [E(f64(np.ones(3)), np.array([3]), f64([1.0]), exc=IndexError,
                          match="put_.*out of range", names="put"),
                        E(f64(np.ones(3)), np.array([1, 2]), f64([1.0]), exc=IndexError,
                          match="put_.*same number", names="put")]),
    OpInfo("index_copy", method("index_copy"), dtypes=FI, samples=lambda m: [
        S(m(4, 3), 0, np.array([2, 0]), m(2, 3)), S(m(4, 3), 1, np.array([1]), m(4, 1)),
        S(m(5), 0, np.array([4, 1, 0]), m(3)), S(m(()), 0, np.array([0]), m(()))],
        errors=lambda: [
            E(f64(np.ones(3)), 0, np.array([5]), f64([1.0]), exc=IndexError,
              match="index_copy.*out of bounds"),
            E(f64(np.ones(3)), 0, np.array([0], np.int32), f64([1.0]), match="index_copy.*int64"),
            E(f64(np.ones(3)), 0, np.array([0, 1]), f64(np.ones(3)), exc=IndexError,
              match="index_copy.*Number of indices")]),
    OpInfo("index_put", method("index_put"), dtypes=FI, samples=lambda m: [
        S(m(3, 4), (np.array([0, 2]),), m(2, 4)),
        S(m(3, 4), (np.array([0, 2]), np.array([1, 1])), m(2)),
        S(m(3, 4), (np.array([0, 0, 1]),), m(4), True, name="accumulate broadcast"),
        S(m(3, 4), (m.mask(3, 4),), m(()), name="mask")]),
    OpInfo("masked_scatter", method("masked_scatter"), dtypes=FI, samples=lambda m: [
        S(m(3, 4), m.mask(3, 4), m(12)), S(m(3, 4), m.mask(4), m(20)),
        S(m(4), m.mask(3, 4), m(13), name="broadcast input"),
        S(m(2, 3), np.zeros((2, 3), bool), m(2), name="no ones")],
        errors=lambda: [E(f64(np.ones(3)), np.ones(3, bool), f64([1.0]),
                          match="masked_scatter.*source"),
                        E(f64(np.ones(3)), np.ones(3, np.int64), f64(np.ones(3)),
                          match="masked_scatter.*bool")]),
    *_all_reduce("scatter_reduce"),
    OpInfo("scatter_reduce", method("scatter_reduce"), samples=lambda m: [], errors=lambda: [
        E(f64(np.ones(3)), 0, np.array([0]), f64([1.0]), "foo", match="scatter_reduce.*reduce")]),
    *[info for info in _all_reduce("index_reduce") if "sum" not in info.name],
    # PyTorch's backward fails when src is larger than index (a shape error); ember's passes
    # gradcheck
    OpInfo("scatter_reduce_src_larger", method("scatter_reduce"), compare_grad=False,
           samples=lambda m: [S(m(3, 5), 1, m.index((3, 3), 5), m(3, 4), r, include_self=s)
                              for r in ("sum", "prod", "mean", "amax", "amin")
                              for s in (True, False)]),
    OpInfo("argwhere", method("argwhere"), grad=False, dtypes=("float32", "int64", "bool"),
           samples=lambda m: [S(m(3, 4, round=True)), S(m((), round=True)), S(m(0, 3))]),
    OpInfo("nonzero_static", fn("nonzero_static")[0], fn("nonzero_static")[1], grad=False,
           dtypes=FI, samples=lambda m: [S(m(3, 4, round=True), size=3),
                                         S(m(2, 3, round=True), size=8, fill_value=-5)]),
    OpInfo("unravel_index", fn("unravel_index")[0], fn("unravel_index")[1], grad=False,
           dtypes=("int64",), samples=lambda m: [
               S(np.array([4, -1, 7]), (2, 3)), S(np.array(5), (2, 3)),
               S(np.array([[3, 9]]), (4, 1, 5))],
           errors=lambda: [E(f64([1.0]), (2, 3), exc=TypeError, match="unravel_index.*integer"),
                           E(np.array([1]), (2, -3), exc=ValueError,
                             match="unravel_index.*negative")]),
    # -- scans and reductions --------------------------------------------------------------------
    *[OpInfo(op, method(op), dtypes=FI, samples=lambda m: [
        S(m.distinct(3, 5), 1), S(m.distinct(3, 5), 0), S(m(()), 0), S(m(0, 3), 1),
        S(m(3, 6, round=True), 1, name="ties", gradcheck=False),
        S(m.distinct(4, 3), 0, noncontig=True),
        *([S(f64([1.0, NAN, 2.0, NAN, 0.0]), 0, name="nan", gradcheck=False)]
          if m.dtype.startswith("float") else [])],
        errors=lambda op=op: [E(f64(np.ones(3)), 1, exc=IndexError, match=op)])
      for op in ("cummax", "cummin")],
    OpInfo("logcumsumexp", method("logcumsumexp"), samples=lambda m: [
        S(m(3, 4), 1), S(m(3, 4), 0), S(m(()), 0), S(m(0, 3), 1),
        S(f64([[1e3, -1e3, 0.0, 5.0]]), 1, name="wide", gradcheck=False),
        S(m(4, 3), -1, noncontig=True)],
        errors=lambda: [E(np.ones(3, np.int64), 0, exc=NotImplementedError,
                          match="logcumsumexp")]),
    OpInfo("aminmax", fn("aminmax")[0], fn("aminmax")[1], dtypes=FI, samples=lambda m: [
        S(m(3, 4)), S(m(3, 4), dim=1), S(m(3, 4), dim=0, keepdim=True), S(m(3, 4), keepdim=True),
        S(m(()))],
        errors=lambda: [E(f64(np.ones((0, 3))), match="aminmax.*empty")]),
    OpInfo("sum_to_size", method("sum_to_size"), samples=lambda m: [
        S(m(2, 3, 4), (3, 1)), S(m(2, 3), (1, 3)), S(m(2, 3), 3)],
        errors=lambda: [E(f64(np.ones((2, 3))), (3, 3), match="sum_to_size.*expandable")]),
    # -- statistics ------------------------------------------------------------------------------
    OpInfo("median", method("median"), dtypes=FI, samples=lambda m: [
        S(m.distinct(3, 5)), S(m.distinct(3, 4)), S(m.distinct(3, 5), 1),
        S(m.distinct(3, 4), 0, True), S(m(())), S(m(()), 0),
        *([S(f64([1.0, NAN, 2.0, NAN]), name="nan", gradcheck=False),
           S(f64([[1.0, NAN, 2.0], [3.0, 0.0, 1.0]]), 1, name="nan dim", gradcheck=False),
           S(m(0, 3), name="empty")] if m.dtype.startswith("float") else [])],
        errors=lambda: [E(f64(np.ones((0, 3))), 0, exc=IndexError, match="median")]),
    OpInfo("nanmedian", method("nanmedian"), samples=lambda m: [
        S(m.distinct(3, 5), 1), S(m.distinct(3, 5)),
        S(f64([[NAN, NAN, 1.0], [2.0, NAN, 0.0], [NAN, NAN, NAN], [3.0, 1.0, 2.0]]), 1,
          name="nans", gradcheck=False),
        S(f64([1.0, NAN, 2.0, NAN, 5.0]), name="nan all", gradcheck=False)]),
    OpInfo("kthvalue", method("kthvalue"), dtypes=FI, samples=lambda m: [
        S(m.distinct(3, 5), 2), S(m.distinct(3, 5), 1, 0), S(m.distinct(3, 5), 5, -1, True),
        S(m(()), 1)],
        errors=lambda: [E(f64(np.ones(3)), 4, match="kthvalue.*out of range")]),
    OpInfo("mode", method("mode"), dtypes=FI, samples=lambda m: [
        S(m(3, 7, low=-2, high=2, round=True), 1, gradcheck=False),
        S(m(6, 3, low=-2, high=2, round=True), 0, True, gradcheck=False),
        S(m(5, low=-1, high=1, round=True), gradcheck=False), S(m(())),
        S(m.distinct(2, 4), 1, name="all unique")],
        errors=lambda: [E(f64(np.ones((0, 2))), 0, exc=IndexError, match="mode")]),
    OpInfo("msort", method("msort"), dtypes=FI, samples=lambda m: [S(m.distinct(4, 3))]),
    *[OpInfo(op, fn(op)[0], fn(op)[1], grad_args=(0,), samples=lambda m, op=op: [
        S(m(3, 5), 0.3), S(m(3, 5), f64([0.1, 0.5, 1.0])), S(m(3, 5), 0.5, 1, True),
        S(m(3, 5), f64([0.2, 0.7]), 0, keepdim=True), S(m(2, 3), 0.4, keepdim=True),
        *[S(m(3, 6), 0.45, 1, interpolation=i, name=i)
          for i in ("lower", "higher", "midpoint", "nearest")],
        S(m(()), 0.5), S(m(()), 0.5, 0),
        S(f64([[1.0, NAN, 3.0, 2.0], [NAN, NAN, NAN, NAN], [4.0, 0.0, 1.0, 2.0]]),
          f64([0.25, 0.5]), 1, name="nan", gradcheck=False)],
        errors=lambda op=op: [
            E(f64(np.ones(3)), 1.5, match=f"{op}.*range"),
            E(np.ones(3, np.int64), 0.5, match=f"{op}.*float"),
            E(f64(np.ones(3)), 0.5, interpolation="foo", match=f"{op}.*interpolation"),
            E(f64(np.zeros(0)), 0.5, match=f"{op}.*non-empty")])
      for op in ("quantile", "nanquantile")],
    OpInfo("cov", fn("cov")[0], fn("cov")[1], samples=lambda m: [
        S(m(3, 5)), S(m(5)), S(m(3, 5), correction=0),
        S(m(2, 4), fweights=np.array([1, 2, 0, 3])),
        S(m(2, 4), fweights=np.array([1, 2, 1, 3]), aweights=m(4, low=0.5, high=2.0)),
        S(m(2, 4), correction=2, aweights=m(4, low=0.5, high=2.0))],
        errors=lambda: [E(f64(np.ones((2, 2, 2))), match="cov.*two or fewer"),
                        E(f64(np.ones((2, 3))), fweights=f64([1.0, 2.0, 3.0]),
                          match="cov.*integral"),
                        E(f64(np.ones((2, 3))), aweights=f64([1.0, 2.0]), match="cov.*numel")]),
    OpInfo("corrcoef", fn("corrcoef")[0], fn("corrcoef")[1], dtypes=FI,
           samples=lambda m: [S(m(3, 5)), S(m(4)), S(m(2, 6), noncontig=True)]),
    OpInfo("histc", fn("histc")[0], fn("histc")[1], grad=False, samples=lambda m: [
        S(m(20)), S(m(4, 5), 5, -1.0, 1.0), S(f64([2.0, 2.0]), 3), S(m(0), 4)],
        errors=lambda: [E(np.ones(3, np.int64), exc=NotImplementedError, match="histc"),
                        E(f64(np.ones(3)), -1, match="histc.*bins"),
                        E(f64(np.ones(3)), 3, 2.0, 1.0, match="histc.*max")]),
    OpInfo("histogram", fn("histogram")[0], fn("histogram")[1], grad=False, samples=lambda m: [
        S(m(20), 4), S(m(20), 5, range=(-1.0, 1.0)), S(m(20), f64([-3.0, -1.0, 0.0, 2.0, 3.5])),
        S(m(4, 5), 4, weight=m(4, 5), density=True), S(f64([2.0, 2.0]), 3), S(m(0), 3)],
        errors=lambda: [E(np.ones(3, np.int64), 2, exc=NotImplementedError, match="histogram")]),
    # -- products, norms, integrals --------------------------------------------------------------
    OpInfo("addr", fn("addr")[0], fn("addr")[1], samples=lambda m: [
        S(m(3, 4), m(3), m(4)), S(m(4), m(3), m(4), beta=0.5, alpha=2)]),
    OpInfo("baddbmm", fn("baddbmm")[0], fn("baddbmm")[1], samples=lambda m: [
        S(m(2, 3, 5), m(2, 3, 4), m(2, 4, 5), beta=0.5, alpha=2), S(m(5), m(2, 3, 4),
                                                                    m(2, 4, 5))]),
    OpInfo("addbmm", fn("addbmm")[0], fn("addbmm")[1], samples=lambda m: [
        S(m(3, 5), m(2, 3, 4), m(2, 4, 5)), S(m(3, 5), m(2, 3, 4), m(2, 4, 5), beta=0, alpha=3)]),
    OpInfo("ger", fn("ger")[0], fn("ger")[1], samples=lambda m: [S(m(3), m(4))]),
    OpInfo("vdot", fn("vdot")[0], fn("vdot")[1], samples=lambda m: [S(m(4), m(4))],
           errors=lambda: [E(f64(np.ones((2, 2))), f64(np.ones(2)), match="vdot.*1D")]),
    OpInfo("dist", fn("dist")[0], fn("dist")[1], samples=lambda m: [
        S(m(3, 4), m(3, 4)), S(m(3, 4), m(4), 1), S(m(3, 4), m(3, 4), 3),
        S(m(3, 4), m(3, 4), INF, gradcheck=False)]),
    OpInfo("renorm", method("renorm"), samples=lambda m: [
        S(m(3, 4), 2, 0, 1.0), S(m(3, 4), 1, 1, 0.5), S(m(2, 3, 4), 3, 2, 2.0),
        S(m(3, 4), 2, 0, 100.0, name="nothing to scale")],
        errors=lambda: [E(f64(np.ones((3, 2))), 2, 3, 1.0, exc=IndexError, match="renorm"),
                        E(f64(np.ones((3, 2))), -1, 0, 1.0, match="renorm.*non-positive"),
                        E(f64(np.ones((3, 2))), 2, 0, -1.0, match="renorm.*maxnorm"),
                        E(f64(np.ones(3)), 2, 0, 1.0, match="renorm.*2 dimensions")]),
    # PyTorch's vander has no working backward (its in-place writes trip its version check)
    OpInfo("vander", fn("vander")[0], fn("vander")[1], dtypes=FI, compare_grad=False,
           samples=lambda m: [
        S(m(4)), S(m(3), 5, True), S(m(3), 0), S(m(3), 1)]),
    OpInfo("trapezoid", fn("trapezoid")[0], fn("trapezoid")[1], dtypes=FI, samples=lambda m: [
        S(m(5)), S(m(3, 5), m(3, 5)), S(m(3, 5), dx=0.5, dim=0), S(m(4, 3), m(4), dim=0),
        S(m(0))],
        errors=lambda: [E(f64(2.0), exc=IndexError, match="trapezoid")]),
    OpInfo("trapz", fn("trapz")[0], fn("trapz")[1], samples=lambda m: [
        S(m(3, 5), m(5)), S(m(3, 5), dx=2.0)]),
    OpInfo("cumulative_trapezoid", fn("cumulative_trapezoid")[0], fn("cumulative_trapezoid")[1],
           dtypes=FI, samples=lambda m: [S(m(5)), S(m(3, 5), m(3, 5)),
                                         S(m(4, 3), m(4), dim=0), S(m(3, 4), dx=0.5)]),
    OpInfo("gradient", fn("gradient")[0], fn("gradient")[1], dtypes=FI, samples=lambda m: [
        S(m(6)), S(m(4, 5), spacing=2.0), S(m(4, 5), dim=1, edge_order=2),
        S(m(4, 5), spacing=(0.5, 3.0), edge_order=2),
        *([S(m(4, 5), spacing=[f64([0.0, 0.5, 1.5, 1.75, 3.0])], dim=1, name="coordinates"),
           S(m(3, 4), spacing=[f64([-1.0, 0.0, 2.0])], dim=0, edge_order=2,
             name="coordinates order 2")] if m.dtype.startswith("float") else [])],
        errors=lambda: [E(f64(np.ones(2)), edge_order=2, match="gradient.*edge_order"),
                        E(f64(np.ones(3)), edge_order=3, match="gradient.*edge_order")]),
    OpInfo("block_diag", fn("block_diag")[0], fn("block_diag")[1], dtypes=FI,
           samples=lambda m: [S(m(2, 2), m(3), m(())), S(m(1, 3), m(2, 1)), S(m(0, 2), m(2))],
           errors=lambda: [E(f64(np.ones((2, 2, 2))), match="block_diag.*2 or fewer")]),
    OpInfo("cartesian_prod", fn("cartesian_prod")[0], fn("cartesian_prod")[1], dtypes=FI,
           samples=lambda m: [S(m(2), m(3)), S(m(3), m(2), m(2)), S(m(3))],
           errors=lambda: [E(f64(np.ones((2, 2))), f64(np.ones(2)),
                             match="cartesian_prod.*1D")]),
    OpInfo("combinations", fn("combinations")[0], fn("combinations")[1], dtypes=FI,
           samples=lambda m: [S(m(4)), S(m(4), 3), S(m(3), 2, True), S(m(3), 4), S(m(3), 0)],
           errors=lambda: [E(f64(np.ones((2, 2))), match="combinations.*1D")]),
    OpInfo("unique_consecutive", fn("unique_consecutive")[0], fn("unique_consecutive")[1],
           grad=False, dtypes=FI, samples=lambda m: [
               S(m(12, low=-1, high=1, round=True)),
               S(m(3, 4, low=-1, high=1, round=True), return_inverse=True, return_counts=True),
               S(m(5, 3, low=0, high=1, round=True), return_inverse=True, return_counts=True,
                 dim=0),
               S(m(0), return_counts=True)]),
    # -- composite functions bound as methods ----------------------------------------------------
    OpInfo("bincount_method", method("bincount"), grad=False, dtypes=("int64",),
           samples=lambda m: [S(np.array([0, 3, 3, 1]), minlength=6)]),
    OpInfo("unique_method", method("unique"), grad=False, dtypes=FI,
           samples=lambda m: [S(m(3, 4, round=True), return_counts=True)]),
    OpInfo("diff_method", method("diff"), samples=lambda m: [S(m(3, 5), 2, 0)]),
    OpInfo("kron_method", method("kron"), samples=lambda m: [S(m(2, 3), m(2, 2))]),
    OpInfo("cross_method", method("cross"), samples=lambda m: [S(m(4, 3), m(4, 3), dim=1)]),
    OpInfo("mv_method", method("mv"), samples=lambda m: [S(m(3, 4), m(4))]),
    OpInfo("addmm_method", method("addmm"), samples=lambda m: [S(m(3), m(3, 4), m(4, 3))]),
    OpInfo("addmv_method", method("addmv"), samples=lambda m: [S(m(3), m(3, 4), m(4))]),
    OpInfo("inner_method", method("inner"), samples=lambda m: [S(m(3, 4), m(2, 4))]),
    OpInfo("repeat_interleave_method", method("repeat_interleave"),
           samples=lambda m: [S(m(2, 3), 2, 1)]),
    OpInfo("logaddexp_method", method("logaddexp"), samples=lambda m: [S(m(3, 4), m(4))]),
    OpInfo("nanmean_method", method("nanmean"),
           samples=lambda m: [S(f64([[1.0, NAN], [2.0, 3.0]]), 1, gradcheck=False)]),
    # -- in-place variants (on a clone, so the gradient reaches the original) -------------------
    OpInfo("cumsum_", inplace("cumsum_"), samples=lambda m: [S(m(3, 4), 1), S(m(3, 4), 0)]),
    OpInfo("cumprod_", inplace("cumprod_"), double_grad=False,  # as cumprod
           samples=lambda m: [S(m(3, 4), 1)]),
    OpInfo("tril_", inplace("tril_"), samples=lambda m: [S(m(4, 4), 1)]),
    OpInfo("triu_", inplace("triu_"), samples=lambda m: [S(m(3, 4), -1)]),
    OpInfo("fill_diagonal_", inplace("fill_diagonal_"), grad_args=(0,), samples=lambda m: [
        S(m(3, 3), 2.0), S(m(7, 3), 0.5, True), S(m(7, 3), 0.5), S(m(3, 5), -1.0),
        S(m(3, 3, 3), 1.0)],
        errors=lambda: [E(f64(np.ones((3, 3, 2))), 1.0, match="fill_diagonal_")]),
    OpInfo("renorm_", inplace("renorm_"), samples=lambda m: [S(m(3, 4), 2, 0, 1.0)]),
    OpInfo("index_copy_", inplace("index_copy_"),
           samples=lambda m: [S(m(4, 3), 0, np.array([2, 0]), m(2, 3))]),
    OpInfo("index_put_", inplace("index_put_"), samples=lambda m: [
        S(m(3, 4), (np.array([0, 2]),), m(2, 4)),
        S(m(3, 4), (np.array([1, 1]), np.array([0, 0])), m(2), True)]),
    OpInfo("index_reduce_", inplace("index_reduce_"), samples=lambda m: [
        S(m(4, 3), 0, np.array([0, 2, 0]), m(3, 3), "amax")]),
    OpInfo("scatter_reduce_", inplace("scatter_reduce_"), samples=lambda m: [
        S(m(3, 4), 0, m.index((4, 4), 3), m(4, 4), "prod", include_self=False)]),
    OpInfo("put_", inplace("put_"), samples=lambda m: [S(m(3, 4), np.array([0, 5]), m(2))]),
    OpInfo("masked_scatter_", inplace("masked_scatter_"),
           samples=lambda m: [S(m(3, 4), m.mask(3, 4), m(12))]),
    OpInfo("addmm_", inplace("addmm_"), samples=lambda m: [
        S(m(3, 3), m(3, 4), m(4, 3), beta=0.5, alpha=2)]),
    OpInfo("addmv_", inplace("addmv_"), samples=lambda m: [S(m(3), m(3, 4), m(4))]),
    OpInfo("addr_", inplace("addr_"), samples=lambda m: [S(m(3, 4), m(3), m(4), alpha=2)]),
    OpInfo("baddbmm_", inplace("baddbmm_"), samples=lambda m: [
        S(m(2, 3, 5), m(2, 3, 4), m(2, 4, 5))]),
    OpInfo("addbmm_", inplace("addbmm_"), samples=lambda m: [S(m(3, 5), m(2, 3, 4), m(2, 4, 5))]),
    *[OpInfo(name, inplace(name), samples=gen) for name, gen in [
        ("t_", lambda m: [S(m(3, 4)), S(m(4))]),
        ("transpose_", lambda m: [S(m(2, 3, 4), 0, 2)]),
        ("swapdims_", lambda m: [S(m(2, 3), 0, 1)]),
        ("swapaxes_", lambda m: [S(m(2, 3), 1, 0)]),
        ("squeeze_", lambda m: [S(m(3, 1, 4)), S(m(3, 1, 4), 1)]),
        ("unsqueeze_", lambda m: [S(m(3, 4), -1)]),
        ("as_strided_", lambda m: [S(m(4, 3), (2, 2), (3, 1), 1)])]],
]


# -- the harness of test_ops, over OPS --------------------------------------------------------
def _samples(info: OpInfo, dtype: str) -> list[SampleInput]:
    return info.samples(Maker(dtype, zlib.crc32(f"{info.name}/{dtype}".encode())))


def _cases():
    for info in OPS:
        for dtype in info.dtypes:
            for i, sample in enumerate(_samples(info, dtype)):
                yield pytest.param(info, dtype, i, id=f"{info.name}-{dtype}-{i}-{sample.name}")


def _arrays(values):
    for v in values:
        if isinstance(v, np.ndarray):
            yield v
        elif isinstance(v, (list, tuple)):
            yield from _arrays(v)


def _float_leaves(sample: SampleInput):
    return [a for a in _arrays(list(sample.args) + list(sample.kwargs.values()))
            if a.dtype == np.float64]


def _gradcheck_cases():
    for info in OPS:
        if info.grad and info.gradcheck:
            picked = [i for i, s in enumerate(_samples(info, "float64")) if s.gradcheck and
                      (sizes := [a.size for a in _float_leaves(s)]) and 0 not in sizes and
                      sum(sizes) <= 40][:2]
            for i in picked:
                yield pytest.param(info, i, id=f"{info.name}-{i}")


def _double_cases():
    for info in OPS:
        if info.grad and info.compare_grad and info.double_grad:
            picked = [i for i, s in enumerate(_samples(info, "float32")) if s.gradcheck][:1]
            for i in picked:
                yield pytest.param(info, i, id=f"{info.name}-{i}")


def _error_cases():
    for info in OPS:
        for i, err in enumerate(info.errors()):
            yield pytest.param(info, err, id=f"{info.name}-{i}")


@needs_torch
@pytest.mark.parametrize("info, dtype, index", list(_cases()))
def test_forward_and_grad_match_torch(info: OpInfo, dtype: str, index: int):
    sample = _samples(info, dtype)[index]
    e_build = _Builder(ember, dtype, info, sample, grad=True)
    t_build = _Builder(torch, dtype, info, sample, grad=True)
    e_args, e_kwargs = e_build.args()
    t_args, t_kwargs = t_build.args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cov's degrees of freedom, as torch's
        t_out = (info.ref or info.op)(*t_args, **t_kwargs)
        e_out = info.op(*e_args, **e_kwargs)
    _compare(e_out, t_out, info.atol, info.rtol, "forward")
    if not info.compare_grad:
        return
    t_diff = [t for t in _flatten(t_out) if isinstance(t, torch.Tensor) and t.requires_grad]
    e_diff = [e for e in _flatten(e_out) if isinstance(e, ember.Tensor) and e.requires_grad]
    assert len(e_diff) == len(t_diff), "which outputs require grad differs from torch"
    if not t_diff:
        return
    rng = np.random.default_rng(1)
    weights = [rng.standard_normal(tuple(t.shape)).astype(dtype) for t in t_diff]
    sum((t * torch.from_numpy(w)).sum() for t, w in zip(t_diff, weights)).backward()
    sum((e * ember.from_numpy(w)).sum() for e, w in zip(e_diff, weights)).backward()
    for k, (e, t) in enumerate(zip(e_build.leaves, t_build.leaves)):
        t_grad = np.zeros(tuple(t.shape), dtype) if t.grad is None else t.grad.numpy()
        e_grad = np.zeros(tuple(e.shape), dtype) if e.grad is None else _to_numpy(e.grad)
        np.testing.assert_allclose(e_grad, t_grad, atol=info.grad_atol, rtol=info.grad_rtol,
                                   err_msg=f"gradient of input {k}")


@needs_torch
@pytest.mark.parametrize("info, index", list(_double_cases()))
def test_double_backward_matches_torch(info: OpInfo, index: int):
    sample = _samples(info, "float32")[index]
    theirs = _second_order(torch, info, sample)
    ours = _second_order(ember, info, sample)
    if theirs is None:
        return
    for k, (e, t) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(e, t, atol=info.grad_atol * 10, rtol=info.grad_rtol * 10,
                                   err_msg=f"second derivative w.r.t. input {k}")


@pytest.mark.parametrize("info, index", list(_gradcheck_cases()))
def test_gradcheck(info: OpInfo, index: int):
    sample = _samples(info, "float64")[index]
    leaves = _Builder(ember, "float64", info, sample, grad=True)
    leaves.args()

    def func(*xs):
        args, kwargs = _Builder(ember, "float64", info, sample, grad=True, leaves=xs).args()
        return tuple(o for o in _flatten(info.op(*args, **kwargs))
                     if isinstance(o, ember.Tensor) and o.dtype.is_floating_point)

    assert ember.autograd.gradcheck(func, tuple(leaves.leaves), eps=1e-6, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("info, err", list(_error_cases()))
def test_error_inputs(info: OpInfo, err):
    sample = SampleInput(err.args, err.kwargs)
    args, kwargs = _Builder(ember, "float32", info, sample, grad=False).args()
    with pytest.raises(err.exc, match=err.match) as caught:
        info.op(*args, **kwargs)
    named = (err.names or info.name.split("_method")[0]).rstrip("_")
    assert named.lower() in str(caught.value).lower(), f"the message should name {named!r}"
    if torch is not None:
        t_args, t_kwargs = _Builder(torch, "float32", info, sample, grad=False).args()
        with pytest.raises(err.torch_exc or err.exc):
            (info.ref or info.op)(*t_args, **t_kwargs)


# -- views share memory and the version counter with their base -------------------------------
_VIEWS = {
    "tensor_split": lambda lib, x: lib.tensor_split(x, 2, 1)[1],
    "hsplit": lambda lib, x: x.hsplit(2)[0],
    "vsplit": lambda lib, x: x.vsplit([1])[1],
    "split_with_sizes": lambda lib, x: x.split_with_sizes([1, 2])[1],
    "select": lambda lib, x: x.select(1, 2),
    "as_strided": lambda lib, x: x.as_strided((2, 2), (1, 4), 1),
    "as_strided of a view": lambda lib, x: x[1:].as_strided((2, 3), (4, 1)),
    "unfold": lambda lib, x: x.unfold(1, 2, 2),
    "ravel": lambda lib, x: x.ravel(),
    "swapdims": lambda lib, x: x.swapdims(0, 1),
}


@needs_torch
@pytest.mark.parametrize("name", sorted(_VIEWS))
def test_writes_through_a_view_reach_the_base(name):
    ours, theirs = ember.arange(12.0).reshape(3, 4), torch.arange(12.0).reshape(3, 4)
    e_view, t_view = _VIEWS[name](ember, ours), _VIEWS[name](torch, theirs)
    np.testing.assert_array_equal(e_view.numpy(), t_view.numpy())
    before = ours._version
    e_view.mul_(-1)
    t_view.mul_(-1)
    assert ours._version == e_view._version > before
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@needs_torch
@pytest.mark.parametrize("name", ["select", "as_strided", "as_strided of a view",
                                  "tensor_split", "swapdims"])
def test_in_place_write_into_a_view_keeps_gradients_right(name):
    grads = []
    for lib in (ember, torch):
        x = lib.tensor(np.arange(12.0).reshape(3, 4) / 7, requires_grad=True)
        y = x * 1
        view = _VIEWS[name](lib, y)
        view.mul_(lib.tensor(np.linspace(-1, 2, view.numel()).reshape(tuple(view.shape))))
        # gradients of y that are broadcast and transposed, not laid out as y is
        (y.sum() + (y.t() * lib.tensor(np.arange(12.0).reshape(4, 3))).sum()).backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1])


# -- in-place view ops: t_, transpose_, squeeze_, unsqueeze_, as_strided_ --------------------------
def test_in_place_view_op_on_a_leaf_that_requires_grad_raises_unless_no_grad():
    x = ember.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x.t_()
    with ember.no_grad():
        assert x.transpose_(0, 1) is x
    assert x.shape == (3, 2) and x.requires_grad and x._version == 1


@needs_torch
def test_in_place_view_op_on_a_view_moves_its_base_and_gradient():
    results = []
    for lib in (ember, torch):
        x = lib.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
        y = x * 1
        v = y[:2]
        v.t_()
        v.unsqueeze_(0).squeeze_(0)
        v.mul_(lib.tensor(np.arange(8.0).reshape(4, 2)))
        assert tuple(v.shape) == (4, 2) and v.stride() == (1, 4)
        y.sum().backward()
        results.append((y.detach().numpy(), x.grad.numpy()))
    for e, t in zip(*results):
        np.testing.assert_allclose(e, t)


def test_in_place_view_op_invalidates_saved_tensors_as_in_pytorch():
    x = ember.ones(2, 3, requires_grad=True)
    y = x * 2
    z = y * y
    y.t_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


# -- creation and dtype helpers ------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("args", [(3, 4), (3, 4, -1), (4, 3, 1), (0, 3), (3, 3, 5), (5, 2, -3)])
@pytest.mark.parametrize("name", ["tril_indices", "triu_indices"])
def test_triangle_indices_match_torch(name, args):
    ours = getattr(ember, name)(*args)
    theirs = getattr(torch, name)(*args)
    assert ours.dtype == ember.int64 and tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert getattr(ember, name)(3, 3, dtype=ember.int32).dtype == ember.int32


_WINDOWS = [("hann_window", {}), ("hamming_window", {}), ("hamming_window", {"alpha": 0.5,
                                                                            "beta": 0.3}),
            ("blackman_window", {}), ("bartlett_window", {}), ("kaiser_window", {}),
            ("kaiser_window", {"beta": 3.5}), ("kaiser_window", {"beta": 0.0})]


@needs_torch
@pytest.mark.parametrize("name, kwargs", _WINDOWS)
def test_windows_match_torch(name, kwargs):
    for length in (0, 1, 2, 5, 8):
        for periodic in (True, False):
            for dtype in ("float32", "float64"):
                ours = getattr(ember, name)(length, periodic, dtype=getattr(ember, dtype),
                                            **kwargs)
                theirs = getattr(torch, name)(length, periodic, dtype=getattr(torch, dtype),
                                              **kwargs)
                assert str(ours.dtype).split(".")[-1] == dtype
                np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)
    assert getattr(ember, name)(4).dtype == ember.get_default_dtype()
    assert getattr(ember, name)(4, requires_grad=True).requires_grad
    with pytest.raises(RuntimeError, match=f"{name}.*floating"):
        getattr(ember, name)(4, dtype=ember.int64)
    with pytest.raises(RuntimeError, match=f"{name}.*non-negative"):
        getattr(ember, name)(-1)


@needs_torch
def test_range_scalar_tensor_and_strided_creation_match_torch():
    with pytest.warns(UserWarning, match="deprecated"):
        r = ember.range(1, 4, 0.5)
    np.testing.assert_array_equal(r.numpy(), torch.range(1, 4, 0.5).numpy())
    with pytest.warns(UserWarning):
        assert ember.range(0, 3).dtype == ember.float32
        assert ember.range(0, 3, dtype=ember.int64).tolist() == [0, 1, 2, 3]
    s = ember.scalar_tensor(3)
    assert s.shape == () and s.dtype == ember.float32 and s.item() == 3.0
    assert ember.scalar_tensor(2, dtype=ember.int64).dtype == ember.int64
    e = ember.empty_strided((2, 3), (1, 2))
    assert e.shape == (2, 3) and e.stride() == torch.empty_strided((2, 3), (1, 2)).stride()
    n = ember.ones(2, dtype=ember.int32).new_empty_strided((3, 2), (1, 3))
    assert n.stride() == (1, 3) and n.dtype == ember.int32
    x = ember.zeros(2, dtype=ember.int32)
    assert x.new((2, 3)).tolist() == [2, 3] and x.new((2, 3)).dtype == ember.int32
    assert x.new(2, 3).shape == (2, 3) and x.new().shape == (0,)
    assert x.new(ember.Size([4])).shape == (4,)


@needs_torch
def test_finfo_and_iinfo_match_torch():
    for name in ("float16", "float32", "float64"):
        ours, theirs = ember.finfo(getattr(ember, name)), torch.finfo(getattr(torch, name))
        for field in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution",
                      "dtype"):
            assert getattr(ours, field) == getattr(theirs, field), (name, field)
    assert ember.finfo().eps == torch.finfo().eps
    for name in ("uint8", "int8", "int16", "int32", "int64"):
        ours, theirs = ember.iinfo(getattr(ember, name)), torch.iinfo(getattr(torch, name))
        assert (ours.bits, ours.max, ours.min, ours.dtype) == \
            (theirs.bits, theirs.max, theirs.min, theirs.dtype)
    with pytest.raises(TypeError, match="finfo"):
        ember.finfo(ember.int32)
    with pytest.raises(TypeError, match="iinfo"):
        ember.iinfo(ember.float32)


_DTYPES = ("bool", "uint8", "int8", "int32", "int64", "float16", "float32", "float64")


@needs_torch
def test_result_type_and_can_cast_match_torch():
    for a in _DTYPES:
        for b in _DTYPES:
            ea, eb = getattr(ember, a), getattr(ember, b)
            ta, tb = getattr(torch, a), getattr(torch, b)
            assert ember.can_cast(ea, eb) == torch.can_cast(ta, tb), (a, b)
            ours = ember.result_type(ember.ones(2, dtype=ea), ember.ones((), dtype=eb))
            theirs = torch.result_type(torch.ones(2, dtype=ta), torch.ones((), dtype=tb))
            assert ours.name == str(theirs).split(".")[-1], (a, b)
        for scalar in (2, 2.5, True):
            ours = ember.result_type(ember.ones(2, dtype=getattr(ember, a)), scalar)
            theirs = torch.result_type(torch.ones(2, dtype=getattr(torch, a)), scalar)
            assert ours.name == str(theirs).split(".")[-1], (a, scalar)


@needs_torch
def test_predicates_and_broadcast_shapes_match_torch():
    for name in _DTYPES:
        assert ember.ones(1, dtype=getattr(ember, name)).is_signed() == \
            torch.ones(1, dtype=getattr(torch, name)).is_signed()
    assert ember.is_nonzero(ember.tensor([0.5])) and not ember.tensor(0).is_nonzero()
    for bad in (ember.ones(2), ember.ones(0)):
        with pytest.raises(RuntimeError, match="is_nonzero.*ambiguous"):
            bad.is_nonzero()
    assert ember.is_same_size(ember.ones(2, 3), ember.zeros(2, 3))
    assert not ember.ones(2, 3).is_same_size(ember.ones(3, 2))
    for shapes in [((2, 1), (3,), 1), ((0, 1), (4,)), ((),), ((5, 1, 3), (4, 1))]:
        assert tuple(ember.broadcast_shapes(*shapes)) == tuple(torch.broadcast_shapes(*shapes))
    with pytest.raises(RuntimeError, match="broadcast_shapes"):
        ember.broadcast_shapes((2,), (3,))


def test_num_threads_are_ember_threads_and_can_be_set():
    from ember.backend import threads
    before = ember.get_num_threads()
    assert before == threads.THREADS
    try:
        ember.set_num_threads(1)
        assert ember.get_num_threads() == 1
        x = ember.randn(300, 300)
        np.testing.assert_allclose(x.sum(1).numpy(), x.numpy().sum(1), rtol=1e-5)
    finally:
        ember.set_num_threads(before)
    with pytest.raises(RuntimeError, match="set_num_threads"):
        ember.set_num_threads(0)


# -- on the (fake) cuda device: results stay there, with the CPU's values -------------------------


_DEVICE_OPS = {
    "cummax": lambda lib, x: lib.cummax(x, 1),
    "logcumsumexp": lambda lib, x: lib.logcumsumexp(x, 0),
    "scatter_reduce prod": lambda lib, x: x.scatter_reduce(
        0, lib.tensor([[0, 1, 0, 2], [0, 0, 1, 2], [2, 2, 2, 0]], device=x.device), x, "prod"),
    "scatter_reduce amin": lambda lib, x: x.scatter_reduce(
        1, lib.tensor([[0, 0, 1, 1]] * 3, device=x.device), x * 2, "amin", include_self=False),
    "index_reduce mean": lambda lib, x: x.index_reduce(
        0, lib.tensor([2, 2, 0], device=x.device), x * 3, "mean"),
    "quantile": lambda lib, x: lib.quantile(x, lib.tensor([0.2, 0.9], device=x.device), 1),
    "nanmedian": lambda lib, x: lib.nanmedian(x, 0),
    "median": lambda lib, x: x.median(),
    "mode": lambda lib, x: lib.mode(x.round(), 1),
    "kthvalue": lambda lib, x: lib.kthvalue(x, 2, 0),
    "cov": lambda lib, x: lib.cov(x),
    "corrcoef": lambda lib, x: lib.corrcoef(x),
    "histc": lambda lib, x: lib.histc(x, 5),
    "histogram": lambda lib, x: lib.histogram(x, 4, weight=x * x),
    "as_strided": lambda lib, x: x.as_strided((2, 3), (1, 2), 1),
    "unfold": lambda lib, x: x.unfold(1, 2, 1),
    "tensor_split": lambda lib, x: lib.tensor_split(x, 2, 1),
    "take": lambda lib, x: lib.take(x, lib.tensor([0, -1, 5], device=x.device)),
    "put accumulate": lambda lib, x: x.put(lib.tensor([1, 1], device=x.device), x[0, :2], True),
    "masked_scatter": lambda lib, x: x.masked_scatter(x > 0, -x),
    "index_copy": lambda lib, x: x.index_copy(1, lib.tensor([3, 0], device=x.device), x[:, :2]),
    "diag_embed": lambda lib, x: lib.diag_embed(x, 1),
    "diagonal_scatter": lambda lib, x: lib.diagonal_scatter(x, x[0, :3]),
    "fill_diagonal_": lambda lib, x: x.clone().fill_diagonal_(5.0, wrap=True),
    "rot90": lambda lib, x: lib.rot90(x, 1),
    "block_diag": lambda lib, x: lib.block_diag(x, x[0]),
    "vander": lambda lib, x: lib.vander(x[0], 3),
    "combinations": lambda lib, x: lib.combinations(x[0], 2),
    "trapezoid": lambda lib, x: lib.trapezoid(x, x * 2, dim=0),
    "renorm": lambda lib, x: x.renorm(2, 0, 1.0),
    "unique_consecutive": lambda lib, x: lib.unique_consecutive(x.round(), return_counts=True),
    "aminmax": lambda lib, x: lib.aminmax(x, dim=0),
    "select_scatter": lambda lib, x: lib.select_scatter(x, x[1], 0, 2),
    "argwhere": lambda lib, x: lib.argwhere(x > 0),
    "unravel_index": lambda lib, x: lib.unravel_index(lib.tensor([5, 7], device=x.device),
                                                      (3, 4)),
}


@pytest.mark.parametrize("name", sorted(_DEVICE_OPS))
def test_ops_stay_on_the_device_with_the_cpu_values(fake_cuda, name):
    x = ember.tensor(np.random.default_rng(3).standard_normal((3, 4)).astype(np.float32) * 2)
    on_cpu = _flatten(_DEVICE_OPS[name](ember, x))
    on_gpu = _flatten(_DEVICE_OPS[name](ember, x.cuda()))
    for c, g in zip(on_cpu, on_gpu):
        assert g.device == ember.device("cuda", 0) and g.dtype == c.dtype
        np.testing.assert_allclose(g.cpu().numpy(), c.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["cummax", "logcumsumexp", "scatter_reduce prod",
                                  "scatter_reduce amin", "as_strided", "unfold", "quantile"])
def test_gradients_stay_on_the_device_with_the_cpu_values(fake_cuda, name):
    data = np.random.default_rng(4).standard_normal((3, 4)).astype(np.float32)
    grads = []
    for device in ("cpu", "cuda"):
        x = ember.tensor(data, device=device, requires_grad=True)
        outs = [o for o in _flatten(_DEVICE_OPS[name](ember, x)) if o.requires_grad]
        sum((o * o).sum() for o in outs).backward()
        grads.append(x.grad)
    assert grads[1].device == ember.device("cuda", 0)
    np.testing.assert_allclose(grads[1].cpu().numpy(), grads[0].numpy(), rtol=1e-5, atol=1e-6)


def test_creation_helpers_make_tensors_on_the_device(fake_cuda):
    for t in (ember.hann_window(5, device="cuda"), ember.kaiser_window(6, device="cuda"),
              ember.tril_indices(3, 4, device="cuda"), ember.empty_strided((2, 2), (1, 2),
                                                                           device="cuda"),
              ember.scalar_tensor(2.0, device="cuda")):
        assert t.device == ember.device("cuda", 0)
    np.testing.assert_allclose(ember.kaiser_window(6, device="cuda").cpu().numpy(),
                               ember.kaiser_window(6).numpy(), rtol=1e-6)

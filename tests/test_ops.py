"""Every op of tests/op_db.py: forward values, gradients and result dtypes against PyTorch
(float32; skipped without torch), gradcheck in float64 (always), and error inputs."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import ember
from op_db import Maker, OpInfo, SampleInput, op_db

try:
    import torch
except ImportError:  # the parity tests skip; gradcheck and errors still run
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


# -- building arguments ---------------------------------------------------------------------------
class _Builder:
    """Turns a sample's plain data into tensors of one library (ember or torch)."""

    def __init__(self, lib, dtype: str, info: OpInfo, sample: SampleInput, grad: bool,
                 leaves=None):
        self.lib, self.dtype, self.info, self.sample = lib, dtype, info, sample
        self.grad = grad and info.grad and dtype.startswith("float")
        self.given = iter(leaves) if leaves is not None else None
        self.leaves = []

    def args(self):
        args = tuple(self.convert(a, i) for i, a in enumerate(self.sample.args))
        kwargs = {k: self.convert(v, None) for k, v in self.sample.kwargs.items()}
        return args, kwargs

    def convert(self, value, position):
        if isinstance(value, np.ndarray):
            return self.tensor(value, position)
        if isinstance(value, (list, tuple)) and any(isinstance(v, np.ndarray) for v in value):
            return type(value)(self.convert(v, position) for v in value)
        return value

    def tensor(self, value, position):
        is_data = value.dtype == np.float64
        array = value.astype(self.dtype) if is_data else value
        differentiable = is_data and self.grad and (
            self.info.grad_args is None or position in self.info.grad_args)
        noncontig = self.sample.noncontig and is_data
        if noncontig and array.ndim >= 2:
            storage = np.ascontiguousarray(array.T)
        elif noncontig and array.ndim == 1:
            storage = np.repeat(array, 2)
        else:
            storage = np.array(array, order="C")  # ascontiguousarray would make 0-d 1-d
        if differentiable and self.given is not None:
            base = next(self.given)
        else:
            base = self.lib.from_numpy(storage.copy())
            if differentiable:
                base.requires_grad_(True)
        if differentiable:
            self.leaves.append(base)
        if noncontig and array.ndim >= 2:
            return base.permute(*reversed(range(array.ndim)))
        if noncontig and array.ndim == 1:
            return base[::2]
        return base


def _flatten(out):
    if isinstance(out, (tuple, list)):
        return [o for item in out for o in _flatten(item)]
    return [out]


def _dtype_name(t) -> str:
    return str(t.dtype).split(".")[-1]


def _to_numpy(t):
    if isinstance(t, ember.Tensor):
        return np.asarray(t.detach().numpy())
    return t.detach().numpy(force=True)  # force: PyTorch's ZeroTensor gradients


def _compare(e_out, t_out, atol, rtol, what):
    e_flat, t_flat = _flatten(e_out), _flatten(t_out)
    assert len(e_flat) == len(t_flat), f"{what}: {len(e_flat)} outputs vs torch's {len(t_flat)}"
    for k, (e, t) in enumerate(zip(e_flat, t_flat)):
        if not isinstance(t, torch.Tensor):
            assert not isinstance(e, ember.Tensor) and e == t, f"{what}[{k}]: {e!r} != {t!r}"
            continue
        assert isinstance(e, ember.Tensor), f"{what}[{k}]: got {type(e).__name__}"
        assert tuple(e.shape) == tuple(t.shape), f"{what}[{k}]: shape {e.shape} vs {t.shape}"
        assert _dtype_name(e) == _dtype_name(t), f"{what}[{k}]: dtype {e.dtype} vs {t.dtype}"
        np.testing.assert_allclose(_to_numpy(e), _to_numpy(t), atol=atol, rtol=rtol,
                                   equal_nan=True, err_msg=f"{what}[{k}]")


# -- parametrisation ------------------------------------------------------------------------------
def _samples(info: OpInfo, dtype: str) -> list[SampleInput]:
    return info.samples(Maker(dtype, zlib.crc32(f"{info.name}/{dtype}".encode())))


def _cases():
    for info in op_db:
        for dtype in info.dtypes:
            for i, sample in enumerate(_samples(info, dtype)):
                label = sample.name or f"s{i}"
                yield pytest.param(info, dtype, i, id=f"{info.name}-{dtype}-{i}-{label}")


def _gradcheck_cases():
    for info in op_db:
        if not info.grad or not info.gradcheck:
            continue
        done = 0
        for i, sample in enumerate(_samples(info, "float64")):
            sizes = [a.size for a in _arrays(sample.args) if a.dtype == np.float64]
            if sample.gradcheck and sizes and 0 not in sizes and sum(sizes) <= 40 and done < 3:
                done += 1
                yield pytest.param(info, i, id=f"{info.name}-{i}-{sample.name or 's'}")


def _arrays(values):
    for v in values:
        if isinstance(v, np.ndarray):
            yield v
        elif isinstance(v, (list, tuple)):
            yield from _arrays(v)


def _error_cases():
    for info in op_db:
        for i, err in enumerate(info.errors()):
            yield pytest.param(info, err, id=f"{info.name}-{i}")


# -- tests ----------------------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("info, dtype, index", list(_cases()))
def test_forward_and_grad_match_torch(info: OpInfo, dtype: str, index: int):
    sample = _samples(info, dtype)[index]
    e_build = _Builder(ember, dtype, info, sample, grad=True)
    t_build = _Builder(torch, dtype, info, sample, grad=True)
    e_args, e_kwargs = e_build.args()
    t_args, t_kwargs = t_build.args()
    ref = info.ref or info.op
    t_out = ref(*t_args, **t_kwargs)
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
    sum(( t * torch.from_numpy(w)).sum() for t, w in zip(t_diff, weights)).backward()
    sum((e * ember.from_numpy(w)).sum() for e, w in zip(e_diff, weights)).backward()
    for k, (e, t) in enumerate(zip(e_build.leaves, t_build.leaves)):
        t_grad = np.zeros(tuple(t.shape), dtype) if t.grad is None else t.grad.numpy()
        e_grad = np.zeros(tuple(e.shape), dtype) if e.grad is None else _to_numpy(e.grad)
        assert e.grad is None or _dtype_name(e.grad) == dtype
        np.testing.assert_allclose(e_grad, t_grad, atol=info.grad_atol, rtol=info.grad_rtol,
                                   err_msg=f"gradient of input {k}")


def _double_cases():
    for info in op_db:
        if not (info.grad and info.compare_grad and info.double_grad):
            continue
        samples = _samples(info, "float32")
        picked = [i for i, smp in enumerate(samples) if smp.gradcheck][:2]
        for i in picked:
            yield pytest.param(info, i, id=f"{info.name}-{i}-{samples[i].name or 's'}")


def _second_order(lib, info, sample):
    """Leaves' gradients of sum(w2 * d(sum(w1 * op))/d(leaves)), computed with create_graph."""
    build = _Builder(lib, "float32", info, sample, grad=True)
    args, kwargs = build.args()
    outs = [o for o in _flatten(info.op(*args, **kwargs) if lib is ember else
                                (info.ref or info.op)(*args, **kwargs))
            if isinstance(o, (ember.Tensor, torch.Tensor)) and o.requires_grad]
    if not outs or not build.leaves:
        return None
    rng = np.random.default_rng(2)
    as_tensor = ember.from_numpy if lib is ember else torch.from_numpy
    autograd = ember.autograd if lib is ember else torch.autograd
    loss = sum((o * as_tensor(rng.standard_normal(tuple(o.shape)).astype("float32"))).sum()
               for o in outs)
    firsts = autograd.grad(loss, build.leaves, create_graph=True, allow_unused=True)
    terms = [(g * as_tensor(rng.standard_normal(tuple(g.shape)).astype("float32"))).sum()
             for g in firsts if g is not None and g.requires_grad]
    if not terms:
        return [np.zeros(tuple(x.shape), np.float32) for x in build.leaves]
    seconds = autograd.grad(sum(terms), build.leaves, allow_unused=True)
    return [np.zeros(tuple(x.shape), np.float32) if g is None else _to_numpy(g)
            for g, x in zip(seconds, build.leaves)]


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
        return tuple(_flatten(info.op(*args, **kwargs)))

    assert ember.autograd.gradcheck(func, tuple(leaves.leaves), eps=1e-6, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("info, err", list(_error_cases()))
def test_error_inputs(info: OpInfo, err):
    sample = SampleInput(err.args, err.kwargs)
    args, kwargs = _Builder(ember, "float32", info, sample, grad=False).args()
    with pytest.raises(err.exc, match=err.match) as caught:
        info.op(*args, **kwargs)
    named = err.names or info.name
    assert named.lower() in str(caught.value).lower(), f"the message should name {named!r}"
    if torch is not None:
        t_args, t_kwargs = _Builder(torch, "float32", info, sample, grad=False).args()
        with pytest.raises(err.torch_exc or err.exc):
            (info.ref or info.op)(*t_args, **t_kwargs)


def test_every_issue_op_has_an_entry():
    names = {info.name for info in op_db}
    wanted = """add sub mul div floor_divide remainder pow neg abs sign exp log log1p expm1 sqrt
        rsqrt sin cos tanh sigmoid relu clamp minimum maximum where lerp eq ne lt le gt ge
        logical_and logical_or logical_not matmul mm bmm dot outer einsum sum mean prod max min
        amax amin argmax argmin var std norm logsumexp all any cumsum reshape view flatten
        unflatten squeeze unsqueeze transpose permute t T mT expand expand_as repeat tile flip
        roll cat stack split chunk unbind narrow pad getitem setitem gather scatter scatter_add
        index_select masked_fill masked_select take_along_dim nonzero topk sort argsort one_hot
        index_fill index_add add_ sub_ mul_ div_ clamp_ copy_""".split()
    assert not [n for n in wanted if n not in names]

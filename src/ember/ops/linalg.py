"""matmul, the one BLAS primitive, and what is composed from it (mm, bmm, dot, outer);
einsum, a primitive whose backward is made of einsums."""
from __future__ import annotations

from .. import _checks, backend, dtypes
from ..amp import _policy as _amp
from ..autograd.function import Function
from ..tensor import Tensor


class MatMul(Function):
    """Batched matmul of operands with at least 2 dims; batch dims broadcast."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a._data @ b._data

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        # batch broadcasting is undone by the engine; complex operands are conjugated
        if grad._data.dtype.kind == "c":
            return (grad @ b.mH if need_a else None, a.mH @ grad if need_b else None)
        return (grad @ b.mT if need_a else None, a.mT @ grad if need_b else None)


def _check(op, a, b):
    _checks.tensor_type(op, "input", a)
    _checks.tensor_type(op, "other", b)
    x, y = a._data, b._data
    if type(x) is not type(y):
        _checks.same_device(op, x, y)
    if x.ndim == 0 or y.ndim == 0:
        raise RuntimeError(f"{op}: both arguments need at least 1 dimension, got input "
                           f"{tuple(x.shape)} and other {tuple(y.shape)}")
    k1 = x.shape[-1]
    k2 = y.shape[-2] if y.ndim > 1 else y.shape[0]
    if k1 != k2:
        raise RuntimeError(f"{op}: inner dimensions differ: input {tuple(x.shape)} vs other "
                           f"{tuple(y.shape)} ({k1} != {k2})")
    if x.dtype != y.dtype:
        raise RuntimeError(f"{op}: expected both operands to have the same dtype, but got input "
                           f"{dtypes.from_numpy(x.dtype).name} and other "
                           f"{dtypes.from_numpy(y.dtype).name}")
    try:
        import numpy as np
        np.broadcast_shapes(x.shape[:-2], y.shape[:-2])
    except ValueError:
        raise RuntimeError(f"{op}: batch dimensions cannot be broadcast: input {tuple(x.shape)} vs "
                           f"other {tuple(y.shape)}") from None


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Matrix product with NumPy's rules: 1-D operands are vectors, batch dims broadcast."""
    if _amp.on and _amp.applies("matmul", input, other):
        return _amp.run("matmul", matmul, input, other)
    return _matmul("matmul", input, other)


def _matmul(op: str, input: Tensor, other: Tensor) -> Tensor:
    _check(op, input, other)
    a1, b1 = input._data.ndim == 1, other._data.ndim == 1
    if a1 and b1:
        return MatMul.apply(input.reshape(1, -1), other.reshape(-1, 1)).reshape(())
    if a1:
        return MatMul.apply(input.unsqueeze(0), other).squeeze(-2)
    if b1:
        return MatMul.apply(input, other.unsqueeze(-1)).squeeze(-1)
    return MatMul.apply(input, other)


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """(n, m) @ (m, p)."""
    if _amp.on and _amp.applies("mm", input, mat2):
        return _amp.run("mm", mm, input, mat2)
    _checks.tensor_type("mm", "input", input)
    _checks.tensor_type("mm", "mat2", mat2)
    if input.dim() != 2 or mat2.dim() != 2:
        raise RuntimeError(f"mm: expected 2-D tensors, got input {tuple(input.shape)} and mat2 "
                           f"{tuple(mat2.shape)}")
    return _matmul("mm", input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """(b, n, m) @ (b, m, p) with equal batch sizes."""
    if _amp.on and _amp.applies("bmm", input, mat2):
        return _amp.run("bmm", bmm, input, mat2)
    _checks.tensor_type("bmm", "input", input)
    _checks.tensor_type("bmm", "mat2", mat2)
    if input.dim() != 3 or mat2.dim() != 3:
        raise RuntimeError(f"bmm: expected 3-D tensors, got input {tuple(input.shape)} and mat2 "
                           f"{tuple(mat2.shape)}")
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm: batch sizes differ: input {tuple(input.shape)} vs mat2 "
                           f"{tuple(mat2.shape)}")
    return _matmul("bmm", input, mat2)


def dot(input: Tensor, other: Tensor) -> Tensor:
    """Inner product of two 1-D tensors."""
    if _amp.on and _amp.applies("dot", input, other):
        return _amp.run("dot", dot, input, other)
    _checks.tensor_type("dot", "input", input)
    _checks.tensor_type("dot", "other", other)
    if input.dim() != 1 or other.dim() != 1:
        raise RuntimeError(f"dot: 1D tensors expected, but got {input.dim()}D and "
                           f"{other.dim()}D tensors")
    return _matmul("dot", input, other)


inner = dot


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """input[i] * vec2[j]."""
    _checks.tensor_type("outer", "input", input)
    _checks.tensor_type("outer", "vec2", vec2)
    if input.dim() != 1 or vec2.dim() != 1:
        raise RuntimeError(f"outer: 1D tensors expected, got {input.dim()}D and {vec2.dim()}D")
    if input._data.dtype != vec2._data.dtype:
        raise RuntimeError(f"outer: expected both vectors to have the same dtype, but got "
                           f"input {_checks.describe(input)} and vec2 {_checks.describe(vec2)}")
    return input.unsqueeze(1) * vec2.unsqueeze(0)


ger = outer


# -- einsum -------------------------------------------------------------------------------------
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _einsum_parse(equation: str, shapes: list) -> tuple[list, str]:
    """Input subscripts (ellipses spelled out as letters) and the explicit output subscripts."""
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) > len(shapes):
        raise RuntimeError(f"einsum(): fewer operands were provided than specified in the "
                           f"equation '{equation}' ({len(shapes)} given, {len(terms)} needed)")
    if len(terms) < len(shapes):
        raise RuntimeError(f"einsum(): more operands were provided than specified in the "
                           f"equation '{equation}' ({len(shapes)} given, {len(terms)} needed)")
    for i, ch in enumerate(eq):
        if ch not in _LETTERS and ch not in ".,->":
            raise RuntimeError(f"einsum(): invalid subscript given at index {i} in the equation "
                               f"string '{equation}', subscripts must be in [a-zA-Z]")
    fresh = iter(c for c in _LETTERS if c not in eq)
    ell_dims = [len(s) - len(t.replace("...", "")) for t, s in zip(terms, shapes) if "..." in t]
    ell = "".join(next(fresh) for _ in range(max(ell_dims, default=0)))
    spelled = []
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        if "..." in term:
            k = len(shape) - len(term.replace("...", ""))
            if k < 0:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                                   f"({len(term) - 3}) is more than the number of dimensions "
                                   f"({len(shape)}) for operand {i}")
            term = term.replace("...", ell[len(ell) - k:])
        if "." in term or len(term) != len(shape):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(term)}) "
                               f"does not match the number of dimensions ({len(shape)}) for "
                               f"operand {i} and no ellipsis was given")
        spelled.append(term)
    letters = "".join(spelled)
    if arrow:
        out = out.replace("...", ell)
        for c in out:
            if c not in letters:
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the "
                                   f"equation for any input operand ('{equation}')")
            if out.count(c) > 1:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in "
                                   f"the output ('{equation}')")
    else:
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and
                                   c not in ell))
    sizes = {}
    for i, (term, shape) in enumerate(zip(spelled, shapes)):
        for c, n in zip(term, shape):
            seen = sizes.get(c, 1)
            if n != 1 and seen != 1 and n != seen:
                raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {i} which "
                                   f"does not broadcast with previously seen size {seen}")
            sizes[c] = max(seen, n)
    return spelled, out


class Einsum(Function):
    @staticmethod
    def forward(ctx, equation, terms, out, *operands):
        ctx.save_for_backward(*operands)
        ctx.terms, ctx.out = terms, out
        arrays = [t._data for t in operands]
        xp = backend.xp_of(arrays[0])
        return xp.einsum(equation, *arrays, optimize=len(arrays) > 2)

    @staticmethod
    def backward(ctx, grad):
        operands = ctx.saved_tensors
        grads = [None, None, None]
        for i, need in enumerate(ctx.needs_input_grad[3:]):
            grads.append(_einsum_grad(grad, i, ctx.terms, ctx.out, operands) if need else None)
        return tuple(grads)


def _einsum_grad(grad, i, terms, out, operands):
    """d(einsum)/d(operand i): an einsum of the gradient with the other operands."""
    term, own = terms[i], operands[i]
    others = [j for j in range(len(terms)) if j != i]
    available = set(out).union(*(terms[j] for j in others))
    unique = "".join(dict.fromkeys(term))
    kept = "".join(c for c in unique if c in available)
    spec = ",".join([out] + [terms[j] for j in others]) + "->" + kept
    g = einsum(spec, grad, *(operands[j].conj() for j in others))  # conj: no-op for reals
    shape = dict(zip(term, own.shape))
    if kept != unique:
        # indices summed within this operand alone: the gradient is constant along them
        g = g.reshape([g.shape[kept.index(c)] if c in kept else 1 for c in unique])
    # size-1 gradient dims (summed-out letters, broadcast ones) take this operand's size
    target = [shape[c] if g.shape[k] == 1 else g.shape[k] for k, c in enumerate(unique)]
    if list(g.shape) != target:
        g = g.expand(target)
    if unique != term:
        g = _undiagonal(g, unique, term, own)
    return g


def _undiagonal(g, unique, term, own):
    """Spreads the gradient of a repeated index (``ii``) onto the diagonal, via identities."""
    from ..creation import eye
    fresh = iter(c for c in _LETTERS if c not in term)
    renamed, seen, eyes, specs = [], set(), [], []
    for c, n in zip(term, own.shape):
        if c in seen:
            f = next(fresh)
            renamed.append(f)
            specs.append(c + f)
            eyes.append(eye(n, dtype=g.dtype, device=g.device))
        else:
            seen.add(c)
            renamed.append(c)
    return einsum(",".join([unique] + specs) + "->" + "".join(renamed), g, *eyes)


def einsum(equation: str, *operands) -> Tensor:
    """Sums of products of the operands' elements named by subscripts, as numpy.einsum.

    Supports ellipses, implicit output, broadcasting of size-1 dims and repeated subscripts.

    Example:
        >>> a, b = ember.randn(2, 3), ember.randn(3, 4)
        >>> ember.einsum("ij,jk->ik", a, b).shape
        ember.Size([2, 4])
    """
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): the first argument must be the equation string, got "
                        f"{type(equation).__name__}")
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if _amp.on and _amp.applies("einsum", *operands):
        return _amp.run("einsum", einsum, equation, *operands)
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")

    for i, t in enumerate(operands):
        _checks.tensor_type("einsum", f"operands[{i}]", t)
    first = operands[0]._data
    for i, t in enumerate(operands[1:], 1):
        if type(t._data) is not type(first):
            _checks.same_device("einsum", first, t._data)
        if t._data.dtype != first.dtype:
            raise RuntimeError(f"einsum(): expected all operands to have the same dtype, got "
                               f"operand 0 {_checks.describe(operands[0])} and operand {i} "
                               f"{_checks.describe(t)}; cast with .to()")
    terms, out = _einsum_parse(equation, [t._data.shape for t in operands])
    canonical = ",".join(terms) + "->" + out
    return Einsum.apply(canonical, tuple(terms), out, *operands)

"""vmap: map a function over a dimension of its inputs, by looping and stacking.

ember has no batched tensors, so ``vmap(f)(x)`` calls ``f`` once per index of the mapped
dimension on ``x.select(in_dim, i)`` and stacks the results along ``out_dims``. The results
are those of torch.func.vmap; the speed is that of a Python loop. Stacking is an ember op, so
vmap composes with the gradient transforms both ways (``vmap(grad(f))``, ``grad(vmap(f))``).
"""
from __future__ import annotations

import functools

from .. import random as _random
from ..ops.elementwise import equal
from ..ops.movement import stack
from ..tensor import Tensor
from ._pytree import broadcast_prefix, tree_flatten, tree_unflatten
from ._transforms import _check_randomness


def vmap(func, in_dims=0, out_dims=0, randomness: str = "error", *, chunk_size=None):
    """Vectorises ``func`` over a dimension of its inputs.

    Args:
        func: a function of Tensors (and other values) returning Tensors or nested tuples,
            lists or dicts of them.
        in_dims: the mapped dim of each positional argument: an int (all arguments), None
            (not mapped) or a tuple with one entry per argument, each an int, None or a
            structure matching that argument's. Keyword arguments are never mapped.
        out_dims: where the mapped dim goes in each output (int, None or a structure).
        randomness: "error" (random ops inside func raise), "different" (each sample draws
            its own numbers) or "same" (every sample sees the same numbers).
        chunk_size: accepted for compatibility; ember always loops one sample at a time.

    Example:
        >>> ember.func.vmap(ember.dot)(a, b)             # row-wise dot products of (B, N) a, b
        >>> per_sample = ember.func.vmap(ember.func.grad(loss), in_dims=(None, 0, 0))
        >>> grads = per_sample(params, x, y)              # one gradient per row of x
    """
    _check_randomness(randomness)
    name = getattr(func, "__name__", repr(func))

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        leaves, spec = tree_flatten(args)
        dims = _leaf_in_dims(in_dims, args, leaves, name)
        size = _batch_size(leaves, dims)
        outputs = []
        rng = _Randomness(randomness)
        for i in range(size):
            sliced = [leaf if d is None else leaf.select(d, i) for leaf, d in zip(leaves, dims)]
            rng.before()
            outputs.append(func(*tree_unflatten(sliced, spec), **kwargs))
            rng.after()
        return _stack_outputs(outputs, out_dims, name)
    return wrapper


def _leaf_in_dims(in_dims, args, leaves, name: str) -> list:
    where = f"vmap({name}, in_dims={in_dims}, ...)(<inputs>)"
    if not (in_dims is None or isinstance(in_dims, (int, tuple))):
        raise ValueError(f"{where}: expected `in_dims` to be int or a (potentially nested) tuple "
                         f"matching the structure of inputs, got: {type(in_dims)}.")
    dims = broadcast_prefix(in_dims, args)
    if dims is None:
        raise ValueError(f"{where}: in_dims is not compatible with the structure of `inputs`. "
                         f"in_dims has structure {tree_flatten(in_dims)[1]} but inputs has "
                         f"structure {tree_flatten(args)[1]}.")
    for i, (leaf, d) in enumerate(zip(leaves, dims)):
        if d is None:
            continue
        if not isinstance(d, int) or isinstance(d, bool):
            raise ValueError(f"{where}: Got in_dim={d} for an input but in_dim must be either an "
                             "integer dimension or None.")
        if not isinstance(leaf, Tensor):
            raise ValueError(f"{where}: Got in_dim={d} for an input but the input is of type "
                             f"{type(leaf)}. We cannot vmap over non-Tensor arguments, please use "
                             "None as the respective in_dim")
        ndim = leaf.dim()
        if not -ndim <= d < ndim:
            raise ValueError(f"{where}: Got in_dim={d} for some input, but that input is a Tensor "
                             f"of dimensionality {ndim} so expected in_dim to satisfy "
                             f"-{ndim} <= in_dim < {ndim}.")
        dims[i] = d % ndim
    return dims


def _batch_size(leaves, dims) -> int:
    sizes = [leaf.shape[d] for leaf, d in zip(leaves, dims) if d is not None]
    if not sizes:
        raise ValueError("vmap: Expected at least one Tensor to vmap over")
    if any(s != sizes[0] for s in sizes):
        raise ValueError("vmap: Expected all tensors to have the same size in the mapped "
                         f"dimension, got sizes {sizes} for the mapped dimension")
    if sizes[0] == 0:
        raise ValueError("vmap: the mapped dimension has size 0; ember's vmap calls the function "
                         "once per sample and cannot infer the shape of its outputs")
    return sizes[0]


def _stack_outputs(outputs, out_dims, name: str):
    first, spec = tree_flatten(outputs[0])
    columns = [[leaf] for leaf in first]
    for out in outputs[1:]:
        leaves, other = tree_flatten(out)
        if other != spec:
            raise ValueError(f"vmap({name}, ...): `{name}` returned outputs of different "
                             f"structures for different samples: {spec} and {other}")
        for column, leaf in zip(columns, leaves):
            column.append(leaf)
    if not (out_dims is None or isinstance(out_dims, (int, tuple, list, dict))):
        raise ValueError(f"vmap({name}, ..., out_dims={out_dims}): `out_dims` must be an int, "
                         "None or a python collection of ints representing where in the outputs "
                         "the vmapped dimension should appear.")
    dims = broadcast_prefix(out_dims, outputs[0])
    if dims is None:
        raise ValueError(f"vmap({name}, ..., out_dims={out_dims})(<inputs>): out_dims is not "
                         "compatible with the structure of `outputs`. out_dims has structure "
                         f"{tree_flatten(out_dims)[1]} but outputs has structure {spec}.")
    return tree_unflatten([_stack_column(c, d, name) for c, d in zip(columns, dims)], spec)


def _stack_column(column, dim, name: str):
    if dim is None:
        head = column[0]
        if isinstance(head, Tensor) and not all(equal(head, t) for t in column[1:]):
            raise ValueError(f"vmap({name}, ...): `{name}` can not return a BatchedTensor when "
                             "out_dim is None")
        return head
    for leaf in column:
        if not isinstance(leaf, Tensor):
            raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got type "
                             f"{type(leaf)}. Did you mean to set out_dims= to None for output?")
    return stack(column, dim)


class _Randomness:
    """Enforces vmap's randomness mode around each call of the function."""

    def __init__(self, mode: str):
        self.mode = mode
        self.start = _rng_states() if mode == "same" else None

    def before(self) -> None:
        if self.mode == "error":
            self.snapshot = _rng_fingerprint()
        elif self.mode == "same":
            _set_rng_states(self.start)

    def after(self) -> None:
        if self.mode == "error" and _rng_fingerprint() != self.snapshot:
            raise RuntimeError("vmap: called random operation while in randomness error mode. "
                               "Please either use the 'same' or 'different' randomness flags on "
                               "vmap or perform the randomness operation out of vmap")


def _rng_fingerprint():
    """Something that changes whenever a default generator draws."""
    cpu = _random.default_generator
    cuda = tuple((i, g._seed, g._offset) for i, g in _random._cuda_generators.items())
    return id(cpu._np), cpu._np.bit_generator.state, cuda


def _rng_states() -> list:
    gens = [_random.default_generator, *_random._cuda_generators.values()]
    return [(g, g.get_state()) for g in gens]


def _set_rng_states(states) -> None:
    for gen, state in states:
        gen.set_state(state)

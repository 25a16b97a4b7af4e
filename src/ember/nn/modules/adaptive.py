"""AdaptiveLogSoftmaxWithLoss: the softmax approximation of Grave et al. for large
vocabularies, with PyTorch's parameter layout (head, tail.i.0, tail.i.1)."""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ... import backend
from ...ops import indexing, movement
from ...ops import reduce as red
from ...tensor import Tensor
from .. import functional as F
from ..module import Module
from .container import ModuleList, Sequential
from .linear import Linear

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    """Log-softmax over ``n_classes`` split by frequency: a head for the classes below
    ``cutoffs[0]`` plus one entry per cluster, and per cluster a two-layer tail of width
    ``in_features // div_value ** (i + 1)``.

    Args:
        in_features: size of each input sample.
        n_classes: number of classes.
        cutoffs: increasing cluster boundaries in [1, n_classes - 1].
        div_value: shrink factor of each next cluster's projection.
        head_bias: whether the head has a bias.

    Shape:
        forward(input (N, in_features) or (in_features,), target (N,) or ()) ->
        (output: the target's log-probability (N,) or (), loss: mean of -output).

    Example::

        >>> asm = nn.AdaptiveLogSoftmaxWithLoss(16, 100, [10, 50])
        >>> out, loss = asm(ember.randn(4, 16), ember.tensor([1, 20, 60, 99]))
    """

    def __init__(self, in_features: int, n_classes: int, cutoffs, div_value: float = 4.0,
                 head_bias: bool = False, device=None, dtype=None) -> None:
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted "
                             "in an increasing order, where each value is between 1 and "
                             "n_classes-1")
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, device=device,
                           dtype=dtype)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hidden = int(in_features // (div_value ** (i + 1)))
            size = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(
                Linear(in_features, hidden, bias=False, device=device, dtype=dtype),
                Linear(hidden, size, bias=False, device=device, dtype=dtype)))

    def reset_parameters(self) -> None:
        self.head.reset_parameters()
        for to_hidden, to_output in self.tail:
            to_hidden.reset_parameters()
            to_output.reset_parameters()

    def forward(self, input_: Tensor, target_: Tensor) -> _ASMoutput:
        if target_.dim() == 1:
            if input_.shape[0] != target_.shape[0]:
                raise RuntimeError("Input and target should have the same size in the batch "
                                   "dimension.")
            if input_.dim() != 2:
                raise RuntimeError(f"1D target tensor expects 2D input tensors, but found "
                                   f"inputs with size {input_.shape}")
        elif target_.dim() == 0:
            if input_.dim() != 1:
                raise RuntimeError(f"0D target tensor expects 1D input tensors, but found "
                                   f"inputs with size {input_.shape}")
        else:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        batched = target_.dim() > 0
        input = input_ if batched else input_.unsqueeze(0)
        target = (target_ if batched else target_.unsqueeze(0))._data
        xp = backend.xp_of(target)
        output = Tensor._make(xp.zeros(target.shape[0], input._data.dtype))
        head_index = target.astype(np.int64)  # the head entry scored for each row
        used = 0
        bounds = [0] + self.cutoffs
        for i, (low, high) in enumerate(zip(bounds[:-1], bounds[1:])):
            rows = xp.nonzero((target >= low) & (target < high))[0]
            if rows.size == 0:
                continue
            used += int(rows.size)
            if i == 0:
                continue
            rows_t = Tensor._make(rows)
            cluster = F.log_softmax(self.tail[i - 1](indexing.index_select(input, 0, rows_t)),
                                    dim=1)
            relative = Tensor._make((target[rows] - low).astype(np.int64).reshape(-1, 1))
            local = indexing.gather(cluster, 1, relative).reshape(-1)
            output = indexing.index_add(output, 0, rows_t, local)
            head_index[rows] = self.shortlist_size + i - 1
        if used != target.shape[0]:
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but "
                               f"values in range [{int(target.min())}, {int(target.max())}] "
                               f"were found. ")
        head = F.log_softmax(self.head(input), dim=1)
        output = output + indexing.gather(head, 1, Tensor._make(head_index.reshape(-1, 1))) \
            .reshape(-1)
        loss = red.mean(-output)
        return _ASMoutput(output if batched else output.squeeze(0), loss)

    def _get_full_log_prob(self, input: Tensor, head_output: Tensor) -> Tensor:
        head = F.log_softmax(head_output, dim=1)
        parts = [head[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            cluster = F.log_softmax(self.tail[i](input), dim=1)
            parts.append(cluster + head[:, self.shortlist_size + i].unsqueeze(1))
        return movement.cat(parts, 1)

    def log_prob(self, input: Tensor) -> Tensor:
        """Log-probabilities of all classes: (N, in_features) -> (N, n_classes)."""
        return self._get_full_log_prob(input, self.head(input))

    def predict(self, input: Tensor) -> Tensor:
        """The most likely class of each row: (N, in_features) -> (N,), int64; the tails are
        evaluated only for rows whose head favours a cluster."""
        head_output = self.head(input)
        output = red.argmax(head_output, 1)._data
        xp = backend.xp_of(output)
        rows = xp.nonzero(output >= self.shortlist_size)[0]
        if rows.size == 0:
            return Tensor._make(output)
        rows_t = Tensor._make(rows)
        log_prob = self._get_full_log_prob(indexing.index_select(input, 0, rows_t),
                                           indexing.index_select(head_output, 0, rows_t))
        output = output.copy()
        output[rows] = red.argmax(log_prob, 1)._data
        return Tensor._make(output)

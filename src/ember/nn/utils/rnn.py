"""Variable-length sequences for the recurrent layers, as torch.nn.utils.rnn.

A PackedSequence holds the time steps of a batch of sequences sorted by decreasing length,
step by step: ``data`` is (sum of lengths, *), and ``batch_sizes[t]`` says how many sequences
are still running at step t. Packing and unpacking are made of differentiable ops.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ... import creation, dtypes
from ...ops import indexing, movement
from ...tensor import Tensor

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "pack_sequence"]


class PackedSequence(NamedTuple):
    """data (sum of lengths, *), batch_sizes (int64, per step), and the permutation that
    sorted the batch by length (None when it was sorted already)."""

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    def to(self, *args, **kwargs) -> PackedSequence:
        """The same sequence with ``data`` moved or cast (batch sizes stay on the CPU)."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        device = data.device

        def move(t):
            return None if t is None else t.to(device)
        return PackedSequence(data, self.batch_sizes, move(self.sorted_indices),
                              move(self.unsorted_indices))

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda


def _lengths(lengths) -> np.ndarray:
    values = lengths.cpu().numpy() if isinstance(lengths, Tensor) else np.asarray(lengths)
    return values.astype(np.int64).reshape(-1)


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Packs a padded (T, B, *) batch (B, T, * with ``batch_first``) of sequences of
    ``lengths``; unless ``enforce_sorted``, the batch is sorted by length first."""
    lengths = _lengths(lengths)
    if batch_first:
        input = input.transpose(0, 1)
    if lengths.size != input.shape[1]:
        raise ValueError(f"pack_padded_sequence: expected {input.shape[1]} lengths (one per "
                         f"sequence of the batch), got {lengths.size}")
    if lengths.size and (lengths.min() <= 0 or lengths.max() > input.shape[0]):
        raise RuntimeError(f"pack_padded_sequence: lengths must be in [1, {input.shape[0]}] "
                           f"(the padded length), got {lengths.tolist()}")
    sorted_indices = unsorted_indices = None
    if enforce_sorted:
        if (np.diff(lengths) > 0).any():
            raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True. You can pass `enforce_sorted=False` "
                               "to pack_padded_sequence and/or pack_sequence to sidestep this "
                               "requirement if you do not need ONNX exportability.")
    else:
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
        sorted_indices = _index(order, input)
        unsorted_indices = _index(np.argsort(order), input)
        input = indexing.index_select(input, 1, sorted_indices)
    batch_sizes = (lengths[None, :] > np.arange(lengths.max() if lengths.size else 0)[:, None])
    batch_sizes = batch_sizes.sum(1)
    data = movement.cat([input[t, :int(b)] for t, b in enumerate(batch_sizes)])
    return PackedSequence(data, Tensor._make(batch_sizes.astype(np.int64)), sorted_indices,
                          unsorted_indices)


def _index(order: np.ndarray, like: Tensor) -> Tensor:
    return creation.tensor(order.astype(np.int64), device=like.device)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0, total_length: int | None = None):
    """The inverse of pack_padded_sequence: (padded batch, lengths in the original order)."""
    data, batch_sizes = sequence.data, sequence.batch_sizes.numpy().astype(np.int64)
    steps = batch_sizes.size
    if total_length is not None and total_length < steps:
        raise ValueError(f"Expected total_length to be at least the length of the longest "
                         f"sequence in input, but got total_length={total_length} and max "
                         f"sequence length being {steps}")
    length = steps if total_length is None else total_length
    batch = int(batch_sizes[0]) if steps else 0
    rows, start = [], 0
    for t in range(length):
        b = int(batch_sizes[t]) if t < steps else 0
        row = data[start:start + b]
        start += b
        if b < batch:
            pad = creation.full((batch - b,) + tuple(data.shape[1:]), padding_value,
                                dtype=data.dtype, device=data.device)
            row = movement.cat([row, pad])
        rows.append(row)
    padded = movement.stack(rows)
    lengths = (batch_sizes[None, :] > np.arange(batch)[:, None]).sum(1)
    if sequence.unsorted_indices is not None:
        padded = indexing.index_select(padded, 1, sequence.unsorted_indices)
        lengths = lengths[sequence.unsorted_indices.cpu().numpy()]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, creation.tensor(lengths.astype(np.int64), dtype=dtypes.int64)


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stacks sequences (L_i, *) into one (max L, B, *) batch (B, max L, * with
    ``batch_first``), filling with ``padding_value`` on ``padding_side``."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got "
                         f"{padding_side}.")
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("pad_sequence: received an empty list of sequences")
    longest = max(s.shape[0] for s in sequences)
    rows = []
    for s in sequences:
        missing = longest - s.shape[0]
        if missing:
            pad = creation.full((missing,) + tuple(s.shape[1:]), padding_value, dtype=s.dtype,
                                device=s.device)
            s = movement.cat([s, pad] if padding_side == "right" else [pad, s])
        rows.append(s)
    return movement.stack(rows, 0 if batch_first else 1)


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Packs a list of (L_i, *) sequences (decreasing lengths unless not enforce_sorted)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)

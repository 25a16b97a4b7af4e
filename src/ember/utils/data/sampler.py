"""Samplers: the order (and batching) of the indices a DataLoader fetches.

Every random choice is drawn from an ember.Generator (the default one when ``generator`` is
None), so ``ember.manual_seed(s)`` makes shuffles reproducible.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Generic, TypeVar

import numpy as np

import ember
from ember import backend

T_co = TypeVar("T_co", covariant=True)

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler", "DistributedSampler"]

_CHUNK = 32  # with replacement, indices are drawn lazily this many at a time


def _draw_seed(generator: ember.Generator | None = None) -> int:
    """A non-negative 63-bit seed drawn from ``generator`` (or the default generator)."""
    return int(ember.randint(0, 2**63 - 1, (1,), generator=generator).item())


def _host(t: ember.Tensor) -> np.ndarray:
    return backend.of(t._data).to_numpy(t._data)


def _check_positive_int(name: str, value, owner: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{owner}: {name} should be a positive integer value, but got "
                         f"{name}={value!r}")


class Sampler(Generic[T_co]):
    """Base class: ``__iter__`` yields indices (or lists of indices for batch samplers).

    ``__len__`` is optional; the DataLoader's ``len()`` needs it.
    """

    def __init__(self, data_source: Sized | None = None) -> None:
        pass

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"{type(self).__name__} should implement __iter__")


class SequentialSampler(Sampler[int]):
    """Yields ``0, 1, ..., len(data_source) - 1``.

    Args:
        data_source: the dataset (only its length is used).
    """

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler[int]):
    """Yields the dataset's indices in random order.

    Args:
        data_source: the dataset (only its length is used).
        replacement: draw with replacement (each draw independent) instead of permuting.
        num_samples: how many indices per epoch; default ``len(data_source)``. Without
            replacement, more than the length gives several permutations back to back.
        generator: the ember.Generator to draw from. When None, every epoch seeds a fresh
            generator from the default one.

    Example:
        >>> list(RandomSampler(range(4), generator=ember.Generator().manual_seed(0)))
    """

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: int | None = None,
                 generator: ember.Generator | None = None) -> None:
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a boolean value, but got "
                            f"replacement={replacement!r}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        _check_positive_int("num_samples", self.num_samples, "RandomSampler")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        generator = self.generator
        if generator is None:
            generator = ember.Generator()
            generator.manual_seed(_draw_seed())
        if self.replacement:
            yield from self._with_replacement(n, generator)
            return
        for _ in range(self.num_samples // n):
            yield from ember.randperm(n, generator=generator).tolist()
        rest = self.num_samples % n
        if rest:
            yield from ember.randperm(n, generator=generator).tolist()[:rest]

    def _with_replacement(self, n: int, generator: ember.Generator) -> Iterator[int]:
        left = self.num_samples
        while left > 0:
            k = min(_CHUNK, left)
            yield from ember.randint(0, n, (k,), generator=generator).tolist()
            left -= k

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """Yields the given indices in random order.

    Args:
        indices: the indices to permute.
        generator: the ember.Generator to draw from (the default generator if None).
    """

    def __init__(self, indices: Sequence[int], generator: ember.Generator | None = None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        for i in ember.randperm(len(self.indices), generator=self.generator).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler[int]):
    """Yields indices ``0 .. len(weights) - 1`` drawn with probability proportional to weight.

    Args:
        weights: a 1-D sequence of non-negative weights (need not sum to one).
        num_samples: how many indices per epoch.
        replacement: draw with replacement; without it an index appears at most once, so
            ``num_samples`` may not exceed the number of non-zero weights.
        generator: the ember.Generator to draw from (the default generator if None).

    Example:
        >>> list(WeightedRandomSampler([0.1, 0.9, 0.4, 0.7, 3.0, 0.6], 5))   # e.g. [4, 4, 1, 4, 5]
    """

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator: ember.Generator | None = None) -> None:
        _check_positive_int("num_samples", num_samples, "WeightedRandomSampler")
        if not isinstance(replacement, bool):
            raise ValueError(f"WeightedRandomSampler: replacement should be a boolean value, "
                             f"but got replacement={replacement!r}")
        weights = ember.as_tensor(weights, dtype=ember.float64)
        if weights.dim() != 1:
            raise ValueError(f"WeightedRandomSampler: weights should be a 1d sequence but given "
                             f"weights have shape {tuple(weights.shape)}")
        self.weights = weights
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        w = _host(self.weights)
        self._check_weights(w)
        if self.replacement:
            # inverse CDF: u in [c[i-1], c[i]) picks i; zero weights give empty intervals
            cdf = np.cumsum(w)
            cdf /= cdf[-1]
            u = _host(ember.rand(self.num_samples, generator=self.generator, dtype=ember.float64))
            idx = np.minimum(np.searchsorted(cdf, u, side="right"), len(w) - 1)
        else:
            # Efraimidis-Spirakis: the k largest log(u) / w are a weighted sample without
            # replacement; zero weights get -inf and are never chosen
            u = _host(ember.rand(len(w), generator=self.generator, dtype=ember.float64))
            with np.errstate(divide="ignore"):
                keys = np.log(u) / w
            idx = np.argsort(-keys, kind="stable")[:self.num_samples]
        yield from idx.tolist()

    def _check_weights(self, w: np.ndarray) -> None:
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise RuntimeError("WeightedRandomSampler: invalid multinomial distribution "
                               "(encountering probability entry < 0, inf or nan)")
        if w.sum() <= 0:
            raise RuntimeError("WeightedRandomSampler: invalid multinomial distribution "
                               "(sum of probabilities <= 0)")
        if not self.replacement and self.num_samples > np.count_nonzero(w):
            raise RuntimeError(f"WeightedRandomSampler: cannot draw {self.num_samples} samples "
                               f"without replacement from {np.count_nonzero(w)} non-zero "
                               "weights; lower num_samples or set replacement=True")

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler[list[int]]):
    """Groups another sampler's indices into lists of ``batch_size``.

    Args:
        sampler: any iterable of indices.
        batch_size: indices per batch.
        drop_last: drop the last batch when it is smaller than ``batch_size``.

    Example:
        >>> list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=False))
        [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler: Sampler[int] | Iterable[int], batch_size: int,
                 drop_last: bool) -> None:
        _check_positive_int("batch_size", batch_size, "BatchSampler")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean value, but got "
                             f"drop_last={drop_last!r}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)


class DistributedSampler(Sampler[int]):
    """The share of the dataset's indices that one of ``num_replicas`` processes reads.

    Every replica shuffles the same way (a generator seeded with ``seed + epoch``), pads the
    index list by repeating it from the start until it divides evenly (or, with
    ``drop_last``, cuts the tail instead) and takes every ``num_replicas``-th index from
    ``rank``. So the replicas' shares are disjoint up to the padding and equally long. Call
    ``set_epoch`` before each epoch for a new order. ember has no process group, so
    ``num_replicas`` and ``rank`` must be given.

    Args:
        dataset: the dataset (only its length is used).
        num_replicas: how many processes share the data.
        rank: this process's index in [0, num_replicas).
        shuffle: permute the indices (the same permutation on every replica).
        seed: the shuffle's base seed; it must be the same on every replica.
        drop_last: drop the tail that does not divide evenly instead of padding.

    Example:
        >>> sampler = DistributedSampler(dataset, num_replicas=4, rank=0)
        >>> for epoch in range(epochs):
        ...     sampler.set_epoch(epoch)
        ...     for batch in DataLoader(dataset, sampler=sampler, batch_size=32): ...
    """

    def __init__(self, dataset: Sized, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            raise RuntimeError("DistributedSampler: ember has no distributed package; pass "
                               "num_replicas and rank explicitly")
        if isinstance(num_replicas, bool) or not isinstance(num_replicas, int) or \
                num_replicas <= 0:
            raise ValueError(f"DistributedSampler: num_replicas should be a positive integer, "
                             f"got {num_replicas!r}")
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = -(-(n - num_replicas) // num_replicas)  # ceil, tail dropped
        else:
            self.num_samples = -(-n // num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            generator = ember.Generator().manual_seed(self.seed + self.epoch)
            indices = ember.randperm(n, generator=generator).tolist()
        else:
            indices = list(range(n))
        if self.drop_last:
            indices = indices[:self.total_size]
        elif indices:
            padding = self.total_size - len(indices)
            indices += (indices * -(-padding // len(indices)))[:padding]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Sets the epoch, which (with ``seed``) picks the shuffle of the next iteration."""
        self.epoch = epoch

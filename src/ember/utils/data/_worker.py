"""What runs inside a DataLoader worker process, and the fetchers both sides share.

A worker takes ``(task_idx, indices)`` from its own index queue, fetches and collates that
batch, and puts ``(task_idx, batch)`` on the shared result queue. Errors travel back as an
``_ExceptionWrapper`` that the main process re-raises. ``None`` on the index queue ends the
worker; so does the death of the main process (checked every poll interval).
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.queues
import pickle
import queue
import random
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import ember

__all__ = ["WorkerInfo", "get_worker_info"]

POLL_INTERVAL = 0.1  # seconds between liveness checks while waiting on a queue

_worker_info: WorkerInfo | None = None


@dataclass(frozen=True)
class WorkerInfo:
    """What a DataLoader worker knows about itself (see :func:`get_worker_info`).

    Attributes:
        id: this worker's index, ``0 .. num_workers - 1``.
        num_workers: how many workers the loader runs.
        seed: the seed ember, ``random`` and NumPy were given in this worker.
        dataset: this worker's copy of the dataset.
    """

    id: int
    num_workers: int
    seed: int
    dataset: Any


def get_worker_info() -> WorkerInfo | None:
    """Inside a DataLoader worker process, its :class:`WorkerInfo`; in the main process None.

    Example (shard an IterableDataset across workers):
        >>> info = get_worker_info()
        >>> start = 0 if info is None else info.id   # then step by info.num_workers
    """
    return _worker_info


class _ExceptionWrapper:
    """An exception caught in a worker, carried to the main process as text."""

    def __init__(self, exc: BaseException, where: str) -> None:
        exc_type = type(exc)
        self.type_name = exc_type.__name__
        self.exc_type = exc_type if _picklable(exc_type) else None
        self.exc_msg = "".join(traceback.format_exception(exc_type, exc, exc.__traceback__))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.type_name} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = _KeyErrorMessage(msg)
        if self.exc_type is None:
            raise RuntimeError(msg)
        try:
            exc = self.exc_type(msg)
        except Exception:
            # the exception's constructor wants other arguments; keep the text at least
            raise RuntimeError(msg) from None
        raise exc


class _KeyErrorMessage(str):
    """KeyError shows repr() of its argument; this keeps the traceback readable."""

    def __repr__(self) -> str:
        return str(self)


def _picklable(obj) -> bool:
    try:
        pickle.dumps(obj)
    except Exception:
        return False
    return True


@dataclass(frozen=True)
class _IterableDatasetStopIteration:
    """A worker's IterableDataset is exhausted."""

    worker_id: int


@dataclass(frozen=True)
class _ResumeIteration:
    """Start a new epoch in a persistent worker (acknowledged with itself)."""


class _ResultQueue(multiprocessing.queues.Queue):
    """A result queue that reports a batch it cannot pickle instead of dropping it.

    mp.Queue pickles in a background thread and only prints a failure there; the main
    process would then wait forever for that batch.
    """

    def __init__(self, ctx) -> None:
        super().__init__(ctx=ctx)

    def _on_queue_feeder_error(self, e: Exception, obj) -> None:
        task_idx = obj[0] if isinstance(obj, tuple) and len(obj) == 2 else None
        where = "while sending a batch from a DataLoader worker process (is it picklable?)"
        self.put((task_idx, _ExceptionWrapper(e, where)))


# -- fetchers: turn one entry of the index sampler into a (collated) batch ------------------

class _MapFetcher:
    def __init__(self, dataset, auto_collation: bool, collate_fn: Callable, drop_last: bool,
                 transform: Callable | None) -> None:
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.transform = transform

    def fetch(self, index):
        if not self.auto_collation:
            sample = self.dataset[index]
            return self.collate_fn(sample if self.transform is None else self.transform(sample))
        getitems = getattr(self.dataset, "__getitems__", None)
        data = getitems(index) if callable(getitems) else [self.dataset[i] for i in index]
        if self.transform is not None:
            data = [self.transform(sample) for sample in data]
        return self.collate_fn(data)


class _IterableFetcher:
    def __init__(self, dataset, auto_collation: bool, collate_fn: Callable, drop_last: bool,
                 transform: Callable | None) -> None:
        self.dataset_iter = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.transform = transform
        self.ended = False

    def fetch(self, index):
        """Raises StopIteration when the stream has no (complete, if drop_last) batch left."""
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(self._next())
        data = []
        for _ in index:  # index is a list of placeholders: only its length matters
            try:
                data.append(self._next())
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(index)):
            raise StopIteration
        return self.collate_fn(data)

    def _next(self):
        sample = next(self.dataset_iter)
        return sample if self.transform is None else self.transform(sample)


def make_fetcher(iterable: bool, dataset, auto_collation: bool, collate_fn: Callable,
                 drop_last: bool, transform: Callable | None):
    cls = _IterableFetcher if iterable else _MapFetcher
    return cls(dataset, auto_collation, collate_fn, drop_last, transform)


# -- the worker process -------------------------------------------------------------------

def _seed_worker(base_seed: int, worker_id: int) -> int:
    """Seeds ember, ``random`` and NumPy's global RNG differently in every worker."""
    seed = base_seed + worker_id
    random.seed(seed)
    ember.manual_seed(seed)
    entropy = [worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32]
    np.random.seed(np.random.SeedSequence(entropy).generate_state(4))
    return seed


def worker_loop(iterable: bool, dataset, index_queue, data_queue, done_event,
                auto_collation: bool, collate_fn: Callable, drop_last: bool,
                transform: Callable | None, base_seed: int, init_fn: Callable | None,
                worker_id: int, num_workers: int) -> None:
    """The body of worker process ``worker_id``."""
    global _worker_info
    parent = multiprocessing.parent_process()
    try:
        seed = _seed_worker(base_seed, worker_id)
        _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
        where = f"in DataLoader worker process {worker_id}"
        init_error = fetcher = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = make_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last,
                                   transform)
        except Exception as e:
            init_error = _ExceptionWrapper(e, where)
        iteration_end = False
        while not done_event.is_set() and (parent is None or parent.is_alive()):
            try:
                task = index_queue.get(timeout=POLL_INTERVAL)
            except queue.Empty:
                continue
            if task is None or done_event.is_set():
                break
            if isinstance(task, _ResumeIteration):
                iteration_end = False
                if init_error is None:
                    try:
                        fetcher = make_fetcher(iterable, dataset, auto_collation, collate_fn,
                                               drop_last, transform)
                    except Exception as e:
                        init_error = _ExceptionWrapper(e, where)
                data_queue.put((task, None))
                continue
            if iteration_end:
                continue
            task_idx, index = task
            if init_error is not None:
                data_queue.put((task_idx, init_error))
                continue
            try:
                data = fetcher.fetch(index)
            except StopIteration:
                data = _IterableDatasetStopIteration(worker_id)
                iteration_end = True
            except Exception as e:
                data = _ExceptionWrapper(e, where)
            data_queue.put((task_idx, data))
            del data  # don't hold the last batch while waiting for the next task
    except KeyboardInterrupt:
        pass  # the main process gets the same signal and cleans up
    finally:
        if done_event.is_set() or not (parent is None or parent.is_alive()):
            # nobody reads the results any more: don't block this exit on flushing them
            data_queue.cancel_join_thread()
        # otherwise exit flushes them: the queue's write lock is shared by all workers, and
        # leaving in the middle of a write would keep it locked for the others

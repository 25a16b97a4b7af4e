"""DataLoader: batches from a dataset, loaded in the main process or in worker processes.

With ``num_workers > 0`` the main process still decides the order: it draws every index
from the sampler and hands batches of indices to the workers round-robin, keeping
``prefetch_factor`` tasks per worker in flight, and yields the results in the order it sent
them. So the batches are the same with or without workers, for the same seed.
"""
from __future__ import annotations

import atexit
import collections.abc
import itertools
import multiprocessing
import multiprocessing.context
import os
import queue
import sys
import time
import warnings
import weakref
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

import ember

from . import _worker
from ._collate import default_collate, default_convert
from .dataset import Dataset, IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, _draw_seed

T_co = TypeVar("T_co", covariant=True)

__all__ = ["DataLoader"]

_JOIN_TIMEOUT = 5.0  # seconds a worker gets to exit on its own before it is terminated

_live_iterators: weakref.WeakSet = weakref.WeakSet()
_python_exiting = False


@atexit.register
def _shutdown_all_workers() -> None:
    # runs before multiprocessing's own exit hook (atexit is LIFO), so workers get a clean stop
    global _python_exiting
    _python_exiting = True
    for it in list(_live_iterators):
        it._shutdown_workers()


class _InfiniteConstantSampler(Sampler[None]):
    """The sampler of an IterableDataset: placeholders, forever."""

    def __iter__(self):
        while True:
            yield None


def _pin_memory(data: Any, device: str) -> Any:
    """The batch with every CPU tensor in page-locked memory, so ``.to('cuda',
    non_blocking=True)`` uploads it asynchronously; unchanged (with a warning, as PyTorch)
    when no GPU can be used. Containers keep their types; objects with a ``pin_memory()``
    method are asked to pin themselves."""
    if not ember.backend.cuda_available():
        warnings.warn("'pin_memory' argument is set as true but no accelerator is found, then "
                      "device pinned memory won't be used.", stacklevel=3)
        return data
    return _pin(data)


def _pin(data: Any) -> Any:
    if isinstance(data, ember.Tensor):
        return data.pin_memory() if data.device.type == "cpu" else data
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        pinned = {k: _pin(v) for k, v in data.items()}
        try:
            return type(data)(pinned)
        except TypeError:  # a mapping that cannot be built from a dict
            return pinned
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return type(data)(*(_pin(v) for v in data))
    if isinstance(data, tuple):
        return tuple(_pin(v) for v in data)
    if isinstance(data, collections.abc.Sequence):
        pinned = [_pin(v) for v in data]
        try:
            return type(data)(pinned)
        except TypeError:
            return pinned
    if hasattr(data, "pin_memory"):
        return data.pin_memory()
    return data


def _default_context() -> multiprocessing.context.BaseContext:
    # fork starts workers fastest and needs nothing to be picklable, as PyTorch does on Linux;
    # elsewhere fork is unsafe (macOS) or missing (Windows)
    methods = multiprocessing.get_all_start_methods()
    method = "fork" if sys.platform.startswith("linux") and "fork" in methods else "spawn"
    return multiprocessing.get_context(method)


def _resolve_context(ctx, num_workers: int) -> multiprocessing.context.BaseContext | None:
    if ctx is None:
        return None
    if num_workers == 0:
        raise ValueError(f"multiprocessing_context can only be used with multi-process loading "
                         f"(num_workers > 0), but got num_workers={num_workers}")
    if isinstance(ctx, str):
        methods = multiprocessing.get_all_start_methods()
        if ctx not in methods:
            raise ValueError(f"multiprocessing_context option should specify a valid start "
                             f"method in {methods!r}, but got multiprocessing_context={ctx!r}")
        return multiprocessing.get_context(ctx)
    if not isinstance(ctx, multiprocessing.context.BaseContext):
        raise TypeError(f"multiprocessing_context option should be a valid context object or a "
                        f"string specifying the start method, but got "
                        f"multiprocessing_context={ctx!r}")
    return ctx


class DataLoader(Generic[T_co]):
    """Iterates a dataset in batches, optionally shuffled and loaded by worker processes.

    Args:
        dataset: a map-style :class:`Dataset` or an :class:`IterableDataset`.
        batch_size: samples per batch; None turns automatic batching off (each item is one
            sample, converted by :func:`default_convert`).
        shuffle: reshuffle every epoch (a :class:`RandomSampler` over ``generator``).
        sampler: the index order (exclusive with ``shuffle``).
        batch_sampler: yields lists of indices (exclusive with batch_size, shuffle, sampler,
            drop_last).
        num_workers: worker processes; 0 loads in the main process.
        collate_fn: list of samples -> batch; default :func:`default_collate`.
        pin_memory: page-lock batches for GPU copies (accepted; nothing to do on the CPU).
        drop_last: drop the last batch if it is smaller than ``batch_size``.
        timeout: seconds to wait for a batch from the workers before raising (0: forever,
            though a dead worker is still detected).
        worker_init_fn: called as ``fn(worker_id)`` in every worker after seeding.
        multiprocessing_context: a start method name or context; default 'fork' where
            available, else 'spawn'.
        generator: the ember.Generator for the shuffle and the workers' base seed.
        prefetch_factor: batches each worker loads ahead (default 2 with workers).
        persistent_workers: keep the workers alive between epochs.
        pin_memory_device: the device to pin for (accepted for PyTorch compatibility).
        transform: *ember extension* (not in PyTorch): a callable applied to every sample,
            exactly as the dataset returned it, before collation; it runs in the workers.

    Example:
        >>> ds = TensorDataset(ember.randn(10, 3), ember.arange(10))
        >>> for x, y in DataLoader(ds, batch_size=4, shuffle=True):
        ...     x.shape   # (4, 3), (4, 3), then (2, 3)
    """

    _PROTECTED = frozenset(("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
                            "persistent_workers"))

    def __init__(self, dataset: Dataset[T_co], batch_size: int | None = 1,
                 shuffle: bool | None = None, sampler: Sampler | Iterable | None = None,
                 batch_sampler: Sampler[list] | Iterable[list] | None = None,
                 num_workers: int = 0, collate_fn: Callable[[list], Any] | None = None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context=None, generator: ember.Generator | None = None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "",
                 transform: Callable[[Any], Any] | None = None) -> None:
        self._check_workers(num_workers, timeout, prefetch_factor, persistent_workers)
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor if num_workers == 0 or prefetch_factor is not None \
            else 2
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = _resolve_context(multiprocessing_context, num_workers)
        self.transform = transform
        self.generator = generator
        self.persistent_workers = persistent_workers
        self._iterable = isinstance(dataset, IterableDataset)
        sampler, batch_sampler, batch_size, drop_last = self._make_samplers(
            dataset, batch_size, shuffle, sampler, batch_sampler, drop_last, generator)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        if collate_fn is None:
            collate_fn = default_collate if batch_sampler is not None else default_convert
        self.collate_fn = collate_fn
        self._iterator = None
        self._initialized = True

    @staticmethod
    def _check_workers(num_workers, timeout, prefetch_factor, persistent_workers) -> None:
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError(f"timeout option should be non-negative, got timeout={timeout}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing. Let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None.")
        if prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError(f"prefetch_factor option should be non-negative, got "
                             f"prefetch_factor={prefetch_factor}")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

    @staticmethod
    def _make_samplers(dataset, batch_size, shuffle, sampler, batch_sampler, drop_last,
                       generator):
        """PyTorch's rules for which sampling options go together."""
        if isinstance(dataset, IterableDataset):
            if shuffle not in (False, None):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"shuffle option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"sampler option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None:
            if isinstance(dataset, IterableDataset):
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        return sampler, batch_sampler, batch_size, drop_last

    def __setattr__(self, attr: str, val) -> None:
        if self.__dict__.get("_initialized", False) and attr in self._PROTECTED:
            raise ValueError(f"{attr} attribute should not be set after "
                             f"{type(self).__name__} is initialized")
        super().__setattr__(attr, val)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def _get_iterator(self):
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        return _MultiProcessingDataLoaderIter(self)

    def __iter__(self):
        """A new iterator per epoch; with persistent_workers, the same one, reset."""
        if not (self.persistent_workers and self.num_workers > 0):
            return self._get_iterator()
        if self._iterator is None or self._iterator._shutdown:  # first epoch, or after a crash
            self._iterator = self._get_iterator()
        else:
            self._iterator._reset(self)
        return self._iterator

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
            return n
        return len(self._index_sampler)


class _BaseDataLoaderIter:
    def __init__(self, loader: DataLoader) -> None:
        self._dataset = loader.dataset
        self._iterable = loader._iterable
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._collate_fn = loader.collate_fn
        self._transform = loader.transform
        self._pin_memory = loader.pin_memory
        self._pin_memory_device = loader.pin_memory_device
        self._timeout = loader.timeout
        self._persistent_workers = loader.persistent_workers
        # order matters for reproducibility, as in PyTorch: the sampler's iterator is
        # created (lazily, drawing nothing) before the workers' base seed is drawn
        self._sampler_iter = iter(self._index_sampler)
        self._base_seed = _draw_seed(loader.generator)
        self._num_yielded = 0

    def __iter__(self):
        return self

    def _reset(self, loader: DataLoader, first_iter: bool = False) -> None:
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0

    def _next_index(self):
        return next(self._sampler_iter)  # StopIteration ends the epoch

    def _next_data(self):
        raise NotImplementedError

    def __next__(self):
        data = self._next_data()
        self._num_yielded += 1
        return data

    def __len__(self) -> int:
        return len(self._index_sampler)

    def __getstate__(self):
        raise TypeError(f"{type(self).__name__} cannot be pickled")


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        self._fetcher = _worker.make_fetcher(self._iterable, self._dataset,
                                             self._auto_collation, self._collate_fn,
                                             self._drop_last, self._transform)

    def _next_data(self):
        data = self._fetcher.fetch(self._next_index())
        if self._pin_memory:
            data = _pin_memory(data, self._pin_memory_device)
        return data


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    """Workers fetch; this process orders.

    Task ``i`` (one entry of the index sampler) goes to the next active worker round-robin.
    ``_task_info[i]`` is ``(worker_id,)`` while in flight and ``(worker_id, batch)`` once it
    arrived out of order; ``_rcvd_idx`` is the next task to yield.
    """

    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        self._num_workers = loader.num_workers
        self._prefetch_factor = loader.prefetch_factor
        self._owner_pid = os.getpid()
        ctx = loader.multiprocessing_context or _default_context()
        self._data_queue = _worker._ResultQueue(ctx)
        self._done_event = ctx.Event()  # set at shutdown: workers drop what is queued
        self._index_queues, self._workers = [], []
        self._worker_cycle = itertools.cycle(range(self._num_workers))
        self._shutdown = False
        _live_iterators.add(self)
        try:
            for worker_id in range(self._num_workers):
                self._start_worker(ctx, loader, worker_id)
        except BaseException:
            self._shutdown_workers()
            raise
        self._reset(loader, first_iter=True)

    def _start_worker(self, ctx, loader: DataLoader, worker_id: int) -> None:
        index_queue = ctx.Queue()
        # a worker that died leaves its queue unread; don't block this process's exit on it
        index_queue.cancel_join_thread()
        w = ctx.Process(target=_worker.worker_loop, daemon=True,
                        args=(self._iterable, self._dataset, index_queue, self._data_queue,
                              self._done_event, self._auto_collation, self._collate_fn,
                              self._drop_last, self._transform, self._base_seed,
                              loader.worker_init_fn, worker_id, self._num_workers))
        w.start()
        self._index_queues.append(index_queue)
        self._workers.append(w)

    def _reset(self, loader: DataLoader, first_iter: bool = False) -> None:
        super()._reset(loader, first_iter)
        self._send_idx = 0
        self._rcvd_idx = 0
        self._task_info: dict[int, tuple] = {}
        self._tasks_outstanding = 0
        self._workers_status = [True] * self._num_workers
        if not first_iter:
            self._resume_workers()
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _resume_workers(self) -> None:
        """Starts a new epoch in persistent workers; results of the last one are dropped."""
        for q in self._index_queues:
            q.put(_worker._ResumeIteration())
        pending = self._num_workers
        while pending > 0:
            idx, _ = self._get_data()
            if isinstance(idx, _worker._ResumeIteration):
                pending -= 1

    def _try_put_index(self) -> None:
        if self._tasks_outstanding >= self._prefetch_factor * self._num_workers:
            return
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):
            worker_id = next(self._worker_cycle)
            if self._workers_status[worker_id]:
                break
        else:
            return  # every worker's stream is exhausted
        self._index_queues[worker_id].put((self._send_idx, index))
        self._task_info[self._send_idx] = (worker_id,)
        self._tasks_outstanding += 1
        self._send_idx += 1

    def _next_data(self):
        if self._shutdown:
            raise StopIteration
        while True:
            # skip tasks sent to workers whose IterableDataset has since run dry
            while self._rcvd_idx < self._send_idx:
                info = self._task_info[self._rcvd_idx]
                if len(info) == 2 or self._workers_status[info[0]]:
                    break
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
            else:
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration
            info = self._task_info[self._rcvd_idx]
            if len(info) == 2:
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
                return self._process_data(info[1])
            idx, data = self._get_data()
            self._tasks_outstanding -= 1
            if isinstance(data, _worker._IterableDatasetStopIteration):
                self._mark_worker_done(data.worker_id)
                self._try_put_index()
            elif idx != self._rcvd_idx:
                if idx in self._task_info:  # else: a task of an abandoned epoch
                    self._task_info[idx] += (data,)
            else:
                del self._task_info[idx]
                self._rcvd_idx += 1
                return self._process_data(data)

    def _mark_worker_done(self, worker_id: int) -> None:
        self._workers_status[worker_id] = False
        if not self._persistent_workers:
            self._index_queues[worker_id].put(None)  # it has nothing left to do

    def _process_data(self, data):
        self._try_put_index()
        if isinstance(data, _worker._ExceptionWrapper):
            data.reraise()
        if self._pin_memory:
            data = _pin_memory(data, self._pin_memory_device)
        return data

    def _get_data(self):
        """The next ``(task_idx, batch)`` from any worker; raises if one died or on timeout."""
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        while True:
            wait = _worker.POLL_INTERVAL
            if deadline is not None:
                wait = min(wait, max(deadline - time.monotonic(), 0.0))
            try:
                return self._data_queue.get(timeout=wait)
            except queue.Empty:
                pass
            self._check_workers_alive()
            if deadline is not None and time.monotonic() >= deadline:
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")

    def _check_workers_alive(self) -> None:
        dead = [w for i, w in enumerate(self._workers)
                if self._workers_status[i] and not w.is_alive()]
        if dead:
            pids = ", ".join(f"{w.pid} (exit code {w.exitcode})" for w in dead)
            self._shutdown_workers()
            raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly; run "
                               "with num_workers=0 to see the error in the main process")

    def _shutdown_workers(self) -> None:
        """Stops every worker: asks politely, then terminates stragglers. Idempotent."""
        if getattr(self, "_shutdown", True) or os.getpid() != self._owner_pid:
            return
        self._shutdown = True
        _live_iterators.discard(self)
        self._done_event.set()
        for q in self._index_queues:
            q.put(None)
        for w in self._workers:
            w.join(timeout=_JOIN_TIMEOUT)
            if w.is_alive():
                w.terminate()
                w.join()
        for q in self._index_queues:
            q.close()
        self._data_queue.cancel_join_thread()
        self._data_queue.close()

    def __del__(self) -> None:
        if not _python_exiting:
            self._shutdown_workers()

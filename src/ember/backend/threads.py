"""CPU worker threads for memory-bound array work.

NumPy releases the GIL inside its loops, so copies and ufuncs on disjoint slices run in
parallel from Python threads. Big arrays are cut along their first axis into blocks of about
BLOCK_BYTES: each thread takes every k-th block, and a block's arrays stay in its core's
cache between the passes an op makes over it. Small arrays, and CuPy's, are done in one call.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

from . import xp_of

MIN_PARALLEL_BYTES = 4 << 20  # below this a thread hand-off costs more than it saves
BLOCK_BYTES = 1 << 20


def _count() -> int:
    env = os.environ.get("EMBER_NUM_THREADS")
    if env:
        return max(1, int(env))
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


THREADS = _count()
_pool = None
_pool_pid = None


def executor() -> ThreadPoolExecutor:
    global _pool, _pool_pid
    # a forked child (DataLoader worker) inherits the pool object but not its threads
    if _pool is None or _pool_pid != os.getpid():
        _pool = ThreadPoolExecutor(THREADS, thread_name_prefix="ember")
        _pool_pid = os.getpid()
    return _pool


def run_shared(items: list, fn, threads: int) -> list:
    """fn(item) for each item, thread t taking items t, t+k, ...; results in item order."""
    k = min(threads, len(items))
    if k <= 1:
        return [fn(item) for item in items]
    futures = [executor().submit(lambda t: [fn(i) for i in items[t::k]], t) for t in range(k)]
    wait(futures)  # all of them, even when one fails
    per_thread = [f.result() for f in futures]
    return [per_thread[i % k][i // k] for i in range(len(items))]


def for_blocks(n: int, row_bytes: int, fn, xp) -> list:
    """fn(a, b) over blocks [a, b) of the n rows (first-axis entries, row_bytes each) of the
    arrays it touches; its results in block order. One call fn(0, n) when the work is small
    or on a GPU."""
    if xp is not np or THREADS <= 1 or n * row_bytes < MIN_PARALLEL_BYTES or n < 2:
        return [fn(0, n)]
    step = max(1, BLOCK_BYTES // max(1, row_bytes))
    blocks = [(a, min(n, a + step)) for a in range(0, n, step)]
    return run_shared(blocks, lambda ab: fn(*ab), THREADS)


def for_rows(x, fn) -> list:
    """for_blocks over the first axis of array x (one block for a 0-d x)."""
    rows = x.shape[0] if x.ndim else 1
    return for_blocks(rows, x.nbytes // max(1, rows), fn, xp_of(x))

"""float32 NxN matmul across array backends: GFLOP/s, with host-device copies timed apart.

    python benchmarks/matmul_backends.py [--sizes 256,512,1024,2048,4096] [--repeats 5]
                                         [--njit-max 4096] [--only numpy,ember] [--json]

Backends: NumPy; Numba (``@njit(parallel=True)`` blocked loops on the CPU, and a tiled
shared-memory CUDA kernel when a GPU is present); CuPy (cuBLAS); ember on cpu and on cuda;
PyTorch on cpu and cuda. Whatever is not installed, or needs a GPU that is not there, is
skipped with a note. Each time is the median of ``--repeats`` calls after a warm-up call
(which also pays Numba's compilation), each call followed by a device synchronisation (the
fastest call is shown too: on a shared machine it is the steadier number); the
copies of A and B to the device and of C back are timed separately and are not in GFLOP/s
(2 N^3 / t). Every result is checked against NumPy's.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Seconds to wait before timing anything: the previous backend's worker threads (OpenBLAS,
# OpenMP, Numba) spin for up to ~0.1 s after their last job, and on 2 cores that steals the
# next backend's cores for whole scheduler slices (8-16 ms per call, measured here).
SETTLE = 0.3


class Backend:
    """One way to multiply: move inputs in, multiply, synchronise, bring the result out."""

    name = "?"
    on_gpu = False
    max_n: int | None = None

    def to_device(self, a: np.ndarray):
        return a

    def matmul(self, a, b):
        raise NotImplementedError

    def to_host(self, c) -> np.ndarray:
        return np.asarray(c)

    def sync(self) -> None:
        pass


class NumpyBackend(Backend):
    name = "numpy"

    def matmul(self, a, b):
        return a @ b


class FrameworkBackend(Backend):
    """ember or PyTorch: the same tensor API, so one class serves both."""

    def __init__(self, lib, device: str):
        self.lib, self.device = lib, device
        self.on_gpu = device == "cuda"
        self.name = f"{lib.__name__} {device}"

    def to_device(self, a):
        return self.lib.from_numpy(a).to(self.device)

    def matmul(self, a, b):
        return a @ b

    def to_host(self, c):
        return c.cpu().numpy()

    def sync(self):
        if self.on_gpu:
            self.lib.cuda.synchronize()


class CupyBackend(Backend):
    name = "cupy"
    on_gpu = True

    def __init__(self, cupy):
        self.cp = cupy

    def to_device(self, a):
        return self.cp.asarray(a)

    def matmul(self, a, b):
        return a @ b

    def to_host(self, c):
        return self.cp.asnumpy(c)

    def sync(self):
        self.cp.cuda.Device().synchronize()


class NumbaCpuBackend(Backend):
    """``@njit(parallel=True)``: loops blocked for cache, rows of C split across cores."""

    name = "numba njit cpu"

    def __init__(self, max_n: int):
        import _numba_kernels
        self.kernel = _numba_kernels.matmul_blocked
        self.max_n = max_n

    def matmul(self, a, b):
        c = np.empty((a.shape[0], b.shape[1]), np.float32)
        self.kernel(a, b, c)
        return c


class NumbaCudaBackend(Backend):
    """A tiled CUDA kernel: each block stages TILE x TILE tiles of A and B in shared memory."""

    name = "numba cuda (tiled)"
    on_gpu = True

    def __init__(self, cuda):
        import _numba_kernels
        self.cuda = cuda
        self.kernel = _numba_kernels.matmul_tiled
        self.tile = _numba_kernels.TILE

    def to_device(self, a):
        return self.cuda.to_device(a)

    def matmul(self, a, b):
        n, m = a.shape[0], b.shape[1]
        c = self.cuda.device_array((n, m), np.float32)
        blocks = (math.ceil(m / self.tile), math.ceil(n / self.tile))  # x: C's columns
        self.kernel[blocks, (self.tile, self.tile)](a, b, c)
        return c

    def to_host(self, c):
        return c.copy_to_host()

    def sync(self):
        self.cuda.synchronize()


# -- discovery ----------------------------------------------------------------------------

def discover(njit_max: int) -> tuple[list[Backend], list[str]]:
    """Every backend that can run here, and a note for each that cannot."""
    backends: list[Backend] = [NumpyBackend()]
    notes: list[str] = []
    cupy, gpu_note = _cupy_with_gpu()
    try:
        import numba  # noqa: F401
    except ImportError:
        notes.append("numba: not installed (pip install numba), njit and CUDA kernels skipped")
    else:
        backends.append(NumbaCpuBackend(njit_max))
        from numba import cuda
        if cuda.is_available():
            backends.append(NumbaCudaBackend(cuda))
        else:
            notes.append("numba cuda: no GPU, skipped")
    if cupy is not None:
        backends.append(CupyBackend(cupy))
    else:
        notes.append(f"cupy: {gpu_note}, skipped")
    import ember
    backends.append(FrameworkBackend(ember, "cpu"))
    if ember.cuda.is_available():
        backends.append(FrameworkBackend(ember, "cuda"))
    else:
        notes.append("ember cuda: no GPU (or no CuPy), skipped")
    try:
        import torch
    except ImportError:
        notes.append("torch: not installed, skipped")
    else:
        backends.append(FrameworkBackend(torch, "cpu"))
        if torch.cuda.is_available():
            backends.append(FrameworkBackend(torch, "cuda"))
        else:
            notes.append("torch cuda: no GPU (or a CPU-only build), skipped")
    return backends, notes


def _cupy_with_gpu():
    try:
        import cupy
        if cupy.cuda.runtime.getDeviceCount() > 0:
            return cupy, ""
        return None, "no GPU"
    except ImportError:
        return None, "not installed"
    except Exception as exc:  # CuPy present but no driver or device
        return None, f"no usable GPU ({type(exc).__name__})"


# -- measuring ----------------------------------------------------------------------------

def _times(fn: Callable[[], object], sync: Callable[[], None], repeats: int,
           settle: float) -> list[float]:
    time.sleep(settle)
    fn()  # warm-up: allocator, BLAS threads, JIT compilation
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return times


def measure(backend: Backend, a: np.ndarray, b: np.ndarray, expected: np.ndarray,
            repeats: int, settle: float = SETTLE) -> dict:
    """Median ms for copies in, the multiply and the copy out; GFLOP/s; the error."""
    n = a.shape[0]
    holder = {}

    def copy_in():
        holder["a"], holder["b"] = backend.to_device(a), backend.to_device(b)

    def multiply():
        holder["c"] = backend.matmul(holder["a"], holder["b"])

    def copy_out():
        holder["host"] = backend.to_host(holder["c"])

    h2d = statistics.median(_times(copy_in, backend.sync, repeats, settle))
    computes = _times(multiply, backend.sync, repeats, settle)
    compute = statistics.median(computes)
    d2h = statistics.median(_times(copy_out, backend.sync, repeats, settle))
    err = float(np.abs(holder["host"] - expected).max() / (np.abs(expected).max() or 1.0))
    return {"backend": backend.name, "n": n, "ms": compute * 1e3,
            "gflops": 2 * n**3 / compute / 1e9, "best_gflops": 2 * n**3 / min(computes) / 1e9,
            "h2d_ms": h2d * 1e3 if backend.on_gpu else None,
            "d2h_ms": d2h * 1e3 if backend.on_gpu else None,
            "rel_err": err, "ok": err < 1e-3}


def run(sizes: list[int], repeats: int = 5, njit_max: int = 4096,
        only: list[str] | None = None, settle: float = SETTLE) -> dict:
    """Measures every available backend at every size; returns rows, notes and the machine."""
    backends, notes = discover(njit_max)
    if only:
        backends = [bk for bk in backends if any(o in bk.name for o in only)]
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        expected = a @ b
        for backend in backends:
            if backend.max_n is not None and n > backend.max_n:
                notes.append(f"{backend.name}: N={n} skipped (above --njit-max "
                             f"{backend.max_n})")
                continue
            rows.append(measure(backend, a, b, expected, repeats, settle))
            print(f"N={n} {backend.name}: {rows[-1]['gflops']:.1f} GFLOP/s",
                  file=sys.stderr, flush=True)
    return {"rows": rows, "notes": notes, "machine": _machine()}


def _machine() -> dict:
    info = {"cores": os.cpu_count(), "numpy": np.__version__,
            "env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}}
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = [{k: p.get(k) for k in ("internal_api", "version", "architecture",
                                               "num_threads")} for p in threadpool_info()]
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    return info


def format_table(result: dict) -> str:
    head = ["N", "backend", "ms", "GFLOP/s", "best GFLOP/s", "copy in ms", "copy out ms",
            "check"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in result["rows"]:
        copies = [f"{r[k]:.2f}" if r[k] is not None else "-" for k in ("h2d_ms", "d2h_ms")]
        check = "ok" if r["ok"] else f"WRONG (rel err {r['rel_err']:.1e})"
        lines.append(f"| {r['n']} | {r['backend']} | {r['ms']:.2f} | {r['gflops']:.1f} | "
                     f"{r['best_gflops']:.1f} | {copies[0]} | {copies[1]} | {check} |")
    lines += [""] + [f"note: {n}" for n in result["notes"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,512,1024,2048,4096",
                        help="comma-separated N (default 256,512,1024,2048,4096)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--njit-max", type=int, default=4096,
                        help="largest N for the CPU @njit kernel (slow: about 4 s per call "
                             "at 4096 on 2 cores; default 4096)")
    parser.add_argument("--only", default=None,
                        help="comma-separated substrings of backend names to run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    only = args.only.split(",") if args.only else None
    result = run(sizes, args.repeats, args.njit_max, only)
    print(json.dumps(result, indent=1) if args.json else format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

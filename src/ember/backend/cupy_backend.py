"""The GPU backend: CuPy, imported only when a cuda device is first used."""
from __future__ import annotations


def load_cuda_backend():
    """The backend object for cuda devices, or RuntimeError saying what to install."""
    try:
        import cupy  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(
            "cuda: CuPy is not installed, so ember cannot use a GPU. Install it with "
            "`pip install ember[cuda]` (or the cupy-cudaXXx wheel matching your CUDA), "
            "or keep tensors on 'cpu'.") from exc
    raise RuntimeError("cuda: the CuPy backend is not implemented yet")

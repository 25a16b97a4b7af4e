"""Philox4x32-10 counter-based random numbers: the generator of ember's cuda devices.

One algorithm in two languages: CUDA C for CuPy's ``ElementwiseKernel`` (one kernel launch per
draw, nothing on the host) and NumPy (the reference, and the fake test device). Element ``k``
of a draw at ``offset`` with ``seed`` depends only on the block
``philox(counter=offset + k, key=seed)``, so a stream's whole state is ``(seed, offset)`` and a
draw of ``n`` numbers advances the offset by ``n`` (as PyTorch's CUDA generator).

Kinds of draw (``KINDS``): ``uniform`` in [0, 1) and ``normal`` (Box-Muller) as float32 or
float64, and ``bits``: uniform uint64.
"""
from __future__ import annotations

import numpy as np

_M0, _M1 = 0xD2511F53, 0xCD9E8D57   # Salmon et al. (2011), the round multipliers
_W0, _W1 = 0x9E3779B9, 0xBB67AE85   # the key schedule's Weyl increments
_ROUNDS = 10
_MASK32 = 0xFFFFFFFF
_TWO_PI = 6.283185307179586476925286766559

KINDS = {("uniform", np.dtype(np.float32)), ("uniform", np.dtype(np.float64)),
         ("normal", np.dtype(np.float32)), ("normal", np.dtype(np.float64)),
         ("bits", np.dtype(np.uint64))}


# -- NumPy -------------------------------------------------------------------------------------
def philox4x32(counter, key) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The four uint32 output words of Philox4x32-10 for each counter (4 uint32 arrays)."""
    c0, c1, c2, c3 = (np.asarray(c, np.uint32) for c in counter)
    k0, k1 = int(key[0]) & _MASK32, int(key[1]) & _MASK32
    m0, m1, low = np.uint64(_M0), np.uint64(_M1), np.uint64(_MASK32)
    for r in range(_ROUNDS):
        if r:
            k0, k1 = (k0 + _W0) & _MASK32, (k1 + _W1) & _MASK32
        p0 = c0.astype(np.uint64) * m0
        p1 = c2.astype(np.uint64) * m1
        c0, c1, c2, c3 = ((p1 >> np.uint64(32)).astype(np.uint32) ^ c1 ^ np.uint32(k0),
                          (p1 & low).astype(np.uint32),
                          (p0 >> np.uint64(32)).astype(np.uint32) ^ c3 ^ np.uint32(k1),
                          (p0 & low).astype(np.uint32))
    return c0, c1, c2, c3


def _words(n: int, seed: int, offset: int):
    counter = np.arange(n, dtype=np.uint64) + np.uint64(offset)
    zeros = np.zeros(n, np.uint32)
    return philox4x32(((counter & np.uint64(_MASK32)).astype(np.uint32),
                       (counter >> np.uint64(32)).astype(np.uint32), zeros, zeros),
                      (seed & _MASK32, seed >> 32))


def _u53(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    return ((hi.astype(np.uint64) << np.uint64(32)) | lo) >> np.uint64(11)


def draw(kind: str, shape: tuple, dtype, seed: int, offset: int) -> np.ndarray:
    """A host array of ``shape``: the reference values of the CUDA kernel for ``kind``."""
    dtype = np.dtype(dtype)
    if (kind, dtype) not in KINDS:
        raise ValueError(f"philox: no {kind} draw of {dtype}")
    n = int(np.prod(shape, dtype=np.int64))
    x0, x1, x2, x3 = _words(n, int(seed), int(offset))
    if kind == "bits":
        out = (x0.astype(np.uint64) << np.uint64(32)) | x1
    elif dtype == np.float32:
        scale = np.float32(2.0 ** -24)
        if kind == "uniform":
            out = (x0 >> np.uint32(8)).astype(np.float32) * scale
        else:
            u1 = ((x0 >> np.uint32(8)) + np.uint32(1)).astype(np.float32) * scale  # (0, 1]
            u2 = (x1 >> np.uint32(8)).astype(np.float32) * scale
            out = np.sqrt(np.float32(-2.0) * np.log(u1)) * np.cos(np.float32(_TWO_PI) * u2)
    else:
        scale = 2.0 ** -53
        if kind == "uniform":
            out = _u53(x0, x1).astype(np.float64) * scale
        else:
            u1 = (_u53(x0, x1) + np.uint64(1)).astype(np.float64) * scale
            u2 = _u53(x2, x3).astype(np.float64) * scale
            out = np.sqrt(-2.0 * np.log(u1)) * np.cos(_TWO_PI * u2)
    return out.astype(dtype, copy=False).reshape(shape)


# -- CUDA C ------------------------------------------------------------------------------------
# Plain C++ on purpose (no CUDA intrinsics), so tests can compile it with a host compiler.
PREAMBLE = f"""
__device__ __forceinline__ void ember_philox(unsigned long long seed, unsigned long long ctr,
                                             unsigned int* x) {{
    unsigned int c0 = (unsigned int)ctr, c1 = (unsigned int)(ctr >> 32), c2 = 0u, c3 = 0u;
    unsigned int k0 = (unsigned int)seed, k1 = (unsigned int)(seed >> 32);
    for (int r = 0; r < {_ROUNDS}; ++r) {{
        if (r) {{ k0 += {_W0:#x}u; k1 += {_W1:#x}u; }}
        unsigned long long p0 = (unsigned long long){_M0:#x}u * c0;
        unsigned long long p1 = (unsigned long long){_M1:#x}u * c2;
        unsigned int n0 = (unsigned int)(p1 >> 32) ^ c1 ^ k0;
        unsigned int n2 = (unsigned int)(p0 >> 32) ^ c3 ^ k1;
        c1 = (unsigned int)p1;
        c3 = (unsigned int)p0;
        c0 = n0;
        c2 = n2;
    }}
    x[0] = c0; x[1] = c1; x[2] = c2; x[3] = c3;
}}

__device__ __forceinline__ double ember_u53(unsigned int hi, unsigned int lo) {{
    return (double)((((unsigned long long)hi << 32) | lo) >> 11);
}}
"""

_BODY = {
    ("uniform", "float32"): "y = (float)(x[0] >> 8) * 5.9604644775390625e-08f;",
    ("uniform", "float64"): "y = ember_u53(x[0], x[1]) * 1.1102230246251565e-16;",
    ("normal", "float32"): (
        "float u1 = (float)((x[0] >> 8) + 1u) * 5.9604644775390625e-08f;\n"
        "float u2 = (float)(x[1] >> 8) * 5.9604644775390625e-08f;\n"
        f"y = sqrtf(-2.0f * logf(u1)) * cosf({_TWO_PI!r}f * u2);"),
    ("normal", "float64"): (
        "double u1 = (ember_u53(x[0], x[1]) + 1.0) * 1.1102230246251565e-16;\n"
        "double u2 = ember_u53(x[2], x[3]) * 1.1102230246251565e-16;\n"
        f"y = sqrt(-2.0 * log(u1)) * cos({_TWO_PI!r} * u2);"),
    ("bits", "uint64"): "y = ((unsigned long long)x[0] << 32) | x[1];",
}


def kernel_source(kind: str, dtype) -> tuple[str, str, str, str]:
    """``(in_params, out_params, operation, name)`` of the ElementwiseKernel for one kind."""
    dtype = np.dtype(dtype)
    if (kind, dtype) not in KINDS:
        raise ValueError(f"philox: no {kind} draw of {dtype}")
    operation = ("unsigned int x[4];\n"
                 "ember_philox(seed, offset + (unsigned long long)i, x);\n"
                 + _BODY[kind, dtype.name])
    return ("uint64 seed, uint64 offset", f"{dtype.name} y", operation,
            f"ember_philox_{kind}_{dtype.name}")

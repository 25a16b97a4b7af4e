"""The two Numba matmul kernels of matmul_backends.py (imported only when numba is).

They live at module level because Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1, handy for
checking the kernel without a GPU) swaps in its fake ``cuda`` only through a kernel's globals.
"""
from __future__ import annotations

from numba import cuda, float32, njit, prange

TILE = 16  # CUDA thread-block edge: one TILE x TILE tile of A and of B in shared memory
ROW_BLOCK, K_BLOCK = 64, 128  # CPU blocking: K_BLOCK rows of b are reused by ROW_BLOCK rows


@njit(parallel=True, fastmath=True, cache=False)
def matmul_blocked(a, b, c):
    """c = a @ b on the CPU: blocked i-k-j loops, blocks of c's rows split across cores."""
    n, k = a.shape
    m = b.shape[1]
    for block in prange((n + ROW_BLOCK - 1) // ROW_BLOCK):
        i0 = block * ROW_BLOCK
        i1 = min(i0 + ROW_BLOCK, n)
        c[i0:i1, :] = 0
        for k0 in range(0, k, K_BLOCK):
            k1 = min(k0 + K_BLOCK, k)
            for i in range(i0, i1):
                c_row = c[i]  # whole contiguous rows: Numba then vectorises the j loop
                for kk in range(k0, k1):
                    a_ik = a[i, kk]
                    b_row = b[kk]
                    for j in range(m):
                        c_row[j] += a_ik * b_row[j]


@cuda.jit
def matmul_tiled(a, b, c):
    """c = a @ b on the GPU: each block stages TILE x TILE tiles of a and b in shared memory."""
    tile_a = cuda.shared.array((TILE, TILE), float32)
    tile_b = cuda.shared.array((TILE, TILE), float32)
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    col = cuda.blockIdx.x * TILE + tx
    row = cuda.blockIdx.y * TILE + ty
    n, k = a.shape
    m = b.shape[1]
    acc = float32(0.0)
    for t in range((k + TILE - 1) // TILE):
        # neighbouring threads (tx) read neighbouring addresses: coalesced loads
        ka = t * TILE + tx
        kb = t * TILE + ty
        tile_a[ty, tx] = a[row, ka] if row < n and ka < k else float32(0.0)
        tile_b[ty, tx] = b[kb, col] if kb < k and col < m else float32(0.0)
        cuda.syncthreads()
        for i in range(TILE):
            acc += tile_a[ty, i] * tile_b[i, tx]
        cuda.syncthreads()
    if row < n and col < m:
        c[row, col] = acc

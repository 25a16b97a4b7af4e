"""Times conv2d (and the CNN's max pool) forward + backward in ember against PyTorch.

Shapes are those of the issue-5 CNN (batch 128, 3x32x32): conv 3->32, conv 32->64 (3x3,
padding 1), max pool 2, conv 64->128. Rounds alternate ember, torch, ember, ...; the table
shows the fastest round of each (the least disturbed by other processes) and the ratio
ember / torch. Not a test: run it by hand.

    PYTHONPATH=src python benchmarks/conv_profile.py [--rounds 7] [--threads 2]

Run it on an otherwise idle machine: with other processes on the cores, OpenBLAS's spinning
worker threads make 2-thread GEMMs erratic (compare OPENBLAS_NUM_THREADS=1 EMBER_NUM_THREADS=1
with --threads 1 for a per-core comparison that noise disturbs less).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import ember
from ember.ops import conv as E

CASES = [  # name, input shape, weight shape (None for the pool)
    ("conv 3->32", (128, 3, 32, 32), (32, 3, 3, 3)),
    ("conv 32->64", (128, 32, 32, 32), (64, 32, 3, 3)),
    ("maxpool 2", (128, 64, 32, 32), None),
    ("conv 64->128", (128, 64, 16, 16), (128, 64, 3, 3)),
]


def _ember_step(x, w, b, grad, backward):
    def step():
        y = E.conv2d(x, w, b, padding=1) if w is not None else E.max_pool2d(x, 2)
        if backward:
            y.backward(grad)
    return step


def _torch_step(torch, x, w, b, grad, backward):
    F = torch.nn.functional

    def step():
        with torch.set_grad_enabled(backward):
            y = F.conv2d(x, w, b, padding=1) if w is not None else F.max_pool2d(x, 2)
            if backward:
                y.backward(grad)
    return step


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    args = parser.parse_args()
    try:
        import torch
        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    print(f"{'case':<14}{'pass':<10}{'ember ms':>10}{'torch ms':>10}{'ratio':>8}")
    totals = {"ember": 0.0, "torch": 0.0}
    for name, xs, ws in CASES:
        x = rng.standard_normal(xs, dtype=np.float32)
        w = rng.standard_normal(ws, dtype=np.float32) * 0.1 if ws else None
        b = rng.standard_normal(ws[0], dtype=np.float32) if ws else None
        for backward in (False, True):
            ex = ember.tensor(x, requires_grad=backward)
            ew = ember.tensor(w, requires_grad=backward) if ws else None
            eb = ember.tensor(b, requires_grad=backward) if ws else None
            with ember.no_grad():
                out_shape = (E.conv2d(ex, ew, eb, padding=1) if ws else E.max_pool2d(ex, 2)).shape
            g = rng.standard_normal(tuple(out_shape), dtype=np.float32)
            steps = {"ember": _ember_step(ex, ew, eb, ember.tensor(g), backward)}
            if not backward:
                steps["ember"] = _no_grad(steps["ember"])
            if torch is not None:
                tx = torch.tensor(x, requires_grad=backward)
                tw = torch.tensor(w, requires_grad=backward) if ws else None
                tb = torch.tensor(b, requires_grad=backward) if ws else None
                steps["torch"] = _torch_step(torch, tx, tw, tb, torch.tensor(g), backward)
            times = {k: [] for k in steps}
            for fn in steps.values():
                fn()  # warm-up
            for _ in range(args.rounds):
                for k, fn in steps.items():
                    times[k].append(_time(fn))
            med = {k: min(v) for k, v in times.items()}
            t_ms = med.get("torch", float("nan"))
            label = "fwd+bwd" if backward else "fwd"
            print(f"{name:<14}{label:<10}{med['ember']:>10.1f}{t_ms:>10.1f}"
                  f"{med['ember'] / t_ms:>8.2f}")
            if backward:
                totals["ember"] += med["ember"]
                totals["torch"] += t_ms
    print(f"{'total':<14}{'fwd+bwd':<10}{totals['ember']:>10.1f}{totals['torch']:>10.1f}"
          f"{totals['ember'] / totals['torch']:>8.2f}")


def _no_grad(fn):
    def step():
        with ember.no_grad():
            fn()
    return step


if __name__ == "__main__":
    main()
